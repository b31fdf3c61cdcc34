import { z } from 'zod';
import { Refusal } from '../../domain/refusal.ts';

/**
 * The Google Play documents Subledger reads, with the field names of Google's APIs: the
 * Cloud Pub/Sub push that carries a real-time developer notification, the notification
 * itself, and the Play Developer API's answers (purchases.subscriptionsv2.get,
 * purchases.products.get, voidedpurchases.list). Only src/ingest knows these shapes.
 *
 * Objects keep the fields listed here and drop the rest (Google adds fields; the
 * verbatim document is in the archive). Enumerations Google extends over time
 * (subscription states, notification types) are accepted as any value of their form,
 * so that a value this version does not know is recorded, never refused.
 */

/** Milliseconds since the epoch, as Google writes them in JSON: a string of digits. */
const millisText = z.string().regex(/^\d{1,15}$/, 'milliseconds since the epoch, as a string of digits');
/** RFC 3339, as Google writes times in the v2 APIs (`2026-03-01T09:30:00.123456Z`). */
const time = z.iso.datetime({ offset: true, message: 'an RFC 3339 time such as 2026-03-01T09:30:00.000Z' });
const id = z.string().min(1);

// --- Real-time developer notifications ---------------------------------------------

export const subscriptionNotificationSchema = z.object({
  version: z.string(),
  /** See PLAY_SUBSCRIPTION_NOTIFICATION_TYPES; numbers Google adds later are accepted. */
  notificationType: z.number().int(),
  purchaseToken: id,
  /** Sent by older notification versions only. */
  subscriptionId: id.optional(),
});
export type SubscriptionNotification = z.output<typeof subscriptionNotificationSchema>;

export const oneTimeProductNotificationSchema = z.object({
  version: z.string(),
  /** 1 ONE_TIME_PRODUCT_PURCHASED, 2 ONE_TIME_PRODUCT_CANCELED. */
  notificationType: z.number().int(),
  purchaseToken: id,
  sku: id,
});
export type OneTimeProductNotification = z.output<typeof oneTimeProductNotificationSchema>;

export const voidedPurchaseNotificationSchema = z.object({
  purchaseToken: id,
  orderId: id,
  /** 1 PRODUCT_TYPE_SUBSCRIPTION, 2 PRODUCT_TYPE_ONE_TIME. */
  productType: z.number().int(),
  /** 1 REFUND_TYPE_FULL_REFUND, 2 REFUND_TYPE_QUANTITY_BASED_PARTIAL_REFUND. */
  refundType: z.number().int(),
});
export type VoidedPurchaseNotification = z.output<typeof voidedPurchaseNotificationSchema>;

export const testNotificationSchema = z.object({ version: z.string() });
export type TestNotification = z.output<typeof testNotificationSchema>;

const PAYLOADS = [
  'subscriptionNotification',
  'oneTimeProductNotification',
  'voidedPurchaseNotification',
  'testNotification',
] as const;
const ENVELOPE: ReadonlySet<string> = new Set(['version', 'packageName', 'eventTimeMillis', ...PAYLOADS]);

/**
 * The developer notification, once the push's `data` is decoded: the envelope and
 * exactly one payload. A notification carrying none of the four payloads but another
 * `...Notification` object (a kind Google added after this version) is accepted, so
 * that it is recorded and reported rather than refused (see `payloadOf`).
 */
export const developerNotificationSchema = z
  .looseObject({
    version: z.string(),
    packageName: id,
    eventTimeMillis: millisText,
    subscriptionNotification: subscriptionNotificationSchema.optional(),
    oneTimeProductNotification: oneTimeProductNotificationSchema.optional(),
    voidedPurchaseNotification: voidedPurchaseNotificationSchema.optional(),
    testNotification: testNotificationSchema.optional(),
  })
  .check((ctx) => {
    const present = PAYLOADS.filter((field) => ctx.value[field] !== undefined);
    if (present.length === 1 || (present.length === 0 && otherPayloadsOf(ctx.value).length > 0)) return;
    ctx.issues.push({
      code: 'custom',
      input: ctx.value,
      path: [],
      message:
        present.length === 0
          ? `exactly one of ${PAYLOADS.join(', ')} is required`
          : `exactly one of ${PAYLOADS.join(', ')} is allowed, not ${present.join(' and ')}`,
    });
  });
