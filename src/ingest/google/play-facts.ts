import type { PurchaseEvent } from '../../domain/purchase/events.ts';
import type { Environment, PurchaseKey } from '../../domain/purchase/purchase-key.ts';
import { toTimestamp, type Timestamp } from '../../domain/time.ts';
import type { DeveloperNotification } from './play-payloads.ts';
import { Refusal } from '../../domain/refusal.ts';

/** What the Google translators share: keys, times, and building facts. Pure. */

type FactOf<T extends PurchaseEvent['type']> = Extract<PurchaseEvent, { type: T }>;
/** Builds a fact of `type` observed at one moment. */
export type At = <T extends PurchaseEvent['type']>(
  type: T,
  data: Omit<FactOf<T>['data'], 'observedAt'>,
) => PurchaseEvent;

export function observedAt(at: Timestamp): At {
  return (type, data) => ({ type, data: { ...data, observedAt: at } }) as PurchaseEvent;
}

/** One Google Play purchase: its purchase token (one-time products and subscriptions alike). */
export function playPurchaseKey(environment: Environment, purchaseToken: string): PurchaseKey {
  return { store: 'play_store', environment, purchaseId: purchaseToken };
}

/** `eventTimeMillis`, `purchaseTimeMillis`, `voidedTimeMillis`: digits of milliseconds. */
export function fromMillisText(millis: string): Timestamp {
  return toTimestamp(Number(millis));
}

/** An RFC 3339 time of the v2 APIs, in the domain's one form (milliseconds, UTC). */
export function fromRfc3339(time: string): Timestamp {
  return toTimestamp(Date.parse(time));
}

/** When Google observed what a notification reports. */
export function eventTimeOf(notification: DeveloperNotification): Timestamp {
  return fromMillisText(notification.eventTimeMillis);
}

/** A notification and an API answer that are not about the same purchase (a bug at the edge). */
export class PlayDocumentMismatch extends Refusal<'play_document_mismatch'> {
  constructor(message: string) {
    super('invalid', 'play_document_mismatch', message);
  }
}

export function assertSamePackage(notification: DeveloperNotification, packageName: string): void {
  if (notification.packageName !== packageName) {
    throw new PlayDocumentMismatch(
      `The notification is about package ${notification.packageName}, the purchase about ${packageName}`,
    );
  }
}

export function assertSameToken(what: string, notificationToken: string, purchaseToken: string): void {
  if (notificationToken !== purchaseToken) {
    throw new PlayDocumentMismatch(`The ${what} names another purchase token than the purchase translated`);
  }
}
