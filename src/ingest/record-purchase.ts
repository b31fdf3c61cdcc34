import { purchaseDecider, type PurchaseCommand } from '../domain/purchase/decider.ts';
import { isPurchaseEvent, type PurchaseEvent } from '../domain/purchase/events.ts';
import { purchaseStreamId, type PurchaseKey } from '../domain/purchase/purchase-key.ts';
import type { PurchaseState } from '../domain/purchase/state.ts';
import { handleCommand, type HandleResult } from '../eventstore/command-handler.ts';
import type { EventMetadata, EventStore, RecordedEvent } from '../eventstore/event-store.ts';

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
