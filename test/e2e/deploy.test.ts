// The deploy/ kit read by what consumes it: the alert rules by promtool (check + rule unit tests on the series
// gwdoctor really writes), the workflow by actionlint (with shellcheck) and its shell steps run by bash, the
// Dockerfile's steps replayed, every gwdoctor command line by gwdoctor's own option parser, and the wiring between
// the files (Job -> ServiceAccount -> ClusterRoleBinding -> read-only ClusterRole). The integration suite applies
// the Kubernetes objects to the real control plane (test/integration/deploy.test.ts).

import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { ROOT, gwdoctor } from '../helpers/cli.js';
import { consumer, runTool } from '../helpers/consumers.js';
import { which } from '../helpers/net/bins.js';
import { parseOptions } from '../../src/options.js';
import { loadManifests } from '../../src/cluster/manifests.js';
import { run as cel, type CelInput } from '@bufbuild/cel';
import { scenarioDir, scenarioPath } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const promtool = consumer('promtool', 'prometheus');
const DEPLOY = join(ROOT, 'deploy');
const docs = (f: string) => parseAllDocuments(readFileSync(join(DEPLOY, f), 'utf8')).map((d) => d.toJS());

/** Every gwdoctor invocation written in deploy/, as argv after the program's name. */
function commandLines(): { where: string; argv: string[] }[] {
  const out: { where: string; argv: string[] }[] = [];
  const job = docs('argocd-postsync-job.yaml')[0];
  const c = job.spec.template.spec.containers[0];
  expect(c.command).toEqual(['gwdoctor']);
  out.push({ where: 'argocd-postsync-job.yaml', argv: c.args });
  const cron = docs('cronjob-prometheus.yaml')[0];
  const script: string = cron.spec.jobTemplate.spec.template.spec.containers[0].args[0];
  const runs = Object.values(workflow().jobs).flatMap((j) => j.steps.map((s) => s.run ?? ''));
  for (const [where, text] of [
    ['cronjob-prometheus.yaml', script],
    ...runs.map((r) => ['github-actions/gwdoctor.yml', r]),
  ] as [string, string][]) {
    for (const line of text.split('\n')) {
      const m = /^gwdoctor (.*)$/.exec(line.trim());
      if (m) out.push({ where, argv: (m[1] as string).split(/\s+/) });
    }
  }
  return out;
}

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  env?: Record<string, string>;
  with?: Record<string, string>;
}
interface Workflow {
  env: Record<string, string>;
  permissions: Record<string, string>;
  jobs: Record<
    string,
    { 'runs-on': string | string[]; 'timeout-minutes'?: number; permissions?: Record<string, string>; steps: Step[] }
  >;
}
const WORKFLOW = join(DEPLOY, 'github-actions', 'gwdoctor.yml');
const workflow = () => parse(readFileSync(WORKFLOW, 'utf8')) as Workflow;

describe('deploy/ command lines', () => {
  it('are all valid gwdoctor invocations (the real option parser accepts them)', () => {
    const lines = commandLines();
    expect(lines.map((l) => l.where)).toEqual([
      'argocd-postsync-job.yaml',
      'cronjob-prometheus.yaml',
      'github-actions/gwdoctor.yml',
      'github-actions/gwdoctor.yml',
    ]);
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
    expect(crb.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: role.metadata.name,
    });
    expect(crb.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: ns.metadata.name }]);
    for (const r of role.rules) {
      expect(r.verbs.every((v: string) => ['get', 'list'].includes(v))).toBe(true);
      expect(r.resources).not.toContain('secrets');
    }
    const job = docs('argocd-postsync-job.yaml')[0];
    const cron = docs('cronjob-prometheus.yaml')[0];
    for (const spec of [job.spec.template.spec, cron.spec.jobTemplate.spec.template.spec]) {
      expect(spec.serviceAccountName).toBe(sa.metadata.name);
      expect(spec.containers[0].securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
      });
    }
    expect(job.metadata.annotations['argocd.argoproj.io/hook']).toBe('PostSync');
  });

  it('say what the role grants: no file and no README line about the kit claims a "watch" the role does not have', () => {
    const verbs = new Set(docs('rbac.yaml')[0].rules.flatMap((r: { verbs: string[] }) => r.verbs));
    expect(verbs.has('watch')).toBe(false);
    for (const [where, text] of [
      ...kitFiles().map((f) => [f, readFileSync(join(ROOT, f), 'utf8')]),
      ['README.md (deploy section)', readmeDeploySection()],
    ]) {
      // "no watch" / "never LIST or WATCH" are fine; "get/list/watch", "watch on ..." are not
      const claims = (text as string)
        .split('\n')
        .filter((l) => /\bwatch/i.test(l) && !/\b(?:no|never|not|without)\b[^.;:]*\bwatch/i.test(l));
      expect(claims, where as string).toEqual([]);
    }
  });
});

