import type {
  ExpirationReason,
  OfferType,
  PeriodType,
  Price,
  PurchaseEvent,
  Transaction,
} from '../../domain/purchase/events.ts';
import type { PurchaseKey } from '../../domain/purchase/purchase-key.ts';
import { millis, type Timestamp } from '../../domain/time.ts';
import {
  assertSamePackage,
  assertSameToken,
  eventTimeOf,
  fromRfc3339,
  observedAt,
  PlayDocumentMismatch,
  playPurchaseKey,
  type At,
} from './play-facts.ts';
import {
  PLAY_SUBSCRIPTION_STATES,
  type DeveloperNotification,
  type PlayLineItem,
  type PlaySubscriptionState,
  type SubscriptionPurchaseV2,
} from './play-payloads.ts';

/**
 * What a Google Play subscription's state means in Subledger's terms. Pure.
 *
 * A notification only says that something changed; Google's answer to
 * purchases.subscriptionsv2.get says what the subscription is now, and is the
 * authority. Each answer is translated whole, as a full observation (the periods
 * paid for, auto-renew, billing, pause, pending product change), all observed at the
 * notification's `eventTimeMillis`: the same notification delivered twice gives the
 * same facts (recorded once), and the core's merge keeps the newest whatever the
 * arrival order. The answer is fetched after the event, so it is at least as new as
 * its time says; a later change has a later notification, whose answer then wins.
 * The notification's type only adds what no answer can say (a revocation, a deferral).
 */
export interface PlaySubscriptionInput {
  /** The notification that prompted the question; absent for an app's submission or a reconciliation. */
  readonly notification?: DeveloperNotification;
  readonly purchaseToken: string;
  /** Google's answer to purchases.subscriptionsv2.get for the token. */
  readonly purchase: SubscriptionPurchaseV2;
  readonly packageName: string;
  /** When the answer was received: the time of the facts when there is no notification. */
  readonly observedAt: Timestamp;
}

export interface PlaySubscriptionTranslation {
  readonly key: PurchaseKey;
  readonly facts: PurchaseEvent[];
  /** False for a notification type or subscription state this version does not know: recorded as a notice, and reported. */
  readonly known: boolean;
  /** The subscription this one replaced (upgrade, downgrade, resubscription, plan conversion), once paid for. */
  readonly linkedPurchaseToken?: string;
  /** What the replaced purchase's stream records about its replacement (see linkedPurchaseToken). */
  readonly supersedes?: { readonly key: PurchaseKey; readonly facts: PurchaseEvent[] };
  /** The app's id for the user, when the app set one at purchase (BillingFlowParams.setObfuscatedAccountId). */
  readonly obfuscatedExternalAccountId?: string;
  /** Acknowledge it, or Google refunds it three days after the purchase. */
  readonly needsAcknowledgement: boolean;
}

/**
 * What a notification's type adds to the answer:
 * - `state`: nothing; the answer says it all.
 * - `extension`: the period's expiry moved with no new order (a RenewalExtended).
 * - `revocation`: access ended at the event time, with a refund.
 * - `notice`: kept as a notice for support; its entitlement effect, if any, is in the answer.
 */
type TypeEffect = 'state' | 'extension' | 'revocation' | 'notice';

/** Every subscriptionNotification type Google documents. */
export const PLAY_SUBSCRIPTION_NOTIFICATION_TYPES = {
  1: { name: 'SUBSCRIPTION_RECOVERED', adds: 'state' },
  2: { name: 'SUBSCRIPTION_RENEWED', adds: 'state' },
  3: { name: 'SUBSCRIPTION_CANCELED', adds: 'state' },
  4: { name: 'SUBSCRIPTION_PURCHASED', adds: 'state' },
  5: { name: 'SUBSCRIPTION_ON_HOLD', adds: 'state' },
  6: { name: 'SUBSCRIPTION_IN_GRACE_PERIOD', adds: 'state' },
  7: { name: 'SUBSCRIPTION_RESTARTED', adds: 'state' },
  8: { name: 'SUBSCRIPTION_PRICE_CHANGE_CONFIRMED', adds: 'notice' },
  9: { name: 'SUBSCRIPTION_DEFERRED', adds: 'extension' },
  10: { name: 'SUBSCRIPTION_PAUSED', adds: 'state' },
  11: { name: 'SUBSCRIPTION_PAUSE_SCHEDULE_CHANGED', adds: 'notice' },
  12: { name: 'SUBSCRIPTION_REVOKED', adds: 'revocation' },
  13: { name: 'SUBSCRIPTION_EXPIRED', adds: 'state' },
  17: { name: 'SUBSCRIPTION_ITEMS_CHANGED', adds: 'notice' },
  18: { name: 'SUBSCRIPTION_CANCELLATION_SCHEDULED', adds: 'notice' },
  19: { name: 'SUBSCRIPTION_PRICE_CHANGE_UPDATED', adds: 'notice' },
  20: { name: 'SUBSCRIPTION_PENDING_PURCHASE_CANCELED', adds: 'notice' },
  22: { name: 'SUBSCRIPTION_PRICE_STEP_UP_CONSENT_UPDATED', adds: 'notice' },
} as const satisfies Record<number, { readonly name: string; readonly adds: TypeEffect }>;
type KnownType = keyof typeof PLAY_SUBSCRIPTION_NOTIFICATION_TYPES;

