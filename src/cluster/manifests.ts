// The manifests backend: objects read from YAML/JSON files, as `kubectl get -o yaml` prints them or as they sit in git.

import { readdirSync, statSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { join, relative } from 'node:path';
import { load as loadYaml, YAMLException } from 'js-yaml';
import { GwdoctorError, UsageError } from '../errors.js';
import {
  secretView,
  type EndpointSlice,
  type Gateway,
  type GatewayClass,
  type GRPCRoute,
  type HTTPRoute,
  type K8sObject,
  type ListenerSet,
  type MeshKind,
  type Namespace,
  type Node,
  type Pod,
  type ReferenceGrant,
  type Secret,
  type Service,
  type ServiceEntry,
} from './objects.js';
import { labelsMatch, type ClusterReader, type MeshObjectOf } from './reader.js';
import * as validators from './manifest-validators.generated.js';
import { jsonUnits, readLines, withoutBulk, yamlUnits, type Unit } from './manifest-stream.js';
import { Snapshot } from './snapshot.js';

const GW_GROUP = 'gateway.networking.k8s.io/';
const STDIN = '-';

/** Where an object was read from: the file (as reached from the path given; `-` for stdin) and the 1-based line of
 * its first key (of its `- ` inside a `kind: List`). */
export interface Origin {
  file: string;
  line: number;
}

const origins = new WeakMap<object, Origin>();

/** The file and line an object was read from; undefined for objects not read by loadManifests (or copies of them). */
export function originOf(o: object): Origin | undefined {
  return origins.get(o);
}

export interface LoadOptions {
  /** Stop when this signal aborts (checked between objects). */
  signal?: AbortSignal | undefined;
  /** Stop at this time (epoch ms), checked between objects: a timer signal cannot fire while parsing runs. */
  deadline?: number | undefined;
  /**
   * 'used' (default): only the kinds gwdoctor reads, without managedFields, the last-applied annotation and other
   * fields no check looks at. 'all': every object as written (test harnesses that apply fixtures).
   */
  keep?: 'used' | 'all';
  /** Read these paths from other files instead (a pipe copied by spoolStreams); origins keep the path as given. */
  sources?: Map<string, string> | undefined;
}

/** The manifests could not be read completely (the run's deadline passed, or the heap is full): exit 2, saying what was left. */
export class ManifestsIncompleteError extends GwdoctorError {}

function listFiles(path: string): string[] {
  if (path === STDIN) return [STDIN];
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new UsageError(`--manifests ${path}: no such file or directory`);
  }
  if (!st.isDirectory()) return [path]; // a file, /dev/null, /dev/stdin, a named pipe
  const out: string[] = [];
  const walk = (dir: string) => {
    // Byte order, as kubectl's directory walk visits files (Go filepath.Walk: lexical order): with an object defined
    // twice, `kubectl apply -f DIR -R` keeps the copy it applies last, and so does ManifestCluster.
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    )) {
      if (e.name.startsWith('.')) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ya?ml|json)$/i.test(e.name)) out.push(p);
    }
  };
  walk(path);
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const display = (file: string) => (file === STDIN ? '(stdin)' : relative(process.cwd(), file) || file);
const oneLine = (s: string, max = 160) => {
  const l = (s.split('\n')[0] ?? '').replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return l.length > max ? `${l.slice(0, max)}...` : l;
};

/** The kind gwdoctor reads this object as, or undefined for kinds it ignores (another group's Gateway, a Deployment). */
export function usedKind(apiVersion: unknown, kind: unknown): string | undefined {
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return undefined;
  switch (kind) {
    case 'GatewayClass':
    case 'Gateway':
    case 'HTTPRoute':
    case 'GRPCRoute':
    case 'ListenerSet':
    case 'ReferenceGrant':
      return apiVersion.startsWith(GW_GROUP) ? kind : undefined;
    case 'Service':
    case 'Pod':
    case 'Namespace':
    case 'Node':
    case 'ConfigMap':
    case 'Secret':
      return apiVersion === 'v1' ? kind : undefined;
    case 'EndpointSlice':
      return apiVersion.startsWith('discovery.k8s.io/') ? kind : undefined;
    case 'CustomResourceDefinition':
      // Only for which versions of the Gateway API kinds are served (ManifestCluster, SERVED_VERSIONS); pruned to that.
      return apiVersion.startsWith('apiextensions.k8s.io/') ? kind : undefined;
    case 'AuthorizationPolicy':
    case 'PeerAuthentication':
      return apiVersion.startsWith('security.istio.io/') ? kind : undefined;
    case 'DestinationRule':
    case 'ServiceEntry':
      return apiVersion.startsWith('networking.istio.io/') ? kind : undefined;
    default:
      return undefined;
  }
}

