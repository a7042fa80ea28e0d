// Layer 2: the reverse proxy answers TLS for the host and forwards to the Istio gateway.
// Per resolved address: TLS pre-flight (chain, SANs, expiry), then GET with Host = host, no redirects followed.
// The answer is classified (src/net/classify.ts); with cluster access the same request goes straight to the
// gateway's NodePort to tell a proxy fault from a cluster fault. Envoy's own replies are carried to the cluster
// layer they point at (404 NR -> route, 500 NC -> grant, 503 UH/UF -> endpoints).

import { layer, layerMayEmit } from '../src/registry.js';
import { emit, commandFix, pass, textFix, type Draft } from '../src/findings.js';
import { ClusterAccessError, GwdoctorError } from '../src/errors.js';
import {
  classifyResponse,
  describeClassification,
  FAULT_LAYERS,
  FAULT_TEXT,
  gatewayAnswered,
  isErrorStatus,
  localReplyShape,
  resetReason,
  type Classification,
} from '../src/net/classify.js';
import { layersAfter } from '../src/layer.js';
import { describeNoDirect, planDirect, type DirectTarget, type NodeSurvey } from '../src/net/direct.js';
import { mapLimit } from '../src/net/limit.js';
import { describeNetCode, isTlsCode, ProbeFailure, TlsProbeFailure } from '../src/net/probe-errors.js';
import type { TlsDetails } from '../src/net/tls-inspect.js';
import type {
  AddressAnswer,
  EnvoyAnswer,
  LayerId,
  Evidence,
  Fix,
  HttpProbe,
  HttpProbeResult,
  NodeFact,
  Observed,
  PortInUse,
  ProxyAnswer,
  SniFact,
  Symptom,
  TlsFact,
} from '../src/types.js';
import type { Check, CheckContext } from '../src/check.js';
import type { PathResolver } from '../src/gatewayapi/resolver.js';

export const EXPIRY_WARN_DAYS = 14;
const MAX_PARALLEL = 4;

type Proxied =
  | { address: AddressAnswer; ok: true; res: HttpProbeResult; cls: Classification }
  | { address: AddressAnswer; ok: false; err: ProbeFailure };

type Direct =
  | { kind: 'unavailable'; why: string }
  | { kind: 'failed'; target: DirectTarget; code: string }
  | { kind: 'answered'; target: DirectTarget; res: HttpProbeResult; cls: Classification; sni?: SniSeen }
  /** An HTTPS listener: the gateway resets the TLS handshake for the SNI the listener's hostname requires (the host). */
  | { kind: 'sni-reset'; target: DirectTarget; code: string };

/** An HTTPS listener's NodePort: the TLS handshake with SNI = the host, and without SNI ('ok' or the failure's code). */
interface SniSeen {
  host: string;
  withHost: 'ok';
  withoutSni: string;
}

/** Connection-level failures: nothing listens or the packets are dropped (not a handshake the peer refused). */
const NOT_THERE = new Set([
  'ECONNREFUSED',
  'CONNECT_TIMEOUT',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ABORT_ERR',
]);

/** One TLS handshake with `servername` ('' = no SNI; the address is an IP, so Node sends none): 'ok' or the failure's code. */
async function tlsHandshake(address: string, port: number, servername: string, signal: AbortSignal): Promise<string> {
  // node:tls loads here, at the first handshake: an offline run never pays for it (bench/README.md, start-up).
  const { handshake } = await import('../src/net/tls-inspect.js');
  try {
    const { socket } = await handshake({ address, port, servername, signal });
    socket.destroy();
    return 'ok';
  } catch (err) {
    if (err instanceof ProbeFailure) return err.code;
    throw err;
  }
}

interface Judged {
  draft: Draft;
  carried?: EnvoyAnswer;
  /** The draft (a fail) shows what the client gets, not why: a cluster layer may explain it (src/pipeline.ts). */
  symptom?: Symptom;
  /** The address probed (set by the layer's loop). */
  address?: string;
}

const RANK: Record<Draft['status'], number> = { fail: 4, error: 3, warn: 2, pass: 1, skip: 0 };

function hostPort(address: string, port: number): string {
  return `${address.includes(':') ? `[${address}]` : address}:${port}`;
}

function tlsEvidence(address: string, port: number, t: TlsDetails): Evidence {
  const leaf = t.chain[0];
  const days = t.daysLeft === null ? '' : ` (${t.daysLeft} days left)`;
  const chain = t.chain.length > 1 ? `; chain: ${t.chain.map((c) => c.subject || '?').join(' <- ')}` : '';
  return {
    ref: `TLS ${hostPort(address, port)}`,
    detail: `${t.protocol ?? 'TLS'}, subject ${leaf?.subject || '-'}, issuer ${leaf?.issuer || '-'}, SANs ${t.san.join(', ') || '-'}, valid ${t.validFrom ?? '?'} to ${t.validTo ?? '?'}${days}${chain}`,
  };
}

function tlsFact(address: string, port: number, t: TlsDetails): TlsFact {
  const leaf = t.chain[0];
  return {
    address: hostPort(address, port),
    notBefore: t.validFrom,
    notAfter: t.validTo,
    daysLeft: t.daysLeft,
    sans: t.san,
    subject: leaf?.subject || t.subject,
    issuer: leaf?.issuer || t.issuer,
  };
}

function responseEvidence(ref: string, res: HttpProbeResult, cls: Classification): Evidence {
  const env = Object.keys(res.headers).filter((h) => h.startsWith('x-envoy-'));
  const body = res.bodySnippet.trim().replace(/\s+/g, ' ').slice(0, 80);
  return {
    ref,
    detail: `${describeClassification(cls)}; server: ${res.headers['server'] ?? '-'}${env.length ? `; ${env.join(', ')}` : ''}; body: ${body ? JSON.stringify(body) : 'empty'}${res.bodyOpen ? ' (the body was still open: a stream; the status and headers are the answer, not read further)' : ''}`,
  };
}

