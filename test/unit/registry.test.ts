// One registry (src/registry.ts) is the source of every layer and reason code; these tests keep what derives from it
// — the README reference, the JSON schema, the layers' titles, --help — in step, and the layering of the code honest.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { INTERNAL_LAYERS, LAYERS as CHECKS } from '../../checks/index.js';
import { helpText } from '../../src/options.js';
import {
  ALL_SKIP_REASONS,
  CODES,
  codesMarkdown,
  internalMarkdown,
  judgesInternal,
  LAYER_IDS,
  LAYERS,
  layer,
  layersMarkdown,
  READ_KINDS,
} from '../../src/registry.js';
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
    // Each check's declaration (lane, after, needs, inputs, couldNotLook) is its registry entry's.
    expect(CHECKS.map(({ run: _, ...decl }) => decl)).toEqual(LAYER_IDS.map((id) => layer(id)));
  });
  it('generates the README layer tables (npm run docs)', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    for (const [name, md] of [
      ['layers', layersMarkdown()],
      ['internal', internalMarkdown()],
    ] as const) {
      const m = new RegExp(`<!-- ${name}:begin[^\\n]*\\n([\\s\\S]*?)<!-- ${name}:end -->`).exec(readme);
      expect(m?.[1]?.trimEnd(), name).toBe(md);
    }
    expect(layersMarkdown().split('\n').length).toBe(LAYER_IDS.length + 2);
  });
  it('runs an --internal host through a judge of its own where the registry documents one, else a stand-in', () => {
    // A stand-in reads nothing (needs: []) and skips with reason `internal`.
    expect(INTERNAL_LAYERS.map((c) => [c.id, c.needs.length > 0])).toEqual(
      LAYER_IDS.map((id) => [id, judgesInternal(id)]),
    );
  });
  it('matches the JSON schema: the layer id enum and the layers in order (npm run docs writes them)', () => {
    expect(schema.$defs.layerId.enum).toEqual([...LAYER_IDS]);
    const items = schema.$defs.target.properties.layers.prefixItems.map(
      (p: { allOf: { properties?: { id?: { const?: string } } }[] }) => p.allOf[1]?.properties?.id?.const,
    );
    expect(items).toEqual([...LAYER_IDS]);
    expect(schema.$defs.layer.properties.facts.properties.skipped.properties.reason.enum).toEqual([
      ...ALL_SKIP_REASONS,
    ]);
    expect(schema.$defs.layer.properties.facts.properties.unread.items.properties.kind.enum).toEqual([...READ_KINDS]);
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
