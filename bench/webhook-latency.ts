import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { Delivery } from './webhook-workloads.ts';

export interface PacedRunOptions {
  /** Notification i goes to urls[i % urls.length], at `path`. */
  readonly urls: readonly string[];
  readonly path: string;
  readonly deliveries: readonly Delivery[];
  readonly rate: number;
  readonly seconds: number;
  /** A connection to the service's database, to see when purchases appear in the read model. */
  readonly db: pg.Client;
  /** The shortest wait between two looks at the read model. */
  readonly pollMs: number;
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
  readonly polls: number;
  readonly meanPollQueryMs: number;
}

interface InFlight {
  readonly scheduledAt: number;
  acceptedAt?: number;
  visibleAt?: number;
  refused?: string;
}

/**
 * An open-loop sender: notification i goes out at start + i/rate whatever happened
 * to the ones before (no coordinated omission), each latency counted from its
 * scheduled time. Meanwhile one connection looks up, by primary key, the purchases
 * of notifications not yet seen in the read model, and stamps those it finds with
 * the time the answer arrived: an upper bound, late by at most one poll interval
 * plus one query.
 */
export async function pacedRun(options: PacedRunOptions): Promise<PacedRunResult> {
  const { deliveries, rate, seconds, db } = options;
  const total = Math.min(deliveries.length, Math.round(rate * seconds));
  const targets = options.urls.map((url) => new URL(options.path, url));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const flights: InFlight[] = [];
  const unseen = new Set<number>();
  let worstSendDelayMs = 0;

  const send = (i: number, scheduledAt: number) => {
    const flight: InFlight = { scheduledAt };
    flights[i] = flight;
    unseen.add(i);
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
          else refuse(i, `${response.statusCode} ${answer.code ?? answer.status ?? ''}`.trim());
        });
      },
    );
    request.on('error', (error) => refuse(i, error.message));
    request.end(body);
  };
  const refuse = (i: number, reason: string) => {
    flights[i]!.refused = reason;
    unseen.delete(i);
  };

  let sending = true;
  const sender = (async () => {
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
    sending = false;
  })();

  let polls = 0;
  let pollQueryMs = 0;
  let settleDeadline = Number.POSITIVE_INFINITY;
  for (;;) {
    if (!sending && settleDeadline === Number.POSITIVE_INFINITY) settleDeadline = performance.now() + options.settleMs;
    if (!sending && unseen.size === 0) break;
    if (performance.now() > settleDeadline) break;
    const looking = [...unseen];
    let waitMs = options.pollMs;
    if (looking.length > 0) {
      const asked = performance.now();
      const { rows } = await db.query<{ stream_id: string }>(
        `SELECT stream_id FROM purchases
         WHERE stream_id = ANY($1::text[]) AND app_user_id IS NOT NULL AND product_id IS NOT NULL`,
        [looking.map((i) => deliveries[i]!.streamId)],
      );
      const answered = performance.now();
      polls++;
      pollQueryMs += answered - asked;
      // Backlogged (thousands unseen), the lookup gets slower: keep its share of the database small.
      waitMs = Math.max(options.pollMs, 2 * (answered - asked));
      const found = new Set(rows.map((r) => r.stream_id));
      for (const i of looking) {
        if (found.has(deliveries[i]!.streamId)) {
          flights[i]!.visibleAt = answered;
          unseen.delete(i);
        }
      }
    }
    await sleep(waitMs);
  }
  await sender;
  agent.destroy();

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
    polls,
    meanPollQueryMs: polls ? pollQueryMs / polls : 0,
  };
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
