import type { Queryable } from '../db/pool.ts';
import type { PurchaseKey } from '../domain/purchase/purchase-key.ts';
import { Refusal } from '../domain/refusal.ts';
import { toTimestamp } from '../domain/time.ts';
import type { EventStore } from '../eventstore/event-store.ts';
import { newestPosition, recordPurchase } from '../ingest/record-purchase.ts';
import { findCustomerPurchases } from '../projections/entitlements/customer-purchases.ts';
import type { Clock } from '../domain/clock.ts';
import type { ReadModelView } from './read-model-view.ts';
import { staffContext, type StaffAction } from './staff-action.ts';

export class TransferRefused extends Refusal<'same_customer'> {
  constructor() {
    super('invalid', 'same_customer', 'Transfer to another app user');
  }
}

/**
 * Moves every purchase the customer owns to another app user (an account merge, an
 * anonymous id become a logged-in one): one support transfer per purchase, with the
 * staff member and the reason, so the history of both shows it. Returns what moved,
 * once both customers' entitlements show it.
 */
export async function transferPurchases(
  deps: {
    readonly db: Queryable;
    readonly eventStore: EventStore;
    readonly clock: Clock;
    readonly view: ReadModelView;
  },
  from: string,
  to: string,
  action: StaffAction,
): Promise<PurchaseKey[]> {
  if (to === from) throw new TransferRefused();
  const at = toTimestamp(deps.clock.now());
  const purchases = await findCustomerPurchases(deps.db, from);
  for (const { key } of purchases) {
    await recordPurchase(
      deps.eventStore,
      key,
      { type: 'LinkToAppUser', data: { appUserId: to, via: 'support_transfer', at } },
      staffContext(`transfer:${from}:${to}:${at}`, action),
    );
  }
  const moved = purchases.map((p) => p.key);
  await deps.view.showWrites(await newestPosition(deps.eventStore, moved), [from, to]);
  return moved;
}