export const proxy: Check<'proxy'> = {
  ...layer('proxy'),
  async run(ctx: CheckContext) {
    const { host, path, query } = ctx.target;
    const addresses = ctx.probes.addresses;
    if (!addresses) throw new Error("proxy layer ran without the dns layer's addresses");
    const port = ctx.net.port ?? ctx.target.port ?? 443;
    const url = new URL(`https://${host}:${port}${path}${query ? `?${query}` : ''}`);
    const probe = await ctx.probe();
    const check = this;

    const proxied: Proxied[] = await mapLimit(addresses, MAX_PARALLEL, async (address): Promise<Proxied> => {
      try {
        const res = await probe.get(url, {
          address: address.address,
          signal: ctx.signal,
          ...(ctx.net.caFile ? { caFile: ctx.net.caFile } : {}),
        });
        return { address, ok: true, res, cls: classifyResponse(res, url) };
      } catch (err) {
        if (err instanceof ProbeFailure) return { address, ok: false, err };
        throw err;
      }
    });

    let directPromise: Promise<Direct> | undefined;
    const direct = () => (directPromise ??= directProbe(ctx, probe));
    const ports = await portInUse(ctx, probe, proxied);
    // The port the proxy forwards to is known: its NodePort answer is the one to compare the proxy's with.
    if (ports?.direct) directPromise = Promise.resolve(ports.direct);

    // IPv6 addresses this machine cannot route to say nothing about the proxy when another address answered.
    const anyOk = proxied.some((p) => p.ok);
    const judged: Judged[] = [];
    const notes: Evidence[] = [];
    const tlsFacts: TlsFact[] = [];
    for (const p of proxied) {
      if (
        !p.ok &&
        anyOk &&
        p.address.family === 6 &&
        ['ENETUNREACH', 'EHOSTUNREACH', 'EADDRNOTAVAIL'].includes(p.err.code)
      ) {
        notes.push({
          ref: `GET ${url.href} via ${p.address.address}`,
          detail: `not tried: ${describeNetCode(p.err.code)} from this machine (IPv6)`,
        });
        continue;
      }
      judged.push({ ...(await judge(check, ctx, url, port, p, direct)), address: p.address.address });
      const t = p.ok ? (p.res.tls as TlsDetails | null) : p.err instanceof TlsProbeFailure ? p.err.tls : null;
      if (t) tlsFacts.push(tlsFact(p.address.address, port, t));
    }
    // The worst address decides; the others add their evidence.
    judged.sort((a, b) => RANK[b.draft.status] - RANK[a.draft.status]);
    const worst = judged[0] as Judged;
    // Every node's nodePort: with externalTrafficPolicy Local (or when the proxy could not reach the gateway).
    const survey = await surveyNodes(ctx, probe, worst.draft.code === 'ProxyUpstreamError');
    const judgedCode = worst.draft.code;
    if (survey) worst.draft = judgeNodes(check, worst.draft, survey, host);
    // Only what the client gets, at every address that fails (a silent node the survey names is a cause of its own).
    const symptom =
      worst.symptom && worst.draft.code === judgedCode && judged.every((j) => j.draft.status !== 'fail' || j.symptom)
        ? worst.symptom
        : undefined;
    const others = judged.slice(1).flatMap((j) => j.draft.evidence);
    // Envoy's own error answers go to the cluster layer they point at, as this layer's explicit output.
    const envoy: NonNullable<Observed['envoy']> = [];
    for (const j of judged) {
      const c = j.carried;
      if (
        c &&
        !envoy.some(
          (e) => e.layer === c.layer && e.evidence.ref === c.evidence.ref && e.evidence.detail === c.evidence.detail,
        )
      )
        envoy.push(c);
    }
    // What the proxy answered, for the cluster layers to compare with their prediction (a redirect's Location).
    const answers: ProxyAnswer[] = proxied.flatMap((p) =>
      p.ok
        ? [
            {
              ref: `GET ${url.href} via ${p.address.address}`,
              url: url.href,
              statusCode: p.res.statusCode,
              location: p.res.headers['location'] ?? null,
              fromUpstream: p.res.headers['x-envoy-upstream-service-time'] !== undefined,
            },
          ]
        : [],
    );
    // The worst address's certificate first, as its evidence comes first.
    const worstAt = hostPort(worst.address ?? '', port);
    const tls = [...tlsFacts.filter((f) => f.address === worstAt), ...tlsFacts.filter((f) => f.address !== worstAt)];
    return {
      ...worst.draft,
      evidence: [...worst.draft.evidence, ...others, ...notes, ...(ports?.evidence ?? [])].filter(
        (e, i, all) => all.findIndex((x) => x.ref === e.ref && x.detail === e.detail) === i,
      ),
      facts: {
        ...worst.draft.facts,
        ...(survey ? { nodes: survey.nodes } : {}),
        tls,
        answers: proxied.flatMap((p) =>
          p.ok
            ? [
                {
                  address: p.address.address,
                  port,
                  statusCode: p.res.statusCode,
                  location: p.res.headers['location'] ?? null,
                },
              ]
            : [],
        ),
      },
      observed: {
        envoy,
        answers,
        ...(ports?.port ? { port: ports.port } : {}),
        ...(survey ? { nodes: { service: survey.service, nodes: survey.nodes } } : {}),
        ...(symptom ? { symptom } : {}),
      },
    };
  },
};

async function directProbe(ctx: CheckContext, probe: HttpProbe): Promise<Direct> {
  if (!ctx.path) return { kind: 'unavailable', why: ctx.clusterUnavailable ?? 'no cluster source' };
  let plan;
  try {
    plan = await planDirect(ctx.path);
  } catch (err) {
    if (err instanceof ClusterAccessError || err instanceof GwdoctorError)
      return { kind: 'unavailable', why: `cannot read the cluster: ${err.message}` };
    throw err;
  }
  if (!plan.ok) return { kind: 'unavailable', why: describeNoDirect(plan.why) };
  let last: Direct = { kind: 'unavailable', why: 'no node to try' };
  for (const t of plan.targets) {
    const { path, query, host } = ctx.target;
    if (t.protocol === 'HTTPS') {
      // The proxy re-encrypts: Envoy picks the filter chain by SNI (the listener's hostname), and resets the handshake
      // when none matches. Speak TLS with the host as SNI, and without SNI (what nginx sends by default).
      const withHost = await tlsHandshake(t.address, t.nodePort, host, ctx.signal);
      if (withHost !== 'ok') {
        last = NOT_THERE.has(withHost)
          ? { kind: 'failed', target: t, code: withHost }
          : { kind: 'sni-reset', target: t, code: withHost };
        if (ctx.signal.aborted) break;
        continue;
      }
      const withoutSni = await tlsHandshake(t.address, t.nodePort, '', ctx.signal);
      const u = new URL(`https://${host}:${t.nodePort}${path}${query ? `?${query}` : ''}`);
      const sni: SniSeen = { host, withHost, withoutSni };
      try {
        // The certificate is the listener's own (a cluster Secret): the listener layer judges it, not this probe.
        const res = await probe.get(u, { address: t.address, hostHeader: host, signal: ctx.signal, insecure: true });
        return { kind: 'answered', target: t, res, cls: classifyResponse(res, u, u, { direct: true }), sni };
      } catch (err) {
        if (!(err instanceof ProbeFailure)) throw err;
        last = { kind: 'failed', target: t, code: err.code };
        if (ctx.signal.aborted) break;
        continue;
      }
    }
    if (t.protocol !== 'HTTP') {
      last = {
        kind: 'unavailable',
        why: `listener ${t.listener} of ${t.gateway} is ${t.protocol}; the direct probe speaks HTTP and HTTPS only`,
      };
      continue;
    }
    const u = new URL(`http://${hostPort(t.address, t.nodePort)}${path}${query ? `?${query}` : ''}`);
    try {
      const res = await probe.get(u, { hostHeader: host, signal: ctx.signal });
      return { kind: 'answered', target: t, res, cls: classifyResponse(res, u, u, { direct: true }) };
    } catch (err) {
      if (!(err instanceof ProbeFailure)) throw err;
      last = { kind: 'failed', target: t, code: err.code };
      if (ctx.signal.aborted) break;
    }
  }
  return last;
}

const MAX_NODE_PROBES = 8;

