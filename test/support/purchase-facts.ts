import type { PurchaseEvent, Transaction } from '../../src/domain/purchase/events.ts';
import type { PurchaseKey } from '../../src/domain/purchase/purchase-key.ts';
import { toTimestamp } from '../../src/domain/time.ts';
import type { EventStore } from '../../src/eventstore/event-store.ts';
import { recordPurchase } from '../../src/ingest/record-purchase.ts';

/** Builders for store-agnostic purchase facts, on a calendar counted in days from 2026-01-01, and a recording of a common pair. */
const EPOCH = Date.parse('2026-01-01T00:00:00.000Z');
const DAY = 86_400_000;

export const MONTHLY = 'com.example.pulse.premium.monthly';
export const YEARLY = 'com.example.pulse.premium.yearly';
export const LIFETIME = 'com.example.pulse.premium.lifetime';

/** Day `d` (fractions allowed) as a timestamp. */
export const day = (d: number) => toTimestamp(EPOCH + d * DAY);

export const appleKey = (purchaseId = '1000000001'): PurchaseKey => ({
  store: 'app_store',
  environment: 'production',
  purchaseId,
});

export function period(
  id: string,
  fromDay: number,
  toDay: number | undefined,
  overrides: Partial<Transaction> = {},
): Transaction {
  return {
    transactionId: id,
    productId: MONTHLY,
    purchasedAt: day(fromDay),
    ...(toDay !== undefined && { expiresAt: day(toDay) }),
    periodType: 'normal',
    ownership: 'purchased',
    ...overrides,
  };
}

type Data<T extends PurchaseEvent['type']> = Omit<Extract<PurchaseEvent, { type: T }>['data'], 'observedAt'>;

/** A fact observed by the store on day `observedDay`. */
export function fact<T extends PurchaseEvent['type']>(type: T, observedDay: number, data: Data<T>): PurchaseEvent {
  return { type, data: { ...data, observedAt: day(observedDay) } } as PurchaseEvent;
}

export const started = (t: Transaction, observedDay = dayOf(t.purchasedAt)) =>
  fact('SubscriptionStarted', observedDay, { transaction: t });
export const renewed = (t: Transaction, observedDay = dayOf(t.purchasedAt)) =>
  fact('SubscriptionRenewed', observedDay, { transaction: t });

function dayOf(timestamp: string): number {
  return (Date.parse(timestamp) - EPOCH) / DAY;
}

/** How people read a time in Subledger's summaries: `2026-12-24 09:30:00 UTC`. */
export const readable = (iso: string) => iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');

/** `appUserId` buys on day 0 (to day 30) and renews on day 30 (to day 60): two recordings, `buy` and `renew`. */
export async function recordBoughtAndRenewed(store: EventStore, key: PurchaseKey, appUserId: string): Promise<void> {
  const record = (causationId: string, facts: PurchaseEvent[]) =>
    recordPurchase(store, key, { type: 'RecordStoreFacts', data: { facts } }, { causationId });
  await record('buy', [
    started(period('t1', 0, 30)),
    fact('PurchaseLinkedToAppUser', 0, { appUserId, via: 'app_account_token' }),
  ]);
  await record('renew', [renewed(period('t2', 30, 60))]);
}
