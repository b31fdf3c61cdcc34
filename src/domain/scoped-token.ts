import type { Entitlement } from './entitlements.ts';
import { millis, toTimestamp, type Timestamp } from './time.ts';

/** What a scoped token grants: the active entitlements, until the first of them ends. */
export interface ScopedTokenGrant {
  /** Active entitlement ids, sorted: the token's `scope`, and a CDN cache key. */
  readonly scope: readonly string[];
  readonly issuedAt: Timestamp;
  readonly expiresAt: Timestamp;
}

/**
 * The grant for a customer's entitlements at `now`: every active entitlement, and an
 * expiry no later than `maxLifetimeMs` from now nor than the earliest end of those
 * entitlements, so a token never outlives the access it proves. A customer with no
 * active entitlement gets an empty scope (public content only).
 */
export function scopedTokenGrant(
  entitlements: readonly Entitlement[],
  now: Timestamp,
  maxLifetimeMs: number,
): ScopedTokenGrant {
  // JWT times are whole seconds, rounded down so a token never outlasts its access. An
  // entitlement ending within the current second would make the token expired at
  // birth: it is left out instead.
  const second = (ms: number) => Math.floor(ms / 1000) * 1000;
  const endOf = (e: Entitlement) => (e.expiresAt === null ? Number.POSITIVE_INFINITY : second(millis(e.expiresAt)));
  const active = entitlements.filter((e) => e.active && endOf(e) > millis(now));
  const expires = Math.min(second(millis(now) + maxLifetimeMs), ...active.map(endOf));
  return {
    scope: [...new Set(active.map((e) => e.id))].sort(),
    issuedAt: now,
    expiresAt: toTimestamp(expires),
  };
}
