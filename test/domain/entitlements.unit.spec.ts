import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/catalog-file.ts';
import { customerEntitlementsAt, type CustomerPurchase } from '../../src/domain/entitlements.ts';
import type { PurchaseEvent } from '../../src/domain/purchase/events.ts';
import { foldPurchase } from '../../src/domain/purchase/state.ts';
import { appleKey, day, fact, LIFETIME, MONTHLY, period, renewed, started, YEARLY } from '../support/purchase-facts.ts';

const catalog = parseCatalog(readFileSync('catalog/sample-fitness.json', 'utf8'));
const purchase = (purchaseId: string, events: PurchaseEvent[]): CustomerPurchase => ({
  key: appleKey(purchaseId),
  state: foldPurchase(events),
});

describe('entitlementsAt', () => {
  it('unlocks the entitlements of an active product until its period ends', () => {
    const { entitlements } = customerEntitlementsAt([purchase('A', [started(period('t1', 0, 30))])], catalog, day(10));
    expect(entitlements).toEqual([
      expect.objectContaining({
        id: 'premium',
        active: true,
        expiresAt: day(30),
        productId: 'premium_monthly',
        willRenew: true,
        periodType: 'normal',
        ownership: 'purchased',
      }),
    ]);
  });

  it('reports an entitlement that ran out as inactive, with when it ended', () => {
    const { entitlements } = customerEntitlementsAt([purchase('A', [started(period('t1', 0, 30))])], catalog, day(45));
    expect(entitlements).toEqual([expect.objectContaining({ id: 'premium', active: false, expiresAt: day(30) })]);
  });

  it('prefers the purchase that gives access longest when several unlock the same entitlement', () => {
    const monthly = purchase('A', [started(period('t1', 0, 30))]);
    const yearly = purchase('B', [started(period('t2', 5, 370, { productId: YEARLY }))]);
    const lifetime = purchase('C', [
      fact('OneTimeProductPurchased', 6, { transaction: period('t3', 6, undefined, { productId: LIFETIME }) }),
    ]);
    expect(customerEntitlementsAt([monthly, yearly], catalog, day(10)).entitlements[0]).toMatchObject({
      productId: 'premium_yearly',
    });
    expect(customerEntitlementsAt([monthly, yearly, lifetime], catalog, day(10)).entitlements[0]).toMatchObject({
      productId: 'premium_lifetime',
      expiresAt: null,
      willRenew: false,
    });
  });

  it('lets an active purchase win over a longer one that was refunded', () => {
    const monthly = purchase('A', [started(period('t1', 0, 30))]);
    const refundedYearly = purchase('B', [
      started(period('t2', 0, 365, { productId: YEARLY })),
      fact('TransactionRefunded', 2, { transactionId: 't2', refundedAt: day(2) }),
    ]);
    expect(customerEntitlementsAt([refundedYearly, monthly], catalog, day(10)).entitlements[0]).toMatchObject({
      productId: 'premium_monthly',
      active: true,
    });
    expect(customerEntitlementsAt([refundedYearly], catalog, day(10)).entitlements[0]).toMatchObject({
      active: false,
      revokedAt: day(2),
    });
  });

  it('unlocks every entitlement a bundle product grants', () => {
    const coaching = purchase('A', [started(period('t1', 0, 30, { productId: 'com.example.pulse.coaching.monthly' }))]);
    expect(customerEntitlementsAt([coaching], catalog, day(1)).entitlements.map((e) => e.id)).toEqual([
      'coaching',
      'premium',
    ]);
  });

  it('reports products the catalog does not know instead of dropping them', () => {
    const unknown = purchase('A', [started(period('t1', 0, 30, { productId: 'com.example.pulse.mystery' }))]);
    expect(customerEntitlementsAt([unknown], catalog, day(1))).toMatchObject({
      entitlements: [],
      unknownProducts: [{ purchase: appleKey('A'), storeProductId: 'com.example.pulse.mystery' }],
    });
  });
});

