import type { DatabaseSignals } from '../../db/database-signals.ts';
import type { Queryable } from '../../db/pool.ts';
import type { CustomerPurchase } from '../../domain/entitlements.ts';
import type { Logger } from '../../observability/logger.ts';
import { findPurchasesOfCustomers } from './customer-purchases.ts';
import { CUSTOMER_CHANGES_CHANNEL } from './purchases-projection.ts';
import { isDatabaseUnavailable } from '../../db/unavailable.ts';

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
interface Waiter {
  resolve(purchases: readonly CustomerPurchase[]): void;
  reject(error: unknown): void;
}

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
  /** Customers to read in the next batch, with who waits for each. */
  private nextBatch: Map<string, Waiter[]> | undefined;

  private readonly options: CustomerCacheOptions;

  constructor(options: CustomerCacheOptions) {
    this.options = options;
  }

  /** The same array for as long as the customer stays cached: callers may memoize on it. */
  async purchasesOf(appUserId: string): Promise<readonly CustomerPurchase[]> {
    const cached = this.entries.get(appUserId);
    if (cached) return cached;
    return new Promise((resolve, reject) => {
      if (!this.nextBatch) {
        this.nextBatch = new Map();
        setImmediate(() => void this.readBatch());
      }
      const waiters = this.nextBatch.get(appUserId) ?? [];
      waiters.push({ resolve, reject });
      this.nextBatch.set(appUserId, waiters);
    });
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
      signals.subscribe(CUSTOMER_CHANGES_CHANNEL, (payload) => this.invalidate(payload || '*')),
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

  private async readBatch(): Promise<void> {
    const batch = this.nextBatch!;
    this.nextBatch = undefined;
    await this.read(batch, this.epoch);
  }

  /** Reads the customers of `batch` in one query and answers each waiter. */
  private async read(batch: Map<string, Waiter[]>, epoch: number): Promise<void> {
    let found: Map<string, CustomerPurchase[]>;
    try {
      found = await findPurchasesOfCustomers(this.options.db, [...batch.keys()]);
    } catch (error) {
      const outage = isDatabaseUnavailable(error);
      // One id the database refuses must not fail the others read with it: read each on its own.
      if (batch.size > 1 && !outage) {
        await Promise.all([...batch].map((entry) => this.read(new Map([entry]), epoch)));
        return;
      }
      for (const [appUserId, waiters] of batch) {
        const lastKnown = outage ? this.lastKnown.get(appUserId) : undefined;
        for (const w of waiters) {
          if (lastKnown) w.resolve(lastKnown);
          else w.reject(error);
        }
      }
      return;
    }
    // An invalidation while the query ran may be about one of these: answer, but do not keep.
    const keep = this.listening && epoch === this.epoch;
    for (const [appUserId, waiters] of batch) {
      const purchases = found.get(appUserId) ?? [];
      if (keep) this.remember(appUserId, purchases);
      for (const w of waiters) w.resolve(purchases);
    }
  }

  private remember(appUserId: string, purchases: readonly CustomerPurchase[]): void {
    const limit = this.options.maxEntries ?? 100_000;
    if (limit === 0) return;
    // The oldest in, first out: cheaper than tracking use, and a hot customer is back in at once.
    if (this.entries.size >= limit) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(appUserId, purchases);
  }
}
