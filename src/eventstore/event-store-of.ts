import type { Config } from '../config/config.ts';
import type { Pool } from '../db/pool.ts';
import type { EventStore } from './event-store.ts';
import { PostgresEventStore } from './postgres/postgres-event-store.ts';

/** The event store as a service runs it: the port, plus what the process needs around it. */
export interface ServiceEventStore extends EventStore {
  /** Calls `listener` after appends made here commit (to wake projections in this process). */
  onAppended(listener: () => void): () => void;
  /** How many events the store holds, where that is cheap to know (for progress bars). */
  countEvents?(): Promise<number>;
  close?(): Promise<void>;
}

/**
 * The event store the settings name (`EVENT_STORE`). The KurrentDB client is loaded only
 * when asked for, so that the default costs no start-up time for it.
 */
export async function eventStoreOf(settings: Config['eventStore'], pool: Pool): Promise<ServiceEventStore> {
  if (settings.kind === 'postgres') return new PostgresEventStore(pool);
  const { KurrentDbEventStore } = await import('./kurrentdb/kurrentdb-event-store.ts');
  return new KurrentDbEventStore(settings.url);
}
