import { submitApplePurchase, type AppleSubmission, type SubmitDeps } from '../ingest/apple/submit-purchase.ts';
import {
  submitGooglePurchase,
  type GoogleSubmitDeps,
  type GoogleSubmission,
} from '../ingest/google/submit-purchase.ts';
import type { SubmissionResult } from '../ingest/submissions.ts';
import type { ReadModelView } from './read-model-view.ts';

/**
 * An app submits a purchase it just made, or restored: verified with its store, recorded,
 * linked to the app user, and shown by the read model before this returns (read your
 * writes), for the app user and for anyone the purchase moved away from.
 */
export async function submitAppStorePurchase(
  deps: { readonly apple: SubmitDeps; readonly view: ReadModelView },
  appUserId: string,
  submission: AppleSubmission,
): Promise<void> {
  await shown(deps.view, appUserId, await submitApplePurchase(deps.apple, appUserId, submission));
}

export async function submitPlayPurchase(
  deps: { readonly google: GoogleSubmitDeps; readonly view: ReadModelView },
  appUserId: string,
  submission: GoogleSubmission,
): Promise<void> {
  await shown(deps.view, appUserId, await submitGooglePurchase(deps.google, appUserId, submission));
}

function shown(view: ReadModelView, appUserId: string, submitted: SubmissionResult): Promise<void> {
  return view.showWrites(submitted.position, [appUserId, ...submitted.previousOwners]);
}
