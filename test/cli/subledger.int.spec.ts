import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresEventStore } from '../../src/eventstore/postgres/postgres-event-store.ts';
import { recordPurchase } from '../../src/ingest/record-purchase.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { appleKey, day, period, started } from '../support/purchase-facts.ts';
import { runSubledger } from '../support/cli.ts';

let db: TestDatabase;

/** `subledger`, run in this process as an operator would run it, against the test database. */
const subledger = (args: string[], env: Record<string, string> = {}) => runSubledger(db.url, args, env);

beforeAll(async () => {
  db = await createTestDatabase();
  const store = new PostgresEventStore(db.pool);
  const key = appleKey('CLI-1');
  await recordPurchase(
    store,
    key,
    { type: 'LinkToAppUser', data: { appUserId: 'carol', via: 'app_submission', at: day(0) } },
    { causationId: 'link' },
  );
  await recordPurchase(
    store,
    key,
    { type: 'RecordStoreFacts', data: { facts: [started(period('t1', 0, 30))] } },
    { causationId: 'n1' },
  );
});
afterAll(() => db.drop());

describe('subledger CLI', () => {
  it('rebuilds the read model from the event store', async () => {
    const result = await subledger(['rebuild-projections']);
    expect(result).toMatchObject({ code: 0, stdout: expect.stringContaining('Rebuilt "purchases" from 2 events.') });
    const { rows } = await db.pool.query('SELECT app_user_id, access_until FROM purchases');
    expect(rows).toEqual([{ app_user_id: 'carol', access_until: new Date(day(30)) }]);
  });

  it('resumes a rebuild where it stopped, without emptying the read model again', async () => {
    // A row the last rebuild wrote, then changed: a resumed rebuild (nothing left to apply) keeps it,
    // where a fresh rebuild would empty the read model and write it again.
    await db.pool.query(`UPDATE purchases SET access_until = '2099-01-01'`);
    const resumed = await subledger(['rebuild-projections', '--resume']);
    expect(resumed).toMatchObject({ code: 0, stdout: expect.stringContaining('Rebuilt "purchases" from 0 events.') });
    expect((await db.pool.query('SELECT access_until FROM purchases')).rows).toEqual([
      { access_until: new Date('2099-01-01') },
    ]);
    expect((await subledger(['rebuild-projections'])).stdout).toContain('from 2 events');
    expect((await db.pool.query('SELECT access_until FROM purchases')).rows).toEqual([
      { access_until: new Date(day(30)) },
    ]);
  });

  it('shows what a re-fold would change, then applies it', async () => {
    await db.pool.query(`UPDATE purchases SET will_renew = false`);
    const dryRun = await subledger(['refold', 'carol', '--dry-run', '--json']);
    expect(dryRun.code).toBe(0);
    expect(JSON.parse(dryRun.stdout)).toMatchObject({
      changed: [{ columns: ['willRenew'], before: { willRenew: false }, after: { willRenew: true } }],
    });

    expect((await subledger(['refold', 'carol'])).stdout).toContain('1 purchase(s) of carol; 1 changed.');
    expect((await subledger(['refold', 'carol'])).stdout).toContain('1 purchase(s) of carol; 0 changed.');
  });

  it('lists products the catalog does not know', async () => {
    expect((await subledger(['unknown-products'])).stdout).toContain('Every purchased product is in the catalog.');
    const store = new PostgresEventStore(db.pool);
    const mystery = started(period('t9', 0, 30, { productId: 'com.example.pulse.mystery' }));
    await recordPurchase(
      store,
      appleKey('CLI-2'),
      { type: 'RecordStoreFacts', data: { facts: [mystery] } },
      { causationId: 'n2' },
    );
    await subledger(['rebuild-projections']);
    const listed = await subledger(['unknown-products', '--json']);
    expect(JSON.parse(listed.stdout)).toEqual([
      { store: 'app_store', storeProductId: 'com.example.pulse.mystery', purchases: 1 },
    ]);
  });

  it('exits with 2 and names the variable when the configuration is bad', async () => {
    const result = await subledger(['refold', 'carol'], { LOG_LEVEL: 'chatty' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('LOG_LEVEL');
  });

  it('explains a missing argument', async () => {
    const result = await subledger(['refold']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("missing required argument 'appUserId'");
  });
});
