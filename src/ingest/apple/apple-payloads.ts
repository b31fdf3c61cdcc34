import { z } from 'zod';

/**
 * The fields Subledger reads from App Store Server Notifications V2 once their
 * signatures are verified (Apple's `ResponseBodyV2DecodedPayload`,
 * `JWSTransactionDecodedPayload`, `JWSRenewalInfoDecodedPayload`), parsed, not cast:
 * a signed document without them is refused as malformed before anything is recorded.
 * Only src/ingest knows these shapes. Times are milliseconds since the epoch, as Apple
 * sends them. Fields Apple may add later pass through unread; values Apple may add to an
 * enumeration it documents as open (offer discount types) are kept as strings.
 */
const millis = z.number().int().nonnegative();
const appleEnvironment = z.enum(['Sandbox', 'Production', 'Xcode', 'LocalTesting']);
export type AppleEnvironment = z.infer<typeof appleEnvironment>;

export const appleNotificationSchema = z.object({
  notificationType: z.string().min(1),
  subtype: z.string().min(1).optional(),
  notificationUUID: z.string().min(1),
  signedDate: millis,
  data: z
    .object({
      environment: appleEnvironment.optional(),
      bundleId: z.string().optional(),
      appAppleId: z.number().optional(),
      status: z.number().int().optional(),
    })
    .optional(),
});
export type AppleNotification = z.infer<typeof appleNotificationSchema>;

export const appleTransactionSchema = z.object({
  transactionId: z.string().min(1),
  originalTransactionId: z.string().min(1),
  bundleId: z.string().min(1),
  productId: z.string().min(1),
  type: z.enum(['Auto-Renewable Subscription', 'Non-Consumable', 'Consumable', 'Non-Renewing Subscription']),
  purchaseDate: millis,
  expiresDate: millis.optional(),
  signedDate: millis,
  environment: appleEnvironment,
  inAppOwnershipType: z.enum(['PURCHASED', 'FAMILY_SHARED']).optional(),
  appAccountToken: z.string().optional(),
  /** 1 introductory, 2 promotional, 3 offer code, 4 win-back. */
  offerType: z.number().int().optional(),
  offerIdentifier: z.string().optional(),
  /** FREE_TRIAL, PAY_AS_YOU_GO, PAY_UP_FRONT, and what Apple adds. */
  offerDiscountType: z.string().optional(),
  revocationDate: millis.optional(),
  /** 0 refunded for another reason, 1 refunded for an issue with the app. */
  revocationReason: z.number().int().optional(),
  isUpgraded: z.boolean().optional(),
  /** In milliunits of `currency`: 9990 is 9.99. */
  price: z.number().int().nonnegative().optional(),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/)
    .optional(),
});
export type AppleTransaction = z.infer<typeof appleTransactionSchema>;

export const appleRenewalInfoSchema = z.object({
  originalTransactionId: z.string().min(1),
  productId: z.string().min(1),
  autoRenewProductId: z.string().optional(),
  /** 0 off, 1 on. */
  autoRenewStatus: z.number().int().optional(),
  isInBillingRetryPeriod: z.boolean().optional(),
  gracePeriodExpiresDate: millis.optional(),
  /** 1 voluntary, 2 billing error, 3 price increase declined, 4 product unavailable, 5 other. */
  expirationIntent: z.number().int().optional(),
  signedDate: millis,
});
export type AppleRenewalInfo = z.infer<typeof appleRenewalInfoSchema>;

/** A verified notification with its nested signed documents decoded. */
export interface VerifiedAppleNotification {
  readonly notification: AppleNotification;
  readonly transaction?: AppleTransaction;
  readonly renewalInfo?: AppleRenewalInfo;
}