interface Survey {
  nodes: NodeFact[];
  policy: string;
  service: string;
  evidence: Evidence[];
}

/** The nodes' answers on one nodePort, without what depends on the target (whether the proxy uses the node). */
interface NodeAnswers {
  nodes: Omit<NodeFact, 'usedByProxy'>[];
  /** The Host the requests carried: the first target of the round that needed this survey. */
  host: string;
}

/**
 * The gateway's nodePort on every Node's InternalIP (at most MAX_NODE_PROBES at a time, under the run's signal): who
 * answers, and which nodes hold a ready gateway Pod. Done when the Service's externalTrafficPolicy is Local (only nodes
 * with a ready gateway Pod answer) or when the proxy could not reach the gateway (`always`). Once per Gateway Service
 * port and round of the run: the targets that reach the same nodePort share the answers (ctx.shared), each weighs
 * them with the node its own proxy uses.
 */
async function surveyNodes(ctx: CheckContext, probe: HttpProbe, always: boolean): Promise<Survey | null> {
  if (!ctx.path) return null;
  let plan;
  try {
    plan = await planDirect(ctx.path);
  } catch (err) {
    if (err instanceof ClusterAccessError || err instanceof GwdoctorError) return null; // the direct probe says why
    throw err;
  }
  const t = plan.ok ? plan.targets[0] : undefined;
  if (!plan.ok || !t || (t.protocol !== 'HTTP' && t.protocol !== 'HTTPS')) return null;
  const sv = plan.survey;
  if (sv.nodes.length < 2 || (sv.externalTrafficPolicy !== 'Local' && !always)) return null;
  const key = `every-node ${t.service} ${t.protocol} ${t.nodePort}`;
  let answers = ctx.shared?.get(key) as Promise<NodeAnswers> | undefined;
  if (!answers) {
    answers = probeNodes(ctx, probe, t, sv);
    ctx.shared?.set(key, answers);
  }
  const { nodes: seen, host: asked } = await answers;
  const used = new Set([...(ctx.probes.addresses ?? []).map((a) => a.address), ...ctx.net.expectIps]);
  const nodes = seen.map(
    (n): NodeFact => ({
      node: n.node,
      address: n.address,
      nodePort: n.nodePort,
      readyGatewayPod: n.readyGatewayPod,
      usedByProxy: used.has(n.address),
      answered: n.answered,
      statusCode: n.statusCode,
      error: n.error,
    }),
  );
  const shared =
    asked !== ctx.target.host ? `; asked once for the run's targets on this nodePort (Host: ${asked})` : '';
  const evidence = nodes.map((n) => ({
    ref: `nodePort ${hostPort(n.address, n.nodePort)} (node ${n.node})`,
    detail: `${n.answered ? `answers HTTP ${n.statusCode}` : `silent: ${describeNetCode(n.error ?? '')}`}; ${n.readyGatewayPod === null ? 'gateway Pods not known' : n.readyGatewayPod ? 'a ready gateway Pod runs here' : 'no ready gateway Pod here'}${n.usedByProxy ? '; the proxy uses this node (DNS answer / --expect-ip)' : ''}${n.answered ? shared : ''}`,
  }));
  return { nodes, policy: sv.externalTrafficPolicy, service: t.service, evidence };
}

/** One request to the nodePort on every node (the target's Host and path), and the nodes with a ready gateway Pod. */
async function probeNodes(ctx: CheckContext, probe: HttpProbe, t: DirectTarget, sv: NodeSurvey): Promise<NodeAnswers> {
  const resolver = ctx.path as PathResolver;
  let ready: Set<string> | null = null;
  try {
    const pods = Object.keys(sv.selector).length
      ? await resolver.settle((v) => v.pods(sv.namespace, sv.selector))
      : null;
    if (pods)
      ready = new Set(
        pods
          .filter(
            (p) => p.spec?.nodeName && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
          )
          .map((p) => p.spec?.nodeName as string),
      );
  } catch (err) {
    if (!(err instanceof ClusterAccessError || err instanceof GwdoctorError)) throw err;
  }
  const { host, path, query } = ctx.target;
  const nodes = await mapLimit(sv.nodes, MAX_NODE_PROBES, async (n): Promise<NodeAnswers['nodes'][number]> => {
    const base = {
      node: n.node,
      address: n.address,
      nodePort: t.nodePort,
      readyGatewayPod: ready ? ready.has(n.node) : null,
    };
    const u =
      t.protocol === 'HTTPS'
        ? new URL(`https://${host}:${t.nodePort}${path}${query ? `?${query}` : ''}`)
        : new URL(`http://${hostPort(n.address, t.nodePort)}${path}${query ? `?${query}` : ''}`);
    try {
      const res = await probe.get(u, {
        ...(t.protocol === 'HTTPS' ? { address: n.address, insecure: true } : {}),
        hostHeader: host,
        signal: ctx.signal,
      });
      return { ...base, answered: true, statusCode: res.statusCode, error: null };
    } catch (err) {
      if (!(err instanceof ProbeFailure)) throw err;
      return { ...base, answered: false, statusCode: null, error: err.code };
    }
  });
  return { nodes, host };
}

/** Weigh the every-node probe: the node the proxy uses is silent (fail); some nodes silent and the proxy's node not named (warn). */
function judgeNodes(check: Check<'proxy'>, d: Draft, s: Survey, host: string): Draft {
  const answering = s.nodes.filter((n) => n.answered);
  const silent = s.nodes.filter((n) => !n.answered);
  const used = s.nodes.filter((n) => n.usedByProxy);
  const evidence = [...d.evidence, ...s.evidence];
  if (silent.length === 0 || answering.length === 0) return { ...d, evidence };
  const list = (ns: NodeFact[]) => ns.map((n) => `${n.node} (${n.address})`).join(', ');
  const withPod = s.nodes.filter((n) => n.readyGatewayPod);
  const good =
    (withPod.length ? answering.filter((n) => n.readyGatewayPod) : answering)[0] ?? (answering[0] as NodeFact);
  const [ns, svc] = s.service.split('/') as [string, string];
  const fix = textFix(
    [
      `point the proxy's upstream for ${host} at a node that runs a gateway Pod, e.g. ${hostPort(good.address, good.nodePort)}${withPod.length ? ` (ready gateway Pods on: ${list(withPod)})` : ''}`,
      `or set externalTrafficPolicy: Cluster on ${s.service} (kubectl -n ${ns} get service ${svc} -o jsonpath='{.spec.externalTrafficPolicy}'): every node then forwards to a gateway Pod, at the cost of the client's source IP (replaced by SNAT) and an extra hop; Istio writes this Service from the Gateway, so set it in the Gateway's infrastructure.parametersRef ConfigMap (key service)`,
      'or run a gateway Pod on every node the proxy may use (more replicas spread over kubernetes.io/hostname)',
    ].join('\n'),
    `with externalTrafficPolicy ${s.policy} the nodePort answers on ${list(answering)} and not on ${list(silent)}`,
  );
  const silentUsed = used.filter((n) => !n.answered);
  // Only a request that failed is blamed on the silent node. A proxy that runs on that node and was served is what
  // kube-proxy does: a connection that starts on the node (or in a Pod) goes to every ready endpoint even with
  // externalTrafficPolicy Local ("short-circuit local traffic", kubernetes pkg/proxy/nftables/proxier.go; iptables:
  // --src-type LOCAL); only clients from outside the node are dropped there, which is what gwdoctor's probe saw.
  if (silentUsed.length > 0 && d.status === 'pass') {
    return emit(
      check,
      'GatewayNodesPartlySilent',
      `${d.summary}; but from outside, the gateway's nodePort ${good.nodePort} is silent on ${list(silentUsed)}, the node the proxy runs on (its traffic to its own node goes to every gateway Pod; other clients of that node are dropped), and answers on ${list(answering)} (externalTrafficPolicy ${s.policy})`,
      { evidence, fix, facts: d.facts },
    );
  }
  if (silentUsed.length > 0 && d.status === 'fail' && d.code === 'ProxyUpstreamError') {
    return emit(
      check,
      'GatewayProxyNodeSilent',
      `the proxy forwards to node ${list(silentUsed)}, where nothing answers on nodePort ${good.nodePort}; ${list(answering)} answer${withPod.length ? `, and ready gateway Pods run on ${list(withPod)}` : ''} (externalTrafficPolicy ${s.policy})`,
      { evidence, fix, facts: d.facts },
    );
  }
  if (used.length === 0 && d.status === 'pass') {
    return emit(
      check,
      'GatewayNodesPartlySilent',
      `${d.summary}; but the gateway's nodePort ${good.nodePort} is silent on ${list(silent)} while ${list(answering)} answer (externalTrafficPolicy ${s.policy}): a proxy pointed at a silent node fails`,
      { evidence, fix, facts: d.facts },
    );
  }
  return { ...d, evidence };
}

