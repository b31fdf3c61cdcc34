/**
 * `node bench/lambda-cold-start.ts`: the cold start of the store webhooks' Lambda functions
 * (src/lambda), as deployed: each bundle (src/lambda/build.ts) is loaded RUNS times by a
 * fresh Node process (its folder the working directory, as /var/task is), which hands its
 * handler one valid notification, as a cold container's first request, and then a second.
 * Against PostgreSQL (embedded, started here, or BENCH_DATABASE_URL) and an SQS server on
 * loopback (fauxqs), with a test CA and a test Google signer: the first answer is a real
 * acceptance (verified, archived, sent to SQS, recorded).
 *
 * Each run measures, in the child:
 *   boot    Node's own start, to the first line of the script (Lambda's runtime has its own)
 *   load    importing the bundle (parsing and evaluating it; the settings checked)
 *   init    the first call building its dependencies: catalog, trusted roots, verifier,
 *           SQS client, and the database connection (the function logs it)
 *   first   the first call, init included, to its answer
 *   answer  process start to the first answer (boot + load + first)
 *   warm    the second call
 * What Lambda adds (creating the sandbox, fetching the code) is not here.
 *
 * Env: RUNS (10 per function), BENCH_DATABASE_URL.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { migrate } from '../src/db/migrate.ts';
import { createPool } from '../src/db/pool.ts';
import { signNotification } from '../src/dev/apple/test-notifications.ts';
import { createAppleTestCa } from '../src/dev/apple/test-signer.ts';
import { pushBody, startTestPushSigner } from '../src/dev/google/test-push.ts';
import { buildLambdaFunctions, type BuiltFunction, type LambdaFunctionName } from '../src/lambda/build.ts';
import type { HttpEvent } from '../src/lambda/http-event.ts';
import { startSqsEmulator } from '../test/support/sqs-emulator.ts';
import { benchPostgres, machine, median, percentile } from './support.ts';

const RUNS = Number(process.env.RUNS ?? 10);
const BUDGET_MS = 300;
const AUDIENCE = 'https://subledger.bench/v1/webhooks/google';
const PUSHER = 'play-push@subledger-bench.iam.gserviceaccount.com';

interface Run {
  readonly boot: number;
  readonly load: number;
  readonly init: number;
  readonly first: number;
  readonly answer: number;
  readonly warm: number;
  /** Parent's view: spawn to the child's report. */
  readonly wall: number;
}

/** The child: a cold container's first request, and a second. */
const CHILD = `
  const boot = performance.now();
  const [bundle, first, second] = [process.argv[1], JSON.parse(process.argv[2]), JSON.parse(process.argv[3])];
  const loading = performance.now();
  const { handler, close } = await import(bundle);
  const loaded = performance.now();
  const answer = await handler(first, { awsRequestId: 'cold' });
  const answered = performance.now();
  const again = await handler(second, { awsRequestId: 'warm' });
  const warm = performance.now() - answered;
  await close();
  process.stdout.write(JSON.stringify({ report: {
    boot, load: loaded - loading, first: answered - loaded, answer: answered, warm,
    statuses: [answer.statusCode, again.statusCode], bodies: [answer.body, again.body],
  } }) + '\\n');
  process.exit(0);
`;

const run = promisify(execFile);

async function coldStart(fn: BuiltFunction, events: [HttpEvent, HttpEvent], env: Record<string, string>): Promise<Run> {
  const started = performance.now();
  const { stdout } = await run(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      CHILD,
      pathToFileURL(fn.file).href,
      JSON.stringify(events[0]),
      JSON.stringify(events[1]),
    ],
    { cwd: fn.dir, env: { PATH: process.env.PATH ?? '', ...env }, maxBuffer: 16 * 1024 * 1024 },
  );
  const wall = performance.now() - started;
  const lines = stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const report = lines.find((line) => line.report)?.report as Omit<Run, 'init' | 'wall'> & {
    statuses: number[];
    bodies: string[];
  };
  const init = lines.find((line) => line.msg === 'dependencies ready')?.initMs as number;
  if (!report || report.statuses.some((status) => status !== 200) || init === undefined) {
    throw new Error(`${fn.name}: not a clean cold start:\n${stdout}`);
  }
  return {
    boot: report.boot,
    load: report.load,
    init,
    first: report.first,
    answer: report.answer,
    warm: report.warm,
    wall,
  };
}

const v2Event = (path: string, headers: Record<string, string>, body: string): HttpEvent => ({
  version: '2.0',
  rawPath: path,
  headers: { 'content-type': 'application/json', ...headers },
  body,
  isBase64Encoded: false,
  requestContext: { http: { method: 'POST' }, requestId: randomUUID() },
});

