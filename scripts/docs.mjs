// Regenerate the layer table and the "Reason codes" section of README.md from src/registry.ts (run after npm run
// build: npm run docs).
import { readFileSync, writeFileSync } from 'node:fs';
import { codesMarkdown, internalMarkdown, layersMarkdown } from '../dist/src/registry.js';

const file = new URL('../README.md', import.meta.url);
let readme = readFileSync(file, 'utf8');
/** Replace what lies between the `<!-- NAME:begin ...-->` line and `<!-- NAME:end -->` with `text`. */
function section(name, text) {
  const begin = readme.indexOf(`<!-- ${name}:begin`);
  const end = readme.indexOf(`<!-- ${name}:end -->`);
  if (begin < 0 || end < 0) throw new Error(`README.md lacks the ${name}:begin/${name}:end markers`);
  const head = readme.slice(0, readme.indexOf('\n', begin) + 1);
  readme = `${head}${text.trimEnd()}\n${readme.slice(end)}`;
}
section('layers', layersMarkdown());
section('internal', internalMarkdown());
section('codes', codesMarkdown());
writeFileSync(file, readme);

// The JSON schema's layer ids and the six (or however many) layers in order, from the same registry.
import { ALL_SKIP_REASONS, LAYER_IDS, READ_KINDS } from '../dist/src/registry.js';
const schemaFile = new URL('../schema/report.v3.json', import.meta.url);
const schema = JSON.parse(readFileSync(schemaFile, 'utf8'));
schema.$defs.layerId.enum = [...LAYER_IDS];
const layers = schema.$defs.target.properties.layers;
layers.minItems = LAYER_IDS.length;
layers.maxItems = LAYER_IDS.length;
layers.prefixItems = LAYER_IDS.map((id) => ({
  allOf: [{ $ref: '#/$defs/layer' }, { type: 'object', properties: { id: { const: id } } }],
}));
schema.$defs.layer.properties.facts.properties.skipped.properties.reason.enum = [...ALL_SKIP_REASONS];
schema.$defs.layer.properties.facts.properties.unread.items.properties.kind.enum = [...READ_KINDS];
writeFileSync(schemaFile, `${JSON.stringify(schema, null, 2)}\n`);
