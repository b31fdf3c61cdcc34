import type { PurchaseEvent, Transaction } from '../../domain/purchase/events.ts';
import type { PurchaseKey } from '../../domain/purchase/purchase-key.ts';
import type { Timestamp } from '../../domain/time.ts';
import {
  assertSamePackage,
  assertSameToken,
  eventTimeOf,
  fromMillisText,
  observedAt,
  PlayDocumentMismatch,
  playPurchaseKey,
} from './play-facts.ts';
import type { DeveloperNotification, ProductPurchase } from './play-payloads.ts';

/**
 * What a Google Play one-time product purchase means in Subledger's terms. Pure.
 *
 * Google's answer to purchases.products.get is the authority, as for subscriptions.
 * A completed purchase never changes (a refund comes as a voided purchase, see
 * translate-voided.ts), so its fact is observed at the purchase time: the
 * notification, the app's submission and a reconciliation all give the same event,
 * recorded once. A consumed consumable keeps its record; consumption is the app's
 * business, not an entitlement change.
 */
export interface PlayProductInput {
  /** The notification that prompted the question; absent for an app's submission or a reconciliation. */
  readonly notification?: DeveloperNotification;
  readonly purchaseToken: string;
  /** The product id, when neither the notification (`sku`) nor the answer names it. */
  readonly productId?: string;
  /** Google's answer to purchases.products.get for the token. */
  readonly purchase: ProductPurchase;
  readonly packageName: string;
  /** When the answer was received: the time of notices when there is no notification. */
  readonly observedAt: Timestamp;
}

export interface PlayProductTranslation {
  readonly key: PurchaseKey;
  readonly facts: PurchaseEvent[];
  /** False for a notification type or purchase state this version does not know: recorded as a notice, and reported. */
  readonly known: boolean;
  readonly obfuscatedExternalAccountId?: string;
  /** Acknowledge (or consume) it, or Google refunds it three days after the purchase. */
  readonly needsAcknowledgement: boolean;
  readonly consumed: boolean;
  /** How many were bought at once (Google's multi-quantity purchases); 1 when Google does not say. */
  readonly quantity: number;
}

/** Every oneTimeProductNotification type Google documents. */
export const PLAY_ONE_TIME_PRODUCT_NOTIFICATION_TYPES = {
  1: 'ONE_TIME_PRODUCT_PURCHASED',
  // A pending purchase the user gave up before paying.
  2: 'ONE_TIME_PRODUCT_CANCELED',
} as const;

/** purchaseState: what each means, for the ones that are not a completed purchase. */
const UNPAID_STATES: Readonly<Record<number, string>> = {
  1: 'ONE_TIME_PRODUCT_STATE_CANCELED',
  2: 'ONE_TIME_PRODUCT_STATE_PENDING',
};
const PURCHASED = 0;
const TEST = 0;
const PROMO = 1;

export function translatePlayProduct(input: PlayProductInput): PlayProductTranslation {
  const { notification, purchaseToken, purchase, packageName } = input;
  const payload = notification && productNotificationOf(notification, purchaseToken, packageName);
  const at = observedAt(notification ? eventTimeOf(notification) : input.observedAt);
  const productId = payload?.sku ?? purchase.productId ?? input.productId;
  if (!productId) throw new PlayDocumentMismatch('Neither the notification nor the answer names the product');

  const facts: PurchaseEvent[] = [];
  const state = purchase.purchaseState;
  const stateKnown = state === PURCHASED || Object.hasOwn(UNPAID_STATES, state);
  if (state === PURCHASED) {
    const purchasedAt = fromMillisText(purchase.purchaseTimeMillis);
    const transaction: Transaction = {
      // Some test purchases have no order id; the token is then the only id there is.
      transactionId: purchase.orderId ?? purchaseToken,
      productId,
      purchasedAt,
      periodType: 'normal',
      ownership: 'purchased',
      ...(purchase.purchaseType === PROMO && { offer: { type: 'offer_code' as const } }),
    };
    facts.push(observedAt(purchasedAt)('OneTimeProductPurchased', { transaction }));
  } else {
    facts.push(at('StoreNoticeRecorded', { notice: `play:${UNPAID_STATES[state] ?? `purchaseState/${state}`}` }));
  }
  const typeKnown = !payload || Object.hasOwn(PLAY_ONE_TIME_PRODUCT_NOTIFICATION_TYPES, payload.notificationType);
  if (!typeKnown) {
    facts.push(at('StoreNoticeRecorded', { notice: `play:oneTimeProductNotification/${payload.notificationType}` }));
  }

  const accountId = purchase.obfuscatedExternalAccountId;
  return {
    key: playPurchaseKey(purchase.purchaseType === TEST ? 'sandbox' : 'production', purchaseToken),
    facts,
    known: typeKnown && stateKnown,
    ...(accountId && { obfuscatedExternalAccountId: accountId }),
    needsAcknowledgement: state === PURCHASED && (purchase.acknowledgementState ?? 0) === 0,
    consumed: purchase.consumptionState === 1,
    quantity: purchase.quantity ?? 1,
  };
}

function productNotificationOf(notification: DeveloperNotification, purchaseToken: string, packageName: string) {
  assertSamePackage(notification, packageName);
  const payload = notification.oneTimeProductNotification;
  if (!payload) throw new PlayDocumentMismatch('The notification is not about a one-time product');
  assertSameToken('one-time product notification', payload.purchaseToken, purchaseToken);
  return payload;
}
