import { randomUUID } from 'node:crypto';
import type { NotificationSpec } from '../../src/dev/apple/test-notifications.ts';
import type { AppleHarness } from './apple-harness.ts';

export const MINUTE = 60_000;

/**
 * A sandbox customer's first twelve minutes, as the App Store tells them: five-minute
 * "months", bought (`SUBSCRIBED/INITIAL_BUY`, 9.99 USD), renewed (`DID_RENEW`), then a
 * renewal that fails into a grace period (`DID_FAIL_TO_RENEW/GRACE_PERIOD`). Every
 * notification is signed by the harness's test CA and goes through the webhook.
 */
export async function sandboxStory(harness: AppleHarness, appUserId: string, purchaseId: string, start: number) {
  const transaction = (id: string, from: number) => ({
    appAccountToken: appUserId,
    originalTransactionId: purchaseId,
    transactionId: id,
    purchaseDate: from,
    originalPurchaseDate: start,
    expiresDate: from + 5 * MINUTE,
    price: 9990,
    currency: 'USD',
  });
  const notices: NotificationSpec[] = [
    {
      type: 'SUBSCRIBED',
      subtype: 'INITIAL_BUY',
      signedDate: start,
      transaction: transaction(`${purchaseId}-1`, start),
    },
    {
      type: 'DID_RENEW',
      signedDate: start + 5 * MINUTE,
      transaction: transaction(`${purchaseId}-2`, start + 5 * MINUTE),
    },
    {
      type: 'DID_FAIL_TO_RENEW',
      subtype: 'GRACE_PERIOD',
      signedDate: start + 10 * MINUTE,
      transaction: transaction(`${purchaseId}-2`, start + 5 * MINUTE),
      renewalInfo: { gracePeriodExpiresDate: start + 13 * MINUTE, isInBillingRetryPeriod: true },
    },
  ];
  for (const notice of notices) {
    const answer = await harness.notify({ uuid: randomUUID(), environment: 'Sandbox', ...notice });
    if (answer.status !== 200) throw new Error(`The webhook answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  }
  await harness.processed();
}
