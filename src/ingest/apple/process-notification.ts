import { PurchaseRuleViolation } from '../../domain/purchase/decider.ts';
import type { EventStore } from '../../eventstore/event-store.ts';
import type { ArchivedDocument } from '../../eventstore/source-documents.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { PermanentFailure } from '../intake-worker.ts';
import { recordPurchase } from '../record-purchase.ts';
import type { AppleNotification, AppleRenewalInfo, AppleTransaction } from './apple-payloads.ts';
import { decodeJwsPayload } from './jws.ts';
import { translateAppleNotification, UnsupportedAppleEnvironment } from './translate-notification.ts';

export const APPLE_NOTIFICATION_KIND = 'apple.notification.v2';

/**
 * Turns one accepted App Store notification into recorded facts. The document was
 * verified when it was accepted, so here it is only decoded: a retry days later
 * must not fail because a certificate expired meanwhile.
 */
export async function processAppleNotification(
  document: ArchivedDocument,
  deps: { eventStore: EventStore; logger: Logger; metrics?: Metrics },
): Promise<void> {
  const notification = decodeJwsPayload(document.body) as
    (AppleNotification & { data?: { signedTransactionInfo?: string; signedRenewalInfo?: string } }) | undefined;
  if (!notification?.notificationUUID) throw new PermanentFailure('The document is not an App Store notification');
  const nested = <T>(jws: string | undefined) => (jws ? (decodeJwsPayload(jws) as T) : undefined);
  const transaction = nested<AppleTransaction>(notification.data?.signedTransactionInfo);
  const renewalInfo = nested<AppleRenewalInfo>(notification.data?.signedRenewalInfo);

  let translation;
  try {
    translation = translateAppleNotification({
      notification,
      ...(transaction && { transaction }),
      ...(renewalInfo && { renewalInfo }),
    });
  } catch (error) {
    if (error instanceof UnsupportedAppleEnvironment) throw new PermanentFailure(error.message);
    throw error;
  }
  const context = {
    notificationUUID: notification.notificationUUID,
    type: notification.notificationType,
    subtype: notification.subtype,
  };
  if (!translation.known) {
    deps.metrics?.unknownAppleNotifications.inc({
      type: `${context.type}${context.subtype ? `/${context.subtype}` : ''}`,
    });
    deps.logger.warn(context, 'App Store notification of a type Subledger does not know; recorded as a notice');
  }
  if (translation.kind === 'no_purchase') {
    deps.logger.info(context, 'App Store notification about no single purchase; kept in the archive');
    return;
  }
  try {
    await recordPurchase(
      deps.eventStore,
      translation.key,
      { type: 'RecordStoreFacts', data: { facts: translation.facts } },
      {
        causationId: notification.notificationUUID,
        metadata: {
          correlationId: notification.notificationUUID,
          source: { documentId: document.documentId, kind: document.kind },
        },
      },
    );
  } catch (error) {
    if (error instanceof PurchaseRuleViolation) throw new PermanentFailure(error.message);
    throw error;
  }
}
