// The manifests backend: objects read from YAML/JSON files, as `kubectl get -o yaml` prints them or as they sit in git.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';
import { UsageError } from '../errors.js';
import type { EndpointSlice, Gateway, GatewayClass, HTTPRoute, K8sObject, Namespace, Node, Pod, ReferenceGrant, Service } from './objects.js';
import { labelsMatch, type ClusterReader } from './reader.js';

const GW_GROUP = 'gateway.networking.k8s.io/';

function listFiles(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new UsageError(`--manifests ${path}: no such file or directory`);
  }
  if (st.isFile()) return [path];
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name.startsWith('.')) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ya?ml|json)$/i.test(e.name)) out.push(p);
    }
  };
  walk(path);
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parse every document of every file; `kind: List` (and *List) is flattened. A syntax error names file and line. */
export function loadManifests(paths: string[]): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const p of paths) {
    for (const file of listFiles(p)) {
      const text = readFileSync(file, 'utf8');
      const lc = new LineCounter();
      const docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false });
      const list = Array.isArray(docs) ? docs : [docs];
      for (const doc of list) {
        const err = doc.errors[0];
        if (err) {
          const pos = lc.linePos(err.pos[0]);
          const msg = err.message.split('\n')[0];
          throw new UsageError(`${relative(process.cwd(), file) || file}:${pos.line}:${pos.col}: invalid YAML: ${msg}`);
        }
        const value: unknown = doc.toJS({ maxAliasCount: 100 });
        if (value === null || value === undefined) continue;
        const push = (v: unknown) => {
          if (!isObject(v)) return;
          if (typeof v['kind'] === 'string' && /List$/.test(v['kind']) && Array.isArray(v['items'])) {
            for (const item of v['items']) push(item);
            return;
          }
          const md = v['metadata'];
          if (typeof v['kind'] !== 'string' || typeof v['apiVersion'] !== 'string' || !isObject(md) || typeof md['name'] !== 'string') return;
          objects.push(v as unknown as K8sObject);
        };
        push(value);
      }
    }
  }
  return objects;
}

export class ManifestCluster implements ClusterReader {
  readonly mode = 'manifests' as const;
  private readonly byKind = new Map<string, K8sObject[]>();

  constructor(
    objects: K8sObject[],
    private readonly paths: string[] = [],
  ) {
    for (const o of objects) {
      const key = this.key(o);
      if (!key) continue; // unknown kinds are ignored
      const list = this.byKind.get(key) ?? [];
      list.push(o);
      this.byKind.set(key, list);
    }
  }

  static fromPaths(paths: string[]): ManifestCluster {
    return new ManifestCluster(loadManifests(paths), paths);
  }

  private key(o: K8sObject): string | undefined {
    const gw = o.apiVersion.startsWith(GW_GROUP);
    switch (o.kind) {
      case 'GatewayClass':
      case 'Gateway':
      case 'HTTPRoute':
      case 'ReferenceGrant':
        return gw ? o.kind : undefined;
      case 'Service':
      case 'Pod':
      case 'Namespace':
      case 'Node':
        return o.apiVersion === 'v1' ? o.kind : undefined;
      case 'EndpointSlice':
        return o.apiVersion.startsWith('discovery.k8s.io/') ? o.kind : undefined;
      default:
        return undefined;
    }
  }

  private all<T extends K8sObject>(kind: string): T[] {
    return (this.byKind.get(kind) ?? []) as T[];
  }

  private inNs<T extends K8sObject>(kind: string, ns: string): T[] {
    return this.all<T>(kind).filter((o) => (o.metadata.namespace ?? 'default') === ns);
  }

  describeSource() {
    return { manifests: this.paths };
  }
  /** Files are read once; a retry sees the same objects. */
  refresh(): void {}
  async gatewayClasses() {
    return this.all<GatewayClass>('GatewayClass');
  }
  async gateways() {
    return this.all<Gateway>('Gateway');
  }
  async httpRoutes() {
    return this.all<HTTPRoute>('HTTPRoute');
  }
  async namespace(name: string) {
    return this.all<Namespace>('Namespace').find((n) => n.metadata.name === name);
  }
  async referenceGrants(ns: string) {
    return this.inNs<ReferenceGrant>('ReferenceGrant', ns);
  }
  async service(ns: string, name: string) {
    return this.inNs<Service>('Service', ns).find((s) => s.metadata.name === name);
  }
  async allServices() {
    return this.all<Service>('Service');
  }
  async servicesByLabel(ns: string, labels: Record<string, string>) {
    return this.inNs<Service>('Service', ns).filter((s) => labelsMatch(labels, s.metadata.labels));
  }
  async endpointSlices(ns: string, svc: string) {
    return this.inNs<EndpointSlice>('EndpointSlice', ns).filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] === svc);
  }
  /** Pods are "known" when the manifests hold any Pod at all (a runtime dump); git manifests hold none. */
  async pods(ns: string, selector: Record<string, string>): Promise<Pod[] | null> {
    const all = this.all<Pod>('Pod');
    if (all.length === 0) return null;
    return all.filter((p) => (p.metadata.namespace ?? 'default') === ns && labelsMatch(selector, p.metadata.labels));
  }
  async nodes() {
    return this.all<Node>('Node');
  }
  async referenceGrantApiVersion() {
    const seen = this.all<ReferenceGrant>('ReferenceGrant')[0]?.apiVersion;
    return seen ?? 'gateway.networking.k8s.io/v1beta1';
  }
}
