// Why the harness forces a Service resync when istiod keeps a Gateway "no instances found" (harness/apply.ts,
// settleIstiod): istiod recomputes a Gateway's addresses only on a full push that changes a Service; endpoints that
// come back for a known service with unchanged service accounts are an incremental push. This reproduces the state
// deterministically on real istiod, so that the harness's cure is checked against the real thing, not assumed:
//   1. the seed is settled (Programmed=True, gateway Pod A ready);
//   2. Pod A goes away (endpoints 0: incremental) and a Service change makes istiod recompute: "no instances found";
//   3. the ReplicaSet's Pod B becomes ready (endpoints back: incremental) -> the status stays "no instances found";
//   4. gwdoctor trusts the endpoints over that status (a StatusDisagrees warning, not GatewayNotProgrammed);
//   5. annotating the Service and EndpointSlices changes nothing; the harness's resync (a Service created and deleted) -> Programmed=True.

import { readFileSync } from 'node:fs';
import { describe, expect } from 'vitest';
import { runOnCluster } from '../helpers/fixtures.js';
import { forceServiceResync, nextPodIp, readyPodStatus } from './harness/apply.js';
import { Kube, type Obj } from './harness/kube.js';
import { itIstiod, live, liveCluster, scenarioUnderIstiod } from './live.js';

const admin = live ? new Kube(live.server, readFileSync(live.caFile), 'admin-token') : null;
const GW = 'example-istio-gateway';
const NS = 'istio-ingress';
const LABEL = `gateway.networking.k8s.io/gateway-name=${GW}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function programmed(kube: Kube): Promise<{ status: string; message: string }> {
  const gw = (await kube.get(`/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/gateways/${GW}`)) as Obj & {
    status?: { conditions?: { type: string; status: string; message: string }[] };
  };
  const c = gw.status?.conditions?.find((x) => x.type === 'Programmed');
  return { status: c?.status ?? '', message: c?.message ?? '' };
}

/** Poll until `want` holds (true) or `ms` passed (false). */
async function within(ms: number, want: () => Promise<boolean>): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (await want()) return true;
    if (Date.now() > until) return false;
    await sleep(200);
  }
}

describe('istiod keeps a Gateway "no instances found" after its Pod is replaced, until a Service changes', () => {
  scenarioUnderIstiod('seed-healthy');

  itIstiod(
    'the harness resync (a Service created and deleted) brings Programmed=True back',
    async () => {
      const kube = admin as Kube;
      expect((await programmed(kube)).status).toBe('True');
      const [podA] = await kube.list('v1', 'Pod', NS, LABEL);
      expect(podA).toBeDefined();
      await kube.delete(podA as Obj);
      const noEndpoints = async () =>
        (await kube.list('discovery.k8s.io/v1', 'EndpointSlice', NS, LABEL)).every(
          (s) => ((s as unknown as { endpoints?: unknown[] }).endpoints ?? []).length === 0,
        );
      expect(await within(10_000, noEndpoints)).toBe(true);
      await forceServiceResync(kube, NS);
      const noInstances = async () => /no instances found/.test((await programmed(kube)).message);
      expect(await within(10_000, noInstances)).toBe(true);

      // Pod B from the ReplicaSet: bind it and make it ready, as the harness's kubelet stand-in does.
      let podB: Obj | undefined;
      expect(
        await within(
          10_000,
          async () =>
            (podB = (await kube.list('v1', 'Pod', NS, LABEL)).find((p) => !p.metadata['deletionTimestamp'])) !==
            undefined,
        ),
      ).toBe(true);
      await kube.bind(podB as Obj, 'node-1');
      await kube.patchStatus(podB as Obj, readyPodStatus(nextPodIp()));
      expect(await within(10_000, async () => !(await noEndpoints()))).toBe(true);
      // istiod got the endpoints (an incremental push) but does not recompute the Gateway: still "no instances found".
      await sleep(3_000);
      expect(await programmed(kube)).toMatchObject({
        status: 'False',
        message: expect.stringMatching(/no instances found/),
      });
      // Touching the Service and the EndpointSlices (annotations) is no Service change to istiod: still stuck.
      for (const o of [
        ...(await kube.list('v1', 'Service', NS, LABEL)),
        ...(await kube.list('discovery.k8s.io/v1', 'EndpointSlice', NS, LABEL)),
      ]) {
        await kube.raw(
          'PATCH',
          kube.path(o),
          { metadata: { annotations: { 'gwdoctor.test/touch': '1' } } },
          'application/merge-patch+json',
        );
      }
      await sleep(3_000);
      expect(await programmed(kube)).toMatchObject({
        status: 'False',
        message: expect.stringMatching(/no instances found/),
      });

      // gwdoctor on this cluster: the status says "no instances found", the Service has an endpoint: it trusts the
      // endpoints, warns, and the host reaches its backend.
      const stuck = await runOnCluster(await liveCluster('readonly'), 'api.example.com');
      const listener = stuck.layers.find((l) => l.id === 'listener');
      expect({ verdict: stuck.verdict, status: listener?.status, code: listener?.code }).toEqual({
        verdict: 'warn',
        status: 'warn',
        code: 'StatusDisagrees',
      });
      expect(listener?.summary).toMatch(/Programmed=False.*no instances found.*1 endpoint/);

      await forceServiceResync(kube, NS);
      expect(await within(10_000, async () => (await programmed(kube)).status === 'True')).toBe(true);
      expect((await runOnCluster(await liveCluster('readonly'), 'api.example.com')).verdict).toBe('pass');
    },
    120_000,
  );
});
