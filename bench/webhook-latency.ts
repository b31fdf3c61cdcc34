import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { isAtOrAfter, type GlobalPosition } from '../src/eventstore/global-position.ts';
import { CHECKPOINTS_CHANNEL, parseAnnouncement } from '../src/projections/checkpoints.ts';
import { PURCHASES_PROJECTION } from '../src/projections/entitlements/purchases-projection.ts';
import { percentile } from './support.ts';
import type { Delivery } from './webhook-workloads.ts';

export interface PacedRunOptions {
  /** Notification i goes to urls[i % urls.length], at `path`. */
  readonly urls: readonly string[];
  readonly path: string;
  readonly deliveries: readonly Delivery[];
  readonly rate: number;
  readonly seconds: number;
  /** A connection of its own to the service's database: it listens for the read model's progress. */
  readonly db: pg.Client;
  /** How long after the last send to wait for the last entitlement. */
  readonly settleMs: number;
}

export interface PacedRunResult {
  readonly sent: number;
  readonly accepted: number;
  readonly refused: Readonly<Record<string, number>>;
  /** Worst delay of a send behind its schedule: above a few ms, the sender itself could not keep the rate. */
  readonly worstSendDelayMs: number;
  /** From the scheduled send to the 2xx, per accepted notification. */
  readonly acceptanceMs: readonly number[];
  /** From the scheduled send to the purchase being in the read model, per accepted notification. */
  readonly entitlementMs: readonly number[];
  readonly neverVisible: number;
  /**
   * The median of `entitlementMs` over the first and the last quarter of the sends: a
   * backlog that grows while sending shows as a last quarter much later than the first.
   */
  readonly quarterP50Ms: readonly [first: number, last: number];
  /** The read model's checkpoint announcements heard, and the lookups of ledger positions made after the sends. */
  readonly announcements: number;
  readonly lookups: number;
}

interface InFlight {
  readonly scheduledAt: number;
  acceptedAt?: number;
  refused?: string;
  /** Where its purchase's last event is in the ledger, once looked up. */
  position?: GlobalPosition;
  visibleAt?: number;
}

/** How often, once the sends are over, the ledger positions of notifications not yet seen are looked up. */
const LOOKUP_MS = 500;

/**
 * An open-loop sender: notification i goes out at start + i/rate whatever happened
 * to the ones before (no coordinated omission), each latency counted from its
 * scheduled time.
 *
 * When a purchase became readable is not polled for: polling the read model for
 * thousands of unseen purchases took a third of a core from the PostgreSQL it was
 * measuring. Instead the run listens to the purchases projection's checkpoint
 * announcements (sent at its commits) and stamps each with its arrival; after the
 * sends it looks up where each notification's purchase ended in the ledger, and the
 * notification was readable at the first announcement at or past it. An upper bound,
 * as before: late by the announcement's trip. A last query checks that each one seen
 * this way is in the read model, owned and with its product.
 */
