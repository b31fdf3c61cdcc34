import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { ApiKeys } from '../src/auth/api-keys.ts';
import { CLAIM_STATEMENT } from '../src/webhooks/claim-deliveries.ts';
import { parseAnswer } from './webhook-latency.ts';
import type { SignedNotification } from './webhook-notifications.ts';

const WEBHOOK = '/v1/webhooks/apple';

/** The admin API of one running service, with an admin key. */
export class AdminApi {
  private readonly url: string;
  private readonly key: string;

  constructor(url: string, key: string) {
    this.url = url;
    this.key = key;
  }

  /** A new admin key, straight in the service's database (as `subledger keys create` would). */
  static async key(db: pg.Client): Promise<string> {
    return (await new ApiKeys(db).create('bench-webhooks-out', 'admin')).secret;
  }

  async createEndpoint(url: string, maxInFlight: number): Promise<{ id: string; secret: string }> {
    const created = (await this.call('POST', '/v1/admin/webhooks/endpoints', { url, maxInFlight })) as {
      endpoint: { id: string };
      secret: string;
    };
    return { id: created.endpoint.id, secret: created.secret };
  }

  async setEnabled(id: string, enabled: boolean): Promise<void> {
    await this.call('PATCH', `/v1/admin/webhooks/endpoints/${id}`, { enabled });
  }

  private async call(method: string, path: string, body: unknown): Promise<unknown> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text);
  }
}

/** Runs `work` on each item, at most `concurrency` at once. */
export async function eachLimited<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await work(items[i]!, i);
      }
    }),
  );
}

/** The app account token the notification's transaction carries: the app user id its customer events name. */
export function appUserIdOf(notification: SignedNotification): string {
  const payloadOf = (jws: string) =>
    JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
  const { signedPayload } = JSON.parse(notification.body.toString('utf8')) as { signedPayload: string };
  const data = payloadOf(signedPayload).data as { signedTransactionInfo: string };
  return String(payloadOf(data.signedTransactionInfo).appAccountToken);
}

/** Posts one notification to the App Store webhook: undefined when accepted, else why not. */
function post(agent: http.Agent, target: URL, body: Buffer): Promise<string | undefined> {
  return new Promise((resolve) => {
    const request = http.request(
      target,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const answer = parseAnswer(Buffer.concat(chunks));
          resolve(
            response.statusCode === 200 && answer.status === 'accepted'
              ? undefined
              : `${response.statusCode} ${String(answer.code ?? answer.status ?? '')}`.trim(),
          );
        });
      },
    );
    request.on('error', (error) => resolve(error.message));
    request.end(body);
  });
}

/** Posts the notifications as fast as `concurrency` connections allow; throws if any is refused. */
export async function postAll(
  serviceUrl: string,
  notifications: readonly SignedNotification[],
  concurrency: number,
  signal?: AbortSignal,
): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(WEBHOOK, serviceUrl);
  const refused: Record<string, number> = {};
  try {
    await eachLimited(notifications, concurrency, async (n) => {
      signal?.throwIfAborted();
      const reason = await post(agent, target, n.body);
      if (reason) refused[reason] = (refused[reason] ?? 0) + 1;
    });
  } finally {
    agent.destroy();
  }
  if (Object.keys(refused).length > 0) throw new Error(`notifications refused: ${JSON.stringify(refused)}`);
}

export interface PacedSend {
  /** When it was due to go (performance.now()): latencies count from here, so a late sender cannot hide delay. */
  readonly scheduledAt: number;
  answeredAt?: number;
  refused?: string;
}

export interface PacedResult {
  readonly sends: readonly PacedSend[];
  /** Worst delay of a send behind its schedule: above a few ms, the sender itself could not keep the rate. */
  readonly worstSendDelayMs: number;
}

/**
 * An open-loop sender: notification i goes at start + i/rate whatever happened to the
 * ones before (no coordinated omission), until all are sent or `stop()` says so.
 * Resolves once every request has been answered.
 */
export async function pacedSend(
  serviceUrl: string,
  notifications: readonly SignedNotification[],
  rate: number,
  options: { readonly stop?: () => boolean; readonly signal?: AbortSignal } = {},
): Promise<PacedResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const target = new URL(WEBHOOK, serviceUrl);
  const sends: PacedSend[] = [];
  const answers: Promise<void>[] = [];
  let worstSendDelayMs = 0;
  const start = performance.now() + 20;
  const interval = 1000 / rate;
  try {
    let next = 0;
    while (next < notifications.length && !options.stop?.()) {
      options.signal?.throwIfAborted();
      const now = performance.now();
      while (next < notifications.length && start + next * interval <= now) {
        const send: PacedSend = { scheduledAt: start + next * interval };
        worstSendDelayMs = Math.max(worstSendDelayMs, now - send.scheduledAt);
        sends.push(send);
        answers.push(
          post(agent, target, notifications[next++]!.body).then((reason) => {
            if (reason) send.refused = reason;
            else send.answeredAt = performance.now();
          }),
        );
      }
      await sleep(1);
    }
    await Promise.all(answers);
  } finally {
    agent.destroy();
  }
  return { sends, worstSendDelayMs };
}

