import { describe, expect, it } from 'vitest';
import { decide, PurchaseRuleViolation, type PurchaseCommand } from '../../src/domain/purchase/decider.ts';
import type { PurchaseEvent } from '../../src/domain/purchase/events.ts';
import { deterministicEventId } from '../../src/eventstore/command-handler.ts';
import { foldPurchase } from '../../src/domain/purchase/state.ts';
import { finalStatus, hasAccessAt, purchaseStatusAt } from '../../src/domain/purchase/status.ts';
import { day, fact, LIFETIME, period, renewed, started, YEARLY } from '../support/purchase-facts.ts';

/** Given these past events, when this command, then these new events. */
const given = (past: PurchaseEvent[]) => ({
  when: (command: PurchaseCommand) => decide(command, foldPurchase(past)),
});
const record = (...facts: PurchaseEvent[]): PurchaseCommand => ({ type: 'RecordStoreFacts', data: { facts } });
const statusAfter = (events: PurchaseEvent[], at?: number) =>
  at === undefined ? finalStatus(foldPurchase(events)) : purchaseStatusAt(foldPurchase(events), day(at));

describe('recording store facts', () => {
  const first = period('t1', 0, 30);

  it('records a new purchase', () => {
    expect(given([]).when(record(started(first)))).toEqual([started(first)]);
  });

  it('decides the same fact with the same event id when a notification is delivered twice', () => {
    const again = given([started(first)]).when(record(started(first)));
    expect(again).toEqual([started(first)]);
    const stream = 'purchase:app_store:production:1';
    expect(deterministicEventId(stream, again[0]!)).toBe(deterministicEventId(stream, started(first)));
    expect(deterministicEventId(stream, again[0]!)).not.toBe(
      deterministicEventId(stream, started(period('t2', 30, 60))),
    );
  });

  it('records each fact of a batch once, even when the batch repeats it', () => {
    expect(given([]).when(record(started(first), started(first)))).toEqual([started(first)]);
  });

  it('records a late, older observation, which is kept in the log without changing the present', () => {
    const past = [started(first), fact('AutoRenewTurnedOff', 10, {})];
    const lateOlder = fact('AutoRenewTurnedOn', 5, {});
    expect(given(past).when(record(lateOlder))).toEqual([lateOlder]);
    expect(statusAfter([...past, lateOlder]).willRenew).toBe(false);
  });

  it.each([
    ['an offset instead of Z', '2026-01-01T10:00:00+01:00'],
    ['no milliseconds', '2026-01-01T09:00:00Z'],
    ['no time zone', '2026-01-01T09:00:00.000'],
  ])('rejects a timestamp with %s, so one instant has one form', (_, refundedAt) => {
    const refund = fact('TransactionRefunded', 3, { transactionId: 't1', refundedAt });
    expect(() => given([]).when(record(refund))).toThrow(/refundedAt is not a UTC timestamp/);
  });

  it('rejects a transaction that expires before it starts', () => {
    expect(() => given([]).when(record(started(period('t1', 30, 0))))).toThrow(PurchaseRuleViolation);
  });

  it('rejects an observation without a valid store time', () => {
    const broken = { type: 'AutoRenewTurnedOff', data: { observedAt: 'yesterday' } } as PurchaseEvent;
    expect(() => given([]).when(record(broken))).toThrow(/observedAt is not a UTC timestamp/);
  });

  it('rejects a store fact that pretends to be a support transfer', () => {
    const forged = fact('PurchaseLinkedToAppUser', 1, { appUserId: 'mallory', via: 'support_transfer' });
    expect(() => given([]).when(record(forged))).toThrow(/account token/);
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
  const linked = (appUserId: string, via: string, at: number) =>
    fact('PurchaseLinkedToAppUser', at, { appUserId, via: via as never });

  it('links an unclaimed purchase to the app user who submits it', () => {
    expect(given([]).when(link('alice', 'app_submission', 1))).toEqual([linked('alice', 'app_submission', 1)]);
  });

  it('records nothing new when the owner claims their purchase again', () => {
    expect(given([linked('alice', 'app_submission', 1)]).when(link('alice', 'app_submission', 2))).toEqual([]);
  });

  it('keeps a purchase with its owner when the app keeps on restore, and records the refused claim', () => {
    const past = [linked('alice', 'app_submission', 1)];
    const events = given(past).when(link('bob', 'app_submission', 2, 'keep'));
    expect(events).toEqual([fact('PurchaseClaimRefused', 2, { appUserId: 'bob', ownerAppUserId: 'alice' })]);
    expect(statusAfter([...past, ...events]).owner?.appUserId).toBe('alice');
  });

  it('moves a purchase to the claimant when the app transfers on restore, even from an account token', () => {
    const past = [linked('alice', 'app_account_token', 1)];
    const events = given(past).when(link('bob', 'app_submission', 2, 'transfer'));
    expect(events).toEqual([
      fact('PurchaseLinkedToAppUser', 2, { appUserId: 'bob', via: 'restore_transfer', previousAppUserId: 'alice' }),
    ]);
    // A renewal later still carries alice's account token: the transfer stands.
    const later = [...past, ...events, linked('alice', 'app_account_token', 3)];
    expect(statusAfter(later).owner).toEqual({ appUserId: 'bob', via: 'restore_transfer' });
    // Restored on alice's account again: back to her.
    const back = given(later).when(link('alice', 'app_submission', 4, 'transfer'));
    expect(statusAfter([...later, ...back]).owner?.appUserId).toBe('alice');
  });

  it('lets support staff transfer a purchase, and the transfer wins', () => {
    const past = [linked('alice', 'app_submission', 1)];
    const events = given(past).when(link('bob', 'support_transfer', 2));
    expect(events).toEqual([
      fact('PurchaseLinkedToAppUser', 2, { appUserId: 'bob', via: 'support_transfer', previousAppUserId: 'alice' }),
    ]);
    expect(statusAfter([...past, ...events]).owner).toEqual({ appUserId: 'bob', via: 'support_transfer' });
  });

  it("trusts the store's account token over an app's claim, whatever arrives first", () => {
    const claim = linked('mallory', 'app_submission', 1);
    const token = linked('alice', 'app_account_token', 0.5);
    expect(statusAfter([claim, token]).owner?.appUserId).toBe('alice');
    expect(statusAfter([token, claim]).owner?.appUserId).toBe('alice');
  });
});

describe('subscription lifecycle', () => {
  const p1 = period('t1', 0, 30);
  const p2 = period('t2', 30, 60);

  it('is active during a paid period and not after it', () => {
    const events = [started(p1)];
    const status = statusAfter(events);
    expect(hasAccessAt(status, day(15))).toBe(true);
    expect(hasAccessAt(status, day(30))).toBe(false);
    expect(status).toMatchObject({ kind: 'subscription', willRenew: true, access: { from: day(0), until: day(30) } });
  });

  it('carries trial and offer details of the current period', () => {
    const trial = period('t1', 0, 7, { periodType: 'trial', offer: { type: 'introductory' } });
    expect(statusAfter([started(trial)])).toMatchObject({
      periodType: 'trial',
      current: { offer: { type: 'introductory' } },
    });
  });

  it('extends access with each renewal', () => {
    expect(statusAfter([started(p1), renewed(p2)]).access).toEqual({ from: day(30), until: day(60) });
  });

  it('keeps access through a grace period after a failed renewal, then loses it', () => {
    const events = [started(p1), fact('RenewalFailed', 30, { gracePeriodEndsAt: day(36) })];
    const status = statusAfter(events);
    expect(status).toMatchObject({ billing: 'grace', gracePeriodEndsAt: day(36), billingIssueDetectedAt: day(30) });
    expect(hasAccessAt(status, day(33))).toBe(true);
    const graceOver = [...events, fact('GracePeriodExpired', 36, {})];
    // Known now, the grace period still covered day 33; it ended on day 36.
    expect(hasAccessAt(statusAfter(graceOver, 33), day(33))).toBe(true);
    expect(statusAfter(graceOver, 37)).toMatchObject({ billing: 'retry', access: { until: day(36) } });
    expect(hasAccessAt(statusAfter(graceOver, 37), day(37))).toBe(false);
  });

  it('has no access during billing retry without a grace period, and recovers with the next renewal', () => {
    const failing = [started(p1), fact('RenewalFailed', 30, {})];
    expect(hasAccessAt(statusAfter(failing), day(31))).toBe(false);
    const recovered = statusAfter([...failing, renewed(period('t2', 32, 62), 32), fact('BillingRecovered', 32, {})]);
    expect(recovered).toMatchObject({ billing: 'ok', access: { until: day(62) } });
    expect(recovered.billingIssueDetectedAt).toBeUndefined();
  });

  it('records when auto-renew was turned off, and that it will not renew', () => {
    const status = statusAfter([started(p1), fact('AutoRenewTurnedOff', 10, {}), fact('AutoRenewTurnedOff', 12, {})]);
    expect(status).toMatchObject({ willRenew: false, unsubscribeDetectedAt: day(10) });
    expect(
      statusAfter([started(p1), fact('AutoRenewTurnedOff', 10, {}), fact('AutoRenewTurnedOn', 11, {})]).willRenew,
    ).toBe(true);
  });

  it('removes access from the moment of a refund, and gives it back when the refund is reversed', () => {
    const refunded = [started(p1), fact('TransactionRefunded', 12, { transactionId: 't1', refundedAt: day(10) })];
    expect(hasAccessAt(statusAfter(refunded), day(11))).toBe(false);
    expect(statusAfter(refunded).revocation).toEqual({ revokedAt: day(10), reason: 'refund' });
    // Support asking about day 5 still sees access: the refund came later.
    expect(hasAccessAt(statusAfter(refunded, 5), day(5))).toBe(true);
    const reversed = [...refunded, fact('RefundReversed', 14, { transactionId: 't1' })];
    expect(hasAccessAt(statusAfter(reversed), day(15))).toBe(true);
  });

  it('loses access when family sharing is revoked', () => {
    const shared = period('t1', 0, 30, { ownership: 'family_shared' });
    const events = [
      started(shared),
      fact('TransactionRevoked', 5, { transactionId: 't1', revokedAt: day(5), reason: 'family_sharing_revoked' }),
    ];
    expect(hasAccessAt(statusAfter(events), day(6))).toBe(false);
  });

  it('moves to the new product when an upgrade is applied mid-period', () => {
    const yearly = period('t2', 10, 375, { productId: YEARLY });
    const events = [
      started(p1),
      fact('ProductChangeScheduled', 5, { toProductId: YEARLY, change: 'upgrade' }),
      fact('TransactionRevoked', 10, { transactionId: 't1', revokedAt: day(10), reason: 'upgraded' }),
      renewed(yearly),
      fact('ProductChangeApplied', 10, { fromProductId: p1.productId, toProductId: YEARLY, change: 'upgrade' }),
    ];
    const status = statusAfter(events);
    expect(status).toMatchObject({
      storeProductId: YEARLY,
      access: { until: day(375) },
      lastProductChange: { change: 'upgrade' },
    });
    expect(status.pendingProductChange).toBeUndefined();
  });

  it('shows a scheduled downgrade until it is cancelled', () => {
    const scheduled = [started(p1), fact('ProductChangeScheduled', 5, { toProductId: 'basic', change: 'downgrade' })];
    expect(statusAfter(scheduled).pendingProductChange).toEqual({ toProductId: 'basic', change: 'downgrade' });
    expect(statusAfter([...scheduled, fact('ProductChangeCancelled', 6, {})]).pendingProductChange).toBeUndefined();
  });

  it('does not renew after expiring, until a new purchase', () => {
    const expired = [started(p1), fact('SubscriptionExpired', 30, { reason: 'voluntary' })];
    expect(statusAfter(expired)).toMatchObject({ willRenew: false, expiration: { reason: 'voluntary' } });
    const resubscribed = statusAfter([...expired, started(period('t9', 40, 70))]);
    expect(resubscribed).toMatchObject({ willRenew: true, access: { from: day(40) } });
    expect(resubscribed.expiration).toBeUndefined();
  });

  it('takes account holds and pauses into account', () => {
    const held = statusAfter([started(p1), fact('SubscriptionPutOnHold', 30, {})]);
    // On hold the store keeps retrying the payment: it still renews once paid.
    expect(held).toMatchObject({ billing: 'on_hold', willRenew: true, billingIssueDetectedAt: day(30) });
    const paused = statusAfter([started(p1), fact('SubscriptionPaused', 30, { resumesAt: day(60) })]);
    expect(paused.pause).toEqual({ resumesAt: day(60) });
    expect(
      statusAfter([started(p1), fact('SubscriptionPaused', 30, {}), fact('SubscriptionResumed', 60, {})]).pause,
    ).toBeUndefined();
  });

  it('honours renewal extensions', () => {
    const extended = fact('RenewalExtended', 20, { transaction: { ...p1, expiresAt: day(37) }, reason: 'outage' });
    expect(statusAfter([started(p1), extended]).access?.until).toBe(day(37));
  });

  it('keeps store notices with no entitlement effect', () => {
    const state = foldPurchase([
      started(p1),
      fact('StoreNoticeRecorded', 3, { notice: 'apple:PRICE_INCREASE/PENDING' }),
    ]);
    expect(state.notices).toEqual([{ observedAt: day(3), value: 'apple:PRICE_INCREASE/PENDING' }]);
  });
});

describe('one-time purchases', () => {
  it('gives access that never expires, until refunded', () => {
    const lifetime = period('t1', 0, undefined, { productId: LIFETIME });
    const bought = [fact('OneTimeProductPurchased', 0, { transaction: lifetime })];
    expect(statusAfter(bought)).toMatchObject({ kind: 'one_time', willRenew: false, access: { until: null } });
    expect(hasAccessAt(statusAfter(bought), day(5000))).toBe(true);
    const refunded = [...bought, fact('TransactionRefunded', 3, { transactionId: 't1', refundedAt: day(3) })];
    expect(hasAccessAt(statusAfter(refunded), day(4))).toBe(false);
  });
});
