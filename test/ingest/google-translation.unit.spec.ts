import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide } from '../../src/domain/purchase/decider.ts';
import type { PurchaseEvent } from '../../src/domain/purchase/events.ts';
import { foldPurchase, initialState } from '../../src/domain/purchase/state.ts';
import {
  hasAccessAt,
  END_OF_TIME,
  finalStatus,
  purchaseStatusAt,
  type PurchaseStatus,
} from '../../src/domain/purchase/status.ts';
import { decodeNotification } from '../../src/ingest/google/accept-notification.ts';
import { PlayDocumentMismatch } from '../../src/ingest/google/play-facts.ts';
import {
  MalformedPlayDocument,
  parseDeveloperNotification,
  parseProductPurchase,
  parseSubscriptionPurchaseV2,
  parseVoidedPurchase,
  payloadOf,
  PLAY_SUBSCRIPTION_STATES,
  type DeveloperNotification,
  type PlayLineItem,
  type PlaySubscriptionState,
  type ProductPurchase,
  type SubscriptionPurchaseV2,
} from '../../src/ingest/google/play-payloads.ts';
import { translatePlayProduct } from '../../src/ingest/google/translate-product.ts';
import {
  PLAY_SUBSCRIPTION_NOTIFICATION_TYPES,
  translatePlaySubscription,
  type PlaySubscriptionTranslation,
} from '../../src/ingest/google/translate-subscription.ts';
import { translatePlayVoided } from '../../src/ingest/google/translate-voided.ts';

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-01T00:00:00.000Z');
/** Day `d` after T0, as Google writes v2 times and as the domain stores them. */
const day = (d: number) => new Date(T0 + d * DAY).toISOString();
const millisOf = (d: number) => String(T0 + d * DAY);
const PACKAGE = 'com.example.pulse';
const TOKEN = 'token-1';
const MONTHLY = 'premium_monthly';
const YEARLY = 'premium_yearly';
const ORDER = 'GPA.3301-2245-9981-12345';
/** The first order, then its renewals `..0`, `..1`, ... */
const order = (renewal?: number) => (renewal === undefined ? ORDER : `${ORDER}..${renewal}`);
/** When the edge asked the API, for translations without a notification. */
const ASKED = day(365);

function item(overrides: Partial<PlayLineItem> = {}): PlayLineItem {
  return {
    productId: MONTHLY,
    expiryTime: day(30),
    latestSuccessfulOrderId: ORDER,
    autoRenewingPlan: { autoRenewEnabled: true },
    offerDetails: { basePlanId: 'monthly' },
    offerPhase: { basePrice: {} },
    ...overrides,
  };
}
/** Google's answer, an active monthly subscription bought on day 0, unless told otherwise. */
function answer(overrides: Partial<SubscriptionPurchaseV2> = {}, items: PlayLineItem[] = [item()]) {
  return {
    kind: 'androidpublisher#subscriptionPurchaseV2',
    regionCode: 'FR',
    startTime: day(0),
    subscriptionState: 'SUBSCRIPTION_STATE_ACTIVE',
    acknowledgementState: 'ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED',
    lineItems: items,
    ...overrides,
  } satisfies SubscriptionPurchaseV2;
}
const active = (renewal: number | undefined, expiresDay: number, overrides: Partial<PlayLineItem> = {}) =>
  answer({}, [item({ latestSuccessfulOrderId: order(renewal), expiryTime: day(expiresDay), ...overrides })]);
const notRenewing = { autoRenewingPlan: {} };

function rtdn(notificationType: number, onDay: number, purchaseToken = TOKEN): DeveloperNotification {
  return {
    version: '1.0',
    packageName: PACKAGE,
    eventTimeMillis: millisOf(onDay),
    subscriptionNotification: { version: '1.0', notificationType, purchaseToken },
  };
}
function translate(notification: DeveloperNotification | undefined, purchase: SubscriptionPurchaseV2, token = TOKEN) {
  return translatePlaySubscription({
    ...(notification && { notification }),
    purchaseToken: token,
    purchase,
    packageName: PACKAGE,
    observedAt: ASKED,
  });
}
const typesOf = (t: { facts: PurchaseEvent[] }) => t.facts.map((f) => f.type);
const statusAfter = (...translations: { facts: PurchaseEvent[] }[]) =>
  finalStatus(foldPurchase(translations.flatMap((t) => t.facts)));
/** What the decider records of the facts: all of them, or it throws on an ill-formed one. */
const recorded = (t: { facts: PurchaseEvent[] }) =>
  decide({ type: 'RecordStoreFacts', data: { facts: t.facts } }, initialState());
const noticesOf = (t: { facts: PurchaseEvent[] }) =>
  t.facts.flatMap((f) => (f.type === 'StoreNoticeRecorded' ? [f.data.notice] : []));

// Besides its periods, every answer about a paid subscription says whether it renews, into
// which product, and how its billing and pause stand.
const RENEWAL = ['AutoRenewTurnedOn', 'ProductChangeCancelled'];
const GOOD_STANDING = ['BillingRecovered', 'SubscriptionResumed'];
const NOT_RENEWING = ['AutoRenewTurnedOff', 'ProductChangeCancelled'];
const EXPIRED = ['SubscriptionExpired', 'SubscriptionResumed'];

type KnownType = keyof typeof PLAY_SUBSCRIPTION_NOTIFICATION_TYPES;
interface TypeCase {
  readonly onDay: number;
  readonly answer: SubscriptionPurchaseV2;
  readonly facts: readonly string[];
  readonly status?: Partial<PurchaseStatus>;
  readonly notice?: string;
}

/** A type whose entitlement effect, if any, is all in the answer: kept as a notice for support. */
const noticeOnly = (notice: string): TypeCase => ({
  onDay: 8,
  answer: answer(),
  facts: ['SubscriptionStarted', ...RENEWAL, ...GOOD_STANDING, 'StoreNoticeRecorded'],
  notice,
});

/**
 * Every subscription notification type, with the answer Google gives after it, and
 * what Subledger records. The record is keyed by the translator's own list, so a type
 * added there without a case here does not compile (and the guard below fails).
 */
