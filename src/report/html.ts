// -o html: one self-contained page (inline CSS, no script, no external resource; a CSP forbids any fetch) that
// draws each host's request path as its hops, client to Pod, coloured by status, with the evidence and the fix
// under the hop that failed. Tested by rendering it in headless Chromium.

import type { Reporter } from '../types.js';
import type { Finding, Report, TargetReport } from '../types.js';
import { hopName, LAYER_IDS } from '../registry.js';
import { blocking, escapeXml, escapeXmlAttr as esc, fixText } from './common.js';
import { internalWhat } from './text-format.js';

const STATUS_WORD: Record<Finding['status'], string> = {
  pass: 'pass',
  warn: 'warning',
  fail: 'FAIL',
  error: 'could not check',
  skip: 'not checked',
};

const CSS = `
:root { --pass:#1a7f37; --warn:#9a6700; --fail:#cf222e; --error:#8250df; --skip:#8c959f; font-family: system-ui, sans-serif; color:#1f2328; }
body { margin: 24px; max-width: 1400px; }
h1 { font-size: 20px; margin: 0 0 4px; } .meta { color:#59636e; font-size: 13px; margin-bottom: 16px; }
table.summary { border-collapse: collapse; margin-bottom: 24px; font-size: 14px; }
table.summary th, table.summary td { border: 1px solid #d1d9e0; padding: 4px 10px; text-align: left; }
section.target { border: 1px solid #d1d9e0; border-radius: 8px; padding: 12px 16px; margin-bottom: 20px; }
section.target h2 { font-size: 17px; margin: 0 0 10px; }
.badge { display:inline-block; padding: 1px 8px; border-radius: 10px; color:#fff; font-size: 12px; vertical-align: middle; }
.path { display: grid; grid-template-columns: auto repeat(${LAYER_IDS.length}, minmax(0, 1fr)) auto; gap: 0 6px; align-items: stretch; }
.end { align-self: center; font-size: 12px; color:#59636e; padding: 0 4px; }
.hop { border: 2px solid var(--c); border-radius: 6px; padding: 6px 8px; background: color-mix(in srgb, var(--c) 10%, white); position: relative; font-size: 12px; min-height: 84px; }
.hop::after { content: '→'; position: absolute; right: -11px; top: 30px; color:#59636e; font-size: 12px; }
.hop.last::after { content: ''; }
.hop .name { font-weight: 600; font-size: 13px; } .hop .st { color: var(--c); font-weight: 600; }
.hop .sum { margin-top: 4px; overflow-wrap: anywhere; } .hop .code { font-family: ui-monospace, monospace; font-size: 11px; }
.hop details { margin-top: 4px; } .hop details li { overflow-wrap: anywhere; }
.s-pass { --c: var(--pass); } .s-warn { --c: var(--warn); } .s-fail { --c: var(--fail); } .s-error { --c: var(--error); } .s-skip { --c: var(--skip); }
.s-skip { border-style: dashed; background: #f6f8fa; }
.marker { text-align: center; color: var(--c); font-size: 16px; line-height: 18px; }
.detail { grid-column: 1 / -1; border-left: 4px solid var(--c); background: color-mix(in srgb, var(--c) 6%, white); padding: 8px 12px; margin-bottom: 6px; font-size: 13px; }
.detail h3 { margin: 0 0 6px; font-size: 14px; } .detail ul { margin: 4px 0; padding-left: 18px; } .detail li { overflow-wrap: anywhere; }
pre.fix { background: #0d1117; color: #e6edf3; padding: 8px 10px; border-radius: 6px; overflow-x: auto; font-size: 12px; }
.ref { color:#59636e; }
`;

function hop(f: Finding, i: number): string {
  const ev = f.evidence.length
    ? `<details><summary>evidence (${f.evidence.length})</summary><ul>${f.evidence.map((e) => `<li><span class="ref">${esc(e.ref)}:</span> ${esc(e.detail)}</li>`).join('')}</ul></details>`
    : '';
  return (
    `<div class="hop s-${f.status}${i === LAYER_IDS.length - 1 ? ' last' : ''}" data-layer="${f.id}" data-status="${f.status}" style="grid-row:1;grid-column:${i + 2}">` +
    `<div class="name">${hopName(f.id)}</div><div class="st">${STATUS_WORD[f.status]}</div>` +
    `<div class="sum">${esc(f.summary)}</div>${f.code ? `<div class="code">${esc(f.code)}</div>` : ''}${ev}</div>`
  );
}

