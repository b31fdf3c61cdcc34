import equal from 'fast-deep-equal';
import { productForStoreProduct, type Catalog } from '../catalog.ts';
import { customerEntitlementsAt, type CustomerPurchase } from '../entitlements.ts';
import type { PurchaseEvent, Transaction } from '../purchase/events.ts';
import type { PurchaseKey } from '../purchase/purchase-key.ts';
import type { PurchaseState } from '../purchase/state.ts';
import { millis, type Timestamp } from '../time.ts';
import { finalStatus, ownerOf, purchaseStatusAt } from '../purchase/status.ts';
import type { CustomerEvent, CustomerEventType } from './customer-event.ts';

export interface RecordedFact {
  readonly event: PurchaseEvent;
  readonly key: PurchaseKey;
  /** The purchase before and after the fact was merged in. */
  readonly before: PurchaseState;
  readonly after: PurchaseState;
  /** Every other purchase that ever named this app user, for their entitlements. */
  readonly othersOf: (appUserId: string) => readonly CustomerPurchase[];
  readonly catalog: Catalog;
}

/**
 * The customer events one recorded fact sets off: a store-level event when the fact is
 * one a backend acts on, and `ENTITLEMENTS_CHANGED` for each customer whose entitlements
 * at the fact's store time differ with it and without it. A fact that adds nothing (a
 * duplicate) sets off nothing; a fact about a purchase nobody owns yet waits for its
 * owner: the link tells the purchase as it stands (`INITIAL_PURCHASE`, ...).
 */
export function customerEventsOf(fact: RecordedFact): CustomerEvent[] {
  const { event, key, before, after, catalog } = fact;
  if (after === before) return [];
  const owner = ownerOf(after)?.appUserId;
  if (owner === undefined) return [];
  const formerOwner = ownerOf(before)?.appUserId;
  const at = event.data.observedAt;

  const transaction = transactionOf(event) ?? purchaseStatusAt(after, at).current ?? finalStatus(after).current;
  const storeProductId = transaction?.productId;
  const productId = storeProductId && productForStoreProduct(catalog, key.store, storeProductId)?.id;
  const about = {
    appUserId: owner,
    purchase: { store: key.store, environment: key.environment, purchaseId: key.purchaseId },
    ...(productId && { productId }),
    ...(storeProductId && { storeProductId }),
    ...(transaction && { period: { startsAt: transaction.purchasedAt, endsAt: transaction.expiresAt ?? null } }),
    ...(transaction?.price && { price: transaction.price }),
    occurredAt: at,
  };

  const events: CustomerEvent[] = [];
  const storeLevel = storeLevelEvent(fact, owner, formerOwner);
  if (storeLevel) events.push({ ...about, ...storeLevel });
  for (const appUserId of new Set([formerOwner, owner])) {
    if (appUserId === undefined) continue;
    const change = entitlementChange(fact, appUserId);
    if (change) {
      events.push({
        ...about,
        type: 'ENTITLEMENTS_CHANGED',
        appUserId,
        ...(appUserId !== owner && { formerAppUserId: appUserId }),
        entitlements: change,
      });
    }
  }
  return events;
}

type StoreLevel = Pick<CustomerEvent, 'type'> &
  Partial<Pick<CustomerEvent, 'formerAppUserId' | 'expirationReason' | 'productChange'>>;

