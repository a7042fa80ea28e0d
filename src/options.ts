// The flag table (data), its parser (node:util parseArgs) and the help text generated from it.
// This module is loaded on every start: it imports nothing heavy.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CODES, LAYER_IDS, README_URL } from './registry.js';
import { isIP } from 'node:net';
import { UsageError } from './errors.js';
import { checkCaFile } from './net/ca-file.js';
import { FORMATS, isFormat, type OutputSpec } from './report/formats.js';
import { parseGatewayRef, type GatewayRef } from './target.js';

interface Flag {
  name: string;
  short?: string;
  type: 'string' | 'boolean';
  multiple?: boolean;
  arg?: string;
  help: string;
  group: 'source' | 'network' | 'output' | 'run';
}

export const FLAGS: Flag[] = [
  {
    name: 'manifests',
    short: 'f',
    type: 'string',
    multiple: true,
    arg: 'PATH',
    group: 'source',
    help: 'read objects from YAML/JSON files or directories (recursive; repeatable) instead of a live cluster',
  },
  {
    name: 'kubeconfig',
    type: 'string',
    arg: 'FILE',
    group: 'source',
    help: 'kubeconfig to use (default: $KUBECONFIG, then ~/.kube/config, then the in-cluster service account)',
  },
  {
    name: 'context',
    type: 'string',
    arg: 'NAME',
    group: 'source',
    help: 'kubeconfig context to use (default: current-context)',
  },
  {
    name: 'gateway',
    type: 'string',
    arg: 'NS/NAME[:PORT]',
    group: 'source',
    help: 'check only this Gateway (the one your proxy forwards to); PORT: its listener port, or the nodePort, the proxy forwards to',
  },
  {
    name: 'base',
    type: 'string',
    multiple: true,
    arg: 'PATH',
    group: 'source',
    help: 'gwdoctor diff: the manifests before the change (repeatable)',
  },
  {
    name: 'head',
    type: 'string',
    multiple: true,
    arg: 'PATH',
    group: 'source',
    help: 'gwdoctor diff: the manifests after the change (repeatable)',
  },
  {
    name: 'no-discovery-cache',
    type: 'boolean',
    group: 'source',
    help: "do not remember the API server's discovery on disk between runs (5 min TTL, ~/.cache/gwdoctor); also GWDOCTOR_NO_DISCOVERY_CACHE=1",
  },
  {
    name: 'internal',
    type: 'string',
    multiple: true,
    arg: 'HOST',
    group: 'source',
    help: 'a host that must NOT be public: passes only when no route on the public Gateway serves it and (with probes) the proxy reaches no backend for it (repeatable)',
  },
  {
    name: 'all',
    type: 'boolean',
    group: 'source',
    help: 'check every hostname of every HTTPRoute attached to the Gateway(s) (with --gateway: that one); wildcards are checked through the hosts you name',
  },
  {
    name: 'offline',
    type: 'boolean',
    group: 'network',
    help: 'send no network probes: the dns and proxy layers are skipped',
  },
  {
    name: 'resolver',
    type: 'string',
    multiple: true,
    arg: 'IP[:PORT]',
    group: 'network',
    help: 'also ask this DNS server (repeatable)',
  },
  {
    name: 'expect-ip',
    type: 'string',
    multiple: true,
    arg: 'IP',
    group: 'network',
    help: 'the address(es) the host must resolve to: your reverse proxy (repeatable)',
  },
  {
    name: 'ca-file',
    type: 'string',
    arg: 'FILE',
    group: 'network',
    help: "extra CA certificate(s) (PEM) to trust for the proxy's TLS",
  },
  {
    name: 'port',
    type: 'string',
    arg: 'PORT',
    group: 'network',
    help: "HTTPS port of the reverse proxy (default: the URL's port, else 443)",
  },
  {
    name: 'output',
    short: 'o',
    type: 'string',
    multiple: true,
    arg: 'FORMAT[=FILE]',
    group: 'output',
    help: `output format, to stdout or to FILE (repeatable; at most one on stdout; default: text). Formats: ${FORMATS.join(', ')}`,
  },
  {
    name: 'fix-dir',
    type: 'string',
    arg: 'DIR',
    group: 'output',
    help: 'also write each printed fix as a file: NAME.yaml for kubectl apply -f, NAME.patch.json + NAME.sh for kubectl patch, NAME.sh for commands; replaces the files of the previous run (only those gwdoctor wrote)',
  },
  { name: 'verbose', short: 'v', type: 'boolean', group: 'output', help: 'show the evidence of passing layers too' },
  { name: 'no-color', type: 'boolean', group: 'output', help: 'no colours (also: NO_COLOR=1)' },
  {
    name: 'timeout',
    type: 'string',
    arg: 'DURATION',
    group: 'run',
    help: 'deadline for the whole run, e.g. 30s, 2m (default: 30s)',
  },
  {
    name: 'wait',
    type: 'string',
    arg: 'DURATION',
    group: 'run',
    help: 'retry findings that may still converge (controller status, endpoints) until they pass or DURATION ends',
  },
  {
    name: 'wait-interval',
    type: 'string',
    arg: 'DURATION',
    group: 'run',
    help: 'with --wait: time between attempts (default: 2s)',
  },
  {
    name: 'config',
    type: 'string',
    arg: 'FILE',
    group: 'run',
    help: `read settings from FILE (default: ./gwdoctor.yaml when it exists); flags override it key by key`,
  },
  { name: 'no-config', type: 'boolean', group: 'run', help: 'ignore ./gwdoctor.yaml' },
  {
    name: 'print-config',
    type: 'boolean',
    group: 'run',
    help: 'print the effective settings (config file merged with flags) as gwdoctor.yaml and exit',
  },
  { name: 'debug', type: 'boolean', group: 'run', help: 'print stack traces of internal errors' },
  { name: 'version', type: 'boolean', group: 'run', help: 'print the version and exit' },
  { name: 'help', short: 'h', type: 'boolean', group: 'run', help: 'print this help and exit' },
];

