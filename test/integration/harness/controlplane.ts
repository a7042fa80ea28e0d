// A real Kubernetes control plane on loopback for the live-mode tests: etcd + kube-apiserver + kube-controller-manager,
// built from the Go module proxy by scripts/build-controlplane.sh (cached), with certificates generated at run time.
// Recipe and measured flags: test/controlplane/README.md.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { Kube } from './kube.js';
import { freePort } from '../../helpers/ports.js';

export const ROOT = join(import.meta.dirname, '..', '..', '..');

export interface ControlPlane {
  dir: string;
  server: string;
  caFile: string;
  /** kubeconfig with contexts admin, readonly, restricted, legacy, wrong-ca (current: readonly). */
  kubeconfig: string;
  auditLog: string;
  bin: string;
  crds: string;
  etcdUrl: string;
  admin: Kube;
  stop(): Promise<void>;
}

export { freePort };

function sh(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
}

/** Build (or find cached) binaries. Returns the bin dir, or throws with the build's output. */
export function buildBinaries(): string {
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'build-controlplane.sh')], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0)
    throw new Error(
      `scripts/build-controlplane.sh failed (exit ${r.status}):\n${(r.stderr ?? '').split('\n').slice(-30).join('\n')}`,
    );
  const lines = r.stdout.trim().split('\n');
  return lines[lines.length - 1] as string;
}

