import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{codec,spec,results,reference-broker,harness,suites,scenarios,reports,cli}/**/*.test.ts'],
    // *.browser.test.ts drive a real browser: `npm run test:browser` (vitest.browser.config.ts).
    exclude: ['node_modules', 'dist', 'out', '**/*.browser.test.ts'],
    // Most suite time is spent waiting on sockets, not CPU: more workers than cores (measured:
    // suites 64 s with the default on 2 cores, 35 s with 4).
    maxWorkers: Math.max(4, availableParallelism()),
    testTimeout: 20_000,
    // conformance-reporter writes results JSON + JUnit for the suites (silent when none ran)
    reporters: ['default', './cli/conformance-reporter.ts'],
    hookTimeout: 30_000,
  },
});
