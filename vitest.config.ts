import { defineConfig } from 'vitest/config';

// Both projects: test/run-dir.ts gives the run one temporary directory (TMPDIR) and fails it if anything is left.

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['test/run-dir.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // run-dir first: torn down last, after the control plane that lives in it.
          globalSetup: ['test/run-dir.ts', 'test/integration/setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
