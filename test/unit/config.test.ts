// The config file's schema and its precompiled validator stay one thing; the README's example is the shipped one.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import schema from '../../schema/config.v1.json' with { type: 'json' };
import { readConfig } from '../../src/config.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('schema/config.v1.json', () => {
  it('is a valid JSON Schema 2020-12 under ajv strict mode', () => {
    expect(() => new Ajv2020({ strict: true, allowUnionTypes: true }).compile(schema)).not.toThrow();
  });
  it('is what src/config-validator.generated.ts was compiled from (node scripts/gen-config-validator.mjs --check)', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'gen-config-validator.mjs'), '--check'], {
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
  it('accepts the shipped example, and ajv (not only the generated code) agrees', () => {
    const file = join(ROOT, 'examples', 'gwdoctor.yaml');
    const validate = new Ajv2020({ strict: true, allowUnionTypes: true }).compile(schema);
    expect(validate(parse(readFileSync(file, 'utf8')))).toBe(true);
    expect(readConfig(file).values.internal).toEqual(['admin.example.com']);
  });
  it('is the example the README shows', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(`\`\`\`yaml\n${readFileSync(join(ROOT, 'examples', 'gwdoctor.yaml'), 'utf8')}\`\`\``);
  });
});
