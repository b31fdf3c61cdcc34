import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.spec.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // One PostgreSQL for the run; each test file gets a database of its own. Files share
    // the cores (below), so a heavy test can take several times its time alone: the
    // timeout only bounds a test that hangs.
    testTimeout: 90_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Most files wait on PostgreSQL, HTTP or a child process more than they compute: two
    // workers per core keep the cores busy (at most 4: each file's service and pools hold
    // connections to the one server).
    maxWorkers: Math.min(4, 2 * availableParallelism()),
    // A worker loads the service's modules once, not once per file (a second each). Files
    // share nothing else: each has its own database, ports and service instances.
    isolate: false,
    // Besides the usual output, every skipped test with the reason it was skipped.
    reporters: ['default', './test/support/skip-reasons-reporter.ts'],
  },
});
