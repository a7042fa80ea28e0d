#!/usr/bin/env node
// `kubectl gwdoctor ...`: kubectl finds this executable on PATH (npm installs it next to gwdoctor) and passes the
// arguments unchanged. Translate kubectl's -n/--namespace, then run the normal CLI.

import { UsageError } from './errors.js';
import { kubectlArgs } from './kubectl-args.js';

try {
  process.argv = [process.argv[0] as string, process.argv[1] as string, ...kubectlArgs(process.argv.slice(2))];
  await import('./cli.js');
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`gwdoctor: ${err.message}\n`);
  process.exitCode = 3;
}
