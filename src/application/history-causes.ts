import type { EventMetadata } from '../eventstore/event-store.ts';
import { SourceDocumentArchive } from '../eventstore/source-documents.ts';
import type { Queryable } from '../db/pool.ts';
import { decodeSourceDocument } from '../ingest/decode-source-document.ts';

/**
 * What set off a set of facts: one store notification, one answer of a store's API, one
 * action of support staff or of an app. Every fact it recorded shares its `id` (their
 * causation id), which is how the timeline groups them.
 */
export interface HistoryCause {
  readonly id: string;
  readonly kind: 'store_notification' | 'store_answer' | 'staff' | 'app_user' | 'unrecorded';
  /** The notification's type and subtype as the store names them (`DID_RENEW`, `SUBSCRIPTION_RENEWED`). */
  readonly type: string | null;
  readonly subtype: string | null;
  /** What staff did (`grant`, `end-grant`, `transfer`, `reconcile`), from the causation id the action records. */
  readonly action: string | null;
  readonly actor: NonNullable<EventMetadata['actor']> | null;
  /** The archived document to show for it: the notification when there was one, else the answer. */
  readonly documentId: string | null;
  /** For people: "App Store SUBSCRIBED/INITIAL_BUY", "grant by sam: apology". */
  readonly summary: string;
}

interface CausedEvent {
  readonly position: string;
  readonly metadata: EventMetadata;
}

const STORE_NAMES = { app_store: 'App Store', play_store: 'Google Play' } as const;
const ACTION_NAMES: Readonly<Record<string, string>> = {
  grant: 'Grant',
  'end-grant': 'Grant ended',
  transfer: 'Transfer',
  reconcile: 'Reconcile with the store',
  'app-submission': 'App submission',
};

/** The cause of each event, by position; the documents it needs are read in one query. */
export async function historyCauses(db: Queryable, events: readonly CausedEvent[]): Promise<Map<string, HistoryCause>> {
  const documentOf = (m: EventMetadata) => (m.trigger ?? m.source)?.documentId;
  const ids = [...new Set(events.map((e) => documentOf(e.metadata)).filter((id) => id !== undefined))];
  const documents = ids.length ? await new SourceDocumentArchive(db).findAll(ids) : new Map();
  // A notification records several facts: its document is decoded once for all of them.
  const notifications = new Map(
    [...documents].map(([id, document]) => [id, decodeSourceDocument(document).notification]),
  );
  const causes = new Map<string, HistoryCause>();
  for (const event of events) {
    const { metadata } = event;
    const documentId = documentOf(metadata) ?? null;
    const document = documentId ? documents.get(documentId) : undefined;
    const notification = (documentId && notifications.get(documentId)) ?? null;
    const action = metadata.causationId?.match(/^([a-z-]+):/)?.[1] ?? null;
    const actor = metadata.actor ?? null;
    const base = { id: metadata.causationId ?? `event:${event.position}`, action, actor, documentId };
    if (notification) {
      const type = notification.subtype ? `${notification.type}/${notification.subtype}` : notification.type;
      causes.set(event.position, {
        ...base,
        kind: 'store_notification',
        type: notification.type,
        subtype: notification.subtype,
        summary: `${STORE_NAMES[notification.store]} ${type}`,
      });
      continue;
    }
    const kind =
      actor?.kind === 'staff'
        ? 'staff'
        : actor?.kind === 'app_user'
          ? 'app_user'
          : document
            ? 'store_answer'
            : 'unrecorded';
    causes.set(event.position, {
      ...base,
      kind,
      type: null,
      subtype: null,
      summary: summaryOf(kind, action, actor, document?.kind),
    });
  }
  return causes;
}

function summaryOf(
  kind: HistoryCause['kind'],
  action: string | null,
  actor: EventMetadata['actor'] | null,
  documentKind: string | undefined,
): string {
  const what = (action && ACTION_NAMES[action]) ?? (kind === 'store_answer' ? 'Store answer' : 'Recorded');
  const by = actor ? ` by ${actor.id}${actor.reason ? `: ${actor.reason}` : ''}` : '';
  const from = documentKind ? ` (${documentKind})` : '';
  return `${what}${by}${from}`;
}
