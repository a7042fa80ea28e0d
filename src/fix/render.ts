// Render a fix as text a person can paste into a POSIX shell as is: YAML through the `yaml` library (never string
// concatenation), arguments quoted for the shell.

import { stringify } from 'yaml';
import { kubectlResource } from './build.js';
import type { Fix } from './fix.js';

/** Quote one argument for a POSIX shell (single quotes; an embedded ' becomes '\''). */
export function shellQuote(s: string): string {
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function renderYaml(object: unknown): string {
  return stringify(object, { lineWidth: 0 });
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
  return (f.choices ?? []).map((c) => `# ${c.about}: using ${c.candidates[0] ?? '?'} at ${c.field}${c.candidates.length > 1 ? ` (other candidates: ${c.candidates.slice(1).join(', ')})` : ''}`);
}
