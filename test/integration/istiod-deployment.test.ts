// Istio's automated deployment, for real: istiod turns the seed's Gateway into a Deployment and a NodePort Service
// (nodePort 32080 from the Gateway's infrastructure.parametersRef ConfigMap), the controller-manager turns the
// Deployment into a Pod, the harness plays its kubelet, and istiod reports Programmed=True. gwdoctor's direct NodePort
// lookup (Gateway -> Service labelled gateway.networking.k8s.io/gateway-name -> nodePort) is checked against the
// Service istiod itself created.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { planDirect } from '../../src/net/direct.js';
import { PathResolver } from '../../src/gatewayapi/resolver.js';
import { parseTarget } from '../../src/target.js';
import { configz, programmedRoute } from './harness/configz.js';
import { Kube, type Obj } from './harness/kube.js';
import { itIstiod, istiod, live, liveCluster, scenarioUnderIstiod } from './live.js';

const admin = live ? new Kube(live.server, readFileSync(live.caFile), 'admin-token') : null;
const GW = 'example-istio-gateway';
const NS = 'istio-ingress';
const LABEL = `gateway.networking.k8s.io/gateway-name=${GW}`;

interface Svc extends Obj {
  spec: { type: string; ports: { name: string; port: number; nodePort?: number }[] };
}

describe('the seed Gateway deployed by istiod (networking.istio.io/service-type + infrastructure.parametersRef)', () => {
  scenarioUnderIstiod('seed-healthy');

  itIstiod('istiod creates the Deployment and a NodePort Service 80:32080 owned by the Gateway', async () => {
    const gw = (await admin!.get(`/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/gateways/${GW}`)) as Obj;
    const deps = await admin!.list('apps/v1', 'Deployment', NS, LABEL);
    expect(deps.map((d) => d.metadata.name)).toEqual([`${GW}-istio`]);
    const svcs = (await admin!.list('v1', 'Service', NS, LABEL)) as Svc[];
    expect(svcs.map((s) => s.metadata.name)).toEqual([`${GW}-istio`]);
    const svc = svcs[0] as Svc;
    expect(svc.spec.type).toBe('NodePort');
    expect(svc.spec.ports.find((p) => p.port === 80)?.nodePort).toBe(32080);
    expect(svc.metadata['ownerReferences']).toEqual([
      expect.objectContaining({ kind: 'Gateway', name: GW, uid: gw.metadata['uid'] }),
    ]);
    // Written by istiod's deployment controller (server-side apply), not by the harness.
    const managers = ((svc.metadata['managedFields'] ?? []) as { manager: string }[]).map((m) => m.manager);
    expect(managers).toContain('istio.io/gateway-controller');
  });

  itIstiod(
    "the Deployment's Pod, made Ready by the harness's kubelet stand-in, makes istiod report Programmed=True",
    async () => {
      const pods = await admin!.list('v1', 'Pod', NS, LABEL);
      expect(pods).toHaveLength(1);
      const owner = (pods[0]?.metadata['ownerReferences'] as { kind: string }[] | undefined)?.[0];
      expect(owner?.kind).toBe('ReplicaSet');
      const gw = (await admin!.get(`/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/gateways/${GW}`)) as Obj & {
        status: {
          addresses?: { type: string; value: string }[];
          conditions: { type: string; status: string; message: string }[];
        };
      };
      const programmed = gw.status.conditions.find((c) => c.type === 'Programmed');
      expect(programmed).toMatchObject({
        status: 'True',
        message: `Resource programmed, assigned to service(s) ${GW}-istio.${NS}.svc.cluster.local:80`,
      });
      expect(gw.status.addresses).toEqual([{ type: 'Hostname', value: `${GW}-istio.${NS}.svc.cluster.local` }]);
    },
  );

  itIstiod("gwdoctor's direct NodePort lookup finds nodePort 32080 on the Service istiod created", async () => {
    const plan = await planDirect(
      new PathResolver(await liveCluster('readonly'), parseTarget('api.example.com'), null),
    );
    expect(plan).toEqual({
      ok: true,
      otherPorts: [],
      pinned: null,
      targets: [
        {
          gateway: `${NS}/${GW}`,
          listener: 'http',
          protocol: 'HTTP',
          service: `${NS}/${GW}-istio`,
          servicePort: 80,
          nodePort: 32080,
          node: 'node-1',
          address: '192.168.1.10',
          sniNames: [],
        },
      ],
      // What the every-node probe works from: the Nodes' InternalIPs, and the Service istiod created (the API
      // server's default traffic policy, istiod's selector on the gateway name).
      survey: {
        nodes: [{ node: 'node-1', address: '192.168.1.10' }],
        externalTrafficPolicy: 'Cluster',
        namespace: NS,
        selector: { 'gateway.networking.k8s.io/gateway-name': GW },
      },
    });
  });
});