const EVERY_TYPE = {
  1: {
    onDay: 40,
    answer: active(1, 70),
    facts: ['SubscriptionRenewed', ...RENEWAL, ...GOOD_STANDING],
    // A renewal's period counts from when Google first reported it.
    status: { billing: 'ok', willRenew: true, access: { from: day(40), until: day(70) } },
  },
  2: {
    onDay: 30,
    answer: active(0, 60),
    facts: ['SubscriptionRenewed', ...RENEWAL, ...GOOD_STANDING],
    status: { billing: 'ok', willRenew: true, access: { from: day(30), until: day(60) } },
  },
  3: {
    onDay: 10,
    answer: answer(
      {
        subscriptionState: 'SUBSCRIPTION_STATE_CANCELED',
        canceledStateContext: { userInitiatedCancellation: { cancelTime: day(10) } },
      },
      [item(notRenewing)],
    ),
    facts: ['SubscriptionStarted', ...NOT_RENEWING, ...GOOD_STANDING],
    status: { willRenew: false, unsubscribeDetectedAt: day(10), access: { from: day(0), until: day(30) } },
  },
  4: {
    onDay: 0,
    answer: answer(),
    facts: ['SubscriptionStarted', ...RENEWAL, ...GOOD_STANDING],
    status: { kind: 'subscription', billing: 'ok', willRenew: true, access: { from: day(0), until: day(30) } },
  },
  5: {
    onDay: 37,
    answer: answer({ subscriptionState: 'SUBSCRIPTION_STATE_ON_HOLD' }, [item({ expiryTime: day(33) })]),
    facts: ['SubscriptionStarted', ...RENEWAL, 'SubscriptionPutOnHold', 'SubscriptionResumed'],
    // Google keeps the subscription renewing on hold, retrying the payment.
    status: { billing: 'on_hold', willRenew: true, billingIssueDetectedAt: day(37) },
  },
  6: {
    onDay: 30,
    // In grace, Google's expiry time is the end of the grace period.
    answer: answer({ subscriptionState: 'SUBSCRIPTION_STATE_IN_GRACE_PERIOD' }, [item({ expiryTime: day(33) })]),
    facts: ['SubscriptionStarted', ...RENEWAL, 'RenewalFailed', 'SubscriptionResumed'],
    status: { billing: 'grace', gracePeriodEndsAt: day(33), access: { from: day(0), until: day(33) } },
  },
  7: {
    onDay: 12,
    answer: answer(),
    facts: ['SubscriptionStarted', ...RENEWAL, ...GOOD_STANDING],
    status: { willRenew: true },
  },
  8: noticeOnly('play:SUBSCRIPTION_PRICE_CHANGE_CONFIRMED'),
  9: {
    onDay: 20,
    answer: active(undefined, 40),
    facts: ['RenewalExtended', ...RENEWAL, ...GOOD_STANDING],
    status: { access: { from: day(0), until: day(40) } },
  },
  10: {
    onDay: 30,
    answer: answer({ subscriptionState: 'SUBSCRIPTION_STATE_PAUSED', pausedStateContext: { autoResumeTime: day(60) } }),
    facts: ['SubscriptionStarted', ...RENEWAL, 'BillingRecovered', 'SubscriptionPaused'],
    status: { pause: { resumesAt: day(60) }, access: { from: day(0), until: day(30) } },
  },
  11: noticeOnly('play:SUBSCRIPTION_PAUSE_SCHEDULE_CHANGED'),
  12: {
    onDay: 5,
    answer: answer(
      {
        subscriptionState: 'SUBSCRIPTION_STATE_EXPIRED',
        canceledStateContext: { developerInitiatedCancellation: {} },
      },
      [item({ ...notRenewing, expiryTime: day(5) })],
    ),
    facts: ['SubscriptionStarted', ...NOT_RENEWING, ...EXPIRED, 'TransactionRefunded', 'SubscriptionRevoked'],
    status: {
      revocation: { revokedAt: day(5), reason: 'refund' },
      expiration: { reason: 'other', observedAt: day(5) },
      access: { from: day(0), until: day(5) },
    },
  },
  13: {
    onDay: 30,
    answer: answer(
      {
        subscriptionState: 'SUBSCRIPTION_STATE_EXPIRED',
        canceledStateContext: { userInitiatedCancellation: { cancelTime: day(10) } },
      },
      [item(notRenewing)],
    ),
    facts: ['SubscriptionStarted', ...NOT_RENEWING, ...EXPIRED],
    status: { willRenew: false, expiration: { reason: 'voluntary', observedAt: day(30) } },
  },
  17: noticeOnly('play:SUBSCRIPTION_ITEMS_CHANGED'),
  18: noticeOnly('play:SUBSCRIPTION_CANCELLATION_SCHEDULED'),
  19: noticeOnly('play:SUBSCRIPTION_PRICE_CHANGE_UPDATED'),
  20: {
    onDay: 2,
    // A pending purchase the user gave up before paying: no period, no order.
    answer: {
      subscriptionState: 'SUBSCRIPTION_STATE_PENDING_PURCHASE_CANCELED',
      acknowledgementState: 'ACKNOWLEDGEMENT_STATE_PENDING',
      lineItems: [{ productId: MONTHLY }],
    },
    facts: ['StoreNoticeRecorded', 'StoreNoticeRecorded'],
    status: { kind: 'unknown', willRenew: false },
    notice: 'play:SUBSCRIPTION_PENDING_PURCHASE_CANCELED',
  },
  22: noticeOnly('play:SUBSCRIPTION_PRICE_STEP_UP_CONSENT_UPDATED'),
} satisfies Record<KnownType, TypeCase>;