export async function pacedRun(options: PacedRunOptions): Promise<PacedRunResult> {
  const { deliveries, rate, seconds, db } = options;
  const total = Math.min(deliveries.length, Math.round(rate * seconds));
  const targets = options.urls.map((url) => new URL(options.path, url));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const flights: InFlight[] = [];
  const progress = await listenToReadModel(db);
  let worstSendDelayMs = 0;

  const send = (i: number, scheduledAt: number) => {
    const flight: InFlight = { scheduledAt };
    flights[i] = flight;
    const { body, headers } = deliveries[i]!;
    const request = http.request(
      targets[i % targets.length]!,
      { method: 'POST', agent, headers: { ...headers, 'content-length': body.length } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const answer = parseAnswer(Buffer.concat(chunks));
          if (response.statusCode === 200 && answer.status === 'accepted') flight.acceptedAt = performance.now();
          else flight.refused = `${response.statusCode} ${answer.code ?? answer.status ?? ''}`.trim();
        });
      },
    );
    request.on('error', (error) => (flight.refused = error.message));
    request.end(body);
  };

  const start = performance.now() + 20;
  const interval = 1000 / rate;
  let next = 0;
  while (next < total) {
    const now = performance.now();
    while (next < total && start + next * interval <= now) {
      const scheduledAt = start + next * interval;
      worstSendDelayMs = Math.max(worstSendDelayMs, now - scheduledAt);
      send(next++, scheduledAt);
    }
    await sleep(1);
  }

  let lookups = 0;
  const settleDeadline = performance.now() + options.settleMs;
  for (;;) {
    const answered = flights.every((f) => f.acceptedAt !== undefined || f.refused !== undefined);
    const waiting = flights.flatMap((f, i) => (f.acceptedAt !== undefined && f.visibleAt === undefined ? [i] : []));
    const unplaced = waiting.filter((i) => flights[i]!.position === undefined);
    if (unplaced.length > 0) {
      lookups++;
      for (const [i, position] of await ledgerPositions(db, unplaced, deliveries)) flights[i]!.position = position;
    }
    for (const i of waiting) {
      const { position } = flights[i]!;
      if (position) flights[i]!.visibleAt = progress.firstAtOrAfter(position);
    }
    const unseen = waiting.filter((i) => flights[i]!.visibleAt === undefined);
    if ((answered && unseen.length === 0) || performance.now() > settleDeadline) break;
    await sleep(LOOKUP_MS);
  }
  await progress.stop();
  agent.destroy();

  // Seen by its checkpoint, so it must be in the read model: a notification that is not counts as never seen.
  const seen = flights.flatMap((f, i) => (f.visibleAt === undefined ? [] : [i]));
  const inReadModel = await purchasesInReadModel(
    db,
    seen.map((i) => deliveries[i]!.streamId),
  );
  for (const i of seen) if (!inReadModel.has(deliveries[i]!.streamId)) flights[i]!.visibleAt = undefined;

  const refused: Record<string, number> = {};
  for (const f of flights) if (f.refused) refused[f.refused] = (refused[f.refused] ?? 0) + 1;
  const accepted = flights.filter((f) => f.acceptedAt !== undefined);
  return {
    sent: flights.length,
    accepted: accepted.length,
    refused,
    worstSendDelayMs,
    acceptanceMs: accepted.map((f) => f.acceptedAt! - f.scheduledAt),
    entitlementMs: accepted.filter((f) => f.visibleAt !== undefined).map((f) => f.visibleAt! - f.scheduledAt),
    neverVisible: accepted.filter((f) => f.visibleAt === undefined).length,
    quarterP50Ms: [
      medianLatency(accepted.slice(0, accepted.length / 4)),
      medianLatency(accepted.slice(-accepted.length / 4)),
    ],
    announcements: progress.heard(),
    lookups,
  };
}

/** From the scheduled send to the purchase being readable; never readable counts as infinitely late. */
function medianLatency(flights: readonly InFlight[]): number {
  const latencies = flights.map((f) => (f.visibleAt === undefined ? Infinity : f.visibleAt - f.scheduledAt));
  return percentile(latencies, 50);
}

/** The purchases projection's checkpoints as they are announced, each with the time it was heard. */
async function listenToReadModel(db: pg.Client) {
  const heard: { at: number; position: GlobalPosition }[] = [];
  const onNotification = (message: pg.Notification) => {
    const announced = message.channel === CHECKPOINTS_CHANNEL && parseAnnouncement(message.payload ?? '');
    if (announced && announced.projection === PURCHASES_PROJECTION) {
      heard.push({ at: performance.now(), position: announced.position });
    }
  };
  db.on('notification', onNotification);
  await db.query(`LISTEN ${CHECKPOINTS_CHANNEL}`);
  return {
    heard: () => heard.length,
    /** When the first checkpoint at or past `position` was heard (checkpoints only move forward). */
    firstAtOrAfter(position: GlobalPosition): number | undefined {
      let [low, high] = [0, heard.length];
      while (low < high) {
        const middle = (low + high) >>> 1;
        if (isAtOrAfter(heard[middle]!.position, position)) high = middle;
        else low = middle + 1;
      }
      return heard[low]?.at;
    },
    async stop() {
      await db.query(`UNLISTEN ${CHECKPOINTS_CHANNEL}`);
      db.off('notification', onNotification);
    },
  };
}

