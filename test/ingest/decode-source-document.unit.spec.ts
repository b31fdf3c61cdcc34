import { describe, expect, it } from 'vitest';
import { decodeSourceDocument } from '../../src/ingest/decode-source-document.ts';

/* How support staff read an archived document: decoded, and named as the store names it. */
const push = (notification: object) => ({
  kind: 'google.rtdn',
  body: JSON.stringify({
    messageId: '136969346945',
    publishTime: '2026-03-01T09:30:00.000Z',
    subscription: 'projects/p/subscriptions/play',
    data: Buffer.from(JSON.stringify({ version: '1.0', packageName: 'com.example.pulse', ...notification })).toString(
      'base64',
    ),
  }),
});

describe('decodeSourceDocument', () => {
  it.each([
    [
      { subscriptionNotification: { version: '1.0', notificationType: 2, purchaseToken: 't' } },
      'SUBSCRIPTION_RENEWED',
      null,
    ],
    [
      { subscriptionNotification: { version: '1.0', notificationType: 1, purchaseToken: 't' } },
      'SUBSCRIPTION_RECOVERED',
      null,
    ],
    [
      { subscriptionNotification: { version: '1.0', notificationType: 99, purchaseToken: 't' } },
      'SUBSCRIPTION_NOTIFICATION_99',
      null,
    ],
    [
      { oneTimeProductNotification: { version: '1.0', notificationType: 1, purchaseToken: 't', sku: 's' } },
      'ONE_TIME_PRODUCT_PURCHASED',
      null,
    ],
    [
      { voidedPurchaseNotification: { purchaseToken: 't', orderId: 'o', productType: 1, refundType: 1 } },
      'VOIDED_PURCHASE',
      'REFUND_TYPE_FULL_REFUND',
    ],
    [{ testNotification: { version: '1.0' } }, 'TEST', null],
  ])('names a Play push %j by Google’s name, with its data decoded', (notification, type, subtype) => {
    const { notification: named, decoded } = decodeSourceDocument(push(notification));
    expect(named).toEqual({ store: 'play_store', type, subtype });
    expect((decoded as { data: unknown }).data).toMatchObject(notification);
  });

  it('shows a Play API answer as its JSON, and names no notification', () => {
    const answer = { kind: 'androidpublisher#subscriptionPurchaseV2', latestOrderId: 'GPA.1' };
    expect(decodeSourceDocument({ kind: 'google.subscriptionsv2.get', body: JSON.stringify(answer) })).toEqual({
      notification: null,
      decoded: answer,
    });
  });

  it('decodes a JWS and the JWSs signed inside it, without trusting them', () => {
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const inner = `${part({ alg: 'ES256' })}.${part({ transactionId: '1' })}.c2ln`;
    const jws = `${part({ alg: 'ES256', x5c: [] })}.${part({ notificationType: 'REFUND', data: { signedTransactionInfo: inner } })}.c2ln`;
    expect(decodeSourceDocument({ kind: 'apple.notification.v2', body: jws })).toEqual({
      notification: { store: 'app_store', type: 'REFUND', subtype: null },
      decoded: {
        header: { alg: 'ES256', x5c: [] },
        payload: {
          notificationType: 'REFUND',
          data: { signedTransactionInfo: { header: { alg: 'ES256' }, payload: { transactionId: '1' } } },
        },
      },
    });
  });

  it('answers null for what is neither JSON nor a JWS', () => {
    expect(decodeSourceDocument({ kind: 'x', body: 'not json' })).toEqual({ notification: null, decoded: null });
  });
});
