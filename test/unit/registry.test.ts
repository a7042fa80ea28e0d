// One registry (src/registry.ts) is the source of every layer and reason code; these tests keep what derives from it
// — the README reference, the JSON schema, the layers' titles, --help — in step, and the layering of the code honest.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LAYERS as CHECKS } from '../../checks/index.js';
import { helpText } from '../../src/options.js';
import { CODES, codesMarkdown, LAYER_IDS, LAYERS } from '../../src/registry.js';
import schema from '../../schema/report.v3.json' with { type: 'json' };

const root = join(import.meta.dirname, '..', '..');

describe('the registry', () => {
  it('generates the README reason-code reference (run `npm run docs` after editing the registry)', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const m = /<!-- codes:begin[^\n]*\n([\s\S]*?)<!-- codes:end -->/.exec(readme);
    expect(m?.[1]?.trimEnd()).toBe(codesMarkdown().trimEnd());
  });
  it('orders the layers the pipeline runs, with the registry titles', () => {
    expect(CHECKS.map((c) => [c.id, c.title])).toEqual(LAYERS.map((l) => [l.id, l.title]));
    expect(CHECKS.map(({ run: _, ...decl }) => decl)).toEqual(LAYERS.map(({ heading: _, ...decl }) => decl));
  });
  it('matches the JSON schema: the layer id enum and the layers in order (npm run docs writes them)', () => {
    expect(schema.$defs.layerId.enum).toEqual([...LAYER_IDS]);
    const items = schema.$defs.target.properties.layers.prefixItems.map(
      (p: { allOf: { properties?: { id?: { const?: string } } }[] }) => p.allOf[1]?.properties?.id?.const,
    );
    expect(items).toEqual([...LAYER_IDS]);
  });
  it('is what --help points at', () => {
    const h = helpText('test');
    expect(h).toContain(LAYER_IDS.join(', '));
    expect(h).toContain(`Reason codes (${Object.keys(CODES).length}`);
  });
  it('gives every code a layer, a severity and a README text', () => {
    for (const [code, c] of Object.entries(CODES)) {
      expect(c.doc.length, code).toBeGreaterThan(20);
      expect(['fail', 'warn', 'error']).toContain(c.severity);
    }
  });
});
