import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SourceDocumentArchive } from '../../src/eventstore/source-documents.ts';
import {
  PlayDeveloperApi,
  type SubscriptionPurchaseV2,
  type VoidedPurchase,
} from '../../src/ingest/google/play-developer-api.ts';
import { VoidedPurchasesPoll } from '../../src/ingest/google/voided-poll.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { environmentOfPurchase } from '../../src/projections/entitlements/customer-purchases.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { eventually } from '../support/eventually.ts';
import type { FakePlayDeveloperApi } from '../../src/dev/google/fake-play-developer-api.ts';
import {
  GOOGLE_PACKAGE as PACKAGE,
  startFakeGoogle,
  subscriptionNotification,
  type FakeGoogle,
} from '../support/fake-google.ts';

/*
 * The scheduled voidedpurchases.list poll end to end: a subscription bought through a
 * signed Pub/Sub push, a refund Google lists but never notifies, served by a fake Play
 * Developer API over real HTTP, recorded in the harness's real database.
 */
const DAY = 86_400_000;
const HOUR = 3_600_000;

let google: FakeGoogle;
let play: FakePlayDeveloperApi;
let harness: AppleHarness;
let poll: VoidedPurchasesPoll;
beforeAll(async () => {
  google = await startFakeGoogle();
  play = google.play;
  const keyFile = google.keyFile;
  harness = await startGoogleHarness('0'); // this file polls by hand
  const { pool } = harness.db;
  poll = new VoidedPurchasesPoll({
    pool,
    api: new PlayDeveloperApi({ keyFile, rootUrl: play.rootUrl }),
    apps: harness.subledger.catalog.apps,
    eventStore: harness.subledger.eventStore,
    documents: new SourceDocumentArchive(pool),
    environmentOf: (token) => environmentOfPurchase(pool, 'play_store', token),
    logger: silentLogger,
    intervalMs: HOUR,
  });
});
afterAll(async () => {
  await harness?.stop();
  await google?.close();
});
beforeEach(async () => {
  await harness.reset();
  await harness.db.pool.query('TRUNCATE google_voided_polls');
});

function startGoogleHarness(pollIntervalSeconds: string): Promise<AppleHarness> {
  return startAppleHarness({ ...google.env, GOOGLE_VOIDED_POLL_INTERVAL_SECONDS: pollIntervalSeconds });
}

let purchases = 0;

/** A monthly subscription bought by `appUserId` a day ago, recorded through a push; its token and order id. */
async function buy(on: AppleHarness, appUserId: string): Promise<{ token: string; orderId: string }> {
  const n = ++purchases;
  const token = `play-voided-token-${n}-${'x'.repeat(40)}`;
  const orderId = `GPA.9000-0000-0000-${String(n).padStart(5, '0')}`;
  const now = Date.now();
  play.putSubscription(token, {
    kind: 'androidpublisher#subscriptionPurchaseV2',
    startTime: new Date(now - DAY).toISOString(),
    subscriptionState: 'SUBSCRIPTION_STATE_ACTIVE',
    latestOrderId: orderId,
    acknowledgementState: 'ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED',
    externalAccountIdentifiers: { obfuscatedExternalAccountId: appUserId },
    lineItems: [
      {
        productId: 'premium_monthly',
        expiryTime: new Date(now + 29 * DAY).toISOString(),
        latestSuccessfulOrderId: orderId,
        autoRenewingPlan: { autoRenewEnabled: true },
      },
    ],
  } as SubscriptionPurchaseV2); // latestOrderId: Google sends it; the client's types have dropped it
  const response = await google.push(on.subledger.url, subscriptionNotification(token, 4, now - DAY));
  expect(response.status).toBe(200);
  await on.processed();
  expect(await premiumOf(on, appUserId)).toMatchObject({ active: true, purchase: { purchaseId: token } });
  return { token, orderId };
}

/** What voidedpurchases.list says of a refund the customer asked for (voidedReason 1, remorse). */
const refund = (purchase: { token: string; orderId: string }, voidedAt: number): VoidedPurchase => ({
  kind: 'androidpublisher#voidedPurchase',
  purchaseToken: purchase.token,
  orderId: purchase.orderId,
  purchaseTimeMillis: String(voidedAt - DAY),
  voidedTimeMillis: String(voidedAt),
  voidedSource: 0,
  voidedReason: 1,
});

/**
 * From the read model, not over HTTP: the API's customer cache hears of a change a moment
 * after the projection has caught up, and would hide a revocation (or the lack of one).
 */
const premiumOf = async (on: AppleHarness, appUserId: string) =>
  (await on.entitlementsOf(appUserId, Date.now())).find((entitlement) => entitlement.id === 'premium');

const streamOf = async (token: string) =>
  (await harness.subledger.eventStore.readStream(`purchase:play_store:production:${token}`)).map((e) => e.id);

async function markOf(packageName: string): Promise<number | undefined> {
  const { rows } = await harness.db.pool.query<{ polled_until: Date }>(
    'SELECT polled_until FROM google_voided_polls WHERE package_name = $1',
    [packageName],
  );
  return rows[0]?.polled_until.getTime();
}

/** The startTime of each voidedpurchases.list request the fake answered since `from` (an index into its requests). */
const listedSince = (from: number) =>
  play.requests
    .slice(from)
    .filter((r) => r.path.endsWith('/purchases/voidedpurchases'))
    .map((r) => Number(r.query.startTime));

