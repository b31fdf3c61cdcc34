/**
 * `npm run bench:webhooks-out`: outgoing webhooks (issue 14), delivered by Subledger as
 * `npm start` runs it (a process of its own, default settings but
 * WEBHOOK_ALLOW_PRIVATE_URLS=on) on the embedded PostgreSQL with its durable defaults,
 * to a local receiver in this process: one HTTP server per endpoint, each on its own
 * loopback port, answering 204 at once and verifying Standard Webhooks signatures.
 *
 * 1. Throughput, for 1, 10 and 100 endpoints: a backlog of about DELIVERIES deliveries
 *    (first purchases of distinct users, each setting off INITIAL_PURCHASE and
 *    ENTITLEMENTS_CHANGED for every endpoint) is scheduled by the service running with
 *    WEBHOOK_DELIVERY=off, the endpoints are then disabled (PATCH enabled:false: the
 *    deliveries waiting wait) and the service is restarted as usual, delivery on, and
 *    warmed up on an endpoint of its own. Measured: from the PATCHes that enable the
 *    endpoints again to the last backlog delivery received, counted at the receiver
 *    (distinct webhook-ids per endpoint; duplicates counted apart). Disabling before the
 *    notifications are processed would not do: the projection schedules deliveries only
 *    for endpoints enabled when it writes the events.
 * 2. Latency: first purchases of distinct users at LATENCY_RATE/s for LATENCY_SECONDS,
 *    open loop, to the running service (intake, projections and delivery at once); per
 *    notification and endpoint, from the moment its POST was due to go until the receiver
 *    has that user's INITIAL_PURCHASE.
 * Each run has a fresh database and fresh service processes. CPU columns: cores busy
 * during the measured window, subledger / postgres / this process (sender, receiver and
 * sampler) / other processes. "db busy": the mean number of the service's connections
 * active in PostgreSQL, by statement, sampled from pg_stat_activity.
 *
 * Env: ENDPOINTS=1,10,100 DELIVERIES=20000 (backlog per throughput run) MAX_IN_FLIGHT=10
 *   (each endpoint's maxInFlight, the default) LATENCY_ENDPOINTS=1 LATENCY_RATE=200
 *   LATENCY_SECONDS=30 WARMUP=300 (notifications before measuring) VERIFY=1 (verify the
 *   signature of every Nth request; 1: all) THROUGHPUT_INTAKE_RATE=0 (notifications/s sent
 *   to the intake meanwhile the backlog drains; their deliveries are counted apart)
 *   DRAIN_TIMEOUT_SECONDS=150 SETTLE_SECONDS=60 POST_CONCURRENCY=16 SAMPLE_DB=1
 *   LOG_LEVEL=info (the service's) SERVICE_ENV=DATABASE_POOL_SIZE=20,... BENCH_DATABASE_URL
 * About 6 to 7 minutes on 2 cores with the defaults.
 */
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { benchPostgres, namedValues, machine, percentile } from './support.ts';
import { CpuMeter, findPostmaster, type CpuShares } from './webhook-cpu.ts';
import { NotificationSigner, type SignedNotification } from './webhook-notifications.ts';
import { startService, tail, type RunningService } from './webhook-service.ts';
import {
  ActivitySampler,
  AdminApi,
  appUserIdOf,
  deliveryCounts,
  eachLimited,
  headsScanMs,
  initialPurchases,
  noDeadNotifications,
  stageTimes,
  pacedSend,
  postAll,
  until,
  type DatabaseActivity,
  type DeliveryCounts,
  type PacedResult,
  type StageTimes,
} from './webhooks-out-load.ts';
import { Receiver, type ReceiverCounts } from './webhooks-out-receiver.ts';
import { HELD_PER_SLOT } from '../src/webhooks/held-deliveries.ts';

