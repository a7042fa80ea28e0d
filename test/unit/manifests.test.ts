// Reading manifests at scale: every object keeps its file and line, the bulk gwdoctor never reads is left out, JSON and
// YAML give the same objects, and bad input is a one-line error naming file and line.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifests, ManifestCluster, originOf } from '../../src/cluster/manifests.js';
import { readLines } from '../../src/cluster/manifest-stream.js';
import type { K8sObject } from '../../src/cluster/objects.js';
import { tempDir } from '../helpers/tmp.js';

const tmp = () => tempDir('gwd-man-');
const write = (name: string, text: string) => {
  const d = tmp();
  writeFileSync(join(d, name), text);
  return join(d, name);
};

const kubectlList = `apiVersion: v1
items:
- apiVersion: gateway.networking.k8s.io/v1
  kind: HTTPRoute
  metadata:
    annotations:
      kubectl.kubernetes.io/last-applied-configuration: |
        {"apiVersion":"gateway.networking.k8s.io/v1","kind":"HTTPRoute"}
      team: payments
    managedFields:
    - apiVersion: gateway.networking.k8s.io/v1
      fieldsType: FieldsV1
      fieldsV1:
        f:spec: {}
      manager: kubectl
    name: r1
    namespace: apps
  spec:
    hostnames:
    - a.example.com
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: ignored
- apiVersion: v1
  kind: Service
  metadata:
    annotations:
      kubectl.kubernetes.io/last-applied-configuration: '{"kind":"Service"}'
    name: s1
    namespace: apps
  spec:
    ports:
    - port: 80
kind: List
metadata:
  resourceVersion: ""
`;

