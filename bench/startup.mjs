// Benchmarks (not tests): start-up of the CLI and a full manifests run, median of N runs.
// node bench/startup.mjs [runs]   (build first: npm run build)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const runs = Number(process.argv[2] ?? 15);
const cases = [
  ['--version', ['--version']],
  ['--help', ['--help']],
  ['manifests run, 1 target', ['--manifests', 'fixtures/seed-healthy', '--offline', 'api.example.com']],
  ['manifests run, 3 targets, json', ['--manifests', 'fixtures/seed-healthy', '--offline', '-o', 'json', 'api.example.com', 'worker.example.com', 'admin.example.com']],
];
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`node ${process.version}, ${runs} runs each`);
for (const [entry, label] of [['dist/src/cli.js', 'tsc output'], ['dist/bundle/cli.js', 'release bundle']])
for (const [name, args] of cases) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, [entry, ...args], { cwd: root, env: { ...process.env, NO_COLOR: '1' } });
    times.push(performance.now() - t);
    if (r.status !== 0 && r.status !== 1) throw new Error(`${name}: exit ${r.status}: ${r.stderr}`);
  }
  console.log(`${label.padEnd(15)} ${name.padEnd(34)} median ${median(times).toFixed(1)} ms  min ${Math.min(...times).toFixed(1)} ms`);
}
