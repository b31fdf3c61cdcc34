import type { PurchaseEvent } from '../../domain/purchase/events.ts';
import type { PurchaseKey } from '../../domain/purchase/purchase-key.ts';
import { toTimestamp } from '../../domain/time.ts';
import type { EventStore, SourceReference } from '../../eventstore/event-store.ts';
import type { SourceDocumentArchive } from '../../eventstore/source-documents.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { recordPurchase } from '../record-purchase.ts';
import type { PlayDeveloperApi } from './play-developer-api.ts';
import { eventTimeOf } from './play-facts.ts';
import { parseProductPurchase, parseSubscriptionPurchaseV2, type DeveloperNotification } from './play-payloads.ts';
import { translatePlayProduct } from './translate-product.ts';
import { translatePlaySubscription } from './translate-subscription.ts';

export interface PlayRecordingDeps {
  readonly eventStore: EventStore;
  readonly documents: SourceDocumentArchive;
  readonly api: PlayDeveloperApi;
  readonly logger: Logger;
  readonly metrics?: Metrics;
}

/** Which purchase Google is asked about, and why: a notification, or an app's submission. */
export interface PlayPurchaseQuestion {
  readonly packageName: string;
  readonly purchaseToken: string;
  readonly notification?: DeveloperNotification;
  /** The push's message id, or the submission's id: what the recorded events were caused by. */
  readonly causationId: string;
  /** The push that prompted the question, kept on the facts beside the answer they come from. */
  readonly trigger?: SourceReference;
}

/**
 * Asks Google for a subscription's state (the authority), keeps the answer as the
 * evidence, records what it means, links it to the app's account id when the app set
 * one, supersedes the purchase it replaced, and acknowledges it if nobody has (Google
 * refunds unacknowledged purchases after three days). Every step can run again: the
 * facts are recorded once, and acknowledging twice is fine.
 */
export async function recordPlaySubscription(deps: PlayRecordingDeps, question: PlayPurchaseQuestion) {
  const { packageName, purchaseToken, notification, causationId } = question;
  const answer = await deps.api.getSubscription(packageName, purchaseToken);
  const evidence = await keepAnswer(deps, 'google.subscriptionsv2.get', answer);
  const purchase = parseSubscriptionPurchaseV2(answer);
  const translation = translatePlaySubscription({
    ...(notification && { notification }),
    purchaseToken,
    purchase,
    packageName,
    observedAt: toTimestamp(Date.now()),
  });
  if (!translation.known) {
    reportUnknown(deps, `subscriptionNotification/${notification?.subscriptionNotification?.notificationType}`);
  }
  const link = linkFact(translation.obfuscatedExternalAccountId, translation.facts);
  await record(deps, translation.key, [...translation.facts, ...link], causationId, evidence, question.trigger);
  if (translation.supersedes && translation.linkedPurchaseToken) {
    await record(
      deps,
      translation.supersedes.key,
      translation.supersedes.facts,
      causationId,
      evidence,
      question.trigger,
    );
    // Google ends the replaced purchase without always telling us about it: ask, as of this event.
    const oldToken = translation.linkedPurchaseToken;
    const oldAnswer = await deps.api.getSubscription(packageName, oldToken);
    const replaced = translatePlaySubscription({
      purchaseToken: oldToken,
      purchase: parseSubscriptionPurchaseV2(oldAnswer),
      packageName,
      observedAt: notification ? eventTimeOf(notification) : toTimestamp(Date.now()),
    });
    await record(
      deps,
      replaced.key,
      replaced.facts,
      causationId,
      await keepAnswer(deps, 'google.subscriptionsv2.get', oldAnswer),
      question.trigger,
    );
  }
  if (translation.needsAcknowledgement) {
    const subscriptionId = purchase.lineItems?.[0]?.productId;
    if (subscriptionId) await deps.api.acknowledgeSubscription(packageName, subscriptionId, purchaseToken);
  }
  return { key: translation.key };
}

/** The same for a one-time product (products.get), which needs its product id. */
export async function recordPlayProduct(
  deps: PlayRecordingDeps,
  question: PlayPurchaseQuestion & { readonly productId: string },
) {
  const { packageName, purchaseToken, notification, causationId, productId } = question;
  const answer = await deps.api.getProduct(packageName, productId, purchaseToken);
  const evidence = await keepAnswer(deps, 'google.products.get', answer);
  const translation = translatePlayProduct({
    ...(notification && { notification }),
    purchaseToken,
    productId,
    purchase: parseProductPurchase(answer),
    packageName,
    observedAt: toTimestamp(Date.now()),
  });
  if (!translation.known) reportUnknown(deps, 'oneTimeProductNotification');
  const link = linkFact(translation.obfuscatedExternalAccountId, translation.facts);
  await record(deps, translation.key, [...translation.facts, ...link], causationId, evidence, question.trigger);
  if (translation.needsAcknowledgement) await deps.api.acknowledgeProduct(packageName, productId, purchaseToken);
  return { key: translation.key };
}

/** The app's account id Google reports links the purchase to that app user, as of the first fact. */
function linkFact(appUserId: string | undefined, facts: readonly PurchaseEvent[]): PurchaseEvent[] {
  const first = facts[0];
  if (!appUserId || !first) return [];
  return [
    {
      type: 'PurchaseLinkedToAppUser',
      data: { appUserId, via: 'app_account_token', observedAt: first.data.observedAt },
    },
  ];
}

function keepAnswer(deps: PlayRecordingDeps, kind: string, answer: unknown): Promise<SourceReference> {
  return deps.documents.keep({ kind, contentType: 'application/json', body: JSON.stringify(answer) });
}

/** Records store facts on one purchase, pointing at the document they come from. */
export async function record(
  deps: Pick<PlayRecordingDeps, 'eventStore'>,
  key: PurchaseKey,
  facts: PurchaseEvent[],
  causationId: string,
  source: SourceReference,
  trigger?: SourceReference,
): Promise<void> {
  if (facts.length === 0) return;
  await recordPurchase(
    deps.eventStore,
    key,
    { type: 'RecordStoreFacts', data: { facts } },
    { causationId, metadata: { correlationId: causationId, source, ...(trigger && { trigger }) } },
  );
}

export function reportUnknown(deps: Pick<PlayRecordingDeps, 'logger' | 'metrics'>, type: string): void {
  deps.metrics?.unknownGoogleNotifications.inc({ type });
  deps.logger.warn({ type }, 'Google Play notification of a type Subledger does not know; recorded as a notice');
}
