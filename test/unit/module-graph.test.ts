// The module graph as TypeScript sees it, type-only imports included (dependency-cruiser with the swc parser: the
// project's TypeScript 7 has no JS API for it, and esbuild's metafile, which test/unit/layering.test.ts reads, drops
// `import type`). The rules: no cycle through static imports (type-only ones included; a lazy `await import()` back
// to the importer is how the bundle splits and is not a cycle of the graph), the rules in src/gatewayapi/ import no
// reporter, judge, pipeline or run loop, no check imports another check, src/ reaches the checks only through
// checks/index.ts, and the core types (src/types.ts) import nothing that imports them.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cruise, type IForbiddenRuleType } from 'dependency-cruiser';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';

const root = join(import.meta.dirname, '..', '..');

export const RULES: IForbiddenRuleType[] = [
  {
    name: 'no-cycle',
    severity: 'error',
    from: {},
    to: { circular: true, viaOnly: { dependencyTypesNot: ['dynamic-import'] } },
  },
  {
    name: 'rules-import-no-reporter',
    severity: 'error',
    from: { path: '^src/gatewayapi/' },
    to: { path: '^(src/report/|checks/|src/pipeline\\.ts$|src/run\\.ts$|src/cli\\.ts$)' },
  },
  {
    name: 'no-check-imports-a-check',
    severity: 'error',
    from: { path: '^checks/', pathNot: '^checks/index\\.ts$' },
    to: { path: '^checks/' },
  },
  {
    name: 'src-reaches-checks-through-the-index',
    severity: 'error',
    from: { path: '^src/' },
    to: { path: '^checks/', pathNot: '^checks/index\\.ts$' },
  },
  {
    name: 'core-types-import-no-module',
    severity: 'error',
    from: { path: '^src/types\\.ts$' },
    to: { path: '^src/', pathNot: '^src/(registry|fix/fix|cluster/objects)\\.ts$' },
  },
];

async function violations(baseDir: string, dirs: string[]): Promise<string[]> {
  const r = await cruise(
    dirs,
    {
      baseDir,
      validate: true,
      parser: 'swc',
      tsPreCompilationDeps: true,
      doNotFollow: { path: 'node_modules' },
      ruleSet: { forbidden: RULES },
    },
    { extensions: ['.ts', '.js', '.json'] },
  );
  if (typeof r.output === 'string') throw new Error('dependency-cruiser gave no graph');
  return r.output.summary.violations.map(
    (v) =>
      `${v.rule.name}: ${v.from} -> ${v.to}${v.cycle?.length ? ` (${v.cycle.map((c) => c.name).join(' -> ')})` : ''}`,
  );
}

describe('the module graph with type imports', () => {
  it('keeps the rules over src/ and checks/', async () => {
    expect(await violations(root, ['src', 'checks'])).toEqual([]);
  }, 60_000);

  it('sees what esbuild does not: an `import type` of a reporter in a rule, and a cycle of type-only imports', async () => {
    const dir = tempDir('gwdoctor-graph-');
    for (const d of ['src/gatewayapi', 'src/report']) mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(
      join(dir, 'src/gatewayapi/hostnames.ts'),
      "import type { Reporter } from '../report/json.js';\nexport type X = Reporter;\n",
    );
    writeFileSync(join(dir, 'src/report/json.ts'), 'export interface Reporter { onEnd(): void }\n');
    writeFileSync(join(dir, 'src/a.ts'), "import type { B } from './b.js';\nexport interface A { b?: B }\n");
    writeFileSync(join(dir, 'src/b.ts'), "import type { A } from './a.js';\nexport interface B { a?: A }\n");
    const found = await violations(dir, ['src']);
    expect(
      found.some((v) => v.startsWith('rules-import-no-reporter: src/gatewayapi/hostnames.ts -> src/report/json.ts')),
    ).toBe(true);
    expect(found.some((v) => v.startsWith('no-cycle:') && v.includes('src/a.ts') && v.includes('src/b.ts'))).toBe(true);
  }, 60_000);
});
