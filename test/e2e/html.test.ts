// -o html as a browser shows it: rendered by headless Chromium (Debian's chromium), the DOM has each host's hops (one per layer)
// in order, coloured by status, the evidence and the fix under the failing hop, and the page fetches nothing.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gwdoctor } from '../helpers/cli.js';
import { consumer } from '../helpers/consumers.js';
import { loadYaml } from '../../src/fix/render.js';
import { LAYER_IDS } from '../../src/registry.js';
import { scenarioPath } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

await loadYaml(); // the yaml library is loaded on demand (src/fix/render.ts); these tests render fixes directly

const chromium = consumer('chromium', 'chromium');
const WIDTH = 1400;
const HEIGHT = 1400;

/** Every connection Chromium opens goes to this recorder (its proxy): a page that fetches anything shows up here. */
let recorder: Server;
const seen: string[] = [];
/** The host a proxied request line asks for: "CONNECT h:443 HTTP/1.1" or "GET http://h/path HTTP/1.1". */
function hostOf(line: string): string {
  const target = line.split(' ')[1] ?? '';
  return (target.startsWith('http') ? new URL(target).hostname : (target.split(':')[0] ?? '')).toLowerCase();
}
/**
 * What a page fetched: the requests for a host written in the page. A page without script (its CSP forbids any)
 * can only fetch URLs it spells out, while Chromium's own background calls (updater, account check, which vary by
 * version) name hosts the page never mentions.
 */
function fetchedBy(html: string): string[] {
  const text = html.toLowerCase();
  return seen.filter((r) => hostOf(r) !== '' && text.includes(hostOf(r)));
}
let dir: string;

function browse(file: string, mode: ['--dump-dom'] | [`--screenshot=${string}`]): Promise<string> {
  return new Promise((resolve, reject) => {
    const port = (recorder.address() as AddressInfo).port;
    const args = [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--hide-scrollbars',
      `--user-data-dir=${mkdtempSync(join(dir, 'profile-'))}`,
      `--window-size=${WIDTH},${HEIGHT}`,
      `--proxy-server=http://127.0.0.1:${port}`,
      '--proxy-bypass-list=<-loopback>',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-default-apps',
      '--no-first-run',
      '--no-pings',
      '--disable-domain-reliability',
      '--disable-client-side-phishing-detection',
      '--disable-features=NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter,AutofillServerCommunication',
      ...mode,
      pathToFileURL(file).href,
    ];
    const child = spawn(chromium as string, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.resume();
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`chromium exited ${code}`));
    });
  });
}

function pngSize(file: string): { width: number; height: number; bytes: number } {
  const b = readFileSync(file);
  expect(b.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a'); // PNG signature
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20), bytes: b.length };
}