const env = process.env;
const list = (value: string) => value.split(',').filter(Boolean).map(Number);
const SETTINGS = {
  endpoints: list(env.ENDPOINTS ?? '1,10,100'),
  deliveries: Number(env.DELIVERIES ?? 20_000),
  maxInFlight: Number(env.MAX_IN_FLIGHT ?? 10),
  latencyEndpoints: list(env.LATENCY_ENDPOINTS ?? '1'),
  latencyRate: Number(env.LATENCY_RATE ?? 200),
  latencySeconds: Number(env.LATENCY_SECONDS ?? 30),
  warmup: Number(env.WARMUP ?? 300),
  verifyEvery: Math.max(1, Number(env.VERIFY ?? 1)),
  throughputIntakeRate: Number(env.THROUGHPUT_INTAKE_RATE ?? 0),
  drainTimeoutSeconds: Number(env.DRAIN_TIMEOUT_SECONDS ?? 150),
  settleSeconds: Number(env.SETTLE_SECONDS ?? 60),
  postConcurrency: Number(env.POST_CONCURRENCY ?? 16),
  sampleDb: env.SAMPLE_DB !== '0',
  logLevel: env.LOG_LEVEL ?? 'info',
  serviceEnv: namedValues(env.SERVICE_ENV),
};
const GOAL_PER_SECOND = 2_000;
const GOAL_P99_MS = 500;
/** Customer events a first purchase sets off, per endpoint: INITIAL_PURCHASE and ENTITLEMENTS_CHANGED. */
const EVENTS_PER_PURCHASE = 2;
/** Notifications the intake gets during a throughput run at most, when THROUGHPUT_INTAKE_RATE is set. */
const DRAIN_INTAKE_SECONDS = 60;

/**
 * Ctrl-C (or SIGTERM) aborts whatever is waiting; the finally blocks then stop the
 * services, drop the database and stop PostgreSQL. The listeners stay (`on`, not `once`):
 * the embedded PostgreSQL's own last-resort listener would otherwise see none of ours,
 * stop the server under us and end this process, leaving the service running. A second
 * signal exits at once (PostgreSQL is then stopped by its exit hook).
 */
const interruption = new AbortController();
const signal = interruption.signal;
const interrupt = (name: NodeJS.Signals) => {
  if (signal.aborted) process.exit(130);
  progress(`${name}: stopping the services and PostgreSQL (again to exit at once) ...`);
  interruption.abort(new Error('Interrupted'));
};
for (const name of ['SIGINT', 'SIGTERM'] as const) process.on(name, interrupt);
/** Services not yet stopped: on a forced exit, they are told to stop too. */
const liveServices = new Set<RunningService>();
process.on('exit', () => {
  for (const service of liveServices) {
    if (!service.exit) process.kill(service.pid, 'SIGTERM');
  }
});

interface ThroughputRun {
  endpoints: number;
  maxInFlight: number;
  /** First purchases in the backlog, and how long the intake took to process them (delivery off). */
  notifications: number;
  backlogBuildSeconds: number;
  /** Deliveries pending when the endpoints were enabled again. */
  scheduled: number;
  /** Distinct backlog deliveries received. */
  received: number;
  /** Distinct deliveries received in the window for notifications sent during it (THROUGHPUT_INTAKE_RATE). */
  live: number;
  receiver: ReceiverCounts;
  /**
   * Seconds from the first enabling PATCH: all PATCHes answered, first delivery, half, 99 %
   * and all of the backlog received (NaN: not within DRAIN_TIMEOUT_SECONDS; last is then
   * the time waited).
   */
  enabledS: number;
  firstS: number;
  halfS: number;
  p99S: number;
  lastS: number;
  perSecond: number;
  /** Over the first 99 % of the backlog: the rate before any straggler. */
  perSecondTo99: number;
  complete: boolean;
  after: DeliveryCounts;
  headsScanMs: number;
  cpu: CpuShares;
  activity: DatabaseActivity | undefined;
  invalid?: string;
}

