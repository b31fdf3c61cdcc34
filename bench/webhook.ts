/**
 * `npm run bench:webhook`: verified App Store webhook acceptance over HTTP, against
 * Subledger as `npm start` runs it (a process of its own, default settings) on the
 * embedded PostgreSQL with its default durable settings.
 *
 * 0. Ceilings, in this process with nothing else running: the CPU that verification
 *    alone costs per notification (called as the service calls it), and the rate of
 *    archive + enqueue alone (the service's one statement).
 * 1. Throughput: autocannon posts distinct pre-signed notifications on 16, 32 and 64
 *    connections; afterwards every notification answered `accepted` is checked to be
 *    in the archive and the intake queue exactly once, with its exact signed payload.
 * 2. Latency: an open-loop sender at 500 (the goal) and 100 notifications/s; for each
 *    notification, the time from its scheduled send until its purchase is in the
 *    `purchases` read model.
 * Every measurement gets a fresh database and a fresh service, warmed up first. Runs
 * are interleaved; the tables show medians and every run. CPU columns say who used the
 * cores meanwhile: the machine has two, shared by the service, PostgreSQL and this
 * process (the load generator), and by anything else running on it.
 *   RUNS=3 CONNECTIONS=32,64,128 THROUGHPUT_SECONDS=15 LATENCY_RATES=500,100 LATENCY_SECONDS=20
 *   WARMUP=500 PROCESSES=1 (instances of the service on one database, sharing the load)
 *   SEPARATE_WORKER=1 (those only accept; one more instance processes) LOG_LEVEL=info (theirs)
 *   SERVICE_ENV=DATABASE_POOL_SIZE=20,INTAKE_QUEUE=sqs  CEILINGS=0 (skip 0.)
 *   HISTORY=100000 (processed messages already in the queue, as after a while in production)
 *   PROFILE=1 (one more throughput run under --cpu-prof, summarized)
 *   PROFILE_DIR=... (every service process of every run writes a V8 CPU profile there: the
 *   worker's too, and under the latency runs' load; summarize one with bench/webhook-profile.ts)
 *   BENCH_DATABASE_URL=... (another PostgreSQL server)  KEEP_BENCH_DIR=1 (keep the services' logs)
 *   FRESH_WAL=1 (the embedded server as new: its WAL not yet written once, see bench/support.ts)
 *   BENCH_POSTGRES_SETTINGS=max_wal_size=4GB,... (settings for the embedded server, applied by a reload)
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import pg from 'pg';
import { loadCatalog } from '../src/config/catalog-file.ts';
import { migrate } from '../src/db/migrate.ts';
import { createPool } from '../src/db/pool.ts';
import { documentIdOf, SourceDocumentArchive } from '../src/eventstore/source-documents.ts';
import { AppleVerifier, loadTrustedRoots } from '../src/ingest/apple/apple-verifier.ts';
import { PostgresIntakeQueue } from '../src/intake/postgres-intake-queue.ts';
import { benchPostgres, namedValues, inParallel, machine, median, percentile } from './support.ts';
import { CpuMeter, findPostmaster, type CpuShares } from './webhook-cpu.ts';
import { pacedRun, parseAnswer, stageTimes, type LatencyStages } from './webhook-latency.ts';
import { appleWorkload, googleWorkload, type Delivery, type WebhookWorkload } from './webhook-workloads.ts';
import { startSqsEmulator } from '../test/support/sqs-emulator.ts';
import { summarizeProfile } from './webhook-profile.ts';
import { startServices, type ServiceGroup } from './webhook-service.ts';

const env = process.env;
const list = (value: string) => value.split(',').filter(Boolean).map(Number);
const SETTINGS = {
  runs: Number(env.RUNS ?? 3),
  connections: list(env.CONNECTIONS ?? '32,64,128'),
  throughputSeconds: Number(env.THROUGHPUT_SECONDS ?? 15),
  latencyRates: list(env.LATENCY_RATES ?? '500,100'),
  latencySeconds: Number(env.LATENCY_SECONDS ?? 20),
  warmup: Number(env.WARMUP ?? 500),
  /** Instances of the service on the one database; the load is spread over them. */
  processes: Number(env.PROCESSES ?? 1),
  /** Those instances only accept (SUBLEDGER_ROLE=api); a worker processes. */
  separateWorker: env.SEPARATE_WORKER === '1',
  /**
   * With SEPARATE_WORKER: the worker is paused (SIGSTOP) while throughput is measured and let
   * go after, as when a burst outruns processing: acceptance alone, then the drain.
   */
  pauseWorker: env.PAUSE_WORKER === '1',
  logLevel: env.LOG_LEVEL ?? 'info',
  serviceEnv: namedValues(env.SERVICE_ENV),
  settleSeconds: Number(env.SETTLE_SECONDS ?? 60),
  drainSeconds: Number(env.DRAIN_SECONDS ?? 5),
  /** Processed messages already in the intake queue, as after a while in production (they are kept). */
  history: Number(env.HISTORY ?? 0),
  ceilings: env.CEILINGS !== '0',
  profile: env.PROFILE === '1',
  profileDir: env.PROFILE_DIR,
  /** Whose webhook: the App Store's (signed notifications) or Google Play's (Pub/Sub pushes). */
  store: (env.STORE ?? 'apple') as 'apple' | 'google',
  /** Where accepted notifications wait: PostgreSQL, or SQS (an emulator started here). */
  queue: (env.QUEUE ?? 'postgres') as 'postgres' | 'sqs',
};
// Warm-up sends notifications [0, WARMUP); a connection may have built one more it never sent.
const WARMUP_CONNECTIONS = 16;
const FIRST_MEASURED = SETTINGS.warmup + WARMUP_CONNECTIONS;
/** How long a drain waits for processing to start before it measures anyway. */
const RESUME_WAIT_MS = 30_000;
const CATALOG = new URL('../catalog/sample-fitness.json', import.meta.url);
/** The archive + enqueue ceiling: concurrent writers, and the service's default pool size. */
const CEILING_WRITERS = 32;
const CEILING_POOL = 10;

