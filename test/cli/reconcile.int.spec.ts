import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresEventStore } from '../../src/eventstore/postgres/postgres-event-store.ts';
import { recordPurchase } from '../../src/ingest/record-purchase.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startFakeGoogle, type FakeGoogle } from '../support/fake-google.ts';
import { day, fact, period, started } from '../support/purchase-facts.ts';
import { runSubledger } from '../support/cli.ts';

/*
 * `subledger reconcile` against a fake Play Developer API: every customer in app user id
 * order (resumable with --after), each purchase asked about and what Google says recorded.
 */
let db: TestDatabase;
let google: FakeGoogle;
let store: PostgresEventStore;
const tokenOf = (user: string) => `reconcile-token-${user}-${'r'.repeat(40)}`;
const streamOf = (user: string) => `purchase:play_store:production:${tokenOf(user)}`;

const subledger = (args: string[]) => runSubledger(db.url, args, google.env);

beforeAll(async () => {
  db = await createTestDatabase();
  google = await startFakeGoogle();
  store = new PostgresEventStore(db.pool);
  for (const user of ['amy', 'bob']) {
    const key = { store: 'play_store' as const, environment: 'production' as const, purchaseId: tokenOf(user) };
    await recordPurchase(
      store,
      key,
      {
        type: 'RecordStoreFacts',
        data: {
          facts: [
            started(period(`GPA.${user}`, 0, 30, { productId: 'premium_monthly' })),
            fact('PurchaseLinkedToAppUser', 0, { appUserId: user, via: 'app_account_token' }),
          ],
        },
      },
      { causationId: `buy-${user}` },
    );
    // Google says now: the user turned auto-renew off, and no notification came.
    google.play.putSubscription(tokenOf(user), {
      startTime: day(0),
      subscriptionState: 'SUBSCRIPTION_STATE_CANCELED',
      acknowledgementState: 'ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED',
      externalAccountIdentifiers: { obfuscatedExternalAccountId: user },
      lineItems: [
        {
          productId: 'premium_monthly',
          expiryTime: day(30),
          latestSuccessfulOrderId: `GPA.${user}`,
          autoRenewingPlan: { autoRenewEnabled: false },
        },
      ],
    });
  }
  expect((await subledger(['rebuild-projections'])).code).toBe(0);
});
afterAll(async () => {
  await db?.drop();
  await google?.close();
});

const types = async (user: string) => (await store.readStream(streamOf(user))).map((e) => e.type);

describe('subledger reconcile', () => {
  it('asks about every customer after the one given, then about everyone', async () => {
    const resumed = await subledger(['reconcile', '--all', '--after', 'amy']);
    expect(resumed).toMatchObject({ code: 0, stdout: expect.stringContaining('Reconciled 1 customer(s).') });
    expect(await types('bob')).toContain('AutoRenewTurnedOff');
    expect(await types('amy')).not.toContain('AutoRenewTurnedOff');

    expect((await subledger(['reconcile', '--all'])).stdout).toContain('Reconciled 2 customer(s).');
    expect(await types('amy')).toContain('AutoRenewTurnedOff');
  });

  it('asks about one customer, saying what each store answered', async () => {
    const one = await subledger(['reconcile', 'amy']);
    expect(one).toMatchObject({
      code: 0,
      stdout: expect.stringContaining(`play_store production ${tokenOf('amy')}: asked`),
    });
  });
});