describe('the voided purchases poll', () => {
  it('revokes a refund Google never notified, records it once however often it is listed, and moves the mark', async () => {
    const purchase = await buy(harness, 'alice');
    const voidedAt = Date.now() - 60_000;
    play.putVoided([refund(purchase, voidedAt)]);

    const sent = play.requests.length;
    const before = Date.now();
    expect(await poll.pollOnce()).toEqual({ packages: 1, voided: 1, recorded: 1, malformed: 0, failed: 0 });
    const after = Date.now();
    await harness.processed();
    expect(await premiumOf(harness, 'alice')).toMatchObject({
      active: false,
      revokedAt: new Date(voidedAt).toISOString(),
    });
    // The first poll goes back (almost) as far as Google keeps voided purchases.
    const [firstStart] = listedSince(sent);
    expect(firstStart).toBeGreaterThanOrEqual(before - 30 * DAY);
    expect(firstStart).toBeLessThanOrEqual(after - 30 * DAY + 10 * 60_000);
    const firstMark = await markOf(PACKAGE);
    expect(firstMark).toBeGreaterThanOrEqual(before);
    expect(firstMark).toBeLessThanOrEqual(after);
    const recorded = await streamOf(purchase.token);
    const { rows } = await harness.db.pool.query(
      `SELECT e.metadata->'source'->>'kind' AS kind FROM events e WHERE e.type = 'TransactionRefunded'`,
    );
    expect(rows).toEqual([{ kind: 'google.voidedpurchases.list' }]);

    // Listed again (the overlap): nothing new; the next listing starts an hour before the mark.
    const again = play.requests.length;
    expect(await poll.pollOnce()).toEqual({ packages: 1, voided: 1, recorded: 0, malformed: 0, failed: 0 });
    expect(listedSince(again)).toEqual([firstMark! - HOUR]);
    expect(await streamOf(purchase.token)).toEqual(recorded);
    expect(await markOf(PACKAGE)).toBeGreaterThan(firstMark!);
  });

  it('leaves the mark where it was while Google is unavailable, and lists the same window next time', async () => {
    expect(await poll.pollOnce()).toMatchObject({ packages: 1, failed: 0 });
    const mark = await markOf(PACKAGE);
    const purchase = await buy(harness, 'bob');
    play.putVoided([refund(purchase, Date.now() - 60_000)]);

    play.failNextRequests(4); // the first attempt and the client's three retries
    expect(await poll.pollOnce()).toEqual({ packages: 0, voided: 0, recorded: 0, malformed: 0, failed: 1 });
    expect(await markOf(PACKAGE)).toBe(mark);
    expect(await premiumOf(harness, 'bob')).toMatchObject({ active: true });

    const sent = play.requests.length;
    expect(await poll.pollOnce()).toMatchObject({ packages: 1, recorded: 1, failed: 0 });
    expect(listedSince(sent)).toEqual([mark! - HOUR]);
    await harness.processed();
    expect(await premiumOf(harness, 'bob')).toMatchObject({ active: false, revokedAt: expect.any(String) });
  });

  it('waits its turn while another instance polls', async () => {
    const other = await harness.db.pool.connect();
    try {
      await other.query(`SELECT pg_advisory_lock(hashtext('subledger.google-voided-poll'))`);
      const sent = play.requests.length;
      expect(await poll.pollOnce()).toEqual({ packages: 0, voided: 0, recorded: 0, malformed: 0, failed: 0 });
      expect(listedSince(sent)).toEqual([]);
      expect(await markOf(PACKAGE)).toBeUndefined();
      await other.query(`SELECT pg_advisory_unlock(hashtext('subledger.google-voided-poll'))`);
      expect(await poll.pollOnce()).toMatchObject({ packages: 1 });
    } finally {
      other.release();
    }
  });

  it('skips and counts an entry it cannot record, and records the rest', async () => {
    const purchase = await buy(harness, 'carol');
    const voidedAt = Date.now() - 60_000;
    // Listed first (the fake sorts by voided time), and without the order it voids.
    const malformed: VoidedPurchase = { purchaseToken: 'play-voided-no-order', voidedTimeMillis: String(voidedAt - 1) };
    play.putVoided([malformed, refund(purchase, voidedAt)]);

    const report = await poll.pollOnce();
    // Earlier tests' refunds are listed too (the fake keeps them; the database was emptied).
    expect(report).toMatchObject({ packages: 1, malformed: 1, recorded: report.voided - 1, failed: 0 });
    await harness.processed();
    expect(await premiumOf(harness, 'carol')).toMatchObject({ active: false });
    expect(await markOf(PACKAGE)).toBeDefined();
  });
});

describe('the voided purchases poll in the running service', () => {
  it('runs every GOOGLE_VOIDED_POLL_INTERVAL_SECONDS', async () => {
    const service = await startGoogleHarness('1');
    try {
      const purchase = await buy(service, 'dave');
      play.putVoided([refund(purchase, Date.now() - 60_000)]);
      const premium = await eventually(
        () => premiumOf(service, 'dave'),
        (premium) => premium?.active === false,
        10_000,
      );
      expect(premium).toMatchObject({ active: false, revokedAt: expect.any(String) });
    } finally {
      await service.stop();
    }
  });
});
