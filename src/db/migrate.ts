import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Pool } from './pool.ts';
import { withTransaction } from './transaction.ts';

const migrationsDir = fileURLToPath(new URL('./migrations/', import.meta.url));
/** Any constant shared by every Subledger instance: serialises concurrent start-ups. */
const MIGRATION_LOCK_KEY = 7_351_001;

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** The versioned SQL files in `src/db/migrations`, named `NNNN_description.sql`, in order. */
export async function loadMigrations(): Promise<Migration[]> {
  const files = (await readdir(migrationsDir)).filter((f) => f.endsWith('.sql')).sort();
  return Promise.all(
    files.map(async (file) => {
      const match = /^(\d{4})_(.+)\.sql$/.exec(file);
      if (!match) throw new Error(`Migration file ${file} is not named NNNN_description.sql`);
      return { version: Number(match[1]), name: match[2]!, sql: await readFile(migrationsDir + file, 'utf8') };
    }),
  );
}

/**
 * Applies the migrations this database has not seen yet, all in one transaction (PostgreSQL DDL
 * is transactional, so a failing migration leaves the schema as it was).
 * Safe to run twice and from several instances at once (an advisory lock serialises them).
 * Returns the versions it applied.
 */
export async function migrate(pool: Pool): Promise<number[]> {
  const migrations = await loadMigrations();
  return withTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((r) => r.version));
    const pending = migrations.filter((m) => !applied.has(m.version));
    for (const migration of pending) {
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
    }
    return pending.map((m) => m.version);
  });
}

/** The newest version applied to this database, or 0 for a database never migrated. */
export async function appliedSchemaVersion(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ version: number | null }>(
    `SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0
       ELSE (SELECT coalesce(max(version), 0) FROM schema_migrations) END AS version`,
  );
  return rows[0]?.version ?? 0;
}