interface Counts {
  documents: number;
  queued: number;
  pending: number;
  dead: number;
  purchases: number;
}

const postgres = await benchPostgres();
const workDir = await mkdtemp(path.join(os.tmpdir(), 'subledger-webhook-bench-'));
const workload: WebhookWorkload = SETTINGS.store === 'google' ? await googleWorkload() : await appleWorkload(workDir);
// The SQS queue: an emulator in a process of its own (its CPU shown as the queue's), a new queue per service.
const sqs = SETTINGS.queue === 'sqs' ? await startSqsEmulator({ ownProcess: true }) : undefined;
const queueEnv = async (): Promise<Record<string, string>> => {
  if (!sqs) return {};
  const { queueUrl, deadLetterQueueUrl } = await sqs.fifoQueue();
  return {
    INTAKE_QUEUE: 'sqs',
    INTAKE_SQS_QUEUE_URL: queueUrl,
    INTAKE_SQS_DEAD_LETTER_QUEUE_URL: deadLetterQueueUrl,
    SQS_ENDPOINT: sqs.endpoint,
    AWS_REGION: 'us-east-1',
    // The emulator takes any credentials.
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
  };
};
try {
  const postgresVersion = (await postgres.settings()).server_version;
  const postmasterPid = await findPostmaster(postgres.serverUrl);
  const firstPool =
    FIRST_MEASURED +
    Math.max(Math.max(...SETTINGS.latencyRates) * SETTINGS.latencySeconds, 2500 * SETTINGS.throughputSeconds);
  progress(`signing ${firstPool} ${SETTINGS.store} notifications (not measured) ...`);
  workload.ensure(firstPool);

  const withService = async <T>(
    tag: string,
    work: (service: ServiceGroup, db: pg.Client, cpu: CpuMeter) => Promise<T>,
    options: { cpuProfile?: boolean } = {},
  ): Promise<T> => {
    const databaseUrl = await postgres.freshDatabase(tag);
    const service = await startServices(SETTINGS.processes, {
      databaseUrl,
      workDir,
      logLevel: SETTINGS.logLevel,
      env: { ...workload.env, ...(await queueEnv()), ...SETTINGS.serviceEnv },
      separateWorker: SETTINGS.separateWorker,
      ...(SETTINGS.profileDir && { cpuProfile: true, profileDir: SETTINGS.profileDir }),
      ...options,
    });
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      if (SETTINGS.history > 0) await addHistory(db, SETTINGS.history);
      await cannon(service.urls, workload, 0, { connections: WARMUP_CONNECTIONS, amount: SETTINGS.warmup });
      await drained(db, SETTINGS.warmup);
      return await work(service, db, new CpuMeter(service.pids, postmasterPid, sqs?.pid));
    } catch (error) {
      progress(`service log (last lines):\n${service.tail()}`);
      throw error;
    } finally {
      await db.end();
      await service.stop();
      await postgres.dropDatabase(databaseUrl);
    }
  };

  // 0. Ceilings
  // Verification's cost is the App Store's (three JWS and their chains); Google's push is one token.
  const ceilings =
    SETTINGS.ceilings && SETTINGS.store === 'apple'
      ? await measureCeilings(workload.deliveries, workload.env.APPLE_TRUSTED_ROOTS!)
      : undefined;

  // 1. Throughput
  const throughput: ThroughputRun[] = [];
  for (let run = 0; run < SETTINGS.runs; run++) {
    for (const connections of SETTINGS.connections) {
      const best = Math.max(0, ...throughput.map((t) => t.acceptedPerSecond));
      workload.ensure(FIRST_MEASURED + Math.ceil(2 * best * SETTINGS.throughputSeconds));
      const result = await withService('webhook_throughput', (service, db, cpu) =>
        throughputRun(service, db, cpu, workload, connections),
      );
      throughput.push(result);
      progress(
        `throughput  ${String(connections).padStart(3)} connections: ${fmt(result.acceptedPerSecond)} accepted/s, ` +
          `p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, non-2xx ${result.non2xx}, errors ${result.errors}, ` +
          `durable ${result.durable}/${result.accepted}, processed ${fmt(result.processedPerSecond)}/s ` +
          `(after: ${fmt(result.processedAlonePerSecond)}/s, from ${fmt(result.resumedAfterMs)} ms, cpu ${cpuText(result.drainCpu)}), cpu ${cpuText(result.cpu)}` +
          `${result.poolExhausted ? ' (ran out of signed notifications: stopped early)' : ''}` +
          `${result.invalid ? ` INVALID: ${result.invalid}` : ''}`,
      );
    }
  }

  // 2. Latency
  const latency: LatencyRun[] = [];
  for (let run = 0; run < SETTINGS.runs; run++) {
    for (const rate of SETTINGS.latencyRates) {
      workload.ensure(FIRST_MEASURED + rate * SETTINGS.latencySeconds);
      const result = await withService('webhook_latency', async (service, db, cpu) => {
        const from = cpu.sample();
        const measuredSince = new Date();
        const paced = await pacedRun({
          urls: service.urls,
          path: workload.path,
          deliveries: workload.deliveries.slice(FIRST_MEASURED),
          rate,
          seconds: SETTINGS.latencySeconds,
          db,
          settleMs: SETTINGS.settleSeconds * 1000,
        });
        const shares = cpu.between(from, cpu.sample());
        const stages = await stageTimes(db, measuredSince);
        const entitlement = withMissing(paced.entitlementMs, paced.neverVisible);
        return {
          rate,
          sent: paced.sent,
          accepted: paced.accepted,
          refused: paced.refused,
          acceptP50Ms: percentile(paced.acceptanceMs, 50),
          acceptP99Ms: percentile(paced.acceptanceMs, 99),
          p50Ms: percentile(entitlement, 50),
          p95Ms: percentile(entitlement, 95),
          p99Ms: percentile(entitlement, 99),
          maxMs: percentile(entitlement, 100),
          neverVisible: paced.neverVisible,
          quarterP50Ms: paced.quarterP50Ms,
          worstSendDelayMs: paced.worstSendDelayMs,
          announcements: paced.announcements,
          lookups: paced.lookups,
          cpu: shares,
          stages,
          ...(service.exit && { invalid: `the service ${service.exit} during the run` }),
        };
      });
      latency.push(result);
      progress(
        `latency     ${result.rate}/s: entitlement p50 ${ms(result.p50Ms)} p95 ${ms(result.p95Ms)} ` +
          `p99 ${ms(result.p99Ms)} max ${ms(result.maxMs)}, p50 first/last quarter ${result.quarterP50Ms.map(ms).join('/')}; 2xx p50 ${ms(result.acceptP50Ms)} ` +
          `p99 ${ms(result.acceptP99Ms)}; accepted ${result.accepted}/${result.sent}, not visible ` +
          `${SETTINGS.settleSeconds} s after the last send: ${result.neverVisible}; cpu ${cpuText(result.cpu)}; ` +
          `stages p50/p99: to ledger ${ms(result.stages.toLedgerMs.p50)}/${ms(result.stages.toLedgerMs.p99)}, ` +
          `to read model ${ms(result.stages.toReadModelMs.p50)}/${ms(result.stages.toReadModelMs.p99)}` +
          `${result.invalid ? ` INVALID: ${result.invalid}` : ''}`,
      );
    }
  }

  // Profile
  let profile: ReturnType<typeof summarizeProfile> | undefined;
  let profiled: ThroughputRun | undefined;
  if (SETTINGS.profile) {
    const connections = SETTINGS.connections[Math.min(1, SETTINGS.connections.length - 1)]!;
    const before = new Set(await readdir(workDir));
    profiled = await withService(
      'webhook_profile',
      (service, db, cpu) => throughputRun(service, db, cpu, workload, connections),
      { cpuProfile: true },
    );
    const file = (await readdir(workDir)).find((f) => f.endsWith('.cpuprofile') && !before.has(f));
    if (file) profile = summarizeProfile(path.join(workDir, file));
  }

  // Report
  console.log(`\nMachine: ${JSON.stringify({ ...machine(), postgres: postgresVersion })}`);
  console.log(`PostgreSQL: ${JSON.stringify(await postgres.settings())}`);
  console.log(`Settings: ${JSON.stringify(SETTINGS)}`);
  console.log(
    `The ${os.cpus().length} cores are shared by Subledger (${serviceShape()}), PostgreSQL, ` +
      `${sqs ? 'the SQS emulator (a process of its own), ' : ''}and this process ` +
      '(autocannon, or the paced sender and the read-model listener). ' +
      'cpu = cores busy during the measured window: subledger / postgres / load generator / other processes' +
      `${sqs ? ' / queue (the emulator)' : ''}.`,
  );
  if (ceilings) {
    console.log('\nCeilings, measured in this process before any service starts:');
    console.table({
      'verify (3 JWS, chains remembered)': {
        'CPU ms per notification': ceilings.verifyCpuMs.toFixed(2),
        'notifications/s': `${fmt(1000 / ceilings.verifyCpuMs)} per core`,
      },
      [`archive + enqueue (1 statement, ${CEILING_WRITERS} writers, pool ${CEILING_POOL})`]: {
        'CPU ms per notification': '',
        'notifications/s': fmt(ceilings.archiveEnqueuePerSecond),
      },
    });
  }
  if (throughput.length > 0) {
    console.log(
      `\nThroughput: distinct notifications, ${SETTINGS.throughputSeconds} s per run (median, and every run)`,
    );
    console.table(
      SETTINGS.connections.map((connections) => {
        const runs = throughput.filter((t) => t.connections === connections);
        const col = (pick: (t: ThroughputRun) => number) => columnOf(runs, pick, fmt);
        return {
          connections,
          'accepted/s': col((t) => t.acceptedPerSecond),
          'p50 ms': col((t) => t.p50Ms),
          'p99 ms': col((t) => t.p99Ms),
          'non-2xx + errors': runs.map((t) => t.non2xx + t.errors).join(', '),
          'durable / accepted': runs.map((t) => `${t.durable}/${t.accepted}`).join(', '),
          'processed/s meanwhile': col((t) => t.processedPerSecond),
          'processed/s after': col((t) => t.processedAlonePerSecond),
          'cpu (median run)': cpuText(medianRun(runs, (t) => t.acceptedPerSecond).cpu),
        };
      }),
    );
  }
  if (latency.length > 0) {
    console.log(
      `\nNotification to entitlement at a fixed rate, ${SETTINGS.latencySeconds} s per run, from the scheduled send ` +
        `until the purchase is in the read model (the first checkpoint of its projection at or past its events, heard by LISTEN)`,
    );
    console.table(
      SETTINGS.latencyRates.map((rate) => {
        const runs = latency.filter((l) => l.rate === rate);
        const col = (pick: (l: LatencyRun) => number) => columnOf(runs, pick, ms);
        return {
          'rate/s': rate,
          'p50 ms': col((l) => l.p50Ms),
          'p95 ms': col((l) => l.p95Ms),
          'p99 ms': col((l) => l.p99Ms),
          'max ms': col((l) => l.maxMs),
          '2xx p99 ms': col((l) => l.acceptP99Ms),
          'p50 first/last quarter ms': runs.map((l) => l.quarterP50Ms.map(ms).join('/')).join(', '),
          'accepted / sent': runs.map((l) => `${l.accepted}/${l.sent}`).join(', '),
          'never visible': runs.map((l) => l.neverVisible).join(', '),
          'to ledger p50/p99': runs
            .map((l) => `${ms(l.stages.toLedgerMs.p50)}/${ms(l.stages.toLedgerMs.p99)}`)
            .join(', '),
          'to read model p50/p99': runs
            .map((l) => `${ms(l.stages.toReadModelMs.p50)}/${ms(l.stages.toReadModelMs.p99)}`)
            .join(', '),
          'cpu (median run)': cpuText(medianRun(runs, (l) => l.p99Ms).cpu),
        };
      }),
    );
  }
  if (profile && profiled) {
    const notifications = SETTINGS.warmup + profiled.accepted;
    console.log(
      `\nWhere the service's time went: V8 profile of one throughput run (${profiled.connections} connections, ` +
        `${fmt(profiled.acceptedPerSecond)} accepted/s under the profiler), the whole process life; ` +
        `busy ${fmt(profile.busyMs)} ms, idle ${fmt(profile.idleMs)} ms, ${notifications} notifications accepted. ` +
        'Samples are of the main thread: time the OS gave the core to another process counts where the thread ' +
        'stood (writev, typically, which wakes PostgreSQL).',
    );
    console.table(
      profile.byCategory.map((c) => ({
        'what the service was doing': c.category,
        share: `${(100 * c.share).toFixed(1)}%`,
        'ms per accepted notification': (c.ms / notifications).toFixed(3),
      })),
    );
    console.table(
      profile.topSelf.map((f) => ({
        'hottest functions (self time)': f.frame,
        share: `${(100 * f.share).toFixed(1)}%`,
      })),
    );
  }
  console.log(
    JSON.stringify({
      machine: { ...machine(), postgres: postgresVersion },
      settings: SETTINGS,
      ceilings,
      throughput,
      latency,
      profile,
    }),
  );
} finally {
  await workload.close();
  await sqs?.stop();
  await postgres.stop();
  if (!process.env.KEEP_BENCH_DIR) await rm(workDir, { recursive: true, force: true });
}

