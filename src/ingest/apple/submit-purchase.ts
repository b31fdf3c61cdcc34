import type { Catalog } from '../../domain/catalog.ts';
import type { PurchaseEvent } from '../../domain/purchase/events.ts';
import type { PurchaseKey } from '../../domain/purchase/purchase-key.ts';
import type { EventStore, SourceReference } from '../../eventstore/event-store.ts';
import { comparePositions, type GlobalPosition } from '../../eventstore/global-position.ts';
import { purchaseStreamId } from '../../domain/purchase/purchase-key.ts';
import type { SourceDocumentArchive } from '../../eventstore/source-documents.ts';
import type { Logger } from '../../observability/logger.ts';
import { recordPurchase } from '../record-purchase.ts';
import type { AppleReconciler } from './reconcile.ts';
import { translateAppleReceipt } from './translate-receipt.ts';
import { purchaseKeyOf, translateAppleTransaction } from './translate-notification.ts';
import type { AppleVerifier } from './apple-verifier.ts';
import { verifyAppleReceipt, type ReceiptVerifierOptions } from './verify-receipt.ts';

export const APPLE_SUBMITTED_TRANSACTION_KIND = 'apple.storekit2.transaction';
export const APPLE_RECEIPT_RESPONSE_KIND = 'apple.verify-receipt.response';

/** What an app sends: a StoreKit 2 signed transaction, or (older app versions) the app receipt. */
export type AppleSubmission = { readonly signedTransaction: string } | { readonly receipt: string };

export class SubmissionRefused extends Error {
  constructor(
    readonly code: 'purchase_belongs_to_another_user' | 'sandbox_not_accepted',
    message: string,
  ) {
    super(message);
    this.name = 'SubmissionRefused';
  }
}

export interface SubmitDeps {
  readonly catalog: Catalog;
  readonly verifier: AppleVerifier;
  readonly documents: SourceDocumentArchive;
  readonly eventStore: EventStore;
  readonly logger: Logger;
  /** Off: sandbox purchases are refused (App Review buys in the sandbox: see the README first). */
  readonly acceptSandbox: boolean;
  readonly receipts: Omit<ReceiptVerifierOptions, 'expectedBundleIds'>;
  /** Asks Apple for the rest of the story after a submission; absent without App Store Server API keys. */
  readonly reconciler?: AppleReconciler;
  readonly now?: () => Date;
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

  const at = (deps.now?.() ?? new Date()).toISOString();
  const refusals: string[] = [];
  const previousOwners = new Set<string>();
  for (const { key, bundleId } of recorded) {
    const app = deps.catalog.apps.find((a) => a.appStore?.bundleId === bundleId);
    const result = await recordPurchase(
      deps.eventStore,
      key,
      {
        type: 'LinkToAppUser',
        data: { appUserId, via: 'app_submission', at, whenOwnedByAnother: app?.restoreBehavior ?? 'transfer' },
      },
      { causationId: `app-submission:${appUserId}:${at}`, metadata: { actor: { kind: 'app_user', id: appUserId } } },
    );
    for (const event of result.events as PurchaseEvent[]) {
      if (event.type === 'PurchaseClaimRefused') refusals.push(key.purchaseId);
      if (event.type === 'PurchaseLinkedToAppUser' && event.data.previousAppUserId) {
        previousOwners.add(event.data.previousAppUserId);
      }
    }
  }
  await reconcile(deps, recorded);
  if (refusals.length > 0) {
    throw new SubmissionRefused(
      'purchase_belongs_to_another_user',
      `Purchase ${refusals.join(', ')} belongs to another app user, and this app keeps purchases with their owner`,
    );
  }
  const purchases = recorded.map((r) => r.key);
  return { purchases, previousOwners: [...previousOwners], position: await newestPosition(deps.eventStore, purchases) };
}

export interface SubmissionResult {
  readonly purchases: readonly PurchaseKey[];
  /** App users a restore took purchases from: their entitlements changed too. */
  readonly previousOwners: readonly string[];
  /** The newest event of those purchases: once the read model is there, it shows them. */
  readonly position: GlobalPosition | undefined;
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

/**
 * Read from the purchases' own streams, not the global head: the head readers see can
 * lag behind events already committed while another transaction is open (that is what
 * keeps readers gap-free), and waiting for it would then answer too early.
 */
async function newestPosition(store: EventStore, keys: readonly PurchaseKey[]): Promise<GlobalPosition | undefined> {
  let newest: GlobalPosition | undefined;
  for (const key of keys) {
    const last = (await store.readStream(purchaseStreamId(key))).at(-1)?.position;
    if (last && (!newest || comparePositions(last, newest) > 0)) newest = last;
  }
  return newest;
}