describe('Google Play subscription notifications: every type has a defined effect', () => {
  it('the table covers every type the translator knows, and no other', () => {
    expect(Object.keys(EVERY_TYPE)).toEqual(Object.keys(PLAY_SUBSCRIPTION_NOTIFICATION_TYPES));
  });

  it.each(Object.entries(EVERY_TYPE).map(([type, c]) => [Number(type), c] as const))(
    'type %i is recorded as the API answer says, observed at the event time',
    (type, c: TypeCase) => {
      const translation = translate(rtdn(type, c.onDay), c.answer);
      expect(translation.known).toBe(true);
      expect(translation.key).toEqual({ store: 'play_store', environment: 'production', purchaseId: TOKEN });
      expect(typesOf(translation)).toEqual(c.facts);
      expect(recorded(translation)).toEqual(translation.facts);
      for (const fact of translation.facts) expect(fact.data.observedAt).toBe(day(c.onDay));
      if (c.status) expect(statusAfter(translation)).toMatchObject(c.status);
      if (c.notice) expect(noticesOf(translation)).toContain(c.notice);
    },
  );

  it('PAUSED, ON_HOLD and IN_GRACE_PERIOD are never ignored: they decide access', () => {
    const grace = translate(rtdn(6, 30), EVERY_TYPE[6].answer);
    expect(hasAccessAt(statusAfter(grace), day(32))).toBe(true);
    expect(hasAccessAt(statusAfter(grace), day(33))).toBe(false);
    const hold = translate(rtdn(5, 37), EVERY_TYPE[5].answer);
    expect(hasAccessAt(statusAfter(grace, hold), day(37))).toBe(false);
    const paused = translate(rtdn(10, 30), EVERY_TYPE[10].answer);
    expect(hasAccessAt(statusAfter(paused), day(45))).toBe(false);
  });

  it('records a type this version does not know as a notice, and says so', () => {
    const translation = translate(rtdn(99, 3), answer());
    expect(translation.known).toBe(false);
    expect(noticesOf(translation)).toEqual(['play:subscriptionNotification/99']);
    // What the answer says is recorded all the same.
    expect(typesOf(translation)).toContain('SubscriptionStarted');
  });

  it('refuses a notification about another package, purchase or kind of product', () => {
    const other = { ...rtdn(2, 30), packageName: 'com.example.other' };
    expect(() => translate(other, answer())).toThrow(PlayDocumentMismatch);
    expect(() => translate(rtdn(2, 30, 'token-2'), answer())).toThrow(PlayDocumentMismatch);
    const product: DeveloperNotification = {
      version: '1.0',
      packageName: PACKAGE,
      eventTimeMillis: millisOf(1),
      oneTimeProductNotification: { version: '1.0', notificationType: 1, purchaseToken: TOKEN, sku: 'tip_small' },
    };
    expect(() => translate(product, answer())).toThrow(/not about a subscription/);
  });
});

type StateCase = { readonly answer: SubscriptionPurchaseV2; readonly facts: readonly string[] };
const EVERY_STATE = {
  SUBSCRIPTION_STATE_UNSPECIFIED: {
    answer: answer({ subscriptionState: 'SUBSCRIPTION_STATE_UNSPECIFIED' }),
    facts: ['StoreNoticeRecorded'],
  },
  SUBSCRIPTION_STATE_PENDING: {
    answer: { subscriptionState: 'SUBSCRIPTION_STATE_PENDING', lineItems: [{ productId: MONTHLY }] },
    facts: ['StoreNoticeRecorded'],
  },
  SUBSCRIPTION_STATE_ACTIVE: { answer: answer(), facts: ['SubscriptionStarted', ...RENEWAL, ...GOOD_STANDING] },
  SUBSCRIPTION_STATE_PAUSED: {
    answer: answer({ subscriptionState: 'SUBSCRIPTION_STATE_PAUSED' }),
    facts: ['SubscriptionStarted', ...RENEWAL, 'BillingRecovered', 'SubscriptionPaused'],
  },
  SUBSCRIPTION_STATE_IN_GRACE_PERIOD: {
    answer: answer({ subscriptionState: 'SUBSCRIPTION_STATE_IN_GRACE_PERIOD' }),
    facts: ['SubscriptionStarted', ...RENEWAL, 'RenewalFailed', 'SubscriptionResumed'],
  },
  SUBSCRIPTION_STATE_ON_HOLD: {
    answer: answer({ subscriptionState: 'SUBSCRIPTION_STATE_ON_HOLD' }),
    facts: ['SubscriptionStarted', ...RENEWAL, 'SubscriptionPutOnHold', 'SubscriptionResumed'],
  },
  SUBSCRIPTION_STATE_CANCELED: {
    answer: answer({ subscriptionState: 'SUBSCRIPTION_STATE_CANCELED' }, [item(notRenewing)]),
    facts: ['SubscriptionStarted', ...NOT_RENEWING, ...GOOD_STANDING],
  },
  SUBSCRIPTION_STATE_EXPIRED: {
    answer: answer({ subscriptionState: 'SUBSCRIPTION_STATE_EXPIRED' }, [item(notRenewing)]),
    facts: ['SubscriptionStarted', ...NOT_RENEWING, ...EXPIRED],
  },
  SUBSCRIPTION_STATE_PENDING_PURCHASE_CANCELED: {
    answer: { subscriptionState: 'SUBSCRIPTION_STATE_PENDING_PURCHASE_CANCELED', lineItems: [{ productId: MONTHLY }] },
    facts: ['StoreNoticeRecorded'],
  },
} satisfies Record<PlaySubscriptionState, StateCase>;

describe('Google Play subscription states: the API answer is the authority', () => {
  it('the table covers every state Google documents', () => {
    expect(Object.keys(EVERY_STATE)).toEqual([...PLAY_SUBSCRIPTION_STATES]);
  });

  it.each(Object.entries(EVERY_STATE))(
    '%s, asked without a notification, is observed when the API answered',
    (_, c: StateCase) => {
      const translation = translate(undefined, c.answer);
      expect(translation.known).toBe(true);
      expect(typesOf(translation)).toEqual(c.facts);
      expect(recorded(translation)).toEqual(translation.facts);
      for (const fact of translation.facts) expect(fact.data.observedAt).toBe(ASKED);
    },
  );

  it('records what is certain in a state this version does not know, with a notice, and says so', () => {
    const translation = translate(rtdn(2, 30), answer({ subscriptionState: 'SUBSCRIPTION_STATE_HIBERNATING' }));
    expect(translation.known).toBe(false);
    expect(typesOf(translation)).toEqual(['SubscriptionStarted', 'StoreNoticeRecorded']);
    expect(noticesOf(translation)).toEqual(['play:SUBSCRIPTION_STATE_HIBERNATING']);
  });

  it.each([
    [{ userInitiatedCancellation: {} }, [], 'voluntary'],
    [{ systemInitiatedCancellation: {} }, [], 'billing_error'],
    [
      { systemInitiatedCancellation: {} },
      [{ priceChangeDetails: { priceChangeMode: 'PRICE_INCREASE', priceChangeState: 'OUTSTANDING' } }],
      'price_increase_declined',
    ],
    [{ developerInitiatedCancellation: {} }, [], 'other'],
    [{ replacementCancellation: {} }, [], 'other'],
    [undefined, [], 'other'],
  ] as const)('expiry after %o (plans %o) has reason %s', (canceledStateContext, plans, reason) => {
    const expired = answer(
      { subscriptionState: 'SUBSCRIPTION_STATE_EXPIRED', ...(canceledStateContext && { canceledStateContext }) },
      [item({ autoRenewingPlan: plans[0] ?? {} })],
    );
    expect(statusAfter(translate(rtdn(13, 30), expired)).expiration?.reason).toBe(reason);
  });

  it('needs acknowledgement while unacknowledged and paid for, never while pending', () => {
    const unacknowledged = { acknowledgementState: 'ACKNOWLEDGEMENT_STATE_PENDING' };
    expect(translate(rtdn(4, 0), answer(unacknowledged)).needsAcknowledgement).toBe(true);
    expect(translate(rtdn(4, 0), answer()).needsAcknowledgement).toBe(false);
    const canceled = answer({ ...unacknowledged, subscriptionState: 'SUBSCRIPTION_STATE_CANCELED' });
    expect(translate(rtdn(3, 1), canceled).needsAcknowledgement).toBe(true);
    const pending = { ...EVERY_STATE.SUBSCRIPTION_STATE_PENDING.answer, ...unacknowledged };
    expect(translate(undefined, pending).needsAcknowledgement).toBe(false);
    const expired = answer({ ...unacknowledged, subscriptionState: 'SUBSCRIPTION_STATE_EXPIRED' });
    expect(translate(rtdn(13, 30), expired).needsAcknowledgement).toBe(false);
  });

  it('returns the app’s account id for the edge to link the purchase with', () => {
    const linked = answer({ externalAccountIdentifiers: { obfuscatedExternalAccountId: 'f3a1-user' } });
    expect(translate(rtdn(4, 0), linked).obfuscatedExternalAccountId).toBe('f3a1-user');
    expect(translate(rtdn(4, 0), answer())).not.toHaveProperty('obfuscatedExternalAccountId');
  });
});

