// Regenerate the "Reason codes" section of README.md from src/registry.ts (run after npm run build: npm run docs).
import { readFileSync, writeFileSync } from 'node:fs';
import { codesMarkdown } from '../dist/src/registry.js';

const file = new URL('../README.md', import.meta.url);
const readme = readFileSync(file, 'utf8');
const begin = readme.indexOf('<!-- codes:begin');
const end = readme.indexOf('<!-- codes:end -->');
if (begin < 0 || end < 0) throw new Error('README.md lacks the codes:begin/codes:end markers');
const head = readme.slice(0, readme.indexOf('\n', begin) + 1);
writeFileSync(file, `${head}${codesMarkdown().trimEnd()}\n${readme.slice(end)}`);

// The JSON schema's layer ids and the six (or however many) layers in order, from the same registry.
import { LAYER_IDS } from '../dist/src/registry.js';
const schemaFile = new URL('../schema/report.v3.json', import.meta.url);
const schema = JSON.parse(readFileSync(schemaFile, 'utf8'));
schema.$defs.layerId.enum = [...LAYER_IDS];
const layers = schema.$defs.target.properties.layers;
layers.minItems = LAYER_IDS.length;
layers.maxItems = LAYER_IDS.length;
layers.prefixItems = LAYER_IDS.map((id) => ({
  allOf: [{ $ref: '#/$defs/layer' }, { type: 'object', properties: { id: { const: id } } }],
}));
writeFileSync(schemaFile, `${JSON.stringify(schema, null, 2)}\n`);