/** The answer's own facts for each state, besides its periods, auto-renew and product change. */
const STATE_FACTS: Record<PlaySubscriptionState, (purchase: SubscriptionPurchaseV2, at: At) => PurchaseEvent[]> = {
  SUBSCRIPTION_STATE_UNSPECIFIED: () => [],
  // Waiting for the first payment, or given up: no period was paid for.
  SUBSCRIPTION_STATE_PENDING: () => [],
  SUBSCRIPTION_STATE_PENDING_PURCHASE_CANCELED: () => [],
  SUBSCRIPTION_STATE_ACTIVE: (_, at) => [at('BillingRecovered', {}), at('SubscriptionResumed', {})],
  // Auto-renew is off (in the renewal facts); access runs until the period ends.
  SUBSCRIPTION_STATE_CANCELED: (_, at) => [at('BillingRecovered', {}), at('SubscriptionResumed', {})],
  SUBSCRIPTION_STATE_PAUSED: (purchase, at) => {
    const resumes = purchase.pausedStateContext?.autoResumeTime;
    return [at('BillingRecovered', {}), at('SubscriptionPaused', resumes ? { resumesAt: fromRfc3339(resumes) } : {})];
  },
  // While in grace, Google's expiry time is the end of the grace period.
  SUBSCRIPTION_STATE_IN_GRACE_PERIOD: (purchase, at) => {
    const graceEnd = latestExpiry(purchase);
    return [at('RenewalFailed', graceEnd ? { gracePeriodEndsAt: graceEnd } : {}), at('SubscriptionResumed', {})];
  },
  SUBSCRIPTION_STATE_ON_HOLD: (_, at) => [at('SubscriptionPutOnHold', {}), at('SubscriptionResumed', {})],
  SUBSCRIPTION_STATE_EXPIRED: (purchase, at) => [
    at('SubscriptionExpired', { reason: expirationReason(purchase) }),
    at('SubscriptionResumed', {}),
  ],
};
/** States of no period paid for (pending) or of nothing said (unspecified): recorded as a notice only. */
const UNPAID_STATES: ReadonlySet<string> = new Set([
  'SUBSCRIPTION_STATE_UNSPECIFIED',
  'SUBSCRIPTION_STATE_PENDING',
  'SUBSCRIPTION_STATE_PENDING_PURCHASE_CANCELED',
] satisfies PlaySubscriptionState[]);
const ACKNOWLEDGEABLE_STATES: ReadonlySet<string> = new Set([
  'SUBSCRIPTION_STATE_ACTIVE',
  'SUBSCRIPTION_STATE_IN_GRACE_PERIOD',
  'SUBSCRIPTION_STATE_CANCELED',
] satisfies PlaySubscriptionState[]);

export function translatePlaySubscription(input: PlaySubscriptionInput): PlaySubscriptionTranslation {
  const { notification, purchaseToken, purchase, packageName } = input;
  const type = notification && subscriptionNotificationTypeOf(notification, purchaseToken, packageName);
  const time = notification ? eventTimeOf(notification) : input.observedAt;
  const at = observedAt(time);
  // Facts about the moment the subscription began are dated then, so every answer repeats them identically.
  const startedAt = purchase.startTime ? fromRfc3339(purchase.startTime) : time;
  const began = observedAt(startedAt);
  const adds = type !== undefined && isKnownType(type) ? PLAY_SUBSCRIPTION_NOTIFICATION_TYPES[type].adds : 'state';
  const state = purchase.subscriptionState;
  const paid = !UNPAID_STATES.has(state);
  const periods = paid ? periodsOf(purchase) : [];

  const facts = [
    ...periods.map((period) => periodFact(period, adds, at)),
    ...(paid ? replacementFacts(purchase, began) : []),
    ...(paid && isKnownState(state) ? [...renewalFacts(purchase, at), ...STATE_FACTS[state](purchase, at)] : []),
    // Google's revocation ends the subscription, refunding its latest order: a period
    // paid ahead ends too.
    ...(adds === 'revocation'
      ? [
          ...periods.map(({ transaction: { transactionId } }) =>
            at('TransactionRefunded', { transactionId, refundedAt: time }),
          ),
          at('SubscriptionRevoked', { revokedAt: time, reason: 'refund' }),
        ]
      : []),
    ...noticesOf(type, state, at),
  ];

  // A pending upgrade that is never paid replaces nothing.
  const linked = paid ? purchase.linkedPurchaseToken : undefined;
  const environment = purchase.testPurchase ? 'sandbox' : 'production';
  const accountId = purchase.externalAccountIdentifiers?.obfuscatedExternalAccountId;
  return {
    key: playPurchaseKey(environment, purchaseToken),
    facts,
    known: (type === undefined || isKnownType(type)) && isKnownState(state),
    ...(linked && {
      linkedPurchaseToken: linked,
      supersedes: {
        key: playPurchaseKey(environment, linked),
        // The replaced subscription ends when this one begins, whatever expiry Google leaves on it.
        facts: [
          began('StoreNoticeRecorded', { notice: `play:replaced_by/${purchaseToken}` }),
          began('SubscriptionRevoked', { revokedAt: startedAt, reason: 'upgraded' }),
        ],
      },
    }),
    ...(accountId && { obfuscatedExternalAccountId: accountId }),
    needsAcknowledgement:
      purchase.acknowledgementState === 'ACKNOWLEDGEMENT_STATE_PENDING' && ACKNOWLEDGEABLE_STATES.has(state),
  };
}

