import { describe, expect, it } from 'vitest';
import { PurchaseRuleViolation, purchaseDecider, type PurchaseCommand } from '../../src/domain/purchase/decider.ts';
import type { PurchaseEvent } from '../../src/domain/purchase/events.ts';
import { foldPurchase, type PurchaseState } from '../../src/domain/purchase/state.ts';
import { finalStatus, hasAccessAt, purchaseStatusAt } from '../../src/domain/purchase/status.ts';
import { deterministicEventId } from '../../src/eventstore/command-handler.ts';
import { DeciderSpecification } from '../support/decider-specification.ts';
import { day, fact, LIFETIME, period, renewed, started, YEARLY } from '../support/purchase-facts.ts';

const { given } = DeciderSpecification.for(purchaseDecider);

const record = (...facts: PurchaseEvent[]): PurchaseCommand => ({ type: 'RecordStoreFacts', data: { facts } });
/** Given these past facts, when the store reports these, then they are recorded: the state after. */
const recorded = (past: PurchaseEvent[], ...facts: PurchaseEvent[]) =>
  given(past)
    .when(record(...facts))
    .then(facts);
/** The status as known now: of the end of time, or of day `at`. */
const statusOf = (state: PurchaseState, at?: number) =>
  at === undefined ? finalStatus(state) : purchaseStatusAt(state, day(at));
const statusAfter = (events: PurchaseEvent[]) => finalStatus(foldPurchase(events));

describe('recording store facts', () => {
  const first = period('t1', 0, 30);

  it('records a new purchase', () => {
    given([])
      .when(record(started(first)))
      .then([started(first)]);
  });

  it('decides the same fact with the same event id when a notification is delivered twice', () => {
    const { events: again } = given([started(first)])
      .when(record(started(first)))
      .then([started(first)]);
    const stream = 'purchase:app_store:production:1';
    expect(deterministicEventId(stream, again[0]!)).toBe(deterministicEventId(stream, started(first)));
    expect(deterministicEventId(stream, again[0]!)).not.toBe(
      deterministicEventId(stream, started(period('t2', 30, 60))),
    );
  });

  it('names a fact as every earlier version did: a redelivery years later is still recognised', () => {
    // Pinned: ids already in ledgers must come out the same, whatever the code computing them.
    const fact = {
      type: 'SubscriptionStarted',
      data: { transactionId: 't1', observedAt: '2026-01-01T00:00:00.000Z', note: 'é ü 😀' },
    } as unknown as PurchaseEvent;
    expect(deterministicEventId('purchase:app_store:production:1', fact)).toBe('291be0f7-549c-514e-8568-8f703e9e434d');
  });

  it('records each fact of a batch once, even when the batch repeats it', () => {
    given([])
      .when(record(started(first), started(first)))
      .then([started(first)]);
  });

  it('records a late, older observation, which is kept in the log without changing the present', () => {
    const lateOlder = fact('AutoRenewTurnedOn', 5, {});
    const { state } = recorded([started(first), fact('AutoRenewTurnedOff', 10, {})], lateOlder);
    expect(statusOf(state).willRenew).toBe(false);
  });

  it.each([
    ['an offset instead of Z', '2026-01-01T10:00:00+01:00'],
    ['no milliseconds', '2026-01-01T09:00:00Z'],
    ['no time zone', '2026-01-01T09:00:00.000'],
  ])('rejects a timestamp with %s, so one instant has one form', (_, refundedAt) => {
    const refund = fact('TransactionRefunded', 3, { transactionId: 't1', refundedAt });
    given([])
      .when(record(refund))
      .thenThrows(/refundedAt is not a UTC timestamp/);
  });

  it('rejects a transaction that expires before it starts', () => {
    given([])
      .when(record(started(period('t1', 30, 0))))
      .thenThrows(PurchaseRuleViolation);
  });

  it('rejects an observation without a valid store time', () => {
    const broken = { type: 'AutoRenewTurnedOff', data: { observedAt: 'yesterday' } } as PurchaseEvent;
    given([])
      .when(record(broken))
      .thenThrows(/observedAt is not a UTC timestamp/);
  });

  it('rejects a store fact that pretends to be a support transfer', () => {
    const forged = fact('PurchaseLinkedToAppUser', 1, { appUserId: 'mallory', via: 'support_transfer' });
    given([])
      .when(record(forged))
      .thenThrows(/account token/);
  });
});

