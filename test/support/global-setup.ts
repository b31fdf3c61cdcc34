import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.ts';
import { freePort } from './free-port.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A superuser connection string; test files create their own databases from it. */
    adminDatabaseUrl: string;
  }
}

/**
 * Starts one embedded PostgreSQL for the whole test run, unless TEST_DATABASE_URL
 * (or DATABASE_URL) names a server to use instead.
 */
export default async function setup(project: TestProject) {
  const external = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
  if (external) {
    project.provide('adminDatabaseUrl', external);
    return;
  }
  const dataDir = await mkdtemp(path.join(tmpdir(), 'subledger-test-'));
  const postgres = await startEmbeddedPostgres({ dataDir, port: await freePort(), ephemeral: true });
  project.provide('adminDatabaseUrl', postgres.url);
  return async () => {
    await postgres.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}
