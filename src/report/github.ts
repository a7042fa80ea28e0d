// -o github: GitHub Actions workflow commands (`::error file=F,line=N,title=T::message`), one annotation per failing
// or warning layer, pointing at the manifest file:line when the report has origins. Chosen automatically next to
// the text output when GITHUB_ACTIONS=true. Capped: GitHub shows at most 10 errors and 10 warnings per step, so
// the rest is counted in one notice instead of being dropped silently.
// Escaping follows @actions/core's command.js (the test compares against it line by line).

import { isAbsolute, relative, sep } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { UNSAFE } from '../safe-text.js';
import type { Reporter } from '../types.js';
import type { Finding, Report, TargetReport } from '../types.js';
import { clean, fileLocations, fixText, inline } from './common.js';

export const MAX_PER_LEVEL = 10;
const MAX_FIX_LINES = 20;

export interface Annotation {
  level: 'error' | 'warning' | 'notice';
  title: string;
  message: string;
  file?: string;
  line?: number;
}

/** @actions/core's escaping (% \r \n), after terminal sequences are stripped and every other character no output may carry raw is shown escaped. */
function escapeData(s: string): string {
  return stripVTControlCharacters(s)
    .replace(UNSAFE, (c) => (c === '\n' || c === '\r' ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`))
    .replace(/%/g, '%25')
    .replace(/\r/g, '%0D')
    .replace(/\n/g, '%0A');
}

function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

export function formatCommand(a: Annotation): string {
  const props: [string, string | number | undefined][] = [
    ['title', a.title],
    ['file', a.file],
    ['line', a.line],
  ];
  const p = props.filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `${k}=${escapeProperty(String(v))}`);
  return `::${a.level}${p.length ? ` ${p.join(',')}` : ''}::${escapeData(a.message)}`;
}

function repoPath(file: string): string {
  return (isAbsolute(file) ? relative(process.cwd(), file) : file).split(sep).join('/');
}

function annotation(t: TargetReport, f: Finding): Annotation {
  const what =
    f.status === 'fail' ? `fails at ${f.id}` : f.status === 'error' ? `could not check ${f.id}` : `warns at ${f.id}`;
  const lines = [`${t.host}${t.path} ${what}: ${inline(f.summary)}`];
  if (f.fix) {
    const text = clean(fixText(f.fix)).replace(/\n+$/, '');
    const fix = text === '' ? [] : text.split('\n');
    lines.push(`fix: ${inline(f.fix.explain)}`);
    // Whole or not at all: a cut here-document pasted into a shell never closes.
    if (fix.length <= MAX_FIX_LINES) lines.push(...fix);
    else lines.push(`(the fix is ${fix.length} lines: see the text output or --fix-dir)`);
  }
  if (f.hint) lines.push(`see ${inline(f.hint)}`);
  const loc = fileLocations(f)[0];
  return {
    level: f.status === 'fail' ? 'error' : 'warning',
    title: `gwdoctor: ${t.host}${t.path} ${f.id}${f.code ? ` ${f.code}` : ''}`,
    message: lines.join('\n'),
    ...(loc ? { file: repoPath(loc.file), line: loc.line } : {}),
  };
}

/** Every annotation to print, errors first, capped per level with one notice counting what was left out. */
export function annotations(report: Report): Annotation[] {
  const all = report.targets.flatMap((t) =>
    t.layers
      .filter((f) => f.status === 'fail' || f.status === 'error' || f.status === 'warn')
      .map((f) => annotation(t, f)),
  );
  const errors = all.filter((a) => a.level === 'error');
  const warnings = all.filter((a) => a.level === 'warning');
  const out = [...errors.slice(0, MAX_PER_LEVEL), ...warnings.slice(0, MAX_PER_LEVEL)];
  const left = all.length - out.length;
  if (left > 0) {
    out.push({
      level: 'notice',
      title: 'gwdoctor: more findings',
      message: `${left} more finding${left > 1 ? 's are' : ' is'} not annotated (GitHub shows at most ${MAX_PER_LEVEL} errors and ${MAX_PER_LEVEL} warnings per step); see the gwdoctor output in the log`,
    });
  }
  return out;
}

export function githubReporter(write: (s: string) => void): Reporter {
  return {
    onEnd(report) {
      const lines = annotations(report).map(formatCommand);
      if (lines.length > 0) write(`${lines.join('\n')}\n`);
    },
  };
}
