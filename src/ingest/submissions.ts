import type { RestorePolicy } from '../domain/purchase/decider.ts';
import type { PurchaseEvent } from '../domain/purchase/events.ts';
import type { PurchaseKey } from '../domain/purchase/purchase-key.ts';
import type { EventStore } from '../eventstore/event-store.ts';
import type { GlobalPosition } from '../eventstore/global-position.ts';
import { newestPosition, recordPurchase } from './record-purchase.ts';
import { refusalFamily, type KindOfCode } from '../domain/refusal.ts';

/**
 * What every store's app submissions share: linking the submitted purchases to the app
 * user (a restore on another account follows the app's restore behaviour), and where
 * the read model must have got to before the answer can show them.
 */
export type SubmissionRefusalCode =
  | 'purchase_belongs_to_another_user'
  | 'sandbox_not_accepted'
  | 'unknown_package'
  | 'unknown_product'
  | 'purchase_not_found';

const KIND_OF: KindOfCode<SubmissionRefusalCode> = {
  purchase_belongs_to_another_user: 'conflict',
  sandbox_not_accepted: 'invalid',
  unknown_package: 'invalid',
  unknown_product: 'invalid',
  purchase_not_found: 'invalid',
};

export class SubmissionRefused extends refusalFamily(KIND_OF) {}

export interface SubmissionResult {
  readonly purchases: readonly PurchaseKey[];
  /** App users a restore took purchases from: their entitlements changed too. */
  readonly previousOwners: readonly string[];
  /** The newest event of those purchases: once the read model is there, it shows them. */
  readonly position: GlobalPosition | undefined;
}

export interface Linked {
  /** Purchases another user owns, in apps that keep purchases with their owner: the claim was recorded, refused. */
  readonly refused: readonly string[];
  readonly previousOwners: readonly string[];
}

/** Links each purchase to the app user who submitted it, following its app's restore behaviour. */
export async function linkSubmittedPurchases(
  eventStore: EventStore,
  appUserId: string,
  purchases: readonly { readonly key: PurchaseKey; readonly restoreBehavior: RestorePolicy }[],
  at: string,
): Promise<Linked> {
  const refused: string[] = [];
  const previousOwners = new Set<string>();
  for (const { key, restoreBehavior } of purchases) {
    const result = await recordPurchase(
      eventStore,
      key,
      { type: 'LinkToAppUser', data: { appUserId, via: 'app_submission', at, whenOwnedByAnother: restoreBehavior } },
      { causationId: `app-submission:${appUserId}:${at}`, metadata: { actor: { kind: 'app_user', id: appUserId } } },
    );
    for (const event of result.events as PurchaseEvent[]) {
      if (event.type === 'PurchaseClaimRefused') refused.push(key.purchaseId);
      if (event.type === 'PurchaseLinkedToAppUser' && event.data.previousAppUserId) {
        previousOwners.add(event.data.previousAppUserId);
      }
    }
  }
  return { refused, previousOwners: [...previousOwners] };
}

/** The submission's answer once everything is recorded, or its refusal when a claim was refused. */
export async function submissionResult(
  eventStore: EventStore,
  keys: readonly PurchaseKey[],
  linked: Linked,
): Promise<SubmissionResult> {
  if (linked.refused.length > 0) {
    throw new SubmissionRefused(
      'purchase_belongs_to_another_user',
      `Purchase ${linked.refused.join(', ')} belongs to another app user, and this app keeps purchases with their owner`,
    );
  }
  return { purchases: keys, previousOwners: linked.previousOwners, position: await newestPosition(eventStore, keys) };
}
