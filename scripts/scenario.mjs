// A fixture scenario is the seed cluster (fixtures/seed-healthy/cluster.yaml) plus fixtures/NAME/overlay.yaml
// (fixtures/_overlay.py describes the format; fixtures/_generate.py writes both). This module merges them, in memory
// (scenarioObjects) or into a directory gwdoctor can read (materialise), and is the `npm run scenario` command:
//
//   npm run -s scenario -- NAME [NAME...]   writes .scenarios/NAME/cluster.yaml, prints the directory
//   npm run -s scenario -- --list           every scenario, with its description
//   npm run -s scenario -- --out DIR NAME   writes DIR/NAME/cluster.yaml instead
//   node scripts/scenario.mjs --compare DIR every merged scenario == DIR/NAME/cluster.yaml, the full scenarios
//                                           `python3 fixtures/_generate.py --full DIR` wrote (exit 1 if one differs)
//
// e.g. gwdoctor --manifests "$(npm run -s scenario -- grant-missing)" --offline api.example.com
//
// Plain JavaScript (not TypeScript): `npm run demo` runs it from the packed tarball too, where Node strips no types.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { parse, parseAllDocuments, stringify } from 'yaml';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const FIXTURES = join(ROOT, 'fixtures');
/** The scenario whose cluster.yaml is the seed every overlay applies to. */
export const SEED = 'seed-healthy';
/** Where `npm run scenario` and the tests write merged scenarios (git-ignored). */
export const MATERIALISED = join(ROOT, '.scenarios');

/** @typedef {Record<string, any>} K8sObject */
/**
 * @typedef {{ base: string, form: 'with-controller' | 'pre-sync', remove: string[],
 *   patch: { object: string, merge: Record<string, unknown> }[], replace: K8sObject[], add: K8sObject[] }} Overlay
 */

/** The scenario names: the directories of fixtures/ with an expect.json, sorted. */
export function scenarioNames() {
  return readdirSync(FIXTURES, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(FIXTURES, d.name, 'expect.json')))
    .map((d) => d.name)
    .sort((a, b) => a.localeCompare(b));
}

/** @param {string} text @returns {K8sObject[]} */
function objectsOf(text) {
  const docs = parseAllDocuments(text).map((d) => d.toJS());
  const items = docs.filter((d) => d !== null && d !== undefined);
  if (items.length === 1 && items[0].kind === 'List') return items[0].items;
  return items;
}

/** @param {string} name */
function seedText(name) {
  return readFileSync(join(FIXTURES, name, 'cluster.yaml'), 'utf8');
}

/** @param {string} name @returns {Overlay | null} null: the seed itself */
export function overlayOf(name) {
  if (name === SEED) return null;
  const file = join(FIXTURES, name, 'overlay.yaml');
  if (!existsSync(file)) throw new Error(`no scenario ${name}: ${relative(process.cwd(), file)} does not exist`);
  return parse(readFileSync(file, 'utf8'));
}

/** "Kind namespace/name", or "Kind name" when cluster-scoped: how an overlay names an object. */
export function ref(/** @type {K8sObject} */ o) {
  const ns = o.metadata.namespace;
  return ns === undefined ? `${o.kind} ${o.metadata.name}` : `${o.kind} ${ns}/${o.metadata.name}`;
}

/** What is in git before the sync: no status, no Pods/EndpointSlices/Node/generated gateway Services, no clusterIP. */
export function presync(/** @type {K8sObject[]} */ objs) {
  const out = [];
  for (const o of objs) {
    if (o.kind === 'Pod' || o.kind === 'EndpointSlice' || o.kind === 'Node') continue;
    if (o.kind === 'Service' && 'gateway.networking.k8s.io/gateway-name' in (o.metadata.labels ?? {})) continue;
    const c = structuredClone(o);
    delete c.status;
    delete c.metadata.generateName;
    if (c.kind === 'Service') {
      delete c.spec.clusterIP;
      delete c.spec.clusterIPs;
    }
    out.push(c);
  }
  return out;
}