interface LatencyRun {
  endpoints: number;
  rate: number;
  sent: number;
  accepted: number;
  refused: Record<string, number>;
  acceptP99Ms: number;
  worstSendDelayMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Accepted notifications whose INITIAL_PURCHASE an endpoint never got within SETTLE_SECONDS. */
  missing: number;
  /** Where the time went, by stage (see stageTimes). */
  stages: StageTimes;
  receiver: ReceiverCounts;
  cpu: CpuShares;
  activity: DatabaseActivity | undefined;
  invalid?: string;
}

const postgres = await benchPostgres();
const workDir = await mkdtemp(path.join(os.tmpdir(), 'subledger-webhooks-out-bench-'));
const started = performance.now();
try {
  const postgresSettings = await postgres.settings();
  const postmasterPid = await findPostmaster(postgres.serverUrl);
  const signer = await NotificationSigner.create();
  const trustedRootPath = path.join(workDir, 'apple-test-root.pem');
  await writeFile(trustedRootPath, signer.rootPem);
  const throughputPool = Math.max(
    0,
    ...SETTINGS.endpoints.map((e) => backlogUsers(e) + SETTINGS.warmup + extraIntake()),
  );
  const latencyPool = SETTINGS.latencyEndpoints.length
    ? SETTINGS.warmup + Math.round(SETTINGS.latencyRate * SETTINGS.latencySeconds)
    : 0;
  const poolSize = Math.max(throughputPool, latencyPool);
  progress(`signing ${poolSize} notifications (not measured; every run has a database of its own) ...`);
  signer.ensure(poolSize);
  const notifications = signer.notifications;

  const start = (databaseUrl: string, extraEnv: Record<string, string>) =>
    startService({
      databaseUrl,
      trustedRootPath,
      workDir,
      logLevel: SETTINGS.logLevel,
      env: { WEBHOOK_ALLOW_PRIVATE_URLS: 'on', ...SETTINGS.serviceEnv, ...extraEnv },
    });

  /** A fresh database, a connection to it, and whatever services `work` starts (stopped after, log shown on error). */
  const withDatabase = async <T>(
    tag: string,
    work: (
      databaseUrl: string,
      db: pg.Client,
      run: (extraEnv: Record<string, string>) => Promise<RunningService>,
    ) => Promise<T>,
  ): Promise<T> => {
    const databaseUrl = await postgres.freshDatabase(tag);
    const db = new pg.Client({ connectionString: databaseUrl, application_name: 'bench' });
    // A connection lost (PostgreSQL stopping under an interrupted run) fails the next query; it must not end the process.
    db.on('error', (error) => progress(`connection to ${tag}'s database lost: ${error.message}`));
    await db.connect();
    const services: RunningService[] = [];
    try {
      return await work(databaseUrl, db, async (extraEnv) => {
        const service = await start(databaseUrl, extraEnv);
        services.push(service);
        liveServices.add(service);
        return service;
      });
    } catch (error) {
      if (!signal.aborted) {
        for (const s of services) progress(`service log ${s.logFile} (last lines):\n${tail(s.logFile)}`);
      }
      throw error;
    } finally {
      await db.end().catch(() => {});
      for (const s of services) {
        await s.stop().catch(() => {});
        liveServices.delete(s);
      }
      await postgres.dropDatabase(databaseUrl).catch(() => {});
    }
  };

  // 1. Throughput
  const throughput: ThroughputRun[] = [];
  for (const endpoints of SETTINGS.endpoints) {
    signal.throwIfAborted();
    const result = await withDatabase('webhooks_out_tp', (databaseUrl, db, run) =>
      throughputRun(endpoints, notifications, databaseUrl, db, run, postmasterPid),
    );
    throughput.push(result);
    progress(
      `throughput  ${String(endpoints).padStart(3)} endpoints: ${result.complete ? '' : '< '}` +
        `${fmt(result.perSecond)} deliveries/s ` +
        `(${fmt(result.received)}/${fmt(result.scheduled)} in ${result.lastS.toFixed(1)} s; to 99 %: ` +
        `${fmt(result.perSecondTo99)}/s), duplicates ${result.receiver.duplicates}, bad signatures ` +
        `${result.receiver.badSignature}, order violations ${result.receiver.orderViolations}, ` +
        `cpu ${cpuText(result.cpu)}${result.invalid ? ` INVALID: ${result.invalid}` : ''}`,
    );
  }

  // 2. Latency
  const latency: LatencyRun[] = [];
  for (const endpoints of SETTINGS.latencyEndpoints) {
    signal.throwIfAborted();
    const result = await withDatabase('webhooks_out_lat', (databaseUrl, db, run) =>
      latencyRun(endpoints, notifications, databaseUrl, db, run, postmasterPid),
    );
    latency.push(result);
    progress(
      `latency     ${endpoints} endpoint(s) at ${result.rate}/s: p50 ${ms(result.p50Ms)} p95 ${ms(result.p95Ms)} ` +
        `p99 ${ms(result.p99Ms)} max ${ms(result.maxMs)}; accepted ${result.accepted}/${result.sent}, missing ` +
        `${result.missing}, cpu ${cpuText(result.cpu)}${result.invalid ? ` INVALID: ${result.invalid}` : ''}`,
    );
  }

  report(throughput, latency, postgresSettings);
} catch (error) {
  if (!signal.aborted) throw error;
  process.exitCode = 130;
} finally {
  await postgres.stop().catch(() => {});
  await rm(workDir, { recursive: true, force: true });
  progress(`wall time ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

function backlogUsers(endpoints: number): number {
  return Math.ceil(SETTINGS.deliveries / (EVENTS_PER_PURCHASE * endpoints));
}

function extraIntake(): number {
  return Math.round(SETTINGS.throughputIntakeRate * DRAIN_INTAKE_SECONDS);
}

async function throughputRun(
  endpoints: number,
  notifications: readonly SignedNotification[],
  databaseUrl: string,
  db: pg.Client,
  run: (extraEnv: Record<string, string>) => Promise<RunningService>,
  postmasterPid: number | undefined,
): Promise<ThroughputRun> {
  const users = backlogUsers(endpoints);
  const backlog = notifications.slice(0, users);
  const warm = notifications.slice(users, users + SETTINGS.warmup);
  const live = notifications.slice(users + SETTINGS.warmup, users + SETTINGS.warmup + extraIntake());
  const backlogUserIds = new Set(backlog.map(appUserIdOf));
  // Endpoint `endpoints` (the last) is the warm-up's.
  const receiver = await Receiver.start(endpoints + 1, SETTINGS.verifyEvery);
  let sampler: ActivitySampler | undefined;
  let intake: Promise<PacedResult> | undefined;
  let drained = false;
  try {
    // The backlog, scheduled by a service that does not deliver.
    let service = await run({ WEBHOOK_DELIVERY: 'off' });
    const key = await AdminApi.key(db);
    let admin = new AdminApi(service.url, key);
    const ids: string[] = [];
    for (let e = 0; e < endpoints; e++) {
      const { id, secret } = await admin.createEndpoint(receiver.urls[e]!, SETTINGS.maxInFlight);
      receiver.trust(e, secret);
      ids.push(id);
    }
    progress(`throughput  ${endpoints} endpoints: posting ${users} first purchases (delivery off) ...`);
    const buildFrom = performance.now();
    await postAll(service.url, backlog, SETTINGS.postConcurrency, signal);
    await until(
      'the backlog to be processed',
      async () => {
        await noDeadNotifications(db);
        return (await initialPurchases(db)) >= users;
      },
      { timeoutMs: 600_000, everyMs: 200, signal },
    );
    const backlogBuildSeconds = (performance.now() - buildFrom) / 1000;
    await eachLimited(ids, 8, (id) => admin.setEnabled(id, false));
    await service.stop();
    const scheduled = (await deliveryCounts(db, ids)).pending;
    const heads = await headsScanMs(db);
    progress(
      `throughput  ${endpoints} endpoints: ${scheduled} deliveries pending (built in ${backlogBuildSeconds.toFixed(1)} s; ` +
        `heads scan ${heads.toFixed(1)} ms); restarting with delivery on, warming up ...`,
    );

    // The service as it usually runs, warmed up on an endpoint of its own.
    service = await run({});
    admin = new AdminApi(service.url, key);
    const warmEndpoint = await admin.createEndpoint(receiver.urls[endpoints]!, SETTINGS.maxInFlight);
    receiver.trust(endpoints, warmEndpoint.secret);
    await postAll(service.url, warm, 8, signal);
    await until(
      'the warm-up to be delivered',
      async () =>
        (await initialPurchases(db)) >= users + warm.length &&
        (await deliveryCounts(db, [warmEndpoint.id])).pending === 0,
      { timeoutMs: 120_000, everyMs: 100, signal },
    );
    await admin.setEnabled(warmEndpoint.id, false);

    // Measured: enable, and count at the receiver.
    const backlogTimes: number[] = [];
    let liveCount = 0;
    receiver.onFirst = (r) => {
      if (r.endpoint >= endpoints) return;
      if (r.appUserId !== undefined && backlogUserIds.has(r.appUserId)) backlogTimes.push(r.at);
      else liveCount++;
    };
    const before = receiver.stats;
    const cpu = new CpuMeter([service.pid], postmasterPid);
    sampler = SETTINGS.sampleDb ? new ActivitySampler(databaseUrl) : undefined;
    await sampler?.start();
    const from = cpu.sample();
    const t0 = performance.now();
    intake =
      live.length > 0
        ? pacedSend(service.url, live, SETTINGS.throughputIntakeRate, { stop: () => drained, signal })
        : undefined;
    await eachLimited(ids, 16, (id) => admin.setEnabled(id, true));
    const enabledAt = performance.now();
    let complete = true;
    try {
      await until('the backlog to be delivered', () => backlogTimes.length >= scheduled || !!service.exit, {
        timeoutMs: SETTINGS.drainTimeoutSeconds * 1000,
        everyMs: 10,
        signal,
      });
    } catch (error) {
      if (signal.aborted) throw error;
      complete = false;
      progress(`throughput  ${endpoints} endpoints: ${(error as Error).message}`);
    }
    drained = true;
    const waitedS = (performance.now() - t0) / 1000;
    const to = cpu.sample();
    // The window ends here: what the intake's notifications set off later is not counted.
    const liveInWindow = liveCount;
    const stats = difference(receiver.stats, before);
    const activity = await sampler?.stop();
    const sent = await intake;
    // The worker records each delivery just after the receiver answered.
    await until('the deliveries to be recorded', async () => (await deliveryCounts(db, ids)).pending === 0, {
      timeoutMs: 5_000,
      signal,
    }).catch(() => {});
    const after = await deliveryCounts(db, ids);
    const times = backlogTimes.map((t) => (t - t0) / 1000).sort((a, b) => a - b);
    // When the share of the scheduled backlog had arrived (NaN: it never did).
    const at = (share: number) => times[Math.max(0, Math.ceil(share * scheduled) - 1)] ?? Number.NaN;
    // Incomplete: the whole wait, so the rate is an upper bound on the backlog's.
    const lastS = complete ? at(1) : waitedS;
    const invalid = [
      service.exit && `the service ${service.exit} during the run`,
      sent && sent.sends.some((s) => s.refused) && 'notifications refused during the drain',
    ].filter(Boolean);
    return {
      endpoints,
      maxInFlight: SETTINGS.maxInFlight,
      notifications: users,
      backlogBuildSeconds,
      scheduled,
      received: backlogTimes.length,
      live: liveInWindow,
      receiver: stats,
      enabledS: (enabledAt - t0) / 1000,
      firstS: at(0),
      halfS: at(0.5),
      p99S: at(0.99),
      lastS,
      perSecond: backlogTimes.length / lastS,
      perSecondTo99: Math.ceil(0.99 * scheduled) / at(0.99),
      complete,
      after,
      headsScanMs: heads,
      cpu: cpu.between(from, to),
      activity,
      ...(invalid.length > 0 && { invalid: invalid.join('; ') }),
    };
  } finally {
    drained = true;
    await intake?.catch(() => {});
    await sampler?.stop();
    await receiver.close();
  }
}

async function latencyRun(
  endpoints: number,
  notifications: readonly SignedNotification[],
  databaseUrl: string,
  db: pg.Client,
  run: (extraEnv: Record<string, string>) => Promise<RunningService>,
  postmasterPid: number | undefined,
): Promise<LatencyRun> {
  const { latencyRate: rate, warmup } = SETTINGS;
  const warm = notifications.slice(0, warmup);
  const measured = notifications.slice(warmup, warmup + Math.round(rate * SETTINGS.latencySeconds));
  const indexOf = new Map(measured.map((n, i) => [appUserIdOf(n), i]));
  const receiver = await Receiver.start(endpoints, SETTINGS.verifyEvery);
  let sampler: ActivitySampler | undefined;
  try {
    const service = await run({});
    const admin = new AdminApi(service.url, await AdminApi.key(db));
    const ids: string[] = [];
    for (let e = 0; e < endpoints; e++) {
      const { id, secret } = await admin.createEndpoint(receiver.urls[e]!, SETTINGS.maxInFlight);
      receiver.trust(e, secret);
      ids.push(id);
    }
    progress(`latency     ${endpoints} endpoint(s): warming up with ${warm.length} notifications ...`);
    await postAll(service.url, warm, 8, signal);
    await until(
      'the warm-up to be delivered',
      async () => (await initialPurchases(db)) >= warm.length && (await deliveryCounts(db, ids)).pending === 0,
      { timeoutMs: 120_000, everyMs: 100, signal },
    );

    const arrivedAt = new Float64Array(measured.length * endpoints).fill(Number.NaN);
    let arrived = 0;
    receiver.onFirst = (r) => {
      if (r.type !== 'INITIAL_PURCHASE' || r.appUserId === undefined) return;
      const i = indexOf.get(r.appUserId);
      if (i === undefined) return;
      arrivedAt[i * endpoints + r.endpoint] = r.at;
      arrived++;
    };
    const before = receiver.stats;
    const cpu = new CpuMeter([service.pid], postmasterPid);
    sampler = SETTINGS.sampleDb ? new ActivitySampler(databaseUrl) : undefined;
    await sampler?.start();
    const from = cpu.sample();
    const measuredSince = new Date();
    progress(`latency     ${endpoints} endpoint(s): ${measured.length} notifications at ${rate}/s ...`);
    const paced = await pacedSend(service.url, measured, rate, { signal });
    const to = cpu.sample();
    const activity = await sampler?.stop();
    const accepted = paced.sends.filter((s) => s.answeredAt !== undefined).length;
    await until('every INITIAL_PURCHASE to arrive', () => arrived >= accepted * endpoints || !!service.exit, {
      timeoutMs: SETTINGS.settleSeconds * 1000,
      everyMs: 20,
      signal,
    }).catch((error: unknown) => {
      if (signal.aborted) throw error;
    });

    const latencies: number[] = [];
    let missing = 0;
    paced.sends.forEach((send, i) => {
      if (send.answeredAt === undefined) return;
      for (let e = 0; e < endpoints; e++) {
        const at = arrivedAt[i * endpoints + e]!;
        if (Number.isNaN(at)) missing++;
        latencies.push(Number.isNaN(at) ? Number.POSITIVE_INFINITY : at - send.scheduledAt);
      }
    });
    const stages = await stageTimes(db, measuredSince);
    const refused: Record<string, number> = {};
    for (const s of paced.sends) if (s.refused) refused[s.refused] = (refused[s.refused] ?? 0) + 1;
    const acceptance = paced.sends.filter((s) => s.answeredAt !== undefined).map((s) => s.answeredAt! - s.scheduledAt);
    return {
      endpoints,
      rate,
      sent: paced.sends.length,
      accepted,
      refused,
      acceptP99Ms: percentile(acceptance, 99),
      worstSendDelayMs: paced.worstSendDelayMs,
      p50Ms: percentile(latencies, 50),
      p95Ms: percentile(latencies, 95),
      p99Ms: percentile(latencies, 99),
      maxMs: percentile(latencies, 100),
      missing,
      stages,
      receiver: difference(receiver.stats, before),
      cpu: cpu.between(from, to),
      activity,
      ...(service.exit && { invalid: `the service ${service.exit} during the run` }),
    };
  } finally {
    await sampler?.stop();
    await receiver.close();
  }
}

function report(throughput: ThroughputRun[], latency: LatencyRun[], postgresSettings: Record<string, string>): void {
  console.log(`\nMachine: ${JSON.stringify(machine())}`);
  console.log(`PostgreSQL: ${JSON.stringify(postgresSettings)}`);
  console.log(`Settings: ${JSON.stringify(SETTINGS)}`);
  console.log(
    `The ${os.cpus().length} cores are shared by Subledger (one Node process: webhook intake, projections and ` +
      'delivery worker), PostgreSQL and this process (sender, receiver, sampler). Every endpoint is a server of ' +
      `its own on a loopback port of this process, answering 204 at once; maxInFlight ${SETTINGS.maxInFlight} ` +
      `each. Signatures verified (standardwebhooks) on ${SETTINGS.verifyEvery === 1 ? 'every request' : `every ${SETTINGS.verifyEvery}th request`}; ` +
      'one that fails is answered 401.',
  );
  if (throughput.length > 0) {
    console.log(
      '\nThroughput: a backlog of first purchases (INITIAL_PURCHASE + ENTITLEMENTS_CHANGED per endpoint), ' +
        'from enabling the endpoints to the last delivery received' +
        (SETTINGS.throughputIntakeRate > 0
          ? `, with ${SETTINGS.throughputIntakeRate} notifications/s to the intake meanwhile`
          : ', the intake idle meanwhile') +
        '. Times in seconds from the first enabling PATCH.',
    );
    console.table(
      throughput.map((t) => ({
        endpoints: t.endpoints,
        'notifications (backlog)': t.notifications,
        'deliveries received / scheduled': `${t.received}/${t.scheduled}${t.complete ? '' : ' INCOMPLETE'}`,
        'deliveries/s': t.complete ? fmt(t.perSecond) : `< ${fmt(t.perSecond)}`,
        'to 99 %/s': fmt(t.perSecondTo99),
        'first / 50 % / 99 % / all s': [t.firstS, t.halfS, t.p99S, t.complete ? t.lastS : Number.NaN]
          .map((s) => (Number.isNaN(s) ? '-' : s.toFixed(2)))
          .join(' / '),
        'dup / bad sig / order': `${t.receiver.duplicates} / ${t.receiver.badSignature} / ${t.receiver.orderViolations}`,
        verified: t.receiver.verified,
        ...(SETTINGS.throughputIntakeRate > 0 && { 'live deliveries': t.live }),
        cpu: cpuText(t.cpu),
        goal: t.invalid ? `INVALID (${t.invalid})` : passFail(t.complete && t.perSecond >= GOAL_PER_SECOND),
      })),
    );
    console.table(
      throughput.map((t) => ({
        endpoints: t.endpoints,
        'backlog built in s (delivery off)': t.backlogBuildSeconds.toFixed(1),
        'heads scan ms (full backlog)': t.headsScanMs.toFixed(1),
        'PATCHes answered s': t.enabledS.toFixed(2),
        'db busy (mean connections)': t.activity ? busyText(t.activity.busyBy) : '',
        'db waits': t.activity ? busyText(t.activity.waitingOn) : '',
        // Held by the worker (sending, or waiting for a slot), and sent but not yet recorded.
        'max leased at once': t.activity
          ? `${t.activity.maxLeased} (held at most ${HELD_PER_SLOT * t.endpoints * t.maxInFlight})`
          : '',
        'after: delivered / pending / dead / retried': `${t.after.delivered} / ${t.after.pending} / ${t.after.dead} / ${t.after.retried}`,
        'last errors': JSON.stringify(t.after.lastErrors),
      })),
    );
  }
  if (latency.length > 0) {
    console.log(
      `\nLatency: first purchases of distinct users at a fixed rate for ${SETTINGS.latencySeconds} s (open loop), ` +
        'from the moment each notification POST was due until the receiver had its INITIAL_PURCHASE, per endpoint ' +
        `(one not received ${SETTINGS.settleSeconds} s after the last send counts as infinitely late)`,
    );
    console.table(
      latency.map((l) => ({
        endpoints: l.endpoints,
        'rate/s': l.rate,
        'accepted / sent': `${l.accepted}/${l.sent}`,
        'intake 2xx p99 ms': fmt(l.acceptP99Ms),
        'p50 ms': ms(l.p50Ms),
        'p95 ms': ms(l.p95Ms),
        'p99 ms': ms(l.p99Ms),
        'max ms': ms(l.maxMs),
        missing: l.missing,
        'dup / bad sig / order': `${l.receiver.duplicates} / ${l.receiver.badSignature} / ${l.receiver.orderViolations}`,
        cpu: cpuText(l.cpu),
        'db busy': l.activity ? busyText(l.activity.busyBy) : '',
        goal: l.invalid ? `INVALID (${l.invalid})` : passFail(l.p99Ms < GOAL_P99_MS),
      })),
    );
    console.log(
      'Where the time went, ms p50 / p99 by stage: accepted to its fact in the ledger (intake queue and worker), ' +
        'to its customer event (customer-events projection), to its delivery row, to delivered (claim, send, outcome)',
    );
    console.table(
      latency.map((l) => ({
        endpoints: l.endpoints,
        'rate/s': l.rate,
        ...Object.fromEntries(Object.entries(l.stages).map(([stage, t]) => [stage, `${ms(t.p50)} / ${ms(t.p99)}`])),
      })),
    );
  }
  console.log('\nGoals:');
  for (const t of throughput) {
    console.log(
      `  ${passFail(!t.invalid && t.complete && t.perSecond >= GOAL_PER_SECOND)}  >= ${fmt(GOAL_PER_SECOND)} ` +
        `deliveries/s with ${t.endpoints} endpoint(s): ${t.complete ? '' : '< '}${fmt(t.perSecond)}/s` +
        (t.complete ? '' : ` (${t.received} of ${t.scheduled} received in ${t.lastS.toFixed(0)} s)`),
    );
  }
  for (const l of latency) {
    console.log(
      `  ${passFail(!l.invalid && l.p99Ms < GOAL_P99_MS)}  p99 < ${GOAL_P99_MS} ms at ${l.rate}/s with ` +
        `${l.endpoints} endpoint(s), intake running: ${ms(l.p99Ms)} ms`,
    );
  }
  console.log(
    JSON.stringify({ machine: machine(), postgres: postgresSettings, settings: SETTINGS, throughput, latency }),
  );
}

function difference(to: ReceiverCounts, from: ReceiverCounts): ReceiverCounts {
  return Object.fromEntries(
    Object.entries(to).map(([k, v]) => [k, v - from[k as keyof ReceiverCounts]]),
  ) as unknown as ReceiverCounts;
}

function passFail(ok: boolean): string {
  return ok ? 'PASS' : 'FAIL';
}

function busyText(counts: Readonly<Record<string, number>>): string {
  return Object.entries(counts)
    .filter(([, v]) => v >= 0.01)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');
}

function cpuText(c: CpuShares): string {
  return [c.subledger, c.postgres, c.loadGenerator, c.other].map((x) => x.toFixed(2)).join(' / ');
}

function fmt(n: number): string {
  if (Number.isNaN(n)) return '-';
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : String(n);
}

function ms(n: number): string {
  return n === Number.POSITIVE_INFINITY ? `> ${SETTINGS.settleSeconds} s` : fmt(n);
}

function progress(message: string): void {
  console.error(message);
}
