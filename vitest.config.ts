import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.spec.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // One PostgreSQL for the run; each test file gets a database of its own.
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