export type DeveloperNotification = z.output<typeof developerNotificationSchema>;

/** What a developer notification is about, as a tagged union. */
export type PlayNotificationPayload =
  | { readonly kind: 'subscription'; readonly subscription: SubscriptionNotification }
  | { readonly kind: 'one_time_product'; readonly oneTimeProduct: OneTimeProductNotification }
  | { readonly kind: 'voided_purchase'; readonly voidedPurchase: VoidedPurchaseNotification }
  | { readonly kind: 'test'; readonly test: TestNotification }
  /** A payload this version does not know, named by its field (`pendingRefundReviewNotification`, ...). */
  | { readonly kind: 'unknown'; readonly field: string };

export function payloadOf(notification: DeveloperNotification): PlayNotificationPayload {
  const { subscriptionNotification, oneTimeProductNotification, voidedPurchaseNotification, testNotification } =
    notification;
  if (subscriptionNotification) return { kind: 'subscription', subscription: subscriptionNotification };
  if (oneTimeProductNotification) return { kind: 'one_time_product', oneTimeProduct: oneTimeProductNotification };
  if (voidedPurchaseNotification) return { kind: 'voided_purchase', voidedPurchase: voidedPurchaseNotification };
  if (testNotification) return { kind: 'test', test: testNotification };
  return { kind: 'unknown', field: otherPayloadsOf(notification)[0] ?? '(none)' };
}

function otherPayloadsOf(notification: Record<string, unknown>): string[] {
  return Object.keys(notification).filter(
    (field) =>
      !ENVELOPE.has(field) &&
      field.endsWith('Notification') &&
      typeof notification[field] === 'object' &&
      notification[field] !== null,
  );
}

// --- purchases.subscriptionsv2.get: SubscriptionPurchaseV2 -------------------------

/** Every `subscriptionState` Google documents; others are accepted and recorded as unknown. */
export const PLAY_SUBSCRIPTION_STATES = [
  'SUBSCRIPTION_STATE_UNSPECIFIED',
  'SUBSCRIPTION_STATE_PENDING',
  'SUBSCRIPTION_STATE_ACTIVE',
  'SUBSCRIPTION_STATE_PAUSED',
  'SUBSCRIPTION_STATE_IN_GRACE_PERIOD',
  'SUBSCRIPTION_STATE_ON_HOLD',
  'SUBSCRIPTION_STATE_CANCELED',
  'SUBSCRIPTION_STATE_EXPIRED',
  'SUBSCRIPTION_STATE_PENDING_PURCHASE_CANCELED',
] as const;
export type PlaySubscriptionState = (typeof PLAY_SUBSCRIPTION_STATES)[number];

const money = z.object({
  currencyCode: z.string().optional(),
  units: z.string().optional(),
  nanos: z.number().int().optional(),
});
/** An object whose presence is the information (Google's empty messages such as `testPurchase: {}`). */
const marker = z.object({});

const autoRenewingPlanSchema = z.object({
  /** Google leaves out `false`: absent means off. */
  autoRenewEnabled: z.boolean().optional(),
  recurringPrice: money.optional(),
  priceChangeDetails: z
    .object({
      newPrice: money.optional(),
      /** PRICE_DECREASE, PRICE_INCREASE, OPT_OUT_PRICE_INCREASE. */
      priceChangeMode: z.string().optional(),
      /** OUTSTANDING, CONFIRMED, APPLIED. */
      priceChangeState: z.string().optional(),
      expectedNewPriceChargeTime: time.optional(),
    })
    .optional(),
  priceStepUpConsentDetails: z
    .object({ state: z.string().optional(), consentDeadlineTime: time.optional(), newPrice: money.optional() })
    .optional(),
  installmentDetails: z
    .object({
      initialCommittedPaymentsCount: z.number().int().optional(),
      remainingCommittedPaymentsCount: z.number().int().optional(),
      subsequentCommittedPaymentsCount: z.number().int().optional(),
      pendingCancellation: marker.optional(),
    })
    .optional(),
});

