// Generate a cluster dump of N HTTPRoutes in the shape `kubectl get ... -o yaml` (or -o json) prints: one `kind: List`
// with managedFields and last-applied annotations, cross-namespace backends covered by ReferenceGrants, and
// EndpointSlices with ready and unready endpoints. The seed cluster (fixtures/seed-healthy) is the base: its
// Gateway, gateway Service/Pods and Node stay as they are, and app-<i>.example.com is added for i < N.
//
//   node bench/gen-cluster.ts N OUT.yaml|OUT.json      (Node >= 23 runs TypeScript directly)

import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

export type Obj = Record<string, unknown> & { kind: string; metadata: Record<string, unknown> };

const root = fileURLToPath(new URL('..', import.meta.url));
export const seed = (parse(readFileSync(`${root}fixtures/seed-healthy/cluster.yaml`, 'utf8')) as { items: Obj[] })
  .items;

const T = '2026-11-01T10:00:00Z';
const managedFields = (manager: string) => [
  {
    apiVersion: 'v1',
    fieldsType: 'FieldsV1',
    fieldsV1: {
      'f:metadata': {
        'f:annotations': { '.': {}, 'f:kubectl.kubernetes.io/last-applied-configuration': {} },
        'f:labels': { '.': {}, 'f:app.kubernetes.io/name': {} },
      },
      'f:spec': {
        'f:ports': {
          '.': {},
          'k:{"port":8080,"protocol":"TCP"}': {
            '.': {},
            'f:name': {},
            'f:port': {},
            'f:protocol': {},
            'f:targetPort': {},
          },
        },
        'f:selector': {},
      },
    },
    manager,
    operation: 'Update',
    time: T,
  },
  {
    apiVersion: 'v1',
    fieldsType: 'FieldsV1',
    fieldsV1: { 'f:status': { 'f:conditions': {} } },
    manager: 'istio.io/gateway-controller',
    operation: 'Update',
    subresource: 'status',
    time: T,
  },
];
const lastApplied = (o: unknown) => ({ 'kubectl.kubernetes.io/last-applied-configuration': `${JSON.stringify(o)}\n` });

