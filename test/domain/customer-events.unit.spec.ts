import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/catalog-file.ts';
import type { CustomerEvent } from '../../src/domain/customer-events/customer-event.ts';
import { customerEventsOf } from '../../src/domain/customer-events/customer-events-of.ts';
import type { CustomerPurchase } from '../../src/domain/entitlements.ts';
import type { PurchaseEvent } from '../../src/domain/purchase/events.ts';
import type { PurchaseKey } from '../../src/domain/purchase/purchase-key.ts';
import { evolve, initialState, type PurchaseState } from '../../src/domain/purchase/state.ts';
import { appleKey, day, fact, period, renewed, started } from '../support/purchase-facts.ts';

/*
 * Issue 14: which customer events a recorded fact sets off. Each journey is told fact by
 * fact, as the ledger records them, and checks what the app's backend would hear.
 */
const catalog = parseCatalog(readFileSync('catalog/sample-fitness.json', 'utf8'));

/** Records facts on one purchase, one at a time; `others` are the customers' other purchases. */
function journey(key: PurchaseKey = appleKey(), others: CustomerPurchase[] = []) {
  let state: PurchaseState = initialState();
  return (event: PurchaseEvent): CustomerEvent[] => {
    const before = state;
    state = evolve(state, event);
    return customerEventsOf({
      event,
      key,
      before,
      after: state,
      othersOf: (appUserId) => others.filter((p) => p.state.links.some((l) => l.value.appUserId === appUserId)),
      catalog,
    });
  };
}

const linked = (appUserId: string, observedDay: number, previousAppUserId?: string) =>
  fact('PurchaseLinkedToAppUser', observedDay, {
    appUserId,
    via: previousAppUserId ? 'support_transfer' : 'app_account_token',
    ...(previousAppUserId && { previousAppUserId }),
  });

const told = (events: CustomerEvent[]) =>
  events.map((e) => {
    const active = e.entitlements?.after.filter((x) => x.active).map((x) => x.id);
    return e.type === 'ENTITLEMENTS_CHANGED' ? `${e.type} ${e.appUserId} [${active}]` : `${e.type} ${e.appUserId}`;
  });

describe('a subscription’s life, as its owner’s backend hears it', () => {
  it('a purchase, a renewal, a cancellation, an expiry', () => {
    const record = journey();
    // The purchase is nobody's until the link: then it is told as it stands.
    expect(record(started(period('t1', 0, 30)))).toEqual([]);
    expect(told(record(linked('alice', 0)))).toEqual([
      'INITIAL_PURCHASE alice',
      'ENTITLEMENTS_CHANGED alice [premium]',
    ]);
    // A renewal: the entitlement runs longer (its expiry moved), so it changed too.
    expect(told(record(renewed(period('t2', 30, 60))))).toEqual([
      'RENEWAL alice',
      'ENTITLEMENTS_CHANGED alice [premium]',
    ]);
    // Auto-renew off changes no access now, only whether it renews.
    expect(told(record(fact('AutoRenewTurnedOff', 40, {})))).toEqual([
      'CANCELLATION alice',
      'ENTITLEMENTS_CHANGED alice [premium]',
    ]);
    const expired = record(fact('SubscriptionExpired', 60, { reason: 'voluntary' }));
    expect(told(expired)).toEqual(['EXPIRATION alice']);
    expect(expired[0]).toMatchObject({ expirationReason: 'voluntary', productId: 'premium_monthly' });
  });

  it('a duplicate sets off nothing', () => {
    const record = journey();
    record(started(period('t1', 0, 30)));
    record(linked('alice', 0));
    expect(record(started(period('t1', 0, 30)))).toEqual([]);
    expect(record(linked('alice', 0))).toEqual([]);
  });

  it('a store restating what it said (the same period, auto-renew still on, a refund again) tells nothing new', () => {
    const record = journey();
    record(started(period('t1', 0, 30)));
    record(linked('alice', 0));
    expect(told(record(started(period('t1', 0, 30), 3)))).toEqual([]);
    record(renewed(period('t2', 30, 60), 29));
    expect(told(record(renewed(period('t2', 30, 60), 31)))).toEqual([]);
    expect(told(record(fact('AutoRenewTurnedOn', 4, {})))).toEqual([]);
    record(fact('TransactionRefunded', 10, { transactionId: 't1', refundedAt: day(10) }));
    expect(told(record(fact('TransactionRefunded', 11, { transactionId: 't1', refundedAt: day(10) })))).toEqual([]);
  });

  it('a refund ends the entitlement at its time', () => {
    const record = journey();
    record(started(period('t1', 0, 30)));
    record(linked('alice', 0));
    const refund = record(fact('TransactionRefunded', 10, { transactionId: 't1', refundedAt: day(10) }));
    expect(told(refund)).toEqual(['REFUND alice', 'ENTITLEMENTS_CHANGED alice []']);
    expect(refund[1]!.entitlements!.before.map((e) => e.active)).toEqual([true]);
  });

  it('a transfer: the new owner hears TRANSFER and gains; the former owner loses', () => {
    const record = journey();
    record(started(period('t1', 0, 30)));
    record(linked('alice', 0));
    const transfer = record(linked('bob', 5, 'alice'));
    expect(told(transfer)).toEqual([
      'TRANSFER bob',
      'ENTITLEMENTS_CHANGED alice []',
      'ENTITLEMENTS_CHANGED bob [premium]',
    ]);
    expect(transfer[0]).toMatchObject({ formerAppUserId: 'alice' });
    expect(transfer[1]).toMatchObject({ formerAppUserId: 'alice' });
  });

  it('a promotional grant given and ended', () => {
    const record = journey({ store: 'promotional', environment: 'production', purchaseId: 'g1' });
    const grant = period('g1', 0, 30, { productId: 'premium_monthly' });
    expect(record(started(grant))).toEqual([]);
    expect(record(fact('AutoRenewTurnedOff', 0, {}))).toEqual([]);
    expect(told(record(linked('alice', 0)))).toEqual([
      'PROMOTIONAL_GRANT alice',
      'ENTITLEMENTS_CHANGED alice [premium]',
    ]);
    expect(
      told(record(fact('TransactionRevoked', 10, { transactionId: 'g1', revokedAt: day(10), reason: 'other' }))),
    ).toEqual(['PROMOTIONAL_GRANT_ENDED alice', 'ENTITLEMENTS_CHANGED alice []']);
  });

  it('a second purchase of the same entitlement: the store event, and no entitlement change while the first covers it', () => {
    const first: CustomerPurchase = {
      key: appleKey('first'),
      state: [
        started(period('y1', 0, 365, { productId: 'com.example.pulse.premium.yearly' })),
        linked('alice', 0),
      ].reduce(evolve, initialState()),
    };
    const record = journey(appleKey('second'), [first]);
    record(started(period('m1', 10, 40)));
    const events = record(linked('alice', 10));
    expect(told(events)).toEqual(['INITIAL_PURCHASE alice']);
  });
});
