import type { GlobalPosition } from '../eventstore/global-position.ts';
import type { Logger } from '../observability/logger.ts';
import type { CustomerCache } from '../projections/entitlements/customer-cache.ts';

/**
 * What a use case needs of the read model after it wrote (read your writes). The service
 * waits for its projection; the CLI runs none, and a running service shows the write
 * within moments.
 */
export interface ReadModelView {
  /**
   * Returns once the read model has applied everything up to `position` (the newest event
   * the write recorded) and this instance has forgotten the customers it changed, so that
   * their next read, or a token minted right after, shows it.
   */
  showWrites(position: GlobalPosition | undefined, appUserIds: Iterable<string>): Promise<void>;
  /** Forgets cached reads of these customers: their rows were rewritten directly (a replay). */
  forget(appUserIds: Iterable<string>): void;
}

/** What read-your-writes needs of the entitlements projection: to learn when it has got somewhere. */
export interface ProjectionProgress {
  waitFor(position: GlobalPosition, timeoutMs: number): Promise<boolean>;
}

/** How long a write waits for the read model to show what it recorded. */
const READ_YOUR_WRITES_TIMEOUT_MS = 5_000;

/**
 * The service's view: its projection (run here, or followed) and its customer cache. After the timeout it
 * returns anyway, with a warning: the write is recorded, only the read model is late.
 */
export function liveReadModelView(deps: {
  readonly entitlements: ProjectionProgress;
  readonly customers: CustomerCache;
  readonly logger: Logger;
}): ReadModelView {
  const forget = (appUserIds: Iterable<string>) => {
    for (const user of appUserIds) deps.customers.invalidate(user);
  };
  return {
    async showWrites(position, appUserIds) {
      const caughtUp = !position || (await deps.entitlements.waitFor(position, READ_YOUR_WRITES_TIMEOUT_MS));
      if (!caughtUp) deps.logger.warn('entitlements did not catch up in time; the answer may be stale');
      // The read model's notice of this change may still be on its way: do not wait for it.
      forget(appUserIds);
    },
    forget,
  };
}

/** The CLI's view: no projection in this process, no cache to forget. */
export const detachedReadModelView: ReadModelView = {
  async showWrites() {},
  forget() {},
};
