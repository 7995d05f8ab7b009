import { defineConfig } from 'vitest/config';

// `npm run test:browser`: tests that drive a real browser (headless Debian Chromium).
// Kept out of `npm test`, whose config excludes *.browser.test.ts.
export default defineConfig({
  test: {
    include: ['{reference-broker,reports}/**/*.browser.test.ts'],
    exclude: ['node_modules', 'dist', 'out'],
    testTimeout: 60_000,
    hookTimeout: 90_000,
    // One browser at a time on a 2-core machine.
    fileParallelism: false,
  },
});