/**
 * Which Gateway port does the proxy forward to? When the Gateway accepts the host on several plain-HTTP ports with a
 * nodePort each (and --gateway gave no port), the same GET goes straight to each port's NodePort; if exactly one
 * answers like the proxy did (status, Location, body), that is the port in use, and the cluster layers judge it.
 */
async function portInUse(
  ctx: CheckContext,
  probe: HttpProbe,
  proxied: Proxied[],
): Promise<{ port: PortInUse | null; evidence: Evidence[]; direct?: Direct } | null> {
  const seen = proxied.find((p): p is Extract<Proxied, { ok: true }> => p.ok);
  if (!ctx.path || ctx.gatewayFilter?.port !== undefined || !seen) return null;
  let plan;
  try {
    plan = await planDirect(ctx.path);
  } catch (err) {
    if (err instanceof ClusterAccessError || err instanceof GwdoctorError) return null; // the direct probe says why
    throw err;
  }
  const primary = plan.ok ? plan.targets[0] : undefined;
  if (!plan.ok || !primary || plan.otherPorts.length === 0 || primary.protocol !== 'HTTP') return null;
  const { host, path, query } = ctx.target;
  const key = (r: HttpProbeResult) => `${r.statusCode}|${r.headers['location'] ?? ''}|${r.bodySnippet.trim()}`;
  const tried = await Promise.all(
    [primary, ...plan.otherPorts].map(async (t) => {
      const u = new URL(`http://${hostPort(t.address, t.nodePort)}${path}${query ? `?${query}` : ''}`);
      try {
        const res = await probe.get(u, { hostHeader: host, signal: ctx.signal });
        const cls = classifyResponse(res, u, u, { direct: true });
        return { t, res, cls, ev: responseEvidence(directRef(t, host), res, cls) };
      } catch (err) {
        if (!(err instanceof ProbeFailure)) throw err;
        return { t, res: null, cls: null, ev: { ref: directRef(t, host), detail: describeNetCode(err.code) } };
      }
    }),
  );
  const evidence = tried.map((x) => x.ev);
  const same = tried.filter((x) => x.res && key(x.res) === key(seen.res));
  const differ = new Set(tried.map((x) => (x.res ? key(x.res) : 'none'))).size > 1;
  if (same.length !== 1 || !differ) {
    evidence.push({
      ref: 'gwdoctor',
      detail: differ
        ? `the gateway answers differently on ports ${tried.map((x) => x.t.servicePort).join(', ')}, and the proxy's answer is ${same.length === 0 ? 'none of them' : 'several of them'}: which port the proxy forwards to is not known`
        : `the gateway answers the same on ports ${tried.map((x) => x.t.servicePort).join(', ')}`,
    });
    return { port: null, evidence };
  }
  const hit = same[0] as (typeof same)[number];
  const t = hit.t;
  const others = tried.filter((x) => x.t !== t).map((x) => `${x.t.servicePort} (nodePort ${x.t.nodePort})`);
  const why = `the proxy's answer (HTTP ${seen.res.statusCode}) is the gateway's own on nodePort ${t.nodePort} of Service ${t.service} (port ${t.servicePort}), not on port ${others.join(', ')}`;
  evidence.push({ ref: 'gwdoctor', detail: `the proxy forwards to port ${t.servicePort}: ${why}` });
  return {
    port: { gateway: t.gateway, port: t.servicePort, why },
    evidence,
    direct: { kind: 'answered', target: t, res: hit.res as HttpProbeResult, cls: hit.cls as Classification },
  };
}

function directRef(t: DirectTarget, host: string): string {
  const tls =
    t.protocol === 'HTTPS'
      ? `https://${hostPort(t.address, t.nodePort)} SNI ${host}`
      : `http://${hostPort(t.address, t.nodePort)}`;
  return `direct GET ${tls} Host: ${host} (node ${t.node}, ${t.service} port ${t.servicePort})`;
}

function sniNames(t: DirectTarget): string {
  return t.sniNames.length ? t.sniNames.join(', ') : '(none)';
}

function directEvidence(d: Direct, host: string): Evidence {
  switch (d.kind) {
    case 'unavailable':
      return { ref: 'direct NodePort probe', detail: `not done: ${d.why}` };
    case 'failed':
      return { ref: directRef(d.target, host), detail: describeNetCode(d.code) };
    case 'sni-reset':
      return {
        ref: directRef(d.target, host),
        detail: `the TLS handshake with SNI ${host} was reset (${describeNetCode(d.code)}): no filter chain for this SNI; the HTTPS listeners on port ${d.target.servicePort} have hostnames ${sniNames(d.target)}`,
      };
    case 'answered': {
      const e = responseEvidence(directRef(d.target, host), d.res, d.cls);
      return d.sni
        ? {
            ...e,
            detail: `${e.detail}; TLS with SNI ${d.sni.host}: handshake ok; without SNI: ${d.sni.withoutSni === 'ok' ? 'handshake ok' : `reset (${describeNetCode(d.sni.withoutSni)})`}`,
          }
        : e;
    }
  }
}

