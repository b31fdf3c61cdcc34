import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/catalog-file.ts';
import { customerEntitlementsAt } from '../../src/domain/entitlements.ts';
import type { PurchaseEvent } from '../../src/domain/purchase/events.ts';
import { foldPurchase, type PurchaseState } from '../../src/domain/purchase/state.ts';
import { ownerOf } from '../../src/domain/purchase/status.ts';
import type { VerifiedAppleNotification } from '../../src/ingest/apple/apple-payloads.ts';
import {
  translateAppleNotification,
  translateAppleTransaction,
} from '../../src/ingest/apple/translate-notification.ts';
import { appleScript, simulateApple, type AppleLifecycle, type SentNotification } from './apple/lifecycle.ts';
import { appleAnswerAt, boundaries, type ModelAnswer } from './apple/model.ts';
import { lifecycleRuns, lifecycleTimeout } from './runs.ts';

/*
 * Subledger against an independent model of the App Store (./apple/model.ts), over
 * generated lifecycles (./apple/lifecycle.ts): every notification goes through the real
 * translation and fold, the state through JSON as the read model keeps it, and the
 * answer is the one the customer route gives, at every boundary of the lifecycle.
 */
const catalog = parseCatalog(readFileSync('catalog/sample-fitness.json', 'utf8'));
const KEY = { store: 'app_store', environment: 'production', purchaseId: '2000000000000001' } as const;

/** How the notifications reach Subledger: each 0 to 2 times, in any order; lost ones come back one of two ways. */
const deliveries = (lifecycle: AppleLifecycle) =>
  fc.record({
    copies: fc.array(fc.integer({ min: 0, max: 2 }), {
      minLength: lifecycle.sent.length,
      maxLength: lifecycle.sent.length,
    }),
    order: fc.array(fc.nat(), { minLength: lifecycle.sent.length * 2, maxLength: lifecycle.sent.length * 2 }),
    // Apple's Get Notification History re-sends the very notifications (late); the
    // status and transaction history endpoints tell only how things stand now.
    lostRecoveredBy: fc.constantFrom('notification_history' as const, 'status_api' as const),
  });
type Delivery = ReturnType<typeof deliveries> extends fc.Arbitrary<infer D> ? D : never;

describe('App Store lifecycles, Subledger against the model', () => {
  it(
    `answers as the App Store documents, at every boundary, whatever the delivery (${lifecycleRuns()} lifecycles)`,
    () => {
      fc.assert(
        fc.property(
          appleScript.map((script) => simulateApple(script)).chain((l) => fc.tuple(fc.constant(l), deliveries(l))),
          ([lifecycle, delivery]) => {
            const { state, reconciledOnly } = subledgerState(lifecycle, delivery);
            const instants = reconciledOnly ? [lifecycle.end] : boundaries(lifecycle.sent, lifecycle.end);
            const mismatches = instants.flatMap((t) => {
              const model = appleAnswerAt(lifecycle.sent, t);
              const expected = model && comparable(model, { reconciledOnly });
              const actual = subledgerAnswerAt(state, t, { reconciledOnly });
              return isDeepStrictEqual(actual, expected) ? [] : [{ at: iso(t), subledger: actual, model: expected }];
            });
            // The first mismatch, with the story that led to it (fast-check shrinks the story).
            expect(mismatches.slice(0, 1), `${story(lifecycle)}\ndelivered: ${JSON.stringify(delivery)}`).toEqual([]);
            expect(ownerOf(state)?.appUserId).toBe(lifecycle.sent[0]!.transaction.appAccountToken);
          },
        ),
        { numRuns: lifecycleRuns() },
      );
    },
    lifecycleTimeout(),
  );
});

/**
 * What Subledger holds after the deliveries: every fact of every notification that
 * arrived, in the order it arrived; and, when notifications were lost and the status
 * API recovered them, the status and history Apple answers at the end.
 */
