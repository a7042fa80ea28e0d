// Render a fix as text a person can paste into a POSIX shell as is: YAML through the `yaml` library (never string
// concatenation), arguments quoted for the shell.

import { hasUnsafe, UNSAFE } from '../safe-text.js';
import { kubectlResource } from './build.js';
import type { Fix } from './fix.js';

/**
 * The `yaml` library (250 KB) loads only when an object to apply is rendered: a run without such a fix never pays for
 * it (bench/README.md, start-up). Whoever renders fixes awaits loadYaml() first (the reporter map in
 * src/report/index.ts, src/diff.ts, src/fix/files.ts).
 */
let yaml: typeof import('yaml') | undefined;

export async function loadYaml(): Promise<void> {
  // The package is CommonJS: Node gives its exports as named bindings and as `default`; the bundle (esbuild) as
  // `default` only.
  const m: typeof import('yaml') & { default?: typeof import('yaml') } = await import('yaml');
  yaml ??= m.default ?? m;
}

/** loadYaml() when one of these fixes is an object to apply (the only fix rendered through the `yaml` library). */
export async function loadYamlFor(fixes: Iterable<Fix | null | undefined>): Promise<void> {
  for (const f of fixes) if (f?.kind === 'apply') return loadYaml();
}

/**
 * Quote one argument for a POSIX shell (single quotes; an embedded ' becomes '\''). An argument holding a line break
 * or another character no output may carry (src/safe-text.ts) stays on one line: `"$(printf '%b' '...')"` rebuilds
 * it from octal escapes (a name's own line must never reach a CI log as a line of its own).
 */
export function shellQuote(s: string): string {
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(s)) return s;
  if (!hasUnsafe(s)) return `'${s.replace(/'/g, `'\\''`)}'`;
  const body = s
    .replace(/\\/g, '\\\\')
    .replace(UNSAFE, (c) => [...Buffer.from(c)].map((b) => `\\0${b.toString(8)}`).join(''))
    .replace(/'/g, `'\\''`);
  return `"$(printf '%b' '${body}')"`;
}

/**
 * YAML for `kubectl apply`: strings that hold a line break are written double-quoted, escaped as JSON, on their line
 * (never as a block scalar whose lines would start with the string's own text).
 */
export function renderYaml(object: unknown): string {
  if (!yaml) throw new Error('renderYaml before loadYaml() (src/fix/render.ts): the yaml library is loaded on demand');
  return yaml.stringify(object, { lineWidth: 0, blockQuote: false, doubleQuotedAsJSON: true });
}

/** The argv of `kubectl patch` for a patch fix. */
export function patchArgv(f: Extract<Fix, { kind: 'patch' }>): string[] {
  return [
    'kubectl',
    ...(f.target.namespace ? ['-n', f.target.namespace] : []),
    'patch',
    kubectlResource(f.target),
    f.target.name,
    `--type=${f.patchType}`,
    '-p',
    JSON.stringify(f.patch),
  ];
}

/** A here-document delimiter that no line of `body` equals (a line `EOF` inside the YAML would end it early). */
export function heredocDelimiter(body: string): string {
  const lines = new Set(body.split('\n'));
  let d = 'EOF';
  for (let i = 2; lines.has(d); i++) d = `EOF${i}`;
  return d;
}

/**
 * Shell text for the fix; `manual` fixes have none (their `explain` says what to change). Every line of an `apply`
 * must reach the shell as printed: the here-document's closing delimiter only counts at column 0, so reporters print
 * this text without indentation (src/report/text-format.ts fixBlock).
 */
export function renderFix(f: Fix): string {
  switch (f.kind) {
    case 'apply': {
      const yaml = renderYaml(f.object);
      const eof = heredocDelimiter(yaml);
      return `kubectl apply -f - <<'${eof}'\n${yaml}${eof}`;
    }
    case 'patch':
      return patchArgv(f).map(shellQuote).join(' ');
    case 'command':
      return f.argv.map(shellQuote).join(' ');
    case 'manual':
      return '';
  }
}

/** Lines that name the choices a person should confirm (rendered under the fix). */
export function renderChoices(f: Fix): string[] {
  if (f.kind !== 'apply' && f.kind !== 'patch') return [];
  return (f.choices ?? []).map((c) =>
    `# ${c.about}: using ${c.candidates[0] ?? '?'} at ${c.field}${c.candidates.length > 1 ? ` (other candidates: ${c.candidates.slice(1).join(', ')})` : ''}`.replace(
      UNSAFE,
      (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
    ),
  );
}
