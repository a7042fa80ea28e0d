// The reporter map: every format writes only to the sink it is given, never to process.stdout itself.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { FORMATS } from '../../../src/report/formats.js';
import { REPORTERS, createReporter, effectiveOutputs, type Sink } from '../../../src/report/index.js';
import { scenarioReport } from '../../helpers/reports.js';

function capture(isTTY = false): Sink & { text: () => string } {
  const chunks: string[] = [];
  return { write: (s) => void chunks.push(s), isTTY, name: 'test', text: () => chunks.join('') };
}

afterEach(() => vi.restoreAllMocks());

describe('REPORTERS', () => {
  it('has a reporter for every format the -o flag accepts', () => {
    expect(Object.keys(REPORTERS).sort()).toEqual([...FORMATS].sort());
  });

  it.each([...FORMATS])('%s writes its output to the given sink and nothing to process.stdout', async (format) => {
    const report = await scenarioReport([
      ['grant-missing', 'api.example.com'],
      ['grant-missing', 'worker.example.com'],
    ]);
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const sink = capture();
    const r = await REPORTERS[format](sink, { color: false, verbose: false, env: {} });
    await r.onEnd(report);
    expect(stdout).not.toHaveBeenCalled();
    expect(sink.text()).toMatch(/api\.example\.com/);
  });
});

describe('effectiveOutputs', () => {
  it('is text on stdout when nothing is asked for', () => {
    expect(effectiveOutputs([], {})).toEqual([{ format: 'text', file: null }]);
  });
  it('adds the github annotations after text on stdout under GitHub Actions, and only then', () => {
    expect(effectiveOutputs([], { GITHUB_ACTIONS: 'true' })).toEqual([
      { format: 'text', file: null },
      { format: 'github', file: null },
    ]);
    expect(effectiveOutputs([{ format: 'json', file: null }], { GITHUB_ACTIONS: 'true' })).toEqual([
      { format: 'json', file: null },
    ]);
    expect(effectiveOutputs([{ format: 'github', file: 'a.txt' }], { GITHUB_ACTIONS: 'true' })).toEqual([
      { format: 'text', file: null },
      { format: 'github', file: 'a.txt' },
    ]);
  });
  it('adds text on stdout when every format goes to a file', () => {
    expect(effectiveOutputs([{ format: 'json', file: 'r.json' }], {})).toEqual([
      { format: 'text', file: null },
      { format: 'json', file: 'r.json' },
    ]);
  });
});

it('createReporter feeds one Report to every output, in the order given', async () => {
  const report = await scenarioReport([['grant-missing', 'api.example.com']]);
  const out = capture();
  const r = await createReporter([{ format: 'json', file: null }], { color: false, verbose: false, env: {} }, out);
  await r.onEnd(report);
  expect(JSON.parse(out.text())).toEqual(report);
});
