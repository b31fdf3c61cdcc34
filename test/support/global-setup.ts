import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { randomBytes } from 'node:crypto';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createPool } from '../../src/db/pool.ts';
import { databaseUrl, withAdmin } from './admin-connection.ts';
import { freePort } from './free-port.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A superuser connection string; test files create their own databases from it. */
    adminDatabaseUrl: string;
    /** A migrated database that test files copy theirs from (`CREATE DATABASE … TEMPLATE`). */
    migratedTemplate: string;
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
    project.provide('migratedTemplate', await createMigratedTemplate(external));
    return;
  }
  const dataDir = await mkdtemp(path.join(tmpdir(), 'subledger-test-'));
  const postgres = await startEmbeddedPostgres({ dataDir, port: await freePort(), ephemeral: true, durable: false });
  project.provide('adminDatabaseUrl', postgres.url);
  project.provide('migratedTemplate', await createMigratedTemplate(postgres.url));
  return async () => {
    await postgres.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}

/**
 * Migrates one database for the run: a file's database is a copy of it, which costs a
 * fraction of running every migration again in each file. (test/db/migrate.int.spec.ts
 * migrates databases of its own from empty.)
 */
async function createMigratedTemplate(adminUrl: string): Promise<string> {
  const name = `template_${randomBytes(6).toString('hex')}`;
  await withAdmin(adminUrl, (admin) => admin.query(`CREATE DATABASE ${name}`));
  const pool = createPool(databaseUrl(adminUrl, name), 2, 'subledger-test-template');
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  return name;
}
