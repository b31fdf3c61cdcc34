import type { Queryable } from '../db/pool.ts';
import type { PurchaseKey } from '../domain/purchase/purchase-key.ts';
import { toTimestamp } from '../domain/time.ts';
import type { EventStore } from '../eventstore/event-store.ts';
import { recordPurchase } from '../ingest/record-purchase.ts';
import { findCustomerPurchases } from '../projections/entitlements/customer-purchases.ts';
import type { StaffAction } from './grants.ts';

/**
 * Moves every purchase the customer owns to another app user (an account merge, an
 * anonymous id become a logged-in one): one support transfer per purchase, with the
 * staff member and the reason, so the history of both shows it. Returns what moved.
 */
export async function transferPurchases(
  deps: { db: Queryable; eventStore: EventStore; now?: () => Date },
  from: string,
  to: string,
  action: StaffAction,
): Promise<PurchaseKey[]> {
  const at = toTimestamp(deps.now?.() ?? new Date());
  const purchases = await findCustomerPurchases(deps.db, from);
  for (const { key } of purchases) {
    await recordPurchase(
      deps.eventStore,
      key,
      { type: 'LinkToAppUser', data: { appUserId: to, via: 'support_transfer', at } },
      {
        causationId: `transfer:${from}:${to}:${at}`,
        metadata: { actor: { kind: 'staff', id: action.staff, reason: action.reason } },
      },
    );
  }
  return purchases.map((p) => p.key);
}