/** Waits until `check` holds, looking every `everyMs`; throws after `timeoutMs` or when aborted. */
export async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  { timeoutMs, everyMs = 50, signal }: { timeoutMs: number; everyMs?: number; signal?: AbortSignal },
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs, undefined, signal && { signal });
  }
}

/** Customer events of first purchases: written with their deliveries, in one transaction per batch. */
export async function initialPurchases(db: pg.Client): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM customer_events WHERE type = 'INITIAL_PURCHASE'`,
  );
  return rows[0]!.n;
}

/** Throws if the intake dead-lettered a notification: the run would then wait for nothing. */
export async function noDeadNotifications(db: pg.Client): Promise<void> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM intake_messages WHERE state = 'dead'`);
  if (rows[0]!.n > 0) throw new Error(`${rows[0]!.n} notifications were dead-lettered by the intake`);
}

export interface DeliveryCounts {
  readonly pending: number;
  readonly delivered: number;
  readonly dead: number;
  /** Deliveries that took more than one attempt. */
  readonly retried: number;
  readonly lastErrors: Readonly<Record<string, number>>;
}

export async function deliveryCounts(db: pg.Client, endpointIds: readonly string[]): Promise<DeliveryCounts> {
  const { rows } = await db.query<{ status: string; retried: boolean; last_error: string | null; n: number }>(
    `SELECT status, attempts > 1 AS retried, last_error, count(*)::int AS n
     FROM webhook_deliveries WHERE endpoint_id = ANY($1::text[]) GROUP BY 1, 2, 3`,
    [endpointIds],
  );
  const sum = (pick: (r: (typeof rows)[number]) => boolean) => rows.filter(pick).reduce((s, r) => s + r.n, 0);
  const lastErrors: Record<string, number> = {};
  for (const r of rows) if (r.last_error) lastErrors[r.last_error] = (lastErrors[r.last_error] ?? 0) + r.n;
  return {
    pending: sum((r) => r.status === 'pending'),
    delivered: sum((r) => r.status === 'delivered'),
    dead: sum((r) => r.status === 'dead'),
    retried: sum((r) => r.retried),
    lastErrors,
  };
}

/**
 * The delivery worker's claim query begins with the head of every (endpoint, customer)
 * having pending deliveries, over the whole table: this is that part alone, timed
 * (median of 3) on the backlog as it stands.
 */
export async function headsScanMs(db: pg.Client): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    await db.query(
      `SELECT count(*) FROM (
         SELECT DISTINCT ON (endpoint_id, app_user_id) id FROM webhook_deliveries WHERE status = 'pending'
         ORDER BY endpoint_id, app_user_id, id) heads`,
    );
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b)[1]!;
}

export interface DatabaseActivity {
  readonly samples: number;
  /** Mean number of the service's connections busy in PostgreSQL, by statement. */
  readonly busyBy: Readonly<Record<string, number>>;
  /** Mean number of them waiting, by wait event (among the busy ones). */
  readonly waitingOn: Readonly<Record<string, number>>;
  /**
   * The most pending deliveries under a live lease seen at once (looked at every 10th
   * sample): what the worker has claimed and not yet recorded. Above the endpoints'
   * maxInFlight summed, some were leased and not sent.
   */
  readonly maxLeased: number;
}

/**
 * What the service's connections are doing in PostgreSQL, sampled from pg_stat_activity
 * every `everyMs`: the statements they run (the delivery worker's claim, its per-delivery
 * update, the rest) and what they wait on (WAL flush at commit, locks, ...).
 */
export class ActivitySampler {
  private readonly client: pg.Client;
  private readonly everyMs: number;
  private running = false;
  private loop: Promise<void> | undefined;
  private samples = 0;
  private readonly busy: Record<string, number> = {};
  private readonly waits: Record<string, number> = {};
  private maxLeased = 0;
  private result: DatabaseActivity | undefined;

  constructor(databaseUrl: string, everyMs = 20) {
    this.client = new pg.Client({ connectionString: databaseUrl, application_name: 'bench-sampler' });
    this.client.on('error', () => {}); // the loop's next query fails, and stop() reports what was sampled
    this.everyMs = everyMs;
  }

