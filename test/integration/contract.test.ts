// The contract, with real istiod as the judge. For every fixture scenario and target:
//   gwdoctor's offline prediction (the fixture's manifests with every Gateway API status stripped)
//   == gwdoctor's live verdict against a real kube-apiserver where real istiod wrote the status
//   == the layer and code in the fixture's expect.json.
// The harness creates the objects without status and without what Istio generates (gateway Service/Deployment/Pods),
// plays kubelet for the Pods, and waits until istiod's status is current. Network layers are off throughout.
//
// A few scenarios show status istiod cannot produce (a controller that lags behind the spec, status that contradicts
// it): they run on a second API server that no controller watches, with the fixture's hand-written status.

import { appendFileSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { LiveCluster } from '../../src/cluster/live.js';
import { loadManifests, ManifestCluster } from '../../src/cluster/manifests.js';
import type { K8sObject } from '../../src/cluster/objects.js';
import { Kube } from './harness/kube.js';
import { applyScenario, type Applied } from './harness/apply.js';
import { configz, programmedRoute } from './harness/configz.js';
import { clusterUpstream, configDump, connectGatewayProxy, rbacPolicies } from './harness/xds.js';
import { crdDocs, installCrds, startExtraApiServer } from './harness/controlplane.js';
import { envoyLane, istiod, itIstiod, itLive, live, liveCluster } from './live.js';
import { serviceAccountToken, type EnvoyLane, type LaneScenario } from './harness/envoy.js';
import { classifierOnReal, judgeGrpc, judgeReal, networkedSame, type GrpcRow, type RealRow } from './real-answers.js';
import { startFront, type Front, type FrontScenario } from './harness/front.js';
import { requireBins } from '../helpers/net/bins.js';
import type { Upstream } from './harness/envoy.js';
import {
  expected as expectedOf,
  gatewayEnv,
  outcome,
  runOnCluster,
  runScenario,
  scenarios,
  type ExpectCase,
} from '../helpers/fixtures.js';
import { HAND_WRITTEN, KNOWN_DISAGREEMENTS, type Known } from '../helpers/istiod-scenarios.js';

const admin = live ? new Kube(live.server, readFileSync(live.caFile), 'admin-token') : null;

const GW_API = /^gateway\.networking\.k8s\.io\//;

/** The fixture as committed before any controller ran: no Gateway API status. */
function withoutStatus(objects: K8sObject[]): K8sObject[] {
  return objects.map((o) => {
    if (!GW_API.test(o.apiVersion)) return o;
    const c = structuredClone(o) as K8sObject & { status?: unknown };
    delete c.status;
    return c;
  });
}

async function predictedReport(
  dir: string,
  target: string,
  gateway?: string,
): Promise<Awaited<ReturnType<typeof runOnCluster>>> {
  return runOnCluster(new ManifestCluster(withoutStatus(loadManifests([dir])), [dir]), target, gatewayEnv(gateway));
}

async function predicted(dir: string, target: string, gateway?: string): Promise<ExpectCase> {
  return outcome(await predictedReport(dir, target, gateway));
}

/**
 * A Gateway that accepts the host on several ports: the route layer's facts say what each port answers (the rule and
 * its backends). Each must be what istiod generated for that listener.
 */
function portAnswers(
  report: Awaited<ReturnType<typeof runOnCluster>>,
): { gateway: string; port: number; listener: string; route: string | null; backends: string[] }[] {
  const ports = report.layers.find((l) => l.id === 'route')?.facts.ports ?? [];
  return ports.map((p) => ({
    gateway: `${p.gateway.namespace}/${p.gateway.name}`,
    port: p.port,
    listener: p.listener,
    route: p.route?.kind === 'HTTPRoute' ? `${p.route.namespace}.${p.route.name}.${p.rule}` : null,
    backends: p.backends.filter((x) => (x.kind === 'Service' || x.kind === 'Hostname') && x.port !== null).map(svcHost),
  }));
}

/** istiod's name for a Service port: name.namespace.svc.cluster.local:port. */
/** istiod's name for a Service port: name.namespace.svc.cluster.local:port; a Hostname backend (a ServiceEntry's host) is the host itself. */
const svcHost = (x: { kind?: string; namespace?: string; name: string; port: number | null }) =>
  x.kind === 'Hostname' ? `${x.name}:${x.port}` : `${x.name}.${x.namespace}.svc.cluster.local:${x.port}`;

/** What istiod wrote, for a failure message (and the disagreement log). */
async function istiodStatus(kube: Kube, dir: string): Promise<string> {
  const lines: string[] = [];
  for (const o of loadManifests([dir], { keep: 'all' }).filter((x) =>
    ['Gateway', 'HTTPRoute', 'GRPCRoute', 'TLSRoute', 'ListenerSet'].includes(x.kind),
  )) {
    const r = await kube.raw('GET', kube.path(o as never));
    const st = (r.json as { status?: unknown; metadata?: { generation?: number } }) ?? {};
    lines.push(
      `${o.kind} ${o.metadata.namespace}/${o.metadata.name} (generation ${st.metadata?.generation}): ${JSON.stringify(st.status ?? null)}`,
    );
  }
  return lines.join('\n');
}

const statusTimes: { scenario: string; ms: number }[] = [];
/** The third judge: a real Envoy configured by the same istiod (harness/envoy.ts), one lane for the whole file. */
let lanePromise: Promise<EnvoyLane | null> | undefined;
const realRows: RealRow[] = [];
const grpcRows: GrpcRow[] = [];
const laneTimes: { scenario: string; ms: number }[] = [];
/** Networked cases where the proxy's answer is only what the client gets and a cluster layer names the cause. */
const explainedRows: { scenario: string; target: string; code: string }[] = [];
/**
 * The networked judge: real nginx and dnsmasq in front of the lane (harness/front.ts), gwdoctor with its dns and proxy
 * probes on; one dnsmasq and one certificate per run, one nginx per scenario.
 */
let frontPromise: Promise<Front | null> | undefined;
const bins = requireBins();
const hostOf = (t: string) => {
  const bare = t.replace(/^internal:/, '');
  return (/^https?:\/\//i.test(bare) ? new URL(bare) : new URL(`https://${bare}/`)).hostname;
};
function front(): Promise<Front | null> {
  return (frontPromise ??= bins.bins
    ? startFront(
        bins.bins,
        scenarios().flatMap((s) => s.cases.map((c) => hostOf(c.target))),
      )
    : Promise.resolve(null));
}

type MeshFacts = NonNullable<Awaited<ReturnType<typeof runOnCluster>>['layers'][number]['facts']['mesh']>;

/**
 * The Envoy RBAC policies the mesh layer's facts say reach the gateway, named as istiod names them (builder.go:
 * ns[NS]-policy[NAME]-rule[I]; a policy without rules still gets rule[0], which never matches). A CUSTOM policy with a
 * defined provider goes to ext_authz (not compared); one whose provider the mesh config lacks becomes istiod's DENY.
 */
function predictedRbac(m: MeshFacts): { enforced: string[]; shadow: string[]; custom: string[] } {
  const out = { enforced: [] as string[], shadow: [] as string[], custom: [] as string[] };
  for (const p of m.policies) {
    const names = Array.from(
      { length: Math.max(1, p.rules) },
      (_, i) => `ns[${p.policy.namespace}]-policy[${p.policy.name}]-rule[${i}]`,
    );
    if (p.action === 'CUSTOM' && p.badProvider !== null)
      out.enforced.push(
        ...names.map((n) => `DENY istio-ext-authz-${p.badProvider}-${n}-deny-due-to-bad-CUSTOM-action`),
      );
    else if (p.action === 'CUSTOM') out.custom.push(...names);
    else if (p.action !== 'AUDIT') (p.dryRun ? out.shadow : out.enforced).push(...names.map((n) => `${p.action} ${n}`));
  }
  return { enforced: out.enforced.sort(), shadow: out.shadow.sort(), custom: out.custom };
}

/** istiod's generated config for the scenario's gateway proxy, read with an ADS client connected as its Pod. */
async function gatewayDump(kube: Kube, gateway: string): Promise<unknown> {
  // The lane's real Envoy may already be connected as the gateway Pod: then istiod answers for it directly.
  const [gns, gname] = gateway.split('/') as [string, string];
  const running = (
    (await kube.list('v1', 'Pod', gns, `gateway.networking.k8s.io/gateway-name=${gname}`)) as unknown as {
      metadata: { name: string };
    }[]
  ).map((p) => `${p.metadata.name}.${gns}`);
  for (const id of running) {
    const r = await fetch(`${istiod!.httpUrl}/debug/config_dump?proxyID=${encodeURIComponent(id)}`);
    if (r.ok) return r.json();
  }
  const [ns, name] = gateway.split('/') as [string, string];
  const pods = (await kube.list('v1', 'Pod', ns, `gateway.networking.k8s.io/gateway-name=${name}`)) as unknown as {
    metadata: { name: string; labels: Record<string, string> };
    spec: { serviceAccountName?: string };
    status: { podIP?: string };
  }[];
  const pod = pods.find((p) => p.status.podIP);
  if (!pod) throw new Error(`no gateway Pod with an IP for ${gateway}`);
  const sa = pod.spec.serviceAccountName ?? 'default';
  const token = istiod!.forEnvoy ? await serviceAccountToken(kube, ns, sa) : undefined;
  const conn = await connectGatewayProxy(
    istiod!.grpcAddr,
    {
      name: pod.metadata.name,
      namespace: ns,
      ip: pod.status.podIP as string,
      serviceAccount: sa,
      labels: pod.metadata.labels,
    },
    30_000,
    token,
  );
  try {
    return await configDump(istiod!.httpUrl, conn.proxyId);
  } finally {
    conn.close();
  }
}

function istiodRbac(dump: unknown, custom: string[]): { enforced: string[]; shadow: string[] } {
  const got = rbacPolicies(dump);
  const notCustom = (x: string) => !custom.includes(x.replace(/^\S+ /, ''));
  return { enforced: got.enforced.filter(notCustom), shadow: got.shadow.filter(notCustom) };
}

/**
 * Scenarios whose gateway Envoy cannot become ready in the lane: a DestinationRule TLS mode makes istiod send the
 * cluster's certificates over SDS, which nothing serves to the lane's upstream Envoy (the cluster stays warming, the
 * listener never comes up: shared/docs/envoy-lane.md "SDS without pilot-agent"). Judged by istiod's generated config
 * (the cluster's transport socket) instead.
 */
const NO_LANE = new Set([
  'mesh-dr-simple-to-plaintext',
  'mesh-dr-simple-gateway-namespace',
  'mesh-dr-istio-mutual-outside-mesh',
  'mesh-dr-mutual-wildcard-root',
  'mesh-dr-https-backend',
  'mesh-dr-port-level-disable',
]);

describe.each(scenarios().filter((s) => !(s.name in HAND_WRITTEN)))(
  'scenario $name ($status), status written by real istiod',
  (s) => {
    let applied: Applied | undefined;
    let sc: LaneScenario | undefined;
    let fs: FrontScenario | undefined;
    const upstreams = new Map<string, Upstream | { error: string }>();
    const caseKey = (c: { target: string; gateway?: string }) => `${c.target} ${c.gateway ?? ''}`;
    const grpcScenario = loadManifests([s.dir]).some((o) => o.kind === 'GRPCRoute');
    beforeAll(async () => {
      if (admin && istiod) {
        const lane = NO_LANE.has(s.name) ? null : await (lanePromise ??= envoyLane());
        applied = await applyScenario(admin, s.dir, { status: 'istiod', ...(lane ? { lane } : {}) });
        if (lane) {
          const t = Date.now();
          sc = await lane.start(applied.namespaces);
          laneTimes.push({ scenario: s.name, ms: Date.now() - t });
          const f = await front();
          if (f) {
            for (const c of s.cases)
              upstreams.set(
                caseKey(c),
                await sc.upstream(c.target, c.gateway !== undefined ? { gateway: c.gateway } : {}),
              );
            fs = await f.scenario([...upstreams.values()].filter((u): u is Upstream => !('error' in u)));
          }
        }
        if (applied.statusMs !== undefined) statusTimes.push({ scenario: s.name, ms: applied.statusMs });
        // GWDOCTOR_ISTIOD_STATUS_DUMP=<file>: append what istiod wrote for every scenario (to study a disagreement).
        const dump = process.env['GWDOCTOR_ISTIOD_STATUS_DUMP'];
        if (dump) appendFileSync(dump, `## ${s.name}\n${await istiodStatus(admin, s.dir)}\n\n`);
      }
    }, 120_000);
    afterAll(async () => {
      await fs?.stop();
      await sc?.stop();
      await applied?.cleanup();
    }, 120_000);

    const cases = s.cases.map((c) => ({ ...c, known: KNOWN_DISAGREEMENTS[s.name]?.[c.target] }));
    itIstiod.each(
      cases
        .filter((c) => !c.known)
        .map((c) => ({ ...c, name: c.gateway ? `${c.target} --gateway ${c.gateway}` : c.target })),
    )("$name: prediction from the manifests == live verdict on istiod's status == $layer/$code", async (c) => {
      const expected: ExpectCase = expectedOf(c);
      const predictedLayers = (await predictedReport(s.dir, c.target, c.gateway)).layers;
      const fromManifests = await predicted(s.dir, c.target, c.gateway);
      const report = await runOnCluster(await liveCluster('readonly'), c.target, gatewayEnv(c.gateway));
      const fromLive = outcome(report);
      // The real request through the gateway Envoy istiod configured: recorded for every case, judged below.
      const real = sc ? await sc.request(c.target, c.gateway !== undefined ? { gateway: c.gateway } : {}) : undefined;
      if (real)
        realRows.push({
          scenario: s.name,
          target: c.target,
          verdict: fromLive.verdict,
          layer: fromLive.layer,
          code: fromLive.code,
          real,
        });
      // An internal host (`internal:HOST`) is a host like any other for what istiod generated.
      const bare = c.target.replace(/^internal:/, '');
      const url = /^https:\/\//i.test(bare) ? new URL(bare) : new URL(`https://${bare}/`);
      for (const p of portAnswers(report)) {
        // Per port, the rule and backend gwdoctor names (or that nothing serves the host) are what istiod generated.
        const got = programmedRoute(
          await configz(istiod!.httpUrl),
          p.gateway,
          url.hostname.toLowerCase(),
          url.pathname,
          p.listener,
        );
        expect(
          { port: p.port, route: got?.route ?? null, backend: got?.destinations ?? [] },
          `istiod's routes for port ${p.port}`,
        ).toEqual({
          port: p.port,
          route: p.route,
          backend: p.backends.length ? expect.arrayContaining(p.backends) : [],
        });
      }
      if (fromLive.verdict === 'pass') {
        // The virtual host, rule and backend gwdoctor says will serve the request are the ones istiod generated.
        const facts = (id: string) => report.layers.find((l) => l.id === id)?.facts ?? {};
        const r = facts('route').route;
        const g = facts('listener').listeners?.[0]?.gateway;
        const gw = `${g?.namespace}/${g?.name}`;
        // The listener the route is attached to (with several ports, each listener has its own routes in istiod).
        const listener = r?.listener;
        const svc = facts('endpoints').backends?.find((x) => x.kind === 'Service' || x.kind === 'Hostname');
        const got = programmedRoute(
          await configz(istiod!.httpUrl),
          gw,
          url.hostname.toLowerCase(),
          url.pathname,
          listener,
        );
        const redirect = r?.redirect ?? null;
        expect(
          { route: got?.route, backend: got?.destinations },
          `gwdoctor's facts: ${JSON.stringify(r)} / ${JSON.stringify(svc)}`,
        ).toEqual({
          route: r ? `${r.route.namespace}.${r.route.name}.${r.rule}` : 'a rule gwdoctor named',
          // A redirect rule has no destination: istiod programs the redirect instead (createRedirectFilter).
          backend: redirect ? [] : expect.arrayContaining([svc ? svcHost(svc) : 'a Service gwdoctor named']),
        });
        if (redirect) {
          expect(got?.redirect, 'istiod programs the redirect gwdoctor predicted').toMatchObject({
            redirectCode: redirect.statusCode,
            scheme: redirect.scheme,
          });
        }
      }
      if (fromLive.code === 'RouteNoMatchingRule') {
        // Envoy gets no route for this path either: the virtual host istiod generated has no entry that fits GET <path>.
        const g = report.layers.find((l) => l.id === 'listener')?.facts.listeners?.[0]?.gateway;
        const gw = `${g?.namespace}/${g?.name}`;
        const url = /^https:\/\//i.test(bare) ? new URL(bare) : new URL(`https://${bare}/`);
        const got = programmedRoute(await configz(istiod!.httpUrl), gw, url.hostname.toLowerCase(), url.pathname);
        expect(
          got && { vhost: got.vhost, route: got.route },
          'istiod programs a virtual host for the host with no route for the path',
        ).toMatchObject({ route: undefined });
      }
      if (fromLive.code === 'RouteNotAccepted' && report.layers.find((l) => l.id === 'route')?.facts.dropped) {
        // A route gwdoctor says Istio drops as a whole (a Service named by its hostname, a filter type Istio does not
        // implement): istiod generated no route for GET <path> on this host.
        const g = report.layers.find((l) => l.id === 'listener')?.facts.listeners?.[0]?.gateway;
        const gw = `${g?.namespace}/${g?.name}`;
        const got = programmedRoute(await configz(istiod!.httpUrl), gw, url.hostname.toLowerCase(), url.pathname);
        expect(got?.route, 'istiod programs no route of the dropped route for the request').toBeUndefined();
      }
      const meshFacts = report.layers.find((l) => l.id === 'mesh')?.facts.mesh;
      const meshKinds = new Set(
        loadManifests([s.dir])
          .map((o) => o.kind)
          .filter((k) => ['AuthorizationPolicy', 'PeerAuthentication', 'DestinationRule'].includes(k)),
      );
      if (meshFacts && meshKinds.size > 0) {
        const dump = await gatewayDump(admin!, `${meshFacts.gateway.namespace}/${meshFacts.gateway.name}`);
        const said = `gwdoctor's mesh facts: ${JSON.stringify(meshFacts)}`;
        // The policies gwdoctor says reach the gateway are exactly the RBAC policies istiod generates for its proxy.
        const { custom, ...want } = predictedRbac(meshFacts);
        expect(istiodRbac(dump, custom), said).toEqual(want);
        // How gwdoctor says the gateway connects to each backend is how istiod's cluster for it connects.
        if (meshKinds.has('DestinationRule') || meshKinds.has('PeerAuthentication'))
          expect(meshFacts.upstreams.length, said).toBeGreaterThan(0);
        for (const u of meshFacts.upstreams) {
          const cluster = `outbound|${u.port}||${u.service.name}.${u.service.namespace}.svc.cluster.local`;
          // The lane's istiod runs with enableAutoMtls: false (harness/istiod.ts): no automatic mTLS, plaintext instead.
          const kind = u.kind === 'auto' && istiod!.forEnvoy ? 'plaintext' : u.kind;
          expect({ cluster, kind: clusterUpstream(dump, cluster) }, said).toEqual({ cluster, kind });
        }
      }
      // The verdicts against the expectation, with what istiod wrote as the message: read (a GET per object) only
      // when a check fails, and then the same checks run again with it.
      const decide = (context: string) => {
        if (c.live) {
          // The manifests cannot know what the cluster knows (e.g. Namespace labels): the prediction says so, and the
          // live verdict on istiod's status is the decided outcome.
          expect({ predicted: fromManifests, live: fromLive }, context).toEqual({
            predicted: expected,
            live: { target: c.target, ...c.live },
          });
        } else if (
          s.status === 'pre-sync' &&
          predictedLayers.find((l) => l.id === 'endpoints')?.code === 'EndpointsUnknown'
        ) {
          // Manifests from git cannot know readiness; the live cluster knows there are no app Pods. Every layer before
          // endpoints says the same in both (e.g. a warning at route).
          expect(fromManifests, context).toEqual(expected);
          expect(fromLive, context).toMatchObject({ verdict: 'fail', layer: 'endpoints', code: 'NoPodsSelected' });
          // The layers before endpoints (mesh, after it, is skipped live once endpoints fails).
          const upTo = (ls: typeof predictedLayers) =>
            ls
              .slice(
                0,
                ls.findIndex((l) => l.id === 'endpoints'),
              )
              .map((l) => [l.id, l.status, l.code]);
          expect(upTo(report.layers), context).toEqual(upTo(predictedLayers));
        } else {
          expect({ predicted: fromManifests, live: fromLive }, context).toEqual({
            predicted: expected,
            live: expected,
          });
        }
      };
      try {
        decide('');
      } catch {
        decide(`istiod's status:\n${await istiodStatus(admin!, s.dir)}`);
      }
      if (real && sc) {
        // Third judge: gwdoctor's verdict agrees with what the real Envoy answered (real-answers.ts).
        const j = judgeReal(s.name, c.target, report, fromLive, real, sc);
        expect(j.ok, `${j.why}\nreal answer: ${JSON.stringify(real)}\nbackends: ${JSON.stringify(sc.backends)}`).toBe(
          true,
        );
        // gwdoctor's classifier of gateway answers, on this real one (the unit tests feed it hand-written shapes).
        const k = classifierOnReal(real, c.target);
        expect(k.ok, `${k.why}\nreal answer: ${JSON.stringify(real)}`).toBe(true);
      }
      if (real && sc && grpcScenario) {
        // A real gRPC call for the same host and path (GRPCRoute scenarios): what Envoy does with a gRPC request.
        const g = await sc.grpc(c.target, c.gateway !== undefined ? { gateway: c.gateway } : {});
        grpcRows.push({
          scenario: s.name,
          target: c.target,
          verdict: fromLive.verdict,
          layer: fromLive.layer,
          code: fromLive.code,
          grpc: g,
        });
        const j = judgeGrpc(s.name, c.target, report, fromLive, g, sc);
        expect(
          j.ok,
          `gRPC: gwdoctor ${fromLive.verdict} ${fromLive.layer}/${fromLive.code}: ${j.why}\ngRPC answer: ${JSON.stringify(g)}\nbackends: ${JSON.stringify(sc.backends)}`,
        ).toBe(true);
      }
      const u = upstreams.get(caseKey(c));
      if (real && sc && fs && u && !('error' in u)) {
        // The networked judge: gwdoctor with its dns and proxy probes on, through real dnsmasq and nginx; the same request
        // sent through that nginx. A pass <=> the expected backend answered through nginx; a failing code <=> that answer.
        const netReport = await runOnCluster(await liveCluster('readonly'), c.target, {
          ...gatewayEnv(c.gateway),
          ...fs.env(u),
        });
        const net = outcome(netReport);
        const viaNginx = await fs.request(u);
        realRows.push({
          scenario: s.name,
          target: c.target,
          verdict: net.verdict,
          layer: net.layer,
          code: net.code,
          real: viaNginx,
          via: 'nginx',
          offline: fromLive,
        });
        const same = networkedSame(fromLive, net);
        expect(same.ok, same.why).toBe(true);
        // A proxy answer that only shows what the client gets (nginx's 502, a reset handshake) and is explained by the
        // cluster layer that is the verdict: the proxy finding passes and names that layer and code (src/pipeline.ts).
        const px = netReport.layers.find((l) => l.id === 'proxy');
        if (px?.facts.explainedBy) {
          expect(px.status).toBe('pass');
          expect(px.facts.explainedBy).toEqual({ layer: net.layer, code: net.code });
          explainedRows.push({ scenario: s.name, target: c.target, code: `${net.layer}/${net.code}` });
        }
        const j = judgeReal(s.name, c.target, netReport, net, viaNginx, sc, 'nginx');
        expect(
          j.ok,
          `networked, through nginx: gwdoctor ${net.verdict} ${net.layer}/${net.code} (offline ${fromLive.verdict} ${fromLive.layer}/${fromLive.code}): ${j.why}\nthrough nginx: ${JSON.stringify(viaNginx)}\nstraight: ${JSON.stringify(real)}\nnginx error log: ${fs.errorLog().slice(-1500)}`,
        ).toBe(true);
      }
    });

    itIstiod.each(cases.filter((c) => c.known))(
      '$target: KNOWN DISAGREEMENT with istiod, expected $layer/$code: $known.why',
      async (c) => {
        const k = c.known as Known;
        const expected: ExpectCase = { target: c.target, verdict: c.verdict, layer: c.layer, code: c.code };
        const fromManifests = await predicted(s.dir, c.target);
        const fromLive = outcome(await runOnCluster(await liveCluster('readonly'), c.target));
        const context = `istiod's status:\n${await istiodStatus(admin!, s.dir)}`;
        const wrong = { target: c.target, ...k.got };
        expect({ predicted: fromManifests, live: fromLive }, context).toEqual({
          predicted: k.side !== 'live' ? wrong : expected,
          live: k.side !== 'predicted' ? wrong : expected,
        });
      },
    );
  },
);

describe('scenarios whose status istiod cannot produce: hand-written status on an API server no controller watches', () => {
  let kube: Kube | undefined;
  let kubeconfig = '';
  let stop: (() => void) | undefined;
  beforeAll(async () => {
    if (!live) return;
    ({ kube, kubeconfig, stop } = await startExtraApiServer(live, 'hand'));
    await installCrds(kube, [...crdDocs(live.crds, 'gateway-api'), ...crdDocs(live.crds, 'istio')]);
  }, 180_000);
  afterAll(() => stop?.());

  describe.each(scenarios().filter((s) => s.name in HAND_WRITTEN))('scenario $name (hand-written status)', (s) => {
    let applied: Applied | undefined;
    beforeAll(async () => {
      if (kube) applied = await applyScenario(kube, s.dir, { status: 'fixture' });
    }, 120_000);
    afterAll(async () => {
      await applied?.cleanup();
    }, 120_000);

    itLive.each(s.cases)(
      `$target: live verdict == manifests verdict == $layer/$code (${HAND_WRITTEN[s.name]})`,
      async (c) => {
        const fromManifests = outcome(await runScenario(s.dir, c.target));
        const report = await runOnCluster(
          await LiveCluster.create({ ok: true, kind: 'files', files: [kubeconfig] }, null),
          c.target,
        );
        expect(outcome(report)).toEqual(fromManifests);
        expect(fromManifests).toEqual({ target: c.target, verdict: c.verdict, layer: c.layer, code: c.code });
        // Layer by layer, the same objects are named as evidence and the same facts established (generations, which
        // may differ, are in neither).
        // One difference is by design (README, mesh layer): manifests that hold no Istio policy objects leave the mesh
        // layer "not checked", while the API server, which serves those kinds, answers with an empty list: checked, no
        // policy on the path. Everything else, mesh included when the manifests do hold policies, must be identical.
        const offline = await runScenario(s.dir, c.target);
        const noMeshObjects = offline.layers.find((l) => l.id === 'mesh')?.facts?.skipped?.reason === 'no-mesh-objects';
        if (noMeshObjects) {
          const liveMesh = report.layers.find((l) => l.id === 'mesh');
          expect(liveMesh?.status).toBe('pass');
          expect(liveMesh?.facts?.mesh?.policies).toEqual([]);
        }
        const shape = (r: typeof report) =>
          // The data plane layer is live only (manifests: not checked, 'not-live'); its live judge is dataplane.test.ts.
          r.layers
            .filter((l) => !(noMeshObjects && l.id === 'mesh') && l.id !== 'dataplane')
            .map((l) => [l.id, l.status, l.code, l.evidence.map((e) => e.ref).sort(), l.facts]);
        expect(shape(report)).toEqual(shape(offline));
      },
    );
  });
});

afterAll(async () => {
  const f = await frontPromise;
  if (f) {
    const ms = [...f.nginxMs].sort((a, b) => a - b);
    if (ms.length)
      process.stderr.write(
        `[front] nginx up for ${ms.length} scenarios: median ${ms[Math.floor(ms.length / 2)]} ms, max ${ms[ms.length - 1]} ms, total ${ms.reduce((a, b) => a + b, 0)} ms\n`,
      );
    await f.stop();
  }
  if (explainedRows.length) {
    const by = new Map<string, number>();
    for (const r of explainedRows) by.set(r.code, (by.get(r.code) ?? 0) + 1);
    process.stderr.write(
      `[front] the proxy's answer explained by a cluster layer in ${explainedRows.length} cases: ${[...by].map(([k, n]) => `${k} ${n}`).join(', ')}
`,
    );
  }
  // GWDOCTOR_ENVOY_ANSWERS=<file>: every case's real answer next to gwdoctor's verdict (the README table's source).
  const out = process.env['GWDOCTOR_ENVOY_ANSWERS'];
  if (out && realRows.length)
    appendFileSync(out, `${[...realRows, ...grpcRows].map((r) => JSON.stringify(r)).join('\n')}\n`);
  if (laneTimes.length) {
    const ms = laneTimes.map((t) => t.ms).sort((a, b) => a - b);
    process.stderr.write(
      `[envoy] data plane up for ${ms.length} scenarios: median ${ms[Math.floor(ms.length / 2)]} ms, max ${ms[ms.length - 1]} ms; ${realRows.length} real requests\n`,
    );
  }
  if (statusTimes.length === 0) return;
  const ms = statusTimes.map((t) => t.ms).sort((a, b) => a - b);
  process.stderr.write(
    `[istiod] status settled for ${ms.length} scenarios: median ${ms[Math.floor(ms.length / 2)]} ms, max ${ms[ms.length - 1]} ms (${statusTimes.find((t) => t.ms === ms[ms.length - 1])?.scenario})\n`,
  );
});
