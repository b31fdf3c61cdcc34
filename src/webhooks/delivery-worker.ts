import { Agent, request } from 'undici';
import { Webhook } from 'standardwebhooks';
import type { Pool } from '../db/pool.ts';
import type { Clock } from '../domain/clock.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { endpointUrlProblem, guardedLookup } from './endpoint-address.ts';
import { nextRetryDelay, retryAfterMs, type RetryPolicy } from './retry-schedule.ts';
import { liveSecrets, MAX_IN_FLIGHT } from './webhook-endpoints.ts';
import { OutcomeRecorder } from './outcome-recorder.ts';
import { WakeUp } from '../jobs/wake-up.ts';
import { CLAIM_LIMIT, claimDeliveries, type ClaimedRow } from './claim-deliveries.ts';
import { HeldDeliveries } from './held-deliveries.ts';

export interface DeliveryWorkerOptions {
  readonly pool: Pool;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly retry: RetryPolicy;
  readonly connectTimeoutMs: number;
  /** For the whole request, answer included. */
  readonly requestTimeoutMs: number;
  /** Private and loopback receivers (local development, tests). */
  readonly allowPrivate: boolean;
  /** How long to wait before looking again when nothing was due. */
  readonly idlePollMs: number;
  readonly random?: () => number;
  /** Where attempts are counted, with their outcome and duration. */
  readonly metrics?: Pick<Metrics, 'webhookAttempts'>;
}

/** A claimed delivery, with the lease it was claimed under. */
type Leased = ClaimedRow & { readonly leaseUntil: Date };

/** What a delivery attempt came to. */
export interface AttemptOutcome {
  readonly status?: number;
  readonly error?: string;
  readonly latencyMs: number;
  readonly retryAfter?: string;
}

/**
 * How long a delivery being sent is its worker's: twice the longest an attempt can take.
 * After that a crashed worker's deliveries are taken again (at least once), while a
 * live worker's attempt has long ended (never two attempts of one delivery at once).
 */
const leaseMs = (options: DeliveryWorkerOptions) => 2 * attemptMs(options) + 1_000;
/** The longest one attempt can take. */
const attemptMs = ({ connectTimeoutMs, requestTimeoutMs }: DeliveryWorkerOptions) =>
  connectTimeoutMs + requestTimeoutMs;

/**
 * Sends customer events to the endpoints, at least once and in order per customer: a
 * customer's next event for an endpoint is taken only once the one before is delivered
 * or dead. Different customers go in parallel, up to each endpoint's `max_in_flight`; the
 * worker holds as many again leased, waiting, so that a slot that frees is refilled at once.
 * Each delivery is signed (Standard Webhooks) with every live secret of its endpoint;
 * a failure is retried with back-off and jitter until the retry horizon, then dead.
 */
export class DeliveryWorker {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly wakeUp = new WakeUp();
  /** When the last claim over every customer's head ran (see claimAndSend). */
  private lastFullClaimAt = Number.NEGATIVE_INFINITY;
  private readonly held = new HeldDeliveries<Leased>();
  private readonly sending = new Set<Promise<void>>();
  private readonly agent: Agent;
  private readonly outcomes: OutcomeRecorder;
  private readonly options: DeliveryWorkerOptions;

