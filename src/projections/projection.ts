import type { PoolClient } from '../db/pool.ts';
import type { RecordedEvent } from '../eventstore/event-store.ts';

/**
 * A read model kept up to date from the global order of events. The runner calls
 * `apply` inside the transaction that also moves the projection's checkpoint.
 */
export interface Projection {
  readonly name: string;
  /** Applies a batch of events, in global order, writing through `tx` only. */
  apply(events: readonly RecordedEvent[], tx: PoolClient): Promise<void>;
  /** Empties the read model, for a rebuild from the first event. */
  reset(tx: PoolClient): Promise<void>;
}