describe('Google Play subscription lifecycles', () => {
  it('a free trial, then its first paid period', () => {
    const trial = active(undefined, 7, {
      offerDetails: { basePlanId: 'monthly', offerId: 'free-week', offerTags: ['trial'] },
      offerPhase: { freeTrial: {} },
    });
    const started = translate(rtdn(4, 0), trial);
    expect(statusAfter(started)).toMatchObject({
      periodType: 'trial',
      current: { transactionId: ORDER, offer: { type: 'introductory', id: 'free-week' } },
      access: { from: day(0), until: day(7) },
    });
    const paid = translate(
      rtdn(2, 7),
      active(0, 37, { offerDetails: { basePlanId: 'monthly', offerId: 'free-week' } }),
    );
    const status = statusAfter(started, paid);
    expect(status).toMatchObject({ periodType: 'normal', current: { transactionId: order(0) } });
    expect(status.current).not.toHaveProperty('offer');
  });

  it('an introductory price, and a promotion code', () => {
    const intro = active(undefined, 30, {
      offerDetails: { basePlanId: 'monthly', offerId: 'half-price' },
      offerPhase: { introductoryPrice: {} },
    });
    expect(statusAfter(translate(rtdn(4, 0), intro))).toMatchObject({
      periodType: 'intro',
      current: { offer: { type: 'introductory', id: 'half-price' } },
    });
    const code = active(undefined, 30, {
      offerPhase: { freeTrial: {} },
      signupPromotion: { vanityCode: { promotionCode: 'SPRING' } },
    });
    expect(statusAfter(translate(rtdn(4, 0), code)).current?.offer).toEqual({ type: 'offer_code' });
  });

  it('grace, then account hold, then recovery', () => {
    const bought = translate(rtdn(4, 0), answer());
    const grace = translate(rtdn(6, 30), EVERY_TYPE[6].answer);
    const hold = translate(
      rtdn(5, 33),
      answer({ subscriptionState: 'SUBSCRIPTION_STATE_ON_HOLD' }, [item({ expiryTime: day(33) })]),
    );
    const recovered = translate(rtdn(1, 40), active(0, 70));
    expect(statusAfter(bought, grace)).toMatchObject({ billing: 'grace', billingIssueDetectedAt: day(30) });
    expect(statusAfter(bought, grace, hold)).toMatchObject({ billing: 'on_hold', billingIssueDetectedAt: day(30) });
    expect(hasAccessAt(statusAfter(bought, grace, hold), day(35))).toBe(false);
    const after = statusAfter(recovered, hold, grace, bought);
    expect(after).toMatchObject({ billing: 'ok', willRenew: true, current: { transactionId: order(0) } });
    expect(after).not.toHaveProperty('billingIssueDetectedAt');
    expect(hasAccessAt(after, day(41))).toBe(true);
  });

  it('pause, then resume', () => {
    const paused = translate(rtdn(10, 30), EVERY_TYPE[10].answer);
    const resumed = translate(rtdn(2, 60), active(0, 90));
    expect(statusAfter(paused).pause).toEqual({ resumesAt: day(60) });
    const after = statusAfter(resumed, paused);
    expect(after).not.toHaveProperty('pause');
    // The renewal that ended the pause counts from when Google reported it, not before.
    expect(after.access).toEqual({ from: day(60), until: day(90) });
  });

  it('cancel, then restart', () => {
    const canceled = translate(rtdn(3, 10), EVERY_TYPE[3].answer);
    const restarted = translate(rtdn(7, 12), answer());
    expect(statusAfter(restarted, canceled)).toMatchObject({ willRenew: true });
    expect(statusAfter(restarted, canceled)).not.toHaveProperty('unsubscribeDetectedAt');
  });

  it('a product change at the next renewal is pending until then', () => {
    const scheduled = translate(
      rtdn(17, 10),
      active(undefined, 30, { deferredItemReplacement: { productId: YEARLY } }),
    );
    expect(statusAfter(scheduled).pendingProductChange).toEqual({ toProductId: YEARLY, change: 'crossgrade' });
    expect(statusAfter(scheduled, translate(rtdn(17, 12), answer())).pendingProductChange).toBeUndefined();
  });

  it('an upgrade: the new purchase names the one it replaced, and both streams record the chain', () => {
    const upgrade = answer({ startTime: day(10), linkedPurchaseToken: 'token-0' }, [
      item({
        productId: YEARLY,
        latestSuccessfulOrderId: 'GPA.7777-0000-1111-22222',
        expiryTime: day(375),
        itemReplacement: { productId: MONTHLY, basePlanId: 'monthly', replacementMode: 'WITH_TIME_PRORATION' },
      }),
    ]);
    const first = translate(rtdn(4, 10, 'token-2'), upgrade, 'token-2');
    expect(first.linkedPurchaseToken).toBe('token-0');
    expect(first.supersedes).toEqual({
      key: { store: 'play_store', environment: 'production', purchaseId: 'token-0' },
      facts: [
        { type: 'StoreNoticeRecorded', data: { notice: 'play:replaced_by/token-2', observedAt: day(10) } },
        // The replaced subscription ends when the new one begins.
        { type: 'SubscriptionRevoked', data: { revokedAt: day(10), reason: 'upgraded', observedAt: day(10) } },
      ],
    });
    expect(noticesOf(first)).toContain('play:replaces/token-0');
    expect(statusAfter(first)).toMatchObject({
      storeProductId: YEARLY,
      lastProductChange: { fromProductId: MONTHLY, toProductId: YEARLY, change: 'crossgrade' },
    });
    // Dated when the new subscription began, the chain is the same in every later answer: recorded once.
    const later = translate(
      rtdn(3, 50, 'token-2'),
      { ...upgrade, subscriptionState: 'SUBSCRIPTION_STATE_CANCELED' },
      'token-2',
    );
    const chain = (t: PlaySubscriptionTranslation) =>
      t.facts.filter((f) => f.type === 'ProductChangeApplied' || f.type === 'StoreNoticeRecorded');
    expect(chain(later)).toEqual(chain(first));
    expect(later.supersedes).toEqual(first.supersedes);
    // A pending upgrade replaces nothing until it is paid for.
    const pending = { ...EVERY_STATE.SUBSCRIPTION_STATE_PENDING.answer, linkedPurchaseToken: 'token-0' };
    expect(translate(undefined, pending, 'token-2')).not.toHaveProperty('supersedes');
  });

  it('a license tester’s purchase is a sandbox purchase, and so is what it replaced', () => {
    const test = translate(rtdn(4, 0), answer({ testPurchase: {}, linkedPurchaseToken: 'token-0' }));
    expect(test.key).toEqual({ store: 'play_store', environment: 'sandbox', purchaseId: TOKEN });
    expect(test.supersedes?.key.environment).toBe('sandbox');
  });

  it('items bought together share an order: each is a period of its own', () => {
    const addOns = answer({}, [item(), item({ productId: 'coaching_monthly' })]);
    expect(statusAfter(translate(rtdn(4, 0), addOns)).current?.transactionId).toMatch(
      /^GPA\..+:(premium|coaching)_monthly$/,
    );
    expect(translate(rtdn(4, 0), addOns).facts.filter((f) => f.type === 'SubscriptionStarted')).toHaveLength(2);
  });

  it('takes the deprecated latestOrderId when the only item has no order id', () => {
    const old = answer({ latestOrderId: order(3) }, [item({ latestSuccessfulOrderId: undefined })]);
    expect(statusAfter(translate(rtdn(2, 90), old)).current?.transactionId).toBe(order(3));
  });

  it('the same notification delivered again gives the same facts', () => {
    expect(translate(rtdn(6, 30), EVERY_TYPE[6].answer)).toEqual(translate(rtdn(6, 30), EVERY_TYPE[6].answer));
  });
});