  async start(): Promise<void> {
    await this.client.connect();
    this.running = true;
    // A failed look (the server going away) ends the loop; stop() still reports what was sampled.
    this.loop = (async () => {
      while (this.running) {
        const { rows } = await this.client.query<{ query: string; wait: string | null }>(
          `SELECT query, wait_event_type || ':' || wait_event AS wait FROM pg_stat_activity
           WHERE datname = current_database() AND application_name = 'subledger' AND state = 'active'`,
        );
        if (this.samples % 10 === 0) {
          const leased = await this.client.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'pending' AND lease_until > now()`,
          );
          this.maxLeased = Math.max(this.maxLeased, leased.rows[0]!.n);
        }
        this.samples++;
        for (const row of rows) {
          const what = statementOf(row.query);
          this.busy[what] = (this.busy[what] ?? 0) + 1;
          if (row.wait) this.waits[row.wait] = (this.waits[row.wait] ?? 0) + 1;
        }
        await sleep(this.everyMs);
      }
    })().catch(() => {});
  }

  /** What was sampled; again, the same. */
  async stop(): Promise<DatabaseActivity> {
    if (this.result) return this.result;
    this.running = false;
    await this.loop?.catch(() => {});
    await this.client.end().catch(() => {});
    const mean = (counts: Record<string, number>) =>
      Object.fromEntries(
        Object.entries(counts)
          .sort(([, a], [, b]) => b - a)
          .map(([k, v]) => [k, Number((v / Math.max(1, this.samples)).toFixed(2))]),
      );
    this.result = {
      samples: this.samples,
      busyBy: mean(this.busy),
      waitingOn: mean(this.waits),
      maxLeased: this.maxLeased,
    };
    return this.result;
  }
}

function statementOf(query: string): string {
  const q = query.trimStart();
  if (q.startsWith(CLAIM_STATEMENT)) return 'claim';
  if (q.startsWith('UPDATE webhook_deliveries d\n') || /SET status = o\.status/.test(q)) return 'record';
  if (/^(BEGIN|COMMIT|ROLLBACK)/i.test(q)) return q.split(/\s/)[0]!.toUpperCase();
  if (/intake_messages/.test(q)) return 'intake';
  if (/customer_event|webhook_deliveries|webhook_endpoints/.test(q)) return 'customer-events projection';
  return 'other';
}

/** Where a notification's time went, p50 and p99 in ms per stage, from the rows' own timestamps. */
export type StageTimes = Record<'queued' | 'projected' | 'scheduled' | 'delivered', { p50: number; p99: number }>;

/**
 * Per INITIAL_PURCHASE delivered since `since`: accepted into the intake queue, then its fact
 * in the ledger (`queued`: waiting for and being processed by the intake worker), then its
 * customer event written (`projected`: the customer-events projection), then delivered
 * (`scheduled` to `delivered`: the delivery worker, claim, send and outcome). Timestamps are
 * transaction starts (`now()`), so each stage includes its own transaction's work.
 */
export async function stageTimes(db: pg.Client, since: Date): Promise<StageTimes> {
  const { rows } = await db.query<{ stage: keyof StageTimes; p50: number; p99: number }>(
    `WITH d AS (
       SELECT m.enqueued_at, e.recorded_at, ce.created_at AS projected_at, w.created_at AS scheduled_at, w.delivered_at
       FROM webhook_deliveries w
       JOIN customer_events ce ON ce.id = w.event_id AND ce.type = 'INITIAL_PURCHASE'
       JOIN events e ON e.event_id::text = ce.ledger_event_id
       JOIN intake_messages m ON m.document_id = e.metadata -> 'source' ->> 'documentId'
       WHERE w.status = 'delivered' AND m.enqueued_at >= $1
     ), s AS (
       SELECT 'queued' AS stage, recorded_at - enqueued_at AS t FROM d
       UNION ALL SELECT 'projected', projected_at - recorded_at FROM d
       UNION ALL SELECT 'scheduled', scheduled_at - projected_at FROM d
       UNION ALL SELECT 'delivered', delivered_at - scheduled_at FROM d
     )
     SELECT stage, 1000 * percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t)) AS p50,
            1000 * percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM t)) AS p99
     FROM s GROUP BY stage`,
    [since],
  );
  const none = { p50: Number.NaN, p99: Number.NaN };
  const at = (stage: keyof StageTimes) => rows.find((r) => r.stage === stage) ?? none;
  return { queued: at('queued'), projected: at('projected'), scheduled: at('scheduled'), delivered: at('delivered') };
}