/** A CA, a serving certificate for 127.0.0.1 and a service-account key pair, with openssl. */
export function makePki(dir: string, name = 'ca'): { ca: string; caKey: string } {
  mkdirSync(dir, { recursive: true });
  sh('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`], dir);
  sh(
    'openssl',
    [
      'req',
      '-x509',
      '-new',
      '-key',
      `${name}.key`,
      '-subj',
      `/CN=gwdoctor-test-${name}`,
      '-days',
      '2',
      '-out',
      `${name}.crt`,
    ],
    dir,
  );
  return { ca: join(dir, `${name}.crt`), caKey: join(dir, `${name}.key`) };
}

/** A key and a certificate `name`.{key,crt} for `subj`, signed by the cluster CA (ca.crt) with the extensions `ext`. */
function leafCert(dir: string, name: string, subj: string, ext: string): void {
  sh('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`], dir);
  sh('openssl', ['req', '-new', '-key', `${name}.key`, '-subj', subj, '-out', `${name}.csr`], dir);
  writeFileSync(join(dir, `${name}-ext.cnf`), ext);
  sh(
    'openssl',
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${name}-ext.cnf`,
      '-out',
      `${name}.crt`,
    ],
    dir,
  );
}

function servingCert(dir: string): void {
  leafCert(
    dir,
    'apiserver',
    '/CN=kube-apiserver',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
  );
  sh('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'sa.key'], dir);
  sh('openssl', ['ec', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  kubeletPki(dir);
}

/**
 * The kubelet side of the PKI, as a cluster has it: the API server's kubelet client certificate (signed by the cluster
 * CA, which the kubelet stand-in trusts as its --client-ca-file) and a kubelet CA that signs each kubelet stand-in's
 * serving certificate (the stand-in mints it for its Node address) and that the API server verifies kubelets with
 * (--kubelet-certificate-authority). harness/kubelet.ts.
 */
function kubeletPki(dir: string): void {
  makePki(dir, 'kubelet-ca');
  leafCert(
    dir,
    'apiserver-kubelet-client',
    '/O=kubeadm:cluster-admins/CN=kube-apiserver-kubelet-client',
    'extendedKeyUsage=clientAuth\n',
  );
}

async function waitFor(
  what: string,
  ms: number,
  probe: () => Promise<boolean>,
  proc?: ChildProcess,
  logFile?: string,
): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (proc && proc.exitCode !== null) {
      const tail = logFile ? readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n') : '';
      throw new Error(`${what}: process exited with ${proc.exitCode}\n${tail}`);
    }
    try {
      if (await probe()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new Error(`${what}: not ready after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface ApiServerOptions {
  bin: string;
  dir: string;
  etcdUrl: string;
  prefix: string;
  pki: string;
  audit?: string;
}

export async function startApiServer(
  o: ApiServerOptions,
): Promise<{ proc: ChildProcess; server: string; port: number }> {
  const port = await freePort();
  const log = join(o.dir, `kube-apiserver-${o.prefix}.log`);
  const args = [
    `--etcd-servers=${o.etcdUrl}`,
    `--etcd-prefix=/registry-${o.prefix}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    // Must not be loopback; with the endpoint reconciler off, a TEST-NET address is never contacted (k/k#138102).
    '--advertise-address=192.0.2.10',
    '--endpoint-reconciler-type=none',
    `--tls-cert-file=${join(o.pki, 'apiserver.crt')}`,
    `--tls-private-key-file=${join(o.pki, 'apiserver.key')}`,
    `--token-auth-file=${join(o.pki, 'tokens.csv')}`,
    '--authorization-mode=RBAC',
    `--service-account-issuer=https://127.0.0.1:${port}`,
    `--service-account-key-file=${join(o.pki, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(o.pki, 'sa.key')}`,
    // A /16: room for 65,000 Services, so the scale tests and the bench can load 1,000+ (a /24 held ~250).
    '--service-cluster-ip-range=10.0.0.0/16',
    '--disable-admission-plugins=ServiceAccount',
    '--allow-privileged=true',
    '--profiling=false',
    // How it reaches kubelets (port-forward, exec, logs): the Node's InternalIP (never a Hostname address, which would
    // need DNS) and the port the Node reports, with a client certificate, verifying the kubelet's serving certificate
    // (harness/kubelet.ts: the port-forward stand-in).
    '--kubelet-preferred-address-types=InternalIP',
    `--kubelet-client-certificate=${join(o.pki, 'apiserver-kubelet-client.crt')}`,
    `--kubelet-client-key=${join(o.pki, 'apiserver-kubelet-client.key')}`,
    `--kubelet-certificate-authority=${join(o.pki, 'kubelet-ca.crt')}`,
    ...(o.audit
      ? [
          `--audit-policy-file=${join(o.pki, 'audit-policy.yaml')}`,
          `--audit-log-path=${o.audit}`,
          '--audit-log-mode=blocking',
        ]
      : []),
  ];
  const proc = spawn(join(o.bin, 'kube-apiserver'), args, {
    stdio: ['ignore', openSync(log, 'a'), openSync(log, 'a')],
    detached: true,
  });
  const server = `https://127.0.0.1:${port}`;
  const admin = new Kube(server, readFileSync(join(o.pki, 'ca.crt')), 'admin-token');
  await waitFor(
    'kube-apiserver /readyz',
    120_000,
    async () => (await admin.raw('GET', '/readyz')).status === 200,
    proc,
    log,
  );
  return { proc, server, port };
}

function writeMainKubeconfig(file: string, server: string, ca: string, wrongCa: string): void {
  const ctx = (name: string, user: string, cluster = 'test') =>
    `- name: ${name}\n  context: {cluster: ${cluster}, user: ${user}}`;
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: test',
      `  cluster: {server: "${server}", certificate-authority: "${ca}"}`,
      '- name: test-wrong-ca',
      `  cluster: {server: "${server}", certificate-authority: "${wrongCa}"}`,
      'users:',
      '- {name: admin, user: {token: admin-token}}',
      '- {name: viewer, user: {token: viewer-token}}',
      '- {name: restricted, user: {token: restricted-token}}',
      '- {name: legacy, user: {token: legacy-token}}',
      'contexts:',
      ctx('admin', 'admin'),
      ctx('readonly', 'viewer'),
      ctx('restricted', 'restricted'),
      ctx('legacy', 'legacy'),
      ctx('wrong-ca', 'viewer', 'test-wrong-ca'),
      'current-context: readonly',
      '',
    ].join('\n'),
  );
}

/** Every CRD document of the Gateway API standard channel (and Istio's), as JSON objects. */
export function crdDocs(crds: string, sub: 'gateway-api' | 'istio'): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const dir = join(crds, sub);
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.yaml')) continue;
    for (const d of parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) {
      const v = d.toJS() as Record<string, unknown> | null;
      if (v && v['kind'] === 'CustomResourceDefinition') out.push(v);
    }
  }
  return out;
}