/** RFC 7396 MergePatch: maps merge, a null deletes its key, anything else (a list too) replaces. */
export function applyMergePatch(/** @type {unknown} */ target, /** @type {unknown} */ patch) {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return structuredClone(patch);
  /** @type {Record<string, unknown>} */
  const out = target !== null && typeof target === 'object' && !Array.isArray(target) ? structuredClone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

/**
 * The overlay applied to the seed: the (pre-sync) seed in its order without `remove`, each `patch` applied and each
 * `replace` put in its place, then `add`. An overlay that names an object the seed does not have is an error.
 * @param {K8sObject[]} seed @param {Overlay} ov @returns {K8sObject[]}
 */
export function merge(seed, ov) {
  const base = ov.form === 'pre-sync' ? presync(seed) : seed;
  const known = new Set(base.map(ref));
  const removed = new Set(ov.remove ?? []);
  const patches = new Map((ov.patch ?? []).map((p) => [p.object, p.merge]));
  const whole = new Map((ov.replace ?? []).map((o) => [ref(o), o]));
  for (const r of [...removed, ...patches.keys(), ...whole.keys()]) {
    if (!known.has(r)) throw new Error(`the overlay names ${r}, which the ${ov.form} seed does not have`);
  }
  const out = [];
  for (const o of base) {
    const r = ref(o);
    if (removed.has(r)) continue;
    const p = patches.get(r);
    out.push(p !== undefined ? applyMergePatch(o, p) : structuredClone(whole.get(r) ?? o));
  }
  return [...out, ...structuredClone(ov.add ?? [])];
}

/** A scenario's objects, merged in memory. @param {string} name @returns {K8sObject[]} */
export function scenarioObjects(name) {
  const ov = overlayOf(name);
  const seed = seedObjects(ov?.base ?? SEED);
  return ov === null ? structuredClone(seed) : merge(seed, ov);
}

/** @type {Map<string, K8sObject[]>} parsed once per process (merge copies what it returns) */
const seeds = new Map();
function seedObjects(/** @type {string} */ name) {
  let objs = seeds.get(name);
  if (objs === undefined) seeds.set(name, (objs = objectsOf(seedText(name))));
  return objs;
}

/** The scenario's form: a `kind: List` as kubectl prints it (with-controller) or multi-document YAML (pre-sync). */
export function scenarioText(/** @type {string} */ name) {
  const ov = overlayOf(name);
  const objs = scenarioObjects(name);
  const head = `# fixtures/${name}: merged by scripts/scenario.mjs from fixtures/${SEED}/cluster.yaml and fixtures/${name}/overlay.yaml; do not edit.\n`;
  const opts = { lineWidth: 0 };
  if (ov?.form === 'pre-sync') return head + objs.map((o) => `---\n${stringify(o, opts)}`).join('');
  return head + stringify({ apiVersion: 'v1', items: objs, kind: 'List', metadata: { resourceVersion: '' } }, opts);
}

/** The directories this process materialised (OUT/NAME): each read and merged once per process. */
const done = new Set();

/**
 * Write the merged scenario to OUT/NAME/cluster.yaml (again only when the seed or the overlay changed) and return that
 * directory; the seed is fixtures/seed-healthy itself. Safe with parallel callers: the file is renamed into place.
 * A process merges a scenario once: a test run does not read fixtures/ again while a checkout or rebase in the same
 * worktree rewrites it (a later call only checks that the merged file is still there).
 * @param {string} name @param {string} [out]
 */
export function materialise(name, out = MATERIALISED) {
  if (name === SEED && out === MATERIALISED) return join(FIXTURES, SEED); // the seed is a file of its own
  const dir = join(out, name);
  const file = join(dir, 'cluster.yaml');
  if (done.has(dir) && existsSync(file)) return dir;
  const stamp = join(dir, '.source');
  const overlay = name === SEED ? '' : readFileSync(join(FIXTURES, name, 'overlay.yaml'), 'utf8');
  const source = createHash('sha256')
    .update(seedText(SEED))
    .update('\0')
    .update(overlay)
    .update('\0')
    .update(readFileSync(fileURLToPath(import.meta.url)))
    .digest('hex');
  if (!(existsSync(file) && existsSync(stamp) && readFileSync(stamp, 'utf8') === source)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    writeFileSync(tmp, scenarioText(name));
    renameSync(tmp, file);
    writeFileSync(`${stamp}.${process.pid}`, source);
    renameSync(`${stamp}.${process.pid}`, stamp);
  }
  done.add(dir);
  return dir;
}

/** Scenarios whose merge differs from DIR/NAME/cluster.yaml (objects and their order), with the first difference. */
export function compareWith(/** @type {string} */ dir) {
  const bad = [];
  for (const name of scenarioNames()) {
    const file = join(dir, name, 'cluster.yaml');
    if (!existsSync(file)) {
      bad.push(`${name}: ${file} is missing`);
      continue;
    }
    const want = objectsOf(readFileSync(file, 'utf8'));
    const got = scenarioObjects(name);
    const at = Array.from({ length: Math.max(want.length, got.length) }, (_, i) => i).find(
      (i) => !isDeepStrictEqual(want[i], got[i]),
    );
    if (at !== undefined) bad.push(`${name}: object ${at} (${got[at] ? ref(got[at]) : 'none'}) differs`);
  }
  const extra = readdirSync(dir).filter((n) => existsSync(join(dir, n, 'expect.json')) && !scenarioNames().includes(n));
  return [...bad, ...extra.map((n) => `${n}: in ${dir}, not a scenario here`)];
}

function main(/** @type {string[]} */ argv) {
  const cwd = process.env['INIT_CWD'] ?? process.cwd(); // npm runs scripts in the package root
  let out = MATERIALISED;
  const names = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--compare' && argv[i + 1] !== undefined) {
      const bad = compareWith(/** @type {string} */ (argv[i + 1]));
      process.stdout.write(
        bad.length === 0 ? `${scenarioNames().length} scenarios: the same objects\n` : `${bad.join('\n')}\n`,
      );
      return bad.length === 0 ? 0 : 1;
    }
    if (a === '--list') {
      for (const n of scenarioNames()) {
        const e = JSON.parse(readFileSync(join(FIXTURES, n, 'expect.json'), 'utf8'));
        process.stdout.write(`${n}\t${e.description}\n`);
      }
      return 0;
    }
    if (a === '--out') {
      const v = argv[++i];
      if (v === undefined) break;
      out = isAbsolute(v) ? v : join(cwd, v);
    } else if (a !== undefined && !a.startsWith('-')) names.push(a);
    else {
      names.length = 0;
      break;
    }
  }
  if (names.length === 0) {
    process.stderr.write(
      'usage: npm run -s scenario -- [--out DIR] NAME [NAME...]   (prints the directory to pass to --manifests)\n' +
        '       npm run -s scenario -- --list\n',
    );
    return 2;
  }
  const known = new Set(scenarioNames());
  for (const n of names) {
    if (!known.has(n)) {
      process.stderr.write(`no scenario ${n} (npm run -s scenario -- --list shows them)\n`);
      return 2;
    }
  }
  for (const n of names) {
    const dir = materialise(n, out);
    const rel = relative(cwd, dir);
    process.stdout.write(`${rel.startsWith('..') ? dir : rel}\n`);
  }
  return 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = main(process.argv.slice(2));
}
