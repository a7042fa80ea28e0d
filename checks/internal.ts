// Hosts that must NOT be public (--internal, `internal:` in gwdoctor.yaml): the same layers with the expectation
// turned round. A layer passes when it proves the host is not served: no public DNS answer, the reverse proxy refuses
// it or Envoy answers "no route", no listener of the public Gateway accepts it, no HTTPRoute or GRPCRoute attached there serves it.
// It fails with InternalHostExposed when a route on the public Gateway serves the host or a request reaches a backend.
// Every layer after the route (grant, endpoints, mesh, dataplane, and any layer added later) does not apply: they
// describe a backend, and an internal host must have none on this path (the registry documents the judged ones).

import { describeListener } from '../src/gatewayapi/listeners.js';
import type { Gateway, GatewayListener } from '../src/cluster/objects.js';
import { describe, nsName } from '../src/cluster/objects.js';
import { about, emit, pass, skip } from '../src/findings.js';
import { command, jsonPatch, manual, ptr, refOf } from '../src/fix/build.js';
import type { Fix, JsonPatchOp } from '../src/fix/fix.js';
import type { Exposure, ExposureStage } from '../src/gatewayapi/exposure.js';
import type { PathResolver } from '../src/gatewayapi/resolver.js';
import { withOrigins } from '../src/layer.js';
import { GwdoctorError } from '../src/errors.js';
import { classifyResponse, describeClassification, localReplyShape } from '../src/net/classify.js';
import { describeNoDirect, planDirectExposure } from '../src/net/direct.js';
import { mapLimit } from '../src/net/limit.js';
import { noRecordsKind } from '../src/net/no-records.js';
import { describeNetCode, isTlsCode, ProbeFailure, TlsProbeFailure } from '../src/net/probe-errors.js';
import { LAYER_IDS, layer, type LayerDecl } from '../src/registry.js';
import type { Evidence, HttpProbe, LayerId } from '../src/types.js';
import type { Check, CheckContext } from '../src/check.js';

const GATEWAYS = 'gateways.gateway.networking.k8s.io';

function meta<I extends LayerId>(id: I): LayerDecl<I> {
  const titles: Partial<Record<LayerId, string>> = {
    dns: 'the internal host has no public DNS answer, or its answer is checked at the proxy',
    proxy: 'the reverse proxy does not reach a backend for the internal host',
    listener: 'the public Gateway is known (and whether a listener accepts the internal host)',
    route: 'no HTTPRoute or GRPCRoute on the public Gateway serves the internal host',
  };
  return { ...layer(id), title: titles[id] ?? layer(id).title };
}

const hostPort = (address: string, port: number) => `${address.includes(':') ? `[${address}]` : address}:${port}`;

/** dns: resolution with the public dns layer's logic (given by checks/index.ts); "does not resolve" is the good outcome here. */
const internalDns = (dns: Check<'dns'>): Check<'dns'> => ({
  ...meta('dns'),
  async run(ctx: CheckContext) {
    // No --expect-ip here: an internal host is not expected to point at the public proxy at all.
    const d = await dns.run({ ...ctx, net: { ...ctx.net, expectIps: [] } });
    const { host } = ctx.target;
    if (d.status === 'fail' && d.code === 'DnsNoRecords') {
      return {
        ...pass(
          this,
          `${host} has no public DNS answer (${noRecordsKind((d.facts.resolvers ?? []).map((r) => r.status))}): clients cannot reach the proxy with it`,
          { evidence: d.evidence, facts: d.facts },
        ),
        observed: { addresses: [] },
      };
    }
    if (d.status === 'error') return { ...d, title: this.title };
    // An answer gwdoctor will not probe (a link-local or metadata address, DnsLinkLocalAddress) says so as is.
    if (d.status === 'fail') return { ...d, title: this.title };
    const addresses = d.observed?.addresses ?? [];
    return {
      ...pass(
        this,
        `${host} resolves to ${addresses.map((a) => a.address).join(', ')}: the proxy is asked whether it serves the host`,
        { evidence: d.evidence },
      ),
      observed: { addresses },
    };
  },
});