async function main() {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'subledger-lambda-bench-'));
  const postgres = await benchPostgres();
  const emulator = await startSqsEmulator();
  const signer = await startTestPushSigner({ audience: AUDIENCE, email: PUSHER });
  try {
    const built = await buildLambdaFunctions();
    const databaseUrl = await postgres.freshDatabase('lambda');
    const pool = createPool(databaseUrl, 2, 'subledger-bench');
    await migrate(pool);
    await pool.end();
    const { queueUrl } = await emulator.fifoQueue();
    const ca = await createAppleTestCa({ name: 'Lambda bench' });
    await writeFile(path.join(scratch, 'root.pem'), ca.rootPem);
    const env = {
      DATABASE_URL: databaseUrl,
      INTAKE_QUEUE: 'sqs',
      INTAKE_SQS_QUEUE_URL: queueUrl,
      SQS_ENDPOINT: emulator.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'bench',
      AWS_SECRET_ACCESS_KEY: 'bench',
      APPLE_TRUSTED_ROOTS: path.join(scratch, 'root.pem'),
      GOOGLE_PUSH_AUDIENCE: AUDIENCE,
      GOOGLE_PUSH_SERVICE_ACCOUNT: PUSHER,
      GOOGLE_OIDC_JWKS_URL: signer.jwksUrl,
      LOG_LEVEL: 'info',
    };
    let purchase = 0;
    const appleEvent = async () => {
      const id = String(6_000_000_000_000_000 + ++purchase);
      const signedPayload = await signNotification(ca.signer, {
        type: 'SUBSCRIBED',
        subtype: 'INITIAL_BUY',
        signedDate: Date.now(),
        transaction: { originalTransactionId: id, transactionId: id },
      });
      return v2Event('/v1/webhooks/apple', {}, JSON.stringify({ signedPayload }));
    };
    const googleEvent = async () => {
      const notification = {
        version: '1.0',
        packageName: 'com.example.pulse',
        eventTimeMillis: String(Date.now()),
        subscriptionNotification: {
          version: '1.0',
          notificationType: 2,
          purchaseToken: `bench-${randomUUID()}`,
          subscriptionId: 'premium_monthly',
        },
      };
      return v2Event(
        '/v1/webhooks/google',
        { authorization: `Bearer ${await signer.token()}` },
        JSON.stringify(pushBody(notification)),
      );
    };
    const makeEvent: Record<LambdaFunctionName, () => Promise<HttpEvent>> = {
      'apple-webhook': appleEvent,
      'google-webhook': googleEvent,
    };

    const runs = new Map<LambdaFunctionName, Run[]>(built.map((fn) => [fn.name, []]));
    // One cold start of each in turn, so that whatever else the machine does falls on both.
    for (let i = 0; i < RUNS; i++) {
      for (const fn of built) {
        const events: [HttpEvent, HttpEvent] = [await makeEvent[fn.name](), await makeEvent[fn.name]()];
        runs.get(fn.name)!.push(await coldStart(fn, events, env));
        process.stderr.write('.');
      }
    }
    process.stderr.write('\n');

    const m = machine();
    console.log(`Lambda cold starts, ${RUNS} per function (${new Date().toISOString().slice(0, 10)})`);
    console.log(`machine: ${m.cpuModel}, ${m.cpus} cores, ${m.memoryGiB} GiB, ${m.platform}; Node ${m.node}`);
    console.log(
      `load average at the end: ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    console.log();
    for (const fn of built) {
      console.log(`${fn.name}: ${kb(fn.bytes)} KB, ${kb(fn.gzipBytes)} KB gzipped, ${fn.packages.length} packages`);
    }
    console.log();
    const columns: (keyof Run)[] = ['boot', 'load', 'init', 'first', 'answer', 'warm', 'wall'];
    console.log(['ms (median / p90)'.padEnd(18), ...columns.map((c) => c.padStart(13))].join(''));
    for (const fn of built) {
      const measured = runs.get(fn.name)!;
      const cell = (c: keyof Run) => {
        const values = measured.map((r) => r[c]);
        return `${median(values).toFixed(0)} / ${percentile(values, 90).toFixed(0)}`.padStart(13);
      };
      console.log([fn.name.padEnd(18), ...columns.map(cell)].join(''));
    }
    console.log();
    for (const fn of built) {
      const initialisation = runs.get(fn.name)!.map((r) => r.load + r.init);
      const at = median(initialisation);
      console.log(
        `${fn.name}: initialisation (load + init) median ${at.toFixed(0)} ms, p90 ${percentile(initialisation, 90).toFixed(0)} ms: ` +
          (at <= BUDGET_MS ? `within the ${BUDGET_MS} ms budget` : `over the ${BUDGET_MS} ms budget`),
      );
    }
  } finally {
    await signer.close();
    await emulator.stop();
    await postgres.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

const kb = (bytes: number) => (bytes / 1024).toFixed(0);

await main();