describe('a Gateway with only the networking.istio.io/service-type annotation', () => {
  const ns = `nodeport-annotation-${process.pid}`;
  const gwName = 'annotated';
  let gwObj: Obj | undefined;
  let firstStatusMs: number | undefined;
  beforeAll(async () => {
    if (!admin || !istiod) return;
    await admin.ensure({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    gwObj = await admin.create({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: gwName, namespace: ns, annotations: { 'networking.istio.io/service-type': 'NodePort' } },
      spec: {
        gatewayClassName: 'istio',
        listeners: [{ name: 'http', hostname: '*.annotated.example', port: 8080, protocol: 'HTTP' }],
      },
    });
    const created = Date.now();
    for (let i = 0; i < 500 && firstStatusMs === undefined; i++) {
      const g = (await admin.get(admin.path(gwObj))) as {
        status?: { conditions?: { type: string; status: string; observedGeneration?: number }[] };
      };
      if (g.status?.conditions?.some((c) => c.type === 'Accepted' && c.status === 'True' && c.observedGeneration === 1))
        firstStatusMs = Date.now() - created;
      else await new Promise((r) => setTimeout(r, 20));
    }
    process.stderr.write(`[istiod] first status on a new Gateway after ${firstStatusMs} ms\n`);
  }, 60_000);
  afterAll(async () => {
    if (!admin || !gwObj) return;
    await admin.delete(gwObj);
    for (let i = 0; i < 50; i++) {
      const left = [
        ...(await admin.list('apps/v1', 'Deployment', ns)),
        ...(await admin.list('v1', 'Service', ns)),
        ...(await admin.list('v1', 'Pod', ns)),
      ];
      if (left.length === 0) break;
      for (const o of left) await admin.delete(o);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 60_000);

  itIstiod('istiod accepts it within seconds (polled every 20 ms)', () => {
    expect(firstStatusMs).toBeLessThan(10_000);
  });

  itIstiod(
    "istiod makes its Service a NodePort with an allocated nodePort, and gwdoctor's lookup finds that one",
    async () => {
      let svc: Svc | undefined;
      for (let i = 0; i < 100 && !svc; i++) {
        svc = (
          (await admin!.list('v1', 'Service', ns, `gateway.networking.k8s.io/gateway-name=${gwName}`)) as Svc[]
        )[0];
        if (!svc) await new Promise((r) => setTimeout(r, 100));
      }
      expect(svc?.metadata.name).toBe(`${gwName}-istio`);
      expect(svc?.spec.type).toBe('NodePort');
      const nodePort = svc?.spec.ports.find((p) => p.port === 8080)?.nodePort as number;
      expect(nodePort).toBeGreaterThanOrEqual(30000);
      expect(nodePort).toBeLessThanOrEqual(32767);
      const plan = await planDirect(
        new PathResolver(await liveCluster('readonly'), parseTarget('x.annotated.example'), {
          namespace: ns,
          name: gwName,
        }),
      );
      expect(plan.ok && plan.targets.map((t) => [t.service, t.servicePort, t.nodePort])).toEqual([
        [`${ns}/${gwName}-istio`, 8080, nodePort],
      ]);
      // --gateway NS/NAME:<that nodePort>: mapped to the listener port 8080 through the Service istiod generated.
      const pinned = await planDirect(
        new PathResolver(await liveCluster('readonly'), parseTarget('x.annotated.example'), {
          namespace: ns,
          name: gwName,
          port: nodePort,
        }),
      );
      expect(pinned).toMatchObject({
        ok: true,
        pinned: `${nodePort} is the nodePort of Service ${ns}/${gwName}-istio port 8080`,
        targets: [{ servicePort: 8080, nodePort }],
      });
    },
  );
});

describe('an HTTPS listener without tls (fixture listener-https-no-tls-presync)', () => {
  scenarioUnderIstiod('listener-https-no-tls-presync');

  itIstiod(
    'istiod reports the listener Accepted and Programmed, yet generates no server and no route for it',
    async () => {
      const gw = (await admin!.get(`/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/gateways/${GW}`)) as Obj & {
        status: {
          listeners: { name: string; attachedRoutes: number; conditions: { type: string; status: string }[] }[];
        };
      };
      const l = gw.status.listeners.find((x) => x.name === 'https');
      expect(
        l?.conditions.filter((c) => c.type === 'Accepted' || c.type === 'Programmed').map((c) => c.status),
      ).toEqual(['True', 'True']);
      expect(l?.attachedRoutes).toBe(0);
      // istio pilot/pkg/config/kube/gateway/conversion.go buildListener: "protocol is HTTPS but no TLS section is
      // defined, skipping listener creation" (server = nil; the error conditions are set only for ListenerSets).
      const objs = await configz(istiod!.httpUrl);
      const generated = objs.filter(
        (o) =>
          (o.kind === 'Gateway' || o.kind === 'VirtualService') &&
          o.metadata.name.includes(`${GW}~istio-autogenerated`),
      );
      expect(generated).toEqual([]);
      expect(programmedRoute(objs, `${NS}/${GW}`, 'api.example.com', '/')).toBeNull();
    },
  );
});
