import { createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import {
  APP_APPLE_ID,
  BUNDLE_ID,
  DAY,
  renewalInfoPayload,
  transactionPayload,
} from '../src/dev/apple/test-notifications.ts';
import { createAppleTestCa } from '../src/dev/apple/test-signer.ts';

/** The app of catalog/sample-fitness.json, which the service under test loads. */

/** One pre-signed webhook delivery, ready to go on the wire. */
export interface SignedNotification {
  readonly notificationUUID: string;
  /** The purchase's stream id in the read model: `purchase:app_store:sandbox:<originalTransactionId>`. */
  readonly streamId: string;
  /** `{"signedPayload": "<JWS>"}`, as the App Store posts it. */
  readonly body: Buffer;
}

/**
 * Signs distinct SUBSCRIBED/INITIAL_BUY notifications the way the App Store does
 * (ES256, a three-certificate x5c chain in every header, the transaction and renewal
 * info nested as JWS of their own, about 14 kB in all), each for a new subscription
 * with its own originalTransactionId and app account token, so no two share an
 * ordering group. Synchronous node:crypto with the test CA's exported leaf key:
 * three ECDSA signatures a notification, all done before anything is measured.
 */
export class NotificationSigner {
  readonly notifications: SignedNotification[] = [];

  /** The test CA's root, for APPLE_TRUSTED_ROOTS. */
  readonly rootPem: string;
  private readonly header: string;
  private readonly key: KeyObject;
  /** Within the leaf's validity (from yesterday): with online checks off, the chain is checked at signedDate. */
  private readonly signedDate = Date.now();

  private constructor(rootPem: string, header: string, key: KeyObject) {
    this.rootPem = rootPem;
    this.header = header;
    this.key = key;
  }

  static async create(): Promise<NotificationSigner> {
    const ca = await createAppleTestCa({ name: 'Subledger bench' });
    const exported = await ca.signer.export();
    const key = createPrivateKey({
      key: Buffer.from(exported.privateKeyPkcs8, 'base64'),
      format: 'der',
      type: 'pkcs8',
    });
    return new NotificationSigner(ca.rootPem, b64url(JSON.stringify({ alg: 'ES256', x5c: exported.x5c })), key);
  }

  /** Signs more until there are at least `count`. */
  ensure(count: number): readonly SignedNotification[] {
    while (this.notifications.length < count) this.notifications.push(this.next(this.notifications.length));
    return this.notifications;
  }

  private next(n: number): SignedNotification {
    const { signedDate } = this;
    const jws = (payload: object) => signJws(this.header, this.key, payload);
    const originalTransactionId = String(3_000_000_000_000_000 + n * 7919);
    const transaction = transactionPayload(signedDate, {
      transactionId: originalTransactionId,
      originalTransactionId,
      webOrderLineItemId: String(4_000_000_000_000 + n),
      appAccountToken: randomUUID(),
      // What else Apple puts in a real transaction, so the payload has its real size.
      subscriptionGroupIdentifier: '21000001',
      transactionReason: 'PURCHASE',
      storefront: 'USA',
      storefrontId: '143441',
      price: 9990,
      currency: 'USD',
    });
    const renewalInfo = renewalInfoPayload(transaction, signedDate, {
      recentSubscriptionStartDate: signedDate,
      renewalDate: signedDate + 30 * DAY,
    });
    const notificationUUID = randomUUID();
    const signedPayload = jws({
      notificationType: 'SUBSCRIBED',
      subtype: 'INITIAL_BUY',
      notificationUUID,
      version: '2.0',
      signedDate,
      data: {
        appAppleId: APP_APPLE_ID,
        bundleId: BUNDLE_ID,
        bundleVersion: '1.0',
        environment: 'Sandbox',
        status: 1,
        signedTransactionInfo: jws(transaction),
        signedRenewalInfo: jws(renewalInfo),
      },
    });
    return {
      notificationUUID,
      streamId: `purchase:app_store:sandbox:${originalTransactionId}`,
      body: Buffer.from(JSON.stringify({ signedPayload })),
    };
  }
}

function signJws(header: string, key: KeyObject, payload: object): string {
  const signingInput = `${header}.${b64url(JSON.stringify(payload))}`;
  // JOSE wants the raw r||s form, not DER.
  const signature = sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${signature.toString('base64url')}`;
}

const b64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
