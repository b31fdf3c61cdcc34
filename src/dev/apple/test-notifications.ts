import { randomUUID } from 'node:crypto';
import type { AppleTestSigner } from './test-signer.ts';

/**
 * App Store documents as the App Store builds them, for tests and `subledger apple-dev`,
 * signed by a test CA (test-signer.ts). Defaults match the sample catalog's app.
 */
export const BUNDLE_ID = 'com.example.pulse';
export const APP_APPLE_ID = 1234567890;
export const MONTHLY = 'com.example.pulse.premium.monthly';
export const DAY = 86_400_000;
const ORIGINAL_TRANSACTION_ID = '2000000812345678';

export interface NotificationSpec {
  readonly type: string;
  readonly subtype?: string;
  readonly uuid?: string;
  readonly signedDate: number;
  readonly environment?: 'Sandbox' | 'Production';
  readonly bundleId?: string;
  readonly appAppleId?: number;
  /** Fields of the signed transaction over the defaults (a monthly subscription). */
  readonly transaction?: Record<string, unknown> | false;
  readonly renewalInfo?: Record<string, unknown> | false;
}

/**
 * The payload of a signed transaction, as the App Store signs it: by default the
 * first period of a monthly subscription, bought at `signedDate`.
 */
export function transactionPayload(
  signedDate: number,
  fields: Record<string, unknown> = {},
  environment: 'Sandbox' | 'Production' = 'Sandbox',
) {
  return {
    transactionId: ORIGINAL_TRANSACTION_ID,
    originalTransactionId: ORIGINAL_TRANSACTION_ID,
    bundleId: BUNDLE_ID,
    productId: MONTHLY,
    purchaseDate: signedDate,
    originalPurchaseDate: signedDate,
    expiresDate: signedDate + 30 * DAY,
    quantity: 1,
    type: 'Auto-Renewable Subscription',
    inAppOwnershipType: 'PURCHASED',
    signedDate,
    environment,
    ...fields,
  } as Record<string, unknown> & { originalTransactionId: string; productId: string; environment: string };
}

/** The renewal info that goes with `transaction`: auto-renew on, to the same product. */
export function renewalInfoPayload(
  transaction: { originalTransactionId: string; productId: string; environment: string },
  signedDate: number,
  fields: Record<string, unknown> = {},
) {
  return {
    originalTransactionId: transaction.originalTransactionId,
    productId: transaction.productId,
    autoRenewProductId: transaction.productId,
    autoRenewStatus: 1,
    signedDate,
    environment: transaction.environment,
    ...fields,
  };
}

/** Signs a notification, with its transaction and renewal info, the way the App Store does. */
export async function signNotification(signer: AppleTestSigner, spec: NotificationSpec): Promise<string> {
  const environment = spec.environment ?? 'Sandbox';
  const bundleId = spec.bundleId ?? BUNDLE_ID;
  const transaction =
    spec.transaction === false
      ? undefined
      : transactionPayload(spec.signedDate, { bundleId, ...spec.transaction }, environment);
  const renewalInfo =
    spec.renewalInfo === false || !transaction
      ? undefined
      : renewalInfoPayload(transaction, spec.signedDate, spec.renewalInfo);
  return signer.sign({
    notificationType: spec.type,
    ...(spec.subtype && { subtype: spec.subtype }),
    notificationUUID: spec.uuid ?? randomUUID(),
    version: '2.0',
    signedDate: spec.signedDate,
    data: {
      appAppleId: spec.appAppleId ?? APP_APPLE_ID,
      bundleId,
      environment,
      status: 1,
      ...(transaction && { signedTransactionInfo: await signer.sign(transaction) }),
      ...(renewalInfo && { signedRenewalInfo: await signer.sign(renewalInfo) }),
    },
  });
}