describe('linking a purchase to an app user', () => {
  const link = (
    appUserId: string,
    via: 'app_submission' | 'support_transfer',
    at: number,
    whenOwnedByAnother?: 'transfer' | 'keep',
  ): PurchaseCommand => ({
    type: 'LinkToAppUser',
    data: { appUserId, via, at: day(at), ...(whenOwnedByAnother && { whenOwnedByAnother }) },
  });
  const linked = (appUserId: string, via: string, at: number, previousAppUserId?: string) =>
    fact('PurchaseLinkedToAppUser', at, {
      appUserId,
      via: via as never,
      ...(previousAppUserId && { previousAppUserId }),
    });

  it('links an unclaimed purchase to the app user who submits it', () => {
    given([])
      .when(link('alice', 'app_submission', 1))
      .then([linked('alice', 'app_submission', 1)]);
  });

  it('records nothing new when the owner claims their purchase again', () => {
    given([linked('alice', 'app_submission', 1)])
      .when(link('alice', 'app_submission', 2))
      .thenNothingHappened();
  });

  it('keeps a purchase with its owner when the app keeps on restore, and records the refused claim', () => {
    const { state } = given([linked('alice', 'app_submission', 1)])
      .when(link('bob', 'app_submission', 2, 'keep'))
      .then([fact('PurchaseClaimRefused', 2, { appUserId: 'bob', ownerAppUserId: 'alice' })]);
    expect(statusOf(state).owner?.appUserId).toBe('alice');
  });

  it('moves a purchase to the claimant when the app transfers on restore, even from an account token', () => {
    const past = [linked('alice', 'app_account_token', 1)];
    const { events } = given(past)
      .when(link('bob', 'app_submission', 2, 'transfer'))
      .then([linked('bob', 'restore_transfer', 2, 'alice')]);
    // A renewal later still carries alice's account token: the transfer stands.
    const later = [...past, ...events, linked('alice', 'app_account_token', 3)];
    expect(statusAfter(later).owner).toEqual({ appUserId: 'bob', via: 'restore_transfer' });
    // Restored on alice's account again: back to her.
    const { state } = given(later)
      .when(link('alice', 'app_submission', 4, 'transfer'))
      .then([linked('alice', 'restore_transfer', 4, 'bob')]);
    expect(statusOf(state).owner?.appUserId).toBe('alice');
  });

  it('lets support staff transfer a purchase, and the transfer wins', () => {
    const { state } = given([linked('alice', 'app_submission', 1)])
      .when(link('bob', 'support_transfer', 2))
      .then([linked('bob', 'support_transfer', 2, 'alice')]);
    expect(statusOf(state).owner).toEqual({ appUserId: 'bob', via: 'support_transfer' });
  });

  it("trusts the store's account token over an app's claim, whatever arrives first", () => {
    const claim = linked('mallory', 'app_submission', 1);
    const token = linked('alice', 'app_account_token', 0.5);
    expect(statusOf(recorded([claim], token).state).owner?.appUserId).toBe('alice');
    // An app's claim is a command, not a store fact: this order is folded as it was stored.
    expect(statusAfter([token, claim]).owner?.appUserId).toBe('alice');
  });
});