interface ThroughputRun {
  connections: number;
  seconds: number;
  accepted: number;
  acceptedPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  answers: Record<string, number>;
  /** Accepted notifications found in the queue once, with their exact payload in the archive. */
  durable: number;
  /** In the queue but never confirmed to the client (answered after autocannon stopped listening). */
  unconfirmed: number;
  processedPerSecond: number;
  /** Processed in the seconds after the load stopped, with nothing else to do. */
  processedAlonePerSecond: number;
  /** How long processing took to show progress once the run ended (a paused worker let go). */
  resumedAfterMs: number;
  /** Cores busy while the backlog drained (nothing accepted meanwhile). */
  drainCpu: CpuShares;
  poolExhausted: boolean;
  cpu: CpuShares;
  /** Why the run does not count: the service ended mid-run (the machine is shared). */
  invalid?: string;
}

interface LatencyRun {
  rate: number;
  sent: number;
  accepted: number;
  refused: Record<string, number>;
  acceptP50Ms: number;
  acceptP99Ms: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  neverVisible: number;
  quarterP50Ms: readonly [number, number];
  worstSendDelayMs: number;
  announcements: number;
  lookups: number;
  cpu: CpuShares;
  stages: LatencyStages;
  invalid?: string;
}

async function throughputRun(
  service: ServiceGroup,
  db: pg.Client,
  cpu: CpuMeter,
  workload: WebhookWorkload,
  connections: number,
): Promise<ThroughputRun> {
  const before = await counts(db);
  const worker = SETTINGS.separateWorker && SETTINGS.pauseWorker ? service.pids.at(-1) : undefined;
  if (worker) process.kill(worker, 'SIGSTOP');
  const from = cpu.sample();
  const run = await cannon(service.urls, workload, FIRST_MEASURED, {
    connections,
    duration: SETTINGS.throughputSeconds,
  }).finally(() => worker && process.kill(worker, 'SIGCONT'));
  const shares = cpu.between(from, cpu.sample());
  const after = await counts(db);
  const seconds = run.result.duration;
  const durability = await checkDurable(db, workload.deliveries, run.acceptedIds);
  // A worker let go after a pause can take a while to start again (its timers and retries
  // fired late, all at once): the drain is measured from its first progress, and that wait said.
  const resumeFrom = await counts(db);
  const resumedAt = Date.now();
  let drainFrom = resumeFrom;
  while (drainFrom.purchases === resumeFrom.purchases && Date.now() - resumedAt < RESUME_WAIT_MS) {
    await sleep(50);
    drainFrom = await counts(db);
  }
  const resumedAfterMs = Date.now() - resumedAt;
  const drainCpuFrom = cpu.sample();
  await sleep(SETTINGS.drainSeconds * 1000);
  const drainTo = await counts(db);
  const drainCpu = cpu.between(drainCpuFrom, cpu.sample());
  return {
    connections,
    seconds,
    accepted: run.acceptedIds.length,
    acceptedPerSecond: run.acceptedIds.length / seconds,
    p50Ms: run.result.latency.p50,
    p99Ms: run.result.latency.p99,
    non2xx: run.result.non2xx,
    errors: run.result.errors,
    answers: run.answers,
    durable: durability.durable,
    unconfirmed: after.queued - before.queued - durability.durable,
    processedPerSecond: (after.purchases - before.purchases) / seconds,
    processedAlonePerSecond: (drainTo.purchases - drainFrom.purchases) / SETTINGS.drainSeconds,
    resumedAfterMs,
    drainCpu,
    poolExhausted: run.poolExhausted,
    cpu: shares,
    ...(service.exit && { invalid: `the service ${service.exit} during the run` }),
  };
}