describe('loadManifests', () => {
  it('gives every object of a kubectl List its file and the line of its "- ", and leaves out managedFields and last-applied', () => {
    const f = write('dump.yaml', kubectlList);
    const objs = loadManifests([f]);
    expect(objs.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(['HTTPRoute/r1', 'Service/s1']);
    expect(objs.map((o) => originOf(o))).toEqual([
      { file: f, line: 3 },
      { file: f, line: 25 },
    ]);
    const [route, svc] = objs as unknown as [Record<string, any>, Record<string, any>];
    expect(route['metadata']).toEqual({ annotations: { team: 'payments' }, name: 'r1', namespace: 'apps' });
    expect(route['spec']).toEqual({ hostnames: ['a.example.com'] });
    expect(svc['metadata']['annotations']).toBeUndefined();
  });

  it('reads the same objects from `kubectl get -o json` (JSON.parse per item), with the line of each item', () => {
    const items = [
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 's1', namespace: 'apps', managedFields: [{ manager: 'x' }] },
        spec: { ports: [{ port: 80 }] },
      },
      { apiVersion: 'v1', kind: 'Event', metadata: { name: 'c' }, data: { 'a]{': '"}', path: 'C:\\', q: '\\"[{' } }, // a kind gwdoctor does not read (Secrets are read now)
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 's2', namespace: 'apps' } },
    ];
    const f = write(
      'dump.json',
      JSON.stringify({ apiVersion: 'v1', items, kind: 'List', metadata: { resourceVersion: '' } }, null, 4),
    );
    const objs = loadManifests([f]);
    expect(objs.map((o) => o.metadata)).toEqual([
      { name: 's1', namespace: 'apps' },
      { name: 's2', namespace: 'apps' },
    ]);
    expect(objs.map((o) => originOf(o)?.line)).toEqual([4, 36]);
  });

  it('reads multi-document YAML, a JSON document inside YAML, and a List indented by another tool', () => {
    const f = write(
      'multi.yaml',
      [
        '# leading comment',
        'apiVersion: v1',
        'kind: Namespace',
        'metadata: {name: a}',
        '---',
        '{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "b"}}',
        '---',
        'kind: List',
        'apiVersion: v1',
        'items:',
        '  - apiVersion: v1',
        '    kind: Namespace',
        '    metadata:',
        '      name: c',
        '  - {apiVersion: v1, kind: Namespace, metadata: {name: d}}',
        '',
      ].join('\n'),
    );
    const objs = loadManifests([f]);
    expect(objs.map((o) => [o.metadata.name, originOf(o)?.line])).toEqual([
      ['a', 2],
      ['b', 6],
      ['c', 11],
      ['d', 15],
    ]);
  });

  it('names the file and the line in the file of a syntax error inside a List item', () => {
    const f = write('bad.yaml', kubectlList.replace('    - a.example.com', '    - [unclosed'));
    expect(() => loadManifests([f])).toThrow(/bad\.yaml:20:\d+: invalid YAML/);
    const j = write('bad.json', '{\n  "apiVersion": "v1",\n  "items": [\n    {"kind": "Service",}\n  ]\n}\n');
    expect(() => loadManifests([j])).toThrow(/bad\.json:4(:\d+)?: invalid JSON/);
  });

  it('reads a JSON file that starts with a UTF-8 byte order mark as it reads YAML with one', () => {
    const route = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'r1', namespace: 'apps' },
      spec: { hostnames: ['a.example.com'] },
    };
    const json = write(
      'bom.json',
      `\ufeff${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [route] }, null, 2)}\n`,
    );
    const oneLine = write('bom-one.json', `\ufeff${JSON.stringify(route)}`);
    const yaml = write('bom.yaml', `\ufeff${kubectlList}`);
    expect(loadManifests([json]).map((o) => [o.metadata.name, originOf(o)?.line])).toEqual([['r1', 5]]);
    expect(loadManifests([oneLine]).map((o) => o.metadata.name)).toEqual(['r1']);
    expect(loadManifests([yaml]).map((o) => o.metadata.name)).toEqual(['r1', 's1']);
  });

  // A parser quotes the input around a syntax error (V8: ~10 characters, js-yaml: a tag's name); inside a Secret that
  // is a piece of the key. file:line:column locates the error; the message keeps only what the parser expected.
  it.each([
    [
      'an unquoted value (JSON)',
      'k.json',
      '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},\n"data":{"tls.key":SUPERSECRETVALUE1234}}\n',
      /k\.json:\d+(:\d+)?: invalid JSON: Unexpected token/,
    ],
    [
      'an unterminated string (JSON)',
      'k.json',
      '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},\n"data":{"tls.key":"SUPERSECRETVALUE1234}}\n',
      /k\.json:2(:\d+)?: invalid JSON/,
    ],
    [
      'text after the value (JSON)',
      'k.json',
      '[{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},\n"data":{"tls.key":"SUPERSECRETVALUE1234" SUPERSECRETVALUE1234}}]\n',
      /k\.json:2(:\d+)?: invalid JSON: Expected/,
    ],
    [
      'a flow mapping written as JSON (YAML)',
      'k.yaml',
      'apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {"tls.key": "SUPERSECRETVALUE1234" x}\n',
      /k\.yaml:4:\d+: invalid YAML/,
    ],
    [
      'a tag (YAML)',
      'k.yaml',
      'apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: !SUPERSECRETVALUE1234 x\n',
      /k\.yaml:6:\d+: invalid YAML: unknown scalar tag !<\.\.\.>/,
    ],
    [
      'an alias that names nothing (YAML)',
      'k.yaml',
      'apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: *"SUPERSECRETVALUE1234"\n',
      /k\.yaml:6:\d+: invalid YAML: unidentified alias "\.\.\."$/,
    ],
    [
      'a tag with a bad character (YAML)',
      'k.yaml',
      'apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: !SUPER%ZZSECRETVALUE1234 x\n',
      /k\.yaml:6:\d+: invalid YAML: tag name cannot contain such characters$/,
    ],
  ])('a syntax error inside a Secret names file:line, never a piece of the value: %s', (_, name, text, want) => {
    const f = write(name, text);
    let msg = '';
    try {
      loadManifests([f]);
    } catch (err) {
      msg = (err as Error).message;
    }
    expect(msg).toMatch(want);
    for (let i = 0; i + 5 <= 'SUPERSECRETVALUE1234'.length; i++)
      expect(msg).not.toContain('SUPERSECRETVALUE1234'.slice(i, i + 5));
  });

  it('refuses a Secret whose data is not a mapping without quoting the value', () => {
    const f = write('s.yaml', 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata: SUPERSECRETVALUE1234\n');
    expect(() => loadManifests([f])).toThrow(/s\.yaml:1: Secret s: data must be a mapping, not a string$/);
  });

  it('reads lines longer than its 1 MB chunk whole, with CRLF and multi-byte characters split across chunk borders', () => {
    const long = 'ä'.repeat(700_000); // 1.4 MB of UTF-8: crosses a chunk border inside a character
    const lines = ['\ufefffirst', long, `${'x'.repeat((1 << 20) - 3)}`, 'y'.repeat(3 * (1 << 20)), '', 'last'];
    const f = write('long.txt', `${lines.join('\r\n')}`);
    const got = [...readLines(f)];
    expect(got.map((l) => l.length)).toEqual(['first', ...lines.slice(1)].map((l) => l.length));
    expect(got).toEqual(['first', ...lines.slice(1)]);
  });

  // The four shapes that ended in exit 70 (issue 20): refused by the shape validation with the field's path.
  it.each([
    [
      'matchExpressions as a mapping',
      'gw',
      'selector: {matchExpressions: {key: team, operator: In}}',
      /spec\.listeners\[0\]\.allowedRoutes\.namespaces\.selector\.matchExpressions must be a list, not a mapping$/,
    ],
    [
      'matchExpressions: [null]',
      'gw',
      'selector: {matchExpressions: [null]}',
      /selector\.matchExpressions\[0\] must be a mapping, not null$/,
    ],
    [
      'requestMirror.backendRef as a string',
      'route',
      'filters: [{type: RequestMirror, requestMirror: {backendRef: svc}}]',
      /spec\.rules\[0\]\.filters\[0\]\.requestMirror\.backendRef must be a mapping, not string "svc"$/,
    ],
    [
      "a backendRef's filters as a string",
      'route',
      'backendRefs: [{name: svc, port: 80, filters: nope}]',
      /spec\.rules\[0\]\.backendRefs\[0\]\.filters must be a list, not string "nope"$/,
    ],
  ])('refuses %s with the field and what it found (exit 3, not 70)', (_, where, field, want) => {
    const text =
      where === 'gw'
        ? `apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g, namespace: n}\nspec:\n  gatewayClassName: istio\n  listeners:\n  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Selector, ${field}}}}\n`
        : `apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, namespace: n}\nspec:\n  rules:\n  - ${field}\n`;
    expect(() => loadManifests([write('m.yaml', text)])).toThrow(want);
  });

  it('does not even parse objects of kinds it does not read (a Deployment in an -A dump), so their bulk costs nothing', () => {
    const broken = kubectlList.replace('    name: ignored', '    name: ignored\n  spec: {template: [unclosed');
    const f = write('dump.yaml', broken);
    expect(loadManifests([f]).map((o) => o.metadata.name)).toEqual(['r1', 's1']);
    expect(() => loadManifests([f], { keep: 'all' })).toThrow(/dump\.yaml:\d+:\d+: invalid YAML/);
  });

  it('keeps every kind and field as written with keep: all (for harnesses that apply fixtures)', () => {
    const f = write('dump.yaml', kubectlList);
    const objs = loadManifests([f], { keep: 'all' });
    expect(objs.map((o) => o.kind)).toEqual(['HTTPRoute', 'Deployment', 'Service']);
    expect((objs[0] as Record<string, any>)['metadata']['managedFields']).toHaveLength(1);
  });
});

