import type { Clock } from '../../domain/clock.ts';
import type { Catalog } from '../../domain/catalog.ts';
import type { PurchaseEvent } from '../../domain/purchase/events.ts';
import type { PurchaseKey } from '../../domain/purchase/purchase-key.ts';
import type { EventStore, SourceReference } from '../../eventstore/event-store.ts';
import type { SourceDocumentArchive } from '../../eventstore/source-documents.ts';
import type { Logger } from '../../observability/logger.ts';
import { recordPurchase } from '../record-purchase.ts';
import { linkSubmittedPurchases, SubmissionRefused, submissionResult, type SubmissionResult } from '../submissions.ts';
import type { AppleReconciler } from './reconcile.ts';
import { translateAppleReceipt } from './translate-receipt.ts';
import { purchaseKeyOf, translateAppleTransaction } from './translate-notification.ts';
import type { AppleVerifier } from './apple-verifier.ts';
import { verifyAppleReceipt, type ReceiptVerifierOptions } from './verify-receipt.ts';

export const APPLE_SUBMITTED_TRANSACTION_KIND = 'apple.storekit2.transaction';
export const APPLE_RECEIPT_RESPONSE_KIND = 'apple.verify-receipt.response';

/** What an app sends: a StoreKit 2 signed transaction, or (older app versions) the app receipt. */
export type AppleSubmission = { readonly signedTransaction: string } | { readonly receipt: string };

export interface SubmitDeps {
  readonly catalog: Catalog;
  readonly verifier: AppleVerifier;
  readonly documents: SourceDocumentArchive;
  readonly eventStore: EventStore;
  readonly logger: Logger;
  /** Off: sandbox purchases are refused (App Review buys in the sandbox: see docs/app-store.md first). */
  readonly acceptSandbox: boolean;
  readonly receipts: Omit<ReceiptVerifierOptions, 'expectedBundleIds'>;
  /** Asks Apple for the rest of the story after a submission; absent without App Store Server API keys. */
  readonly reconciler?: AppleReconciler;
  readonly clock: Clock;
}

/**
 * An app tells us about a purchase it just made or restored: verify it with Apple,
 * record what it proves, link it to the app user (a restore on another account
 * follows the app's restore behaviour), then ask the App Store Server API for the
 * rest. Returns the purchases it touched.
 */
export async function submitApplePurchase(
  deps: SubmitDeps,
  appUserId: string,
  submission: AppleSubmission,
): Promise<SubmissionResult> {
  const recorded =
    'signedTransaction' in submission
      ? await recordSignedTransaction(deps, submission.signedTransaction)
      : await recordReceipt(deps, submission.receipt);

  const at = deps.clock.now().toISOString();
  const restoreBehaviorOf = (bundleId: string) =>
    deps.catalog.apps.find((a) => a.appStore?.bundleId === bundleId)?.restoreBehavior ?? 'transfer';
  const linked = await linkSubmittedPurchases(
    deps.eventStore,
    appUserId,
    recorded.map(({ key, bundleId }) => ({ key, restoreBehavior: restoreBehaviorOf(bundleId) })),
    at,
  );
  await reconcile(deps, recorded);
  return submissionResult(
    deps.eventStore,
    recorded.map((r) => r.key),
    linked,
  );
}

interface RecordedPurchase {
  readonly key: PurchaseKey;
  readonly bundleId: string;
}

async function recordSignedTransaction(deps: SubmitDeps, signedTransaction: string): Promise<RecordedPurchase[]> {
  const verified = await deps.verifier.verifyTransaction(signedTransaction);
  refuseSandboxUnlessAccepted(deps, purchaseKeyOf(verified.transaction));
  const source = await deps.documents.keep({
    kind: APPLE_SUBMITTED_TRANSACTION_KIND,
    contentType: 'application/jose',
    body: signedTransaction,
  });
  const { key, facts } = translateAppleTransaction(verified);
  await recordFacts(deps, key, facts, source);
  return [{ key, bundleId: verified.transaction.bundleId }];
}

async function recordReceipt(deps: SubmitDeps, receipt: string): Promise<RecordedPurchase[]> {
  const expectedBundleIds = deps.catalog.apps.flatMap((a) => (a.appStore ? [a.appStore.bundleId] : []));
  const verified = await verifyAppleReceipt(receipt, { ...deps.receipts, expectedBundleIds });
  const purchases = translateAppleReceipt(verified);
  for (const { key } of purchases) refuseSandboxUnlessAccepted(deps, key);
  // Apple's answer is the evidence: the receipt itself is opaque to us, and in it.
  const source = await deps.documents.keep({
    kind: APPLE_RECEIPT_RESPONSE_KIND,
    contentType: 'application/json',
    body: verified.rawResponse,
  });
  for (const { key, facts } of purchases) await recordFacts(deps, key, facts, source);
  return purchases.map(({ key }) => ({ key, bundleId: verified.bundleId }));
}

function recordFacts(deps: SubmitDeps, key: PurchaseKey, facts: PurchaseEvent[], source: SourceReference) {
  return recordPurchase(
    deps.eventStore,
    key,
    { type: 'RecordStoreFacts', data: { facts } },
    { causationId: source.documentId, metadata: { source } },
  );
}

function refuseSandboxUnlessAccepted(deps: SubmitDeps, key: PurchaseKey): void {
  if (key.environment === 'sandbox' && !deps.acceptSandbox) {
    throw new SubmissionRefused('sandbox_not_accepted', 'This Subledger does not accept sandbox purchases');
  }
}

/**
 * Best effort: what the app sent is recorded already. If Apple cannot be asked now,
 * the scheduled re-check and the `reconcile` command catch up later.
 */
async function reconcile(deps: SubmitDeps, recorded: readonly RecordedPurchase[]): Promise<void> {
  if (!deps.reconciler) return;
  const subscriptions = new Map(recorded.map((r) => [r.key.purchaseId, r.key]));
  for (const key of subscriptions.values()) {
    try {
      await deps.reconciler.reconcilePurchase(key);
    } catch (error) {
      deps.logger.warn(
        { err: error, purchase: key },
        'could not reconcile a submitted purchase with Apple; will retry',
      );
    }
  }
}