/** One app: HTTPRoute (in istio-ingress), Service, EndpointSlice (one ready + one unready endpoint, some all unready), 2 Pods. */
export function app(i: number, nsCount: number): Obj[] {
  const ns = `team-${i % nsCount}`;
  const name = `app-${i}`;
  const allUnready = i % 7 === 3;
  const routeSpec = {
    hostnames: [`${name}.example.com`],
    parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'example-istio-gateway' }],
    rules: [
      {
        backendRefs: [{ group: '', kind: 'Service', name, namespace: ns, port: 8080, weight: 1 }],
        matches: [{ path: { type: 'PathPrefix', value: '/' } }],
      },
      {
        backendRefs: [{ group: '', kind: 'Service', name, namespace: ns, port: 8080, weight: 1 }],
        matches: [
          { path: { type: 'Exact', value: '/healthz' }, headers: [{ type: 'Exact', name: 'x-probe', value: 'yes' }] },
        ],
      },
    ],
  };
  const cond = (type: string, reason: string, message: string) => ({
    lastTransitionTime: T,
    message,
    observedGeneration: 1,
    reason,
    status: 'True',
    type,
  });
  const route: Obj = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: {
      annotations: lastApplied({
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name, namespace: 'istio-ingress' },
        spec: routeSpec,
      }),
      creationTimestamp: T,
      generation: 1,
      managedFields: managedFields('kubectl-client-side-apply'),
      name,
      namespace: 'istio-ingress',
      resourceVersion: String(10_000 + i),
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    },
    spec: routeSpec,
    status: {
      parents: [
        {
          conditions: [
            cond('Accepted', 'Accepted', 'Route was valid'),
            cond('ResolvedRefs', 'ResolvedRefs', 'All references resolved'),
          ],
          controllerName: 'istio.io/gateway-controller',
          parentRef: routeSpec.parentRefs[0],
        },
      ],
    },
  };
  const labels = { 'app.kubernetes.io/name': name };
  const svcSpec = {
    ports: [{ name: 'http', port: 8080, protocol: 'TCP', targetPort: 8080 }],
    selector: labels,
    type: 'ClusterIP',
  };
  const svc: Obj = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      annotations: lastApplied({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { labels, name, namespace: ns },
        spec: svcSpec,
      }),
      creationTimestamp: T,
      labels,
      managedFields: managedFields('kubectl-client-side-apply'),
      name,
      namespace: ns,
      resourceVersion: String(20_000 + i),
      uid: `10000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    },
    spec: {
      ...svcSpec,
      clusterIP: `10.96.${(i >> 8) & 255}.${i & 255}`,
      clusterIPs: [`10.96.${(i >> 8) & 255}.${i & 255}`],
      internalTrafficPolicy: 'Cluster',
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      sessionAffinity: 'None',
    },
    status: { loadBalancer: {} },
  };
  const podIp = (k: number) => `10.${64 + ((i >> 15) & 63)}.${(i >> 7) & 255}.${((i & 127) << 1) + k}`;
  const pods: Obj[] = [0, 1].map((k) => {
    const ready = !allUnready && k === 0;
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        creationTimestamp: T,
        generateName: `${name}-7d9f8c6b5-`,
        labels: { ...labels, 'pod-template-hash': '7d9f8c6b5' },
        name: `${name}-7d9f8c6b5-p${k}`,
        namespace: ns,
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            blockOwnerDeletion: true,
            controller: true,
            kind: 'ReplicaSet',
            name: `${name}-7d9f8c6b5`,
            uid: `20000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
          },
        ],
        resourceVersion: String(30_000 + 2 * i + k),
        uid: `3000000${k}-0000-4000-8000-${String(i).padStart(12, '0')}`,
      },
      spec: {
        containers: [
          {
            image: `ghcr.io/example/${name}:1.0.0`,
            imagePullPolicy: 'IfNotPresent',
            name,
            ports: [{ containerPort: 8080, name: 'http', protocol: 'TCP' }],
            resources: {},
          },
        ],
        nodeName: 'node-1',
        restartPolicy: 'Always',
        serviceAccountName: 'default',
      },
      status: {
        conditions: [{ lastProbeTime: null, lastTransitionTime: T, status: ready ? 'True' : 'False', type: 'Ready' }],
        containerStatuses: [
          {
            image: `ghcr.io/example/${name}:1.0.0`,
            name,
            ready,
            restartCount: ready ? 0 : 4,
            started: ready,
            state: ready
              ? { running: { startedAt: T } }
              : { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } },
          },
        ],
        phase: 'Running',
        podIP: podIp(k),
      },
    };
  });
  const eps: Obj = {
    addressType: 'IPv4',
    apiVersion: 'discovery.k8s.io/v1',
    endpoints: pods.map((p, k) => ({
      addresses: [podIp(k)],
      conditions: { ready: !allUnready && k === 0, serving: !allUnready && k === 0, terminating: false },
      nodeName: 'node-1',
      targetRef: { kind: 'Pod', name: p.metadata['name'], namespace: ns },
    })),
    kind: 'EndpointSlice',
    metadata: {
      creationTimestamp: T,
      generateName: `${name}-`,
      generation: 1,
      labels: {
        'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
        'kubernetes.io/service-name': name,
      },
      name: `${name}-abcde`,
      namespace: ns,
      ownerReferences: [
        {
          apiVersion: 'v1',
          blockOwnerDeletion: true,
          controller: true,
          kind: 'Service',
          name,
          uid: svc.metadata['uid'],
        },
      ],
      resourceVersion: String(40_000 + i),
    },
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
  return [route, svc, eps, ...pods];
}

export function namespaceObjs(nsCount: number): Obj[] {
  const out: Obj[] = [];
  for (let k = 0; k < nsCount; k++) {
    const ns = `team-${k}`;
    out.push({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        creationTimestamp: T,
        labels: { 'kubernetes.io/metadata.name': ns },
        name: ns,
        resourceVersion: String(5000 + k),
      },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    });
    out.push({
      apiVersion: 'gateway.networking.k8s.io/v1beta1',
      kind: 'ReferenceGrant',
      metadata: { creationTimestamp: T, name: 'allow-istio-ingress', namespace: ns, resourceVersion: String(6000 + k) },
      spec: {
        from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'istio-ingress' }],
        to: [{ group: '', kind: 'Service' }],
      },
    });
  }
  return out;
}