describe('subscription lifecycle', () => {
  const p1 = period('t1', 0, 30);
  const p2 = period('t2', 30, 60);

  it('is active during a paid period and not after it', () => {
    const status = statusOf(recorded([], started(p1)).state);
    expect(hasAccessAt(status, day(15))).toBe(true);
    expect(hasAccessAt(status, day(30))).toBe(false);
    expect(status).toMatchObject({ kind: 'subscription', willRenew: true, access: { from: day(0), until: day(30) } });
  });

  it('carries trial and offer details of the current period', () => {
    const trial = period('t1', 0, 7, { periodType: 'trial', offer: { type: 'introductory' } });
    expect(statusOf(recorded([], started(trial)).state)).toMatchObject({
      periodType: 'trial',
      current: { offer: { type: 'introductory' } },
    });
  });

  it('answers for the moment asked about when one state is asked about several moments in turn', () => {
    // Statuses are remembered per state (src/domain/purchase/status.ts): never for the wrong moment.
    // A copy of the state is a state never asked about, so its answer is worked out afresh.
    const { state } = recorded([started(p1)], renewed(p2));
    for (const at of [15, 45, 15, 15, 45, 70, 15]) {
      expect(purchaseStatusAt(state, day(at))).toEqual(purchaseStatusAt(structuredClone(state), day(at)));
    }
    expect(purchaseStatusAt(state, day(15)).current?.transactionId).toBe('t1');
    expect(finalStatus(state).current?.transactionId).toBe('t2');
    expect(purchaseStatusAt(state, day(15)).current?.transactionId).toBe('t1');
  });

  it('extends access with each renewal', () => {
    expect(statusOf(recorded([started(p1)], renewed(p2)).state).access).toEqual({ from: day(30), until: day(60) });
  });

  it('keeps access through a grace period after a failed renewal, then loses it', () => {
    const failed = fact('RenewalFailed', 30, { gracePeriodEndsAt: day(36) });
    const status = statusOf(recorded([started(p1)], failed).state);
    expect(status).toMatchObject({ billing: 'grace', gracePeriodEndsAt: day(36), billingIssueDetectedAt: day(30) });
    expect(hasAccessAt(status, day(33))).toBe(true);
    const { state: graceOver } = recorded([started(p1), failed], fact('GracePeriodExpired', 36, {}));
    // Known now, the grace period still covered day 33; it ended on day 36.
    expect(hasAccessAt(statusOf(graceOver, 33), day(33))).toBe(true);
    expect(statusOf(graceOver, 37)).toMatchObject({ billing: 'retry', access: { until: day(36) } });
    expect(hasAccessAt(statusOf(graceOver, 37), day(37))).toBe(false);
  });

  it('has no access during billing retry without a grace period, and recovers with the next renewal', () => {
    const failed = fact('RenewalFailed', 30, {});
    expect(hasAccessAt(statusOf(recorded([started(p1)], failed).state), day(31))).toBe(false);
    const renewal = renewed(period('t2', 32, 62), 32);
    const recovered = statusOf(recorded([started(p1), failed], renewal, fact('BillingRecovered', 32, {})).state);
    expect(recovered).toMatchObject({ billing: 'ok', access: { until: day(62) } });
    expect(recovered.billingIssueDetectedAt).toBeUndefined();
  });

  it('records when auto-renew was turned off, and that it will not renew', () => {
    const turnedOff = [started(p1), fact('AutoRenewTurnedOff', 10, {})];
    const status = statusOf(recorded(turnedOff, fact('AutoRenewTurnedOff', 12, {})).state);
    expect(status).toMatchObject({ willRenew: false, unsubscribeDetectedAt: day(10) });
    expect(statusOf(recorded(turnedOff, fact('AutoRenewTurnedOn', 11, {})).state).willRenew).toBe(true);
  });

  it('removes access from the moment of a refund, and gives it back when the refund is reversed', () => {
    const refund = fact('TransactionRefunded', 12, { transactionId: 't1', refundedAt: day(10) });
    const { state: refunded } = recorded([started(p1)], refund);
    expect(hasAccessAt(statusOf(refunded), day(11))).toBe(false);
    expect(statusOf(refunded).revocation).toEqual({ revokedAt: day(10), reason: 'refund' });
    // Support asking about day 5 still sees access: the refund came later.
    expect(hasAccessAt(statusOf(refunded, 5), day(5))).toBe(true);
    const { state: reversed } = recorded([started(p1), refund], fact('RefundReversed', 14, { transactionId: 't1' }));
    expect(hasAccessAt(statusOf(reversed), day(15))).toBe(true);
  });

  it('loses access when family sharing is revoked', () => {
    const shared = period('t1', 0, 30, { ownership: 'family_shared' });
    const revoked = fact('TransactionRevoked', 5, {
      transactionId: 't1',
      revokedAt: day(5),
      reason: 'family_sharing_revoked',
    });
    expect(hasAccessAt(statusOf(recorded([started(shared)], revoked).state), day(6))).toBe(false);
  });

  it('moves to the new product when an upgrade is applied mid-period', () => {
    const yearly = period('t2', 10, 375, { productId: YEARLY });
    const { state } = recorded(
      [started(p1), fact('ProductChangeScheduled', 5, { toProductId: YEARLY, change: 'upgrade' })],
      fact('TransactionRevoked', 10, { transactionId: 't1', revokedAt: day(10), reason: 'upgraded' }),
      renewed(yearly),
      fact('ProductChangeApplied', 10, { fromProductId: p1.productId, toProductId: YEARLY, change: 'upgrade' }),
    );
    const status = statusOf(state);
    expect(status).toMatchObject({
      storeProductId: YEARLY,
      access: { until: day(375) },
      lastProductChange: { change: 'upgrade' },
    });
    expect(status.pendingProductChange).toBeUndefined();
  });

  it('shows a scheduled downgrade until it is cancelled', () => {
    const scheduled = fact('ProductChangeScheduled', 5, { toProductId: 'basic', change: 'downgrade' });
    expect(statusOf(recorded([started(p1)], scheduled).state).pendingProductChange).toEqual({
      toProductId: 'basic',
      change: 'downgrade',
    });
    const { state } = recorded([started(p1), scheduled], fact('ProductChangeCancelled', 6, {}));
    expect(statusOf(state).pendingProductChange).toBeUndefined();
  });

  it('does not renew after expiring, until a new purchase', () => {
    const expiry = fact('SubscriptionExpired', 30, { reason: 'voluntary' });
    expect(statusOf(recorded([started(p1)], expiry).state)).toMatchObject({
      willRenew: false,
      expiration: { reason: 'voluntary' },
    });
    const resubscribed = statusOf(recorded([started(p1), expiry], started(period('t9', 40, 70))).state);
    expect(resubscribed).toMatchObject({ willRenew: true, access: { from: day(40) } });
    expect(resubscribed.expiration).toBeUndefined();
  });

  it('takes account holds and pauses into account', () => {
    const held = statusOf(recorded([started(p1)], fact('SubscriptionPutOnHold', 30, {})).state);
    // On hold the store keeps retrying the payment: it still renews once paid.
    expect(held).toMatchObject({ billing: 'on_hold', willRenew: true, billingIssueDetectedAt: day(30) });
    const paused = statusOf(recorded([started(p1)], fact('SubscriptionPaused', 30, { resumesAt: day(60) })).state);
    expect(paused.pause).toEqual({ resumesAt: day(60) });
    const resumed = recorded([started(p1), fact('SubscriptionPaused', 30, {})], fact('SubscriptionResumed', 60, {}));
    expect(statusOf(resumed.state).pause).toBeUndefined();
  });

  it('honours renewal extensions', () => {
    const extended = fact('RenewalExtended', 20, { transaction: { ...p1, expiresAt: day(37) }, reason: 'outage' });
    expect(statusOf(recorded([started(p1)], extended).state).access?.until).toBe(day(37));
  });

  it('keeps store notices with no entitlement effect', () => {
    const { state } = recorded(
      [started(p1)],
      fact('StoreNoticeRecorded', 3, { notice: 'apple:PRICE_INCREASE/PENDING' }),
    );
    expect(state.notices).toEqual([{ observedAt: day(3), value: 'apple:PRICE_INCREASE/PENDING' }]);
  });
});

describe('one-time purchases', () => {
  it('gives access that never expires, until refunded', () => {
    const lifetime = period('t1', 0, undefined, { productId: LIFETIME });
    const bought = fact('OneTimeProductPurchased', 0, { transaction: lifetime });
    const status = statusOf(recorded([], bought).state);
    expect(status).toMatchObject({ kind: 'one_time', willRenew: false, access: { until: null } });
    expect(hasAccessAt(status, day(5000))).toBe(true);
    const refund = fact('TransactionRefunded', 3, { transactionId: 't1', refundedAt: day(3) });
    expect(hasAccessAt(statusOf(recorded([bought], refund).state), day(4))).toBe(false);
  });
});
