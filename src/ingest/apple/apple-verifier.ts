import { readFile } from 'node:fs/promises';
import {
  Environment,
  SignedDataVerifier,
  VerificationException,
  VerificationStatus,
} from '@apple/app-store-server-library';
import type { App } from '../../domain/catalog.ts';
import type { z } from 'zod';
import {
  appleNotificationSchema,
  appleRenewalInfoSchema,
  appleTransactionSchema,
  type AppleRenewalInfo,
  type AppleTransaction,
  type VerifiedAppleNotification,
} from './apple-payloads.ts';
import { ChainCachingVerifier } from './chain-caching-verifier.ts';
import { decodeJwsPayload } from './jws.ts';
import { refusalFamily, type KindOfCode } from '../../domain/refusal.ts';

/** Why a notification was refused. Each is a 4xx, so Apple stops retrying, except `verification_unavailable`. */
export type AppleRejectionCode =
  | 'malformed_payload'
  | 'unknown_app'
  | 'unsupported_environment'
  | 'invalid_signature'
  | 'invalid_certificate'
  | 'wrong_app'
  | 'wrong_environment'
  | 'verification_unavailable';

/** A check that may pass later is `unavailable` (Apple retries); the rest are 4xx, which Apple does not retry. */
const KIND_OF: KindOfCode<AppleRejectionCode> = {
  malformed_payload: 'malformed',
  unknown_app: 'invalid',
  unsupported_environment: 'invalid',
  invalid_signature: 'unauthenticated',
  invalid_certificate: 'unauthenticated',
  wrong_app: 'invalid',
  wrong_environment: 'invalid',
  verification_unavailable: 'unavailable',
};

export class AppleRejection extends refusalFamily(KIND_OF) {}

const REJECTION_BY_STATUS: Record<VerificationStatus, AppleRejectionCode> = {
  [VerificationStatus.OK]: 'malformed_payload',
  [VerificationStatus.VERIFICATION_FAILURE]: 'invalid_signature',
  [VerificationStatus.RETRYABLE_VERIFICATION_FAILURE]: 'verification_unavailable',
  [VerificationStatus.INVALID_APP_IDENTIFIER]: 'wrong_app',
  [VerificationStatus.INVALID_ENVIRONMENT]: 'wrong_environment',
  [VerificationStatus.INVALID_CHAIN_LENGTH]: 'invalid_certificate',
  [VerificationStatus.INVALID_CERTIFICATE]: 'invalid_certificate',
  [VerificationStatus.FAILURE]: 'malformed_payload',
};

export async function loadTrustedRoots(paths: readonly string[]): Promise<Buffer[]> {
  return Promise.all(paths.map((path) => readFile(path)));
}

/**
 * Verifies what the App Store signs (Server Notifications V2, and the signed
 * transactions apps submit or the App Store Server API returns) with Apple's own
 * library: the x5c chain up to a trusted root, Apple's certificate OIDs, the
 * signature, the bundle id and App Apple ID of an app in the catalog, the
 * environment. A notification's nested transaction and renewal info are covered by
 * its signature (`coveredNested`); a transaction on its own is verified in full.
 *
 * One `SignedDataVerifier` per app and environment, chosen from the payload's
 * unverified `data` (the verifier then checks that choice). Only Production and
 * Sandbox: Apple's library skips every signature check for Xcode and LocalTesting.
 */
export class AppleVerifier {
  private readonly verifiers = new Map<string, SignedDataVerifier>();

  private readonly apps: readonly App[];
  private readonly options: { readonly trustedRoots: readonly Buffer[]; readonly onlineChecks: boolean };

  constructor(
    apps: readonly App[],
    options: { readonly trustedRoots: readonly Buffer[]; readonly onlineChecks: boolean },
  ) {
    this.apps = apps;
    this.options = options;
  }

  async verify(signedPayload: string): Promise<VerifiedAppleNotification> {
    const claimed = claimedOrigin(decodeJwsPayload(signedPayload), 'notification');
    const verifier = this.verifierFor(claimed.bundleId, claimed.environment);
    return translateFailures(async () => {
      const notification = await verifier.verifyAndDecodeNotification(signedPayload);
      const { signedTransactionInfo, signedRenewalInfo } = notification.data ?? {};
      return {
        notification: parsed(appleNotificationSchema, 'notification', notification),
        ...coveredNested(claimed, signedTransactionInfo, signedRenewalInfo),
      };
    });
  }

  /**
   * A signed transaction from StoreKit 2 or the App Store Server API, with the signed
   * renewal info that may come with it (Get All Subscription Statuses).
   */
  async verifyTransaction(
    signedTransaction: string,
    signedRenewalInfo?: string,
  ): Promise<{ transaction: AppleTransaction; renewalInfo?: AppleRenewalInfo }> {
    const claimed = claimedOrigin(decodeJwsPayload(signedTransaction), 'transaction');
    const verifier = this.verifierFor(claimed.bundleId, claimed.environment);
    const verified = await translateFailures(() => verifyNested(verifier, signedTransaction, signedRenewalInfo));
    return verified as { transaction: AppleTransaction; renewalInfo?: AppleRenewalInfo };
  }