interface CannonRun {
  result: autocannon.Result;
  acceptedIds: string[];
  answers: Record<string, number>;
  poolExhausted: boolean;
}

/** autocannon posting deliveries[from], deliveries[from + 1], ...: each once, while they last. */
function cannon(
  urls: readonly string[],
  workload: WebhookWorkload,
  from: number,
  options: { connections: number; duration?: number; amount?: number },
): Promise<CannonRun> {
  const { deliveries } = workload;
  let next = from;
  let poolExhausted = false;
  const acceptedIds: string[] = [];
  const answers: Record<string, number> = {};
  return new Promise((resolve, reject) => {
    const instance: autocannon.Instance = autocannon(
      {
        // autocannon spreads the connections over several URLs; its types only know one.
        url: urls as unknown as string,
        ...options,
        requests: [
          {
            method: 'POST',
            path: workload.path,
            setupRequest: (request) => {
              const send = (d: Delivery) => ({ ...request, headers: { ...d.headers }, body: d.body });
              if (next < deliveries.length) return send(deliveries[next++]!);
              // Out of distinct notifications: stop, and send one already sent (answered `duplicate`, not counted).
              if (!poolExhausted) setImmediate(() => instance.stop());
              poolExhausted = true;
              return send(deliveries[from]!);
            },
            onResponse: (status, body) => {
              const answer = parseAnswer(body);
              if (status === 200 && answer.status === 'accepted') acceptedIds.push(workload.acceptedId(answer));
              else {
                const key = `${status} ${String(answer.code ?? answer.status ?? '')}`;
                answers[key] = (answers[key] ?? 0) + 1;
              }
            },
          },
        ],
      },
      (error, result) => (error ? reject(error) : resolve({ result, acceptedIds, answers, poolExhausted })),
    );
  });
}

