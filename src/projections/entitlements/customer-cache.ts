import type { DatabaseSignals } from '../../db/database-signals.ts';
import type { Queryable } from '../../db/pool.ts';
import type { CustomerPurchase } from '../../domain/entitlements.ts';
import type { Logger } from '../../observability/logger.ts';
import { findPurchasesOfCustomers } from './customer-purchases.ts';
import { changedCustomers, CUSTOMER_CHANGES_CHANNEL } from './purchases-projection.ts';
import { isDatabaseUnavailable } from '../../db/unavailable.ts';
import { PerTurnReads } from '../../db/per-turn-reads.ts';

export interface CustomerCacheOptions {
  /** Where the read model's notices of changed customers arrive. */
  readonly signals: DatabaseSignals;
  /** Where customers are read from. */
  readonly db: Queryable;
  readonly logger: Logger;
  readonly maxEntries?: number;
}

/**
 * Customers' purchases from the read model, kept in memory so that a hot customer
 * costs no query per request. The read model announces at commit which customers
 * changed (purchases-projection.ts), to every instance on the database, and this
 * cache drops them: a change is visible within the notification's delay.
 *
 * Misses that arrive together are read together: one query per turn of the event
 * loop for every customer asked for meanwhile, so a burst of cold customers costs a
 * few round trips, not one each. Whenever the signals are not listening, nothing is
 * cached: with no way to hear about changes, every read goes to the database.
 */

export class CustomerCache {
  private readonly entries = new Map<string, readonly CustomerPurchase[]>();
  /** Moves on every invalidation; a read that started before one must not fill the cache. */
  private epoch = 0;
  private listening = false;
  private unsubscribe: (() => void)[] = [];
  /**
   * What was cached when the LISTEN connection broke: no longer trusted (a change may be
   * missed), but answered while the database cannot be reached at all, when nothing can
   * change either. Dropped once listening again.
   */
  private lastKnown = new Map<string, readonly CustomerPurchase[]>();
  /** Misses, read together: one query per turn of the event loop. */
  private readonly misses = new PerTurnReads<string, readonly CustomerPurchase[]>((ids) => this.readAndRemember(ids));

  private readonly options: CustomerCacheOptions;

  constructor(options: CustomerCacheOptions) {
    this.options = options;
  }

  /** The same array for as long as the customer stays cached: callers may memoize on it. */
  async purchasesOf(appUserId: string): Promise<readonly CustomerPurchase[]> {
    const cached = this.entries.get(appUserId);
    if (cached) return cached;
    try {
      return await this.misses.read(appUserId);
    } catch (error) {
      // The database cannot be reached at all: nothing can change either, so the last known answer stands.
      const lastKnown = isDatabaseUnavailable(error) ? this.lastKnown.get(appUserId) : undefined;
      if (lastKnown) return lastKnown;
      throw error;
    }
  }

  /** Forgets a customer (or everyone, with '*'). Writers in this process call it for read-your-writes. */
  invalidate(appUserId: string): void {
    this.epoch += 1;
    if (appUserId === '*') this.entries.clear();
    else this.entries.delete(appUserId);
  }

  /** Follows the read model's notices; caches from when the signals listen. */
  start(): void {
    const { signals } = this.options;
    this.unsubscribe = [
      signals.subscribe(CUSTOMER_CHANGES_CHANNEL, (payload) => {
        const changed = changedCustomers(payload);
        if (changed === '*') this.invalidate('*');
        else for (const appUserId of changed) this.invalidate(appUserId);
      }),
      signals.onListening((listening) => (listening ? this.listeningAgain() : this.deaf())),
    ];
    if (signals.listening) this.listeningAgain();
  }

  stop(): void {
    for (const unsubscribe of this.unsubscribe) unsubscribe();
    this.deaf();
  }

  /** Changes may be missed from now on: nothing cached is trusted, but it is kept for an outage. */
  private deaf(): void {
    this.listening = false;
    for (const [appUserId, purchases] of this.entries) this.lastKnown.set(appUserId, purchases);
    this.invalidate('*');
  }

  private listeningAgain(): void {
    this.listening = true;
    this.lastKnown.clear();
  }

  /** Reads customers in one query, and keeps them unless an invalidation came meanwhile. */
  private async readAndRemember(appUserIds: string[]): Promise<(appUserId: string) => readonly CustomerPurchase[]> {
    const epoch = this.epoch;
    const found = await findPurchasesOfCustomers(this.options.db, appUserIds);
    // One array per customer, the one kept and the one answered alike.
    const answers = new Map(appUserIds.map((id) => [id, found.get(id) ?? []] as const));
    // An invalidation while the query ran may be about one of these: answer, but do not keep.
    if (this.listening && epoch === this.epoch) for (const [id, purchases] of answers) this.remember(id, purchases);
    return (appUserId) => answers.get(appUserId)!;
  }

  private remember(appUserId: string, purchases: readonly CustomerPurchase[]): void {
    const limit = this.options.maxEntries ?? 100_000;
    if (limit === 0) return;
    // The oldest in, first out: cheaper than tracking use, and a hot customer is back in at once.
    if (this.entries.size >= limit) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(appUserId, purchases);
  }
}
