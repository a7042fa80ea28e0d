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

/** Shell text for the fix; `manual` fixes have none (their `explain` says what to change). */
export function renderFix(f: Fix): string {
  switch (f.kind) {
    case 'apply':
      return `kubectl apply -f - <<'EOF'\n${renderYaml(f.object)}EOF`;
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