  private verifierFor(bundleId: string, environment: 'Production' | 'Sandbox'): SignedDataVerifier {
    const key = `${bundleId}/${environment}`;
    let verifier = this.verifiers.get(key);
    if (!verifier) {
      const app = this.apps.find((a) => a.appStore?.bundleId === bundleId);
      if (!app?.appStore) throw new AppleRejection('unknown_app', `No app in the catalog has bundle id ${bundleId}`);
      if (environment === 'Production' && app.appStore.appAppleId === undefined) {
        throw new AppleRejection('unknown_app', `The catalog has no appAppleId for ${bundleId}, needed for Production`);
      }
      verifier = new ChainCachingVerifier(
        [...this.options.trustedRoots],
        this.options.onlineChecks,
        environment === 'Production' ? Environment.PRODUCTION : Environment.SANDBOX,
        bundleId,
        app.appStore.appAppleId,
      );
      this.verifiers.set(key, verifier);
    }
    return verifier;
  }
}

async function verifyNested(
  verifier: SignedDataVerifier,
  signedTransaction: string | undefined,
  signedRenewalInfo: string | undefined,
): Promise<{ transaction?: AppleTransaction; renewalInfo?: AppleRenewalInfo }> {
  const transaction = signedTransaction
    ? parsed(appleTransactionSchema, 'transaction', await verifier.verifyAndDecodeTransaction(signedTransaction))
    : undefined;
  const renewalInfo = signedRenewalInfo
    ? parsed(appleRenewalInfoSchema, 'renewal info', await verifier.verifyAndDecodeRenewalInfo(signedRenewalInfo))
    : undefined;
  return tied(transaction, renewalInfo);
}

/**
 * A verified notification's transaction and renewal info. Their JWS are part of the payload
 * the notification's signature covers, so once that signature and its chain are verified,
 * these bytes are exactly what Apple sent: verifying their own signatures again proves
 * nothing more, and cost two thirds of verifying a notification (0.12 ms for the
 * notification alone, 0.33 to 0.50 with its two nested JWS, on bench:webhook's
 * notifications). What Apple's library checks besides signatures is checked here: the
 * transaction must be for the notification's app and environment.
 */
function coveredNested(
  notification: { readonly bundleId: string; readonly environment: 'Production' | 'Sandbox' },
  signedTransaction: string | undefined,
  signedRenewalInfo: string | undefined,
): { transaction?: AppleTransaction; renewalInfo?: AppleRenewalInfo } {
  const transaction = signedTransaction
    ? parsed(appleTransactionSchema, 'transaction', nestedPayload(signedTransaction, 'transaction'))
    : undefined;
  if (transaction && transaction.bundleId !== notification.bundleId) {
    throw new AppleRejection('wrong_app', `The notification's transaction is for another app: ${transaction.bundleId}`);
  }
  if (transaction && transaction.environment !== notification.environment) {
    throw new AppleRejection(
      'wrong_environment',
      `The notification's transaction is from ${transaction.environment}, the notification from ${notification.environment}`,
    );
  }
  const renewalInfo = signedRenewalInfo
    ? parsed(appleRenewalInfoSchema, 'renewal info', nestedPayload(signedRenewalInfo, 'renewal info'))
    : undefined;
  return tied(transaction, renewalInfo);
}

function nestedPayload(jws: string, document: string): unknown {
  const payload = decodeJwsPayload(jws);
  if (payload === undefined)
    throw new AppleRejection('malformed_payload', `The notification's ${document} is not a JWS`);
  return payload;
}

/** Apple's library does not tie renewal info to an app: it is tied to the transaction it came with. */
function tied(
  transaction: AppleTransaction | undefined,
  renewalInfo: AppleRenewalInfo | undefined,
): { transaction?: AppleTransaction; renewalInfo?: AppleRenewalInfo } {
  if (renewalInfo && renewalInfo.originalTransactionId !== transaction?.originalTransactionId) {
    throw new AppleRejection('wrong_app', 'The renewal info belongs to another subscription than the transaction');
  }
  return { ...(transaction && { transaction }), ...(renewalInfo && { renewalInfo }) };
}

/**
 * The app and environment a payload claims, before anything is verified: a
 * notification's `data`, or a transaction's own fields.
 */
function claimedOrigin(
  payload: unknown,
  kind: 'notification' | 'transaction',
): { bundleId: string; environment: 'Production' | 'Sandbox' } {
  type Origin = { bundleId?: unknown; environment?: unknown };
  const data = kind === 'notification' ? (payload as { data?: Origin } | undefined)?.data : (payload as Origin);
  if (!data || typeof data.bundleId !== 'string') {
    throw new AppleRejection('malformed_payload', `The JWS is not an App Store ${kind} with a bundleId`);
  }
  if (data.environment !== 'Production' && data.environment !== 'Sandbox') {
    throw new AppleRejection(
      'unsupported_environment',
      `Environment ${JSON.stringify(data.environment)} is not accepted (Production and Sandbox are)`,
    );
  }
  return { bundleId: data.bundleId, environment: data.environment };
}

async function translateFailures<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof VerificationException) {
      throw new AppleRejection(
        REJECTION_BY_STATUS[error.status],
        `Apple verification failed: ${VerificationStatus[error.status]}`,
      );
    }
    throw error;
  }
}

/** A verified document parsed into the fields Subledger reads: signed by Apple is not yet well formed. */
function parsed<S extends z.ZodType>(schema: S, document: string, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`);
  throw new AppleRejection(
    'malformed_payload',
    `The signed ${document} lacks what Subledger reads: ${problems.join('; ')}`,
  );
}