/**
 * "Accepted durably", checked: each delivery answered `accepted` has exactly one message
 * in the intake queue (or in the SQS queue's record of what it sent), whose archived
 * document is what was sent (its id is the SHA-256 of what the store signed or pushed, and
 * the document the archive gives back still hashes to it).
 */
async function checkDurable(
  db: pg.Client,
  deliveries: readonly Delivery[],
  acceptedIds: readonly string[],
): Promise<{ durable: number }> {
  const { rows } = await db.query<{ deduplication_id: string; document_id: string }>(
    `SELECT deduplication_id, document_id FROM intake_messages
     UNION ALL SELECT deduplication_id, document_id FROM intake_sqs_messages`,
  );
  const archive = new SourceDocumentArchive(db);
  const intact = new Set<string>();
  const documentIds = [...new Set(rows.map((row) => row.document_id))];
  for (let i = 0; i < documentIds.length; i += 2_000) {
    for (const [id, document] of await archive.findAll(documentIds.slice(i, i + 2_000))) {
      if (documentIdOf(document.body) === id) intact.add(id);
    }
  }
  const queued = new Map<string, { document_id: string; copies: number }>();
  for (const row of rows) {
    const seen = queued.get(row.deduplication_id);
    queued.set(row.deduplication_id, { ...row, copies: (seen?.copies ?? 0) + 1 });
  }
  const byId = new Map(deliveries.map((d) => [d.deduplicationId, d]));
  let durable = 0;
  for (const id of acceptedIds) {
    const row = queued.get(id);
    const sent = byId.get(id);
    if (row && sent && row.copies === 1 && intact.has(row.document_id) && row.document_id === sent.documentId) {
      durable++;
    }
  }
  return { durable };
}

