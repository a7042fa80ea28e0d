// Lets `node bench/run.ts` import the test harness (test/**, written for vitest): a `./x.js` specifier between
// TypeScript files resolves to `./x.ts`, which esbuild transforms (parameter properties and all); a specifier into the
// product (src/, checks/) resolves to its build in dist/, the code the CLI runs. Only the bench registers these hooks.

import { existsSync, readFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transformSync } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

registerHooks({
  resolve(specifier, context, next) {
    if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL?.startsWith('file:')) {
      const file = fileURLToPath(new URL(specifier, context.parentURL));
      const rel = file.startsWith(root) ? file.slice(root.length) : null;
      if (rel !== null && (rel.startsWith('src/') || rel.startsWith('checks/'))) {
        const built = `${root}dist/${rel}`;
        if (existsSync(built)) return { url: pathToFileURL(built).href, shortCircuit: true };
      }
      const ts = file.replace(/\.js$/, '.ts');
      if (!existsSync(file) && existsSync(ts)) return { url: pathToFileURL(ts).href, shortCircuit: true };
    }
    return next(specifier, context);
  },
  load(url, context, next) {
    if (url.startsWith('file:') && url.endsWith('.ts') && fileURLToPath(url).startsWith(`${root}test/`)) {
      const source = transformSync(readFileSync(fileURLToPath(url), 'utf8'), {
        loader: 'ts',
        format: 'esm',
        target: 'node22',
        sourcefile: url,
      }).code;
      return { format: 'module', source, shortCircuit: true };
    }
    return next(url, context);
  },
});