async function judge(
  check: Check<'proxy'>,
  ctx: CheckContext,
  url: URL,
  port: number,
  p: Proxied,
  direct: () => Promise<Direct>,
): Promise<Judged> {
  const { host } = ctx.target;
  const at = hostPort(p.address.address, port);
  const ref = `GET ${url.href} via ${p.address.address}`;
  const curl = `curl -sv --resolve ${host}:${port}:${p.address.address} ${url.href} -o /dev/null`;

  if (!p.ok) {
    const err = p.err;
    if (err instanceof TlsProbeFailure) {
      const t = err.tls;
      const what = err.problem;
      return {
        draft: emit(check, 'TlsCertificateInvalid', `the certificate ${at} serves for ${host} is not valid: ${what}`, {
          evidence: [
            tlsEvidence(p.address.address, port, t),
            { ref: `TLS ${at}`, detail: `verification: ${err.code}${t.nameError ? `; ${t.nameError}` : ''}` },
          ],
          fix: commandFix(
            `openssl s_client -connect ${at} -servername ${host} </dev/null 2>/dev/null | openssl x509 -noout -subject -issuer -dates -ext subjectAltName`,
            t.chainError === 'CERT_HAS_EXPIRED'
              ? 'renew the certificate at the proxy (e.g. certbot renew) and reload it'
              : t.nameError
                ? `serve a certificate whose SANs include ${host} (a *.domain wildcard covers one label only)`
                : 'serve the full chain from a CA clients trust, or pass --ca-file for a private CA',
          ),
        }),
      };
    }
    if (isTlsCode(err.code)) {
      return {
        draft: emit(check, 'TlsCertificateInvalid', `the TLS handshake with ${at} for ${host} failed: ${err.code}`, {
          evidence: [{ ref: `TLS ${at}`, detail: err.message }],
          fix: commandFix(
            `openssl s_client -connect ${at} -servername ${host} </dev/null`,
            'see whether the proxy has a certificate for this name (SNI) and speaks TLS on this port',
          ),
        }),
      };
    }
    if (ctx.signal.aborted || err.code === 'ABORT_ERR' || err.code === 'UND_ERR_ABORTED') {
      return {
        draft: emit(check, 'Timeout', `the request to ${at} was cut off by --timeout`, {
          evidence: [{ ref, detail: err.message }],
        }),
      };
    }
    return {
      draft: emit(check, 'ProxyUnreachable', `cannot reach the reverse proxy at ${at}: ${describeNetCode(err.code)}`, {
        evidence: [{ ref, detail: err.message }],
        fix: commandFix(curl, 'check that the proxy listens on this address and port and that no firewall drops it'),
      }),
    };
  }

  const { res, cls } = p;
  const evidence: Evidence[] = [];
  const tls = res.tls as TlsDetails | null;
  if (tls) evidence.push(tlsEvidence(p.address.address, port, tls));
  evidence.push(responseEvidence(ref, res, cls));

  const expiring = (d: Draft): Draft => {
    if (d.status !== 'pass' || !tls || tls.daysLeft === null || tls.daysLeft >= EXPIRY_WARN_DAYS) return d;
    return emit(
      check,
      'TlsCertificateExpiring',
      `the certificate for ${host} at ${at} expires in ${tls.daysLeft} days (${tls.validTo}); ${d.summary}`,
      {
        evidence: d.evidence,
        fix: textFix(
          'renew the certificate at the proxy (e.g. certbot renew) and check that renewal runs automatically',
          `it is valid until ${tls.validTo}`,
        ),
      },
    );
  };

  return byClass(cls);

  /** Judge the answer as `c` says; `same` = the proxy hid Envoy's headers and the NodePort answers exactly the same. */
  async function byClass(c: Classification, same?: Direct): Promise<Judged> {
    switch (c.kind) {
      case 'upgrade-required': {
        const d = same ?? (await direct());
        if (!same) evidence.push(directEvidence(d, host));
        return { draft: http10(check, at, host, res, d, evidence) };
      }
      case 'redirect-loop':
        return {
          draft: emit(
            check,
            'RedirectLoop',
            `${url.href} redirects to itself (${c.statusCode} Location: ${c.location}): browsers will loop`,
            {
              evidence,
              fix: textFix(
                "nginx: proxy_set_header X-Forwarded-Proto $scheme;  (and make the app trust X-Forwarded-Proto), or turn off the app's HTTP->HTTPS redirect: TLS ends at the proxy",
                'behind a TLS-terminating proxy the backend sees plain HTTP and keeps redirecting to https',
              ),
            },
          ),
        };
      case 'upstream':
        return {
          draft: expiring(
            pass(
              check,
              `the proxy at ${at} forwards to the Istio gateway; the backend answered HTTP ${res.statusCode}`,
              { evidence },
            ),
          ),
        };
      case 'redirect':
        return {
          draft: expiring(
            pass(check, `the proxy at ${at} answered ${c.statusCode} redirecting to ${c.location} (not followed)`, {
              evidence,
            }),
          ),
        };
      case 'envoy-other': {
        if (!isErrorStatus(res.statusCode))
          return {
            draft: expiring(
              pass(check, `the proxy at ${at} forwards to the Istio gateway; Envoy answered HTTP ${res.statusCode}`, {
                evidence,
              }),
            ),
          };
        // Envoy answered an error gwdoctor has no rule for (a 429, an ext_authz 403, ...): the request reaches the gateway
        // but does not end well. Never a plain pass: any cluster layer may know why; if none does, it is said so.
        const summary = `the proxy at ${at} forwards to the Istio gateway; Envoy answered HTTP ${res.statusCode} itself`;
        const detail = `${describeClassification(c)}${same ? "; the proxy hides Envoy's headers, the gateway's NodePort answers the same" : ''}`;
        return handOn(
          summary,
          { layer: 'route', also: ['grant', 'endpoints'], evidence: { ref: `proxy: GET ${url.href}`, detail } },
          `Envoy's ${res.statusCode}`,
        );
      }
      case 'proxy-error': {
        const d = await direct();
        evidence.push(directEvidence(d, host));
        const sni = noListenerForSni(d);
        // The gateway resets even the handshake with the host as SNI: what the client gets, not why (no certificate
        // istiod could load, no listener): the listener layer may know.
        if (sni) return { draft: sni, ...(d.kind === 'sni-reset' ? { symptom: noAnswer(d, c.statusCode) } : {}) };
        if (d.kind === 'answered' && sameAsGateway(d))
          return byClass(d.cls.kind === 'envoy' ? { ...d.cls, sure: false } : d.cls, d);
        const fix =
          d.kind === 'answered' && gatewayAnswered(d.cls)
            ? textFix(
                `point the proxy's upstream for ${host} at ${hostPort(d.target.address, d.target.nodePort)} (the gateway answers there), e.g. nginx: proxy_pass http://${hostPort(d.target.address, d.target.nodePort)}; proxy_set_header Host $host;`,
                "the gateway NodePort answers directly, so the proxy's upstream address or port is wrong, or the proxy times out too early",
              )
            : d.kind === 'failed'
              ? textFix(
                  `the gateway NodePort ${hostPort(d.target.address, d.target.nodePort)} does not answer either: check the Service ${d.target.service} (type NodePort, nodePort ${d.target.nodePort}) and its gateway pods`,
                  'the proxy cannot reach the gateway because nothing answers on the NodePort',
                )
              : textFix(
                  "check the proxy's upstream address: it must be <node-ip>:<gateway nodePort> (e.g. 32080), and the proxy must send Host $host",
                  'the proxy, not Envoy, produced this error page',
                );
        return {
          draft: emit(
            check,
            'ProxyUpstreamError',
            `the reverse proxy at ${at} answered ${c.statusCode} itself (${c.server ?? 'no server header'}, no x-envoy-* header): it cannot reach the gateway NodePort`,
            {
              evidence,
              fix,
            },
          ),
          // The gateway answers nothing straight at its NodePort either (or cannot be asked): a Gateway istiod does not
          // program answers nothing, so the listener layer may know why. When it answers, the proxy's upstream is wrong.
          ...(d.kind === 'failed' || d.kind === 'unavailable' ? { symptom: noAnswer(d, c.statusCode) } : {}),
        };
      }
      case 'other': {
        const d = await direct();
        evidence.push(directEvidence(d, host));
        // Through a proxy Envoy's server header is replaced (nginx sends its own): an answer with the shape of an Envoy
        // local reply counts as Envoy's only when the gateway, asked directly, proves it answers the same.
        const shape = localReplyShape(res);
        if (
          shape &&
          d.kind === 'answered' &&
          d.cls.kind === 'envoy' &&
          d.cls.sure &&
          d.cls.fault === shape &&
          d.cls.statusCode === res.statusCode
        ) {
          return envoyReply({ kind: 'envoy', fault: shape, statusCode: res.statusCode, sure: false }, d, true);
        }
        // Any other answer the gateway, asked directly, gives exactly alike (status and body) is the gateway's: the proxy
        // forwards to it and hides Envoy's headers. Never "the proxy answers itself" when the NodePort shows the same.
        if (d.kind === 'answered' && sameAsGateway(d))
          return byClass(d.cls.kind === 'envoy' ? { ...d.cls, sure: false } : d.cls, d);
        // An empty 404 through the proxy while the gateway routes the host when asked directly: most often Envoy's NR
        // because the proxy sends another Host (nginx's default), which envoyReply says with the fix for it.
        if (shape === 'NR' && d.kind === 'answered' && gatewayAnswered(d.cls)) {
          return envoyReply({ kind: 'envoy', fault: shape, statusCode: res.statusCode, sure: false }, d, false);
        }
        if (d.kind === 'answered' && gatewayAnswered(d.cls)) {
          const up = hostPort(d.target.address, d.target.nodePort);
          return {
            draft: emit(
              check,
              'ProxyNotForwardingToGateway',
              `the proxy at ${at} answers ${host} itself (HTTP ${res.statusCode}, ${c.server ?? 'no server header'}, no Envoy signature), while the gateway answers at ${up}`,
              {
                evidence,
                fix: textFix(
                  `in the proxy's server block for ${host}: location / { proxy_pass http://${up}; proxy_set_header Host $host; proxy_set_header X-Forwarded-Proto $scheme; }`,
                  `the request for ${host} never reaches the Istio gateway: the proxy serves it from another server block or a default site`,
                ),
              },
            ),
          };
        }
        if (isErrorStatus(res.statusCode)) {
          // An error nobody can attribute to Envoy: the request ends in it, so this layer fails with what was seen. With
          // the shape of an Envoy reply and no gateway answer to compare with, a cluster layer whose fault gives that
          // reply may still explain it (no listener accepts the host: no direct probe, and Envoy's empty 404).
          const symptom: Symptom | undefined =
            shape && d.kind !== 'answered'
              ? {
                  layers: [...new Set<LayerId>(['listener', ...FAULT_LAYERS[shape], 'dataplane'])],
                  seen: `the proxy at ${at} answered HTTP ${res.statusCode} (${c.server ? `server: ${c.server}` : 'no server header'}), the shape of Envoy's ${shape} reply; ${directSaid(d)}`,
                  evidence: {
                    ref: `proxy: GET ${url.href}`,
                    detail: `HTTP ${res.statusCode}${res.bodySnippet.trim() ? '' : ' with an empty body'} (${c.server ? `server: ${c.server}` : 'no server header'}, no Envoy signature): the shape of Envoy's ${shape} reply; ${directSaid(d)}`,
                  },
                }
              : undefined;
          return {
            ...(symptom ? { symptom } : {}),
            draft: emit(
              check,
              'ProxyErrorResponse',
              `the proxy at ${at} answered HTTP ${res.statusCode} (${c.server ? `server: ${c.server}` : 'no server header'}, no Envoy signature): nothing shows that the Istio gateway sent it`,
              {
                evidence,
                fix: textFix(
                  `${curl.replace(' -o /dev/null', '')}\n# the proxy's upstream for ${host} must be <node-ip>:<gateway nodePort> with Host $host`,
                  d.kind === 'unavailable'
                    ? `see who answers: the direct NodePort probe was not possible (${d.why}); with cluster access gwdoctor can compare the gateway's own answer`
                    : "see who answers: neither the proxy's answer nor the gateway's NodePort shows Envoy behind it",
                ),
              },
            ),
          };
        }
        evidence.push({
          ref: 'gwdoctor',
          detail:
            'no Envoy signature (x-envoy-* headers) in the answer: cannot confirm that it came from the Istio gateway',
        });
        return {
          draft: expiring(
            pass(
              check,
              `the proxy at ${at} answered HTTP ${res.statusCode}; whether it came from the gateway is not confirmed`,
              { evidence },
            ),
          ),
        };
      }
      case 'envoy': {
        const d = same ?? (await direct());
        if (!same) evidence.push(directEvidence(d, host));
        return envoyReply(c, d, same !== undefined);
      }
    }
  }

  /** What the direct NodePort probe said, when it got no HTTP answer. */
  function directSaid(d: Exclude<Direct, { kind: 'answered' }>): string {
    switch (d.kind) {
      case 'failed':
        return `straight at the gateway's NodePort ${hostPort(d.target.address, d.target.nodePort)}: ${describeNetCode(d.code)}`;
      case 'sni-reset':
        return `the gateway at ${hostPort(d.target.address, d.target.nodePort)} resets the TLS handshake with SNI ${host} (${describeNetCode(d.code)})`;
      case 'unavailable':
        return `no direct NodePort probe: ${d.why}`;
    }
  }

  /** The proxy's own error page while the gateway gives no HTTP answer: what the client gets, for the cluster layers. */
  function noAnswer(d: Exclude<Direct, { kind: 'answered' }>, statusCode: number): Symptom {
    const server = res.headers['server'] ?? 'no server header';
    return {
      layers: ['listener', 'dataplane'],
      seen: `the reverse proxy at ${at} answers ${statusCode} itself (${server}): the gateway gives it no HTTP answer; ${directSaid(d)}`,
      evidence: {
        ref: `proxy: GET ${url.href}`,
        detail: `HTTP ${statusCode} from the proxy itself (${server}): the gateway gave it no HTTP answer; ${directSaid(d)}`,
      },
    };
  }

  /**
   * The proxy answered an error page and the path's listener is HTTPS: the gateway resets the TLS handshake for the SNI
   * the proxy sends (none, nginx's default) while it answers with the host as SNI; or it resets even that.
   */
  function noListenerForSni(d: Direct): Draft | null {
    if ((d.kind !== 'answered' && d.kind !== 'sni-reset') || d.target.protocol !== 'HTTPS') return null;
    const t = d.target;
    const up = hostPort(t.address, t.nodePort);
    const lines = [
      `nginx: proxy_pass https://${up}; proxy_ssl_server_name on; proxy_ssl_name $host;   (proxy_ssl_server_name is off by default: nginx sends no SNI)`,
      `HAProxy: server gw ${up} ssl verify required ca-file <gateway-ca.pem> sni req.hdr(host)`,
      `Caddy: reverse_proxy https://${up} { transport http { tls_server_name ${host} } }`,
    ];
    const fact: SniFact = {
      address: up,
      gateway: t.gateway,
      listener: t.listener,
      listenerHostnames: t.sniNames,
      host,
      withHost: d.kind === 'answered' ? 'ok' : d.code,
      withoutSni: d.kind === 'answered' ? (d.sni?.withoutSni ?? null) : null,
    };
    if (d.kind === 'answered' && d.sni && d.sni.withoutSni !== 'ok' && gatewayAnswered(d.cls)) {
      return emit(
        check,
        'GatewayNoListenerForSni',
        `the proxy at ${at} answered ${res.statusCode} itself; the gateway's HTTPS listener ${t.listener} at ${up} resets the TLS handshake without SNI and answers with SNI ${host} (${describeClassification(d.cls)}): the proxy re-encrypts without sending ${host} as SNI (listener hostnames: ${sniNames(t)})`,
        {
          evidence,
          facts: { sni: fact },
          fix: textFix(
            lines.join('\n'),
            `Envoy picks the HTTPS listener's filter chain by SNI (the listener hostnames ${sniNames(t)}) and resets the handshake when none matches: the proxy must send the host as SNI`,
          ),
        },
      );
    }
    if (d.kind === 'sni-reset') {
      return emit(
        check,
        'GatewayNoListenerForSni',
        `the gateway at ${up} resets the TLS handshake for SNI ${host}: no listener for this SNI (HTTPS listeners on port ${t.servicePort} of ${t.gateway}: ${sniNames(t)})`,
        {
          evidence,
          facts: { sni: fact },
          fix: textFix(
            `kubectl -n ${t.gateway.split('/')[0]} get gateway ${t.gateway.split('/')[1]} -o yaml   # the HTTPS listener for ${host}: its hostname, and its ResolvedRefs/Programmed conditions\n${lines.join('\n')}`,
            `Envoy has no filter chain for SNI ${host}: istiod writes one per HTTPS listener whose hostname matches and whose certificate it could load; once it has one, the proxy must send the host as SNI`,
          ),
        },
      );
    }
    return null;
  }

  /** The gateway, asked directly, gives exactly this answer (status and body): the proxy forwarded it, hiding Envoy's headers. */
  function sameAsGateway(d: Extract<Direct, { kind: 'answered' }>): boolean {
    return (
      gatewayAnswered(d.cls) &&
      d.res.statusCode === res.statusCode &&
      d.res.bodySnippet.trim() === res.bodySnippet.trim()
    );
  }

  /** Envoy answered `c` through the proxy (`confirmed` = only the direct probe shows it was Envoy). */
  function envoyReply(c: Extract<Classification, { kind: 'envoy' }>, d: Direct, confirmed: boolean): Judged {
    const sameFault = d.kind === 'answered' && d.cls.kind === 'envoy' && d.cls.fault === c.fault;
    if (
      !confirmed &&
      d.kind === 'answered' &&
      gatewayAnswered(d.cls) &&
      !sameFault &&
      (c.fault === 'NR' || d.cls.kind === 'upstream')
    ) {
      const up = hostPort(d.target.address, d.target.nodePort);
      if (c.fault === 'NR') {
        return {
          draft: emit(
            check,
            'ProxyNotForwardingToGateway',
            `through the proxy Envoy finds no route (404), but straight at ${up} with Host: ${host} it answers ${describeClassification(d.cls)}: the proxy sends a different Host`,
            {
              evidence,
              fix: textFix(
                'nginx: proxy_set_header Host $host;   (HAProxy: http-request set-header Host %[req.hdr(host)]; Caddy: header_up Host {host})',
                'nginx sends Host $proxy_host (the upstream address, e.g. 10.0.0.5:32080) by default; Envoy routes by Host and answers 404',
              ),
            },
          ),
        };
      }
      return {
        draft: emit(
          check,
          'ProxyNotForwardingToGateway',
          `through the proxy the answer is ${describeClassification(c)}, but the gateway at ${up} answers ${describeClassification(d.cls)}: the proxy forwards elsewhere`,
          {
            evidence,
            fix: textFix(
              `point the proxy's upstream for ${host} at http://${up} and send Host $host`,
              'the proxy reaches another Envoy or another port than the gateway that serves this host',
            ),
          },
        ),
      };
    }
    const both = sameFault ? ' (the NodePort answers the same directly)' : '';
    const reason = c.fault === 'UF' ? resetReason(res.bodySnippet) : null;
    const carriedEv: Evidence = {
      ref: `proxy: GET ${url.href}`,
      detail: `HTTP ${c.statusCode} ${FAULT_TEXT[c.fault]}${reason ? `, reset reason: ${reason}` : ''}${both}${c.sure ? '' : "; the proxy hides Envoy's headers, the direct NodePort answer shows it"}`,
    };
    const [first, ...also] = FAULT_LAYERS[c.fault];
    // The RBAC filter's body says what answered (an AuthorizationPolicy): without cluster access that is still this
    // layer's finding; with it, the mesh layer names the policy and rule.
    if (!first || (c.fault === 'RBAC' && !ctx.cluster)) return { draft: ownFinding(c, carriedEv) };
    const summary = `the proxy at ${at} forwards to the Istio gateway; Envoy answered ${c.statusCode} (${c.fault})${both}: the fault is inside the cluster (${[first, ...also].join(' or ')})`;
    if (!ctx.cluster && c.fault === 'NR')
      evidence.push({
        ref: 'gwdoctor',
        detail:
          'without cluster access the listener/route layers cannot say why; if the proxy is nginx, also make sure it sends proxy_set_header Host $host',
      });
    const unexplained =
      c.fault === 'UF'
        ? { code: 'BackendConnectFailed' as const, fix: connectFix(res.bodySnippet) }
        : c.fault === 'RBAC'
          ? { code: 'GatewayRbacDenied' as const, fix: rbacFix() }
          : null;
    const entry: EnvoyAnswer = {
      layer: first,
      ...(also.length ? { also } : {}),
      evidence: carriedEv,
      ...(unexplained ? { unexplained } : {}),
    };
    return handOn(summary, entry, `Envoy's ${c.statusCode} points at the ${[first, ...also].join(' or ')} layer`);
  }

  /**
   * Hand Envoy's answer to the cluster layers that can explain it (src/layer.ts weighs it there). When the run has
   * none of them (no cluster access, or a run without those layers), this layer says that nothing explains it.
   */
  function handOn(summary: string, entry: EnvoyAnswer, why: string): Judged {
    const later = ctx.later ?? layersAfter(check.id);
    if (ctx.cluster && [entry.layer, ...(entry.also ?? [])].some((l) => later.includes(l)))
      return { draft: expiring(pass(check, summary, { evidence })), carried: entry };
    if (!ctx.cluster) {
      if (!evidence.some((e) => e.ref === 'gwdoctor'))
        evidence.push({ ref: 'gwdoctor', detail: 'without cluster access the cluster layers cannot say why' });
      return { draft: noClusterToExplain(check, ctx, summary, evidence, why) };
    }
    const own = entry.unexplained;
    if (own && layerMayEmit('proxy', own.code))
      return {
        draft: emit(check, own.code, `${summary}; no layer of this run can explain it`, {
          evidence: [...evidence, entry.evidence],
          fix: own.fix,
        }),
      };
    return {
      draft: emit(check, 'GatewayErrorResponse', `${summary}; no layer of this run can explain it`, {
        evidence: [...evidence, entry.evidence],
      }),
    };
  }

  /** What to look at for the RBAC filter's 403 when no layer of the run names the policy. */
  function rbacFix(): Fix {
    return commandFix(
      `kubectl get authorizationpolicies.security.istio.io -A -o wide`,
      `find the policy that applies to the gateway (targetRefs naming the Gateway, a selector on the gateway Pods' labels, or a policy without selector in the root namespace, istio-system by default) and allow ${host}${ctx.target.path}, or send the identity it requires`,
    );
  }

  /** The RBAC filter's 403 without cluster access (or with no layer left that reads the policies): this layer's own finding. */
  function ownFinding(c: Extract<Classification, { kind: 'envoy' }>, ev: Evidence): Draft {
    return emit(
      check,
      'GatewayRbacDenied',
      `the proxy at ${at} forwards to the Istio gateway, and the gateway's Envoy refused the request: ${c.statusCode} "RBAC: access denied" (an Istio AuthorizationPolicy)`,
      {
        evidence: [
          ...evidence,
          ev,
          {
            ref: 'gwdoctor',
            detail: `the RBAC filter runs before routing; ${ctx.cluster ? 'no layer of this run reads AuthorizationPolicies' : 'without cluster access the mesh layer cannot read the AuthorizationPolicies'}: with cluster access (or --manifests holding the policies) it names the policy and rule that deny the request, with the smallest fix`,
          },
        ],
        fix: rbacFix(),
      },
    );
  }
}

