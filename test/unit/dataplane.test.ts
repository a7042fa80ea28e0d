// The data plane layer's judge on literal stages (the real answers are judged in test/integration/dataplane.test.ts):
// istiod's classification of a watched type (pilot/pkg/xds/statusgen.go debugSyncStatus), and which finding each
// state of istiod's /debug/syncz gives, with a fix that never deletes a Pod nothing recreates.

import { describe, expect, it } from 'vitest';
import { dataplaneFacts, judgeDataplane, syncStatus, type DataplaneStage, type SyncStatus } from '../../checks/dataplane.js';
import type { Gateway, Pod, Service } from '../../src/cluster/objects.js';
import { layerMeta } from '../../src/registry.js';

const LDS = 'type.googleapis.com/envoy.config.listener.v3.Listener';
const RDS = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';
const meta = layerMeta('dataplane');
const judge = (s: DataplaneStage) => judgeDataplane.call(meta, s);

const gateway: Gateway = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'istio-ingress' }, spec: { gatewayClassName: 'istio', listeners: [] } } as unknown as Gateway;
const istiod = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'istiod', namespace: 'istio-system' } } as Service;
const pod = (name: string, owned: boolean): Pod =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'istio-ingress', ...(owned ? { ownerReferences: [{ kind: 'ReplicaSet', name: 'gw-istio-5d9f', controller: true }] } : {}) },
    spec: { nodeName: 'node-1' },
    status: { phase: 'Running' },
  }) as unknown as Pod;
const proxy = (p: Pod) => ({ pod: p, proxyId: `${p.metadata.name}.istio-ingress`, node: 'node-1' });
const synced = (id: string): SyncStatus => ({ proxy: id, resources: { [LDS]: { sent: 'n2', acked: 'n2' }, [RDS]: { sent: 'r2', acked: 'r2' } } });
const ok = (pods: Pod[], syncz: SyncStatus[], replicas = 1): DataplaneStage => ({ kind: 'ok', gateway, proxies: pods.map(proxy), istiod: { kind: 'ok', service: istiod, syncz, replicas } });

describe('istiod\'s classification of one xDS type (debugSyncStatus)', () => {
  it('lastError wins, then nothing sent, then acked == sent', () => {
    expect(syncStatus({ sent: 'a', acked: 'a', lastError: 'bad' })).toBe('ERROR');
    expect(syncStatus({})).toBe('NOT_SENT');
    expect(syncStatus({ sent: 'b', acked: 'b' })).toBe('SYNCED');
    expect(syncStatus({ sent: 'b', acked: 'a' })).toBe('STALE');
    expect(syncStatus({ sent: 'b' })).toBe('STALE');
  });
});

describe('the data plane judge', () => {
  const a = pod('gw-istio-5d9f-aaaaa', true);
  const b = pod('gw-istio-5d9f-bbbbb', true);

  it('manifests, no istiod Service, no permission: not checked, with the reason as data', () => {
    expect(judge({ kind: 'not-live' })).toMatchObject({ status: 'skip', facts: { skipped: { reason: 'not-live' } } });
    expect(judge({ kind: 'no-istiod', gateway })).toMatchObject({ status: 'skip', facts: { skipped: { reason: 'no-istiod' } } });
    const f = judge({ kind: 'ok', gateway, proxies: [proxy(a)], istiod: { kind: 'forbidden', service: istiod, why: 'forbidden: cannot get services/proxy istio-system/istiod:15014' } });
    expect(f).toMatchObject({ status: 'skip', facts: { skipped: { reason: 'forbidden' } } });
    expect(f.summary).toContain('cannot get services/proxy');
  });

  it('istiod\'s 401 through the API server: a warning that says why, never a pass', () => {
    const f = judge({ kind: 'ok', gateway, proxies: [proxy(a)], istiod: { kind: 'refused', service: istiod, answer: { from: 'service', status: 401, body: '' }, path: '/debug/syncz' } });
    expect(f).toMatchObject({ status: 'warn', code: 'DataplaneNotChecked' });
  });

  it('every Pod connected and synced: pass; facts carry each type as istiod classifies it', () => {
    const s = ok([a, b], [synced(`${a.metadata.name}.istio-ingress`), synced(`${b.metadata.name}.istio-ingress`)]);
    expect(judge(s).status).toBe('pass');
    expect(dataplaneFacts(s).dataplane?.proxies.map((p) => [p.connected, p.xds.map((t) => `${t.type}:${t.status}`)])).toEqual([
      [true, ['LDS:SYNCED', 'RDS:SYNCED']],
      [true, ['LDS:SYNCED', 'RDS:SYNCED']],
    ]);
  });

  it('a NACK: GatewayProxyRejected quotes the error and names both nonces', () => {
    const s = ok([a], [{ proxy: `${a.metadata.name}.istio-ingress`, resources: { [LDS]: { sent: 'n3', acked: 'n2', lastError: "Didn't find a registered implementation for 'x'" }, [RDS]: { sent: 'r2', acked: 'r2' } } }]);
    const f = judge(s);
    expect(f).toMatchObject({ status: 'fail', code: 'GatewayProxyRejected' });
    expect(f.summary).toContain("Didn't find a registered implementation for 'x'");
    expect(f.summary).toContain('n3');
  });

  it('one of two Pods disconnected: GatewayProxyNotConnected; the fix deletes only that Pod, and only when a controller recreates it', () => {
    const f = judge(ok([a, b], [synced(`${a.metadata.name}.istio-ingress`)]));
    expect(f).toMatchObject({ status: 'fail', code: 'GatewayProxyNotConnected', fix: { kind: 'command', argv: ['kubectl', 'delete', 'pod', b.metadata.name, '-n', 'istio-ingress'] } });
    const bare = pod('lonely', false);
    expect(judge(ok([bare], [])).fix).toMatchObject({ kind: 'manual' });
  });

  it('several istiod replicas: a proxy missing from the one that answered is not called disconnected', () => {
    expect(judge(ok([a, b], [synced(`${a.metadata.name}.istio-ingress`)], 2))).toMatchObject({ status: 'warn', code: 'DataplaneNotChecked' });
  });

  it('sent but never acknowledged, no error: GatewayProxyStale', () => {
    const f = judge(ok([a], [{ proxy: `${a.metadata.name}.istio-ingress`, resources: { [LDS]: { sent: 'n2', acked: 'n2' }, [RDS]: { sent: 'r3', acked: 'r2' } } }]));
    expect(f).toMatchObject({ status: 'fail', code: 'GatewayProxyStale' });
  });
});
