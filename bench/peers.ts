// The real peers the networked and live bench cases run against, started with the test harness (bench/ts-hooks.ts
// makes it importable): nginx terminating TLS in front of the Envoy stub, and the real control plane with N routes.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { app, namespaceObjs, type Obj } from './gen-cluster.ts';

await import('./ts-hooks.ts'); // the test harness below is written for vitest
const { which } = await import('../test/helpers/net/bins.js');
const { TestPki, days } = await import('../test/helpers/net/certs.js');
const { startNginx } = await import('../test/helpers/net/nginx.js');
const { startEnvoyStub } = await import('../test/helpers/net/envoy-stub.js');
const { writeFixture } = await import('../test/helpers/net/cluster.js');
const { startDnsmasq } = await import('../test/helpers/net/dnsmasq.js');

export interface Net {
  /** A manifests directory: the seed cluster, its Node 127.0.0.1 and its gateway NodePort the Envoy stub's port. */
  manifests: string;
  caFile: string;
  /** nginx's TLS port (the "reverse proxy"). */
  port: number;
  /** dnsmasq (example.com -> 127.0.0.1), for --resolver. */
  resolver: string;
  /** A resolv.conf whose server is a loopback address where nothing listens (GWDOCTOR_RESOLV_CONF): only --resolver answers. */
  resolvConf: string;
  stop(): Promise<void>;
}

/**
 * dnsmasq -> nginx (TLS, a certificate for api.example.com from a test CA) -> Envoy stub, in a child process (the
 * bench measures with spawnSync, which would block a stub served from its own event loop); a string says why not.
 */
export async function startNet(): Promise<Net | string> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'net'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0] as string);
    });
    child.on('exit', () => resolve(out || '"net peers exited"'));
  });
  const got = JSON.parse(line) as Omit<Net, 'stop'> | string;
  if (typeof got === 'string') return got;
  return {
    ...got,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin.end();
      }),
  };
}

async function startNetHere(): Promise<Net | string> {
  const bins = { nginx: which('nginx'), dnsmasq: which('dnsmasq'), openssl: which('openssl') };
  const missing = Object.entries(bins)
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length > 0) return `missing ${missing.join(', ')} (scripts/install-net-deps.sh)`;
  const dir = mkdtempSync(join(tmpdir(), 'gwdoctor-bench-net-'));
  const pki = new TestPki(dir, bins.openssl as string);
  const caFile = pki.ca('bench-ca');
  const leaf = pki.leaf('bench-ca', 'api', ['api.example.com'], days(-1), days(30));
  const stub = await startEnvoyStub({ 'api.example.com': 'ok' });
  const nginx = await startNginx(bins.nginx as string, join(dir, 'nginx'), [
    {
      name: 'proxy',
      serverName: 'api.example.com',
      ...leaf,
      location: `proxy_pass http://127.0.0.1:${stub.port}; proxy_set_header Host $http_host;`,
    },
  ]);
  const dns = await startDnsmasq(bins.dnsmasq as string, {
    address: { 'example.com': '127.0.0.1' },
    local: ['example.com'],
  });
  const resolvConf = join(dir, 'resolv.conf');
  writeFileSync(resolvConf, 'nameserver 127.0.0.9\n');
  return {
    manifests: writeFixture(join(dir, 'manifests'), 'seed-healthy', stub.port),
    caFile,
    port: nginx.ports['proxy'] as number,
    resolver: `127.0.0.1:${dns.port}`,
    resolvConf,
    async stop() {
      await nginx.stop();
      await stub.stop();
      await dns.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Live {
  kubeconfig: string;
  /** Apps app-0 .. app-(n-1) exist (seed cluster plus n generated apps, 10 namespaces). */
  loadTo(n: number): Promise<void>;
  stop(): Promise<void>;
}

/** The real control plane (built by scripts/build-controlplane.sh) with the seed cluster; null (with why) without it. */
export async function startLive(): Promise<Live | string> {
  const { startControlPlane } = await import('../test/integration/harness/controlplane.js');
  const { applyScenario } = await import('../test/integration/harness/apply.js');
  const { FIXTURES } = await import('../test/helpers/fixtures.js');
  let cp;
  try {
    cp = await startControlPlane();
  } catch (err) {
    return `no control plane: ${(err as Error).message.split('\n')[0]}`;
  }
  const admin = cp.admin;
  await applyScenario(admin, join(FIXTURES, 'seed-healthy'), { status: 'fixture' });
  const NS = 10;
  for (const o of namespaceObjs(NS)) await admin.create(clean(o));
  let have = 0;
  return {
    kubeconfig: cp.kubeconfig,
    async loadTo(n: number) {
      const todo = Array.from({ length: Math.max(0, n - have) }, (_, k) => have + k);
      await parallel(todo, 16, async (i) => {
        for (const o of app(i, NS)) {
          if (o.kind === 'Pod') continue; // no kubelet here: Services without a selector, EndpointSlices by hand
          const made = await admin.create(clean(o));
          if (o.kind === 'HTTPRoute') await admin.putStatus(made, o['status']);
        }
      });
      have = Math.max(have, n);
    },
    stop: () => cp.stop(),
  };
}

/** A generated object as one creates it: no server-set metadata; Services without selector, slices not the controller's. */
function clean(o: Obj): Obj {
  const c = structuredClone(o) as Obj & { spec?: Record<string, unknown> };
  for (const k of [
    'uid',
    'resourceVersion',
    'creationTimestamp',
    'generation',
    'managedFields',
    'ownerReferences',
    'generateName',
  ])
    delete c.metadata[k];
  delete c['status'];
  if (c.kind === 'Service' && c.spec) {
    delete c.spec['clusterIP'];
    delete c.spec['clusterIPs'];
    delete c.spec['selector'];
  }
  if (c.kind === 'EndpointSlice') {
    (c.metadata['labels'] as Record<string, string>)['endpointslice.kubernetes.io/managed-by'] = 'gwdoctor-bench';
    for (const e of (c['endpoints'] as { targetRef?: unknown }[]) ?? []) delete e.targetRef;
  }
  return c;
}

async function parallel<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

// `node bench/peers.ts net`: run the net peers, print their addresses as one JSON line, stop when stdin closes.
if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'net') {
  const net = await startNetHere();
  process.stdout.write(`${JSON.stringify(typeof net === 'string' ? net : { ...net, stop: undefined })}\n`);
  process.stdin.resume();
  process.stdin.on('end', async () => {
    if (typeof net !== 'string') await net.stop();
    process.exit(0);
  });
}