/** Which reverse proxy sent an answer, by its `server` header (HAProxy sends none by default). */
export function proxyKind(server: string | null | undefined): 'nginx' | 'caddy' | 'haproxy' | null {
  const s = (server ?? '').toLowerCase();
  if (/\b(nginx|openresty|tengine)\b/.test(s)) return 'nginx';
  if (/\bcaddy\b/.test(s)) return 'caddy';
  if (/\bhaproxy\b/.test(s)) return 'haproxy';
  return null;
}

// What each proxy sends upstream, as its own documentation and code say (only true lines are printed):
// - nginx: proxy_http_version, "By default, version 1.0 is used" (ngx_http_proxy_module).
// - Caddy: reverse_proxy transport http `versions`, "Default: 1.1 2" (caddyserver.com/docs/caddyfile/directives/reverse_proxy).
// - HAProxy: the H1 mux writes HTTP/1.1 on the request line when the request is HTTP/1.1 (HTTP/2 requests included),
//   otherwise the client's own version (src/h1_htx.c, h1_format_htx_reqline).
const HTTP11_LINE = {
  nginx: "nginx: proxy_http_version 1.1;   (in the location that proxies to the gateway; nginx's default is HTTP/1.0)",
  caddy:
    'Caddy: reverse_proxy already speaks HTTP/1.1 or 2 upstream (transport http versions, default "1.1 2"): a hop between Caddy and the gateway speaks HTTP/1.0',
  haproxy:
    "HAProxy: sends HTTP/1.1 upstream for HTTP/1.1 and HTTP/2 clients and keeps only an HTTP/1.0 client's version; gwdoctor asked in HTTP/1.1, so a hop between HAProxy and the gateway speaks HTTP/1.0",
} as const;