type Answer =
  | {
      ok: true;
      address: string;
      statusCode: number;
      evidence: Evidence;
      exposed: boolean;
      why: string;
      nrShape: boolean;
    }
  | { ok: false; address: string; evidence: Evidence; timeout: boolean; why: string };

/** proxy: a request for the host through every resolved address; a backend answering is exposure. */
const internalProxy: Check<'proxy'> = {
  ...meta('proxy'),
  async run(ctx: CheckContext) {
    const { host, path, query } = ctx.target;
    const addresses = ctx.probes.addresses ?? [];
    if (addresses.length === 0)
      return pass(this, `not asked: ${host} has no public address, so no client reaches the proxy with it`, {
        facts: { asked: false },
      });
    const port = ctx.net.port ?? ctx.target.port ?? 443;
    const url = new URL(`https://${host}:${port}${path}${query ? `?${query}` : ''}`);
    const probe = await ctx.probe();
    const answers = await mapLimit(addresses, 4, async (a): Promise<Answer> => {
      const ref = `GET ${url.href} via ${a.address}`;
      try {
        const res = await probe.get(url, {
          address: a.address,
          signal: ctx.signal,
          ...(ctx.net.caFile ? { caFile: ctx.net.caFile } : {}),
        });
        const cls = classifyResponse(res, url);
        const evidence = { ref, detail: `${describeClassification(cls)}; server: ${res.headers['server'] ?? '-'}` };
        // A backend reached: any answer an upstream gave through Envoy, any 2xx/3xx (whoever sent it), and Envoy's
        // replies that presuppose a route for the host (NC/UH/UF/UT: a route exists, its backend is broken right now).
        const base = { ok: true as const, address: a.address, statusCode: res.statusCode, evidence, nrShape: false };
        if (cls.kind === 'upstream')
          return { ...base, exposed: true, why: `a backend answered HTTP ${res.statusCode} through Envoy` };
        if (cls.kind === 'envoy' && cls.fault !== 'NR' && cls.fault !== 'RBAC')
          return { ...base, exposed: true, why: `Envoy has a route for it (${describeClassification(cls)})` };
        if (res.statusCode < 400)
          return { ...base, exposed: true, why: `it answered HTTP ${res.statusCode} (${describeClassification(cls)})` };
        const who =
          cls.kind === 'envoy'
            ? cls.fault === 'RBAC'
              ? `HTTP ${res.statusCode} from Envoy itself (RBAC: access denied)`
              : `HTTP ${res.statusCode} from Envoy (no route)`
            : cls.kind === 'envoy-other'
              ? `HTTP ${res.statusCode} from Envoy itself`
              : `HTTP ${res.statusCode} from ${cls.kind === 'proxy-error' || cls.kind === 'other' ? (cls.server ?? 'the proxy') : 'the proxy'}`;
        // An empty 404 whose sender the proxy hid (nginx replaces `server`): the shape of Envoy's "no route"; the direct probe below tells.
        return { ...base, exposed: false, why: who, nrShape: cls.kind === 'other' && localReplyShape(res) === 'NR' };
      } catch (err) {
        if (!(err instanceof ProbeFailure)) throw err;
        if (err instanceof TlsProbeFailure)
          return {
            ok: false,
            address: a.address,
            timeout: false,
            evidence: { ref: `TLS ${hostPort(a.address, port)}`, detail: err.message },
            why: `no valid certificate for ${host} (${err.code}): clients stop at TLS`,
          };
        if (isTlsCode(err.code))
          return {
            ok: false,
            address: a.address,
            timeout: false,
            evidence: { ref: `TLS ${hostPort(a.address, port)}`, detail: err.message },
            why: `the TLS handshake is refused (${err.code})`,
          };
        const timeout = ctx.signal.aborted || err.code === 'ABORT_ERR' || err.code === 'UND_ERR_ABORTED';
        return {
          ok: false,
          address: a.address,
          timeout,
          evidence: { ref, detail: err.message },
          why: describeNetCode(err.code),
        };
      }
    });
    const evidence = answers.map((a) => a.evidence);
    const exposed = answers.find((a) => a.ok && a.exposed);
    if (exposed) {
      return emit(
        this,
        'InternalHostExposed',
        `${host} must stay internal, but the proxy at ${hostPort(exposed.address, port)} serves it: ${exposed.why}`,
        {
          evidence,
          fix: manual(
            `remove ${host} from the reverse proxy's public server names (or make it refuse the name), and remove it from the route on the public Gateway that serves it (the route layer names it when gwdoctor can read the cluster)`,
          ),
        },
      );
    }
    // The proxy hid who sent an empty 404: ask the gateway's NodePort directly (with cluster access), as the public
    // proxy layer does. Envoy answering the same 404 there shows the 404 came from Envoy: no route for the host.
    const hidden = answers.filter((a): a is Extract<Answer, { ok: true }> => a.ok && a.nrShape);
    if (hidden.length > 0) {
      const direct = await directNoRoute(ctx, probe);
      evidence.push(direct.evidence);
      if (direct.envoyNR)
        for (const a of hidden)
          a.why = `HTTP 404 from Envoy (no route; the proxy hides Envoy's headers, the gateway's NodePort answers the same)`;
    }
    const cut = answers.find((a) => !a.ok && a.timeout);
    if (cut)
      return emit(
        this,
        'Timeout',
        `the request for ${host} to ${hostPort(cut.address, port)} was cut off by --timeout: nothing proven`,
        { evidence },
      );
    return pass(
      this,
      `the proxy does not reach a backend for ${host}: ${[...new Set(answers.map((a) => `${hostPort(a.address, port)} ${a.why}`))].join('; ')}`,
      { evidence },
    );
  },
};