const pick = (o: unknown, keys: string[]): Record<string, unknown> | undefined => {
  if (!isObject(o)) return o as undefined;
  const out: Record<string, unknown> = {};
  for (const k of keys) if (k in o) out[k] = o[k];
  return out;
};

/** Drop what no check reads: managedFields and the last-applied copy everywhere, Pod and Node bulk. In place. */
function prune(o: Record<string, unknown>, kind: string): void {
  const md = o['metadata'] as Record<string, unknown>;
  delete md['managedFields'];
  // A Pod's controller says which workload it belongs to (src/fix/workloads.ts); nothing else reads owners.
  const owners = md['ownerReferences'];
  if (kind === 'Pod' && Array.isArray(owners))
    md['ownerReferences'] = owners
      .filter((r) => isObject(r) && r['controller'] === true)
      .map((r) => pick(r, ['kind', 'name', 'controller']));
  else delete md['ownerReferences'];
  delete md['generateName'];
  const ann = md['annotations'];
  if (isObject(ann)) delete ann['kubectl.kubernetes.io/last-applied-configuration'];
  else if (ann === null) delete md['annotations']; // its only entry was left out before parsing
  if (kind === 'Pod') {
    const spec = pick(o['spec'], ['nodeName', 'containers', 'serviceAccountName']);
    if (spec && Array.isArray(spec['containers']))
      spec['containers'] = spec['containers'].map((c) => pick(c, ['name', 'ports']));
    if (spec) o['spec'] = spec;
    const st = pick(o['status'], ['phase', 'podIP', 'conditions', 'containerStatuses']);
    if (st && Array.isArray(st['containerStatuses']))
      st['containerStatuses'] = st['containerStatuses'].map((c) => pick(c, ['name', 'ready', 'restartCount', 'state']));
    if (st) o['status'] = st;
  } else if (kind === 'CustomResourceDefinition') {
    const spec = pick(o['spec'], ['group', 'names', 'versions']);
    if (spec) {
      spec['names'] = pick(spec['names'], ['kind']);
      if (Array.isArray(spec['versions'])) spec['versions'] = spec['versions'].map((v) => pick(v, ['name', 'served']));
      o['spec'] = spec;
    }
    delete o['status'];
  } else if (kind === 'Node') {
    delete o['spec'];
    const st = pick(o['status'], ['addresses', 'conditions']);
    if (st) o['status'] = st;
  }
}

type Validator = ((v: unknown) => boolean) & {
  errors?: { instancePath: string; keyword: string; params: Record<string, unknown>; message?: string }[] | null;
};
const VALIDATE = validators as unknown as Record<string, Validator>;

/** `spec.listeners[0].port` from `/spec/listeners/0/port`. */
function fieldPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

/** What was found instead; a Secret's values are never quoted (they are key material, even when misplaced). */
function typeName(v: unknown, kind: string): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (kind === 'Secret') return `a ${typeof v}`;
  return `${typeof v} ${oneLine(JSON.stringify(v), 40)}`;
}

