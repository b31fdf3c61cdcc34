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

it('folds every purchase again after the shape of stored states changed (0016): old states are never read', async () => {
  const fresh = await createTestDatabase();
  try {
    // A state as folded before `reportedAt` and the subscription's revocations existed.
    await fresh.pool.query(
      `INSERT INTO purchases (stream_id, store, environment, purchase_id, app_user_id, state, stream_version)
       VALUES ('purchase:app_store:production:1', 'app_store', 'production', '1', 'alice', '{"transactions": {}}', 3)`,
    );
    await fresh.pool.query(
      `INSERT INTO customer_streams (app_user_id, stream_id) VALUES ('alice', 'purchase:app_store:production:1')`,
    );
    await fresh.pool.query(
      `INSERT INTO projection_checkpoints (projection, commit_position, sequence_position) VALUES ('purchases', 42, 7)`,
    );
    await fresh.pool.query('DELETE FROM schema_migrations WHERE version = 16');

    expect(await migrate(fresh.pool)).toEqual([16]);
    const { rows } = await fresh.pool.query(
      `SELECT (SELECT count(*)::int FROM purchases) AS purchases, (SELECT count(*)::int FROM customer_streams) AS streams,
              commit_position::int AS commit, sequence_position::int AS sequence
       FROM projection_checkpoints WHERE projection = 'purchases'`,
    );
    expect(rows[0]).toEqual({ purchases: 0, streams: 0, commit: 0, sequence: 0 });
  } finally {
    await fresh.drop();
  }
});
