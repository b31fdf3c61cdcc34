import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedPostgresUrl } from '../../src/db/embedded-postgres.ts';
import { loadMigrations } from '../../src/db/migrate.ts';
import { createPool } from '../../src/db/pool.ts';
import { PostgresEventStore } from '../../src/eventstore/postgres/postgres-event-store.ts';
import { freePort } from '../support/free-port.ts';
import { exitCodeOf, startSubledgerProcess, waitForHttp } from '../support/subledger-process.ts';

/*
 * What a new user does: start Subledger with no configuration and no database
 * installed. It starts the embedded PostgreSQL, migrates, serves /health and
 * /ready, and keeps its data across restarts.
 */
describe('npm start with no configuration', () => {
  let dataDir: string;
  let env: Record<string, string>;
  let base: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'subledger-start-'));
    const [httpPort, pgPort] = [await freePort(), await freePort()];
    env = {
      PORT: String(httpPort),
      SUBLEDGER_DATA_DIR: dataDir,
      EMBEDDED_POSTGRES_PORT: String(pgPort),
      LOG_LEVEL: 'warn',
    };
    base = `http://127.0.0.1:${httpPort}`;
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it('starts on the embedded PostgreSQL, becomes ready, and keeps its data across a restart', async () => {
    const migrations = await loadMigrations();
    const first = startSubledgerProcess(env);
    try {
      await waitForHttp(`${base}/health`, first);
      const ready = await fetch(`${base}/ready`);
      expect(ready.status).toBe(200);
      // Ready means reachable, migrated to the latest version and projecting; the details are for operators.
      expect(await ready.json()).toEqual({ status: 'ready' });

      // Write to the embedded database the service runs, as another Subledger process would.
      const pool = createPool(await embeddedPostgresUrl(dataDir, Number(env.EMBEDDED_POSTGRES_PORT)), 1);
      await new PostgresEventStore(pool).append(
        'kept-across-restarts',
        [{ id: randomUUID(), type: 'Noted', data: {}, metadata: {} }],
        { expectedVersion: 'no_stream' },
      );
      await pool.end();
    } finally {
      expect(await first.stop()).toBe(0);
    }

    const second = startSubledgerProcess(env);
    try {
      await waitForHttp(`${base}/ready`, second);
      const pool = createPool(await embeddedPostgresUrl(dataDir, Number(env.EMBEDDED_POSTGRES_PORT)), 1);
      expect(await new PostgresEventStore(pool).readStream('kept-across-restarts')).toHaveLength(1);
      const { rows } = await pool.query('SELECT count(*)::int AS n FROM schema_migrations');
      expect(rows[0].n).toBe(migrations.length);
      await pool.end();
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });

  it('refuses to start with a bad setting, naming the variable', async () => {
    const run = startSubledgerProcess({ ...env, PORT: 'eighty' });
    expect(await exitCodeOf(run)).toBe(1);
    expect(run.output()).toMatch(/PORT: /);
  });
});
