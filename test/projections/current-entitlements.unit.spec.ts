import { describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/config/catalog-file.ts';
import type { CustomerPurchase } from '../../src/domain/entitlements.ts';
import { foldPurchase } from '../../src/domain/purchase/state.ts';
import { purchaseStatusAt } from '../../src/domain/purchase/status.ts';
import type { PurchaseEvent } from '../../src/domain/purchase/events.ts';
import { CurrentEntitlements } from '../../src/projections/entitlements/customer-entitlements.ts';
import { appleKey, day, fact, period, started } from '../support/purchase-facts.ts';

/*
 * Entitlements now are kept per purchases array until some access starts or ends:
 * these check that a kept answer is never served past that moment.
 */
const catalog = await loadCatalog('catalog/sample-fitness.json');
const purchaseOf = (purchaseId: string, ...events: PurchaseEvent[]): CustomerPurchase => ({
  key: appleKey(purchaseId),
  status: purchaseStatusAt(foldPurchase(events)),
});

function subject(purchases: readonly CustomerPurchase[]) {
  let now = Date.parse(day(0));
  const current = new CurrentEntitlements({ purchasesOf: async () => purchases }, catalog, () => now);
  return { current, setDay: (d: number) => (now = Date.parse(day(d))) };
}

describe('CurrentEntitlements', () => {
  it('keeps an answer while nothing starts or ends, and recomputes it when access ends', async () => {
    const { current, setDay } = subject([purchaseOf('1', started(period('t1', 0, 30)))]);
    setDay(1);
    const first = await current.of('alice');
    expect(first.entitlements.entitlements[0]).toMatchObject({ id: 'premium', active: true });
    expect(first.validUntil).toBe(Date.parse(day(30)));
    setDay(29.9);
    expect(await current.of('alice')).toBe(first);
    setDay(30);
    const later = await current.of('alice');
    expect(later).not.toBe(first);
    expect(later.entitlements.entitlements[0]).toMatchObject({ id: 'premium', active: false });
    expect(later.validUntil).toBe(Number.POSITIVE_INFINITY);
  });

  it('recomputes when a period bought for later begins, and after a refund cut access short', async () => {
    const { current, setDay } = subject([
      purchaseOf('1', started(period('t1', 0, 10))),
      // Bought on day 5 for a period from day 12: nothing between day 10 and 12.
      purchaseOf(
        '2',
        started(period('t2', 12, 40), 5),
        fact('TransactionRefunded', 20, { transactionId: 't2', refundedAt: day(20) }),
      ),
    ]);
    const activeOn = async (d: number) => {
      setDay(d);
      return (await current.of('alice')).entitlements.entitlements[0]!.active;
    };
    expect([await activeOn(5), await activeOn(11), await activeOn(12), await activeOn(19), await activeOn(20)]).toEqual(
      [true, false, true, true, false],
    );
  });

  it('does not serve a snapshot computed later to an earlier clock', async () => {
    const { current, setDay } = subject([purchaseOf('1', started(period('t1', 0, 30)))]);
    setDay(31);
    expect((await current.of('alice')).entitlements.entitlements[0]!.active).toBe(false);
    setDay(29); // a clock stepped back
    expect((await current.of('alice')).entitlements.entitlements[0]!.active).toBe(true);
  });
});