/** GET the host straight from the gateway's NodePort (plain HTTP listener): is it Envoy's empty 404 (NR)? */
async function directNoRoute(ctx: CheckContext, probe: HttpProbe): Promise<{ envoyNR: boolean; evidence: Evidence }> {
  const none = (why: string) => ({
    envoyNR: false,
    evidence: { ref: 'direct NodePort probe', detail: `not done: ${why}` },
  });
  if (!ctx.path) return none(ctx.clusterUnavailable ?? 'no cluster source');
  let plan;
  try {
    plan = await planDirectExposure(ctx.path);
  } catch (err) {
    if (err instanceof GwdoctorError) return none(`cannot read the cluster: ${err.message}`);
    throw err;
  }
  if (!plan.ok) return none(describeNoDirect(plan.why));
  const t = plan.targets.find((x) => x.protocol === 'HTTP');
  if (!t) return none('no plain HTTP listener to ask directly');
  const u = new URL(`http://${hostPort(t.address, t.nodePort)}${ctx.target.path}`);
  const ref = `direct GET ${u.href} Host: ${ctx.target.host} (node ${t.node}, ${t.service} port ${t.servicePort})`;
  try {
    const res = await probe.get(u, { hostHeader: ctx.target.host, signal: ctx.signal });
    const cls = classifyResponse(res, u, u, { direct: true });
    return {
      envoyNR: cls.kind === 'envoy' && cls.fault === 'NR',
      evidence: { ref, detail: describeClassification(cls) },
    };
  } catch (err) {
    if (err instanceof ProbeFailure) return { envoyNR: false, evidence: { ref, detail: describeNetCode(err.code) } };
    throw err;
  }
}

function stage(ctx: CheckContext): Promise<ExposureStage> {
  const p = ctx.path;
  if (!p) throw new Error('an internal-host cluster layer ran without a cluster source');
  return p.exposure();
}

const gatewayNames = (gws: Gateway[]) => gws.map(describe).join(', ');