describe('entitlements at a period boundary', () => {
  // The store charges the renewal a day early and says so at once (Apple up to 24 h
  // before expiry): the period already paid for is still the one that runs.
  const renewedEarly = [started(period('t1', 0, 30)), renewed(period('t2', 30, 60), 29)];
  const premiumAt = (events: PurchaseEvent[], at: number) =>
    customerEntitlementsAt([purchase('A', events)], catalog, day(at)).entitlements[0];

  it('keeps the running period, and access through the renewal, when a renewal is notified before it begins', () => {
    for (const at of [29, 29.5, 29.999]) {
      expect(premiumAt(renewedEarly, at)).toMatchObject({
        active: true,
        expiresAt: day(60),
        purchasedAt: day(0),
        currentPeriod: { startsAt: day(0), endsAt: day(30) },
        nextPeriod: { startsAt: day(30), endsAt: day(60), storeProductId: MONTHLY },
      });
    }
    expect(premiumAt(renewedEarly, 30)).toMatchObject({
      active: true,
      expiresAt: day(60),
      currentPeriod: { startsAt: day(30), endsAt: day(60) },
    });
    expect(premiumAt(renewedEarly, 30)?.nextPeriod).toBeUndefined();
    expect(premiumAt(renewedEarly, 60)).toMatchObject({ active: false, expiresAt: day(60) });
  });

  it('does not let a refund of the next period cut the one running', () => {
    const refundedNext = [
      ...renewedEarly,
      fact('TransactionRefunded', 29.5, { transactionId: 't2', refundedAt: day(29.5) }),
    ];
    expect(premiumAt(refundedNext, 29.2)).toMatchObject({ active: true, expiresAt: day(60) });
    expect(premiumAt(refundedNext, 29.7)).toMatchObject({ active: true, expiresAt: day(30) });
    expect(premiumAt(refundedNext, 29.7)?.nextPeriod).toBeUndefined();
    expect(premiumAt(refundedNext, 30.5)).toMatchObject({ active: false });
  });

  it('ends access at the revocation time of a refund of the period running, not before', () => {
    const refundedCurrent = [
      ...renewedEarly,
      fact('TransactionRefunded', 20, { transactionId: 't1', refundedAt: day(20) }),
    ];
    // On day 19 the renewal was not charged yet: access then ran to the period's end.
    expect(premiumAt(refundedCurrent, 19)).toMatchObject({ active: true, expiresAt: day(30) });
    expect(premiumAt(refundedCurrent, 21)).toMatchObject({ active: false, expiresAt: day(20) });
    // The renewal was paid: it still begins.
    expect(premiumAt(refundedCurrent, 31)).toMatchObject({ active: true, expiresAt: day(60) });
  });
});

describe('catalog file', () => {
  it('loads the sample catalog', () => {
    expect(catalog.products.map((p) => p.id)).toContain('premium_lifetime');
  });

  it('names every problem of a broken catalog', () => {
    const broken = {
      apps: [{ id: 'pulse', name: 'Pulse' }],
      entitlements: [{ id: 'premium' }],
      products: [
        {
          id: 'a',
          appId: 'pulse',
          type: 'auto_renewable',
          storeProductIds: { app_store: 'x' },
          entitlements: ['premium'],
        },
        { id: 'b', appId: 'nope', type: 'non_consumable', storeProductIds: { app_store: 'x' }, entitlements: ['gold'] },
      ],
    };
    const message = errorMessageOf(() => parseCatalog(JSON.stringify(broken), 'broken.json'));
    expect(message).toContain('Catalog broken.json is invalid');
    expect(message).toContain('app_store product id "x" belongs to two products');
    expect(message).toContain('product "b" names unknown app "nope"');
    expect(message).toContain('product "b" unlocks unknown entitlement "gold"');
    expect(message).toContain('subscription product "a" has no duration');
  });

  it('rejects malformed JSON and unknown fields with the path of the problem', () => {
    expect(() => parseCatalog('{', 'x.json')).toThrow(/x.json is invalid:[\s\S]*not JSON/);
    expect(() => parseCatalog(JSON.stringify({ apps: [], entitlements: [], products: [], extra: 1 }))).toThrow(/apps/);
  });
});

function errorMessageOf(work: () => unknown): string {
  try {
    work();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected an error');
}
