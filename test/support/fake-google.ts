import { pushBody, startTestPushSigner, type TestPushSigner } from '../../src/dev/google/test-push.ts';
import { startFakePlayDeveloperApi, type FakePlayDeveloperApi } from '../../src/dev/google/fake-play-developer-api.ts';

export const GOOGLE_PACKAGE = 'com.example.pulse';
const AUDIENCE = 'https://subledger.test/v1/webhooks/google';
const PUSHER = 'play-push@subledger-test.iam.gserviceaccount.com';

/**
 * Google's side, for tests: a signer of Pub/Sub push tokens (its keys served over
 * loopback) and a fake Play Developer API with its own OAuth token endpoint, plus the
 * settings that point a Subledger at both.
 */
export interface FakeGoogle {
  readonly signer: TestPushSigner;
  readonly play: FakePlayDeveloperApi;
  readonly keyFile: string;
  /** GOOGLE_* settings for a Subledger that trusts these pushes and asks this API. */
  readonly env: Readonly<Record<string, string>>;
  /** Posts `notification` to a Subledger's webhook as Pub/Sub would: signed, base64 in a push body. */
  push(subledgerUrl: string, notification: unknown, messageId?: string): Promise<Response>;
  close(): Promise<void>;
}

export async function startFakeGoogle(): Promise<FakeGoogle> {
  const signer = await startTestPushSigner({ audience: AUDIENCE, email: PUSHER });
  const play = await startFakePlayDeveloperApi({ packageName: GOOGLE_PACKAGE });
  const { keyFile } = await play.createServiceAccountKey();
  return {
    signer,
    play,
    keyFile,
    env: {
      GOOGLE_PUSH_AUDIENCE: AUDIENCE,
      GOOGLE_PUSH_SERVICE_ACCOUNT: PUSHER,
      GOOGLE_OIDC_JWKS_URL: signer.jwksUrl,
      GOOGLE_SERVICE_ACCOUNT_KEY_FILE: keyFile,
      GOOGLE_PLAY_API_URL: play.rootUrl,
    },
    async push(subledgerUrl, notification, messageId) {
      return fetch(`${subledgerUrl}/v1/webhooks/google`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await signer.token()}` },
        body: JSON.stringify(pushBody(notification, messageId)),
      });
    },
    async close() {
      await play.close();
      await signer.close();
    },
  };
}

/** A subscription notification of `notificationType` about `purchaseToken`, at `eventTime`. */
export function subscriptionNotification(purchaseToken: string, notificationType: number, eventTime = Date.now()) {
  return {
    version: '1.0',
    packageName: GOOGLE_PACKAGE,
    eventTimeMillis: String(eventTime),
    subscriptionNotification: { version: '1.0', notificationType, purchaseToken, subscriptionId: 'premium_monthly' },
  };
}
