// The deploy/ kit read by what consumes it: the alert rules by promtool (check + rule unit tests on the series
// gwdoctor really writes), every gwdoctor command line by gwdoctor's own option parser, and the wiring between
// the files (Job -> ServiceAccount -> ClusterRoleBinding -> read-only ClusterRole). The integration suite applies
// the Kubernetes objects to the real control plane (test/integration/deploy.test.ts).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { ROOT, gwdoctor } from '../helpers/cli.js';
import { consumer, runTool } from '../helpers/consumers.js';
import { which } from '../helpers/net/bins.js';
import { parseOptions } from '../../src/options.js';
import { loadManifests } from '../../src/cluster/manifests.js';
import { run as cel, type CelInput } from '@bufbuild/cel';

const promtool = consumer('promtool', 'prometheus');
const DEPLOY = join(ROOT, 'deploy');
const docs = (f: string) => parseAllDocuments(readFileSync(join(DEPLOY, f), 'utf8')).map((d) => d.toJS());

/** Every gwdoctor invocation written in deploy/, as argv after the package name. */
function commandLines(): { where: string; argv: string[] }[] {
  const out: { where: string; argv: string[] }[] = [];
  const job = docs('argocd-postsync-job.yaml')[0];
  const c = job.spec.template.spec.containers[0];
  out.push({ where: 'argocd-postsync-job.yaml', argv: c.args });
  const cron = docs('cronjob-prometheus.yaml')[0];
  const script: string = cron.spec.jobTemplate.spec.template.spec.containers[0].args[0];
  const wf = parse(readFileSync(join(DEPLOY, 'github-actions', 'gwdoctor.yml'), 'utf8'));
  const runs: string[] = Object.values(wf.jobs as Record<string, { steps: { run?: string }[] }>).flatMap((j) => j.steps.map((s) => s.run ?? ''));
  for (const [where, text] of [['cronjob-prometheus.yaml', script], ...runs.map((r) => ['github-actions/gwdoctor.yml', r])] as [string, string][]) {
    for (const line of text.split('\n')) {
      const m = /gwdoctor@[\d.]+ (.*)$/.exec(line.trim());
      if (m) out.push({ where, argv: (m[1] as string).split(/\s+/) });
    }
  }
  return out;
}

describe('deploy/ command lines', () => {
  it('are all valid gwdoctor invocations (the real option parser accepts them)', () => {
    const lines = commandLines();
    expect(lines.map((l) => l.where)).toEqual(['argocd-postsync-job.yaml', 'cronjob-prometheus.yaml', 'github-actions/gwdoctor.yml', 'github-actions/gwdoctor.yml']);
    for (const l of lines) expect(() => parseOptions(l.argv, {}), `${l.where}: ${l.argv.join(' ')}`).not.toThrow();
    const [argo, cron, diff, smoke] = lines.map((l) => parseOptions(l.argv, {}));
    expect(argo).toMatchObject({ all: true, waitMs: 120_000, output: [{ format: 'json', file: null }] });
    expect(cron).toMatchObject({ all: true, output: [{ format: 'prometheus', file: '/tmp/gwdoctor.prom' }] });
    expect(diff).toMatchObject({ command: 'diff', base: ['.base/deploy'], head: ['deploy'] });
    expect(smoke!.output.map((o) => o.format)).toEqual(['junit', 'sarif', 'html']);
  });

  it('run the ServiceAccount bound to the read-only ClusterRole, which has no write verb and no Secrets', () => {
    const [ns, sa, crb] = docs('serviceaccount.yaml');
    const [role] = docs('rbac.yaml');
    expect(crb.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
    expect(crb.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: ns.metadata.name }]);
    for (const r of role.rules) {
      expect(r.verbs.every((v: string) => ['get', 'list', 'watch'].includes(v))).toBe(true);
      expect(r.resources).not.toContain('secrets');
    }
    const job = docs('argocd-postsync-job.yaml')[0];
    const cron = docs('cronjob-prometheus.yaml')[0];
    for (const spec of [job.spec.template.spec, cron.spec.jobTemplate.spec.template.spec]) {
      expect(spec.serviceAccountName).toBe(sa.metadata.name);
      expect(spec.containers[0].securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    }
    expect(job.metadata.annotations['argocd.argoproj.io/hook']).toBe('PostSync');
  });
});

