import { createHash } from 'node:crypto';
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
  /** sha256 of the SQL: an applied migration must never change. */
  readonly checksum: string;
}

/** The versioned SQL files in `src/db/migrations`, named `NNNN_description.sql`, in order. */
export async function loadMigrations(): Promise<Migration[]> {
  const files = (await readdir(migrationsDir)).filter((f) => f.endsWith('.sql')).sort();
  return Promise.all(
    files.map(async (file) => {
      const match = /^(\d{4})_(.+)\.sql$/.exec(file);
      if (!match) throw new Error(`Migration file ${file} is not named NNNN_description.sql`);
      const sql = await readFile(migrationsDir + file, 'utf8');
      return {
        version: Number(match[1]),
        name: match[2]!,
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
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
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number; checksum: string }>(
      'SELECT version, checksum FROM schema_migrations',
    );
    const applied = new Map(rows.map((r) => [r.version, r.checksum]));
    for (const migration of migrations) {
      const checksum = applied.get(migration.version);
      if (checksum !== undefined && checksum !== migration.checksum) {
        throw new Error(
          `Migration ${migration.version} (${migration.name}) changed after it was applied to this database. ` +
            'Applied migrations are never edited: add a new one.',
        );
      }
    }
    const pending = migrations.filter((m) => !applied.has(m.version));
    for (const migration of pending) {
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        migration.version,
        migration.name,
        migration.checksum,
      ]);
    }
    return pending.map((m) => m.version);
  });
}

/** The newest version applied to this database, or 0 for a database never migrated. */
export async function appliedSchemaVersion(pool: Pool): Promise<number> {
  // Two statements: PostgreSQL resolves every table a statement names before running it.
  const { rows: exists } = await pool.query<{ present: boolean }>(
    "SELECT to_regclass('schema_migrations') IS NOT NULL AS present",
  );
  if (!exists[0]?.present) return 0;
  const { rows } = await pool.query<{ version: number }>(
    'SELECT coalesce(max(version), 0) AS version FROM schema_migrations',
  );
  return rows[0]?.version ?? 0;
}
