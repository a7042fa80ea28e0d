// --output json: only the report on stdout (schema/report.v3.json describes it).

import type { Reporter } from '../types.js';

export function jsonReporter(write: (s: string) => void): Reporter {
  return {
    onEnd(report) {
      write(`${JSON.stringify(report, null, 2)}\n`);
    },
  };
}
