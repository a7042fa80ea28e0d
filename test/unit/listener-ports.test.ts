// The listener port the client reaches (issue 8 item 5): a Gateway with HTTP listeners on 80 and 8080 for the same
// host serves each port on its own (istio gateway_collection.go: one Istio Gateway per listener; networking/core
// gateway.go: one route configuration "http.<port>" per port). gwdoctor judges the port the proxy forwards to.

import { describe, expect, it } from 'vitest';
import { loadManifests, ManifestCluster } from '../../src/cluster/manifests.js';
import type { K8sObject, Service } from '../../src/cluster/objects.js';
import { choosePort } from '../../src/gatewayapi/ports.js';
import { parseGatewayRef } from '../../src/target.js';
import { kubectlArgs } from '../../src/kubectl-args.js';
import { gatewayEnv, runOnCluster, runScenario, scenarioDir } from '../helpers/fixtures.js';

const dir = scenarioDir('listener-ports');
const GW = 'istio-ingress/example-istio-gateway';
const route = (r: Awaited<ReturnType<typeof runScenario>>) => r.layers.find((l) => l.id === 'route');

describe('--gateway NS/NAME[:PORT]', () => {
  it.each([
    ['istio-ingress/example-istio-gateway', { namespace: 'istio-ingress', name: 'example-istio-gateway' }],
    [
      'istio-ingress/example-istio-gateway:8080',
      { namespace: 'istio-ingress', name: 'example-istio-gateway', port: 8080 },
    ],
    ['web/edge.v2:32081', { namespace: 'web', name: 'edge.v2', port: 32081 }],
  ])('reads %s', (v, want) => {
    expect(parseGatewayRef(v)).toEqual(want);
  });
  it.each([
    ['istio-ingress/gw:0', /port "0" is not a port number 1-65535/],
    ['istio-ingress/gw:65536', /port "65536"/],
    ['istio-ingress/gw:http', /port "http"/],
    ['istio-ingress/gw:', /port ""/],
    ['gw:80', /expected NAMESPACE\/NAME or NAMESPACE\/NAME:PORT/],
    ['istio-ingress/gw:80:81', /expected NAMESPACE\/NAME/],
  ])('refuses %s in one line', (v, msg) => {
    expect(() => parseGatewayRef(v)).toThrow(msg);
    try {
      parseGatewayRef(v);
    } catch (err) {
      expect((err as Error).message.split('\n')).toHaveLength(1);
    }
  });
  it("takes kubectl's -n for the namespace of NAME:PORT", () => {
    expect(kubectlArgs(['-n', 'istio-ingress', '--gateway', 'gw:8080', 'a.example.com'])).toEqual([
      '--gateway',
      'istio-ingress/gw:8080',
      'a.example.com',
    ]);
  });
});