const lineItemSchema = z.object({
  productId: id,
  /** When the item expired or will expire unless renewed; the grace period's end while in grace. */
  expiryTime: time.optional(),
  /** Absent while the item is not owned yet (the target of a deferred replacement). */
  latestSuccessfulOrderId: id.optional(),
  autoRenewingPlan: autoRenewingPlanSchema.optional(),
  prepaidPlan: z.object({ allowExtendAfterTime: time.optional() }).optional(),
  offerDetails: z
    .object({ basePlanId: id.optional(), offerId: id.optional(), offerTags: z.array(z.string()).optional() })
    .optional(),
  /** Exactly one of these says which phase of its offer the item is in. */
  offerPhase: z
    .object({
      basePrice: marker.optional(),
      freeTrial: marker.optional(),
      introductoryPrice: marker.optional(),
      prorationPeriod: z.object({ originalOfferPhaseType: z.string().optional() }).optional(),
    })
    .optional(),
  /** A product change that takes effect at the next renewal. */
  deferredItemReplacement: z.object({ productId: id }).optional(),
  /** The item of a previous subscription this one replaced (for 60 days after the purchase). */
  itemReplacement: z
    .object({
      productId: id,
      basePlanId: id.optional(),
      offerId: id.optional(),
      replacementMode: z.string().optional(),
    })
    .optional(),
  signupPromotion: z
    .object({ oneTimeCode: marker.optional(), vanityCode: z.object({ promotionCode: z.string() }).optional() })
    .optional(),
});
export type PlayLineItem = z.output<typeof lineItemSchema>;

export const subscriptionPurchaseV2Schema = z.object({
  kind: z.literal('androidpublisher#subscriptionPurchaseV2').optional(),
  regionCode: z.string().optional(),
  /** When the subscription was granted; absent while the first payment is pending. */
  startTime: time.optional(),
  subscriptionState: z
    .string()
    .regex(/^SUBSCRIPTION_STATE_[A-Z_]+$/, 'a subscription state such as SUBSCRIPTION_STATE_ACTIVE'),
  /** Deprecated by Google in favour of the line items' latestSuccessfulOrderId. */
  latestOrderId: id.optional(),
  /** The subscription this one replaced: an upgrade, downgrade, resubscription, plan conversion. */
  linkedPurchaseToken: id.optional(),
  pausedStateContext: z.object({ autoResumeTime: time.optional() }).optional(),
  canceledStateContext: z
    .object({
      userInitiatedCancellation: z
        .object({
          cancelTime: time.optional(),
          cancelSurveyResult: z
            .object({ reason: z.string().optional(), reasonUserInput: z.string().optional() })
            .optional(),
        })
        .optional(),
      systemInitiatedCancellation: marker.optional(),
      developerInitiatedCancellation: marker.optional(),
      replacementCancellation: marker.optional(),
    })
    .optional(),
  /** Present, as `{}`, for license testers' purchases only. */
  testPurchase: marker.optional(),
  acknowledgementState: z
    .string()
    .regex(/^ACKNOWLEDGEMENT_STATE_[A-Z_]+$/, 'an acknowledgement state such as ACKNOWLEDGEMENT_STATE_PENDING')
    .optional(),
  externalAccountIdentifiers: z
    .object({
      externalAccountId: z.string().optional(),
      obfuscatedExternalAccountId: z.string().optional(),
      obfuscatedExternalProfileId: z.string().optional(),
    })
    .optional(),
  outOfAppPurchaseContext: z.object({ expiredPurchaseToken: id.optional() }).optional(),
  lineItems: z.array(lineItemSchema),
  etag: z.string().optional(),
});
export type SubscriptionPurchaseV2 = z.output<typeof subscriptionPurchaseV2Schema>;

// --- purchases.products.get: ProductPurchase ---------------------------------------