describe('Google Play one-time products', () => {
  const purchase = (overrides: Partial<ProductPurchase> = {}): ProductPurchase => ({
    kind: 'androidpublisher#productPurchase',
    purchaseTimeMillis: millisOf(1),
    purchaseState: 0,
    consumptionState: 0,
    orderId: 'GPA.5555-6666-7777-88888',
    acknowledgementState: 1,
    regionCode: 'FR',
    ...overrides,
  });
  const notification = (notificationType: number, onDay = 1): DeveloperNotification => ({
    version: '1.0',
    packageName: PACKAGE,
    eventTimeMillis: millisOf(onDay),
    oneTimeProductNotification: { version: '1.0', notificationType, purchaseToken: TOKEN, sku: 'premium_lifetime' },
  });
  const translateProduct = (n: DeveloperNotification | undefined, p: ProductPurchase, productId?: string) =>
    translatePlayProduct({
      ...(n && { notification: n }),
      purchaseToken: TOKEN,
      ...(productId && { productId }),
      purchase: p,
      packageName: PACKAGE,
      observedAt: ASKED,
    });

  it('ONE_TIME_PRODUCT_PURCHASED records the purchase, the same event however it is learnt', () => {
    const notified = translateProduct(notification(1, 2), purchase());
    expect(notified).toMatchObject({ known: true, needsAcknowledgement: false, consumed: false, quantity: 1 });
    expect(notified.facts).toEqual([
      {
        type: 'OneTimeProductPurchased',
        data: {
          transaction: {
            transactionId: 'GPA.5555-6666-7777-88888',
            productId: 'premium_lifetime',
            purchasedAt: day(1),
            periodType: 'normal',
            ownership: 'purchased',
          },
          observedAt: day(1),
        },
      },
    ]);
    expect(statusAfter(notified)).toMatchObject({ kind: 'one_time', access: { from: day(1), until: null } });
    const submitted = translateProduct(undefined, { ...purchase(), productId: 'premium_lifetime' });
    expect(submitted.facts).toEqual(notified.facts);
  });

  it('a consumed consumable keeps its record', () => {
    const consumed = translateProduct(notification(1), purchase({ consumptionState: 1, quantity: 3 }));
    expect(consumed).toMatchObject({ consumed: true, quantity: 3 });
    expect(typesOf(consumed)).toEqual(['OneTimeProductPurchased']);
  });

  it.each([
    [2, 1, 'play:ONE_TIME_PRODUCT_STATE_PENDING'],
    [1, 2, 'play:ONE_TIME_PRODUCT_STATE_CANCELED'],
  ])('purchaseState %i (notification type %i) records only a notice', (purchaseState, type, notice) => {
    const translation = translateProduct(notification(type), purchase({ purchaseState, acknowledgementState: 0 }));
    expect(translation).toMatchObject({ known: true, needsAcknowledgement: false });
    expect(translation.facts).toEqual([{ type: 'StoreNoticeRecorded', data: { notice, observedAt: day(1) } }]);
    expect(statusAfter(translation).access).toBeUndefined();
  });

  it('a test purchase is a sandbox purchase; a promotion code is an offer', () => {
    expect(translateProduct(notification(1), purchase({ purchaseType: 0 })).key.environment).toBe('sandbox');
    const promo = translateProduct(notification(1), purchase({ purchaseType: 1 }));
    expect(promo.key.environment).toBe('production');
    expect(statusAfter(promo).current?.offer).toEqual({ type: 'offer_code' });
  });

  it('needs acknowledgement once purchased and not acknowledged', () => {
    expect(translateProduct(notification(1), purchase({ acknowledgementState: 0 })).needsAcknowledgement).toBe(true);
  });

  it('records unknown notification types and purchase states, and says so', () => {
    const type = translateProduct(notification(7), purchase());
    expect(type.known).toBe(false);
    expect(noticesOf(type)).toEqual(['play:oneTimeProductNotification/7']);
    const state = translateProduct(notification(1), purchase({ purchaseState: 9 }));
    expect(state.known).toBe(false);
    expect(noticesOf(state)).toEqual(['play:purchaseState/9']);
  });

  it('refuses a purchase whose product nobody names, and a notification of another kind', () => {
    expect(() => translateProduct(undefined, purchase())).toThrow(PlayDocumentMismatch);
    expect(translateProduct(undefined, purchase(), 'tip_small').facts).toHaveLength(1);
    expect(() => translateProduct(rtdn(2, 1), purchase())).toThrow(/not about a one-time product/);
  });
});