/** Every file of the kit, repository-relative: deploy/ (recursively), examples/, the Dockerfile. */
function kitFiles(): string[] {
  const walk = (d: string): string[] =>
    readdirSync(join(ROOT, d), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)],
    );
  return [...walk('deploy'), ...walk('examples'), 'Dockerfile', '.dockerignore'];
}

/** README's section about the kit (## In CI and in the cluster). */
function readmeDeploySection(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## In CI and in the cluster');
  expect(start).toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 5);
  return readme.slice(start, end);
}

describe('the kit runs what you built or pinned, never a package by name from a registry', () => {
  it('names no npm package to fetch (npx, npm install/exec, gwdoctor@version), in any file or the README section', () => {
    const fetches = /\bnpx\b|\bnpm (?:install|i|add|exec|x)\b|\b(?:pnpm|yarn) dlx\b|\bbunx\b|\bgwdoctor@\d/;
    for (const [where, text] of [
      ...kitFiles().map((f) => [f, readFileSync(join(ROOT, f), 'utf8')]),
      ['README.md (deploy section)', readmeDeploySection()],
    ] as [string, string][]) {
      const bad = text.split('\n').filter((l) => fetches.test(l));
      expect(bad, where).toEqual([]);
    }
    // the Dockerfile's only npm commands: npm ci (the lockfile, integrity-checked) and npm run
    const npm = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
      .split('\n')
      .filter((l) => /^RUN\b/.test(l))
      .flatMap((l) => l.match(/\bnpm \w+/g) ?? []);
    expect(new Set(npm)).toEqual(new Set(['npm ci', 'npm run']));
  });

  it('leaves every container image empty, for the digest of the image you built: no image is named for you', () => {
    const images: [string, unknown][] = [];
    for (const f of kitFiles().filter((f) => /\.ya?ml$/.test(f) && f.startsWith('deploy'))) {
      const text = readFileSync(join(ROOT, f), 'utf8');
      for (const line of text.split('\n')) {
        const m = /^\s*(?:-\s*)?image:\s*(.*)$/.exec(line);
        if (m) images.push([f, parse(`v: ${m[1]}`).v]);
      }
      if (/^\s*(?:-\s*)?image:/m.test(text))
        expect(text, f).toMatch(/REQUIRED: <your registry>\/gwdoctor@sha256:<digest>/);
    }
    expect(images.map(([f]) => f)).toEqual(['deploy/argocd-postsync-job.yaml', 'deploy/cronjob-prometheus.yaml']);
    for (const [f, v] of images) expect(v, f).toBe('');
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
    const metrics = gwdoctor([
      '--manifests',
      scenarioPath('grant-missing'),
      '--offline',
      '-o',
      'prometheus',
      'api.example.com',
    ]).stdout;
    const series = metrics
      .split('\n')
      .find((l) => l.startsWith('gwdoctor_host_failure{'))!
      .replace(/ 1$/, '');
    expect(series).toBe(
      'gwdoctor_host_failure{host="api.example.com",path="/",layer="grant",code="ReferenceGrantMissing",verdict="fail"}',
    );
    const dir = tempDir('gwd-rules-');
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
                  exp_labels: {
                    severity: 'critical',
                    host: 'api.example.com',
                    path: '/',
                    layer: 'grant',
                    code: 'ReferenceGrantMissing',
                  },
                  exp_annotations: {
                    summary:
                      'https://api.example.com/ has failed at layer grant (ReferenceGrantMissing) for 10 minutes',
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

  /** promtool test rules on GwdoctorNotReporting alone: [input series, [minute, expected summary or null]...]. */
  function notReporting(series: { series: string; values: string }[], expectations: [number, string | null][]): void {
    const dir = tempDir('gwd-rules-');
    const test = {
      rule_files: [join(DEPLOY, 'prometheus-alerts.yaml')],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: series,
          alert_rule_test: expectations.map(([m, summary]) => ({
            eval_time: `${m}m`,
            alertname: 'GwdoctorNotReporting',
            exp_alerts: summary === null ? [] : [{ exp_labels: { severity: 'warning' }, exp_annotations: { summary } }],
          })),
        },
      ],
    };
    writeFileSync(join(dir, 'test.yaml'), JSON.stringify(test));
    const r = runTool(promtool as string, ['test', 'rules', join(dir, 'test.yaml')]);
    expect(r.stdout + r.stderr).toMatch(/SUCCESS/);
    expect(r.code).toBe(0);
  }

  it('GwdoctorNotReporting fires when gwdoctor never pushed (no series at all), after 10 minutes', () => {
    // Prometheus scrapes a Pushgateway that has never received gwdoctor's metrics: only its own series exist.
    notReporting(
      [{ series: 'up{job="pushgateway"}', values: '1x60' }],
      [
        [9, null],
        [
          11,
          'gwdoctor has no gwdoctor_last_run_timestamp_seconds in Prometheus (never pushed, or the Pushgateway is not scraped): is the CronJob running?',
        ],
        [
          60,
          'gwdoctor has no gwdoctor_last_run_timestamp_seconds in Prometheus (never pushed, or the Pushgateway is not scraped): is the CronJob running?',
        ],
      ],
    );
  });

  it('GwdoctorNotReporting fires when the last run is over 30 minutes old (a Pushgateway keeps serving the last push), and not while runs come', () => {
    // The value gwdoctor writes is the run's time in seconds: it advances with each run, then stays at the last one.
    const series = 'gwdoctor_last_run_timestamp_seconds';
    notReporting(
      [{ series, values: '0+60x10 600x60' }],
      [
        [10, null],
        [40, null],
        [50, null],
        [52, 'gwdoctor has not reported for 42m 0s: is the CronJob running?'],
      ],
    );
    notReporting(
      [{ series, values: '0+60x70' }],
      [
        [5, null],
        [35, null],
        [70, null],
      ],
    );
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
  const exprs = docs('flux-kustomization.yaml')[0].spec.healthCheckExprs as {
    kind: string;
    current: string;
    failed: string;
  }[];
  /** current / failed / in progress, as kustomize-controller decides from the two expressions. */
  function health(scenario: string, kind: string, name: string): string {
    const obj = loadManifests([scenarioDir(scenario)]).find((o) => o.kind === kind && o.metadata.name === name);
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
  if (process.env['CI'] === 'true')
    throw new Error(`actionlint could not be built: ${r.stderr.trim().split('\n').at(-1)}`);
  return null;
}

/** shellcheck, which actionlint runs on every `run:` script (Debian package shellcheck, installed by install-net-deps.sh). */
const shellcheck = consumer('shellcheck', 'shellcheck');

/** A `run:` script executed as GitHub runs it on Linux (bash -e), in `cwd`, with the workflow's env and `env`. */
function runStep(step: Step, cwd: string, env: Record<string, string>): { code: number | null; out: string } {
  expect(step.run, step.name).toBeDefined();
  expect(step.run, 'no ${{ }} expression in a script the test runs as is').not.toContain('${{');
  const r = spawnSync('bash', ['--noprofile', '--norc', '-e', '-c', step.run as string], {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] ?? '', HOME: cwd, ...workflow().env, ...env },
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('deploy/github-actions/gwdoctor.yml', () => {
  it('is a valid workflow for actionlint, run scripts included (shellcheck)', (ctx) => {
    const bin = actionlint();
    if (!bin || !shellcheck) return ctx.skip();
    const r = runTool(bin, [`-shellcheck=${shellcheck}`, '-pyflakes=', WORKFLOW]);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
    // and actionlint does reject a broken one, and shellcheck a broken script
    const bad = join(tempDir('gwd-wf-'), 'bad.yml');
    writeFileSync(
      bad,
      readFileSync(WORKFLOW, 'utf8')
        .replace('github.base_ref', 'github.base_branch')
        .replace('rm -f "$RUNNER_TEMP/kubeconfig"', 'rm -f $RUNNER_TEMP/kubeconfig'),
    );
    const out = runTool(bin, [`-shellcheck=${shellcheck}`, '-pyflakes=', bad]).stdout;
    expect(out).toMatch(/property "base_branch" is not defined/);
    expect(out).toMatch(/SC2086/);
  }, 300_000);

  it('runs the live smoke test on a self-hosted runner (a hosted one cannot reach a home lab), every job with a timeout', () => {
    const wf = workflow();
    expect(Object.keys(wf.jobs)).toEqual(['diff', 'smoke']);
    expect([wf.jobs['smoke']!['runs-on']].flat()).toContain('self-hosted');
    expect(readFileSync(WORKFLOW, 'utf8')).toMatch(/SELF-HOSTED runner that can reach your API server/);
    for (const [name, job] of Object.entries(wf.jobs)) {
      expect(job['timeout-minutes'], name).toBeGreaterThan(0);
      expect(job['timeout-minutes'], name).toBeLessThanOrEqual(15);
    }
  });

  it('uploads the SARIF to code scanning (security-events: write on that job only), and keeps the reports as artifacts', () => {
    const wf = workflow();
    expect(wf.permissions).toEqual({ contents: 'read' });
    const smoke = wf.jobs['smoke']!;
    expect(smoke.permissions).toMatchObject({ contents: 'read', 'security-events': 'write' });
    expect(wf.jobs['diff']!.permissions).toBeUndefined();
    const check = smoke.steps.find((s) => s.run?.startsWith('gwdoctor '))!;
    const sarif = /-o sarif=(\S+)/.exec(check.run!)![1];
    const upload = smoke.steps.find((s) => s.uses?.startsWith('github/codeql-action/upload-sarif@'));
    expect(upload?.with).toMatchObject({ sarif_file: sarif });
    expect(upload?.if).toMatch(/always\(\)/);
    const artifact = smoke.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'))!;
    expect(artifact.with!['path']!.trim().split('\n')).toContain(sarif);
  });

  it('writes the kubeconfig readable by the runner user only (mode 600), and refuses an empty secret', () => {
    const smoke = workflow().jobs['smoke']!;
    const step = smoke.steps.find((s) => s.env?.['KUBECONFIG_DATA'] !== undefined)!;
    expect(step.env!['KUBECONFIG_DATA']).toBe('${{ secrets.GWDOCTOR_KUBECONFIG }}');
    const temp = tempDir('gwd-runner-');
    // under the runner's usual umask (022), which would make a plain redirect world-readable
    const r = spawnSync('bash', ['-c', `umask 022; exec bash --noprofile --norc -e -c "$0"`, step.run!], {
      cwd: temp,
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] ?? '', RUNNER_TEMP: temp, KUBECONFIG_DATA: 'apiVersion: v1\nkind: Config\n' },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(temp, 'kubeconfig'), 'utf8')).toBe('apiVersion: v1\nkind: Config\n');
    expect(statSync(join(temp, 'kubeconfig')).mode & 0o777).toBe(0o600);
    const empty = runStep(step, temp, { RUNNER_TEMP: temp, KUBECONFIG_DATA: '' });
    expect(empty.code).toBe(1);
    expect(empty.out).toMatch(/^::error::the GWDOCTOR_KUBECONFIG secret is empty$/m);
    // the kubeconfig is removed whatever happened
    const forget = smoke.steps.find((s) => s.run?.includes('rm -f "$RUNNER_TEMP/kubeconfig"'))!;
    expect(forget.if).toBe('always()');
    expect(runStep(forget, temp, { RUNNER_TEMP: temp }).code).toBe(0);
    expect(existsSync(join(temp, 'kubeconfig'))).toBe(false);
  });

  describe('runs only the gwdoctor tarball whose integrity it pins (npm pack, checked before anything runs)', () => {
    const install = (job: string) =>
      workflow().jobs[job]!.steps.find((s) => s.name?.startsWith('gwdoctor (the pinned tarball'))!;
    /** A runner's workspace: the repository (deploy/ = `head`, the tarball where the workflow expects it), .base/deploy = `base`. */
    function workspace(): { ws: string; temp: string; githubPath: string; tarball: string; integrity: string } {
      const root = tempDir('gwd-ws-');
      const ws = join(root, 'ws');
      const temp = join(root, 'temp');
      mkdirSync(temp);
      cpSync(scenarioDir('grant-missing'), join(ws, 'deploy'), { recursive: true });
      cpSync(join(ROOT, 'fixtures', 'seed-healthy'), join(ws, '.base', 'deploy'), { recursive: true });
      // the tarball where the workflow expects it
      const tarball = join(ws, workflow().env['GWDOCTOR_TARBALL']!);
      mkdirSync(dirname(tarball), { recursive: true });
      const p = packed();
      cpSync(p.file, tarball);
      const githubPath = join(temp, 'github_path');
      writeFileSync(githubPath, '');
      return { ws, temp, githubPath, tarball, integrity: p.integrity };
    }
    /** npm pack as the README tells the user (of the dist/ that `npm run build` made), once for these tests. */
    let pack: { file: string; integrity: string } | undefined;
    function packed(): { file: string; integrity: string } {
      if (pack) return pack;
      const dir = tempDir('gwd-pack-');
      const r = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(r.status, r.stderr).toBe(0);
      const [p] = JSON.parse(r.stdout) as { filename: string; integrity: string }[];
      expect(p!.filename).toBe(workflow().env['GWDOCTOR_TARBALL']!.split('/').pop());
      return (pack = { file: join(dir, p!.filename), integrity: p!.integrity });
    }

    it('the same step in both jobs; as shipped (no integrity yet) it fails and runs nothing', () => {
      expect(install('diff')).toEqual(install('smoke'));
      expect(workflow().env['GWDOCTOR_INTEGRITY']).toBe('');
      const w = workspace();
      const r = runStep(install('diff'), w.ws, { RUNNER_TEMP: w.temp, GITHUB_PATH: w.githubPath });
      expect(r.code).toBe(1);
      expect(r.out).toMatch(
        /^::error::GWDOCTOR_INTEGRITY is empty: set it to the integrity npm pack --json printed for \.github\/gwdoctor\/gwdoctor-0\.1\.0\.tgz$/m,
      );
      expect(readFileSync(w.githubPath, 'utf8')).toBe('');
      expect(existsSync(join(w.temp, 'gwdoctor'))).toBe(false);
    }, 120_000);

    it("with the integrity npm pack printed: installs it, and the diff job's command runs from it with no registry and no node_modules", () => {
      const w = workspace();
      const r = runStep(install('diff'), w.ws, {
        RUNNER_TEMP: w.temp,
        GITHUB_PATH: w.githubPath,
        GWDOCTOR_INTEGRITY: w.integrity,
      });
      expect(r.code, r.out).toBe(0);
      const bin = readFileSync(w.githubPath, 'utf8').trim();
      expect(bin).toBe(join(w.temp, 'gwdoctor', 'bin'));
      expect(existsSync(join(w.temp, 'gwdoctor', 'node_modules'))).toBe(false);
      const diff = workflow().jobs['diff']!.steps.find((s) => s.run?.startsWith('gwdoctor diff'))!;
      const d = runStep(diff, w.ws, { PATH: `${bin}:${process.env['PATH']}`, NO_COLOR: '1' });
      expect(d.code, d.out).toBe(1);
      expect(d.out).toMatch(/^gwdoctor diff: base \.base\/deploy -> head deploy: 2 hosts, 1 newly failing$/m);
      expect(d.out).toMatch(/BROKEN +api\.example\.com\/ +pass -> fail at grant \[ReferenceGrantMissing\]/);
    }, 120_000);

    it('refuses a tarball that is not the pinned one (one byte appended), before extracting anything', () => {
      const w = workspace();
      appendFileSync(w.tarball, '\0');
      const r = runStep(install('smoke'), w.ws, {
        RUNNER_TEMP: w.temp,
        GITHUB_PATH: w.githubPath,
        GWDOCTOR_INTEGRITY: w.integrity,
      });
      expect(r.code).toBe(1);
      expect(r.out).toMatch(
        /^::error::\.github\/gwdoctor\/gwdoctor-0\.1\.0\.tgz has integrity sha512-\S+, not the pinned sha512-\S+: not running it$/m,
      );
      expect(readFileSync(w.githubPath, 'utf8')).toBe('');
      expect(existsSync(join(w.temp, 'gwdoctor'))).toBe(false);
    }, 120_000);
  });
});

/** The Dockerfile as a list of stages: each its FROM line and instructions (continuation lines joined). */
function dockerfile(): { from: string; as: string | null; steps: { op: string; arg: string }[] }[] {
  const lines = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((l) => l.trim() && !l.trimStart().startsWith('#'));
  const stages: { from: string; as: string | null; steps: { op: string; arg: string }[] }[] = [];
  for (const l of lines) {
    const [, op, arg] = /^(\w+)\s+(.*)$/.exec(l.trim())!;
    if (op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(arg!)!;
      stages.push({ from: m[1]!, as: m[2] ?? null, steps: [] });
    } else stages.at(-1)!.steps.push({ op: op!, arg: arg! });
  }
  return stages;
}

describe('Dockerfile (the image the Job and the CronJob run)', () => {
  it('is multi-stage on Node 24: npm ci from the lockfile and npm run build, then a runtime stage as a non-root numeric user', () => {
    const [build, runtime, ...more] = dockerfile();
    expect(more).toEqual([]);
    expect(build!.from).toMatch(/^node:24(?:[-.@]|$)/);
    expect(runtime!.from).toMatch(/^node:24(?:[-.@]|$)/);
    const runs = build!.steps.filter((s) => s.op === 'RUN').map((s) => s.arg);
    expect(runs.some((r) => /^npm ci\b/.test(r))).toBe(true);
    expect(runs.some((r) => /\bnpm run build\b/.test(r))).toBe(true);
    const user = runtime!.steps.filter((s) => s.op === 'USER').at(-1)?.arg;
    expect(user).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    // what the Jobs run as, and what their readOnlyRootFilesystem + emptyDir on /tmp expect
    const pod = docs('argocd-postsync-job.yaml')[0].spec.template.spec;
    expect(`${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}`).toBe(user);
    expect(runtime!.steps.find((s) => s.op === 'ENV')?.arg).toMatch(/\bHOME=\/tmp\b/);
    expect(pod.containers[0].volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
  });

  it('builds and runs: its COPY and RUN steps replayed in a scratch directory, then the result run as the Job runs it', () => {
    const [build, runtime] = dockerfile();
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1).replace(/\/$/, ''));
    const scratch = tempDir('gwd-image-');
    const root = (p: string) => join(scratch, 'rootfs', p);
    let workdir = '/';
    for (const s of build!.steps) {
      if (s.op === 'WORKDIR') mkdirSync(root((workdir = s.arg)), { recursive: true });
      else if (s.op === 'COPY') {
        const parts = s.arg.split(/\s+/);
        const dest = join(workdir, parts.pop()!);
        for (const src of parts) {
          expect(ignore, `${src} is in the build context (.dockerignore)`).toContain(src);
          cpSync(join(ROOT, src), dest.endsWith('/') || parts.length > 1 ? root(join(dest, src)) : root(dest), {
            recursive: true,
          });
        }
      } else if (s.op === 'RUN' && /^npm ci\b/.test(s.arg)) {
        // npm ci installs what package-lock.json pins: the same tree as this checkout's (not fetched again here)
        symlinkSync(join(ROOT, 'node_modules'), root(join(workdir, 'node_modules')));
      } else if (s.op === 'RUN') {
        const r = spawnSync('sh', ['-c', s.arg], {
          cwd: root(workdir),
          encoding: 'utf8',
          timeout: 180_000,
          env: { PATH: process.env['PATH'] ?? '', HOME: scratch },
        });
        expect(r.status, `RUN ${s.arg}\n${r.stdout}${r.stderr}`).toBe(0);
      }
    }
    // the runtime stage: only what COPY --from=build brings
    const rt = (p: string) => join(scratch, 'runtime', p);
    let rtWorkdir = '/';
    let link: { target: string; path: string } | null = null;
    for (const s of runtime!.steps) {
      if (s.op === 'WORKDIR') mkdirSync(rt((rtWorkdir = s.arg)), { recursive: true });
      else if (s.op === 'COPY') {
        const m = /^--from=build\s+(\S+)\s+(\S+)$/.exec(s.arg);
        expect(m, `COPY ${s.arg}: only from the build stage`).not.toBeNull();
        const [src, dest] = [m![1]!, join(rtWorkdir, m![2]!)];
        cpSync(root(src), dest.endsWith('/') ? rt(join(dest, src.split('/').pop()!)) : rt(dest), { recursive: true });
      } else if (s.op === 'RUN') {
        const l = /^ln -s (\S+) (\S+)$/.exec(s.arg);
        expect(l, `RUN ${s.arg}: the runtime stage only links the entry point`).not.toBeNull();
        link = { target: l![1]!, path: l![2]! };
      }
    }
    expect(readdirSync(rt('/opt/gwdoctor')).sort()).toEqual(['dist', 'package.json']);
    expect(existsSync(rt('/opt/gwdoctor/node_modules'))).toBe(false);
    const entry = JSON.parse(runtime!.steps.find((s) => s.op === 'ENTRYPOINT')!.arg) as string[];
    expect(entry).toEqual(['gwdoctor']);
    expect(link).toEqual({ target: '/opt/gwdoctor/dist/bundle/cli.js', path: '/usr/local/bin/gwdoctor' });
    expect(statSync(rt(link!.target)).mode & 0o111).not.toBe(0);
    expect(readFileSync(rt(link!.target), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
    // run it as the Job does (its args), on manifests instead of a cluster, from outside the checkout
    const env = { PATH: process.env['PATH'] ?? '', HOME: join(scratch, 'home'), NO_COLOR: '1' };
    const version = spawnSync(rt(link!.target), ['--version'], { cwd: '/', encoding: 'utf8', env });
    expect(version.stdout.trim()).toBe(
      `gwdoctor ${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version}`,
    );
    const args = docs('argocd-postsync-job.yaml')[0].spec.template.spec.containers[0].args as string[];
    const r = spawnSync(
      rt(link!.target),
      [
        ...args.filter((a, i) => a !== '--wait' && args[i - 1] !== '--wait'),
        '--manifests',
        join(ROOT, 'fixtures', 'seed-healthy'),
        '--offline',
      ],
      { cwd: '/', encoding: 'utf8', env },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(
      JSON.parse(r.stdout).targets.map((t: { host: string; verdict: string }) => `${t.host} ${t.verdict}`),
    ).toEqual(['api.example.com pass', 'worker.example.com pass']);
  }, 240_000);
});