/** A known kind whose body has the wrong shape (a Gateway without spec, listeners not a list): what and where. */
function shapeProblem(v: Record<string, unknown>, kind: string): string | undefined {
  const validate = VALIDATE[kind];
  if (!validate || validate(v)) return undefined;
  const e = validate.errors?.[0];
  if (!e) return 'invalid';
  const path = fieldPath(e.instancePath);
  if (e.keyword === 'required') return `${path ? `${path}.` : ''}${String(e.params['missingProperty'])} is missing`;
  if (e.keyword === 'type') {
    const actual = e.instancePath
      .split('/')
      .slice(1)
      .reduce<unknown>(
        (o, k) => (o as Record<string, unknown> | undefined)?.[k.replace(/~1/g, '/').replace(/~0/g, '~')],
        v,
      );
    const want = String(e.params['type'])
      .split(',')
      .filter((t) => t !== 'null');
    const words: Record<string, string> = {
      array: 'a list',
      object: 'a mapping',
      integer: 'an integer',
      string: 'a string',
      boolean: 'true or false',
    };
    return `${path} must be ${want.map((t) => words[t] ?? t).join(' or ')}, not ${typeName(actual, kind)}`;
  }
  return `${path || 'the object'} ${e.message ?? 'is invalid'}`;
}

/** js-yaml keeps an alias as a shared reference: count the nodes a full walk would visit, bounded, to refuse a bomb. */
const MAX_NODES = 1_000_000;
function tooManyNodes(v: unknown): boolean {
  let n = 0;
  const walk = (x: unknown): boolean => {
    if (++n > MAX_NODES) return true;
    if (Array.isArray(x)) {
      for (const y of x) if (walk(y)) return true;
    } else if (typeof x === 'object' && x !== null) {
      for (const k in x) if (walk((x as Record<string, unknown>)[k])) return true;
    }
    return false;
  };
  return walk(v);
}

function jsonErrorLine(msg: string): { line: number; col: number } | undefined {
  const m = /line (\d+) column (\d+)/.exec(msg);
  return m ? { line: Number(m[1]), col: Number(m[2]) } : undefined;
}

/**
 * The apiVersion and kind of a YAML unit read from its top-level lines without parsing it, when both are plain
 * one-line scalars; undefined otherwise (then the unit is parsed). Lets kinds gwdoctor does not read (Deployments,
 * ConfigMaps, Events in an `-A -o yaml` dump) be skipped at the cost of two regular expressions.
 */
function peekKind(u: Unit): { apiVersion: string; kind: string } | undefined {
  if (u.json) return undefined;
  const first = /^( *)\S/m.exec(u.text);
  if (!first) return undefined;
  const ind = (first[1] as string).length;
  const field = (name: string) => new RegExp(`^ {${ind}}${name}: *(["']?)([\\w./-]+)\\1 *$`, 'm').exec(u.text)?.[2];
  const kind = field('kind');
  const apiVersion = kind === undefined ? undefined : field('apiVersion');
  return kind !== undefined && apiVersion !== undefined ? { apiVersion, kind } : undefined;
}

/**
 * A parser's message without the text it quotes from the input. V8 quotes up to ~10 characters around the error
 * (`Unexpected token 'S', ..."tls.key":SUPERSECRE"... is not valid JSON`) and js-yaml names tags and handles; inside a
 * Secret (or a ConfigMap, an env var) that is a piece of a credential. The file:line:column given with the message
 * locates the error; only structural characters (brackets, commas, colons, quotes) are kept when V8 names a token.
 */
