import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{codec,spec,results,reference-broker,harness,suites,scenarios,reports,cli}/**/*.test.ts'],
    // *.browser.test.ts drive a real browser: `npm run test:browser` (vitest.browser.config.ts).
    exclude: ['node_modules', 'dist', 'out', '**/*.browser.test.ts'],
    testTimeout: 20_000,
    // conformance-reporter writes results JSON + JUnit for the suites (silent when none ran)
    reporters: ['default', './cli/conformance-reporter.ts'],
    hookTimeout: 30_000,
  },
});
