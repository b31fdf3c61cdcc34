import { PurchaseRuleViolation } from '../../domain/purchase/decider.ts';
import type { PurchaseEvent } from '../../domain/purchase/events.ts';
import type { Environment, PurchaseKey } from '../../domain/purchase/purchase-key.ts';
import { toTimestamp } from '../../domain/time.ts';
import type { EventStore, SourceReference } from '../../eventstore/event-store.ts';
import type { ArchivedDocument, SourceDocumentArchive } from '../../eventstore/source-documents.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { PermanentFailure } from '../intake-worker.ts';
import { recordPurchase } from '../record-purchase.ts';
import { decodeNotification, GoogleRejection } from './accept-notification.ts';
import { PlayPurchaseRefusedError } from './play-api-errors.ts';
import type { PlayDeveloperApi } from './play-developer-api.ts';
import { eventTimeOf, PlayDocumentMismatch } from './play-facts.ts';
import {
  MalformedPlayDocument,
  parseProductPurchase,
  parseSubscriptionPurchaseV2,
  payloadOf,
  type DeveloperNotification,
} from './play-payloads.ts';
import { translatePlayProduct } from './translate-product.ts';
import { translatePlaySubscription } from './translate-subscription.ts';
import { translatePlayVoided } from './translate-voided.ts';

export interface GoogleProcessingDeps {
  readonly eventStore: EventStore;
  readonly documents: SourceDocumentArchive;
  /** Absent without a service account key: notifications then wait in the queue (retried, then dead letters). */
  readonly api?: PlayDeveloperApi;
  /** The environment of the purchase stream holding a token, if Subledger has one. */
  readonly environmentOf: (purchaseToken: string) => Promise<Environment | undefined>;
  readonly logger: Logger;
  readonly metrics?: Metrics;
}

/**
 * Turns one accepted Play notification into recorded facts. The notification only
 * says that something changed: Google's answer (subscriptionsv2.get, products.get) is
 * the authority, archived, and the source each recorded fact points to (the push that
 * prompted it is found through the causation id, its message id). Purchases not yet
 * acknowledged are acknowledged afterwards (Google refunds them after three days);
 * a failure there makes the whole message retry, which records nothing twice.
 */