export function parserReason(msg: string): string {
  return msg
    .replace(/ \(line \d+ column \d+\)/, '')
    .replace(/ in JSON at position \d+/, '')
    .replace(/, .* is not valid JSON$/s, '')
    .replace(/^(Unexpected token) '(.+?)'/su, (_, what: string, tok: string) =>
      /^[{}[\],:"]$/.test(tok) ? `${what} '${tok}'` : `${what} (not JSON)`,
    )
    .replace(/!<[^>]*>/g, '!<...>')
    .replace(/"[^]*"/g, (q) => (/^"[{}[\],:"']?"$/.test(q) ? q : '"..."')) // from the first quote to the last: a quoted name may hold quotes
    .replace(/: \S.*$/s, (tail) => (/^: (?:[A-Za-z]+ ?)+$/.test(tail) ? tail : ''));
}

/** Parse one unit: JSON.parse for JSON (and YAML documents written as JSON), js-yaml otherwise. */
function parseUnit(u: Unit, file: string): unknown {
  const looksJson = u.json || /^\s*[{[]/.test(u.text);
  if (looksJson) {
    try {
      return JSON.parse(u.text);
    } catch (err) {
      if (u.json) {
        const at = jsonErrorLine((err as Error).message);
        throw new UsageError(
          `${display(file)}:${at ? `${u.start + at.line - 1}:${at.col}` : u.line}: invalid JSON: ${oneLine(parserReason((err as Error).message))}`,
        );
      }
      // YAML flow style that is not strict JSON (comments, unquoted keys): the YAML parser decides.
    }
  }
  try {
    return loadYaml(u.text, { maxAliases: 100, maxDepth: 100 });
  } catch (err) {
    if (err instanceof YAMLException) {
      const m = err.mark;
      const where = m ? `${u.start + m.line}:${m.column + 1}` : String(u.line);
      throw new UsageError(`${display(file)}:${where}: invalid YAML: ${oneLine(parserReason(err.reason))}`);
    }
    throw err;
  }
}

function* unitsOf(file: string, keepAll: boolean, source = file): Generator<Unit> {
  const lines = readLines(source);
  // Peek at the first significant character: JSON ({ or [) goes to the JSON scanner whatever the file is called.
  const head: string[] = [];
  let json = false;
  // Not a for-of: leaving it early would close the generator.
  for (let r = lines.next(); !r.done; r = lines.next()) {
    head.push(r.value);
    const t = r.value.trimStart();
    if (t === '' || t.startsWith('#')) continue;
    json = t.startsWith('{') || t.startsWith('[');
    break;
  }
  const all = (function* () {
    yield* head;
    yield* lines;
  })();
  yield* json ? jsonUnits(all) : yamlUnits(keepAll ? all : withoutBulk(all));
}

/**
 * Read every object of every file, document by document (and item by item inside a `kind: List`), so memory follows
 * what is kept. `kind: List` (and *List) is flattened. A syntax error names file, line and column; the origin of
 * every object returned is available through originOf(). Throws ManifestsIncompleteError (exit 2) when the deadline passes or the heap is nearly full.
 */
export function loadManifests(paths: string[], opts: LoadOptions = {}): K8sObject[] {
  const keepAll = opts.keep === 'all';
  const objects: K8sObject[] = [];
  const files = paths.map((p) => ({ path: p, files: listFiles(p) }));
  const total = files.reduce((n, f) => n + f.files.length, 0);
  let filesDone = 0;
  let current = { file: '', line: 0 };
  let held = 0; // List items read but not yet kept (their envelope comes last)
  const checkDeadline = () => {
    if (opts.signal?.aborted || (opts.deadline !== undefined && Date.now() >= opts.deadline)) {
      throw new ManifestsIncompleteError(
        `the deadline (--timeout) passed while reading manifests: stopped in ${display(current.file)} at line ${current.line} after ${objects.length + held} objects${total - filesDone > 1 ? `; ${total - filesDone - 1} more file(s) not read` : ''}`,
        'raise --timeout, or pass only the manifests of the hosts you check',
      );
    }
  };
  // Stop cleanly before V8 would abort the process (exit 134) on a dump that does not fit in the heap.
  // heap_size_limit includes the young generation's reserve (192 MB on Node 24, measured: --max-old-space-size=200
  // gives 392 MB); V8 aborts when the old generation is full, so compare with what is left for it.
  const heapLimit = getHeapStatistics().heap_size_limit;
  const oldLimit = Math.max(heapLimit - 192 * 2 ** 20, heapLimit / 2);
  const checkMemory = () => {
    if (getHeapStatistics().used_heap_size > 0.8 * oldLimit) {
      throw new ManifestsIncompleteError(
        `the manifests do not fit in memory (${Math.round(oldLimit / 2 ** 20)} MB heap): stopped in ${display(current.file)} at line ${current.line} after ${objects.length + held} objects`,
        'pass only the namespaces you check (kubectl get -n ...), or raise the heap: NODE_OPTIONS=--max-old-space-size=8192',
      );
    }
  };
  for (const { path, files: list } of files) {
    let seen = 0;
    for (const file of list) {
      current = { file, line: 1 };
      checkDeadline();
      // Items of the current document wait here until its envelope says whether it is a List.
      let pending: { value: unknown; line: number; text: string | undefined }[] = [];
      let n = 0;
      const keep = (v: unknown, line: number, text: string | undefined) => {
        if (!isObject(v)) return;
        const md = v['metadata'];
        if (
          typeof v['kind'] !== 'string' ||
          typeof v['apiVersion'] !== 'string' ||
          !isObject(md) ||
          typeof md['name'] !== 'string'
        )
          return;
        seen++;
        const kind = usedKind(v['apiVersion'], v['kind']);
        if (!keepAll && !kind) return;
        if (text !== undefined && text.includes('*') && tooManyNodes(v)) {
          throw new UsageError(
            `${display(file)}:${line}: ${v['kind']} ${md['name']}: YAML aliases expand to more than ${MAX_NODES} nodes (an alias bomb?)`,
          );
        }
        if (kind) {
          const problem = shapeProblem(v, kind);
          if (problem) {
            const ns = isObject(md) && typeof md['namespace'] === 'string' ? `${md['namespace']}/` : '';
            throw new UsageError(
              `${display(file)}:${line}: ${kind} ${ns}${md['name']}: ${problem}`,
              'fix the manifest: kubectl apply --dry-run=server -f FILE shows what the API server would reject',
            );
          }
          if (!keepAll) prune(v, kind);
        }
        origins.set(v, { file, line });
        objects.push(v as unknown as K8sObject);
      };
      const flatten = (v: unknown, line: number, text: string | undefined) => {
        if (isObject(v) && typeof v['kind'] === 'string' && v['kind'].endsWith('List') && Array.isArray(v['items'])) {
          // A List written in flow style or as one JSON document: items share the List's line.
          for (const item of v['items']) flatten(item, line, text);
          return;
        }
        keep(v, line, text);
      };
      for (const u of unitsOf(file, keepAll, opts.sources?.get(file))) {
        current.line = u.line;
        if ((++n & 63) === 0) {
          checkDeadline();
          checkMemory();
        }
        if (!keepAll && u.kind !== 'envelope') {
          const peek = peekKind(u);
          if (peek && !usedKind(peek.apiVersion, peek.kind) && !peek.kind.endsWith('List')) {
            seen++; // an object of a kind gwdoctor does not read: not even parsed
            continue;
          }
        }
        const v = parseUnit(u, file);
        if (u.kind === 'item') {
          // Held until the envelope says the document is a List (kubectl prints `kind: List` after the items); kinds
          // gwdoctor does not read are dropped now.
          if (
            keepAll ||
            (isObject(v) && (usedKind(v['apiVersion'], v['kind']) !== undefined || String(v['kind']).endsWith('List')))
          ) {
            pending.push({ value: v, line: u.line, text: !u.json && u.text.includes('*') ? u.text : undefined });
            held++;
          } else if (isObject(v) && isObject(v['metadata'])) seen++;
          continue;
        }
        if (u.kind === 'envelope') {
          const env = v;
          const isList = isObject(env) ? typeof env['kind'] !== 'string' || env['kind'].endsWith('List') : false;
          if (isList) for (const p of pending) flatten(p.value, p.line, p.text);
          else flatten(env, u.line, u.json ? undefined : u.text);
          pending = [];
          held = 0;
          continue;
        }
        if (v === null || v === undefined) continue;
        flatten(v, u.line, u.json ? undefined : u.text);
      }
      for (const p of pending) flatten(p.value, p.line, p.text); // top-level JSON array: no envelope
      filesDone++;
    }
    if (seen === 0) {
      throw new UsageError(
        `read 0 objects from ${path === STDIN ? 'stdin (-f -)' : path}${list.length === 0 ? ' (no .yaml, .yml or .json file in it)' : ''}`,
        'check the path, or that kubectl get wrote to the pipe',
      );
    }
  }
  return objects;
}

/**
 * Versions of the Gateway API kinds gwdoctor reads that the API server serves with the Gateway API CRDs gwdoctor is
 * tested against (gateway-api v1.6.3, standard and experimental channel alike: `served: true` in config/crd/standard and config/crd/experimental; checked
 * against the real API server's discovery in test/integration/verdicts.test.ts). An object written with another
 * version (a v1alpha2 ReferenceGrant, a typo'd v1beta2) is refused by `kubectl apply` ("no matches for kind"): it
 * never becomes an object. CustomResourceDefinitions in the manifests override this per kind.
 */
export const SERVED_VERSIONS: Readonly<Record<string, readonly string[]>> = {
  GatewayClass: ['v1', 'v1beta1'],
  Gateway: ['v1', 'v1beta1'],
  HTTPRoute: ['v1', 'v1beta1'],
  GRPCRoute: ['v1'],
  ListenerSet: ['v1'],
  ReferenceGrant: ['v1', 'v1beta1'],
};
const CLUSTER_SCOPED = new Set(['GatewayClass', 'Namespace', 'Node', 'CustomResourceDefinition']);

/** An object of the manifests that `kubectl apply` would not leave in the cluster, and why. */
export interface NotApplied {
  object: K8sObject;
  origin: Origin | undefined;
  why: string;
}

const at = (o: Origin | undefined) => (o ? `${display(o.file)}:${o.line}` : '(unknown origin)');
const nameOf = (o: K8sObject, kind: string) =>
  `${kind} ${CLUSTER_SCOPED.has(kind) ? '' : `${o.metadata.namespace ?? 'default'}/`}${o.metadata.name}`;

export class ManifestCluster implements ClusterReader {
  readonly mode = 'manifests' as const;
  private readonly byKind = new Map<string, K8sObject[]>();
  /** What `kubectl apply` of these manifests would not leave: objects of unserved versions, earlier copies of duplicates. */
  private readonly dropped: NotApplied[] = [];
  private readonly notes: string[] = [];

  constructor(
    objects: K8sObject[],
    private readonly paths: string[] = [],
  ) {
    // Which versions the cluster would serve: the CRDs in the manifests, where they define a Gateway API kind.
    const served = new Map<string, Set<string>>(Object.entries(SERVED_VERSIONS).map(([k, v]) => [k, new Set(v)]));
    const fromCrds = new Set<string>();
    for (const o of objects) {
      if (usedKind(o.apiVersion, o.kind) !== 'CustomResourceDefinition') continue;
      const spec = (o as { spec?: { group?: unknown; names?: { kind?: unknown }; versions?: unknown } }).spec;
      if (
        spec?.group !== GW_GROUP.slice(0, -1) ||
        typeof spec.names?.kind !== 'string' ||
        !Array.isArray(spec.versions)
      )
        continue;
      const versions = (spec.versions as { name?: unknown; served?: unknown }[])
        .filter((v) => v?.served === true && typeof v.name === 'string')
        .map((v) => v.name as string);
      const k = spec.names.kind;
      served.set(k, fromCrds.has(k) ? new Set([...(served.get(k) ?? []), ...versions]) : new Set(versions));
      fromCrds.add(k);
    }
    // kubectl apply -f applies in order and the last copy of an object wins: keep the last one, say which were dropped.
    const last = new Map<string, { o: K8sObject; kind: string; earlier: K8sObject[] }>();
    for (const o of objects) {
      const kind = usedKind(o.apiVersion, o.kind);
      if (!kind || kind === 'CustomResourceDefinition') continue;
      if (o.apiVersion.startsWith(GW_GROUP)) {
        const version = o.apiVersion.slice(GW_GROUP.length);
        const ok = served.get(kind);
        if (ok && !ok.has(version)) {
          const by = fromCrds.has(kind)
            ? 'the CustomResourceDefinition in the manifests'
            : 'the Gateway API CRDs (v1.6, standard and experimental channel)';
          const why = `${o.apiVersion} is not a version the API server serves for ${kind} (${by} serve ${[...ok].sort().join(', ') || 'none'}): kubectl apply rejects it (no matches for kind "${kind}" in version "${o.apiVersion}"), so it is not counted`;
          this.dropped.push({ object: o, origin: originOf(o), why });
          this.notes.push(
            `${nameOf(o, kind)} (${at(originOf(o))}): ${why}${kind === 'ReferenceGrant' ? `; write it as ${GW_GROUP}${ok.has('v1beta1') ? 'v1beta1' : ([...ok][0] ?? 'v1')}` : ''}`,
          );
          continue;
        }
      }
      const group = o.apiVersion.includes('/') ? o.apiVersion.slice(0, o.apiVersion.indexOf('/')) : '';
      const key = `${group}/${kind}/${CLUSTER_SCOPED.has(kind) ? '' : (o.metadata.namespace ?? 'default')}/${o.metadata.name}`;
      const prev = last.get(key);
      last.set(key, { o, kind, earlier: prev ? [...prev.earlier, prev.o] : [] });
    }
    for (const { o, kind, earlier } of last.values()) {
      if (earlier.length > 0) {
        const why = `defined again at ${at(originOf(o))}: kubectl apply -f keeps the copy it applies last`;
        for (const e of earlier) this.dropped.push({ object: e, origin: originOf(e), why });
        const all = [...earlier, o].map((x) => at(originOf(x)));
        this.notes.push(
          `${nameOf(o, kind)} is defined ${all.length === 2 ? 'twice' : `${all.length} times`}: ${all.slice(0, -1).join(', ')} and ${all[all.length - 1]}; kubectl apply -f keeps the last (${at(originOf(o))}), and gwdoctor judges that one`,
        );
      }
    }
    // In the order read (objects keep their file order; a kept duplicate takes the place of its last copy).
    const kept = new Set([...last.values()].map((x) => x.o));
    for (const o of objects) {
      if (!kept.has(o)) continue;
      const key = usedKind(o.apiVersion, o.kind) as string;
      const list = this.byKind.get(key) ?? [];
      if (key === 'Secret') {
        // Kept only as secretView (key material non-enumerable), with the origin of the object it was read from.
        const view = secretView(o);
        const from = originOf(o);
        if (from) origins.set(view, from);
        list.push(view);
      } else list.push(o);
      this.byKind.set(key, list);
    }
  }

  /**
   * What gwdoctor says about the manifests before judging: objects defined more than once (with every file:line) and
   * objects of versions the API server does not serve. One line each, for stderr.
   */
  notices(): string[] {
    return [...this.notes];
  }

  /** Objects of this kind in this namespace that kubectl apply would not leave (for evidence), with why. */
  notApplied(kind: string, namespace: string): NotApplied[] {
    return this.dropped.filter(
      (d) => d.object.kind === kind && (d.object.metadata.namespace ?? 'default') === namespace,
    );
  }

  static fromPaths(paths: string[], opts: LoadOptions = {}): ManifestCluster {
    return new ManifestCluster(loadManifests(paths, opts), paths);
  }

  private all<T extends K8sObject>(kind: string): T[] {
    return (this.byKind.get(kind) ?? []) as T[];
  }

  // Per-kind indexes, built on first use and shared by every target of the run (the objects never change): a
  // lookup touches only its namespace's objects, whatever the size of the dump.
  private readonly nsIndex = new Map<string, Map<string, K8sObject[]>>();
  private readonly nameIndex = new Map<string, Map<string, K8sObject>>();
  private readonly sliceIndex = new Map<string, EndpointSlice[]>();

  private inNs<T extends K8sObject>(kind: string, ns: string): T[] {
    let idx = this.nsIndex.get(kind);
    if (!idx) {
      idx = new Map();
      for (const o of this.all(kind)) {
        const k = o.metadata.namespace ?? 'default';
        const list = idx.get(k);
        if (list) list.push(o);
        else idx.set(k, [o]);
      }
      this.nsIndex.set(kind, idx);
    }
    return (idx.get(ns) ?? []) as T[];
  }

  /** The object of `kind` named ns/name (one per name: the constructor keeps the copy kubectl apply leaves). */
  private byName<T extends K8sObject>(kind: string, ns: string, name: string): T | undefined {
    let idx = this.nameIndex.get(kind);
    if (!idx) {
      idx = new Map();
      for (const o of this.all(kind)) {
        const k = `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;
        if (!idx.has(k)) idx.set(k, o);
      }
      this.nameIndex.set(kind, idx);
    }
    return idx.get(`${ns}/${name}`) as T | undefined;
  }

  describeSource() {
    return { manifests: this.paths };
  }
  origin(o: K8sObject) {
    return originOf(o);
  }
  /** Files are read once; a retry sees the same objects (and the same snapshot). */
  refresh(): void {}
  private readonly snap = new Snapshot('manifests');
  snapshot(): Snapshot {
    return this.snap;
  }
  async gatewayClasses() {
    return this.all<GatewayClass>('GatewayClass');
  }
  async gateways() {
    return this.all<Gateway>('Gateway');
  }
  async httpRoutes() {
    return this.all<HTTPRoute>('HTTPRoute');
  }
  async grpcRoutes() {
    return this.all<GRPCRoute>('GRPCRoute');
  }
  async listenerSets() {
    return this.all<ListenerSet>('ListenerSet');
  }
  async namespace(name: string) {
    return this.all<Namespace>('Namespace').find((n) => n.metadata.name === name);
  }
  async referenceGrants(ns: string) {
    return this.inNs<ReferenceGrant>('ReferenceGrant', ns);
  }
  async service(ns: string, name: string) {
    return this.byName<Service>('Service', ns, name);
  }
  /** undefined: not in the manifests (which hold ConfigMaps); null: the manifests hold no ConfigMap at all (unknown). */
  async configMap(ns: string, name: string) {
    const all = this.all<K8sObject>('ConfigMap');
    if (all.length === 0) return null;
    return this.byName<K8sObject>('ConfigMap', ns, name);
  }
  /**
   * undefined: not in the manifests (which hold Secrets); null: the manifests hold no Secret at all (manifests from
   * git rarely do: cert-manager, sealed or external secrets create them), so nothing can be said.
   */
  async secret(ns: string, name: string): Promise<Secret | undefined | null> {
    const all = this.all<K8sObject>('Secret');
    if (all.length === 0) return null;
    return this.byName<Secret>('Secret', ns, name);
  }
  async allServices() {
    return this.all<Service>('Service');
  }
  async servicesByLabel(ns: string, labels: Record<string, string>) {
    return this.inNs<Service>('Service', ns).filter((s) => labelsMatch(labels, s.metadata.labels));
  }
  async endpointSlices(ns: string, svc: string) {
    if (this.sliceIndex.size === 0) {
      for (const sl of this.all<EndpointSlice>('EndpointSlice')) {
        const k = `${sl.metadata.namespace ?? 'default'}/${sl.metadata.labels?.['kubernetes.io/service-name'] ?? ''}`;
        const list = this.sliceIndex.get(k);
        if (list) list.push(sl);
        else this.sliceIndex.set(k, [sl]);
      }
    }
    return this.sliceIndex.get(`${ns}/${svc}`) ?? [];
  }
  /** Pods are "known" when the manifests hold any Pod at all (a runtime dump); git manifests hold none. */
  async pods(ns: string, selector: Record<string, string>): Promise<Pod[] | null> {
    const all = this.all<Pod>('Pod');
    if (all.length === 0) return null;
    return this.inNs<Pod>('Pod', ns).filter((p) => labelsMatch(selector, p.metadata.labels));
  }
  async nodes() {
    return this.all<Node>('Node');
  }
  /** null when the manifests hold no AuthorizationPolicy, PeerAuthentication or DestinationRule at all (not checked). */
  async meshObjects<K extends MeshKind>(kind: K): Promise<MeshObjectOf<K>[] | null> {
    if (
      (['AuthorizationPolicy', 'PeerAuthentication', 'DestinationRule'] as const).every((k) => this.all(k).length === 0)
    )
      return null;
    return this.all<MeshObjectOf<K>>(kind);
  }
  /** null when the manifests hold no ServiceEntry at all (a Hostname backend is then not checked). */
  async serviceEntries(): Promise<ServiceEntry[] | null> {
    const all = this.all<ServiceEntry>('ServiceEntry');
    return all.length === 0 ? null : all;
  }
  /** The version of a grant the manifests hold (only served ones are kept), else v1beta1 (served since gateway-api v0.6). */
  async referenceGrantApiVersion() {
    const seen = this.all<ReferenceGrant>('ReferenceGrant')[0]?.apiVersion;
    return seen ?? 'gateway.networking.k8s.io/v1beta1';
  }
}
