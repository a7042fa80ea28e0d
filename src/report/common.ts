// What every reporter shares: the one place a fix becomes text, structured evidence references (when the core
// provides them), and escaping for the formats that embed untrusted text.

import { stripVTControlCharacters } from 'node:util';
import { renderChoices, renderFix } from '../fix/render.js';
import { UNSAFE } from '../safe-text.js';
import type { Evidence, Finding, Fix, TargetReport } from '../types.js';

/**
 * The pasteable text of a fix (src/fix/render.ts): the choices gwdoctor made for you as `#` lines, then the command
 * or the object to apply. A `manual` fix has no text: its explain says what to change.
 */
export function fixText(fix: Fix): string {
  return [...renderChoices(fix), renderFix(fix)].filter((l) => l !== '').join('\n');
}

/** A Kubernetes object an evidence line is about (optional in the Report: older cores do not set it). */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string | undefined;
  name: string;
}

/** Where an object came from: a manifest file and line (offline), or the live object's resourceVersion. */
export type Origin = { file: string; line: number } | { resourceVersion: string };

type RichEvidence = Evidence & { object?: ObjectRef; origin?: Origin };

export function evidenceObject(e: Evidence): ObjectRef | undefined {
  return (e as RichEvidence).object;
}

export function evidenceOrigin(e: Evidence): Origin | undefined {
  return (e as RichEvidence).origin;
}

/** The manifest file and line of the first evidence that has one (what SARIF and GitHub annotations point at). */
export function fileLocations(f: Finding): { file: string; line: number; object?: ObjectRef }[] {
  const out: { file: string; line: number; object?: ObjectRef }[] = [];
  for (const e of f.evidence) {
    const o = evidenceOrigin(e);
    if (o && 'file' in o && typeof o.file === 'string' && Number.isInteger(o.line) && o.line >= 1) {
      const obj = evidenceObject(e);
      if (!out.some((x) => x.file === o.file && x.line === o.line))
        out.push({ file: o.file, line: o.line, ...(obj ? { object: obj } : {}) });
    }
  }
  return out;
}

export function objectName(o: ObjectRef): string {
  return `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`;
}

/** The finding that decided the verdict: the first fail/error, else null. */
export function blocking(t: TargetReport): Finding | null {
  return t.layers.find((l) => l.status === 'fail' || l.status === 'error') ?? null;
}

const escaped = (c: string) =>
  c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * One line of untrusted text (a name, a status message, a file name from a pull request): terminal control sequences
 * stripped, every character of UNSAFE shown escaped (`\n`, `\u2028`). A name can then never start a line of its own:
 * on GitHub Actions a line `::error ...` or `::stop-commands::...` is a workflow command, whatever printed it.
 */
export function inline(s: string): string {
  return stripVTControlCharacters(s).replace(UNSAFE, escaped);
}

/** Multi-line untrusted text (a finding's body, a fix): as inline(), but its line breaks are kept. */
export function clean(s: string): string {
  return stripVTControlCharacters(s).replace(UNSAFE, (c) => (c === '\n' ? c : escaped(c)));
}

/** For XML text and attribute values (after clean(): XML 1.0 forbids most C0 characters, U+FFFE/U+FFFF, lone surrogates). */
export function escapeXml(s: string): string {
  return clean(s).replace(
    /[&<>"'\n]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\n': '\n' })[c] as string,
  );
}

/** For an XML attribute value: one line (a newline there would be read back as a space). */
export function escapeXmlAttr(s: string): string {
  return escapeXml(inline(s));
}

/** The finding as plain text lines: summary, evidence, fix, hint (JUnit bodies, SARIF messages, HTML). */
export function findingText(f: Finding): string {
  const lines = [`${f.id}: ${f.status}${f.code ? ` [${f.code}]` : ''}: ${inline(f.summary)}`];
  for (const e of f.evidence) lines.push(`  ${inline(e.ref)}: ${inline(e.detail)}`);
  if (f.fix) {
    lines.push(`fix: ${inline(f.fix.explain)}`);
    // Flush left: a here-document pasted from a CI page must close at column 0.
    const text = fixText(f.fix).replace(/\n+$/, '');
    if (text !== '') lines.push(...text.split('\n'));
  }
  if (f.hint) lines.push(`see ${inline(f.hint)}`);
  return clean(lines.join('\n'));
}
