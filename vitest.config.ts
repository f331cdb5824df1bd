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
  },
});
