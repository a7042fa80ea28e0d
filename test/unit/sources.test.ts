// Where objects come from: manifests on disk (YAML, JSON, kind: List) and kubeconfigs found the way kubectl finds them.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifests, ManifestCluster } from '../../src/cluster/manifests.js';
import { findKubeconfig, LiveCluster } from '../../src/cluster/live.js';
import { tempDir } from '../helpers/tmp.js';

const tmp = () => tempDir('gwd-src-');

describe('--manifests', () => {
  it('reads directories recursively: multi-document YAML, JSON and kind: List, ignoring other files and unknown kinds', async () => {
    const d = tmp();
    mkdirSync(join(d, 'apps', 'api'), { recursive: true });
    writeFileSync(
      join(d, 'gw.yaml'),
      'apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g, namespace: n}\nspec: {gatewayClassName: istio}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ignored}\n',
    );
    writeFileSync(
      join(d, 'apps', 'api', 'svc.json'),
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'n' } }],
      }),
    );
    writeFileSync(join(d, 'apps', 'README.md'), '# not yaml');
    writeFileSync(join(d, 'apps', 'empty.yml'), '---\n# only a comment\n');
    const objs = loadManifests([d]);
    expect(objs.map((o) => o.kind).sort()).toEqual(['Gateway', 'Service']);
    const c = new ManifestCluster(objs, [d]);
    expect((await c.gateways()).map((g) => g.metadata.name)).toEqual(['g']);
    expect((await c.service('n', 's'))?.metadata.name).toBe('s');
    expect(await c.pods('n', { app: 'x' })).toBeNull(); // no Pods in the manifests: readiness is unknown
  });
  it('names file, line and column of a YAML error', () => {
    const d = tmp();
    writeFileSync(join(d, 'bad.yaml'), 'apiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n');
    expect(() => loadManifests([d])).toThrow(/bad\.yaml:\d+:\d+: invalid YAML/);
  });
  it('ignores a Gateway of another API group', async () => {
    const d = tmp();
    writeFileSync(
      join(d, 'istio.yaml'),
      'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: classic, namespace: n}\nspec: {}\n',
    );
    expect(await ManifestCluster.fromPaths([d]).gateways()).toEqual([]);
  });
});

const kubeconfig = (ctx: string, server: string) =>
  `apiVersion: v1\nkind: Config\nclusters:\n- name: ${ctx}\n  cluster: {server: "${server}"}\nusers:\n- name: ${ctx}\n  user: {token: t}\ncontexts:\n- name: ${ctx}\n  context: {cluster: ${ctx}, user: ${ctx}}\ncurrent-context: ${ctx}\n`;

describe('kubeconfig discovery (kubectl conventions)', () => {
  it('uses the files of $KUBECONFIG that exist and merges them; the first file sets the current context', async () => {
    const d = tmp();
    writeFileSync(join(d, 'a'), kubeconfig('home', 'https://192.0.2.1:6443'));
    writeFileSync(join(d, 'b'), kubeconfig('work', 'https://192.0.2.2:6443'));
    const found = findKubeconfig(null, {
      KUBECONFIG: `${join(d, 'missing')}:${join(d, 'a')}:${join(d, 'b')}`,
      HOME: d,
    });
    expect(found).toEqual({ ok: true, kind: 'files', files: [join(d, 'a'), join(d, 'b')] });
    if (!found.ok) throw new Error('unreachable');
    expect((await LiveCluster.create(found, null)).describeSource()).toEqual({
      context: 'home',
      server: 'https://192.0.2.1:6443',
    });
    expect((await LiveCluster.create(found, 'work')).describeSource()).toEqual({
      context: 'work',
      server: 'https://192.0.2.2:6443',
    });
  });
  it('falls back to ~/.kube/config, then says plainly that nothing was found (never localhost:8080)', () => {
    const d = tmp();
    expect(findKubeconfig(null, { HOME: d })).toMatchObject({
      ok: false,
      why: expect.stringMatching(/no kubeconfig found/),
    });
    mkdirSync(join(d, '.kube'));
    writeFileSync(join(d, '.kube', 'config'), kubeconfig('home', 'https://192.0.2.1:6443'));
    expect(findKubeconfig(null, { HOME: d })).toEqual({ ok: true, kind: 'files', files: [join(d, '.kube', 'config')] });
  });
  it('reports $KUBECONFIG pointing only at missing files', () => {
    expect(findKubeconfig(null, { KUBECONFIG: '/nope/a:/nope/b', HOME: tmp() })).toMatchObject({
      ok: false,
      why: expect.stringMatching(/none of the files in \$KUBECONFIG exist/),
    });
  });
  it('rejects a --kubeconfig that does not exist as a usage error', () => {
    expect(() => findKubeconfig('/nope/config', {})).toThrow(/--kubeconfig \/nope\/config: no such file/);
  });
});
