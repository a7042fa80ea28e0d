// -o sarif: SARIF 2.1.0 for code-scanning uploads and pull-request annotations (the kube-linter/kubeaudit way).
// One rule per reason code (src/codes.ts) with the README heading as helpUri; one result per fail/error/warn
// finding, located at the manifest file:line of the objects involved when the report carries their origins, else
// (a live cluster) at cluster/NAMESPACE/KIND/NAME, or hosts/HOST: code scanning needs a physical location.
// `results` is always present: uploads reject a run without it. Validated in tests against the SARIF 2.1.0 schema.

import { createHash } from 'node:crypto';
import { isAbsolute, relative, sep } from 'node:path';
import { type CodeInfo, CODES, README_URL, hintFor, type Code } from '../codes.js';
import { mayRetry } from '../registry.js';
import type { Reporter } from '../types.js';
import type { Finding, Report, TargetReport } from '../types.js';
import { clean, inline, evidenceObject, fileLocations, fixText, objectName, type ObjectRef } from './common.js';

type Level = 'error' | 'warning' | 'note';

const RULE_IDS = Object.keys(CODES) as Code[];

function isCode(s: string | null): s is Code {
  return s !== null && Object.hasOwn(CODES, s);
}

function rule(code: Code) {
  const info: CodeInfo = CODES[code];
  const layer = info.layer;
  const where =
    layer === 'any' ? 'any cluster layer' : Array.isArray(layer) ? `${layer.join(' or ')} layer` : `${layer} layer`;
  return {
    id: code,
    name: code,
    shortDescription: { text: `${code} (${where})` },
    helpUri: hintFor(code),
    // The registry's README entry, as text and markdown (one source for both).
    help: { text: info.doc.replace(/`/g, ''), markdown: info.doc },
    defaultConfiguration: { level: (info.severity === 'fail' ? 'error' : 'warning') as Level },
    properties: {
      layer: Array.isArray(layer) ? [...layer] : layer,
      severity: info.severity,
      retryable: mayRetry(code),
    },
  };
}

/** fail = the fault is found (error); error = could not check (warning); warn = warning. */
function level(f: Finding): Level {
  return f.status === 'fail' ? 'error' : 'warning';
}

/** Repository-relative, forward slashes, URI-escaped (what code scanning matches against the checkout). */
function artifactUri(file: string): string {
  const rel = isAbsolute(file) ? relative(process.cwd(), file) : file;
  return encodeURI(rel.split(sep).join('/'));
}

/** Where a live object is located for code scanning: cluster/NAMESPACE/KIND/NAME (no such file exists). */
function clusterUri(o: ObjectRef): string {
  return ['cluster', ...(o.namespace ? [o.namespace] : []), o.kind, o.name]
    .map((s) => encodeURIComponent(clean(s)))
    .join('/');
}

function markdown(t: TargetReport, f: Finding): string {
  const lines = [
    `**${t.host}${t.path}** ${f.status === 'fail' ? 'fails' : f.status === 'error' ? 'could not be checked' : 'warns'} at **${f.id}**: ${inline(f.summary)}`,
    '',
  ];
  for (const e of f.evidence) lines.push(`- ${inline(e.ref)}: ${inline(e.detail)}`);
  if (f.fix)
    lines.push('', `Fix: ${inline(f.fix.explain)}`, '', '```', clean(fixText(f.fix)).replace(/\n+$/, ''), '```');
  if (f.hint) lines.push('', `See ${f.hint}`);
  return lines.join('\n');
}

function result(t: TargetReport, f: Finding) {
  const code = isCode(f.code) ? f.code : null;
  const files = fileLocations(f);
  const objects = f.evidence.map(evidenceObject).filter((o) => o !== undefined);
  const logical = (o: ObjectRef) => ({ name: o.name, fullyQualifiedName: objectName(o), kind: 'resource' });
  // file:line when the objects came from manifests. A live cluster has no file, but code scanning refuses a result
  // without a physical location ("locationFromSarifResult: expected at least one location" / "expected artifact
  // location"): such a result is located at a repository-relative pseudo path naming the object, or the host.
  const locations =
    files.length > 0
      ? files.map((l) => ({
          physicalLocation: { artifactLocation: { uri: artifactUri(l.file) }, region: { startLine: l.line } },
          ...(l.object ? { logicalLocations: [logical(l.object)] } : {}),
        }))
      : objects.length > 0
        ? objects.map((o) => ({
            physicalLocation: { artifactLocation: { uri: clusterUri(o) }, region: { startLine: 1 } },
            logicalLocations: [logical(o)],
          }))
        : [
            {
              physicalLocation: {
                artifactLocation: { uri: `hosts/${encodeURIComponent(t.host)}` },
                region: { startLine: 1 },
              },
            },
          ];
  return {
    ruleId: code ?? `layer/${f.id}`,
    ...(code ? { ruleIndex: RULE_IDS.indexOf(code) } : {}),
    level: level(f),
    kind: 'fail' as const,
    message: { text: inline(`${t.host}${t.path}: ${f.summary}`), markdown: markdown(t, f) },
    locations,
    partialFingerprints: {
      'gwdoctorFinding/v1': createHash('sha256')
        .update(`${t.host}\0${t.path}\0${f.id}\0${f.code ?? ''}`)
        .digest('hex'),
    },
    properties: {
      host: t.host,
      path: t.path,
      layer: f.id,
      status: f.status,
      verdict: t.verdict,
      ...(f.fix ? { fix: clean(fixText(f.fix)) } : {}),
    },
  };
}

export function renderSarif(report: Report): object {
  const results = report.targets.flatMap((t) =>
    t.layers.filter((f) => f.status === 'fail' || f.status === 'error' || f.status === 'warn').map((f) => result(t, f)),
  );
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'gwdoctor', informationUri: README_URL, rules: RULE_IDS.map(rule) } },
        invocations: [{ executionSuccessful: true, endTimeUtc: report.generatedAt }],
        results,
        properties: {
          source: report.source,
          targets: report.targets.map((t) => ({
            host: t.host,
            path: t.path,
            verdict: t.verdict,
            failedLayer: t.failedLayer,
          })),
        },
      },
    ],
  };
}

export function sarifReporter(write: (s: string) => void): Reporter {
  return {
    onEnd(report) {
      write(`${JSON.stringify(renderSarif(report), null, 2)}\n`);
    },
  };
}