/** 426 Upgrade Required through the proxy: the proxy (or a hop behind it) speaks HTTP/1.0 to Istio's gateway Envoy. */
function http10(
  check: Check<'proxy'>,
  at: string,
  host: string,
  res: HttpProbeResult,
  d: Direct,
  evidence: Evidence[],
): Draft {
  const kind = proxyKind(res.headers['server']);
  const lines = kind ? [HTTP11_LINE[kind]] : [HTTP11_LINE.nginx, HTTP11_LINE.haproxy, HTTP11_LINE.caddy];
  const gateway =
    d.kind === 'answered' && gatewayAnswered(d.cls)
      ? `; the gateway's NodePort, asked in HTTP/1.1, answers ${describeClassification(d.cls)}`
      : '';
  return emit(
    check,
    'ProxyHttp10Upstream',
    `the proxy at ${at} forwards ${host} to the gateway as HTTP/1.0, and Istio's gateway Envoy refuses HTTP/1.0: 426 Upgrade Required${kind ? ` (the proxy is ${kind})` : ''}${gateway}`,
    {
      evidence,
      fix: textFix(
        lines.join('\n'),
        "Istio's gateway listeners do not accept HTTP/1.0 (accept_http_10 off) and answer 426 Upgrade Required",
      ),
    },
  );
}

