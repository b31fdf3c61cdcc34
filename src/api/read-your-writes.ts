import type { FastifyBaseLogger } from 'fastify';
import type { GlobalPosition } from '../eventstore/global-position.ts';
import type { CustomerCache } from '../projections/entitlements/customer-cache.ts';
import type { ProjectionRunner } from '../projections/runner.ts';

export interface ReadYourWritesDeps {
  /** The projection customers are read from. */
  readonly entitlements: ProjectionRunner;
  /** Customers' purchases, through the cache the read model invalidates. */
  readonly customers: CustomerCache;
}

/** How long a write waits for the read model to show what it recorded. */
const READ_YOUR_WRITES_TIMEOUT_MS = 5_000;

/**
 * Read your writes: returns once the read model has applied everything up to `position`
 * (the newest event the write recorded, from `newestPosition`) and this instance has
 * forgotten the customers the write changed, so that their next read, a token minted
 * right after, shows it. After the timeout it returns anyway, with a warning: the
 * write is recorded, only the read model is late.
 */
export async function showWrites(
  deps: ReadYourWritesDeps,
  log: FastifyBaseLogger,
  position: GlobalPosition | undefined,
  appUserIds: readonly string[],
): Promise<void> {
  const caughtUp = !position || (await deps.entitlements.waitFor(position, READ_YOUR_WRITES_TIMEOUT_MS));
  if (!caughtUp) log.warn('entitlements did not catch up in time; the answer may be stale');
  // The read model's notice of this change may still be on its way: do not wait for it.
  for (const user of appUserIds) deps.customers.invalidate(user);
}
