import { randomUUID } from 'node:crypto';
import { DAY, type NotificationSpec } from '../../src/dev/apple/test-notifications.ts';

/** `user`'s first purchase of a 30-day subscription of its own (`purchaseId`), at `signedDate`. */
export function initialBuy(user: string, purchaseId: string, signedDate: number): NotificationSpec {
  return {
    type: 'SUBSCRIBED',
    subtype: 'INITIAL_BUY',
    signedDate,
    uuid: randomUUID(),
    transaction: {
      appAccountToken: user,
      originalTransactionId: purchaseId,
      transactionId: purchaseId,
      purchaseDate: signedDate,
      originalPurchaseDate: signedDate,
      expiresDate: signedDate + 30 * DAY,
    },
  };
}
