// gwdoctor.yaml: read, validate against schema/config.v1.json (precompiled: src/config-validator.generated.ts), and
// say where a value came from. Loaded only when a config file is in play (cli start-up without one never pays for it).
//
// YAML library: `yaml` (eemeli), not js-yaml. js-yaml gives a position only inside its own parse errors; `yaml`'s
// parseDocument keeps every node's source range, so a schema error (found on the plain JS value) can be traced back to
// the exact key or value in the file through its JSON pointer, as file:line:col.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, stringify, type Node, type Pair } from 'yaml';
import { isIP } from 'node:net';
import { UsageError } from './errors.js';
import { closest } from './fix/build.js';
import { checkCaFile } from './net/ca-file.js';
import { parseDuration, parseOptions, parseOutputs, parseResolver, type ConfigFlags, type Options } from './options.js';
import { parseTarget } from './target.js';
import { validate } from './config-validator.generated.js';

export const CONFIG_FILE = 'gwdoctor.yaml';

/** The file's content, as the schema describes it (every key optional). */
export interface ConfigFile {
  version?: 1;
  targets?: string[];
  internal?: string[];
  all?: boolean;
  gateway?: string | { namespace: string; name: string; port?: number };
  manifests?: string[];
  kubeconfig?: string;
  context?: string;
  offline?: boolean;
  expectIps?: string[];
  resolvers?: string[];
  port?: number;
  caFile?: string;
  wait?: string | number | { duration: string | number; interval?: string | number };
  timeout?: string | number;
  outputs?: (string | { format: string; file?: string })[];
  fixDir?: string;
  verbose?: boolean;
}

export interface LoadedConfig {
  file: string;
  values: ConfigFile;
  /** "FILE:LINE:COL" of the value at a JSON pointer (e.g. "/targets/2"), or of the file when unknown. */
  where(pointer: string): string;
  /** A path from the file, resolved against the file's directory. */
  path(p: string): string;
}

interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
  parentSchema?: { description?: string; properties?: Record<string, unknown>; type?: string | string[] };
  data?: unknown;
}

const pointerTokens = (ptr: string) =>
  ptr === ''
    ? []
    : ptr
        .slice(1)
        .split('/')
        .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));

function nodeAt(root: Node | null, tokens: string[]): { node: Node | null; pair: Pair | null } {
  let node: Node | null = root;
  let pair: Pair | null = null;
  for (const t of tokens) {
    if (isMap(node)) {
      pair = (node.items.find((p) => isScalar(p.key) && String(p.key.value) === t) as Pair | undefined) ?? null;
      node = (pair?.value as Node | null | undefined) ?? null;
    } else if (isSeq(node)) {
      node = (node.items[Number(t)] as Node | undefined) ?? null;
      pair = null;
    } else return { node: null, pair: null };
  }
  return { node, pair };
}

const camel = (k: string) => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const FLAG_KEYS: Record<string, string> = {
  'expect-ip': 'expectIps',
  resolver: 'resolvers',
  output: 'outputs',
  'ca-file': 'caFile',
  'fix-dir': 'fixDir',
  target: 'targets',
};

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string "${v}"`;
  return `${typeof v} ${String(v)}`;
}

function expectedType(t: string | string[] | undefined): string {
  const names: Record<string, string> = {
    string: 'a string',
    number: 'a number',
    integer: 'an integer',
    boolean: 'true or false',
    array: 'a list',
    object: 'a mapping',
  };
  const list = (Array.isArray(t) ? t : t ? [t] : []).map((x) => names[x] ?? x);
  return list.length > 1 ? `${list.slice(0, -1).join(', ')} or ${list.at(-1)}` : (list[0] ?? 'another value');
}

/** Read and validate a config file. Any problem is a UsageError (exit 3) of one line starting with FILE:LINE:COL. */
export function readConfig(file: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(
      `config ${file}: cannot read it (${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory' : (code ?? 'error')})`,
    );
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, strict: true });
  const at = (offset: number) => {
    const p = lc.linePos(offset);
    return `${file}:${p.line}:${p.col}`;
  };
  const first = doc.errors[0];
  if (first) throw new UsageError(`${at(first.pos[0])}: invalid YAML: ${first.message.split('\n')[0]}`);
  const values: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const where = (pointer: string, key = false): string => {
    const { node, pair } = nodeAt(doc.contents as Node | null, pointerTokens(pointer));
    const keyNode = pair && isScalar(pair.key) ? pair.key : null;
    const target = key && keyNode ? keyNode : (node ?? keyNode);
    return target?.range ? at(target.range[0]) : `${file}:1:1`;
  };
  if (!validate(values)) {
    const errors = ((validate as unknown as { errors?: AjvError[] }).errors ?? []) as AjvError[];
    throw new UsageError(describeError(errors, where));
  }
  const dir = dirname(resolve(file));
  return { file, values: values as ConfigFile, where: (p) => where(p), path: (p) => resolve(dir, p) };
}