describe('Google Play voided purchases', () => {
  const voidedNotification = (refundType: number, productType = 2, onDay = 5): DeveloperNotification => ({
    version: '1.0',
    packageName: PACKAGE,
    eventTimeMillis: millisOf(onDay),
    voidedPurchaseNotification: { purchaseToken: TOKEN, orderId: order(0), productType, refundType },
  });
  const listed = (overrides: { voidedReason?: number; voidedQuantity?: number } = {}) => ({
    kind: 'androidpublisher#voidedPurchase' as const,
    purchaseToken: TOKEN,
    orderId: order(0),
    purchaseTimeMillis: millisOf(30),
    voidedTimeMillis: millisOf(35),
    voidedSource: 0,
    ...overrides,
  });
  const environment = 'production' as const;

  it('a refund notification revokes the order at the event time', () => {
    const refund = translatePlayVoided({ environment, notification: voidedNotification(1, 1, 35) });
    expect(refund).toMatchObject({ key: { purchaseId: TOKEN, store: 'play_store' }, known: true, partial: false });
    expect(refund.facts).toEqual([
      { type: 'TransactionRefunded', data: { transactionId: order(0), refundedAt: day(35), observedAt: day(35) } },
    ]);
    // The renewal's period ends at the refund.
    const renewed = translate(rtdn(2, 30), active(0, 60));
    expect(statusAfter(renewed, refund)).toMatchObject({
      revocation: { revokedAt: day(35), reason: 'refund' },
      access: { until: day(35) },
    });
  });

  it.each([
    [1, 'TransactionRefunded', 'refund'],
    [7, 'TransactionRevoked', 'chargeback'],
    [6, 'TransactionRevoked', 'chargeback'],
    [5, 'TransactionRevoked', 'other'],
    [8, 'TransactionRefunded', 'refund'],
  ])('a listed purchase voided for reason %i is %s (%s) at its voided time', (voidedReason, type, reason) => {
    const voided = translatePlayVoided({ environment, voidedPurchase: listed({ voidedReason }) });
    expect(typesOf(voided)).toEqual([type]);
    expect(voided.facts[0]!.data.observedAt).toBe(day(35));
    const renewed = translate(rtdn(2, 30), active(0, 60));
    expect(statusAfter(renewed, voided).revocation).toEqual({ revokedAt: day(35), reason });
  });

  it('a quantity-based partial refund is noted, and revokes nothing', () => {
    const notified = translatePlayVoided({ environment, notification: voidedNotification(2) });
    expect(notified).toMatchObject({ partial: true, known: true });
    expect(noticesOf(notified)).toEqual([`play:partial_refund/${order(0)}`]);
    const fromList = translatePlayVoided({ environment, voidedPurchase: listed({ voidedQuantity: 2 }) });
    expect(fromList.partial).toBe(true);
    expect(noticesOf(fromList)).toEqual([`play:partial_refund/${order(0)}/quantity/2`]);
  });

  it('records refund and product types this version does not know, and says so', () => {
    const refund = translatePlayVoided({ environment, notification: voidedNotification(3) });
    expect(refund.known).toBe(false);
    expect(typesOf(refund)).toEqual(['StoreNoticeRecorded']);
    const product = translatePlayVoided({ environment, notification: voidedNotification(1, 4) });
    expect(product.known).toBe(false);
    expect(typesOf(product)).toEqual(['TransactionRefunded', 'StoreNoticeRecorded']);
  });
});

