import { z } from 'zod';

/**
 * The shapes of the HTTP API, in zod: requests are validated with them, responses
 * serialized with them, and /openapi.json is generated from them. The API contract
 * lives here and in the routes that use it, nowhere else.
 */
export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    code: z.string().describe('Stable, machine-readable reason; see docs/http.md and the API reference'),
    detail: z.string(),
  })
  .describe('RFC 9457 problem details (application/problem+json)');

/** Problem responses for the given status codes. */
export function problems(...statuses: number[]): Record<number, typeof problemSchema> {
  return Object.fromEntries(statuses.map((status) => [status, problemSchema]));
}

export const appUserIdParams = z.object({
  appUserId: z.string().min(1).max(256).describe('Your app’s id for the user'),
});

const timestamp = z.string().describe('ISO 8601, UTC');

const purchaseOrigin = {
  store: z.enum(['app_store', 'play_store', 'promotional']),
  environment: z.enum(['production', 'sandbox']),
  purchaseId: z.string().describe("The store's id: Apple's original transaction id, Google's purchase token"),
};

const period = z.object({
  startsAt: timestamp,
  endsAt: timestamp.nullable().describe('null: never ends'),
});

export const entitlementSchema = z.object({
  active: z.boolean(),
  expiresAt: timestamp
    .nullable()
    .describe(
      'When access ends: the end of the current period, or of the paid periods that follow it without a gap; null: never expires',
    ),
  purchasedAt: timestamp.describe('Start of the current (or last) period'),
  currentPeriod: period.describe('The period that covers `at`, or the last one that did'),
  nextPeriod: period
    .extend({ storeProductId: z.string() })
    .nullable()
    .describe(
      'The next period, when the store has already charged it (renewals are charged up to a day early); null: none yet',
    ),
  productId: z.string(),
  storeProductId: z.string(),
  ...purchaseOrigin,
  willRenew: z.boolean(),
  periodType: z.enum(['trial', 'intro', 'normal']),
  ownership: z.enum(['purchased', 'family_shared']),
  gracePeriodExpiresAt: timestamp.nullable(),
  billingIssueDetectedAt: timestamp.nullable(),
  unsubscribeDetectedAt: timestamp.nullable(),
  revokedAt: timestamp.nullable(),
});

export const subscriptionSchema = z.object({
  productId: z.string().nullable().describe('Our catalog product; null: a store product the catalog does not know'),
  ...purchaseOrigin,
  active: z.boolean(),
  purchasedAt: timestamp.describe('Start of the current (or last) period'),
  originalPurchasedAt: timestamp.describe('Start of the first period'),
  expiresAt: timestamp.nullable(),
  willRenew: z.boolean(),
  periodType: z.enum(['trial', 'intro', 'normal']),
  ownership: z.enum(['purchased', 'family_shared']),
  billingIssueDetectedAt: timestamp.nullable(),
  gracePeriodExpiresAt: timestamp.nullable(),
  unsubscribeDetectedAt: timestamp.nullable(),
  revokedAt: timestamp.nullable(),
});

export const customerSchema = z.object({
  appUserId: z.string(),
  at: timestamp.describe('The moment these answers hold for'),
  firstSeen: timestamp.nullable().describe('When the first of their purchases began; null: no purchase'),
  lastSeen: timestamp
    .nullable()
    .describe('Store time of the newest fact about any of their purchases; null: none recorded yet'),
  entitlements: z.record(z.string(), entitlementSchema).describe('By entitlement id'),
  subscriptions: z.record(z.string(), subscriptionSchema).describe('By store product id, the newest purchase of each'),
  oneTimePurchases: z.array(
    z.object({
      storeProductId: z.string(),
      productId: z.string().nullable(),
      ...purchaseOrigin,
      purchasedAt: timestamp,
      revokedAt: timestamp.nullable(),
    }),
  ),
  unknownProducts: z.array(
    z.object({
      store: z.string(),
      environment: z.string(),
      purchaseId: z.string(),
      storeProductId: z.string(),
    }),
  ),
});

export const scopedTokenSchema = z.object({
  token: z.string().describe('ES256 JWT; verify with /.well-known/jwks.json'),
  tokenType: z.literal('Bearer'),
  scope: z.array(z.string()).describe('Active entitlement ids'),
  expiresAt: timestamp,
});
