import { defineConfig } from 'vitest/config';

// One root config over every package. Tests import package sources through the
// `@karman/source` export condition, so `pnpm test` needs no prior build.
export default defineConfig({
  resolve: {
    conditions: ['@karman/source'],
  },
  ssr: {
    resolve: {
      conditions: ['@karman/source'],
    },
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'apps/*/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // The JSON report lets .ci/run print one plain "N passed, N failed" line at the end.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
  },
});