export const productPurchaseSchema = z.object({
  kind: z.literal('androidpublisher#productPurchase').optional(),
  purchaseTimeMillis: millisText,
  /** 0 purchased, 1 canceled, 2 pending. */
  purchaseState: z.number().int().nonnegative(),
  /** 0 yet to be consumed, 1 consumed. */
  consumptionState: z.number().int().optional(),
  /** Absent for some test purchases. */
  orderId: id.optional(),
  /** 0 yet to be acknowledged, 1 acknowledged. */
  acknowledgementState: z.number().int().optional(),
  obfuscatedExternalAccountId: z.string().optional(),
  obfuscatedExternalProfileId: z.string().optional(),
  /** Only for purchases outside the standard flow: 0 test (license tester), 1 promo code, 2 rewarded. */
  purchaseType: z.number().int().optional(),
  /** Absent means 1. */
  quantity: z.number().int().positive().optional(),
  refundableQuantity: z.number().int().nonnegative().optional(),
  regionCode: z.string().optional(),
  productId: id.optional(),
  purchaseToken: id.optional(),
  developerPayload: z.string().optional(),
});
export type ProductPurchase = z.output<typeof productPurchaseSchema>;

// --- purchases.voidedpurchases.list: VoidedPurchase --------------------------------

export const voidedPurchaseSchema = z.object({
  kind: z.literal('androidpublisher#voidedPurchase').optional(),
  purchaseToken: id,
  /** The one-time purchase, or the subscription's order (its first purchase or one renewal). */
  orderId: id,
  purchaseTimeMillis: millisText.optional(),
  voidedTimeMillis: millisText,
  /** 0 user, 1 developer, 2 Google. */
  voidedSource: z.number().int().optional(),
  /**
   * 0 other, 1 remorse, 2 not received, 3 defective, 4 accidental purchase, 5 fraud,
   * 6 friendly fraud, 7 chargeback, 8 unacknowledged purchase.
   */
  voidedReason: z.number().int().optional(),
  /** Set on quantity-based partial refunds only (listed with includeQuantityBasedPartialRefund). */
  voidedQuantity: z.number().int().positive().optional(),
});
export type VoidedPurchase = z.output<typeof voidedPurchaseSchema>;

// --- Parsing ------------------------------------------------------------------------

/** A Google document that does not have the shape Google documents. Names every problem. */
export class MalformedPlayDocument extends Refusal<'malformed_play_document'> {
  readonly document: string;
  readonly problems: readonly string[];

  constructor(document: string, problems: readonly string[]) {
    super('invalid', 'malformed_play_document', `Not a valid ${document}: ${problems.join('; ')}`);
    this.document = document;
    this.problems = problems;
  }
}

export function parsePlayDocument<S extends z.ZodType>(schema: S, document: string, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new MalformedPlayDocument(
    document,
    parsed.error.issues.map((issue) => `${issue.path.join('.') || '(document)'}: ${issue.message}`),
  );
}

export const parseDeveloperNotification = (value: unknown) =>
  parsePlayDocument(developerNotificationSchema, 'DeveloperNotification', value);
export const parseSubscriptionPurchaseV2 = (value: unknown) =>
  parsePlayDocument(subscriptionPurchaseV2Schema, 'SubscriptionPurchaseV2', value);
export const parseProductPurchase = (value: unknown) =>
  parsePlayDocument(productPurchaseSchema, 'ProductPurchase', value);
export const parseVoidedPurchase = (value: unknown) => parsePlayDocument(voidedPurchaseSchema, 'VoidedPurchase', value);

/** A Pub/Sub push as it arrives: real pushes carry both spellings of the message id and publish time. */
export const pubSubPushSchema = z.object({
  message: z.object({
    data: z.string().min(1).describe('Base64 of the DeveloperNotification JSON'),
    messageId: z.string().min(1).optional(),
    message_id: z.string().min(1).optional(),
    publishTime: z.string().optional(),
    publish_time: z.string().optional(),
    attributes: z.record(z.string(), z.string()).optional(),
  }),
  subscription: z.string().optional(),
});
