import type { FastifyInstance } from 'fastify';
import { buildApi } from '../api/app.ts';
import { DatabaseOutageLog } from '../api/problems.ts';
import { IdempotencyKeys } from '../api/idempotency.ts';
import { loadCatalog } from '../config/catalog-file.ts';
import type { Config } from '../config/config.ts';
import { loadMigrations, migrate } from '../db/migrate.ts';
import type { Pool } from '../db/pool.ts';
import type { Catalog } from '../domain/catalog.ts';
import type { EventStore } from '../eventstore/event-store.ts';
import { eventStoreOf } from '../eventstore/event-store-of.ts';
import type { Logger } from '../observability/logger.ts';
import { Metrics } from '../observability/metrics.ts';
import { ApiKeys } from '../auth/api-keys.ts';
import { DevTokens } from '../auth/dev-tokens.ts';
import { ClientConfigs } from '../clients/client-configs.ts';
import { ContentItems } from '../content/content-items.ts';
import { Likes } from '../content/likes.ts';
import { Authenticator } from '../auth/authenticator.ts';
import { ScopedTokens } from '../tokens/scoped-tokens.ts';
import { TokenKeyRing } from '../tokens/token-key-ring.ts';
import { purchasesProjection } from '../projections/entitlements/purchases-projection.ts';
import { PushAuthenticator } from '../ingest/google/push-auth.ts';
import { GOOGLE_NOTIFICATION_KIND } from '../ingest/google/accept-notification.ts';
import { PlayDeveloperApi } from '../ingest/google/play-developer-api.ts';
import { processGoogleNotification, type GoogleProcessingDeps } from '../ingest/google/process-notification.ts';
import { environmentOfPurchase } from '../projections/entitlements/customer-purchases.ts';
import { CustomerCache } from '../projections/entitlements/customer-cache.ts';
import { ProjectionRunner } from '../projections/runner.ts';
import { customerEventsProjection } from '../projections/customer-events/customer-events-projection.ts';
import { DeliveryWorker } from '../webhooks/delivery-worker.ts';
import { WebhookDeliveries } from '../webhooks/webhook-deliveries.ts';
import { WebhookEndpoints } from '../webhooks/webhook-endpoints.ts';
import { SourceDocumentArchive } from '../eventstore/source-documents.ts';
import { APPLE_NOTIFICATION_KIND, processAppleNotification } from '../ingest/apple/process-notification.ts';
import type { AppleReconciler } from '../ingest/apple/reconcile.ts';
import { appleReconciler, appleVerifier } from '../ingest/apple/reconciler-from-config.ts';
import { LapsedSubscriptionRecheck } from '../ingest/apple/recheck-lapsed.ts';
import { VoidedPurchasesPoll } from '../ingest/google/voided-poll.ts';
import { IntakeWorker } from '../ingest/intake-worker.ts';
import type { IntakeQueue } from '../intake/intake-queue.ts';
import { intakeQueueOf } from '../intake/intake-queue-of.ts';
import { INTAKE_CHANNEL } from '../intake/postgres-intake-queue.ts';
import { openDatabase } from './database.ts';
import { systemClock } from './system-clock.ts';
import type { Clock } from '../domain/clock.ts';
import { liveReadModelView } from '../application/read-model-view.ts';
import { PeriodicJob } from '../jobs/periodic-job.ts';
import { checkReadiness, projectionLagSeconds } from './readiness.ts';
import { DatabaseSignals } from '../db/database-signals.ts';
import { ProjectionFollower } from '../projections/projection-follower.ts';
import type { ProjectionProgress } from '../application/read-model-view.ts';

/** Who listens: workers, for events appended and deliveries scheduled by API instances (the intake queue has its own). */
const EVENTS_CHANNEL = 'subledger_events';
const DELIVERIES_CHANNEL = 'subledger_deliveries';

/**
 * A running instance. Every part is here in every role; those of a role the instance does
 * not have are built but not started (an API instance's projection runners stay idle).
 */
