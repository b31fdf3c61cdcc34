import { afterAll, beforeAll, expect, it } from 'vitest';
import { appliedSchemaVersion, loadMigrations, migrate } from '../../src/db/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ migrated: false });
});
afterAll(() => db.drop());

it('applies every migration once, is safe to run again and concurrently, and refuses an edited one', async () => {
  const latest = Math.max(...(await loadMigrations()).map((m) => m.version));
  expect(await appliedSchemaVersion(db.pool)).toBe(0);

  const [first, second] = await Promise.all([migrate(db.pool), migrate(db.pool)]);
  expect([...first, ...second].sort()).toEqual((await loadMigrations()).map((m) => m.version).sort());
  expect(await migrate(db.pool)).toEqual([]);
  expect(await appliedSchemaVersion(db.pool)).toBe(latest);

  await db.pool.query(`UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1`);
  await expect(migrate(db.pool)).rejects.toThrow(/Migration 1 \(event_store\) changed after it was applied/);
});
