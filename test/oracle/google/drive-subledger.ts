/**
 * The side under test: feeds a scenario's deliveries through Subledger's real code, as
 * the Google edge does (record-play-purchase.ts, process-notification.ts, the voided
 * poll), minus the event store: Google's answer at the moment of asking, parsed by
 * Subledger's schemas, translated, checked by the decider, folded, and stored as JSON
 * (the read model keeps states in jsonb). The only file of the oracle importing src/.
 */
import type { Catalog } from '../../../src/domain/catalog.ts';
import { customerEntitlementsAt } from '../../../src/domain/entitlements.ts';
import { decide } from '../../../src/domain/purchase/decider.ts';
import type { PurchaseEvent } from '../../../src/domain/purchase/events.ts';
import { foldPurchase, initialState, type PurchaseState } from '../../../src/domain/purchase/state.ts';
import type { PurchaseKey } from '../../../src/domain/purchase/purchase-key.ts';
import { playPurchaseKey } from '../../../src/ingest/google/play-facts.ts';
import {
  parseDeveloperNotification,
  parseSubscriptionPurchaseV2,
  parseVoidedPurchase,
  type DeveloperNotification,
} from '../../../src/ingest/google/play-payloads.ts';
import { translatePlaySubscription } from '../../../src/ingest/google/translate-subscription.ts';
import { translatePlayVoided } from '../../../src/ingest/google/translate-voided.ts';
import type { Scenario } from './chaos.ts';
import type { ModelAnswer } from './model.ts';
import { subscriptionAnswer, voidedPurchasesOf } from './google.ts';
import { iso } from './truth.ts';

export interface RecordedPurchase {
  readonly key: PurchaseKey;
  readonly state: PurchaseState;
}

/** Over the wire: what Subledger parses is JSON text, never our objects. */
const wire = <T>(value: T): unknown => JSON.parse(JSON.stringify(value));

export function runSubledger({ lifecycle, deliveries }: Scenario): RecordedPurchase[] {
  const { packageName, appUserId } = lifecycle;
  const streams = new Map<string, { key: PurchaseKey; events: PurchaseEvent[] }>();
  const append = (key: PurchaseKey, events: readonly PurchaseEvent[]) => {
    const stream = streams.get(key.purchaseId) ?? { key, events: [] };
    stream.events.push(...events);
    streams.set(key.purchaseId, stream);
  };
  const record = (key: PurchaseKey, facts: PurchaseEvent[]) =>
    append(key, decide({ type: 'RecordStoreFacts', data: { facts } }, initialState()));
  const acknowledged = new Set<string>();
  const askGoogle = (token: string, at: number) =>
    parseSubscriptionPurchaseV2(wire(subscriptionAnswer(lifecycle, token, at, acknowledged.has(token))));

  // The app claims each purchase when it is made (submit-purchase.ts links the app user).
  for (const { token, startTime } of lifecycle.tokens) {
    const key = playPurchaseKey('production', token);
    append(
      key,
      decide({ type: 'LinkToAppUser', data: { appUserId, via: 'app_submission', at: iso(startTime) } }, initialState()),
    );
  }

  // recordPlaySubscription, step by step.
  const recordSubscription = (token: string, at: number, notification?: DeveloperNotification) => {
    const purchase = askGoogle(token, at);
    const translation = translatePlaySubscription({
      ...(notification && { notification }),
      purchaseToken: token,
      purchase,
      packageName,
      observedAt: iso(at),
    });
    const first = translation.facts[0];
    const link: PurchaseEvent[] =
      translation.obfuscatedExternalAccountId && first
        ? [
            {
              type: 'PurchaseLinkedToAppUser',
              data: {
                appUserId: translation.obfuscatedExternalAccountId,
                via: 'app_account_token',
                observedAt: first.data.observedAt,
              },
            },
          ]
        : [];
    record(translation.key, [...translation.facts, ...link]);
    if (translation.supersedes && translation.linkedPurchaseToken) {
      record(translation.supersedes.key, translation.supersedes.facts);
      const old = translatePlaySubscription({
        purchaseToken: translation.linkedPurchaseToken,
        purchase: askGoogle(translation.linkedPurchaseToken, at),
        packageName,
        observedAt: notification ? iso(Number(notification.eventTimeMillis)) : iso(at),
      });
      record(old.key, old.facts);
    }
    if (translation.needsAcknowledgement) acknowledged.add(token);
  };

  for (const delivery of deliveries) {
    switch (delivery.kind) {
      case 'notification': {
        const notification = parseDeveloperNotification(wire(delivery.notification.document));
        if (notification.subscriptionNotification) {
          recordSubscription(notification.subscriptionNotification.purchaseToken, delivery.at, notification);
        } else {
          const voided = translatePlayVoided({ environment: 'production', notification });
          record(voided.key, voided.facts);
        }
        break;
      }
      case 'ask':
        recordSubscription(delivery.token, delivery.at);
        break;
      case 'voided_poll':
        for (const entry of voidedPurchasesOf(lifecycle).filter((v) => Number(v.voidedTimeMillis) <= delivery.at)) {
          const voided = translatePlayVoided({
            environment: 'production',
            voidedPurchase: parseVoidedPurchase(wire(entry)),
          });
          record(voided.key, voided.facts);
        }
        break;
    }
  }
  return [...streams.values()].map(({ key, events }) => ({
    key,
    state: JSON.parse(JSON.stringify(foldPurchase(events))) as PurchaseState,
  }));
}

/** Subledger's answer for one entitlement, put in the model's terms so the two compare field by field. */
export type SubledgerAnswer = ModelAnswer;

/** customerEntitlementsAt for the app user, as "as known now about then" (support's view). */
export function subledgerAnswersAt(
  purchases: readonly RecordedPurchase[],
  catalog: Catalog,
  at: number,
  appUserId: string,
): { entitlements: Map<string, SubledgerAnswer>; unknownProducts: number } {
  const answer = customerEntitlementsAt(purchases, catalog, iso(at), { ownedBy: appUserId });
  return {
    unknownProducts: answer.unknownProducts.length,
    entitlements: new Map(
      answer.entitlements.map((e) => [
        e.id,
        {
          token: e.purchase.purchaseId,
          active: e.active,
          expiresAt: e.expiresAt,
          willRenew: e.willRenew,
          storeProductId: e.storeProductId,
          billingIssue: e.billingIssueDetectedAt !== undefined,
        },
      ]),
    ),
  };
}
