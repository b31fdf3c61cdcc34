import type { ExpirationReason, OfferType, PurchaseEvent, Transaction } from '../../domain/purchase/events.ts';
import type { PurchaseKey } from '../../domain/purchase/purchase-key.ts';
import { toTimestamp, type Timestamp } from '../../domain/time.ts';
import type { PendingRenewalInfo, ReceiptPurchase, VerifiedReceipt } from './verify-receipt.ts';
import { Refusal } from '../../domain/refusal.ts';

/** The facts one validated receipt gives about one purchase (one originalTransactionId). */
export interface ReceiptPurchaseFacts {
  readonly key: PurchaseKey;
  readonly facts: PurchaseEvent[];
}

/** Apple's answer lacks what it always carries: not the app's fault, and asking again will not help. */
export class ReceiptWithoutDate extends Refusal<'receipt_without_date'> {
  constructor() {
    super(
      'bad_gateway',
      'receipt_without_date',
      'The verifyReceipt response has neither request_date_ms nor receipt_creation_date_ms',
    );
  }
}

const EXPIRATION_INTENTS: Record<string, ExpirationReason> = {
  '1': 'voluntary',
  '2': 'billing_error',
  '3': 'price_increase_declined',
  '4': 'product_unavailable',
  '5': 'other',
};

/**
 * What one validated receipt means in Subledger's terms, grouped by purchase. Pure.
 * Linking a purchase to an app user is the caller's business, so no link facts.
 *
 * Every fact is observed at `receipt.request_date_ms`: when Apple answered the
 * validation. The response is a snapshot of Apple's records at that moment
 * (`latest_receipt_info` and `pending_renewal_info` come from Apple's servers, not
 * from the device), so that is when its claims were true. It is on Apple's clock,
 * like a notification's `signedDate`, so the core's merge orders both by one clock
 * whatever the arrival order, and it comes from the archived document, so
 * reprocessing gives the same facts. `receipt_creation_date_ms` (when the device
 * last refreshed its receipt) can be days older than the renewal info it would
 * date, and would let an older notification overrule a newer snapshot; it is used
 * only if Apple leaves out the request date.
 */
export function translateAppleReceipt(receipt: VerifiedReceipt): ReceiptPurchaseFacts[] {
  const observedAt = observedAtOf(receipt);
  const at: At = (type, data) => ({ type, data: { ...data, observedAt } }) as PurchaseEvent;

  const groups = new Map<string, ReceiptPurchase[]>();
  for (const purchase of [...receipt.purchases].sort(byPurchaseDate)) {
    groups.set(purchase.originalTransactionId, [...(groups.get(purchase.originalTransactionId) ?? []), purchase]);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([originalTransactionId, purchases]) => {
      const facts = purchases.flatMap((p) => transactionFacts(p, at));
      const latest = purchases.at(-1)!;
      const renewal = receipt.response.pending_renewal_info?.find(
        (r) => r.original_transaction_id === originalTransactionId,
      );
      if (isSubscription(latest) && renewal) facts.push(...renewalFacts(latest, renewal, at));
      return {
        key: { store: 'app_store', environment: receipt.environment, purchaseId: originalTransactionId },
        facts,
      };
    });
}

type FactOf<T extends PurchaseEvent['type']> = Extract<PurchaseEvent, { type: T }>;
/** Builds a fact of `type`, observed when Apple answered. */
type At = <T extends PurchaseEvent['type']>(type: T, data: Omit<FactOf<T>['data'], 'observedAt'>) => PurchaseEvent;

function observedAtOf({ response }: VerifiedReceipt): Timestamp {
  const ms = response.receipt?.request_date_ms ?? response.receipt?.receipt_creation_date_ms;
  if (ms === undefined) throw new ReceiptWithoutDate();
  return toTimestamp(Number(ms));
}

// The receipt does not name a product's type; only auto-renewable subscriptions carry an expiry.
const isSubscription = (p: ReceiptPurchase) => p.expirationDate > 0;

function transactionFacts(p: ReceiptPurchase, at: At): PurchaseEvent[] {
  const transaction = toTransaction(p);
  const facts = [
    !isSubscription(p)
      ? at('OneTimeProductPurchased', { transaction })
      : at(p.transactionId === p.originalTransactionId ? 'SubscriptionStarted' : 'SubscriptionRenewed', {
          transaction,
        }),
  ];
  // Apple also sets cancellation_date on a period replaced by an upgrade: that is no refund.
  if (p.cancellationDate !== undefined) {
    const when = toTimestamp(p.cancellationDate);
    facts.push(
      p.isUpgraded
        ? at('TransactionRevoked', { transactionId: p.transactionId, revokedAt: when, reason: 'upgraded' })
        : at('TransactionRefunded', { transactionId: p.transactionId, refundedAt: when }),
    );
  }
  return facts;
}

function renewalFacts(latest: ReceiptPurchase, r: PendingRenewalInfo, at: At): PurchaseEvent[] {
  const facts: PurchaseEvent[] = [];
  if (r.auto_renew_status !== undefined) {
    facts.push(at(r.auto_renew_status === '1' ? 'AutoRenewTurnedOn' : 'AutoRenewTurnedOff', {}));
  }
  // Upgrades apply at once, so a pending change is a downgrade or crossgrade; the receipt does not say which.
  if (r.auto_renew_product_id && r.auto_renew_product_id !== latest.productId) {
    facts.push(at('ProductChangeScheduled', { toProductId: r.auto_renew_product_id, change: 'crossgrade' }));
  } else if (r.auto_renew_product_id) {
    facts.push(at('ProductChangeCancelled', {}));
  }
  const retrying = r.is_in_billing_retry_period === '1';
  if (retrying) {
    const grace = r.grace_period_expires_date_ms;
    facts.push(at('RenewalFailed', grace ? { gracePeriodEndsAt: toTimestamp(Number(grace)) } : {}));
  } else if (r.expiration_intent !== undefined) {
    // Apple still sends the intent while retrying billing; like its EXPIRED notification,
    // we call the subscription expired only once Apple has stopped trying.
    facts.push(at('SubscriptionExpired', { reason: EXPIRATION_INTENTS[r.expiration_intent] ?? 'other' }));
  }
  return facts;
}

function toTransaction(p: ReceiptPurchase): Transaction {
  const offer = offerOf(p);
  return {
    transactionId: p.transactionId,
    productId: p.productId,
    purchasedAt: toTimestamp(p.purchaseDate),
    ...(isSubscription(p) && { expiresAt: toTimestamp(p.expirationDate) }),
    periodType: p.isTrialPeriod ? 'trial' : p.isInIntroOfferPeriod ? 'intro' : 'normal',
    ownership: p.ownership === 'FAMILY_SHARED' ? 'family_shared' : 'purchased',
    ...(offer && { offer }),
  };
}

function offerOf(p: ReceiptPurchase): { type: OfferType; id?: string } | undefined {
  if (p.promotionalOfferId) return { type: 'promotional', id: p.promotionalOfferId };
  if (p.offerCodeRefName) return { type: 'offer_code', id: p.offerCodeRefName };
  if (p.isTrialPeriod || p.isInIntroOfferPeriod) return { type: 'introductory' };
  return undefined;
}

function byPurchaseDate(a: ReceiptPurchase, b: ReceiptPurchase): number {
  return a.purchaseDate - b.purchaseDate || (a.transactionId < b.transactionId ? -1 : 1);
}