/** Where each notification's purchase stream ends in the ledger, for those already appended. */
async function ledgerPositions(
  db: pg.Client,
  indexes: readonly number[],
  deliveries: readonly Delivery[],
): Promise<Map<number, GlobalPosition>> {
  const indexOf = new Map(indexes.map((i) => [deliveries[i]!.streamId, i]));
  const { rows } = await db.query<{ stream_id: string; commit: string; sequence: string }>(
    `SELECT DISTINCT ON (stream_id) stream_id, transaction_id::text AS commit, global_position::text AS sequence
     FROM events WHERE stream_id = ANY($1::text[])
     ORDER BY stream_id, stream_version DESC`,
    [[...indexOf.keys()]],
  );
  return new Map(
    rows.map((r) => [indexOf.get(r.stream_id)!, { commit: BigInt(r.commit), sequence: BigInt(r.sequence) }]),
  );
}

async function purchasesInReadModel(db: pg.Client, streamIds: readonly string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ stream_id: string }>(
    `SELECT stream_id FROM purchases
     WHERE stream_id = ANY($1::text[]) AND app_user_id IS NOT NULL AND product_id IS NOT NULL`,
    [streamIds],
  );
  return new Set(rows.map((r) => r.stream_id));
}

/** The webhook's answer: `{status}` on success, a problem document `{code, ...}` on refusal. */
export function parseAnswer(body: Buffer | string): { status?: unknown; code?: unknown; notificationUUID?: unknown } {
  try {
    return JSON.parse(body.toString()) as { status?: unknown; code?: unknown; notificationUUID?: unknown };
  } catch {
    return {};
  }
}

/** Where a notification's time went, from the rows' own timestamps (the database's clock). */
export interface LatencyStages {
  /** From its acceptance (queued) until its facts are in the ledger: the intake worker. */
  readonly toLedgerMs: { readonly p50: number; readonly p99: number };
  /** From the ledger until the read model shows them: the projection. */
  readonly toReadModelMs: { readonly p50: number; readonly p99: number };
}

/**
 * Stages of the notifications processed in the service's database: one purchase each,
 * so the purchase's first event and its read-model row are that notification's. Either
 * queue: PostgreSQL's messages, or the SQS queue's memory of what it sent; accepted when its
 * document was archived. Only those archived since `since`: the warm-up's came in a burst.
 */
export async function stageTimes(db: pg.Client, since: Date): Promise<LatencyStages> {
  const { rows } = await db.query<{ ledger_p50: number; ledger_p99: number; model_p50: number; model_p99: number }>(
    `WITH accepted AS (
       -- The document is archived as the notification is accepted (before an SQS send, whose
       -- record comes after it and may come after the worker took the message).
       SELECT m.ordering_key, d.received_at AS enqueued_at
       FROM (SELECT ordering_key, document_id FROM intake_messages
             UNION ALL SELECT ordering_key, document_id FROM intake_sqs_messages) m
       JOIN source_documents d USING (document_id)
       WHERE d.received_at >= $1
     ),
     stages AS (
       SELECT extract(epoch FROM first.recorded_at - a.enqueued_at) * 1000 AS to_ledger,
              extract(epoch FROM p.updated_at - first.recorded_at) * 1000 AS to_read_model
       FROM accepted a
       -- app_store:<environment>:<originalTransactionId>, play_store:<purchaseToken>
       JOIN purchases p ON p.purchase_id = regexp_replace(a.ordering_key, '^(app_store:[^:]*|play_store):', '')
       CROSS JOIN LATERAL (SELECT min(recorded_at) AS recorded_at FROM events WHERE stream_id = p.stream_id) first
     )
     SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY to_ledger) AS ledger_p50,
            percentile_disc(0.99) WITHIN GROUP (ORDER BY to_ledger) AS ledger_p99,
            percentile_disc(0.5) WITHIN GROUP (ORDER BY to_read_model) AS model_p50,
            percentile_disc(0.99) WITHIN GROUP (ORDER BY to_read_model) AS model_p99
     FROM stages`,
    [since],
  );
  const row = rows[0]!;
  return {
    toLedgerMs: { p50: Number(row.ledger_p50), p99: Number(row.ledger_p99) },
    toReadModelMs: { p50: Number(row.model_p50), p99: Number(row.model_p99) },
  };
}