function subscriptionNotificationTypeOf(
  notification: DeveloperNotification,
  purchaseToken: string,
  packageName: string,
): number {
  assertSamePackage(notification, packageName);
  const payload = notification.subscriptionNotification;
  if (!payload) throw new PlayDocumentMismatch('The notification is not about a subscription');
  assertSameToken('subscription notification', payload.purchaseToken, purchaseToken);
  return payload.notificationType;
}

function isKnownType(type: number): type is KnownType {
  return Object.hasOwn(PLAY_SUBSCRIPTION_NOTIFICATION_TYPES, type);
}
function isKnownState(state: string): state is PlaySubscriptionState {
  return (PLAY_SUBSCRIPTION_STATES as readonly string[]).includes(state);
}

function periodFact(period: Period, adds: TypeEffect, at: At): PurchaseEvent {
  const { transaction, orderId } = period;
  if (adds === 'extension') return at('RenewalExtended', { transaction, reason: 'deferred' });
  return at(isRenewalOrder(orderId) ? 'SubscriptionRenewed' : 'SubscriptionStarted', { transaction });
}

/** States and types that are kept as notices: pending, unknown, or with no effect the answer lacks. */
function noticesOf(type: number | undefined, state: string, at: At): PurchaseEvent[] {
  const notices: string[] = [];
  if (!isKnownState(state) || UNPAID_STATES.has(state)) notices.push(`play:${state}`);
  if (type !== undefined && !isKnownType(type)) notices.push(`play:subscriptionNotification/${type}`);
  else if (type !== undefined && PLAY_SUBSCRIPTION_NOTIFICATION_TYPES[type].adds === 'notice') {
    notices.push(`play:${PLAY_SUBSCRIPTION_NOTIFICATION_TYPES[type].name}`);
  }
  return notices.map((notice) => at('StoreNoticeRecorded', { notice }));
}

interface Period {
  readonly transaction: Transaction;
  readonly orderId: string;
}

/**
 * The periods paid for, one per line item (a subscription with add-ons has several).
 *
 * `purchasedAt` is the subscription's `startTime` for every period. Google says when
 * the subscription began and when each item's current period ends (`expiryTime`),
 * never when the current period began. Estimating it as the expiry minus the billing
 * period would be wrong after a trial, an introductory phase, a deferral, a pause or
 * in grace (where the expiry is the grace end), and the billing period is not in the
 * answer. So a renewal's order (`..N`, a recovery's too) is marked `startUnknown`, and
 * the core dates it (src/domain/purchase/period-start.ts): from the end of the period
 * it follows, or, after a billing failure or a pause, from the earliest answer naming
 * it, which no later answer moves. A question about a moment before a renewal then gets
 * the period that ran then, and a recovery after an account hold or a pause does not
 * cover the gap.
 */
function periodsOf(purchase: SubscriptionPurchaseV2): Period[] {
  const { startTime, lineItems } = purchase;
  if (!startTime) return [];
  const purchasedAt = fromRfc3339(startTime);
  return lineItems.flatMap((item) => {
    // The deprecated top-level order id is this item's only when the item is the only one.
    const orderId = item.latestSuccessfulOrderId ?? (lineItems.length === 1 ? purchase.latestOrderId : undefined);
    if (!orderId || !item.expiryTime) return [];
    const expiresAt = fromRfc3339(item.expiryTime);
    // A period with no time in it gives nothing, and the decider refuses it.
    if (millis(expiresAt) <= millis(purchasedAt)) return [];
    const periodType = periodTypeOf(item);
    const offer = offerOf(item, periodType);
    const transaction: Transaction = {
      // Items bought together share their order.
      transactionId: lineItems.length === 1 ? orderId : `${orderId}:${item.productId}`,
      productId: item.productId,
      purchasedAt,
      // A renewal's period began after the subscription did; Google does not say when.
      ...(isRenewalOrder(orderId) && { startUnknown: true as const }),
      expiresAt,
      periodType,
      ownership: 'purchased',
      ...(offer && { offer }),
      ...priceOf(item.autoRenewingPlan?.recurringPrice),
    };
    return [{ transaction, orderId }];
  });
}