function subledgerState(lifecycle: AppleLifecycle, delivery: Delivery) {
  const arrived: SentNotification[] = [];
  lifecycle.sent.forEach((n, i) => {
    const lost = delivery.copies[i] === 0;
    const copies = lost && delivery.lostRecoveredBy === 'notification_history' ? 1 : delivery.copies[i]!;
    for (let c = 0; c < copies; c++) arrived.push(n);
  });
  const order = arrived.map((n, i) => ({ n, key: delivery.order[i] ?? 0 })).sort((a, b) => a.key - b.key);
  const facts: PurchaseEvent[] = order.flatMap(({ n }) => factsOf(n));
  const reconciledOnly = delivery.lostRecoveredBy === 'status_api' && delivery.copies.includes(0);
  if (reconciledOnly) {
    const at = lifecycle.end;
    const latest = lifecycle.transactions.reduce((a, b) => (b.purchaseDate > a.purchaseDate ? b : a));
    facts.push(
      ...translateAppleTransaction({
        transaction: { ...latest, signedDate: at },
        renewalInfo: { ...lifecycle.renewalInfo, signedDate: at },
      }).facts,
    );
    for (const tx of lifecycle.transactions) {
      facts.push(...translateAppleTransaction({ transaction: { ...tx, signedDate: at } }).facts);
    }
  }
  // Through JSON, as the read model keeps it in PostgreSQL.
  const state = JSON.parse(JSON.stringify(foldPurchase(facts))) as PurchaseState;
  return { state, reconciledOnly };
}

function factsOf(n: SentNotification): PurchaseEvent[] {
  const verified: VerifiedAppleNotification = {
    notification: {
      notificationType: n.notificationType,
      ...(n.subtype && { subtype: n.subtype }),
      notificationUUID: n.notificationUUID,
      signedDate: n.signedDate,
      data: { environment: 'Production', bundleId: n.transaction.bundleId },
    },
    transaction: n.transaction,
    renewalInfo: n.renewalInfo,
  };
  const translation = translateAppleNotification(verified);
  if (translation.kind !== 'purchase') throw new Error(`${n.notificationType} is about no purchase`);
  return translation.facts;
}

/** The answer an app gets for the `premium` entitlement at `t` (coaching too, when the product gives it). */
function subledgerAnswerAt(state: PurchaseState, t: number, { reconciledOnly }: { reconciledOnly: boolean }) {
  const at = new Date(t).toISOString();
  const { entitlements } = customerEntitlementsAt([{ key: KEY, state }], catalog, at);
  const premium = entitlements.find((e) => e.id === 'premium');
  if (!premium) return undefined;
  return {
    active: premium.active,
    expiresAt: pastEnd(premium.active, premium.expiresAt, reconciledOnly),
    willRenew: premium.willRenew,
    storeProductId: premium.storeProductId,
    periodType: premium.periodType,
    billingIssue: premium.billingIssueDetectedAt !== undefined,
    coaching: entitlements.find((e) => e.id === 'coaching')?.active ?? false,
  };
}

function comparable(model: ModelAnswer, { reconciledOnly }: { reconciledOnly: boolean }) {
  return {
    active: model.active,
    expiresAt: pastEnd(model.active, iso(model.expiresAt), reconciledOnly),
    willRenew: model.willRenew,
    storeProductId: model.storeProductId,
    periodType: model.periodType,
    billingIssue: model.billingIssue,
    coaching: model.active && model.storeProductId === 'com.example.pulse.coaching.monthly',
  };
}

const iso = (t: number) => new Date(t).toISOString();

/**
 * Not compared: when access ended, for a subscription no longer active, once the
 * notifications were lost and only the status API told the story. Apple's transaction
 * history has every period and refund, but no grace period: a grace period only
 * notified is gone with its notifications (Get Notification History brings those back).
 */
const NOT_KNOWN_FROM_STATUS_API = 'not known from the status API';
function pastEnd(active: boolean, expiresAt: string | null, reconciledOnly: boolean) {
  return reconciledOnly && !active ? NOT_KNOWN_FROM_STATUS_API : expiresAt;
}

/** The notifications Apple sent, one line each, for a failure message. */
function story(lifecycle: AppleLifecycle): string {
  const short = (productId: string) => productId.split('.').slice(-2).join('.');
  return lifecycle.sent
    .map((n) => {
      const tx = n.transaction;
      const r = n.renewalInfo;
      const revoked =
        tx.revocationDate !== undefined
          ? ` revoked ${iso(tx.revocationDate)}${tx.isUpgraded ? ' (upgraded)' : ''}`
          : '';
      const grace = r.gracePeriodExpiresDate !== undefined ? ` grace until ${iso(r.gracePeriodExpiresDate)}` : '';
      return (
        `${iso(n.signedDate)} ${n.notificationType}${n.subtype ? `/${n.subtype}` : ''}: ` +
        `${tx.transactionId} ${short(tx.productId)} ${iso(tx.purchaseDate)}..${iso(tx.expiresDate)}${revoked}; ` +
        `auto-renew ${r.autoRenewStatus} to ${short(r.autoRenewProductId)}` +
        `${r.isInBillingRetryPeriod ? ' retrying' : ''}${grace}${r.expirationIntent ? ` expired(${r.expirationIntent})` : ''}`
      );
    })
    .join('\n');
}
