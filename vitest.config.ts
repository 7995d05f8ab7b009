import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{codec,spec,reference-broker,harness,suites,scenarios,reports,cli}/**/*.test.ts'],
    exclude: ['node_modules', 'dist', 'out'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
