// Starter for scripts/try-live.ts (npm run try-live): the integration harness it reuses is TypeScript with .js import
// specifiers, which Node's type stripping does not map; esbuild (a dev dependency) bundles it into dist/try-live/,
// packages left external, in well under a second. Everything after `--` goes to the script.
import { build } from 'esbuild';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const outfile = `${root}dist/try-live/try-live.mjs`;
// The harness finds the repository from its own directory (import.meta.dirname): keep that true inside the bundle.
const harness = `${root}test/integration/harness`;
await build({
  entryPoints: [`${root}scripts/try-live.ts`],
  bundle: true,
  platform: 'node',
  format: 'esm',
  packages: 'external',
  target: 'node22',
  outfile,
  logLevel: 'warning',
  define: { 'import.meta.dirname': JSON.stringify(harness) },
});
await import(pathToFileURL(outfile).href);