const internalListener: Check<'listener'> = {
  ...meta('listener'),
  async run(ctx: CheckContext) {
    const s = await stage(ctx);
    const { host } = ctx.target;
    const path = ctx.path as PathResolver;
    switch (s.kind) {
      case 'filter-missing':
        return emit(
          this,
          'GatewayNotFound',
          `--gateway ${s.filter.namespace}/${s.filter.name} does not exist: cannot tell whether it serves ${host}`,
          {
            evidence: s.all.map((g) => about(g, 'exists')),
            fix: command(['kubectl', 'get', GATEWAYS, '-A'], 'pick an existing Gateway for --gateway'),
          },
        );
      case 'no-listener':
        return withOrigins(
          pass(
            this,
            s.considered.length === 0
              ? `no public Gateway exists: nothing can serve ${host}`
              : `no listener of ${gatewayNames(s.considered)} accepts ${host}`,
            {
              evidence: s.considered.flatMap((g) =>
                (g.spec.listeners ?? []).map((l) => about(g, `${describeListener(l)} does not accept ${host}`)),
              ),
            },
          ),
          path,
        );
      case 'checked':
        return withOrigins(
          pass(
            this,
            `${s.gateways.map((g) => `${nsName(g.gw)} ${g.listeners.map(describeListener).join(', ')}`).join('; ')} would accept ${host}: the route layer checks that nothing serves it there`,
            {
              evidence: s.gateways.map((g) =>
                about(g.gw, `public Gateway, ${g.listeners.map(describeListener).join(', ')} accepts ${host}`),
              ),
            },
          ),
          path,
        );
    }
  },
};

/**
 * The safe fix for one exposing route: never one that unpublishes another host.
 *  - the route names the host exactly and also serves other hostnames: remove just those entries (test + remove);
 *  - the route serves only this host: detach it from the public Gateway (remove those parentRefs, test-guarded);
 *    a parentRef to another (internal) Gateway stays;
 *  - a wildcard or no hostnames serve it: removing them would unpublish every other host they cover: manual.
 */
export function exposureFix(e: Exposure, host: string): Fix {
  const route = e.route;
  const all = route.spec.hostnames ?? [];
  const exact = e.hostnames.filter((h) => h.value.toLowerCase() === host);
  const wild = e.hostnames.filter((h) => h.value.toLowerCase() !== host);
  if (all.length === 0 || wild.length > 0) {
    const how =
      all.length === 0
        ? 'has no hostnames, so it serves every host its listener accepts'
        : `serves it through ${wild.map((h) => `"${h.value}"`).join(', ')}`;
    return manual(
      `${describe(route)} ${how}; removing that would unpublish other hosts. List the public hostnames explicitly in spec.hostnames instead of ${all.length === 0 ? 'leaving it empty' : 'the wildcard'}, or restrict the listener of ${describe(e.gateway)} so that it does not accept ${host}`,
    );
  }
  const others = all.filter((h) => h.toLowerCase() !== host);
  if (others.length > 0) {
    const ops: JsonPatchOp[] = [];
    for (const h of [...exact].sort((a, b) => b.index - a.index)) {
      ops.push(
        { op: 'test', path: ptr('spec', 'hostnames', h.index), value: h.value },
        { op: 'remove', path: ptr('spec', 'hostnames', h.index) },
      );
    }
    return jsonPatch(
      route,
      ops,
      `remove ${host} from the hostnames of ${describe(route)}; it keeps serving ${others.join(', ')} (each removal is guarded by a test of the value)`,
    );
  }
  const refs = route.spec.parentRefs ?? [];
  const ops: JsonPatchOp[] = [];
  for (const i of [...new Set(e.parentIndexes)].sort((a, b) => b - a)) {
    const p = refs[i];
    if (!p) continue;
    ops.push({ op: 'test', path: ptr('spec', 'parentRefs', i, 'name'), value: p.name });
    if (p.namespace !== undefined)
      ops.push({ op: 'test', path: ptr('spec', 'parentRefs', i, 'namespace'), value: p.namespace });
    if (p.sectionName !== undefined)
      ops.push({ op: 'test', path: ptr('spec', 'parentRefs', i, 'sectionName'), value: p.sectionName });
    ops.push({ op: 'remove', path: ptr('spec', 'parentRefs', i) });
  }
  const keeps = refs.length - new Set(e.parentIndexes).size;
  return jsonPatch(
    route,
    ops,
    `detach ${describe(route)} from the public ${describe(e.gateway)}: it serves only ${host}, so no other host changes${keeps > 0 ? `; its ${keeps} other parentRef(s) stay` : ''}`,
  );
}

