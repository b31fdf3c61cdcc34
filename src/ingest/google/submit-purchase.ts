import type { Clock } from '../../domain/clock.ts';
import { productForStoreProduct, type Catalog } from '../../domain/catalog.ts';
import { linkSubmittedPurchases, SubmissionRefused, submissionResult, type SubmissionResult } from '../submissions.ts';
import { PlayDeveloperApiError, PlayPurchaseRefusedError } from './play-api-errors.ts';
import { recordPlayProduct, recordPlaySubscription, type PlayRecordingDeps } from './record-play-purchase.ts';
import { Refusal } from '../../domain/refusal.ts';

/** What an Android app sends after a purchase or a restore (Play Billing's Purchase). */
export interface GoogleSubmission {
  readonly packageName: string;
  readonly productId: string;
  readonly purchaseToken: string;
}

export interface GoogleSubmitDeps extends PlayRecordingDeps {
  readonly catalog: Catalog;
  readonly clock: Clock;
}

/**
 * An app tells us about a Play purchase: ask Google about the token (the app's word
 * proves nothing), record and acknowledge it as a notification would, then link it to
 * the app user, following the app's restore behaviour when it is someone else's.
 */
export async function submitGooglePurchase(
  deps: GoogleSubmitDeps,
  appUserId: string,
  submission: GoogleSubmission,
): Promise<SubmissionResult> {
  const { packageName, productId, purchaseToken } = submission;
  const app = deps.catalog.apps.find((a) => a.playStore?.packageName === packageName);
  if (!app) throw new SubmissionRefused('unknown_package', `No app in the catalog has the package ${packageName}`);
  const product = productForStoreProduct(deps.catalog, 'play_store', productId);
  if (!product || product.appId !== app.id) {
    throw new SubmissionRefused('unknown_product', `The catalog has no Play product ${productId} in ${packageName}`);
  }
  const at = deps.clock.now().toISOString();
  const question = { packageName, purchaseToken, causationId: `app-submission:${appUserId}:${at}` };
  let recorded;
  try {
    recorded =
      product.type === 'auto_renewable'
        ? await recordPlaySubscription(deps, question)
        : await recordPlayProduct(deps, { ...question, productId });
  } catch (error) {
    if (error instanceof PlayPurchaseRefusedError) {
      throw new SubmissionRefused('purchase_not_found', `Google does not know this purchase: ${error.message}`);
    }
    // Google unreachable, or our access to it broken: the app may try again; the details are for our log.
    if (error instanceof PlayDeveloperApiError) {
      throw new Refusal(
        'unavailable',
        'store_unavailable',
        'Google Play could not be asked about this purchase; try again',
        {
          cause: error,
        },
      );
    }
    throw error;
  }
  const linked = await linkSubmittedPurchases(
    deps.eventStore,
    appUserId,
    [{ key: recorded.key, restoreBehavior: app.restoreBehavior ?? 'transfer' }],
    at,
  );
  return submissionResult(deps.eventStore, [recorded.key], linked);
}