export interface Subledger {
  readonly config: Config;
  readonly catalog: Catalog;
  readonly pool: Pool;
  readonly eventStore: EventStore;
  readonly queue: IntakeQueue;
  readonly intake: IntakeWorker;
  readonly purchases: ProjectionRunner;
  /** The customer events the ledger sets off, and their webhook deliveries. */
  readonly customerEvents: ProjectionRunner;
  readonly webhookEndpoints: WebhookEndpoints;
  /** Customers' purchases, cached and invalidated by the read model. */
  readonly customers: CustomerCache;
  /** Issues and verifies scoped access tokens. */
  readonly tokens: ScopedTokens;
  /** App Store Server API reconciliation, when an API key is configured. */
  readonly reconciler: AppleReconciler | undefined;
  readonly api: FastifyInstance;
  /** The address the API listens on, once `listen` has run. */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * The composition root: configuration in, a running service out. Reads top to
 * bottom: catalog, database and schema, event store, projections, intake, HTTP.
 * `config.role` says which parts run here: processing (`worker`), serving (`api`), or
 * both (`all`). Processes of different roles wake each other through the database.
 */
export async function startSubledger(
  config: Config,
  logger: Logger,
  { clock = systemClock }: { readonly clock?: Clock } = {},
): Promise<Subledger> {
  const catalog = await loadCatalog(config.catalogPath);
  const database = await openDatabase(config.database, logger);
  const stops: (() => Promise<unknown>)[] = [() => database.close()];
  let stopped: Promise<void> | undefined;
  // Last started, first stopped; a second call waits for the first.
  const stop = () =>
    (stopped ??= (async () => {
      for (const step of [...stops].reverse()) {
        await step().catch((err) => logger.error({ err }, 'error while stopping'));
      }
    })());
  try {
    const { pool } = database;
    const applied = await migrate(pool);
    if (applied.length > 0) logger.info({ versions: applied }, 'applied schema migrations');
    const expectedSchemaVersion = Math.max(...(await loadMigrations()).map((m) => m.version));

    const processing = config.role !== 'api';
    const serving = config.role !== 'worker';
    const signals = new DatabaseSignals({ pool, logger });
    await signals.start();
    stops.push(() => signals.stop());

    const eventStore = await eventStoreOf(config.eventStore, pool);
    stops.push(async () => eventStore.close?.());
    const purchases = new ProjectionRunner({
      pool,
      eventStore,
      projection: purchasesProjection({ catalog, logger }),
      batchSize: config.projections.batchSize,
      idlePollMs: config.projections.idlePollMs,
      logger,
    });

    // Outgoing webhooks: the customer events the ledger sets off, and their deliveries. The
    // delivery worker is woken when this instance schedules deliveries; it polls for other instances'.
    let deliveriesScheduled = () => {};
    const customerEvents = new ProjectionRunner({
      pool,
      eventStore,
      projection: customerEventsProjection({ catalog }),
      batchSize: config.projections.batchSize,
      idlePollMs: config.projections.idlePollMs,
      logger,
      onApplied: () => deliveriesScheduled(),
    });
    if (processing) {
      for (const runner of [purchases, customerEvents]) {
        await runner.start();
        stops.push(() => runner.stop());
        eventStore.onAppended(() => runner.nudge());
        signals.subscribe(EVENTS_CHANNEL, () => runner.nudge());
      }
    } else {
      // The workers run the projections: tell them of appends made here.
      eventStore.onAppended(() => signals.notify(EVENTS_CHANNEL));
    }
    const webhookEndpoints = new WebhookEndpoints(pool, clock, { allowPrivate: config.webhooks.allowPrivateUrls });
    const webhookDeliveries = new WebhookDeliveries(pool, clock);

    const documents = new SourceDocumentArchive(pool);
    const queue = await intakeQueueOf(config.intake.queue, pool);
    const metrics = new Metrics({
      queueDepth: () => queue.depth(),
      // Reported by the instances that run the projections.
      projectionLag: async () =>
        processing
          ? {
              [purchases.status().projection]: await projectionLagSeconds(eventStore, purchases),
              [customerEvents.status().projection]: await projectionLagSeconds(eventStore, customerEvents),
            }
          : {},
      webhookBacklog: () => webhookDeliveries.backlog(),
    });
    if (processing && config.webhooks.delivery) {
      const deliveryWorker = new DeliveryWorker({
        pool,
        clock,
        logger,
        retry: { horizonMs: config.webhooks.retryHorizonMs },
        connectTimeoutMs: config.webhooks.connectTimeoutMs,
        requestTimeoutMs: config.webhooks.requestTimeoutMs,
        allowPrivate: config.webhooks.allowPrivateUrls,
        idlePollMs: config.webhooks.idlePollMs,
        metrics,
      });
      deliveryWorker.start();
      stops.push(() => deliveryWorker.stop());
      deliveriesScheduled = () => deliveryWorker.nudge();
      webhookDeliveries.onScheduled(() => deliveryWorker.nudge());
      signals.subscribe(DELIVERIES_CHANNEL, () => deliveryWorker.nudge());
    } else {
      // Support staff's tests and replays, scheduled here: the workers send them.
      webhookDeliveries.onScheduled(() => signals.notify(DELIVERIES_CHANNEL));
    }
    const googleProcessing: GoogleProcessingDeps = {
      eventStore,
      documents,
      ...(config.google.api && { api: new PlayDeveloperApi(config.google.api) }),
      environmentOf: (purchaseToken) => environmentOfPurchase(pool, 'play_store', purchaseToken),
      logger,
      metrics,
    };
    const intake = new IntakeWorker({
      queue,
      documents,
      logger,
      handlers: {
        [APPLE_NOTIFICATION_KIND]: (document) => processAppleNotification(document, { eventStore, logger, metrics }),
        [GOOGLE_NOTIFICATION_KIND]: (document) => processGoogleNotification(document, googleProcessing),
      },
      visibilityTimeoutMs: config.intake.visibilityTimeoutMs,
      idlePollMs: config.intake.idlePollMs,
    });
    if (processing && config.intake.worker) {
      intake.start();
      stops.push(() => intake.stop());
      queue.onEnqueued(() => intake.nudge());
      // Another process queued a notification: the PostgreSQL queue says so in the same commit
      // (a queue that long-polls needs no wake-up).
      if (config.intake.queue.kind === 'postgres') signals.subscribe(INTAKE_CHANNEL, () => intake.nudge());
    }
    if (processing) {
      const retention = new PeriodicJob(
        'intake retention',
        3_600_000,
        async () => {
          const forgotten = await queue.forgetProcessed(new Date(clock.now().getTime() - config.intake.retentionMs));
          if (forgotten > 0) logger.info({ forgotten }, 'forgot processed intake messages past their retention');
        },
        logger,
      );
      retention.start();
      stops.push(() => retention.stop());
    }
    const verifier = await appleVerifier(config, catalog);
    const reconciler = await appleReconciler(config, { catalog, verifier, documents, eventStore, queue, logger });
    if (processing && reconciler && config.apple.recheckIntervalMs > 0) {
      const recheck = new LapsedSubscriptionRecheck({
        pool,
        reconciler,
        logger,
        intervalMs: config.apple.recheckIntervalMs,
      });
      recheck.start();
      stops.push(() => recheck.stop());
    }
    if (processing && googleProcessing.api && config.google.voidedPollIntervalMs > 0) {
      const voidedPoll = new VoidedPurchasesPoll({
        ...googleProcessing,
        api: googleProcessing.api,
        pool,
        apps: catalog.apps,
        intervalMs: config.google.voidedPollIntervalMs,
      });
      voidedPoll.start();
      stops.push(() => voidedPoll.stop());
    }

    const tokenKeys = new TokenKeyRing(pool, {
      rotationMs: config.tokens.keyRotationMs,
      jwksCacheSeconds: config.tokens.jwksCacheSeconds,
      maxTokenLifetimeMs: config.tokens.maxLifetimeMs,
      clock,
    });
    const tokens = new ScopedTokens(tokenKeys, {
      issuer: config.tokens.issuer,
      audience: config.tokens.audience,
      maxLifetimeMs: config.tokens.maxLifetimeMs,
      clock,
    });
    const customers = new CustomerCache({ signals, db: pool, logger, maxEntries: config.customerCacheEntries });
    const authenticator = new Authenticator(new ApiKeys(pool), config.identityProvider, {
      clock,
      ...(config.devTokens && { devTokens: new DevTokens(pool, clock) }),
      apiKeyCacheMs: config.apiKeyCacheMs,
    });
    if (config.devTokens) logger.warn('AUTH_DEV_TOKENS=on: app-user tokens from `subledger dev-token` are trusted');
    const parts = {
      config,
      catalog,
      reconciler,
      tokens,
      customers,
      pool,
      eventStore,
      queue,
      intake,
      purchases,
      customerEvents,
      webhookEndpoints,
    };
    // A new connection is the first sign the database is back after an outage.
    const databaseOutage = new DatabaseOutageLog();
    pool.on('connect', () => databaseOutage.recovered(logger));
    const operations = {
      logger,
      databaseOutage,
      authenticator,
      rateLimitPerMinute: config.http.rateLimitPerMinute,
      trustProxy: config.http.trustProxy,
      requestTimeoutMs: config.http.requestTimeoutMs,
      operatorRoutes: config.http.operatorRoutes,
      readiness: () =>
        checkReadiness({ pool, eventStore, runners: processing ? [purchases] : [], expectedSchemaVersion }),
      metrics,
    };
    if (!serving) {
      // A worker answers health checks and metrics only.
      const api = await buildApi(operations);
      stops.push(() => api.close());
      const url = await api.listen({ port: config.http.port, host: config.http.host });
      return { ...parts, api, url, stop };
    }

    // The first key is published before any token is asked for, and each next one well
    // before it takes over, whether or not tokens are issued meanwhile.
    await tokenKeys.signingKey();
    const prepareEvery = Math.min(60_000, config.tokens.jwksCacheSeconds * 1000);
    const prepareKeys = new PeriodicJob('token key rotation', prepareEvery, () => tokenKeys.signingKey(), logger);
    prepareKeys.start();
    stops.push(() => prepareKeys.stop());
    customers.start();
    stops.push(async () => customers.stop());
    // Read your writes: this instance's own projection, or the workers' as they announce it.
    let entitlements: ProjectionProgress = purchases;
    if (!processing) {
      const follower = new ProjectionFollower({ projection: purchases.name, db: pool, signals, logger });
      await follower.start();
      stops.push(async () => follower.stop());
      entitlements = follower;
    }
    const view = liveReadModelView({ entitlements, customers, logger });
    const idempotency = new IdempotencyKeys(pool);
    // Expired keys are ignored anyway; this only keeps the table small.
    const purgeKeys = new PeriodicJob('idempotency key purge', 3_600_000, () => idempotency.purgeExpired(), logger);
    purgeKeys.start();
    stops.push(() => purgeKeys.stop());

    const clientConfigs = new ClientConfigs(pool);
    const seeded = await clientConfigs.seed(config.clientConfigSeedPath);
    if (seeded.length > 0) logger.info({ clients: seeded }, 'created client configurations from the seed file');
    const content = new ContentItems(pool);
    const newItems = await content.seed(config.contentSeedPath);
    if (newItems > 0) logger.info({ items: newItems }, 'created content items from the seed file');
    const api = await buildApi({
      ...operations,
      tokenKeys,
      apple: { verifier, queue, metrics },
      google: {
        ...(config.google.push && { push: new PushAuthenticator(config.google.push) }),
        catalog,
        queue,
        metrics,
      },
      tokens: { authenticator, customers, catalog, tokens, clock },
      clientConfigs: { configs: clientConfigs, authenticator },
      content: { content, tokens, likes: new Likes(pool), authenticator, edge: config.edge, clock },
      adminDeadLetters: { queue, authenticator },
      adminWebhooks: { endpoints: webhookEndpoints, deliveries: webhookDeliveries, authenticator },
      adminCustomers: {
        authenticator,
        db: pool,
        eventStore,
        catalog,
        logger,
        clock,
        view,
        idempotency,
        ...(reconciler && { apple: reconciler }),
        ...(googleProcessing.api && { google: { ...googleProcessing, api: googleProcessing.api } }),
      },
      customers: {
        authenticator,
        customers,
        catalog,
        view,
        clock,
        apple: {
          catalog,
          verifier,
          documents,
          eventStore,
          logger,
          acceptSandbox: config.apple.acceptSandbox,
          receipts: config.apple.receipts,
          clock,
          ...(reconciler && { reconciler }),
        },
        ...(googleProcessing.api && {
          google: { ...googleProcessing, api: googleProcessing.api, catalog, clock },
        }),
      },
    });
    stops.push(() => api.close());
    const url = await api.listen({ port: config.http.port, host: config.http.host });
    return { ...parts, api, url, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
