import { defineConfig } from 'vitest/config';

/** `npm run test:browser`: pages and mails in a real Chromium (Debian's, driven by playwright-core). */
export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    maxWorkers: 1,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