/** `count` messages processed long ago, each for a notification of its own; they share one archived document. */
async function addHistory(db: pg.Client, count: number): Promise<void> {
  await db.query(
    `INSERT INTO source_documents (document_id, kind, content_type, body) VALUES ('sha256:history', 'apple.notification.v2', 'application/jose', 'history')`,
  );
  await db.query(
    `INSERT INTO intake_messages (deduplication_id, ordering_key, kind, document_id, state, attempts, finished_at)
     SELECT 'apple:history-' || n, 'app_store:sandbox:history-' || n, 'apple.notification.v2', 'sha256:history', 'done', 1, now()
     FROM generate_series(1, $1::int) AS n`,
    [count],
  );
  await db.query('ANALYZE intake_messages');
}

async function counts(db: pg.Client): Promise<Counts> {
  const { rows } = await db.query<Counts>(
    `SELECT (SELECT count(*) FROM source_documents)::int AS documents,
            (SELECT count(*) FROM intake_messages)::int + (SELECT count(*) FROM intake_sqs_messages)::int AS queued,
            (SELECT count(*) FROM intake_messages WHERE state = 'pending')::int AS pending,
            (SELECT count(*) FROM intake_messages WHERE state = 'dead')::int
              + (SELECT count(*) FROM intake_sqs_messages WHERE dead_at IS NOT NULL)::int AS dead,
            (SELECT count(*) FROM purchases)::int AS purchases`,
  );
  return rows[0]!;
}

