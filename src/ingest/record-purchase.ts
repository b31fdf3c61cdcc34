import { purchaseDecider, type PurchaseCommand } from '../domain/purchase/decider.ts';
import { isPurchaseEvent, type PurchaseEvent } from '../domain/purchase/events.ts';
import { purchaseStreamId, type PurchaseKey } from '../domain/purchase/purchase-key.ts';
import type { PurchaseState } from '../domain/purchase/state.ts';
import { handleCommand, type HandleResult } from '../eventstore/command-handler.ts';
import type { EventMetadata, EventStore, RecordedEvent } from '../eventstore/event-store.ts';
import { comparePositions, type GlobalPosition } from '../eventstore/global-position.ts';

/**
 * Records a command against one purchase stream: the single entry point every
 * store adapter, app submission and support action goes through.
 */
export function recordPurchase(
  store: EventStore,
  key: PurchaseKey,
  command: PurchaseCommand,
  context: { causationId: string; metadata?: Omit<EventMetadata, 'causationId' | 'storeTime'> },
): Promise<HandleResult<PurchaseEvent, PurchaseState>> {
  return handleCommand(store, purchaseDecider, purchaseStreamId(key), command, {
    causationId: context.causationId,
    // Each fact carries the store's own time for it.
    metadata: (event) => ({ ...context.metadata, storeTime: event.data.observedAt }),
    isEvent: isPurchaseEvent<RecordedEvent>,
  });
}

/**
 * Where the read model must have got to before it shows everything recorded so far about
 * these purchases (read your writes): the newest event of their streams.
 *
 * Read from the purchases' own streams, not the global head: the head readers see can
 * lag behind events already committed while another transaction is open (that is what
 * keeps readers gap-free), and waiting for it would then answer too early.
 */
export async function newestPosition(
  store: EventStore,
  keys: readonly PurchaseKey[],
): Promise<GlobalPosition | undefined> {
  let newest: GlobalPosition | undefined;
  for (const key of keys) {
    const last = (await store.readStream(purchaseStreamId(key))).at(-1)?.position;
    if (last && (!newest || comparePositions(last, newest) > 0)) newest = last;
  }
  return newest;
}
