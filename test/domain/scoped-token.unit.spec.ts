import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Entitlement } from '../../src/domain/entitlements.ts';
import { scopedTokenGrant } from '../../src/domain/scoped-token.ts';
import { millis, toTimestamp } from '../../src/domain/time.ts';

const NOW = Date.parse('2026-11-27T12:00:00.250Z');
const MINUTE = 60_000;
const MAX = 15 * MINUTE;

function entitlement(id: string, active: boolean, expiresAt: number | null): Entitlement {
  return {
    id,
    active,
    expiresAt: expiresAt === null ? null : toTimestamp(expiresAt),
    purchasedAt: toTimestamp(NOW - 86_400_000),
    currentPeriod: {
      startsAt: toTimestamp(NOW - 86_400_000),
      endsAt: expiresAt === null ? null : toTimestamp(expiresAt),
    },
    productId: `${id}_monthly`,
    storeProductId: `com.example.${id}`,
    purchase: { store: 'app_store', environment: 'production', purchaseId: id },
    willRenew: true,
    periodType: 'normal',
    ownership: 'purchased',
  };
}
const grant = (entitlements: Entitlement[]) => scopedTokenGrant(entitlements, toTimestamp(NOW), MAX);

describe('scoped token grant', () => {
  it('lists the active entitlements and lasts the maximum when they outlast it', () => {
    const g = grant([
      entitlement('premium', true, NOW + 30 * 86_400_000),
      entitlement('coaching', true, null),
      entitlement('old', false, NOW - MINUTE),
    ]);
    expect(g.scope).toEqual(['coaching', 'premium']);
    expect(g.expiresAt).toBe('2026-11-27T12:15:00.000Z');
  });

  it('never outlives the entitlement that ends first', () => {
    const g = grant([entitlement('premium', true, NOW + 5 * MINUTE + 900), entitlement('coaching', true, null)]);
    expect(g.expiresAt).toBe('2026-11-27T12:05:01.000Z');
  });

  it('leaves out an entitlement ending within the current second, rather than issue a token expired at birth', () => {
    const g = grant([entitlement('premium', true, NOW + 500), entitlement('coaching', true, null)]);
    expect(g.scope).toEqual(['coaching']);
    expect(millis(g.expiresAt)).toBeGreaterThan(NOW);
  });

  it('grants an empty scope to a customer with nothing active', () => {
    expect(grant([entitlement('premium', false, NOW - MINUTE)])).toMatchObject({ scope: [] });
  });

  it('always expires after now, in whole seconds, no later than the maximum or any scoped entitlement', () => {
    const anEntitlement = fc.record({
      id: fc.constantFrom('a', 'b', 'c', 'd'),
      active: fc.boolean(),
      end: fc.option(fc.integer({ min: -MAX, max: 2 * MAX }), { nil: null }),
    });
    fc.assert(
      // One entry per entitlement id, as entitlementsAt gives them.
      fc.property(fc.uniqueArray(anEntitlement, { maxLength: 4, selector: (e) => e.id }), (specs) => {
        const entitlements = specs.map((s) => entitlement(s.id, s.active, s.end === null ? null : NOW + s.end));
        const g = grant(entitlements);
        const expires = millis(g.expiresAt);
        expect(expires % 1000).toBe(0);
        expect(expires).toBeGreaterThan(NOW);
        expect(expires).toBeLessThanOrEqual(NOW + MAX);
        for (const e of entitlements.filter((x) => g.scope.includes(x.id) && x.expiresAt !== null)) {
          expect(expires).toBeLessThanOrEqual(millis(e.expiresAt!));
        }
        expect(g.scope.every((id) => entitlements.some((e) => e.id === id && e.active))).toBe(true);
      }),
    );
  });
});