/** Waits until the `expected` notifications are all processed and projected (each is a new purchase). */
async function drained(db: pg.Client, expected: number, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await counts(db);
    if (c.dead > 0) throw new Error(`${c.dead} notifications were dead-lettered: ${JSON.stringify(c)}`);
    if (c.queued >= expected + SETTINGS.history && c.pending === 0 && c.purchases === c.queued - SETTINGS.history) {
      return;
    }
    if (Date.now() > deadline) throw new Error(`not drained after ${timeoutMs} ms: ${JSON.stringify(c)}`);
    await sleep(50);
  }
}

async function measureCeilings(notifications: readonly Delivery[], trustedRootPath: string) {
  const payloads = notifications
    .slice(0, 3000)
    .map((n) => (JSON.parse(n.body.toString()) as { signedPayload: string }).signedPayload);
  const catalog = await loadCatalog(CATALOG.pathname);
  const verifier = new AppleVerifier(catalog.apps, {
    trustedRoots: await loadTrustedRoots([trustedRootPath]),
    onlineChecks: false,
  });
  for (const payload of payloads.slice(0, 200)) await verifier.verify(payload);
  const measured = payloads.slice(200, 1200);
  const cpuBefore = process.cpuUsage();
  for (const payload of measured) await verifier.verify(payload);
  const cpuUsed = process.cpuUsage(cpuBefore);
  const verifyCpuMs = (cpuUsed.user + cpuUsed.system) / 1000 / measured.length;
  progress(`ceiling     verify: ${verifyCpuMs.toFixed(2)} CPU ms per notification`);

  const url = await postgres.freshDatabase('webhook_ceiling');
  const pool = createPool(url, CEILING_POOL);
  try {
    await migrate(pool);
    const queue = new PostgresIntakeQueue(pool);
    // What the webhook does once a notification is verified: one statement, one commit.
    const accept = (payload: string, i: number) =>
      queue.enqueue({
        deduplicationId: `apple:${i}`,
        orderingKey: `ceiling:${i}`,
        kind: 'apple.notification.v2',
        document: { kind: 'apple.notification.v2', contentType: 'application/jose', body: payload },
      });
    let next = 0;
    const acceptSome = (total: number) =>
      inParallel(CEILING_WRITERS, total, async (_, count) => {
        for (let n = 0; n < count; n++) {
          const i = next++;
          await accept(payloads[i]!, i);
        }
      });
    await acceptSome(200);
    const started = performance.now();
    const total = payloads.length - 200;
    await acceptSome(total);
    const archiveEnqueuePerSecond = total / ((performance.now() - started) / 1000);
    progress(`ceiling     archive + enqueue: ${fmt(archiveEnqueuePerSecond)}/s`);
    return { verifyCpuMs, archiveEnqueuePerSecond };
  } finally {
    await pool.end();
    await postgres.dropDatabase(url);
  }
}