  constructor(options: DeliveryWorkerOptions) {
    this.options = options;
    this.outcomes = new OutcomeRecorder(options.pool);
    this.agent = new Agent({
      connect: { timeout: options.connectTimeoutMs, lookup: guardedLookup({ allowPrivate: options.allowPrivate }) },
      headersTimeout: options.requestTimeoutMs,
      bodyTimeout: options.requestTimeoutMs,
      // As many sockets per receiver as an endpoint may have deliveries in flight: a request
      // waiting for a socket would spend its timeout unsent.
      connections: MAX_IN_FLIGHT,
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wakeUp.nudge();
    await this.loop;
    await Promise.allSettled(this.sending);
    // Those still waiting go back now rather than when their lease ends.
    await this.release(this.held.takeWaiting()).catch((error: unknown) => {
      this.options.logger.warn({ err: error }, 'could not release webhook deliveries; they go when their lease ends');
    });
    await this.agent.close();
  }

  /** Something may be due: look now. */
  nudge(): void {
    this.wakeUp.nudge();
  }

  private async run(): Promise<void> {
    while (this.running) {
      let claimed = 0;
      try {
        claimed = await this.claimAndSend();
      } catch (error) {
        this.options.logger.error({ err: error }, 'could not claim webhook deliveries');
      }
      // A full claim may have left more due: claim again. Otherwise wait for a lane to run low,
      // new deliveries, or the poll (retries coming due).
      if (claimed < CLAIM_LIMIT && this.running) await this.wakeUp.wait(this.options.idlePollMs);
    }
  }

  /** Takes the due heads (one per endpoint and customer) within each endpoint's room, and sends them. */
  private async claimAndSend(): Promise<number> {
    const now = this.options.clock.now();
    const leaseUntil = new Date(now.getTime() + leaseMs(this.options));
    const claim = { now, leaseUntil, held: this.held.heldByEndpoint() };
    let rows = await claimDeliveries(this.options.pool, { ...claim, everyHead: false });
    // None among the oldest due (or no room): look at every customer's head, at most once per
    // poll interval, so that a busy endpoint's completions do not each pay for a full scan.
    if (rows.length === 0 && now.getTime() - this.lastFullClaimAt >= this.options.idlePollMs) {
      this.lastFullClaimAt = now.getTime();
      rows = await claimDeliveries(this.options.pool, { ...claim, everyHead: true });
    }
    this.held.add(rows.map((row) => ({ ...row, leaseUntil })));
    this.sendWhatHasRoom();
    return rows.length;
  }

  /** Starts every held delivery whose endpoint has a free slot. */
  private sendWhatHasRoom(): void {
    if (!this.running) return;
    for (const delivery of this.held.takeSendable()) {
      const done = this.deliver(delivery).finally(() => this.sending.delete(done));
      this.sending.add(done);
    }
  }

  private async deliver(delivery: Leased): Promise<void> {
    // Never an attempt that could outlast the lease: another worker may take it then. Each
    // slot frees within an attempt, so only a stalled process gets here.
    if (delivery.leaseUntil.getTime() - this.options.clock.now().getTime() < attemptMs(this.options)) {
      this.held.sent(delivery);
      this.sendWhatHasRoom();
      await this.release([delivery]).catch(() => {}); // or it goes when the lease ends
      this.nudge();
      return;
    }
    const outcome = await this.send(delivery);
    // The slot is free once the receiver has answered: the next waiting delivery goes now.
    const { wantsMore } = this.held.sent(delivery);
    this.sendWhatHasRoom();
    try {
      await this.record(delivery, outcome);
    } catch (error) {
      // The lease runs out and the delivery is sent again: at least once.
      this.options.logger.error({ err: error, delivery: delivery.id }, 'could not record a webhook delivery');
    }
    // Once recorded, the customer's next event is a head: claim when the lane runs low (or,
    // for an idle endpoint, at once), not after every delivery.
    if (wantsMore) this.nudge();
  }

  /** Gives up leases not used, so that the deliveries can be claimed again at once. */
  private async release(deliveries: readonly Leased[]): Promise<void> {
    if (deliveries.length === 0) return;
    await this.options.pool.query(
      `UPDATE webhook_deliveries d SET lease_until = NULL
       FROM jsonb_to_recordset($1::jsonb) AS r(id bigint, lease_until timestamptz)
       WHERE d.id = r.id AND d.lease_until = r.lease_until`,
      [JSON.stringify(deliveries.map((d) => ({ id: d.id, lease_until: d.leaseUntil })))],
    );
  }

  private async send(delivery: ClaimedRow): Promise<AttemptOutcome> {
    const now = this.options.clock.now();
    const body = JSON.stringify({
      type: delivery.type,
      timestamp: new Date(delivery.occurred_at).toISOString(),
      data: delivery.payload,
    });
    const signatures = liveSecrets(delivery.secrets, now)
      .map((s) => new Webhook(s.secret).sign(delivery.event_id, now, body))
      .join(' ');
    // An address in the URL is never looked up, so the lookup's check never sees it: check
    // the URL itself too (an endpoint saved under looser rules, say).
    const problem = endpointUrlProblem(delivery.url, { allowPrivate: this.options.allowPrivate });
    if (problem) return { error: `the endpoint URL is not ${problem}`, latencyMs: 0 };
    const started = performance.now();
    try {
      const answer = await request(delivery.url, {
        method: 'POST',
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.options.requestTimeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Subledger-Webhooks/1',
          'webhook-id': delivery.event_id,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          'webhook-signature': signatures,
        },
        body,
      });
      await answer.body.dump({ limit: 64 * 1024 });
      const retryAfter = answer.headers['retry-after'];
      return {
        status: answer.statusCode,
        latencyMs: Math.round(performance.now() - started),
        ...(typeof retryAfter === 'string' && { retryAfter }),
      };
    } catch (error) {
      return { error: describe(error), latencyMs: Math.round(performance.now() - started) };
    }
  }

  private async record(delivery: Leased, outcome: AttemptOutcome): Promise<void> {
    const now = this.options.clock.now();
    const attempts = delivery.attempts + 1;
    const delivered = outcome.status !== undefined && outcome.status >= 200 && outcome.status < 300;
    const wait = delivered
      ? undefined
      : nextRetryDelay(this.options.retry, {
          attempts,
          firstAttemptAt: new Date(delivery.created_at).getTime(),
          now: now.getTime(),
          ...(outcome.retryAfter !== undefined && { retryAfterMs: retryAfterMs(outcome.retryAfter, now.getTime()) }),
          random: (this.options.random ?? Math.random)(),
        });
    const status = delivered ? 'delivered' : wait === undefined ? 'dead' : 'pending';
    this.options.metrics?.webhookAttempts.observe(
      { endpoint: delivery.endpoint_id, outcome: status === 'pending' ? 'retrying' : status },
      outcome.latencyMs / 1000,
    );
    await this.outcomes.record({
      id: delivery.id,
      leaseUntil: delivery.leaseUntil,
      status,
      attempts,
      nextAttemptAt: new Date(now.getTime() + (wait ?? 0)),
      lastStatus: outcome.status ?? null,
      lastError: outcome.error ?? (delivered ? null : `HTTP ${outcome.status}`),
      lastLatencyMs: outcome.latencyMs,
      deliveredAt: delivered ? now : null,
    });
  }
}

function describe(error: unknown): string {
  const { name, code, message } = error as { name?: string; code?: string; message?: string };
  if (name === 'TimeoutError' || name === 'AbortError') return 'timed out';
  return [code, message].filter(Boolean).join(': ') || String(error);
}