export interface Options {
  targets: string[];
  /** --internal / `internal:`: hosts that must not be public. */
  internal: string[];
  manifests: string[];
  kubeconfig: string | null;
  context: string | null;
  /** --gateway NS/NAME[:PORT]; PORT = the listener port (or nodePort) the proxy forwards to. */
  gateway: GatewayRef | null;
  all: boolean;
  /** Live: read and write the discovery cache (--no-discovery-cache or GWDOCTOR_NO_DISCOVERY_CACHE=1 turn it off). */
  discoveryCache: boolean;
  /** `gwdoctor diff --base DIR --head DIR [host...]`: null for a plain run. */
  command: 'diff' | null;
  base: string[];
  head: string[];
  offline: boolean;
  resolvers: string[];
  expectIps: string[];
  caFile: string | null;
  port: number | null;
  /** -o values in order; [] means the default (text on stdout). */
  output: OutputSpec[];
  /** --fix-dir: where to write each fix as a file (null: not written). */
  fixDir: string | null;
  verbose: boolean;
  color: boolean;
  timeoutMs: number;
  waitMs: number | null;
  waitIntervalMs: number;
  /** The config file read (null: none). */
  configFile: string | null;
  printConfig: boolean;
  debug: boolean;
  version: boolean;
  help: boolean;
}

/** The longest duration any flag takes: timers in Node overflow past 2^31 ms (~24.8 days); a day is plenty. */
export const MAX_DURATION_MS = 24 * 3_600_000;

/**
 * One grammar for every duration flag (--timeout, --wait): a sequence of <number><unit> with unit ms, s, m or h
 * ("500ms", "30s", "2m", "1m30s", "1.5s"), or a bare number meaning seconds ("10" = 10s). It must be more than 0
 * ("0", "0s" and "0ms" are all refused the same way) and at most 24h.
 */
export function parseDuration(flag: string, v: string): number {
  const s = v.trim();
  const bad = (why: string) => new UsageError(`--${flag} "${v}": ${why} (use e.g. 500ms, 30s, 2m, 1m30s)`);
  let total = 0;
  if (/^\d{1,12}(\.\d{1,6})?$/.test(s)) total = Number(s) * 1000;
  else {
    const re = /(\d{1,12}(?:\.\d{1,6})?)(ms|s|m|h)/gy;
    let m: RegExpExecArray | null;
    let consumed = 0;
    while ((m = re.exec(s)) !== null) {
      const n = Number(m[1]);
      total += m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n * 3_600_000;
      consumed = re.lastIndex;
    }
    if (consumed !== s.length || s.length === 0) throw bad('not a duration');
  }
  if (Math.round(total) <= 0) throw bad('must be longer than 0');
  if (total > MAX_DURATION_MS) throw bad('longer than the 24h maximum');
  return Math.round(total);
}