/**
 * Mesh policies for the mesh layer's cost: one ALLOW AuthorizationPolicy at the gateway (targetRefs) that allows every
 * generated host, and `m` more spread over the app namespaces (selectors on app Pods: they never reach the gateway but
 * are listed as the backend side's policies), one PeerAuthentication and one DestinationRule per namespace.
 */
export function meshObjs(m: number, nsCount: number): Obj[] {
  const ap = (name: string, ns: string, spec: Record<string, unknown>): Obj => ({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { creationTimestamp: T, name, namespace: ns, resourceVersion: '1' },
    spec,
  });
  const out: Obj[] = [
    ap('allow-apps', 'istio-ingress', {
      targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'example-istio-gateway' }],
      rules: [{ to: [{ operation: { hosts: ['*.example.com'], methods: ['GET', 'POST'] } }] }],
    }),
  ];
  for (let i = 0; i < m; i++) {
    const ns = `team-${i % nsCount}`;
    out.push(
      ap(`app-${i}`, ns, {
        selector: { matchLabels: { app: `app-${i}` } },
        rules: [
          {
            from: [{ source: { principals: ['cluster.local/ns/istio-ingress/sa/example-istio-gateway-istio'] } }],
            to: [{ operation: { paths: ['/api/*'] } }],
          },
        ],
      }),
    );
  }
  for (let k = 0; k < nsCount; k++) {
    out.push({
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { creationTimestamp: T, name: 'default', namespace: `team-${k}`, resourceVersion: '1' },
      spec: { mtls: { mode: 'STRICT' } },
    });
    out.push({
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { creationTimestamp: T, name: 'default', namespace: `team-${k}`, resourceVersion: '1' },
      spec: { host: `*.team-${k}.svc.cluster.local`, trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } },
    });
  }
  return out;
}

/** Writes the dump and returns its size in bytes. Objects are rendered one at a time, so N = 100,000 fits in memory. */
export function generate(n: number, out: string, mesh = 0): number {
  const json = out.endsWith('.json');
  const nsCount = Math.max(1, Math.ceil(n / 100));
  const fd = openSync(out, 'w');
  let bytes = 0;
  const w = (s: string) => {
    bytes += writeSync(fd, s);
  };
  let first = true;
  const item = (o: Obj) => {
    if (json) {
      w(`${first ? '' : ',\n'}        ${JSON.stringify(o, null, 4).replace(/\n/g, '\n        ')}`);
    } else {
      w(
        `- ${stringify(o, { indentSeq: false, lineWidth: 0, aliasDuplicateObjects: false }).trimEnd().replace(/\n/g, '\n  ')}\n`,
      );
    }
    first = false;
  };
  w(json ? '{\n    "apiVersion": "v1",\n    "items": [\n' : 'apiVersion: v1\nitems:\n');
  for (const o of seed) {
    if (o.kind === 'Gateway' && o.metadata['name'] === 'example-istio-gateway') {
      const st = o['status'] as { listeners?: { attachedRoutes?: number }[] } | undefined;
      for (const l of st?.listeners ?? []) l.attachedRoutes = n + 2;
    }
    item(o);
  }
  for (const o of namespaceObjs(nsCount)) item(o);
  for (let i = 0; i < n; i++) for (const o of app(i, nsCount)) item(o);
  if (mesh > 0) for (const o of meshObjs(mesh, nsCount)) item(o);
  w(
    json
      ? '\n    ],\n    "kind": "List",\n    "metadata": {\n        "resourceVersion": ""\n    }\n}\n'
      : 'kind: List\nmetadata:\n  resourceVersion: ""\n',
  );
  closeSync(fd);
  return bytes;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [n, out] = [Number(process.argv[2]), process.argv[3]];
  if (!Number.isInteger(n) || n < 0 || !out) {
    process.stderr.write('usage: node bench/gen-cluster.ts N OUT.yaml|OUT.json\n');
    process.exit(3);
  }
  const bytes = generate(n, out);
  process.stdout.write(`${out}: ${n} routes, ${(bytes / 1e6).toFixed(1)} MB\n`);
}