function describeError(errors: AjvError[], where: (pointer: string, key?: boolean) => string): string {
  // Every error is collected (allErrors); the one said is the most telling: a misspelt key before what it caused (a
  // "missing" sibling), a wrong type before a wrong shape, then the first in document order.
  const rank = (x: AjvError) =>
    ['additionalProperties', 'type', 'const', 'pattern', 'minimum', 'maximum', 'exclusiveMinimum'].indexOf(
      x.keyword,
    ) >>> 0;
  const e = [...errors].sort((x, y) => rank(x) - rank(y))[0];
  if (!e) return 'config: invalid';
  const keyPath = pointerTokens(e.instancePath)
    .map((t) => (/^\d+$/.test(t) ? `[${t}]` : `.${t}`))
    .join('')
    .replace(/^\./, '');
  const label = keyPath || 'the file';
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(e.params['additionalProperty']);
      const known = Object.keys(e.parentSchema?.properties ?? {});
      const alias = FLAG_KEYS[key] ?? (known.includes(camel(key)) ? camel(key) : null);
      const near = alias ? [alias] : closest(key, known, 1);
      const hint = near.length > 0 ? ` (did you mean "${near[0]}"?)` : ` (known keys: ${known.join(', ')})`;
      const ptr = `${e.instancePath}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      return `${where(ptr, true)}: unknown key "${key}"${keyPath ? ` in ${keyPath}` : ''}${hint}`;
    }
    case 'required':
      return `${where(e.instancePath)}: ${label}: missing "${String(e.params['missingProperty'])}"${e.parentSchema?.description ? ` (${e.parentSchema.description})` : ''}`;
    case 'type':
      return `${where(e.instancePath)}: ${label}: expected ${expectedType(e.parentSchema?.type ?? (e.params['type'] as string | string[]))}, got ${typeName(e.data)}`;
    case 'const':
      return `${where(e.instancePath)}: ${label}: must be ${JSON.stringify(e.params['allowedValue'])}, got ${typeName(e.data)}`;
    default:
      return `${where(e.instancePath)}: ${label}: ${typeName(e.data)} is not ${e.parentSchema?.description ?? e.message ?? 'valid'}`;
  }
}

/**
 * The config's values as the flags they stand for (what parseArgs would give), each checked with the same parser the
 * flag uses; a bad value is reported at its line in the file. Paths are resolved against the file's directory.
 */
export function configFlags(cfg: LoadedConfig): ConfigFlags {
  const c = cfg.values;
  const out: ConfigFlags = { file: cfg.file, values: {}, targets: null };
  const at = <T>(pointer: string, f: () => T): T => {
    try {
      return f();
    } catch (err) {
      if (err instanceof UsageError)
        throw new UsageError(
          `${cfg.where(pointer)}: ${pointerTokens(pointer)
            .join('.')
            .replace(/\.(\d+)(?=\.|$)/g, '[$1]')}: ${err.message.replace(/^--[a-z-]+ /, '')}`,
        );
      throw err;
    }
  };
  const set = (flag: string, value: string | boolean | string[]) => {
    out.values[flag] = value;
  };
  if (c.targets) out.targets = c.targets.map((t, i) => at(`/targets/${i}`, () => (parseTarget(t), t)));
  if (c.internal)
    set(
      'internal',
      c.internal.map((t, i) => at(`/internal/${i}`, () => (parseTarget(t), t))),
    );
  if (c.all !== undefined) set('all', c.all);
  if (c.gateway !== undefined) {
    const g = c.gateway;
    const port =
      typeof g === 'string' ? (/:(\d+)$/.exec(g)?.[1] ?? null) : g.port !== undefined ? String(g.port) : null;
    const ref = typeof g === 'string' ? g.replace(/:\d+$/, '') : `${g.namespace}/${g.name}`;
    at('/gateway', () => gatewayFlag(ref));
    if (port !== null) at(typeof g === 'string' ? '/gateway' : '/gateway/port', () => gatewayFlag(`${ref}:${port}`));
    set('gateway', port !== null ? `${ref}:${port}` : ref);
  }
  if (c.manifests) set('manifests', c.manifests.map(cfg.path));
  if (c.kubeconfig !== undefined) set('kubeconfig', cfg.path(c.kubeconfig));
  if (c.context !== undefined) set('context', c.context);
  if (c.offline !== undefined) set('offline', c.offline);
  if (c.expectIps) {
    c.expectIps.forEach((ip, i) =>
      at(`/expectIps/${i}`, () => {
        if (isIP(ip) === 0) throw new UsageError(`"${ip}": not an IP address`);
      }),
    );
    set('expect-ip', c.expectIps);
  }
  if (c.resolvers)
    set(
      'resolver',
      c.resolvers.map((r, i) => at(`/resolvers/${i}`, () => (parseResolver(r), r))),
    );
  if (c.port !== undefined) set('port', String(c.port));
  if (c.caFile !== undefined)
    set(
      'ca-file',
      at('/caFile', () => checkCaFile(cfg.path(c.caFile as string))),
    );
  const duration = (pointer: string, flag: string, v: string | number) =>
    at(pointer, () => (parseDuration(flag, String(v)), String(v)));
  if (c.wait !== undefined) {
    if (typeof c.wait === 'object') {
      set('wait', duration('/wait/duration', 'wait', c.wait.duration));
      if (c.wait.interval !== undefined)
        set('wait-interval', duration('/wait/interval', 'wait-interval', c.wait.interval));
    } else set('wait', duration('/wait', 'wait', c.wait));
  }
  if (c.timeout !== undefined) set('timeout', duration('/timeout', 'timeout', c.timeout));
  if (c.outputs) {
    const specs = c.outputs.map((o, i) => {
      const spec = typeof o === 'string' ? o : `${o.format}${o.file !== undefined ? `=${o.file}` : ''}`;
      const eq = spec.indexOf('=');
      const abs = eq < 0 ? spec : `${spec.slice(0, eq)}=${cfg.path(spec.slice(eq + 1))}`;
      at(`/outputs/${i}`, () => parseOutputs([abs]));
      return abs;
    });
    at('/outputs', () => parseOutputs(specs));
    set('output', specs);
  }
  if (c.fixDir !== undefined) set('fix-dir', cfg.path(c.fixDir));
  if (c.verbose !== undefined) set('verbose', c.verbose);
  return out;
}

/** --print-config: the effective settings as a gwdoctor.yaml (flags merged over the file), paths absolute. */
export function printConfig(o: Options): string {
  const dur = (ms: number) => (ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
  const eff: ConfigFile & Record<string, unknown> = { version: 1 };
  if (o.targets.length) eff.targets = o.targets;
  if (o.internal.length) eff.internal = o.internal;
  if (o.all) eff.all = true;
  if (o.gateway) {
    const port = (o.gateway as { port?: number | null }).port;
    eff.gateway = {
      namespace: o.gateway.namespace,
      name: o.gateway.name,
      ...(typeof port === 'number' ? { port } : {}),
    };
  }
  if (o.manifests.length) eff.manifests = o.manifests;
  if (o.kubeconfig) eff.kubeconfig = o.kubeconfig;
  if (o.context) eff.context = o.context;
  if (o.offline) eff.offline = true;
  if (o.expectIps.length) eff.expectIps = o.expectIps;
  if (o.resolvers.length) eff.resolvers = o.resolvers;
  if (o.port !== null) eff.port = o.port;
  if (o.caFile) eff.caFile = o.caFile;
  if (o.waitMs !== null) eff.wait = { duration: dur(o.waitMs), interval: dur(o.waitIntervalMs) };
  eff.timeout = dur(o.timeoutMs);
  if (o.output.length) eff.outputs = o.output.map((s) => (s.file === null ? s.format : `${s.format}=${s.file}`));
  if (o.fixDir) eff.fixDir = o.fixDir;
  if (o.verbose) eff.verbose = true;
  const head = `# effective gwdoctor settings: ${o.configFile ? `${o.configFile}, overridden by the flags given` : 'flags and defaults (no config file)'}\n`;
  return head + stringify(eff);
}

/** --gateway's own parser (whatever this build's flag accepts), so the file and the flag cannot disagree. */
function gatewayFlag(v: string): Options['gateway'] {
  return parseOptions(['--no-config', '--gateway', v]).gateway;
}

export function loadConfigFlags(file: string): ConfigFlags {
  return configFlags(readConfig(file));
}