describe('manifest shape validators', () => {
  it('are generated from src/cluster/manifest-schemas.json (node scripts/gen-manifest-validators.mjs)', async () => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(
      process.execPath,
      [join(import.meta.dirname, '..', '..', 'scripts', 'gen-manifest-validators.mjs'), '--check'],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('ManifestCluster lookups (indexed once per snapshot)', () => {
  const o = (kind: string, ns: string, name: string, extra: Record<string, unknown> = {}) =>
    ({
      apiVersion: kind === 'EndpointSlice' ? 'discovery.k8s.io/v1' : 'v1',
      kind,
      metadata: { namespace: ns, name, ...extra },
    }) as unknown as K8sObject;
  const snap = new ManifestCluster([
    o('Service', 'a', 'web', { uid: 'first' }),
    o('Service', 'a', 'web', { uid: 'second' }),
    o('Service', 'b', 'web', { uid: 'other-ns' }),
    o('EndpointSlice', 'a', 'web-1', { labels: { 'kubernetes.io/service-name': 'web' } }),
    o('EndpointSlice', 'a', 'web-2', { labels: { 'kubernetes.io/service-name': 'web' } }),
    o('EndpointSlice', 'b', 'web-1', { labels: { 'kubernetes.io/service-name': 'web' } }),
    o('Pod', 'a', 'p1', { labels: { app: 'web' } }),
    o('Pod', 'a', 'p2', { labels: { app: 'db' } }),
    o('Pod', 'b', 'p3', { labels: { app: 'web' } }),
  ]);

  it('finds a Service by namespace and name; of two with the same name, the last in the files (what kubectl apply leaves)', async () => {
    expect((await snap.service('a', 'web'))?.metadata['uid']).toBe('second');
    expect(snap.notices()).toEqual([
      'Service a/web is defined twice: (unknown origin) and (unknown origin); kubectl apply -f keeps the last ((unknown origin)), and gwdoctor judges that one',
    ]);
    expect((await snap.service('b', 'web'))?.metadata['uid']).toBe('other-ns');
    expect(await snap.service('c', 'web')).toBeUndefined();
  });

  it("gives a Service's EndpointSlices and the Pods its selector matches, in its namespace only", async () => {
    expect((await snap.endpointSlices('a', 'web')).map((s) => s.metadata.name)).toEqual(['web-1', 'web-2']);
    expect(await snap.endpointSlices('a', 'db')).toEqual([]);
    expect((await snap.pods('a', { app: 'web' }))?.map((p) => p.metadata.name)).toEqual(['p1']);
    expect(await new ManifestCluster([]).pods('a', { app: 'web' })).toBeNull(); // no Pod at all: unknown, not none
  });
});
