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
    code: z.string().describe('Stable, machine-readable reason; see the README for each route'),
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

export const entitlementSchema = z.object({
  active: z.boolean(),
  expiresAt: timestamp.nullable().describe('null: never expires'),
  purchasedAt: timestamp,
  productId: z.string(),
  storeProductId: z.string(),
  store: z.enum(['app_store', 'play_store', 'promotional']),
  environment: z.enum(['production', 'sandbox']),
  purchaseId: z.string(),
  willRenew: z.boolean(),
  periodType: z.enum(['trial', 'intro', 'normal']),
  ownership: z.enum(['purchased', 'family_shared']),
  gracePeriodExpiresAt: timestamp.nullable(),
  billingIssueDetectedAt: timestamp.nullable(),
  unsubscribeDetectedAt: timestamp.nullable(),
  revokedAt: timestamp.nullable(),
});

export const customerSchema = z.object({
  appUserId: z.string(),
  at: timestamp,
  entitlements: z.record(z.string(), entitlementSchema).describe('By entitlement id'),
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
