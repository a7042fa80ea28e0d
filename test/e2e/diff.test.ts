// gwdoctor diff on fixture pairs: the seed manifests as committed (fixtures/seed-presync) as base, and a head that
// a pull request could make of them. The exit code is the CI gate: 1 when a host that worked breaks.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { gwdoctor } from '../helpers/cli.js';
import schema from '../../schema/diff.v1.json' with { type: 'json' };
import { scenarioPath } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const ajv = new Ajv2020({ allErrors: true, strict: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
const validateDiff = ajv.compile(schema);

const BASE = scenarioPath('seed-presync');
interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
}

/** A head tree: the base manifests with one edit, as a pull request would make it. */
function head(edit: (objs: Obj[]) => Obj[]): string {
  const docs = parseAllDocuments(readFileSync(join(BASE, 'cluster.yaml'), 'utf8'))
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
  const dir = tempDir('gwd-diff-');
  writeFileSync(
    join(dir, 'cluster.yaml'),
    edit(docs)
      .map((o) => stringify(o))
      .join('---\n'),
  );
  return dir;
}

function diff(base: string, headDir: string, ...extra: string[]) {
  const r = gwdoctor(['diff', '--base', base, '--head', headDir, '-o', 'json', ...extra]);
  if (r.stdout) expect(validateDiff(JSON.parse(r.stdout)), JSON.stringify(validateDiff.errors)).toBe(true);
  return {
    code: r.code,
    stderr: r.stderr,
    d: JSON.parse(r.stdout || '{}') as {
      hosts: {
        host: string;
        change: string;
        base: { verdict: string };
        head: { verdict: string; failedLayer: string | null; code: string | null };
      }[];
    },
  };
}

const summary = (d: ReturnType<typeof diff>['d']) =>
  d.hosts.map(
    (h) =>
      `${h.change} ${h.host} ${h.base.verdict}->${h.head.verdict} ${h.head.failedLayer ?? '-'} ${h.head.code ?? '-'}`,
  );

describe('gwdoctor diff --base DIR --head DIR', () => {
  it('no change: every host unchanged, exit 0', () => {
    const r = diff(
      BASE,
      head((o) => o),
    );
    expect(r.code).toBe(0);
    expect(summary(r.d)).toEqual([
      'unchanged api.example.com warn->warn - EndpointsUnknown',
      'unchanged worker.example.com warn->warn - EndpointsUnknown',
    ]);
  });

  it('route removed: its host now has no route, listed first, exit 1', () => {
    const r = diff(
      BASE,
      head((objs) => objs.filter((o) => !(o.kind === 'HTTPRoute' && o.metadata.name === 'example-api'))),
    );
    expect(r.code).toBe(1);
    expect(summary(r.d)).toEqual([
      'broken api.example.com warn->fail route NoRouteForHost',
      'unchanged worker.example.com warn->warn - EndpointsUnknown',
    ]);
  });

  it('grant narrowed to another Service: the route loses its backend at the grant layer, exit 1', () => {
    const r = diff(
      BASE,
      head((objs) =>
        objs.map((o) =>
          o.kind === 'ReferenceGrant' && o.metadata.name === 'allow-istio-ingress-to-example-api'
            ? { ...o, spec: { ...o.spec, to: [{ group: '', kind: 'Service', name: 'example-api-v2' }] } }
            : o,
        ),
      ),
    );
    expect(r.code).toBe(1);
    expect(summary(r.d)[0]).toBe('broken api.example.com warn->fail grant ReferenceGrantMissing');
    expect(summary(r.d)[1]).toMatch(/^unchanged worker\.example\.com/);
  });

  it('listener hostname changed: every host on it breaks at the listener, exit 1', () => {
    const r = diff(
      BASE,
      head((objs) =>
        objs.map((o) =>
          o.kind === 'Gateway' && o.metadata.name === 'example-istio-gateway'
            ? {
                ...o,
                spec: {
                  ...o.spec,
                  listeners: (o.spec?.['listeners'] as Record<string, unknown>[]).map((l) => ({
                    ...l,
                    hostname: '*.example.org',
                  })),
                },
              }
            : o,
        ),
      ),
    );
    expect(r.code).toBe(1);
    expect(summary(r.d)).toEqual([
      'broken api.example.com warn->fail listener ListenerHostnameMismatch',
      'broken worker.example.com warn->fail listener ListenerHostnameMismatch',
    ]);
  });

  it('--internal: a host that must stay internal and that a change publishes is newly failing (exposed), checked once, exit 1', () => {
    const exposing = head((objs) =>
      objs.map((o) =>
        o.kind === 'HTTPRoute' && o.metadata.name === 'example-api'
          ? { ...o, spec: { ...o.spec, hostnames: ['api.example.com', 'admin.example.com'] } }
          : o,
      ),
    );
    const r = diff(BASE, exposing, '--internal', 'admin.example.com');
    expect(r.code).toBe(1);
    expect(summary(r.d)).toEqual([
      'broken admin.example.com pass->fail route InternalHostExposed',
      'unchanged api.example.com warn->warn - EndpointsUnknown',
      'unchanged worker.example.com warn->warn - EndpointsUnknown',
    ]);
    expect((r.d.hosts[0] as { internal?: boolean }).internal).toBe(true);
    const text = gwdoctor(['diff', '--base', BASE, '--head', exposing, '--internal', 'admin.example.com'], {
      GITHUB_ACTIONS: '',
    });
    expect(text.stdout).toMatch(
      /^ {2}BROKEN {5}admin\.example\.com\/ \(internal\) +pass -> fail at route \[InternalHostExposed\]$/m,
    );
    // Unchanged trees: the internal host passes on both sides.
    expect(
      summary(
        diff(
          BASE,
          head((o) => o),
          '--internal',
          'admin.example.com',
        ).d,
      )[0],
    ).toBe('unchanged admin.example.com pass->pass - -');
  });

  it('the reverse of a breaking change is reported as fixed, exit 0', () => {
    const broken = head((objs) => objs.filter((o) => !(o.kind === 'HTTPRoute' && o.metadata.name === 'example-api')));
    const r = diff(broken, BASE);
    expect(r.code).toBe(0);
    expect(summary(r.d)[0]).toBe('fixed api.example.com fail->warn - EndpointsUnknown');
  });

  it('prints, in text, the newly failing host first with what broke and the fix', () => {
    const h = head((objs) =>
      objs.filter((o) => !(o.kind === 'ReferenceGrant' && o.metadata.name === 'allow-istio-ingress-to-example-api')),
    );
    const r = gwdoctor(['diff', '--base', BASE, '--head', h]);
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(`gwdoctor diff: base ${BASE} -> head ${h}: 2 hosts, 1 newly failing`);
    expect(lines[2]).toMatch(
      /^ {2}BROKEN +api\.example\.com\/ +warn \[EndpointsUnknown\] -> fail at grant \[ReferenceGrantMissing\]$/,
    );
    expect(r.stdout).toMatch(/\n {6}fix: .*example-api/);
    expect(r.stdout).toMatch(/kind: ReferenceGrant/);
  });

  it('under GitHub Actions, adds an ::error annotation per newly failing host to the text', () => {
    const h = head((objs) => objs.filter((o) => !(o.kind === 'HTTPRoute' && o.metadata.name === 'example-api')));
    const r = gwdoctor(['diff', '--base', BASE, '--head', h], { GITHUB_ACTIONS: 'true' });
    expect(r.code).toBe(1);
    const commands = r.stdout.split('\n').filter((l) => l.startsWith('::'));
    expect(commands).toHaveLength(1);
    // Located at the object the finding names in the head tree (the Gateway whose listener has no route for the host).
    expect(commands[0]).toMatch(
      /^::error title=gwdoctor diff%3A api\.example\.com\/ breaks at route,file=[^,]*cluster\.yaml,line=\d+::api\.example\.com\/ breaks: warn \[EndpointsUnknown\] -> fail at route \[NoRouteForHost\]%0A/,
    );
  });

  it('renders through the reporter map: -o json=FILE writes the JSON report to the file and the text to stdout', () => {
    const h = head((objs) => objs.filter((o) => !(o.kind === 'HTTPRoute' && o.metadata.name === 'example-api')));
    const file = join(tempDir('gwdoctor-diff-'), 'diff.json');
    const r = gwdoctor(['diff', '--base', BASE, '--head', h, '-o', `json=${file}`]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^gwdoctor diff: base /);
    const d = JSON.parse(readFileSync(file, 'utf8')) as {
      schemaVersion: string;
      hosts: { host: string; change: string }[];
    };
    expect(d.schemaVersion).toBe('gwdoctor.diff/v1');
    expect(d.hosts.find((x) => x.host === 'api.example.com')?.change).toBe('broken');
  });

  it('rejects a missing tree, a missing --head and a format diff has no renderer for with one line, exit 3', () => {
    for (const args of [
      ['diff', '--base', BASE, '--head', 'no/such/dir'],
      ['diff', '--base', BASE],
      ['diff', '--base', BASE, '--head', BASE, '-o', 'junit=x.xml'],
      ['--base', BASE, 'api.example.com'],
    ]) {
      const r = gwdoctor(args);
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
