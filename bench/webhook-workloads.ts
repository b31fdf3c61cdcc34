import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pushBody, startTestPushSigner } from '../src/dev/google/test-push.ts';
import { startFakePlayDeveloperApi } from '../src/dev/google/fake-play-developer-api.ts';
import { documentIdOf } from '../src/eventstore/source-documents.ts';
import type { SubscriptionPurchaseV2 } from '../src/ingest/google/play-payloads.ts';
import { NotificationSigner } from './webhook-notifications.ts';

/** One webhook delivery, ready to go on the wire, and what the service must keep of it. */
export interface Delivery {
  /** The intake queue's deduplication id the service gives it (`apple:<uuid>`, `google:<messageId>`). */
  readonly deduplicationId: string;
  /** The archived document's id: the SHA-256 of exactly what the service must keep. */
  readonly documentId: string;
  /** The purchase's stream in the read model: it is processed once that row is there. */
  readonly streamId: string;
  readonly body: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

/** A store's webhook under load: where to post, what, and the settings that make the service trust it. */
export interface WebhookWorkload {
  readonly store: 'apple' | 'google';
  readonly path: string;
  /** Settings for the service: its trust in these deliveries, and where it asks about them. */
  readonly env: Readonly<Record<string, string>>;
  readonly deliveries: readonly Delivery[];
  /** Makes more until there are at least `count` (before anything is measured). */
  ensure(count: number): void;
  /** The deduplication id of the delivery the webhook answered `accepted` to. */
  acceptedId(answer: { notificationUUID?: unknown; messageId?: unknown }): string;
  close(): Promise<void>;
}

/**
 * App Store Server Notifications V2: distinct SUBSCRIBED notifications, each a new
 * subscription, signed by a test CA the service trusts (webhook-notifications.ts).
 */
export async function appleWorkload(workDir: string): Promise<WebhookWorkload> {
  const signer = await NotificationSigner.create();
  const trustedRootPath = path.join(workDir, 'apple-test-root.pem');
  await writeFile(trustedRootPath, signer.rootPem);
  const deliveries: Delivery[] = [];
  return {
    store: 'apple',
    path: '/v1/webhooks/apple',
    env: { APPLE_TRUSTED_ROOTS: trustedRootPath },
    deliveries,
    ensure(count) {
      for (const n of signer.ensure(count).slice(deliveries.length)) {
        const { signedPayload } = JSON.parse(n.body.toString()) as { signedPayload: string };
        deliveries.push({
          deduplicationId: `apple:${n.notificationUUID}`,
          documentId: documentIdOf(signedPayload),
          streamId: n.streamId,
          body: n.body,
          headers: { 'content-type': 'application/json' },
        });
      }
    },
    acceptedId: (answer) => `apple:${String(answer.notificationUUID)}`,
    close: async () => {},
  };
}

const GOOGLE_PACKAGE = 'com.example.pulse';
const PUSH_AUDIENCE = 'https://subledger.bench/v1/webhooks/google';
const PUSHER = 'play-push@subledger-bench.iam.gserviceaccount.com';
/** Pub/Sub signs a token per push; the service verifies each. A pool of them, used in turn. */
const PUSH_TOKENS = 256;

/**
 * Google Play real-time developer notifications as Pub/Sub pushes them: each
 * SUBSCRIPTION_PURCHASED for a new purchase token, with a signed OIDC token, and Google's
 * side (the push keys, the Play Developer API the worker asks about each purchase, its
 * OAuth endpoint) served from this process over loopback.
 */
export async function googleWorkload(): Promise<WebhookWorkload> {
  const signer = await startTestPushSigner({ audience: PUSH_AUDIENCE, email: PUSHER });
  const play = await startFakePlayDeveloperApi({ packageName: GOOGLE_PACKAGE });
  const { keyFile } = await play.createServiceAccountKey();
  const tokens = await Promise.all(Array.from({ length: PUSH_TOKENS }, () => signer.token()));
  const deliveries: Delivery[] = [];
  const now = Date.now();
  return {
    store: 'google',
    path: '/v1/webhooks/google',
    env: {
      GOOGLE_PUSH_AUDIENCE: PUSH_AUDIENCE,
      GOOGLE_PUSH_SERVICE_ACCOUNT: PUSHER,
      GOOGLE_OIDC_JWKS_URL: signer.jwksUrl,
      GOOGLE_SERVICE_ACCOUNT_KEY_FILE: keyFile,
      GOOGLE_PLAY_API_URL: play.rootUrl,
      GOOGLE_VOIDED_POLL_INTERVAL_SECONDS: '0',
    },
    deliveries,
    ensure(count) {
      while (deliveries.length < count) {
        const n = deliveries.length;
        // As long as Play's (about 150 characters).
        const purchaseToken = `bench-${n}-${randomUUID()}.${'x'.repeat(100)}`;
        play.putSubscription(purchaseToken, subscription(now, `GPA.3333-${String(n).padStart(8, '0')}`));
        const { message, subscription: pubsubSubscription } = pushBody({
          version: '1.0',
          packageName: GOOGLE_PACKAGE,
          eventTimeMillis: String(now),
          subscriptionNotification: {
            version: '1.0',
            notificationType: 4, // SUBSCRIPTION_PURCHASED
            purchaseToken,
            subscriptionId: 'premium_monthly',
          },
        });
        const body = { message, subscription: pubsubSubscription };
        // What the service archives: the message as received (src/ingest/google/accept-notification.ts).
        const kept = JSON.stringify({
          messageId: message.messageId,
          publishTime: message.publishTime,
          subscription: pubsubSubscription,
          attributes: message.attributes,
          data: message.data,
        });
        deliveries.push({
          deduplicationId: `google:${message.messageId}`,
          documentId: documentIdOf(kept),
          streamId: `purchase:play_store:production:${purchaseToken}`,
          body: Buffer.from(JSON.stringify(body)),
          headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[n % PUSH_TOKENS]!}` },
        });
      }
    },
    acceptedId: (answer) => `google:${String(answer.messageId)}`,
    async close() {
      await play.close();
      await signer.close();
    },
  };
}

/** An active monthly subscription bought a day ago, by an app user of its own, not yet acknowledged. */
function subscription(now: number, orderId: string): SubscriptionPurchaseV2 {
  const DAY = 86_400_000;
  return {
    kind: 'androidpublisher#subscriptionPurchaseV2',
    regionCode: 'DE',
    startTime: new Date(now - DAY).toISOString(),
    subscriptionState: 'SUBSCRIPTION_STATE_ACTIVE',
    latestOrderId: orderId,
    acknowledgementState: 'ACKNOWLEDGEMENT_STATE_PENDING',
    externalAccountIdentifiers: { obfuscatedExternalAccountId: randomUUID() },
    lineItems: [
      {
        productId: 'premium_monthly',
        expiryTime: new Date(now + 29 * DAY).toISOString(),
        latestSuccessfulOrderId: orderId,
        autoRenewingPlan: { autoRenewEnabled: true },
        offerDetails: { basePlanId: 'monthly' },
      },
    ],
  } as SubscriptionPurchaseV2;
}