describe.skipIf(!chromium)('html output (rendered by headless Chromium)', () => {
  let page: string;
  beforeAll(async () => {
    dir = tempDir('gwd-html-');
    recorder = createServer((sock) => {
      sock.once('data', (d) => seen.push(d.toString('latin1').split('\r\n')[0] ?? '?'));
      sock.on('error', () => undefined);
      sock.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
    });
    await new Promise<void>((r) => recorder.listen(0, '127.0.0.1', r));
    page = join(dir, 'report.html');
    const r = gwdoctor([
      '--manifests',
      scenarioPath('grant-missing'),
      '--offline',
      '-o',
      `html=${page}`,
      'api.example.com',
      'worker.example.com',
    ]);
    expect(r.code).toBe(1);
  });
  afterAll(() => recorder?.close());

  it('draws each host as one hop per layer in order, colours them by status, and puts the evidence and the fix under the failing hop', async () => {
    const dom = await browse(page, ['--dump-dom']);
    const sections = dom.split('<section ').slice(1);
    expect(sections).toHaveLength(2);
    const hops = (s: string) =>
      [...s.matchAll(/<div class="hop s-(\w+)[^"]*" data-layer="(\w+)" data-status="(\w+)"/g)].map(
        (m) => `${m[2]}:${m[3]}`,
      );
    expect(hops(sections[0]!)).toEqual([
      'dns:skip',
      'proxy:skip',
      'listener:pass',
      'route:pass',
      'grant:fail',
      'endpoints:skip',
      'mesh:skip',
      'dataplane:skip',
    ]);
    expect(hops(sections[1]!)).toEqual([
      'dns:skip',
      'proxy:skip',
      'listener:pass',
      'route:pass',
      'grant:pass',
      'endpoints:pass',
      'mesh:skip',
      'dataplane:skip',
    ]);
    // the failing hop's detail: marker in the grant column, evidence, the fix to apply and the link
    const detail = /<div class="detail s-fail" data-layer="grant"[^>]*>([\s\S]*?)<\/div>/.exec(sections[0]!)?.[1] ?? '';
    expect(sections[0]).toMatch(/<div class="marker s-fail" style="grid-row: ?2; ?grid-column: ?6;?">▼<\/div>/);
    expect(detail).toMatch(
      /<ul class="evidence"><li><span class="ref">namespace example-api:<\/span> has no ReferenceGrant at all/,
    );
    expect(detail).toMatch(/<pre class="fix">[^<]*\nkind: ReferenceGrant\n[^<]*<\/pre>/);
    expect(detail).toMatch(
      /href="https:\/\/github.com\/gwdoctor\/gwdoctor\/blob\/main\/README.md#referencegrantmissing"/,
    );
    expect(sections[1]).not.toMatch(/class="detail/);
    expect(fetchedBy(readFileSync(page, 'utf8'))).toEqual([]);
    // The path's first row: client, one hop per layer, Pod, each in a column of its own within the grid's columns
    // (the last hop marked last); nothing drawn over another.
    const raw = readFileSync(page, 'utf8');
    const columns = Number(/grid-template-columns: auto repeat\((\d+),/.exec(raw)?.[1]) + 2;
    for (const s of raw.split('<section ').slice(1)) {
      const row1 = [...s.matchAll(/style="grid-row:1;grid-column:(\d+)"/g)].map((m) => Number(m[1]));
      expect(row1).toEqual(Array.from({ length: LAYER_IDS.length + 2 }, (_, i) => i + 1));
      expect(Math.max(...row1)).toBe(columns);
      expect([...s.matchAll(/<div class="hop [^"]*\blast\b[^"]*" data-layer="(\w+)"/g)].map((m) => m[1])).toEqual([
        LAYER_IDS[LAYER_IDS.length - 1],
      ]);
    }
  });

  it('renders a screenshot of the window size with far more drawn than a blank page, fetching nothing', async () => {
    const shot = join(dir, 'report.png');
    await browse(page, [`--screenshot=${shot}`]);
    const blank = join(dir, 'blank.html');
    writeFileSync(blank, '<!doctype html><title>blank</title>');
    await browse(blank, [`--screenshot=${join(dir, 'blank.png')}`]);
    const ours = pngSize(shot);
    const empty = pngSize(join(dir, 'blank.png'));
    expect({ width: ours.width, height: ours.height }).toEqual({ width: WIDTH, height: HEIGHT });
    expect(ours.bytes).toBeGreaterThan(empty.bytes * 10);
    expect(fetchedBy(readFileSync(page, 'utf8'))).toEqual([]);
  });

  it('would notice a page that fetches something (the recorder sees the request)', async () => {
    const leaky = join(dir, 'leaky.html');
    const html =
      '<!doctype html><img src="http://assets.example.com/logo.png"><link rel="stylesheet" href="https://fonts.example.net/a.css">';
    writeFileSync(leaky, html);
    await browse(leaky, ['--dump-dom']);
    expect(fetchedBy(html).map(hostOf).sort()).toEqual(['assets.example.com', 'fonts.example.net']);
  });

  it('links out only through <a href>: no src, srcset, stylesheet link, script, @import or url() in the page', () => {
    const html = readFileSync(page, 'utf8');
    expect(html).not.toMatch(/\ssrc(set)?=|<link\b|<script\b|@import|url\(/i);
    expect(
      [...html.matchAll(/https?:\/\/[^"'<\s]+/g)].every(
        (m) => /href="$/.test(html.slice(m.index - 6, m.index)) || html.slice(m.index - 2, m.index) === '">',
      ),
    ).toBe(true);
  });
});

it('escapes text from the cluster, so a summary cannot add markup or script to the page', async () => {
  const { scenarioReport } = await import('../helpers/reports.js');
  const { renderHtml } = await import('../../src/report/html.js');
  const report = await scenarioReport([['grant-missing', 'api.example.com']]);
  report.targets[0]!.layers[4]!.summary = '<script>alert(1)</script><img src=x onerror=alert(2)>';
  const html = renderHtml(report);
  expect(html).not.toMatch(/<script|<img/i);
  expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'"`);
});
