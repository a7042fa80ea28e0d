// Issue 19 item 3, "an Envoy started before its route exists", judged by the real lane (istiod 1.31-dev, upstream Envoy
// 1.40.0; harness/envoy.ts): the gateway Envoy runs, then an HTTPRoute for a new host is created. At each step the
// real Envoy's admin interface, istiod's own view (/debug/syncz as a loopback caller gets it: the bytes a port-forward
// to istiod gets) and the real request through the NodePort stand-in are compared with what gwdoctor says. Every wait
// is on a condition (Envoy's admin, istiod's syncz, the route's status), never on the clock.
//   1. before the route: Envoy has no virtual host for the host and answers 404; gwdoctor: NoRouteForHost (Envoy answers 404).
//   2. the route created while the Envoy cannot hear istiod (its xDS stream cut, as by a network fault): istiod writes
//      Accepted/ResolvedRefs on the route (every status green), the Envoy still has no virtual host and answers 404;
//      gwdoctor: the route layer passes, the dataplane layer names what Envoy lacks (istiod's view: not connected;
//      the Envoy's own view: no virtual host, its xDS stream down).
//   3. the stream back: istiod's push arrives, Envoy serves the route, the real request gets the backend; gwdoctor passes.
// As in dataplane-envoy.test.ts, gwdoctor's reader is fed each Envoy's real admin answers (LiveCluster.envoyAdmin: the
// transport is the only thing replaced).

import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { LAYERS } from '../../checks/index.js';
import type { SyncStatus } from '../../checks/dataplane.js';
import type { AdminAnswer, AdminGet } from '../../src/dataplane/envoy-admin.js';
import { offlineEnv, runTarget } from '../../src/pipeline.js';
import { pollUntil } from '../helpers/poll.js';
import { parseTarget } from '../../src/target.js';
import type { Finding, TargetReport } from '../../src/types.js';
import { validateReport } from '../helpers/cli.js';
import { startGatewayEnvoy, type GatewayEnvoy } from './harness/envoy.js';
import type { Obj } from './harness/kube.js';
import { istiod, itEnvoy, liveCluster, scenarioWithEnvoy } from './live.js';

const GW_NS = 'istio-ingress';
const GW = 'example-istio-gateway';
const GW_LABEL = `gateway.networking.k8s.io/gateway-name=${GW}`;
const HOST = 'late.example.com';
const API_CLUSTER = 'outbound|3000||example-api.example-api.svc.cluster.local';

const until = <T>(what: string, f: () => Promise<T | undefined>, ms = 60_000): Promise<T> => pollUntil(what, f, ms);

/** A TCP relay to istiod's xDS port that the test can cut and restore (istiod is shared by the suite: never stopped). */
class XdsRelay {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;
  constructor(private readonly target: string) {}
  async open(): Promise<void> {
    const [h, p] = this.target.split(':') as [string, string];
    const srv = createServer((c) => {
      const u = connect(Number(p), h);
      this.sockets.add(c).add(u);
      c.pipe(u).pipe(c);
      const drop = () => {
        c.destroy();
        u.destroy();
        this.sockets.delete(c);
        this.sockets.delete(u);
      };
      c.on('error', drop).on('close', drop);
      u.on('error', drop).on('close', drop);
    });
    await new Promise<void>((r, j) => {
      srv.once('error', j);
      srv.listen(this.port, '127.0.0.1', () => r());
    });
    this.port = (srv.address() as { port: number }).port;
    this.server = srv;
  }
  async cut(): Promise<void> {
    const srv = this.server;
    this.server = null;
    if (!srv) return;
    await new Promise<void>((r) => {
      srv.close(() => r());
      for (const x of this.sockets) x.destroy();
    });
  }
}

