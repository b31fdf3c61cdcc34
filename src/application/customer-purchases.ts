import type { Queryable } from '../db/pool.ts';
import { productForStoreProduct, type Catalog } from '../domain/catalog.ts';
import { isPurchaseEvent, type LinkSource, type Price, type PurchaseEvent } from '../domain/purchase/events.ts';
import { parsePurchaseStreamId, type PurchaseKey } from '../domain/purchase/purchase-key.ts';
import { evolve, initialState } from '../domain/purchase/state.ts';
import { ownerOf } from '../domain/purchase/status.ts';
import type { EventStore, RecordedEvent } from '../eventstore/event-store.ts';
import { customerStreams } from '../projections/entitlements/customer-purchases.ts';

/** One store purchase as support staff read it: what was charged, and who owned it when. */
export interface PurchaseRecord extends PurchaseKey {
  /** The catalog product of its latest transaction; null when the catalog does not know it. */
  readonly productId: string | null;
  readonly storeProductId: string | null;
  /** Who owns it now; null: nobody claimed it. */
  readonly owner: string | null;
  /** Apple's transactions, Google's orders (the order id is the transaction id), oldest first. */
  readonly transactions: readonly TransactionRecord[];
  /** Every claim on it, oldest first: the store's account token, an app's submission, a restore, a transfer. */
  readonly owners: readonly OwnerChange[];
}

export interface TransactionRecord {
  readonly transactionId: string;
  readonly storeProductId: string;
  readonly purchasedAt: string;
  readonly expiresAt: string | null;
  readonly periodType: string;
  readonly offer: string | null;
  readonly price: Price | null;
  /** Refunded or revoked, and when; null while it stands (or once a refund was reversed). */
  readonly revoked: { readonly at: string; readonly reason: string } | null;
}

export interface OwnerChange {
  readonly at: string;
  readonly appUserId: string;
  /** How it came to them; `refused`: they claimed it, and it stayed its owner's. */
  readonly via: LinkSource | 'refused';
  readonly previousAppUserId: string | null;
  /** Who moved it, for a transfer by support staff. */
  readonly by: string | null;
  readonly reason: string | null;
}

/**
 * Every purchase the customer was ever linked to (their own now, or moved away since),
 * folded from the event store, so it answers what the read model no longer holds.
 */
export async function customerPurchases(
  deps: { db: Queryable; eventStore: EventStore; catalog: Catalog },
  appUserId: string,
): Promise<PurchaseRecord[]> {
  const streams = await customerStreams(deps.db, appUserId);
  const read = await Promise.all(streams.map((s) => deps.eventStore.readStream(s)));
  return streams.map((streamId, i) => {
    const events = read[i]!.filter((e): e is RecordedEvent & PurchaseEvent => isPurchaseEvent(e));
    return purchaseRecord(parsePurchaseStreamId(streamId)!, events, deps.catalog);
  });
}

function purchaseRecord(key: PurchaseKey, events: readonly (RecordedEvent & PurchaseEvent)[], catalog: Catalog) {
  const state = events.reduce(evolve, initialState());
  const transactions = Object.values(state.transactions)
    .map(({ value: t }): TransactionRecord => {
      const revocation = state.revocations[t.transactionId]?.value ?? null;
      return {
        transactionId: t.transactionId,
        storeProductId: t.productId,
        purchasedAt: t.purchasedAt,
        expiresAt: t.expiresAt ?? null,
        periodType: t.periodType,
        offer: t.offer ? [t.offer.type, t.offer.id].filter(Boolean).join(' ') : null,
        price: t.price ?? null,
        revoked: revocation && { at: revocation.revokedAt, reason: revocation.reason },
      };
    })
    .sort((a, b) => a.purchasedAt.localeCompare(b.purchasedAt) || a.transactionId.localeCompare(b.transactionId));
  const storeProductId = transactions.at(-1)?.storeProductId ?? null;
  const product = storeProductId ? productForStoreProduct(catalog, key.store, storeProductId) : undefined;
  return {
    ...key,
    productId: product?.id ?? null,
    storeProductId,
    owner: ownerOf(state)?.appUserId ?? null,
    transactions,
    owners: ownerChanges(events),
  };
}

function ownerChanges(events: readonly (RecordedEvent & PurchaseEvent)[]): OwnerChange[] {
  const changes = events.flatMap((event): OwnerChange[] => {
    const actor = event.metadata.actor;
    const by = actor?.kind === 'staff' ? actor.id : null;
    const reason = actor?.reason ?? null;
    const at = event.data.observedAt;
    if (event.type === 'PurchaseLinkedToAppUser') {
      const { appUserId, via, previousAppUserId } = event.data;
      return [{ at, appUserId, via, previousAppUserId: previousAppUserId ?? null, by, reason }];
    }
    if (event.type === 'PurchaseClaimRefused') {
      const { appUserId, ownerAppUserId } = event.data;
      return [{ at, appUserId, via: 'refused', previousAppUserId: ownerAppUserId, by, reason }];
    }
    return [];
  });
  // Every notification of the store says the account token again: only a change is news.
  const sorted = changes.sort((a, b) => a.at.localeCompare(b.at));
  return sorted.filter((c, i) => i === 0 || c.appUserId !== sorted[i - 1]!.appUserId || c.via !== sorted[i - 1]!.via);
}
