import { performance } from 'node:perf_hooks';
import { loadCatalog } from '../config/catalog-file.ts';
import { ConfigError, loadConfig, type Config } from '../config/config.ts';
import { createPool, type Pool } from '../db/pool.ts';
import type { Catalog } from '../domain/catalog.ts';
import type { IntakeQueue } from '../intake/intake-queue.ts';
import { intakeQueueOf } from '../intake/intake-queue-of.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { requestOf, type HttpEvent, type HttpRequest, type HttpResult } from './http-event.ts';
import { HttpProblem, resultOfError } from './problem-answer.ts';

/**
 * What a store webhook needs on AWS Lambda, built once per container: the service's own
 * settings (src/config/config.ts) narrowed to what a function can have, and the intake
 * queue on SQS with its document archive in PostgreSQL.
 */

/** The service's settings, with the two a function cannot do without. */
export type LambdaConfig = Config & {
  readonly database: Extract<Config['database'], { kind: 'external' }>;
  readonly intake: Config['intake'] & { readonly queue: Extract<Config['intake']['queue'], { kind: 'sqs' }> };
};

/**
 * The settings from the function's environment, as the service reads them, or a ConfigError
 * naming each problem: thrown while the module loads, so a misconfigured function fails its
 * init with the message in its log rather than answering anything.
 */
export function lambdaConfig(env: NodeJS.ProcessEnv): LambdaConfig {
  const config = loadConfig(env);
  const problems: string[] = [];
  if (config.database.kind !== 'external') {
    problems.push(
      'DATABASE_URL: required in a Lambda function, which cannot start the embedded PostgreSQL (the archive of accepted documents is there)',
    );
  }
  if (config.intake.queue.kind !== 'sqs') {
    problems.push(
      'INTAKE_QUEUE: must be sqs in a Lambda function, with INTAKE_SQS_QUEUE_URL (the FIFO queue the workers take notifications from)',
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config as LambdaConfig;
}

/** What accepting a notification needs, whichever store sent it. */
export interface WebhookIntake {
  readonly catalog: Catalog;
  readonly pool: Pool;
  readonly queue: IntakeQueue;
}

/**
 * One connection: a container answers one request at a time, and acceptance queries in
 * sequence. A pool per container of the service's size would multiply by the concurrency.
 */
const CONNECTIONS_PER_CONTAINER = 1;

async function openIntake(config: LambdaConfig, logger: Logger): Promise<WebhookIntake> {
  const catalog = await loadCatalog(config.catalogPath);
  const pool = createPool(config.database.url, CONNECTIONS_PER_CONTAINER, 'subledger-lambda');
  const queue = await intakeQueueOf(config.intake.queue, pool);
  // Connected now rather than within the first notification. A database that is away is not
  // an init failure: the notification's own query meets it and answers 503, and the next
  // request connects again.
  await pool.query('SELECT 1').catch((error: Error) => {
    logger.warn({ err: { message: error.message } }, 'the database cannot be reached yet');
  });
  return { catalog, pool, queue };
}

/** The part of the Lambda context read here. */
export interface LambdaContext {
  readonly awsRequestId?: string;
}

export interface WebhookFunction {
  /** The Lambda handler. */
  readonly handler: (event: HttpEvent, context?: LambdaContext) => Promise<HttpResult>;
  /** Closes what the container opened (tests and benchmarks; Lambda simply freezes it). */
  close(): Promise<void>;
}

/**
 * A store webhook as a Lambda handler. `handle` answers a POST (anything else is 404, as the
 * service's router says); it gets its dependencies from `dependencies()`, built on the first
 * call that asks and kept for the container's life (a build that failed, say a catalog that
 * cannot be read, is tried again by the next call). Whatever it throws is answered as the
 * service would (src/lambda/problem-answer.ts).
 */
export function webhookFunction<D>(options: {
  readonly config: LambdaConfig;
  readonly build: (intake: WebhookIntake) => Promise<D>;
  readonly handle: (request: HttpRequest, dependencies: () => Promise<D>, log: Logger) => Promise<HttpResult>;
}): WebhookFunction {
  // JSON lines whatever LOG_FORMAT says: the readable format's package is not in the bundle.
  const logger = createLogger(options.config.logLevel, 'json');
  let intake: WebhookIntake | undefined;
  const dependencies = oncePerContainer(async () => {
    const started = performance.now();
    const opened = await openIntake(options.config, logger);
    try {
      const built = await options.build(opened);
      intake = opened;
      logger.info({ initMs: Math.round(performance.now() - started) }, 'dependencies ready');
      return built;
    } catch (error) {
      await opened.pool.end();
      throw error;
    }
  });
  return {
    async handler(event, context) {
      const request = requestOf(event);
      const log = context?.awsRequestId ? logger.child({ requestId: context.awsRequestId }) : logger;
      try {
        if (request.method !== 'POST') {
          throw new HttpProblem(404, 'not_found', `No route ${request.method} ${request.path.slice(0, 200)}`);
        }
        return await options.handle(request, dependencies, log);
      } catch (error) {
        return resultOfError(error, log);
      }
    },
    async close() {
      await intake?.pool.end();
    },
  };
}

/** `build` on the first call, its result for every later one; a failed build is tried again. */
function oncePerContainer<T>(build: () => Promise<T>): () => Promise<T> {
  let built: Promise<T> | undefined;
  return () =>
    (built ??= build().catch((error: unknown) => {
      built = undefined;
      throw error;
    }));
}