describe('Google Play documents: the schemas refuse malformed ones, naming what is wrong', () => {
  const base64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');
  const envelope = { version: '1.0', packageName: PACKAGE, eventTimeMillis: millisOf(0) };
  const refusal = (parse: () => unknown) => {
    try {
      parse();
    } catch (error) {
      expect(error).toBeInstanceOf(MalformedPlayDocument);
      return (error as Error).message;
    }
    throw new Error('accepted');
  };

  it('a push: its data is base64 of the notification, as the webhook decodes it', () => {
    expect(payloadOf(decodeNotification(base64(rtdn(2, 1))))).toEqual({
      kind: 'subscription',
      subscription: rtdn(2, 1).subscriptionNotification,
    });
    expect(() => decodeNotification('bm90IGpzb24=')).toThrow(/not base64 of a JSON document/); // "not json"
    expect(() => decodeNotification(base64({ version: '1.0' }))).toThrow(/Not a developer notification/);
  });

  it('a notification with no payload, two payloads, or a time that is not digits', () => {
    expect(refusal(() => parseDeveloperNotification(envelope))).toMatch(
      /exactly one of subscriptionNotification, oneTimeProductNotification, voidedPurchaseNotification, testNotification is required/,
    );
    const two = { ...rtdn(2, 0), testNotification: { version: '1.0' } };
    expect(refusal(() => parseDeveloperNotification(two))).toMatch(/not subscriptionNotification and testNotification/);
    expect(refusal(() => parseDeveloperNotification({ ...rtdn(2, 0), eventTimeMillis: 1 }))).toMatch(
      /^.*eventTimeMillis: /,
    );
    expect(refusal(() => parseDeveloperNotification({ ...rtdn(2, 0), eventTimeMillis: 'yesterday' }))).toMatch(
      /eventTimeMillis: milliseconds since the epoch, as a string of digits/,
    );
    const noType = { ...envelope, subscriptionNotification: { version: '1.0', purchaseToken: TOKEN } };
    expect(refusal(() => parseDeveloperNotification(noType))).toMatch(/subscriptionNotification\.notificationType: /);
  });

  it('a notification of a kind Google added later is accepted, to be recorded', () => {
    const later = parseDeveloperNotification({
      ...envelope,
      pendingRefundReviewNotification: { purchaseToken: TOKEN },
    });
    expect(payloadOf(later)).toEqual({ kind: 'unknown', field: 'pendingRefundReviewNotification' });
    expect(payloadOf(parseDeveloperNotification({ ...envelope, testNotification: { version: '1.0' } }))).toEqual({
      kind: 'test',
      test: { version: '1.0' },
    });
  });

  it('a subscription answer without its state or items, with bad times, or of another API', () => {
    expect(refusal(() => parseSubscriptionPurchaseV2({ startTime: day(0) }))).toBe(
      'Not a valid SubscriptionPurchaseV2: subscriptionState: Invalid input: expected string, received undefined; lineItems: Invalid input: expected array, received undefined',
    );
    const badTime = { ...answer(), lineItems: [{ ...item(), expiryTime: '2026-03-31' }] };
    expect(refusal(() => parseSubscriptionPurchaseV2(badTime))).toMatch(/lineItems\.0\.expiryTime: an RFC 3339 time/);
    expect(refusal(() => parseSubscriptionPurchaseV2({ ...answer(), subscriptionState: 'active' }))).toMatch(
      /subscriptionState: a subscription state such as SUBSCRIPTION_STATE_ACTIVE/,
    );
    expect(
      refusal(() => parseSubscriptionPurchaseV2({ ...answer(), kind: 'androidpublisher#subscriptionPurchase' })),
    ).toMatch(/^Not a valid SubscriptionPurchaseV2: kind: /);
  });

  it('accepts a real answer, with fields it does not read and nanosecond times', () => {
    const real = {
      ...answer(),
      startTime: '2026-03-01T00:00:00.123456Z',
      etag: 'abc',
      somethingNew: { x: 1 },
      lineItems: [
        {
          ...item(),
          autoRenewingPlan: {
            autoRenewEnabled: true,
            recurringPrice: { currencyCode: 'EUR', units: '9', nanos: 990000000 },
          },
        },
      ],
    };
    const parsed = parseSubscriptionPurchaseV2(real);
    expect(parsed).not.toHaveProperty('somethingNew');
    expect(statusAfter(translate(rtdn(4, 0), parsed)).access?.from).toBe('2026-03-01T00:00:00.123Z');
    // The plan's recurring price, as a decimal amount (for outgoing webhooks).
    expect(statusAfter(translate(rtdn(4, 0), parsed)).current?.price).toEqual({ amount: '9.99', currency: 'EUR' });
  });

  it('a product purchase or voided purchase missing what identifies it', () => {
    expect(refusal(() => parseProductPurchase({ purchaseState: 0 }))).toMatch(/purchaseTimeMillis: /);
    expect(refusal(() => parseProductPurchase({ purchaseTimeMillis: millisOf(0), purchaseState: -1 }))).toMatch(
      /purchaseState: /,
    );
    expect(refusal(() => parseVoidedPurchase({ purchaseToken: TOKEN, voidedTimeMillis: millisOf(0) }))).toMatch(
      /orderId: /,
    );
    const parsed = parseVoidedPurchase({
      purchaseToken: TOKEN,
      orderId: ORDER,
      voidedTimeMillis: millisOf(0),
      voidedReason: 7,
    });
    expect(parsed.voidedReason).toBe(7);
  });
});

/*
 * Google delivers at least once and in no guaranteed order, and Subledger asks the API
 * after each notification. A lifecycle is generated as a model of the subscription;
 * each step is a notification and the API's answer just after it.
 */
interface Model {
  readonly onDay: number;
  readonly state: PlaySubscriptionState;
  /** The current order: the first one (undefined) or renewal n. */
  readonly renewal: number | undefined;
  readonly expiresDay: number;
  readonly autoRenew: boolean;
  readonly trial: boolean;
  readonly resumesDay?: number | undefined;
  readonly revokedDay?: number;
}
interface Step {
  readonly notification: DeveloperNotification;
  readonly purchase: SubscriptionPurchaseV2;
  readonly model: Model;
}

/** The next day something happens, not before `d`. */
const after = (m: Model, d: number) => Math.max(m.onDay + 1, d);
/** Paid on `onDay` for a new month: the next order. */
const paidOn = (m: Model, onDay: number): Model => ({
  ...m,
  onDay,
  state: 'SUBSCRIPTION_STATE_ACTIVE',
  renewal: m.renewal === undefined ? 0 : m.renewal + 1,
  expiresDay: onDay + 30,
  resumesDay: undefined,
});
const to = (m: Model, onDay: number, state: PlaySubscriptionState, changes: Partial<Model> = {}): Model => ({
  ...m,
  onDay,
  state,
  ...changes,
});
/** What can happen next in each state: the notification Google sends and the subscription after it. */
const MOVES: Record<PlaySubscriptionState, ((m: Model) => [type: number, next: Model])[]> = {
  SUBSCRIPTION_STATE_ACTIVE: [
    (m) => [2, paidOn(m, after(m, m.expiresDay))],
    (m) => [3, to(m, m.onDay + 1, 'SUBSCRIPTION_STATE_CANCELED', { autoRenew: false })],
    (m) => {
      const onDay = after(m, m.expiresDay);
      return [6, to(m, onDay, 'SUBSCRIPTION_STATE_IN_GRACE_PERIOD', { expiresDay: onDay + 3 })];
    },
    (m) => {
      const onDay = after(m, m.expiresDay);
      return [10, to(m, onDay, 'SUBSCRIPTION_STATE_PAUSED', { expiresDay: onDay, resumesDay: onDay + 30 })];
    },
    (m) => [9, { ...m, onDay: m.onDay + 1, expiresDay: after(m, m.expiresDay) + 10 }],
    (m) => [12, to(m, m.onDay + 1, 'SUBSCRIPTION_STATE_EXPIRED', { autoRenew: false, revokedDay: m.onDay + 1 })],
    (m) => [8, { ...m, onDay: m.onDay + 1 }],
  ],
  SUBSCRIPTION_STATE_CANCELED: [
    (m) => [7, to(m, m.onDay + 1, 'SUBSCRIPTION_STATE_ACTIVE', { autoRenew: true })],
    (m) => [13, to(m, after(m, m.expiresDay), 'SUBSCRIPTION_STATE_EXPIRED')],
  ],
  SUBSCRIPTION_STATE_IN_GRACE_PERIOD: [
    (m) => [1, paidOn(m, m.onDay + 1)],
    (m) => [5, to(m, after(m, m.expiresDay), 'SUBSCRIPTION_STATE_ON_HOLD')],
  ],
  SUBSCRIPTION_STATE_ON_HOLD: [
    (m) => [1, paidOn(m, m.onDay + 5)],
    (m) => [13, to(m, m.onDay + 30, 'SUBSCRIPTION_STATE_EXPIRED', { autoRenew: false })],
  ],
  SUBSCRIPTION_STATE_PAUSED: [(m) => [2, paidOn(m, after(m, m.resumesDay!))]],
  SUBSCRIPTION_STATE_EXPIRED: [],
  // Not reached by these lifecycles (the translation tables above cover them).
  SUBSCRIPTION_STATE_UNSPECIFIED: [],
  SUBSCRIPTION_STATE_PENDING: [],
  SUBSCRIPTION_STATE_PENDING_PURCHASE_CANCELED: [],
};

