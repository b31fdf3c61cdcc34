import { PurchaseRuleViolation } from '../../domain/purchase/decider.ts';
import type { Environment } from '../../domain/purchase/purchase-key.ts';
import type { EventStore } from '../../eventstore/event-store.ts';
import type { ArchivedDocument, SourceDocumentArchive } from '../../eventstore/source-documents.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { PermanentFailure } from '../intake-worker.ts';
import { decodeNotification, GoogleRejection } from './accept-notification.ts';
import { PlayPurchaseRefusedError } from './play-api-errors.ts';
import type { PlayDeveloperApi } from './play-developer-api.ts';
import { PlayDocumentMismatch } from './play-facts.ts';
import { MalformedPlayDocument, payloadOf, type DeveloperNotification } from './play-payloads.ts';
import { translatePlayVoided } from './translate-voided.ts';
import {
  record,
  recordPlayProduct,
  recordPlaySubscription,
  reportUnknown,
  type PlayRecordingDeps,
} from './record-play-purchase.ts';

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
  const { packageName } = notification;
  const causationId = message.messageId;
  try {
    switch (payload.kind) {
      case 'test':
        deps.logger.info(context, 'Google Play test notification received');
        return;
      case 'subscription': {
        const { purchaseToken } = payload.subscription;
        const question = { packageName, purchaseToken, notification, causationId, trigger: source };
        await recordPlaySubscription(recording(deps), question);
        return;
      }
      case 'one_time_product': {
        const { purchaseToken, sku: productId } = payload.oneTimeProduct;
        const question = { packageName, purchaseToken, productId, notification, causationId, trigger: source };
        await recordPlayProduct(recording(deps), question);
        return;
      }
      case 'voided_purchase': {
        const token = payload.voidedPurchase.purchaseToken;
        const environment = (await deps.environmentOf(token)) ?? 'production';
        const voided = translatePlayVoided({ environment, notification });
        if (!voided.known) reportUnknown(deps, `voidedPurchaseNotification/${payload.voidedPurchase.productType}`);
        return await record(deps, voided.key, voided.facts, causationId, source);
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
}

function recording(deps: GoogleProcessingDeps): PlayRecordingDeps {
  // Retried, not dead-lettered at once: the key may be added and the service restarted.
  if (!deps.api) throw new Error('No Play Developer API access (GOOGLE_SERVICE_ACCOUNT_KEY_FILE): cannot ask Google');
  return { ...deps, api: deps.api };
}