function detail(f: Finding, row: number, i: number): string {
  const fix = f.fix
    ? `<p><b>fix:</b> ${esc(f.fix.explain)}</p><pre class="fix">${escapeXml(fixText(f.fix).replace(/\n+$/, ''))}</pre>`
    : '';
  return (
    `<div class="marker s-${f.status}" style="grid-row:${row};grid-column:${i + 2}">▼</div>` +
    `<div class="detail s-${f.status}" data-layer="${f.id}" style="grid-row:${row + 1}">` +
    `<h3>${hopName(f.id)} (${f.id}) ${STATUS_WORD[f.status]}${f.code ? `: ${esc(f.code)}` : ''}</h3><p>${esc(f.summary)}</p>` +
    (f.evidence.length
      ? `<b>evidence</b><ul class="evidence">${f.evidence.map((e) => `<li><span class="ref">${esc(e.ref)}:</span> ${esc(e.detail)}</li>`).join('')}</ul>`
      : '') +
    fix +
    (f.hint ? `<p>see <a href="${esc(f.hint)}">${esc(f.hint)}</a></p>` : '') +
    `</div>`
  );
}

function verdictText(t: TargetReport): string {
  if (t.expect === 'internal') return internalWhat(t);
  if (t.verdict === 'pass') return 'reaches its backend';
  if (t.verdict === 'warn') return 'reaches its backend, with warnings';
  if (t.verdict === 'fail') return `fails at ${t.failedLayer}`;
  return t.failedLayer ? `inconclusive: could not check ${t.failedLayer}` : 'inconclusive';
}

function section(t: TargetReport, n: number): string {
  const notes = t.layers
    .map((f, i) => ({ f, i }))
    .filter(({ f }) => f.status === 'fail' || f.status === 'error' || f.status === 'warn');
  let row = 2;
  const details = notes.map(({ f, i }) => {
    const html = detail(f, row, i);
    row += 2;
    return html;
  });
  return [
    `<section class="target" id="t${n}" data-host="${esc(t.host)}" data-verdict="${t.verdict}">`,
    `<h2>${esc(t.host + t.path)}${t.expect === 'internal' ? ' (internal)' : ''} <span class="badge s-${t.verdict}" style="background:var(--c)">${esc(verdictText(t))}</span></h2>`,
    `<div class="path"><div class="end" style="grid-row:1;grid-column:1">client</div>`,
    ...t.layers.map(hop),
    `<div class="end" style="grid-row:1;grid-column:${LAYER_IDS.length + 2}">Pod</div>`,
    ...details,
    `</div></section>`,
  ].join('\n');
}

export function renderHtml(report: Report): string {
  const order = report.targets.map((t, n) => ({ t, n }));
  const rank: Record<TargetReport['verdict'], number> = { fail: 0, error: 1, warn: 2, pass: 3 };
  const rows = [...order]
    .sort((a, b) => rank[a.t.verdict] - rank[b.t.verdict])
    .map(({ t, n }) => {
      const code = blocking(t)?.code ?? t.layers.find((l) => l.status === 'warn')?.code ?? '';
      return `<tr class="s-${t.verdict}"><td><a href="#t${n}">${esc(t.host + t.path)}</a>${t.expect === 'internal' ? ' (internal)' : ''}</td><td style="color:var(--c);font-weight:600">${t.verdict}</td><td>${t.failedLayer ?? ''}</td><td>${esc(code)}</td></tr>`;
    })
    .join('\n');
  // As the text summary: an internal host that fails is "exposed or not proven", not "not reaching the backend".
  const failed = (t: TargetReport) => t.verdict === 'fail' || t.verdict === 'error';
  const internal = report.targets.filter((t) => t.expect === 'internal');
  const bad = report.targets.filter((t) => t.expect !== 'internal' && failed(t)).length;
  const headline = `${report.targets.length} host${report.targets.length === 1 ? '' : 's'}, ${bad} not reaching the backend${internal.length ? `; ${internal.length} internal, ${internal.filter(failed).length} exposed or not proven` : ''}`;
  const src = report.source;
  const where =
    src.mode === 'manifests'
      ? `manifests ${(src.manifests ?? []).join(', ')}`
      : src.mode === 'live'
        ? `cluster ${src.context ?? ''}`
        : 'no cluster source';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gwdoctor report ${esc(report.generatedAt)}</title>
<style>${CSS}</style></head>
<body>
<h1>gwdoctor: ${esc(headline)}</h1>
<div class="meta">${esc(report.generatedAt)} · ${esc(where)}${src.offline ? ' · offline' : ''} · ${report.durationMs} ms</div>
<table class="summary"><thead><tr><th>host</th><th>verdict</th><th>failed layer</th><th>code</th></tr></thead><tbody>
${rows}
</tbody></table>
${order.map(({ t, n }) => section(t, n)).join('\n')}
</body></html>
`;
}

export function htmlReporter(write: (s: string) => void): Reporter {
  return {
    onEnd(report) {
      write(renderHtml(report));
    },
  };
}
