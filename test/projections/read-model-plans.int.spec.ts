import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelRow, upsertRows } from '../../src/projections/entitlements/purchases-projection.ts';
import { initialState } from '../../src/domain/purchase/state.ts';
import { parseCatalog } from '../../src/config/catalog-file.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import type { PurchaseKey } from '../../src/domain/purchase/purchase-key.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { pagesRead } from '../support/plan-pages.ts';

/*
 * The read model's writes keep their cost to the batch, never the table. A connection keeps
 * a statement's plan once it has run it a few times; a plan made while the table was small
 * (a new install, a rebuild from zero) is then used as the table grows, until statistics
 * catch up. The purchases table was read whole for every batch that way.
 */

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.drop());

const catalog = parseCatalog(readFileSync('catalog/sample-fitness.json', 'utf8'));

function rows(prefix: string, count: number) {
  return Array.from({ length: count }, (_, i) => {
    const key: PurchaseKey = { store: 'app_store', environment: 'production', purchaseId: `${prefix}-${i}` };
    return readModelRow(`purchase-${prefix}-${i}`, key, initialState(), 0, { catalog, logger: silentLogger });
  });
}

describe('purchases read model writes', () => {
  it('read a few pages per purchase written, however large the table and whatever plan was kept', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('TRUNCATE purchases, customer_streams');
      // Plans made while the table is empty, kept by this connection (as the projection's is).
      for (let i = 0; i < 12; i++) await upsertRows(client, rows(`warm${i}`, 50));
      // Then the table grows faster than statistics follow.
      await client.query(`INSERT INTO purchases (stream_id, store, environment, purchase_id, app_user_id, state, stream_version)
        SELECT 'bulk-' || n, 'app_store', 'Production', 'bulk-' || n, 'user-' || n, '{}', 0
        FROM generate_series(1, 200000) n`);
      const batch = JSON.stringify(rows('big', 50));
      // The statement the projection prepared on this connection, with the plan it kept.
      const { pages } = await pagesRead(
        client,
        `EXECUTE "purchases-upsert"('${batch.replaceAll("'", "''")}', 'test_customer_changes')`,
      );
      // About ten pages per purchase (its key probed, its row and index entries written), where
      // reading the table is 3,000.
      expect(pages).toBeLessThan(50 * 20);
    } finally {
      client.release();
    }
  });
});