function parsePort(v: string, flag = '--port'): number {
  const n = /^\d{1,5}$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new UsageError(`${flag} "${v}": expected a port number 1-65535`);
  return n;
}

export function parseResolver(v: string): { host: string; port: number } {
  let host = v;
  let port = 53;
  const m6 = /^\[([^\]]+)\](?::([^:]*))?$/.exec(v);
  const portOf = (p: string) => {
    const n = /^\d{1,5}$/.test(p) ? Number(p) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > 65535)
      throw new UsageError(`--resolver "${v}": port "${p}" is not a port number 1-65535`);
    return n;
  };
  if (m6) {
    host = m6[1] as string;
    if (m6[2] !== undefined) port = portOf(m6[2]);
  } else if (v.split(':').length === 2) {
    const [h, p] = v.split(':');
    host = h as string;
    port = portOf(p as string);
  }
  if (isIP(host) === 0)
    throw new UsageError(
      `--resolver "${v}": expected an IP address with an optional port, e.g. 192.0.2.53 or 127.0.0.1:5353`,
    );
  return { host, port };
}

/** -o FORMAT or -o FORMAT=FILE, repeatable; at most one format on stdout, one format per file. */
export function parseOutputs(values: string[]): OutputSpec[] {
  const specs: OutputSpec[] = [];
  for (const v of values) {
    const eq = v.indexOf('=');
    const format = eq < 0 ? v : v.slice(0, eq);
    const file = eq < 0 ? null : v.slice(eq + 1);
    if (!isFormat(format))
      throw new UsageError(`--output "${v}": unknown format "${format}" (formats: ${FORMATS.join(', ')})`);
    if (file === '')
      throw new UsageError(`--output "${v}": no file after "=" (use ${format}=FILE, or ${format} for stdout)`);
    if (file === null && specs.some((s) => s.file === null)) {
      throw new UsageError(
        `--output: only one format can go to stdout (${specs.find((s) => s.file === null)?.format} and ${format}); write the others to files: -o ${format}=FILE`,
      );
    }
    if (file !== null && specs.some((s) => s.file === file)) throw new UsageError(`--output: ${file} is given twice`);
    specs.push({ format, file });
  }
  return specs;
}

/** Which config file applies: --config FILE, else ./gwdoctor.yaml when it exists, none with --no-config. Cheap: no YAML. */
export function configFileFor(argv: string[], cwd: string = process.cwd()): string | null {
  let file: string | null = null;
  let off = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') break;
    if (a === '--no-config') off = true;
    else if (a === '--config') file = argv[++i] ?? null;
    else if (a.startsWith('--config=')) file = a.slice('--config='.length);
  }
  if (file !== null && off) throw new UsageError('--config and --no-config contradict each other: give one');
  if (file !== null || off) return file;
  const found = join(cwd, 'gwdoctor.yaml');
  return existsSync(found) ? found : null;
}

/** What a config file adds: flag values as parseArgs gives them, already checked (errors name the file's line). */
export interface ConfigFlags {
  file: string;
  values: Record<string, string | boolean | string[]>;
  targets: string[] | null;
}

