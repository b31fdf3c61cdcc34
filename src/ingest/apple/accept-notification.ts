import type { IntakeQueue } from '../../intake/intake-queue.ts';
import { APPLE_NOTIFICATION_KIND } from './process-notification.ts';
import type { AppleVerifier } from './apple-verifier.ts';

export interface AcceptedNotification {
  /** `duplicate`: this notification was accepted before; nothing changes. */
  readonly outcome: 'accepted' | 'duplicate';
  readonly notificationUUID: string;
}

/**
 * The webhook's use case: verify, keep the signed document verbatim, queue it.
 * Returns only once both are durable, so a 2xx means nothing can be lost; a
 * failure leaves nothing half done that a retry by Apple would not complete.
 */
export async function acceptAppleNotification(
  deps: { verifier: AppleVerifier; queue: IntakeQueue },
  signedPayload: string,
): Promise<AcceptedNotification> {
  const { notification, transaction } = await deps.verifier.verify(signedPayload);
  const { enqueued } = await deps.queue.enqueue({
    deduplicationId: `apple:${notification.notificationUUID}`,
    // One subscription's notifications are processed one at a time, oldest first.
    orderingKey: transaction
      ? `app_store:${transaction.environment}:${transaction.originalTransactionId}`
      : `apple:${notification.notificationUUID}`,
    kind: APPLE_NOTIFICATION_KIND,
    document: { kind: APPLE_NOTIFICATION_KIND, contentType: 'application/jose', body: signedPayload },
  });
  return { outcome: enqueued ? 'accepted' : 'duplicate', notificationUUID: notification.notificationUUID };
}