describe('an Envoy started before its route exists (real lane: istiod + upstream Envoy)', () => {
  const s = scenarioWithEnvoy('seed-healthy');
  let relay: XdsRelay | null = null;
  let envoy: GatewayEnvoy | null = null;
  const made: Obj[] = [];

  const lane = () => {
    const st = s.get();
    if (!st) throw new Error('no lane');
    return st;
  };
  const kube = () => lane().lane.o.kube;

  beforeAll(async () => {
    const st = s.get();
    if (!st || !istiod) return;
    const k = st.lane.o.kube;
    const ns = await k.raw('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'istio-system' },
    });
    if (ns.status >= 300 && ns.status !== 409) throw new Error(`namespace istio-system: ${ns.status}`);
    // istiod's Pod (label app=istiod, Running): the dataplane layer asks each one for its view (read below as a
    // loopback caller gets it). No IP: nothing dials it here.
    const istiodPod = await k.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'istiod-late-route', namespace: 'istio-system', labels: { app: 'istiod' } },
      spec: { nodeName: 'node-1', containers: [{ name: 'discovery', image: 'docker.io/istio/pilot' }] },
    });
    await k.patchStatus(istiodPod, { phase: 'Running' });
    made.push(istiodPod);
    // The gateway Pod's Envoy, reaching istiod through a relay the test cuts: the lane's own Envoy for the Pod goes
    // (one Envoy per proxy id), and this one takes its place in the lane (its real requests, its loopback guard).
    const [pod] = await k.list('v1', 'Pod', GW_NS, GW_LABEL);
    const [svc] = await k.list('v1', 'Service', GW_NS, GW_LABEL);
    if (!pod) throw new Error('no gateway Pod');
    const old = st.sc.envoys[0];
    if (!old) throw new Error('no lane Envoy');
    await old.stop();
    relay = new XdsRelay(st.lane.o.istiod.grpcAddr);
    await relay.open();
    const dnsPort = await new Promise<number>((r) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => r(p));
      });
    });
    envoy = await startGatewayEnvoy({
      bin: st.lane.o.bin,
      kube: k,
      istiod: { ...st.lane.o.istiod, grpcAddr: `127.0.0.1:${relay.port}` },
      pod,
      service: svc,
      listenerAddress: st.lane.gatewayAddress(GW_NS, GW),
      nodeAddresses: st.sc.nodeAddresses,
      dir: st.lane.o.dir,
      dnsPort,
    });
    st.sc.envoys.splice(0, 1, envoy); // sc.stop() stops it with the scenario
  }, 120_000);

  afterAll(async () => {
    await relay?.cut();
    for (const o of made.reverse()) await kube().delete(o);
  }, 60_000);

  const e = () => {
    if (!envoy) throw new Error('no Envoy');
    return envoy;
  };
  const admin = async (path: string): Promise<unknown> => (await fetch(`${e().adminUrl}${path}`)).json();
  /** Envoy's own statement: does its route configuration have a virtual host for HOST? */
  const envoyHasHost = async (): Promise<boolean> =>
    JSON.stringify(await admin('/config_dump?resource=dynamic_route_configs')).includes(`"${HOST}"`);
  const connectedState = async (): Promise<number | null> => {
    const j = (await admin('/stats?format=json&filter=%5Econtrol_plane%5C.connected_state%24')) as {
      stats?: { name: string; value?: number }[];
    };
    const v = j.stats?.find((x) => x.name === 'control_plane.connected_state')?.value;
    return typeof v === 'number' ? v : null;
  };
  /** istiod's /debug/syncz entry for the Envoy, as a loopback caller (a port-forward to istiod) gets it. */
  const syncz = async (): Promise<SyncStatus | undefined> =>
    ((await (await fetch(`${istiod!.httpUrl}/debug/syncz`)).json()) as SyncStatus[]).find(
      (x) => x.proxy === e().proxyId,
    );
  const allAcked = (x: SyncStatus | undefined) =>
    x !== undefined &&
    Object.values(x.resources ?? {}).length > 0 &&
    Object.values(x.resources ?? {}).every((r) => !r.lastError && r.sent === r.acked);

  /** The transport for gwdoctor's Envoy reads: the lane Envoy's real admin interface (what a port-forward carries). */
  const laneAdmin =
    () =>
    (ns: string, pod: string): AdminGet =>
    async (path) => {
      if (`${ns}/${pod}` !== e().pod) return { kind: 'unreachable', why: `no lane Envoy for Pod ${ns}/${pod}` };
      const r = await fetch(`${e().adminUrl}${path}`);
      return { kind: 'ok', status: r.status, body: await r.text() };
    };

  /**
   * gwdoctor's pipeline as the read-only user (offline: no network probes), the Envoy read through the seam; with
   * `istiodView`, istiod's /debug/syncz and config_dump as a loopback caller gets them (else the read-only user's
   * port-forward to istiod: forbidden, "not checked"). The report is validated against the schema.
   */
  async function gwdoctor(istiodView: boolean): Promise<TargetReport> {
    const cluster = await liveCluster('readonly');
    cluster.envoyAdmin = laneAdmin();
    if (istiodView)
      cluster.podPortGet = async (_ns, _pod, _port, path): Promise<AdminAnswer> => {
        const r = await fetch(`${istiod!.httpUrl}${path}`);
        return { kind: 'ok', status: r.status, body: await r.text() };
      };
    const rep = await runTarget(
      LAYERS,
      parseTarget(`https://${HOST}/`),
      offlineEnv(cluster, { signal: AbortSignal.timeout(60_000) }, 'offline: no network probe'),
      { until: null, intervalMs: 0 },
    );
    const report = {
      schemaVersion: 'gwdoctor.report/v3',
      generatedAt: new Date().toISOString(),
      durationMs: 1,
      source: { mode: 'live', ...cluster.describeSource(), offline: true },
      targets: [rep],
    };
    expect(validateReport(report), JSON.stringify(validateReport.errors)).toBe(true);
    return rep;
  }
  const layer = (rep: TargetReport, id: string) => rep.layers.find((l) => l.id === id) as Finding;
  const show = (f: Finding) => `${f.code}: ${f.summary}\n${f.evidence.map((x) => `${x.ref}: ${x.detail}`).join('\n')}`;

  itEnvoy(
    'before the route, while istiod cannot reach the Envoy, after the push: gwdoctor names what the real Envoy and the real request show at each step',
    async () => {
      const k = kube();
      const sc = lane().sc;
      // 1. The Envoy runs and is in sync; no route for the host yet.
      await until('istiod to see the Envoy in sync', async () => (allAcked(await syncz()) ? true : undefined));
      expect(await envoyHasHost()).toBe(false);
      expect(await sc.request(HOST)).toMatchObject({ status: 404, server: 'istio-envoy' });
      const before = await gwdoctor(true);
      const route0 = layer(before, 'route');
      expect(route0.code, show(route0)).toBe('NoRouteForHost');
      expect(route0.summary).toContain('Envoy answers 404');
      expect(layer(before, 'dataplane').facts.skipped).toMatchObject({ reason: 'stopped', after: 'route' });

      // 2. The Envoy cut off from istiod, then the route created.
      await relay!.cut();
      await until('the Envoy to see its xDS stream down', async () =>
        (await connectedState()) === 0 ? true : undefined,
      );
      await until('istiod to drop the proxy', async () => ((await syncz()) === undefined ? true : undefined));
      const route: Obj = {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'late', namespace: GW_NS },
        spec: {
          hostnames: [HOST],
          parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: GW }],
          rules: [
            {
              backendRefs: [{ group: '', kind: 'Service', name: 'example-api', namespace: 'example-api', port: 3000 }],
              matches: [{ path: { type: 'PathPrefix', value: '/' } }],
            },
          ],
        },
      };
      const created = await k.create(route);
      try {
        // istiod's status on the route: every condition green (what `kubectl get httproute` shows the user).
        const conds = await until('istiod to write Accepted and ResolvedRefs on the route', async () => {
          const r = await k.raw('GET', `/apis/gateway.networking.k8s.io/v1/namespaces/${GW_NS}/httproutes/late`);
          const c =
            (r.json as { status?: { parents?: { conditions?: { type: string; status: string }[] }[] } }).status
              ?.parents?.[0]?.conditions ?? [];
          const st = (t: string) => c.find((x) => x.type === t)?.status;
          return st('Accepted') === 'True' && st('ResolvedRefs') === 'True' ? c : undefined;
        });
        process.stderr.write(
          `[late-route] route status while the Envoy is cut off: ${conds.map((c) => `${c.type}=${c.status}`).join(', ')}\n`,
        );
        // The real Envoy: still no virtual host for the host, and the real request still 404.
        expect(await connectedState()).toBe(0);
        expect(await envoyHasHost()).toBe(false);
        expect(await sc.request(HOST)).toMatchObject({ status: 404, server: 'istio-envoy' });
        // gwdoctor with istiod's view: the route layer passes; the dataplane layer: the Pod is not connected to
        // istiod, and the Envoy's own view (no virtual host, stream down) is its evidence.
        const cut = await gwdoctor(true);
        expect(layer(cut, 'route').status, show(layer(cut, 'route'))).toBe('pass');
        const dp = layer(cut, 'dataplane');
        expect(dp.code, show(dp)).toBe('GatewayProxyNotConnected');
        expect(dp.summary).toContain(e().proxyId);
        const lines = dp.evidence.map((x) => x.detail).join('\n');
        expect(lines).toContain(`has no virtual host for ${HOST}`);
        expect(lines).toContain('Envoy answers 404');
        expect(lines).toContain('its xDS stream to istiod is down');
        expect(dp.facts.dataplane?.proxies[0]).toMatchObject({ proxyId: e().proxyId, connected: false });
        expect(dp.facts.dataplane?.envoy?.pods[0]).toMatchObject({ match: 'no-virtual-host', connected: false });
        // Without istiod's view (the read-only user may not port-forward to istiod): the Envoy's own view is the finding.
        const own = layer(await gwdoctor(false), 'dataplane');
        expect(own.code, show(own)).toBe('EnvoyRouteMissing');
        expect(own.summary).toContain(`has no virtual host for ${HOST}`);
        expect(own.summary).toContain('Its xDS stream to istiod is down');
        expect(own.summary).toContain(
          `HTTPRoute ${GW_NS}/late rules[0] (Envoy route ${GW_NS}.late.0) -> ${API_CLUSTER}`,
        );

        // 3. The stream back: istiod pushes, the Envoy acknowledges and serves the route.
        const back = Date.now();
        await relay!.open();
        await until('the Envoy to have the route, and istiod to see it acknowledged', async () =>
          (await envoyHasHost()) && (await connectedState()) === 1 && allAcked(await syncz()) ? true : undefined,
        );
        process.stderr.write(`[late-route] stream back -> route served and acked: ${Date.now() - back} ms\n`);
        const real = await sc.request(HOST);
        expect(real).toMatchObject({ status: 200, backend: expect.stringMatching(/^example-api\//) });
        const after = await gwdoctor(true);
        const dp2 = layer(after, 'dataplane');
        expect(dp2.status, show(dp2)).toBe('pass');
        expect(dp2.facts.dataplane?.envoy?.pods[0]).toMatchObject({
          match: 'route',
          connected: true,
          route: `${GW_NS}.late.0`,
          clusters: [{ name: API_CLUSTER, hosts: [expect.objectContaining({ health: ['healthy'] })] }],
        });
        expect(dp2.facts.dataplane?.proxies[0]).toMatchObject({ connected: true, route: { kind: 'route' } });
      } finally {
        await k.delete(created);
      }
    },
  );
});