/** The median of the valid runs, then every run ("x" for one that does not count). */
function columnOf<R extends { invalid?: string }>(runs: R[], pick: (r: R) => number, show: (n: number) => string) {
  const valid = runs.filter((r) => !r.invalid);
  return `${show(median(valid.map(pick)))} (${runs.map((r) => (r.invalid ? 'x' : show(pick(r)))).join(', ')})`;
}

function medianRun<R extends { invalid?: string }>(runs: R[], by: (r: R) => number): R {
  const valid = runs.filter((r) => !r.invalid).sort((a, b) => by(a) - by(b));
  return valid[valid.length >> 1] ?? runs[0]!;
}

/** Notifications never seen in the read model count as infinitely late. */
function withMissing(values: readonly number[], missing: number): number[] {
  return [...values, ...Array.from({ length: missing }, () => Number.POSITIVE_INFINITY)];
}

function serviceShape(): string {
  const { processes, separateWorker } = SETTINGS;
  return separateWorker
    ? `${processes} Node process(es) accepting webhooks (SUBLEDGER_ROLE=api), and a worker processing them`
    : `${processes} Node process(es), each accepting webhooks and running the intake worker and the projection`;
}

/** subledger / postgres / load generator / other; the Subledger processes one by one when more than one. */
function cpuText(c: CpuShares): string {
  const subledger =
    c.byProcess.length > 1 ? `${c.subledger.toFixed(2)} (${c.byProcess.map((x) => x.toFixed(2)).join(' + ')})` : '';
  const queue = c.queue > 0 ? [`queue ${c.queue.toFixed(2)}`] : [];
  return [
    subledger || c.subledger.toFixed(2),
    ...[c.postgres, c.loadGenerator, c.other].map((x) => x.toFixed(2)),
    ...queue,
  ].join(' / ');
}

function fmt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : String(n);
}

function ms(n: number): string {
  return n === Number.POSITIVE_INFINITY ? `> ${SETTINGS.settleSeconds} s` : fmt(n);
}

function progress(message: string): void {
  console.error(message);
}