export async function installCrds(kube: Kube, docs: Record<string, unknown>[]): Promise<void> {
  for (const d of docs) await kube.create(d);
  const names = docs.map((d) => (d['metadata'] as { name: string }).name);
  await waitFor('CRDs Established', 60_000, async () => {
    for (const n of names) {
      const crd = (await kube.get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${n}`)) as {
        status?: { conditions?: { type: string; status: string }[] };
      };
      if (!crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return false;
    }
    return true;
  });
  // Discovery lags Established by a moment: wait until the group lists every kind.
  await waitFor('Gateway API discoverable', 60_000, async () => {
    const res = (await kube.get('/apis/gateway.networking.k8s.io/v1')) as { resources?: { name: string }[] };
    return ['gateways', 'httproutes', 'gatewayclasses'].every((n) => res.resources?.some((r) => r.name === n));
  });
}

export async function startControlPlane(): Promise<ControlPlane> {
  const bin = buildBinaries();
  const crds = join(bin, '..', 'crds');
  const dir = mkdtempSync(join(tmpdir(), 'gwdoctor-cp-'));
  const pki = join(dir, 'pki');
  makePki(pki);
  servingCert(pki);
  makePki(join(dir, 'other-pki'), 'wrong-ca');
  writeFileSync(
    join(pki, 'tokens.csv'),
    'admin-token,admin,uid-admin,"system:masters"\nviewer-token,viewer,uid-viewer\nrestricted-token,restricted,uid-restricted\nlegacy-token,legacy,uid-legacy\n',
  );
  // Audit every request by the non-admin users: the no-write test reads this log.
  writeFileSync(
    join(pki, 'audit-policy.yaml'),
    'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: ["RequestReceived"]\nrules:\n- level: Metadata\n  users: ["viewer", "restricted"]\n- level: None\n',
  );
  const procs: ChildProcess[] = [];
  const stop = async () => {
    for (const p of procs.reverse()) {
      if (p.exitCode === null && p.pid) {
        try {
          process.kill(-p.pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
    }
    const deadline = Date.now() + 10_000;
    while (procs.some((p) => p.exitCode === null && p.signalCode === null) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    for (const p of procs)
      if (p.exitCode === null && p.signalCode === null && p.pid)
        try {
          process.kill(-p.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
    if (!process.env['GWDOCTOR_KEEP_CP']) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const [ep, epp] = [await freePort(), await freePort()];
    const etcdLog = join(dir, 'etcd.log');
    const etcd = spawn(
      join(bin, 'etcd'),
      [
        '--name=default',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${ep}`,
        `--advertise-client-urls=http://127.0.0.1:${ep}`,
        `--listen-peer-urls=http://127.0.0.1:${epp}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${epp}`,
        `--initial-cluster=default=http://127.0.0.1:${epp}`,
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ],
      { stdio: ['ignore', openSync(etcdLog, 'a'), openSync(etcdLog, 'a')], detached: true },
    );
    procs.push(etcd);
    const etcdUrl = `http://127.0.0.1:${ep}`;
    await waitFor('etcd /health', 30_000, async () => (await fetch(`${etcdUrl}/health`)).ok, etcd, etcdLog);

    const audit = join(dir, 'audit.log');
    const api = await startApiServer({ bin, dir, etcdUrl, prefix: 'main', pki, audit });
    procs.push(api.proc);
    const admin = new Kube(api.server, readFileSync(join(pki, 'ca.crt')), 'admin-token');

    const kubeconfig = join(dir, 'kubeconfig');
    writeMainKubeconfig(kubeconfig, api.server, join(pki, 'ca.crt'), join(dir, 'other-pki', 'wrong-ca.crt'));
    const adminKc = join(dir, 'admin.kubeconfig');
    writeFileSync(
      adminKc,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: t\n  cluster: {server: "${api.server}", certificate-authority: "${join(pki, 'ca.crt')}"}\nusers:\n- {name: a, user: {token: admin-token}}\ncontexts:\n- {name: a, context: {cluster: t, user: a}}\ncurrent-context: a\n`,
    );
    const kcm = startControllerManager(bin, dir, adminKc, 'main');
    procs.push(kcm);

    await installCrds(admin, [...crdDocs(crds, 'gateway-api'), ...crdDocs(crds, 'istio')]);
    await installRbac(admin);
    return {
      dir,
      server: api.server,
      caFile: join(pki, 'ca.crt'),
      kubeconfig,
      auditLog: audit,
      bin,
      crds,
      etcdUrl,
      admin,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * A kubeconfig with one cluster, one bearer-token user and one context. `ca`: the CA file to trust, or null for
 * insecure-skip-tls-verify (a test proxy in front of the API server).
 */
export function writeKubeconfig(file: string, server: string, token: string, ca: string | null, as?: string): string {
  const trust = ca === null ? 'insecure-skip-tls-verify: true' : `certificate-authority: "${ca}"`;
  // `as`: impersonate that user (the token's user must be allowed to: admin is).
  const user = as ? `{token: ${token}, as: ${as}}` : `{token: ${token}}`;
  writeFileSync(
    file,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "${server}", ${trust}}\nusers:\n- {name: u, user: ${user}}\ncontexts:\n- {name: x, context: {cluster: c, user: u}}\ncurrent-context: x\n`,
  );
  return file;
}

export interface ExtraApiServer {
  server: string;
  /** The admin user's kubeconfig for it. */
  kubeconfig: string;
  kube: Kube;
  stop(): void;
}

/**
 * Another API server on the control plane's etcd (its own key prefix, so its objects are its own) with its own
 * controller-manager: for tests that need a cluster without CRDs, with other CRD versions, or with status no
 * controller touches. No CRDs are installed.
 */
export async function startExtraApiServer(
  cp: { bin: string; dir: string; etcdUrl: string; caFile: string },
  name: string,
): Promise<ExtraApiServer> {
  const prefix = `${name}-${process.pid}`;
  const api = await startApiServer({ bin: cp.bin, dir: cp.dir, etcdUrl: cp.etcdUrl, prefix, pki: join(cp.dir, 'pki') });
  const kubeconfig = writeKubeconfig(join(cp.dir, `${prefix}-admin.kubeconfig`), api.server, 'admin-token', cp.caFile);
  const kcm = startControllerManager(cp.bin, cp.dir, kubeconfig, prefix);
  const stop = () => {
    for (const p of [kcm, api.proc]) {
      try {
        process.kill(-(p.pid as number), 'SIGKILL');
      } catch {
        // gone
      }
    }
  };
  return { server: api.server, kubeconfig, kube: new Kube(api.server, readFileSync(cp.caFile), 'admin-token'), stop };
}

/** kube-controller-manager with only the controllers the tests need (EndpointSlices from Pods, GC, namespaces, Deployments). */
export function startControllerManager(bin: string, dir: string, kubeconfig: string, name: string): ChildProcess {
  const log = join(dir, `kube-controller-manager-${name}.log`);
  return spawn(
    join(bin, 'kube-controller-manager'),
    [
      `--kubeconfig=${kubeconfig}`,
      '--leader-elect=false',
      '--secure-port=0',
      // No node-lifecycle controller: there is no kubelet, and it would mark every pod NotReady. The deployment and
      // replicaset controllers turn the gateway Deployment istiod creates into a Pod (the harness plays its kubelet).
      '--controllers=endpointslice-controller,garbage-collector-controller,namespace-controller,deployment-controller,replicaset-controller',
    ],
    { stdio: ['ignore', openSync(log, 'a'), openSync(log, 'a')], detached: true },
  );
}

/**
 * readonly: the ClusterRole gwdoctor ships; restricted: the same without referencegrants and endpointslices; legacy:
 * the same without grpcroutes, listenersets and Istio's kinds (a role written before gwdoctor read them).
 */
async function installRbac(kube: Kube): Promise<void> {
  const docs = parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'rbac.yaml'), 'utf8')).map(
    (d) => d.toJS() as Record<string, unknown>,
  );
  const role = docs.find((d) => d['kind'] === 'ClusterRole') as {
    metadata: { name: string };
    rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  };
  await kube.create(role);
  const restricted = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'gwdoctor-restricted' },
    rules: role.rules
      .map((r) => ({ ...r, resources: r.resources.filter((x) => x !== 'referencegrants' && x !== 'endpointslices') }))
      .filter((r) => r.resources.length > 0),
  };
  await kube.create(restricted);
  await kube.create({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'gwdoctor-legacy' },
    rules: role.rules
      .map((r) => ({
        ...r,
        resources: r.resources.filter(
          (x) =>
            ![
              'grpcroutes',
              'listenersets',
              'authorizationpolicies',
              'peerauthentications',
              'destinationrules',
            ].includes(x),
        ),
      }))
      .filter((r) => r.resources.length > 0),
  });
  const bind = (name: string, roleName: string, user: string) => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
  });
  await kube.create(bind('gwdoctor-viewer', role.metadata.name, 'viewer'));
  // The optional certificate reads (deploy/rbac-secrets.yaml): its Role's rules (get secrets by resourceNames) for the
  // read-only user in every namespace, as a user who opted in; 'restricted' has none (Secrets: "not checked").
  const certRole = parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'rbac-secrets.yaml'), 'utf8'))
    .map((d) => d.toJS() as { kind: string; rules?: unknown[] })
    .find((d) => d.kind === 'Role') as { rules: unknown[] };
  await kube.create({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'gwdoctor-listener-certificates' },
    rules: certRole.rules,
  });
  await kube.create(bind('gwdoctor-viewer-certificates', 'gwdoctor-listener-certificates', 'viewer'));
  await kube.create(bind('gwdoctor-restricted', 'gwdoctor-restricted', 'restricted'));
  await kube.create(bind('gwdoctor-legacy', 'gwdoctor-legacy', 'legacy'));
  // The RBAC authorizer reads bindings from an informer cache: the first test must not run before it sees them.
  const routes = { verb: 'list', group: 'gateway.networking.k8s.io', resource: 'httproutes' };
  await kube.waitAllowed('viewer', [
    routes,
    { verb: 'list', group: 'gateway.networking.k8s.io', resource: 'referencegrants' },
    { verb: 'get', resource: 'secrets', namespace: 'istio-ingress', name: 'example-com-tls' },
  ]);
  await kube.waitAllowed('restricted', [routes]);
  await kube.waitAllowed('legacy', [routes]);
}
