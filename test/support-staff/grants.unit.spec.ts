import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/catalog-file.ts';
import { isPurchaseEvent } from '../../src/domain/purchase/events.ts';
import { purchaseStreamId } from '../../src/domain/purchase/purchase-key.ts';
import { foldPurchase } from '../../src/domain/purchase/state.ts';
import { hasAccessAt, purchaseStatusAt } from '../../src/domain/purchase/status.ts';
import { InMemoryEventStore } from '../../src/eventstore/in-memory/in-memory-event-store.ts';
import { grantEntitlement, grantKey } from '../../src/support/grants.ts';

/* A promotional grant, as the customer sees it from its very first instant. */
const catalog = parseCatalog(await readFile('catalog/sample-fitness.json', 'utf8'));
const now = new Date('2026-12-01T10:00:00.000Z');

describe('a promotional grant', () => {
  it('is the customer’s, active and not renewing, from the instant it starts', async () => {
    const eventStore = new InMemoryEventStore();
    const grant = await grantEntitlement({ eventStore, catalog, now: () => now }, 'alice', {
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
  });
});