describe('a host served differently on two ports', () => {
  it("judges the port given with --gateway, and lists the other port's answer as evidence", async () => {
    const r = await runScenario(dir, 'api.example.com', `${GW}:8080`);
    expect(r).toMatchObject({ verdict: 'fail', failedLayer: 'endpoints' });
    expect(r.layers.find((l) => l.id === 'endpoints')?.code).toBe('ServicePortMismatch');
    const details = route(r)?.evidence.map((e) => `${e.ref}: ${e.detail}`) ?? [];
    expect(details).toContain(
      `Gateway ${GW} port 8080 (listener "http-alt", HTTP): judged: HTTPRoute istio-ingress/api-alt rules[0] -> Service example-api/example-api:3001 (the Service has no such port)`,
    );
    expect(details).toContain(
      `Gateway ${GW} port 80 (listener "http", HTTP): not judged: HTTPRoute istio-ingress/example-api rules[0] -> Service example-api/example-api:3000`,
    );
    expect(details).toContain('gwdoctor: judged port 8080: the port given with --gateway');
  });

  it('maps a nodePort given with --gateway to its Service port, and says so', async () => {
    const r = await runScenario(dir, 'api.example.com', `${GW}:32080`);
    expect(r.verdict).toBe('pass');
    expect(route(r)?.evidence.map((e) => e.detail)).toContain(
      'judged port 80: the port given with --gateway (32080 is the nodePort of Service istio-ingress/example-istio-gateway-istio port 80)',
    );
  });

  it('without a port, judges the lowest and warns, naming both answers and the flag to use', async () => {
    const r = await runScenario(dir, 'api.example.com');
    expect(r.verdict).toBe('warn');
    expect(route(r)).toMatchObject({ status: 'warn', code: 'ListenerPortsDiffer', fix: { kind: 'manual' } });
    expect(route(r)?.summary).toMatch(
      /serves api\.example\.com\/; .* differently on port 8080 \(HTTPRoute istio-ingress\/api-alt .*\): judged port 80, the lowest of ports 80, 8080/,
    );
    expect(JSON.stringify(route(r)?.fix)).toContain(`--gateway ${GW}:PORT`);
  });

  it('a failing judged port stays a failure, and says the other port serves the host', async () => {
    const r = await runScenario(dir, 'docs.example.com');
    expect(route(r)).toMatchObject({ status: 'fail', code: 'NoRouteForHost' });
    expect(route(r)?.summary).toContain(
      'differently on port 8080 (HTTPRoute istio-ingress/docs rules[0] -> Service example-worker/example-worker:8000)',
    );
  });

  it('says nothing about ports when every port answers the same', async () => {
    const r = await runScenario(dir, 'worker.example.com');
    expect(r.verdict).toBe('pass');
    expect(route(r)?.evidence.filter((e) => e.object?.kind === 'Gateway')).toEqual([]);
    // The facts still say what each port answers: the same rule and backends on every port.
    const ports = route(r)?.facts.ports ?? [];
    expect(ports.length).toBeGreaterThan(1);
    expect(new Set(ports.map((p) => JSON.stringify([p.route, p.rule, p.backends]))).size).toBe(1);
  });

  it('judges the only port the gateway Service exposes as a NodePort', async () => {
    const objs = loadManifests([dir]).map((o) => structuredClone(o) as K8sObject);
    const svc = objs.find(
      (o) => o.kind === 'Service' && o.metadata.name === 'example-istio-gateway-istio',
    ) as unknown as Service;
    for (const p of svc.spec?.ports ?? []) if (p.port === 80) delete p.nodePort;
    const r = await runOnCluster(new ManifestCluster(objs, [dir]), 'api.example.com');
    expect(r).toMatchObject({ verdict: 'fail', failedLayer: 'endpoints' });
    expect(route(r)?.summary).toContain(
      'judged port 8080, the only one of ports 80, 8080 that Service istio-ingress/example-istio-gateway-istio exposes as a NodePort (32081)',
    );
  });

  it('fails at listener when no listener accepts the host on the given port', async () => {
    const r = await runOnCluster(
      new ManifestCluster(loadManifests([dir]), [dir]),
      'api.example.com',
      gatewayEnv(`${GW}:9090`),
    );
    expect(r.layers.find((l) => l.id === 'listener')).toMatchObject({
      status: 'fail',
      code: 'ListenerHostnameMismatch',
    });
    expect(r.layers.find((l) => l.id === 'listener')?.summary).toBe(
      `no listener of Gateway ${GW} on port 9090 accepts api.example.com (the port given with --gateway)`,
    );
  });
});

describe('choosePort', () => {
  const http = (...ports: number[]) => ports.map((port) => ({ port, protocol: 'HTTP' }));
  it('prefers the pinned port, then the port the proxy was seen to reach, then the only NodePort, the only plain-HTTP port, the lowest', () => {
    expect(choosePort(http(8080, 80), null, null, { requested: 8080, port: 8080, via: null })).toMatchObject({
      port: 8080,
      known: true,
    });
    expect(
      choosePort(http(8080, 80), new Map([[80, 32080]]), 'ns/svc', null, { gateway: 'ns/gw', port: 8080, why: 'seen' }),
    ).toEqual({ port: 8080, known: true, why: 'seen' });
    expect(choosePort(http(8080, 80), new Map([[8080, 32081]]), 'ns/svc', null)).toMatchObject({
      port: 8080,
      known: false,
    });
    expect(
      choosePort(
        http(8080, 80),
        new Map([
          [80, 32080],
          [8080, 32081],
        ]),
        'ns/svc',
        null,
      ),
    ).toMatchObject({ port: 80, known: false });
    expect(
      choosePort(
        [
          { port: 443, protocol: 'HTTPS' },
          { port: 8080, protocol: 'HTTP' },
        ],
        null,
        null,
        null,
      ),
    ).toMatchObject({ port: 8080, known: false, why: expect.stringContaining('the only plain-HTTP one') });
    expect(choosePort(http(8443, 8080), null, null, null)).toMatchObject({ port: 8080, known: false });
  });
});
