import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.ts';
import { loadConfig, type Config } from '../../src/config/config.ts';
import { customerEntitlementsAt, type Entitlement } from '../../src/domain/entitlements.ts';
import { createAppleTestCa, type AppleTestCa } from '../../src/dev/apple/test-signer.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { findCustomerPurchases } from '../../src/projections/entitlements/customer-purchases.ts';
import { startSubledger, type Subledger } from '../../src/runtime/subledger.ts';
import { signNotification, type NotificationSpec } from '../../src/dev/apple/test-notifications.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { eventually } from './eventually.ts';
import type { Clock } from '../../src/domain/clock.ts';

export interface HttpAnswer {
  readonly status: number;
  readonly type: string | null;
  readonly body: Record<string, unknown>;
}

/**
 * A running Subledger on its own database that trusts a freshly generated test CA
 * in place of Apple's root. Its helpers call routes with fastify's inject() on the real
 * app; the service also listens on loopback, for the tests that need a real socket
 * (`subledger.url`).
 */
export interface AppleHarness {
  readonly subledger: Subledger;
  readonly db: TestDatabase;
  readonly ca: AppleTestCa;
  /** POSTs JSON (or a raw string) to a path of the running service. */
  post(pathname: string, body: unknown, options?: { raw?: boolean }): Promise<HttpAnswer>;
  get(pathname: string): Promise<HttpAnswer>;
  /** Signs a notification with the test CA and posts it to the App Store webhook. */
  notify(spec: NotificationSpec): Promise<HttpAnswer>;
  /** Waits until the intake queue is drained and the projections have caught up. */
  processed(): Promise<void>;
  /** Rows in the tables a notification can write to. */
  counts(): Promise<{ events: number; queued: number; documents: number }>;
  /** The app user's entitlements at `at` (ms), from the read model. */
  entitlementsOf(appUserId: string, at: number): Promise<readonly Entitlement[]>;
  /** Empties every table, between tests. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export async function startAppleHarness(
  env: Record<string, string> = {},
  options: {
    readonly clock?: Clock;
    /** Settings no environment variable reaches, e.g. a key rotation of seconds. */
    readonly configure?: (config: Config) => Config;
  } = {},
): Promise<AppleHarness> {
  const ca = await createAppleTestCa({ name: 'Subledger test' });
  const certDir = await mkdtemp(path.join(tmpdir(), 'subledger-apple-'));
  await writeFile(path.join(certDir, 'root.pem'), ca.rootPem);
  const db = await createTestDatabase({ migrated: false });
  const configure = options.configure ?? ((config: Config) => config);
  const subledger = await startSubledger(
    configure(
      loadConfig({
        DATABASE_URL: db.url,
        PORT: '0',
        APPLE_TRUSTED_ROOTS: path.join(certDir, 'root.pem'),
        PROJECTION_IDLE_POLL_MS: '20',
        // Tests read /metrics and /ready's details as the operator would; hostile-input checks the protection.
        OPERATOR_ROUTES: 'public',
        ...env,
      }),
    ),
    silentLogger,
    options,
  );

  // The harness calls as a server with an API key; the webhook ignores it.
  const { secret } = await new ApiKeys(db.pool).create('test harness', 'app-server');
  /** Through fastify's inject(): the real app, its hooks, parsers and error handler, without a socket. */
  async function request(
    pathname: string,
    init: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string } = {},
  ): Promise<HttpAnswer> {
    const response = await subledger.api.inject({
      method: init.method ?? 'GET',
      url: pathname,
      headers: { authorization: `Bearer ${secret}`, ...init.headers },
      ...(init.body !== undefined && { payload: init.body }),
    });
    return {
      status: response.statusCode,
      type: (response.headers['content-type'] as string | undefined) ?? null,
      body: response.body ? (response.json() as Record<string, unknown>) : {},
    };
  }
  const post = (pathname: string, body: unknown, options: { raw?: boolean } = {}) =>
    request(pathname, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: options.raw ? (body as string) : JSON.stringify(body),
    });

  return {
    subledger,
    db,
    ca,
    post,
    get: (pathname) => request(pathname),
    notify: async (spec) => post('/v1/webhooks/apple', { signedPayload: await signNotification(ca.signer, spec) }),
    async processed() {
      await eventually(
        () => subledger.queue.depth(),
        (depth) => depth === 0,
      );
      const head = await subledger.eventStore.headPosition();
      expect(await subledger.purchases.waitFor(head, 10_000)).toBe(true);
      // The read model's notice to the customer cache is asynchronous (LISTEN/NOTIFY, tested
      // on its own): drop the cache so that reads through the API show what was just processed.
      subledger.customers.invalidate('*');
    },
    async counts() {
      const { rows } = await db.pool.query(
        `SELECT (SELECT count(*)::int FROM events) AS events,
                (SELECT count(*)::int FROM intake_messages) AS queued,
                (SELECT count(*)::int FROM source_documents) AS documents`,
      );
      return rows[0];
    },
    async entitlementsOf(appUserId, at) {
      const purchases = await findCustomerPurchases(db.pool, appUserId);
      return customerEntitlementsAt(purchases, subledger.catalog, new Date(at).toISOString()).entitlements;
    },
    async reset() {
      // The service may still be writing (a retry, a projection batch): a deadlock with it
      // is PostgreSQL choosing a victim, and the TRUNCATE simply goes again.
      for (let attempt = 1; ; attempt++) {
        try {
          await db.pool.query(
            'TRUNCATE events, purchases, intake_messages, intake_sqs_messages, source_documents, projection_checkpoints',
          );
          break;
        } catch (error) {
          if ((error as { code?: string }).code !== '40P01' || attempt === 5) throw error;
        }
      }
      subledger.customers.invalidate('*'); // a TRUNCATE announces nothing
    },
    async stop() {
      await subledger.stop();
      await db.drop();
      await rm(certDir, { recursive: true, force: true });
    },
  };
}