export function parseOptions(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  fromFile: ConfigFlags | null = null,
): Options {
  const config: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const f of FLAGS) {
    config[f.name] = {
      type: f.type,
      ...(f.short ? { short: f.short } : {}),
      ...(f.multiple ? { multiple: true } : {}),
    };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: config, allowPositionals: true, strict: true });
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0] ?? 'invalid arguments';
    throw new UsageError(`${msg.replace(/\. To specify a positional argument.*$/, '')} (see gwdoctor --help)`);
  }
  const v = parsed.values as Record<string, string | boolean | string[] | undefined>;
  // The config file fills in every key no flag gave: a flag overrides its key, a repeated flag replaces the file's list.
  if (fromFile) for (const [k, val] of Object.entries(fromFile.values)) if (v[k] === undefined) v[k] = val;
  if (fromFile && parsed.positionals.length === 0 && fromFile.targets) parsed.positionals.push(...fromFile.targets);
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : null);
  const list = (k: string) => (Array.isArray(v[k]) ? (v[k] as string[]) : []);
  const output = parseOutputs(list('output'));
  const command = parsed.positionals[0] === 'diff' ? ('diff' as const) : null;
  if (command) parsed.positionals.shift();
  else if (list('base').length > 0 || list('head').length > 0)
    throw new UsageError('--base and --head belong to gwdoctor diff --base DIR --head DIR');
  for (const ip of list('expect-ip'))
    if (isIP(ip) === 0) throw new UsageError(`--expect-ip "${ip}": not an IP address`);
  const resolvers = list('resolver');
  const waitMs = str('wait') !== null ? parseDuration('wait', str('wait') as string) : null;
  resolvers.forEach(parseResolver);
  const internal = list('internal');
  return {
    targets: parsed.positionals,
    internal,
    manifests: list('manifests'),
    kubeconfig: str('kubeconfig'),
    context: str('context'),
    gateway: str('gateway') ? parseGatewayRef(str('gateway') as string) : null,
    all: v['all'] === true,
    discoveryCache:
      v['no-discovery-cache'] !== true && /^(|0|false|no)$/i.test((env['GWDOCTOR_NO_DISCOVERY_CACHE'] ?? '').trim()),
    command,
    base: list('base'),
    head: list('head'),
    offline: v['offline'] === true,
    resolvers,
    expectIps: list('expect-ip'),
    // Checked here, before anything runs and whether or not a probe will use it (--offline too): exit 3.
    caFile: str('ca-file') !== null ? checkCaFile(str('ca-file') as string) : null,
    port: str('port') !== null ? parsePort(str('port') as string) : null,
    output,
    fixDir: str('fix-dir'),
    verbose: v['verbose'] === true,
    color: v['no-color'] !== true && !env['NO_COLOR'],
    waitMs,
    waitIntervalMs:
      str('wait-interval') !== null ? parseDuration('wait-interval', str('wait-interval') as string) : 2000,
    configFile: fromFile?.file ?? null,
    printConfig: v['print-config'] === true,
    // With --wait and no --timeout, the run may last the wait plus 30 s for the last attempt.
    timeoutMs: str('timeout') !== null ? parseDuration('timeout', str('timeout') as string) : (waitMs ?? 0) + 30_000,
    debug: v['debug'] === true,
    version: v['version'] === true,
    help: v['help'] === true,
  };
}

export function helpText(version: string): string {
  const groups: Record<Flag['group'], string> = {
    source: 'Cluster source',
    network: 'Network probes',
    output: 'Output',
    run: 'Run',
  };
  const lines = [
    `gwdoctor ${version}: why does https://<host> not reach its Pod (Istio + Gateway API)?`,
    '',
    'Usage: gwdoctor [options] <host-or-url>...    gwdoctor --all [options] [<host-or-url>...]',
    '       gwdoctor diff --base DIR --head DIR [<host-or-url>...]   (offline verdicts before/after a change; exit 1 when a host breaks)',
    '',
    'Targets: api.example.com, api.example.com:8443 or https://api.example.com/path',
    `Layers, in order (stops at the first failure): ${LAYER_IDS.join(', ')}`,
    `Reason codes (${Object.keys(CODES).length}, each with a README section): ${README_URL}#reason-codes`,
  ];
  for (const g of Object.keys(groups) as Flag['group'][]) {
    lines.push('', `${groups[g]}:`);
    for (const f of FLAGS.filter((x) => x.group === g)) {
      const left = `${f.short ? `-${f.short}, ` : '    '}--${f.name}${f.arg ? ` ${f.arg}` : ''}`;
      lines.push(`  ${left.padEnd(30)} ${f.help}`);
    }
  }
  lines.push(
    '',
    'Exit codes: 0 every target passes (warnings allowed), 1 a layer failed, 2 inconclusive (could not check),',
    '            3 usage or input error, 70 internal error, 130 interrupted (Ctrl-C)',
    '',
    'Examples:',
    '  gwdoctor api.example.com',
    '  gwdoctor --manifests fixtures/seed-healthy --offline https://api.example.com/health',
    '  gwdoctor -o json --wait 2m api.example.com worker.example.com',
    '  gwdoctor -o text -o json=report.json api.example.com',
    '  gwdoctor --all --gateway istio-ingress/example-istio-gateway -o junit=junit.xml',
    '  gwdoctor diff --base base-checkout/deploy --head deploy',
  );
  return lines.join('\n');
}