/** Google's Money (whole units and nanos) as a decimal amount: units "9", nanos 990000000 is "9.99". */
function priceOf(money: { currencyCode?: string; units?: string; nanos?: number } | undefined): { price?: Price } {
  if (!money?.currencyCode || (money.units === undefined && money.nanos === undefined)) return {};
  const units = money.units ?? '0';
  const fraction = String(Math.abs(money.nanos ?? 0))
    .padStart(9, '0')
    .replace(/0+$/, '');
  return { price: { amount: fraction ? `${units}.${fraction}` : units, currency: money.currencyCode } };
}

/** Renewals' orders are the first order's id with `..0`, `..1`, ... appended. */
function isRenewalOrder(orderId: string): boolean {
  return /\.\.\d+$/.test(orderId);
}

function periodTypeOf(item: PlayLineItem): PeriodType {
  if (item.offerPhase?.freeTrial) return 'trial';
  if (item.offerPhase?.introductoryPrice) return 'intro';
  return 'normal';
}

/** The offer a discounted period was bought with: a promotion code, or the base plan's offer. */
function offerOf(item: PlayLineItem, periodType: PeriodType): Transaction['offer'] {
  if (periodType === 'normal') return undefined;
  const type: OfferType = item.signupPromotion ? 'offer_code' : 'introductory';
  const offerId = item.offerDetails?.offerId;
  return { type, ...(offerId && { id: offerId }) };
}

/** Auto-renew and a product change waiting for the next renewal. */
function renewalFacts(purchase: SubscriptionPurchaseV2, at: At): PurchaseEvent[] {
  // Google leaves `autoRenewEnabled: false` out; prepaid plans never renew.
  const renews = purchase.lineItems.some((item) => item.autoRenewingPlan?.autoRenewEnabled === true);
  const deferred = purchase.lineItems.find((item) => item.deferredItemReplacement);
  return [
    at(renews ? 'AutoRenewTurnedOn' : 'AutoRenewTurnedOff', {}),
    deferred?.deferredItemReplacement
      ? // Google does not say whether the new product is more or less than the old.
        at('ProductChangeScheduled', { toProductId: deferred.deferredItemReplacement.productId, change: 'crossgrade' })
      : at('ProductChangeCancelled', {}),
  ];
}

/** The subscription this one replaced, and the item it replaced, dated when this one began. */
function replacementFacts(purchase: SubscriptionPurchaseV2, began: At): PurchaseEvent[] {
  const facts: PurchaseEvent[] = [];
  if (purchase.linkedPurchaseToken) {
    facts.push(began('StoreNoticeRecorded', { notice: `play:replaces/${purchase.linkedPurchaseToken}` }));
  }
  for (const item of purchase.lineItems) {
    if (item.itemReplacement && item.itemReplacement.productId !== item.productId) {
      facts.push(
        began('ProductChangeApplied', {
          fromProductId: item.itemReplacement.productId,
          toProductId: item.productId,
          change: 'crossgrade',
        }),
      );
    }
  }
  return facts;
}

function latestExpiry(purchase: SubscriptionPurchaseV2): Timestamp | undefined {
  const expiries = purchase.lineItems.flatMap((item) => (item.expiryTime ? [fromRfc3339(item.expiryTime)] : []));
  return expiries.sort((a, b) => millis(a) - millis(b)).at(-1);
}

function expirationReason(purchase: SubscriptionPurchaseV2): ExpirationReason {
  const canceled = purchase.canceledStateContext;
  if (canceled?.userInitiatedCancellation) return 'voluntary';
  if (canceled?.systemInitiatedCancellation) {
    // Google cancels a subscription whose user did not accept a price increase in time.
    const priceIncreaseRefused = purchase.lineItems.some((item) => {
      const change = item.autoRenewingPlan?.priceChangeDetails;
      return change?.priceChangeMode === 'PRICE_INCREASE' && change.priceChangeState === 'OUTSTANDING';
    });
    return priceIncreaseRefused ? 'price_increase_declined' : 'billing_error';
  }
  // Canceled by the developer, replaced by another subscription, or not said.
  return 'other';
}
