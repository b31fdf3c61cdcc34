import type { EventMetadata } from '../eventstore/event-store.ts';

/** Who acts on a customer, and why: kept on every event the action records, shown in the history. */
export interface StaffAction {
  readonly staff: string;
  readonly reason: string;
}

export function staffContext(
  causationId: string,
  action: StaffAction,
): { causationId: string; metadata: Omit<EventMetadata, 'causationId' | 'storeTime'> } {
  return { causationId, metadata: { actor: { kind: 'staff', id: action.staff, reason: action.reason } } };
}