function stepOf(type: number, model: Model): Step {
  const { state, renewal, expiresDay, autoRenew, trial, resumesDay, revokedDay } = model;
  const purchase = answer(
    {
      subscriptionState: state,
      ...(resumesDay !== undefined && { pausedStateContext: { autoResumeTime: day(resumesDay) } }),
      ...(state === 'SUBSCRIPTION_STATE_CANCELED' && { canceledStateContext: { userInitiatedCancellation: {} } }),
      ...(state === 'SUBSCRIPTION_STATE_EXPIRED' && {
        canceledStateContext:
          revokedDay !== undefined ? { developerInitiatedCancellation: {} } : { systemInitiatedCancellation: {} },
      }),
    },
    [
      item({
        latestSuccessfulOrderId: order(renewal),
        expiryTime: day(expiresDay),
        autoRenewingPlan: autoRenew ? { autoRenewEnabled: true } : {},
        offerPhase: trial && renewal === undefined ? { freeTrial: {} } : { basePrice: {} },
      }),
    ],
  );
  return { notification: rtdn(type, model.onDay), purchase, model };
}

const lifecycle: fc.Arbitrary<Step[]> = fc
  .tuple(fc.boolean(), fc.array(fc.nat(), { maxLength: 14 }))
  .map(([trial, choices]) => {
    let model: Model = {
      onDay: 0,
      state: 'SUBSCRIPTION_STATE_ACTIVE',
      renewal: undefined,
      expiresDay: trial ? 7 : 30,
      autoRenew: true,
      trial,
    };
    const steps = [stepOf(4, model)];
    for (const choice of choices) {
      const moves = MOVES[model.state];
      if (moves.length === 0) break;
      const [type, next] = moves[choice % moves.length]!(model);
      model = next;
      steps.push(stepOf(type, model));
    }
    return steps;
  });

/** The steps reordered, with some delivered twice. */
const deliveries = <T>(steps: T[]) =>
  fc
    .array(fc.nat({ max: steps.length - 1 }), { maxLength: steps.length })
    .chain((repeats) =>
      fc.shuffledSubarray([...steps, ...repeats.map((i) => steps[i]!)], { minLength: steps.length + repeats.length }),
    );

/** Translated as the edge does: the API answer with its notification, asked whenever the worker got to it. */
const factsOfDeliveries = (delivered: Step[]) =>
  delivered.flatMap(
    (step, processed) =>
      translatePlaySubscription({
        notification: step.notification,
        purchaseToken: TOKEN,
        purchase: step.purchase,
        packageName: PACKAGE,
        observedAt: day(400 + processed),
      }).facts,
  );

describe('Google Play: order and duplicates do not matter', () => {
  it('folds the facts of any delivery order, with duplicates, to the status of the ordered sequence', () => {
    fc.assert(
      fc.property(
        lifecycle.chain((steps) =>
          fc.tuple(fc.constant(steps), deliveries(steps), fc.array(fc.nat({ max: 200 }), { maxLength: 4 })),
        ),
        ([steps, delivered, moments]) => {
          const facts = factsOfDeliveries(steps);
          expect(recorded({ facts })).toHaveLength(new Set(facts.map((f) => JSON.stringify(f))).size);
          const ordered = foldPurchase(facts);
          const shuffled = foldPurchase(factsOfDeliveries(delivered));
          for (const at of [END_OF_TIME, ...moments.map(day)]) {
            expect(purchaseStatusAt(shuffled, at)).toEqual(purchaseStatusAt(ordered, at));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the newest answer decides, whatever arrived before it and whatever was lost', () => {
    const lost = (steps: Step[]) =>
      fc
        .subarray(steps.slice(0, -1))
        .chain((kept) => deliveries([...kept, steps.at(-1)!]))
        .map((delivered) => [steps.at(-1)!.model, delivered] as const);
    fc.assert(
      fc.property(lifecycle.chain(lost), ([last, delivered]) => {
        const status = finalStatus(foldPurchase(factsOfDeliveries(delivered)));
        const billing = {
          SUBSCRIPTION_STATE_IN_GRACE_PERIOD: 'grace',
          SUBSCRIPTION_STATE_ON_HOLD: 'on_hold',
        }[last.state as string];
        if (last.state !== 'SUBSCRIPTION_STATE_EXPIRED') expect(status.billing).toBe(billing ?? 'ok');
        expect(status.willRenew).toBe(last.autoRenew && last.state !== 'SUBSCRIPTION_STATE_EXPIRED');
        expect(status.current?.transactionId).toBe(order(last.renewal));
        expect(status.periodType).toBe(last.trial && last.renewal === undefined ? 'trial' : 'normal');
        const until = Math.min(last.revokedDay ?? Infinity, last.expiresDay);
        // A renewal's period counts from the first answer naming its order (the fold's earliest).
        // A period first reported once over (its notifications lost) gave no access we knew of.
        const from = last.renewal === undefined ? day(0) : status.current!.purchasedAt;
        expect(status.access).toEqual(
          Date.parse(from) < Date.parse(day(until)) ? { from, until: day(until) } : undefined,
        );
        expect(status.pause).toEqual(last.resumesDay === undefined ? undefined : { resumesAt: day(last.resumesDay) });
        expect(status.expiration !== undefined).toBe(last.state === 'SUBSCRIPTION_STATE_EXPIRED');
        expect(status.revocation !== undefined).toBe(last.revokedDay !== undefined);
      }),
      { numRuns: 300 },
    );
  });
});