export async function processGoogleNotification(document: ArchivedDocument, deps: GoogleProcessingDeps): Promise<void> {
  const message = JSON.parse(document.body) as { messageId: string; data: string };
  let notification: DeveloperNotification;
  try {
    notification = decodeNotification(message.data);
  } catch (error) {
    if (error instanceof GoogleRejection) throw new PermanentFailure(error.message);
    throw error;
  }
  const context = { messageId: message.messageId, packageName: notification.packageName };
  const source = { documentId: document.documentId, kind: document.kind };
  const payload = payloadOf(notification);
  try {
    switch (payload.kind) {
      case 'test':
        deps.logger.info(context, 'Google Play test notification received');
        return;
      case 'subscription':
        return await subscriptionChanged(deps, notification, payload.subscription.purchaseToken, message.messageId);
      case 'one_time_product':
        return await productChanged(deps, notification, payload.oneTimeProduct.purchaseToken, message.messageId);
      case 'voided_purchase': {
        const token = payload.voidedPurchase.purchaseToken;
        const environment = (await deps.environmentOf(token)) ?? 'production';
        const voided = translatePlayVoided({ environment, notification });
        if (!voided.known) reportUnknown(deps, `voidedPurchaseNotification/${payload.voidedPurchase.productType}`);
        return await record(deps, voided.key, voided.facts, message.messageId, source);
      }
      default:
        reportUnknown(deps, payload.kind);
        deps.logger.warn(context, 'Google Play notification of a kind Subledger does not know; kept in the archive');
    }
  } catch (error) {
    if (
      error instanceof PlayPurchaseRefusedError ||
      error instanceof MalformedPlayDocument ||
      error instanceof PlayDocumentMismatch ||
      error instanceof PurchaseRuleViolation
    ) {
      throw new PermanentFailure(error.message);
    }
    throw error;
  }

  async function subscriptionChanged(
    deps: GoogleProcessingDeps,
    notification: DeveloperNotification,
    purchaseToken: string,
    causationId: string,
  ): Promise<void> {
    const api = requireApi(deps);
    const answer = await api.getSubscription(notification.packageName, purchaseToken);
    const evidence = await keepAnswer(deps, 'google.subscriptionsv2.get', answer);
    const purchase = parseSubscriptionPurchaseV2(answer);
    const translation = translatePlaySubscription({
      notification,
      purchaseToken,
      purchase,
      packageName: notification.packageName,
      observedAt: toTimestamp(Date.now()),
    });
    if (!translation.known) {
      reportUnknown(deps, `subscriptionNotification/${notification.subscriptionNotification?.notificationType}`);
    }
    const link = linkFact(translation.obfuscatedExternalAccountId, translation.facts);
    await record(deps, translation.key, [...translation.facts, ...link], causationId, evidence);
    if (translation.supersedes && translation.linkedPurchaseToken) {
      await record(deps, translation.supersedes.key, translation.supersedes.facts, causationId, evidence);
      // Google ends the replaced purchase without always telling us about it: ask, as of this event.
      const oldToken = translation.linkedPurchaseToken;
      const oldAnswer = await api.getSubscription(notification.packageName, oldToken);
      const replaced = translatePlaySubscription({
        purchaseToken: oldToken,
        purchase: parseSubscriptionPurchaseV2(oldAnswer),
        packageName: notification.packageName,
        observedAt: eventTimeOf(notification),
      });
      const oldEvidence = await keepAnswer(deps, 'google.subscriptionsv2.get', oldAnswer);
      await record(deps, replaced.key, replaced.facts, causationId, oldEvidence);
    }
    if (translation.needsAcknowledgement) {
      const subscriptionId = purchase.lineItems?.[0]?.productId;
      if (subscriptionId) await api.acknowledgeSubscription(notification.packageName, subscriptionId, purchaseToken);
    }
  }

  async function productChanged(
    deps: GoogleProcessingDeps,
    notification: DeveloperNotification,
    purchaseToken: string,
    causationId: string,
  ): Promise<void> {
    const api = requireApi(deps);
    const productId = notification.oneTimeProductNotification!.sku;
    const answer = await api.getProduct(notification.packageName, productId, purchaseToken);
    const evidence = await keepAnswer(deps, 'google.products.get', answer);
    const translation = translatePlayProduct({
      notification,
      purchaseToken,
      productId,
      purchase: parseProductPurchase(answer),
      packageName: notification.packageName,
      observedAt: toTimestamp(Date.now()),
    });
    if (!translation.known) reportUnknown(deps, `oneTimeProductNotification`);
    const link = linkFact(translation.obfuscatedExternalAccountId, translation.facts);
    await record(deps, translation.key, [...translation.facts, ...link], causationId, evidence);
    if (translation.needsAcknowledgement)
      await api.acknowledgeProduct(notification.packageName, productId, purchaseToken);
  }
}

function requireApi(deps: GoogleProcessingDeps): PlayDeveloperApi {
  // Retried, not dead-lettered at once: the key may be added and the service restarted.
  if (!deps.api) throw new Error('No Play Developer API access (GOOGLE_SERVICE_ACCOUNT_KEY_FILE): cannot ask Google');
  return deps.api;
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

async function keepAnswer(deps: GoogleProcessingDeps, kind: string, answer: unknown): Promise<SourceReference> {
  return deps.documents.keep({ kind, contentType: 'application/json', body: JSON.stringify(answer) });
}

async function record(
  deps: GoogleProcessingDeps,
  key: PurchaseKey,
  facts: PurchaseEvent[],
  causationId: string,
  source: SourceReference,
): Promise<void> {
  if (facts.length === 0) return;
  await recordPurchase(
    deps.eventStore,
    key,
    { type: 'RecordStoreFacts', data: { facts } },
    { causationId, metadata: { correlationId: causationId, source } },
  );
}

function reportUnknown(deps: GoogleProcessingDeps, type: string): void {
  deps.metrics?.unknownGoogleNotifications.inc({ type });
  deps.logger.warn({ type }, 'Google Play notification of a type Subledger does not know; recorded as a notice');
}
