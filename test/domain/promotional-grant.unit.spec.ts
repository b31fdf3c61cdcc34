import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/runtime/system-clock.ts';
import { endGrant } from '../../src/application/end-grant.ts';
import { giveGrant, grantKey } from '../../src/application/give-grant.ts';
import { detachedReadModelView } from '../../src/application/read-model-view.ts';
import { parseCatalog } from '../../src/config/catalog-file.ts';
import { purchaseDecider, type PurchaseCommand } from '../../src/domain/purchase/decider.ts';
import { isPurchaseEvent, type PurchaseEvent } from '../../src/domain/purchase/events.ts';
import { GrantRefused } from '../../src/domain/purchase/promotional-grant.ts';
import { purchaseStreamId } from '../../src/domain/purchase/purchase-key.ts';
import { foldPurchase } from '../../src/domain/purchase/state.ts';
import { hasAccessAt, purchaseStatusAt } from '../../src/domain/purchase/status.ts';
import { InMemoryEventStore } from '../../src/eventstore/in-memory/in-memory-event-store.ts';
import { DeciderSpecification } from '../support/decider-specification.ts';

/* Promotional grants: given and ended by support staff, judged by the purchase decider. */
const { given } = DeciderSpecification.for(purchaseDecider);
const START = '2026-12-01T10:00:00.000Z';
const END = '2026-12-08T10:00:00.000Z';
const give = (data: Partial<Extract<PurchaseCommand, { type: 'GiveGrant' }>['data']> = {}): PurchaseCommand => ({
  type: 'GiveGrant',
  data: { grantId: 'g1', productId: 'premium_monthly', appUserId: 'alice', startsAt: START, endsAt: END, ...data },
});
const end = (appUserId = 'alice', at = '2026-12-03T00:00:00.000Z'): PurchaseCommand => ({
  type: 'EndGrant',
  data: { grantId: 'g1', appUserId, at },
});
const transaction = {
  transactionId: 'g1',
  productId: 'premium_monthly',
  purchasedAt: START,
  periodType: 'normal',
  ownership: 'purchased',
} as const;
const given7Days: PurchaseEvent[] = [
  { type: 'SubscriptionStarted', data: { transaction: { ...transaction, expiresAt: END }, observedAt: START } },
  { type: 'AutoRenewTurnedOff', data: { observedAt: START } },
  { type: 'PurchaseLinkedToAppUser', data: { appUserId: 'alice', via: 'support_transfer', observedAt: START } },
];

describe('giving a grant', () => {
  it('records the purchase, that it never renews, and its owner, together', () => {
    given([]).when(give()).then(given7Days);
  });

  it('for good: a one-time purchase', () => {
    given([])
      .when(give({ endsAt: undefined }))
      .then([
        { type: 'OneTimeProductPurchased', data: { transaction, observedAt: START } },
        { type: 'PurchaseLinkedToAppUser', data: { appUserId: 'alice', via: 'support_transfer', observedAt: START } },
      ]);
  });

  it('again (a retry) changes nothing', () => {
    given(given7Days).when(give()).thenNothingHappened();
  });

  it('is refused when it would end before it starts', () => {
    const refusal = given([])
      .when(give({ endsAt: START }))
      .thenThrows(GrantRefused);
    expect(refusal).toMatchObject({ code: 'invalid_period' });
  });
});

describe('ending a grant', () => {
  it('revokes it from that instant', () => {
    given(given7Days)
      .when(end())
      .then([
        {
          type: 'TransactionRevoked',
          data: {
            transactionId: 'g1',
            revokedAt: '2026-12-03T00:00:00.000Z',
            reason: 'other',
            observedAt: '2026-12-03T00:00:00.000Z',
          },
        },
      ]);
  });

  it('is refused for another customer’s grant, and for none', () => {
    expect(given(given7Days).when(end('bob')).thenThrows(GrantRefused)).toMatchObject({ code: 'unknown_grant' });
    expect(given([]).when(end()).thenThrows(GrantRefused)).toMatchObject({ code: 'unknown_grant' });
  });

  it('twice changes nothing: its end stays when it was', () => {
    const { events } = given(given7Days)
      .when(end())
      .then([expect.anything() as unknown as PurchaseEvent]);
    given([...given7Days, ...events])
      .when(end('alice', '2026-12-05T00:00:00.000Z'))
      .thenNothingHappened();
  });
});

const catalog = parseCatalog(await readFile('catalog/sample-fitness.json', 'utf8'));

describe('the grant use cases', () => {
  const now = new Date('2026-12-01T10:00:00.000Z');
  const clock = { now: () => now };

  it('give a grant that is the customer’s, active and not renewing, from the instant it starts', async () => {
    const eventStore = new InMemoryEventStore();
    const grant = await giveGrant({ eventStore, catalog, clock, view: detachedReadModelView }, 'alice', {
      productId: 'premium_monthly',
      durationDays: 7,
      reason: 'apology',
      staff: 'support',
    });
    const events = (await eventStore.readStream(purchaseStreamId(grantKey(grant.grantId)))).filter(isPurchaseEvent);
    const status = purchaseStatusAt(foldPurchase(events), grant.startsAt);
    expect(grant.startsAt).toBe(now.toISOString());
    expect(status.owner?.appUserId).toBe('alice');
    expect(hasAccessAt(status, grant.startsAt)).toBe(true);
    expect(status.willRenew).toBe(false);
    expect(status.access?.until).toBe(grant.endsAt);
    // One append: the grant is never recorded without its owner.
    expect(new Set(events.map((e) => e.position.commit)).size).toBe(1);
  });

  it('refuse a product the catalog does not know, recording nothing', async () => {
    const eventStore = new InMemoryEventStore();
    const request = { productId: 'nothing', reason: 'r', staff: 's' };
    await expect(
      giveGrant({ eventStore, catalog, clock, view: detachedReadModelView }, 'alice', request),
    ).rejects.toMatchObject({ code: 'unknown_product' });
    expect(await eventStore.headPosition()).toMatchObject({ sequence: 0n });
  });

  it('end a grant: no access from then on', async () => {
    const eventStore = new InMemoryEventStore();
    const deps = { eventStore, catalog, clock: systemClock, view: detachedReadModelView };
    const grant = await giveGrant(deps, 'alice', { productId: 'premium_monthly', reason: 'r', staff: 's' });
    await endGrant(deps, 'alice', grant.grantId, { reason: 'r', staff: 's' });
    const events = (await eventStore.readStream(purchaseStreamId(grantKey(grant.grantId)))).filter(isPurchaseEvent);
    const later = new Date(Date.now() + 1000).toISOString();
    expect(hasAccessAt(purchaseStatusAt(foldPurchase(events), later), later)).toBe(false);
  });
});