describe.skipIf(!promtool)('deploy/prometheus-alerts.yaml (promtool)', () => {
  it('is a valid rule file', () => {
    const r = runTool(promtool as string, ['check', 'rules', join(DEPLOY, 'prometheus-alerts.yaml')]);
    expect(r.stdout + r.stderr).toMatch(/SUCCESS: 4 rules found/);
    expect(r.code).toBe(0);
  });

  it('fires "a public host failed at layer X" after 10 minutes of the series gwdoctor writes, not before', () => {
    // The failing series exactly as gwdoctor -o prometheus prints it for the grant-missing scenario.
    const metrics = gwdoctor(['--manifests', 'fixtures/grant-missing', '--offline', '-o', 'prometheus', 'api.example.com']).stdout;
    const series = metrics.split('\n').find((l) => l.startsWith('gwdoctor_host_failure{'))!.replace(/ 1$/, '');
    expect(series).toBe('gwdoctor_host_failure{host="api.example.com",path="/",layer="grant",code="ReferenceGrantMissing",verdict="fail"}');
    const dir = mkdtempSync(join(tmpdir(), 'gwd-rules-'));
    const test = {
      rule_files: [join(DEPLOY, 'prometheus-alerts.yaml')],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            { series, values: '1x20' },
            { series: 'gwdoctor_last_run_timestamp_seconds', values: '0+60x20' },
          ],
          alert_rule_test: [
            { eval_time: '9m', alertname: 'GwdoctorHostFailing', exp_alerts: [] },
            {
              eval_time: '11m',
              alertname: 'GwdoctorHostFailing',
              exp_alerts: [
                {
                  exp_labels: { severity: 'critical', host: 'api.example.com', path: '/', layer: 'grant', code: 'ReferenceGrantMissing' },
                  exp_annotations: {
                    summary: 'https://api.example.com/ has failed at layer grant (ReferenceGrantMissing) for 10 minutes',
                    description: 'Run `gwdoctor api.example.com` for the evidence and the fix.',
                    runbook_url: 'https://github.com/gwdoctor/gwdoctor/blob/main/README.md#referencegrantmissing',
                  },
                },
              ],
            },
            { eval_time: '15m', alertname: 'GwdoctorNotReporting', exp_alerts: [] },
          ],
        },
      ],
    };
    writeFileSync(join(dir, 'test.yaml'), JSON.stringify(test));
    const r = runTool(promtool as string, ['test', 'rules', join(dir, 'test.yaml')]);
    expect(r.stdout + r.stderr).toMatch(/SUCCESS/);
    expect(r.code).toBe(0);
  });
});

/**
 * Kubernetes JSON as cel-go sees it in Flux (unstructured): integers are int64, not double. Plain objects are maps.
 */
function celValue(v: unknown): unknown {
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (Array.isArray(v)) return v.map(celValue);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, celValue(x)]));
  return v;
}

describe('deploy/flux-kustomization.yaml health checks (CEL, evaluated with @bufbuild/cel on the fixture objects)', () => {
  const exprs = docs('flux-kustomization.yaml')[0].spec.healthCheckExprs as { kind: string; current: string; failed: string }[];
  /** current / failed / in progress, as kustomize-controller decides from the two expressions. */
  function health(scenario: string, kind: string, name: string): string {
    const obj = loadManifests([join(ROOT, 'fixtures', scenario)]).find((o) => o.kind === kind && o.metadata.name === name);
    expect(obj, `${scenario}: ${kind} ${name}`).toBeDefined();
    const e = exprs.find((x) => x.kind === kind)!;
    const vars = celValue(obj) as Record<string, CelInput>;
    const [failed, current] = [cel(e.failed, vars), cel(e.current, vars)];
    expect(typeof failed, `failed: ${String(failed)}`).toBe('boolean');
    expect(typeof current, `current: ${String(current)}`).toBe('boolean');
    return failed ? 'failed' : current ? 'current' : 'in progress';
  }

  it.each([
    ['seed-healthy', 'Gateway', 'example-istio-gateway', 'current'],
    ['seed-healthy', 'HTTPRoute', 'example-api', 'current'],
    ['gateway-not-accepted', 'Gateway', 'example-istio-gateway', 'failed'],
    ['grant-missing', 'HTTPRoute', 'example-api', 'failed'],
    ['route-not-accepted-hostname', 'HTTPRoute', 'example-api', 'failed'],
    ['route-status-stale', 'HTTPRoute', 'example-api', 'in progress'],
    ['seed-presync', 'Gateway', 'example-istio-gateway', 'in progress'],
    ['seed-presync', 'HTTPRoute', 'example-api', 'in progress'],
  ])('%s: %s %s is %s', (scenario, kind, name, want) => {
    expect(health(scenario, kind, name)).toBe(want);
  });
});

/** actionlint from PATH, else built by scripts/build-actionlint.sh (Go). Missing: null locally, an error with CI=true. */
function actionlint(): string | null {
  const onPath = which('actionlint');
  if (onPath) return onPath;
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'build-actionlint.sh')], { encoding: 'utf8', timeout: 280_000 });
  if (r.status === 0) return r.stdout.trim().split('\n').at(-1) ?? null;
  if (process.env['CI'] === 'true') throw new Error(`actionlint could not be built: ${r.stderr.trim().split('\n').at(-1)}`);
  return null;
}

describe('deploy/github-actions/gwdoctor.yml (actionlint)', () => {
  it('is a valid workflow: expressions, contexts, triggers and action inputs', (ctx) => {
    const bin = actionlint();
    if (!bin) return ctx.skip();
    const r = runTool(bin, ['-shellcheck=', '-pyflakes=', join(DEPLOY, 'github-actions', 'gwdoctor.yml')]);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
    // and actionlint does reject a broken one
    const bad = join(mkdtempSync(join(tmpdir(), 'gwd-wf-')), 'bad.yml');
    writeFileSync(bad, readFileSync(join(DEPLOY, 'github-actions', 'gwdoctor.yml'), 'utf8').replace('github.base_ref', 'github.base_branch'));
    expect(runTool(bin, ['-shellcheck=', '-pyflakes=', bad]).stdout).toMatch(/property "base_branch" is not defined/);
  }, 300_000);
});
