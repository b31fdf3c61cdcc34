import type { Catalog } from '../../domain/catalog.ts';
import type { IntakeQueue } from '../../intake/intake-queue.ts';
import { developerNotificationSchema, type DeveloperNotification } from './play-payloads.ts';
import type { VerifiedPusher } from './push-auth.ts';
import { Refusal } from '../../domain/refusal.ts';

export const GOOGLE_NOTIFICATION_KIND = 'google.rtdn';

export type GoogleRejectionCode = 'malformed_notification' | 'unknown_package';

export class GoogleRejection extends Refusal<GoogleRejectionCode> {
  constructor(code: GoogleRejectionCode, message: string) {
    super('invalid', code, message);
  }
}

/** A Pub/Sub push, its two spellings of ids and times made one. */
export interface PushedMessage {
  readonly messageId: string;
  readonly publishTime?: string;
  /** Base64 of the DeveloperNotification JSON, as Google sent it. */
  readonly data: string;
  readonly attributes?: Record<string, string>;
  readonly subscription?: string;
}

export interface AcceptedPush {
  /** `duplicate`: this message was accepted before (Pub/Sub redelivers); nothing changes. */
  readonly outcome: 'accepted' | 'duplicate';
  readonly messageId: string;
}

/**
 * The Google webhook's use case, once `PushAuthenticator.verify` has said who pushed
 * (from the headers, before the body is read): decode the developer notification,
 * keep the message verbatim (Google's base64 `data` as received, with its id and
 * publish time) and queue it. Returns only once both are durable: a 2xx then means
 * nothing can be lost, and anything else makes Pub/Sub deliver it again.
 */
export async function acceptGoogleNotification(
  deps: { catalog: Catalog; queue: IntakeQueue },
  _pusher: VerifiedPusher,
  message: PushedMessage,
): Promise<AcceptedPush> {
  const notification = decodeNotification(message.data);
  if (!deps.catalog.apps.some((app) => app.playStore?.packageName === notification.packageName)) {
    throw new GoogleRejection('unknown_package', `No app in the catalog has the package ${notification.packageName}`);
  }
  const { messageId, publishTime, data, attributes, subscription } = message;
  const token = purchaseTokenOf(notification);
  const { enqueued } = await deps.queue.enqueue({
    deduplicationId: `google:${messageId}`,
    // One purchase's notifications are processed one at a time, oldest first.
    orderingKey: token ? `play_store:${token}` : `google:${messageId}`,
    kind: GOOGLE_NOTIFICATION_KIND,
    document: {
      kind: GOOGLE_NOTIFICATION_KIND,
      contentType: 'application/json',
      body: JSON.stringify({ messageId, publishTime, subscription, attributes, data }),
    },
  });
  return { outcome: enqueued ? 'accepted' : 'duplicate', messageId };
}

/** The DeveloperNotification inside a push, or `malformed_notification` saying what is wrong. */
export function decodeNotification(data: string): DeveloperNotification {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(data, 'base64').toString('utf8'));
  } catch {
    throw new GoogleRejection('malformed_notification', 'message.data is not base64 of a JSON document');
  }
  const parsed = developerNotificationSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new GoogleRejection(
      'malformed_notification',
      `Not a developer notification: ${issue.path.join('.') || '(document)'}: ${issue.message}`,
    );
  }
  return parsed.data;
}

function purchaseTokenOf(notification: DeveloperNotification): string | undefined {
  return (
    notification.subscriptionNotification?.purchaseToken ??
    notification.oneTimeProductNotification?.purchaseToken ??
    notification.voidedPurchaseNotification?.purchaseToken
  );
}