function exposureEvidence(e: Exposure, host: string, path: PathResolver): Evidence {
  const hs = e.route.spec.hostnames ?? [];
  const wild = e.hostnames.filter((h) => h.value.toLowerCase() !== host);
  const via =
    hs.length === 0
      ? 'no hostnames (every host of the listener)'
      : `hostnames ${hs.join(', ')}${wild.length ? ` (${wild.map((h) => h.value).join(', ')} covers ${host})` : ''}`;
  const o = path.source.origin(e.route);
  const from = o && 'file' in o ? ` (${o.file}:${o.line})` : '';
  return about(
    e.route,
    `attached to ${describe(e.gateway)} ${e.listeners.map(describeListener).join(', ')}; ${via}${from}`,
  );
}

const internalRoute: Check<'route'> = {
  ...meta('route'),
  async run(ctx: CheckContext) {
    const s = await stage(ctx);
    const { host } = ctx.target;
    const path = ctx.path as PathResolver;
    if (s.kind === 'filter-missing')
      return skip(this, 'not checked: listener failed', { reason: 'stopped', after: 'listener' });
    if (s.kind === 'no-listener')
      return pass(
        this,
        `no route can serve ${host} on ${s.considered.length ? gatewayNames(s.considered) : 'any Gateway'}: no listener accepts it`,
      );
    const gws = gatewayNames(s.gateways.map((g) => g.gw));
    const first = s.exposed[0];
    if (!first) return pass(this, `no HTTPRoute or GRPCRoute on ${gws} serves ${host}`);
    const names = [
      ...new Set(
        s.exposed.map((e) => {
          const o = path.source.origin(e.route);
          return `${describe(e.route)}${o && 'file' in o ? ` (${o.file}:${o.line})` : ''} on ${describe(e.gateway)}`;
        }),
      ),
    ];
    return withOrigins(
      emit(
        this,
        'InternalHostExposed',
        `${host} must stay internal, but ${names.join(', ')} serve${names.length === 1 ? 's' : ''} it`,
        {
          evidence: s.exposed.map((e) => exposureEvidence(e, host, path)),
          fix: exposureFix(first, host),
          facts: {
            exposedBy: s.exposed
              .map((e) => refOf(e.route))
              .filter(
                (r, i, all) =>
                  all.findIndex((x) => x.kind === r.kind && x.namespace === r.namespace && x.name === r.name) === i,
              ),
          },
        },
      ),
      path,
    );
  },
};

/** A layer that does not apply to an internal host: a stand-in that reads nothing (`needs: []`). */
function notApplicable(id: LayerId): Check {
  return {
    ...layer(id),
    needs: [],
    async run(ctx: CheckContext) {
      return skip(this, `not checked: ${ctx.target.host} is internal (no public backend to check)`, {
        reason: 'internal',
      });
    },
  };
}

/**
 * The layers an --internal host runs through: same ids and order as the registry's LAYERS, so every reporter renders
 * it unchanged. The four above have a judge of their own; every other layer (those after the route: they describe a
 * backend) does not apply.
 */
export const internalLayers = (dns: Check<'dns'>): readonly Check[] => {
  const judged: Partial<Record<LayerId, Check>> = {
    dns: internalDns(dns),
    proxy: internalProxy,
    listener: internalListener,
    route: internalRoute,
  };
  return LAYER_IDS.map((id) => judged[id] ?? notApplicable(id));
};
