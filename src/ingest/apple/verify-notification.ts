import { readFile } from 'node:fs/promises';
import {
  Environment,
  SignedDataVerifier,
  VerificationException,
  VerificationStatus,
} from '@apple/app-store-server-library';
import type { App } from '../../domain/catalog.ts';
import type {
  AppleNotification,
  AppleRenewalInfo,
  AppleTransaction,
  VerifiedAppleNotification,
} from './apple-payloads.ts';
import { decodeJwsPayload } from './jws.ts';

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

export class AppleRejection extends Error {
  constructor(
    readonly code: AppleRejectionCode,
    message: string,
  ) {
    super(message);
    this.name = 'AppleRejection';
  }
}

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
 * Verifies App Store Server Notifications V2 with Apple's own library: the x5c
 * chain up to a trusted root, Apple's certificate OIDs, the signature, the bundle
 * id and App Apple ID of an app in the catalog, the environment. The nested signed
 * transaction and renewal info are verified the same way.
 *
 * One `SignedDataVerifier` per app and environment, chosen from the payload's
 * unverified `data` (the verifier then checks that choice). Only Production and
 * Sandbox: Apple's library skips every signature check for Xcode and LocalTesting.
 */
export class AppleNotificationVerifier {
  private readonly verifiers = new Map<string, SignedDataVerifier>();

  constructor(
    private readonly apps: readonly App[],
    private readonly options: { readonly trustedRoots: readonly Buffer[]; readonly onlineChecks: boolean },
  ) {}

  async verify(signedPayload: string): Promise<VerifiedAppleNotification> {
    const claimed = claimedOrigin(signedPayload);
    const verifier = this.verifierFor(claimed.bundleId, claimed.environment);
    return translateFailures(async () => {
      const notification = await verifier.verifyAndDecodeNotification(signedPayload);
      const data = notification.data;
      const transaction = data?.signedTransactionInfo
        ? ((await verifier.verifyAndDecodeTransaction(data.signedTransactionInfo)) as unknown as AppleTransaction)
        : undefined;
      const renewalInfo = data?.signedRenewalInfo
        ? ((await verifier.verifyAndDecodeRenewalInfo(data.signedRenewalInfo)) as unknown as AppleRenewalInfo)
        : undefined;
      // Apple's library does not tie renewal info to an app: tie it to the verified transaction.
      if (renewalInfo && renewalInfo.originalTransactionId !== transaction?.originalTransactionId) {
        throw new AppleRejection('wrong_app', 'The renewal info belongs to another subscription than the transaction');
      }
      return {
        notification: notification as unknown as AppleNotification,
        ...(transaction && { transaction }),
        ...(renewalInfo && { renewalInfo }),
      };
    });
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
      verifier = new SignedDataVerifier(
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

/** The app and environment a payload claims, before anything is verified. */
function claimedOrigin(signedPayload: string): { bundleId: string; environment: 'Production' | 'Sandbox' } {
  const payload = decodeJwsPayload(signedPayload);
  const data = (payload as { data?: { bundleId?: unknown; environment?: unknown } } | undefined)?.data;
  if (!data || typeof data.bundleId !== 'string') {
    throw new AppleRejection('malformed_payload', 'signedPayload is not a notification with data.bundleId');
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
