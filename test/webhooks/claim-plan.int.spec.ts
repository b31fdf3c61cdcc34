import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../../src/db/pool.ts';
import { systemClock } from '../../src/runtime/system-clock.ts';
import { CLAIM_LIMIT, CLAIM_STATEMENT, claimDeliveries, claimParameters } from '../../src/webhooks/claim-deliveries.ts';
import { WebhookEndpoints } from '../../src/webhooks/webhook-endpoints.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { pagesRead, whileAnOlderTransactionIsOpen } from '../support/plan-pages.ts';

/*
 * The delivery worker's claim is prepared on its connection and its plan kept, as the
 * intake queue's receive was; statistics lag behind a table that fills in seconds. Its
 * cost must follow what it claims, not the backlog, whatever plan it kept.
 */
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

describe.each([
  { when: 'no deliveries', history: 0 },
  { when: 'deliveries all delivered', history: 2_000 },
])('claims from a backlog with work bounded by the claim, when last analyzed with $when', ({ history }) => {
  it.each([1_000, 4_000])('%i waiting', async (backlog) => {
    await db.pool.query('TRUNCATE webhook_deliveries, customer_events, webhook_endpoints CASCADE');
    const { endpoint } = await new WebhookEndpoints(db.pool, systemClock, { allowPrivate: true }).create({
      url: 'http://127.0.0.1:9/hook',
      maxInFlight: 100,
    });
    const connection = createPool(db.url, 1);
    try {
      await schedule(endpoint.id, 'history', history, 'delivered');
      await db.pool.query('ANALYZE webhook_deliveries');
      const claim = () => ({ now: new Date(), leaseUntil: new Date(Date.now() + 60_000), held: {}, everyHead: false });
      const claimOldestDue = () => claimDeliveries(connection, claim());
      for (let i = 0; i < 8; i++) await claimOldestDue(); // so that a plan is made now, and kept
      // Deliveries under way: the oldest half delivered (since the last vacuum), the rest due,
      // and a transaction older than those deliveries still open.
      await schedule(endpoint.id, 'backlog', 2 * backlog, 'pending');
      const claimed = await whileAnOlderTransactionIsOpen(db.pool, async () => {
        await db.pool.query(
          `UPDATE webhook_deliveries SET status = 'delivered'
           WHERE id < (SELECT min(id) + $1 FROM webhook_deliveries WHERE app_user_id LIKE 'backlog-%')
             AND app_user_id LIKE 'backlog-%'`,
          [backlog],
        );
        await claimOldestDue(); // the first walk past the delivered ones
        return pagesRead(connection, CLAIM_STATEMENT, claimParameters(claim()));
      });
      expect(claimed.rows).toBe(CLAIM_LIMIT);
      // About 33 pages a delivery claimed, whatever the backlog. Without index walks, from an
      // empty table's statistics: 29,364 pages with 1,000 waiting and 101,299 with 4,000;
      // probing for heads through the oldest-first index, from statistics where all was
      // delivered: 177,526 and 203,062; updating through a join: 8,908 and 15,053.
      expect(claimed.pages).toBeLessThan(40 * CLAIM_LIMIT);
    } finally {
      await connection.end();
    }
  });
});

/** `count` deliveries of a TEST event each, to customers of their own. */
async function schedule(endpointId: string, prefix: string, count: number, status: 'pending' | 'delivered') {
  if (count === 0) return;
  await db.pool.query(
    `WITH events AS (
       INSERT INTO customer_events (id, ledger_commit, ledger_sequence, ledger_event_id, app_user_id, type, environment,
                                    occurred_at, payload)
       SELECT 'evt_' || $2 || '_' || n, 0, 0, '', $2 || '-' || n, 'TEST', 'sandbox', now(), '{}'::jsonb
       FROM generate_series(1, $3::int) AS n
       RETURNING id, app_user_id
     )
     INSERT INTO webhook_deliveries (endpoint_id, event_id, app_user_id, status)
     SELECT $1, id, app_user_id, $4 FROM events ORDER BY id`,
    [endpointId, prefix, count, status],
  );
}
