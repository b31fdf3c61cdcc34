import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * What Subledger counts, in Prometheus form at `/metrics`. One registry per service
 * instance (not prom-client's global one), so several instances in one process, as in
 * tests, never mix their numbers.
 */
export class Metrics {
  readonly registry = new Registry();

  /** Every App Store notification the webhook answered, by outcome and, for refusals, by reason. */
  readonly appleNotifications = new Counter({
    name: 'subledger_apple_notifications_total',
    help: 'App Store notifications received, by outcome (accepted, duplicate, rejected) and rejection code',
    labelNames: ['outcome', 'code'] as const,
    registers: [this.registry],
  });

  /** Notification types or subtypes this version does not know: recorded as notices, and counted here. */
  readonly unknownAppleNotifications = new Counter({
    name: 'subledger_apple_unknown_notification_types_total',
    help: 'App Store notifications of a type or subtype Subledger does not know yet (recorded as notices)',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });

  /** Every Play notification push the Google webhook answered, by outcome and, for refusals, by reason. */
  readonly googleNotifications = new Counter({
    name: 'subledger_google_notifications_total',
    help: 'Google Play notifications pushed, by outcome (accepted, duplicate, rejected) and rejection code',
    labelNames: ['outcome', 'code'] as const,
    registers: [this.registry],
  });

  /** Play notification types this version does not know: recorded as notices, and counted here. */
  readonly unknownGoogleNotifications = new Counter({
    name: 'subledger_google_unknown_notification_types_total',
    help: 'Google Play notifications of a type Subledger does not know yet (recorded as notices)',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });

  /** Every HTTP answer, by route pattern (not path: no user ids in labels) and status. */
  readonly httpRequests = new Histogram({
    name: 'subledger_http_request_duration_seconds',
    help: 'HTTP requests by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  /** Every webhook delivery attempt, by endpoint and what came of it. */
  readonly webhookAttempts = new Histogram({
    name: 'subledger_webhook_attempt_duration_seconds',
    help: 'Outgoing webhook delivery attempts, by endpoint and outcome (delivered, retrying, dead)',
    labelNames: ['endpoint', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
    registers: [this.registry],
  });

  constructor(
    options: {
      queueDepth?: () => Promise<number>;
      /** Per endpoint, how long its oldest undelivered event has waited, in seconds. */
      webhookBacklog?: () => Promise<Record<string, number>>;
      /** Each projection's lag in seconds (undefined: unknown right now). */
      projectionLag?: () => Promise<Record<string, number | undefined>>;
    } = {},
  ) {
    collectDefaultMetrics({ register: this.registry, prefix: 'subledger_' });
    const queueDepth = options.queueDepth;
    if (queueDepth) {
      new Gauge({
        name: 'subledger_intake_queue_depth',
        help: 'Accepted notifications waiting to be processed',
        registers: [this.registry],
        async collect() {
          this.set(await queueDepth());
        },
      });
    }
    const webhookBacklog = options.webhookBacklog;
    if (webhookBacklog) {
      new Gauge({
        name: 'subledger_webhook_oldest_undelivered_seconds',
        help: 'Per endpoint, the age of its oldest event not yet delivered (none: all delivered)',
        labelNames: ['endpoint'] as const,
        registers: [this.registry],
        async collect() {
          this.reset();
          for (const [endpoint, seconds] of Object.entries(await webhookBacklog())) this.set({ endpoint }, seconds);
        },
      });
    }
    const projectionLag = options.projectionLag;
    if (projectionLag) {
      new Gauge({
        name: 'subledger_projection_lag_seconds',
        help: 'Age of the oldest event a projection has not applied yet (0: caught up)',
        labelNames: ['projection'] as const,
        registers: [this.registry],
        async collect() {
          this.reset();
          for (const [projection, seconds] of Object.entries(await projectionLag())) {
            if (seconds !== undefined) this.set({ projection }, seconds);
          }
        },
      });
    }
  }
}
