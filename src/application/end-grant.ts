import { toTimestamp } from '../domain/time.ts';
import type { EventStore } from '../eventstore/event-store.ts';
import { newestPosition, recordPurchase } from '../ingest/record-purchase.ts';
import type { Clock } from '../domain/clock.ts';
import { grantKey } from './give-grant.ts';
import type { ReadModelView } from './read-model-view.ts';
import { staffContext, type StaffAction } from './staff-action.ts';

/**
 * Ends a customer's promotional grant now; its past stays in the history. `unknown_grant`
 * unless the grant is this customer's; ending it again changes nothing. Returns once the
 * read model shows it.
 */
export async function endGrant(
  deps: { readonly eventStore: EventStore; readonly clock: Clock; readonly view: ReadModelView },
  appUserId: string,
  grantId: string,
  action: StaffAction,
): Promise<void> {
  const at = toTimestamp(deps.clock.now());
  await recordPurchase(
    deps.eventStore,
    grantKey(grantId),
    { type: 'EndGrant', data: { grantId, appUserId, at } },
    staffContext(`end-grant:${grantId}`, action),
  );
  await deps.view.showWrites(await newestPosition(deps.eventStore, [grantKey(grantId)]), [appUserId]);
}
