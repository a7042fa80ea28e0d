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