function storeLevelEvent(fact: RecordedFact, owner: string, formerOwner: string | undefined): StoreLevel | undefined {
  const { event, key, before } = fact;
  const promotional = key.store === 'promotional';
  if (formerOwner === undefined) return { type: firstTold(fact) };
  if (formerOwner !== owner) return { type: 'TRANSFER', formerAppUserId: formerOwner };
  const at = event.data.observedAt;
  const was = purchaseStatusAt(before, at);
  const is = purchaseStatusAt(fact.after, at);
  const isNew = (transactionId: string) => before.transactions[transactionId] === undefined;
  const wasRefunded = (transactionId: string) => Boolean(before.revocations[transactionId]?.value);
  // Stores restate much of what they said with each notification: only a change is told.
  const type = ((): CustomerEventType | undefined => {
    switch (event.type) {
      case 'SubscriptionStarted':
        if (!isNew(event.data.transaction.transactionId)) return undefined;
        return Object.keys(before.transactions).length > 0 ? 'RENEWAL' : 'INITIAL_PURCHASE';
      case 'SubscriptionRenewed':
        return isNew(event.data.transaction.transactionId) ? 'RENEWAL' : undefined;
      case 'RenewalExtended':
        return 'SUBSCRIPTION_EXTENDED';
      case 'OneTimeProductPurchased':
        return isNew(event.data.transaction.transactionId) ? 'NON_RENEWING_PURCHASE' : undefined;
      case 'RenewalFailed':
        return was.billing === 'ok' ? 'BILLING_ISSUE' : undefined;
      case 'BillingRecovered':
        return was.billing !== 'ok' ? 'BILLING_RECOVERED' : undefined;
      case 'AutoRenewTurnedOff':
        return !promotional && autoRenewsAt(before, at) ? 'CANCELLATION' : undefined;
      case 'AutoRenewTurnedOn':
        return autoRenewsAt(before, at) ? undefined : 'UNCANCELLATION';
      case 'TransactionRefunded':
        return wasRefunded(event.data.transactionId) ? undefined : 'REFUND';
      case 'TransactionRevoked':
        if (wasRefunded(event.data.transactionId)) return undefined;
        if (promotional) return 'PROMOTIONAL_GRANT_ENDED';
        return event.data.reason === 'refund' || event.data.reason === 'chargeback' ? 'REFUND' : 'EXPIRATION';
      case 'SubscriptionRevoked':
        if (before.subscriptionRevocations.length > 0) return undefined;
        if (event.data.reason === 'upgraded') return undefined; // told as the other purchase's PRODUCT_CHANGE
        return event.data.reason === 'refund' || event.data.reason === 'chargeback' ? 'REFUND' : 'EXPIRATION';
      case 'RefundReversed':
        return wasRefunded(event.data.transactionId) ? 'REFUND_REVERSED' : undefined;
      case 'SubscriptionExpired':
        return was.expiration === undefined && is.expiration !== undefined ? 'EXPIRATION' : undefined;
      case 'SubscriptionPaused':
        return was.pause === undefined ? 'SUBSCRIPTION_PAUSED' : undefined;
      case 'SubscriptionResumed':
        return was.pause !== undefined ? 'SUBSCRIPTION_RESUMED' : undefined;
      case 'ProductChangeApplied': {
        const { toProductId, fromProductId } = event.data;
        const told = before.appliedProductChanges.some(
          (c) => c.value.toProductId === toProductId && c.value.fromProductId === fromProductId,
        );
        return told ? undefined : 'PRODUCT_CHANGE';
      }
      default:
        // Scheduled or cancelled changes, holds and grace ends (ENTITLEMENTS_CHANGED tells
        // their effect), links to the same owner, refused claims, store notices.
        return undefined;
    }
  })();
  if (type === undefined) return undefined;
  if (event.type === 'SubscriptionExpired') return { type, expirationReason: event.data.reason };
  if (type === 'EXPIRATION') return { type, expirationReason: 'other' };
  if (event.type === 'ProductChangeApplied') {
    const { fromProductId, toProductId, change } = event.data;
    return { type, productChange: { ...(fromProductId && { fromProductId }), toProductId, direction: change } };
  }
  return { type };
}

/** What a purchase is, told to its first owner: a grant, a subscription's start, a one-time purchase. */
function firstTold({ key, after }: RecordedFact): CustomerEventType {
  if (key.store === 'promotional') return 'PROMOTIONAL_GRANT';
  return finalStatus(after).kind === 'subscription' ? 'INITIAL_PURCHASE' : 'NON_RENEWING_PURCHASE';
}

/** The app user's entitlements at the fact's store time, without and with it; undefined when the same. */
function entitlementChange({ event, key, before, after, othersOf, catalog }: RecordedFact, appUserId: string) {
  const at = event.data.observedAt;
  const others = othersOf(appUserId);
  const entitlements = (state: PurchaseState) =>
    customerEntitlementsAt([...others, { key, state }], catalog, at, { ownedBy: appUserId }).entitlements;
  const without = entitlements(before);
  const withIt = entitlements(after);
  // Both built by one function, so the same fields whenever the same things hold: compared
  // as values (an eighth of the time of comparing their stable JSON, done for every fact).
  return equal(without, withIt) ? undefined : { before: without, after: withIt };
}

/** Whether the subscription was set to renew at `at`, by what the store had said by then (on, until told otherwise). */
function autoRenewsAt(state: PurchaseState, at: Timestamp): boolean {
  return state.autoRenew.filter((o) => millis(o.observedAt) <= millis(at)).at(-1)?.value ?? true;
}

function transactionOf(event: PurchaseEvent): Transaction | undefined {
  return 'transaction' in event.data ? event.data.transaction : undefined;
}