/** The fix for Envoy's 503 `upstream connect error` to endpoints that are ready: what the reset reason points at. */
function connectFix(body: string): Fix {
  const reason = resetReason(body) ?? 'not given';
  const tls = /tls|ssl|certificate|handshake/i.test(reason);
  return textFix(
    tls
      ? 'make the gateway and the backend agree on TLS: a DestinationRule for the Service with tls.mode SIMPLE or ISTIO_MUTUAL to a backend that speaks plain HTTP (or the reverse); kubectl get destinationrules.networking.istio.io -A'
      : "check that the backend Pods listen on the Service's targetPort (kubectl -n <ns> exec <pod> -- ss -ltn, or the container's port), that no NetworkPolicy drops traffic from the gateway, and whether a DestinationRule sets TLS for this host",
    `Envoy reached no answer from the ready endpoints; its reset reason: ${reason}`,
  );
}

/**
 * Envoy answered an error and no cluster layer can explain it: inconclusive (exit 2), never a pass or a warning,
 * since the request the user makes ends in that error.
 */
function noClusterToExplain(
  check: Check<'proxy'>,
  ctx: CheckContext,
  summary: string,
  evidence: Evidence[],
  why: string,
): Draft {
  return emit(
    check,
    'GatewayErrorResponse',
    `${summary}; cluster layers not checked: ${ctx.clusterUnavailable ?? 'no cluster source'}`,
    {
      evidence,
      fix: textFix(
        'rerun with cluster access (--kubeconfig/--context) or --manifests, so the cluster layers can name the fault',
        why,
      ),
    },
  );
}
