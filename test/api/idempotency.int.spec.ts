import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { IdempotencyKeys, idempotencyHeaders, idempotent } from '../../src/api/idempotency.ts';
import { installProblemHandlers } from '../../src/api/problems.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

/*
 * The Idempotency-Key hooks on a route of their own, whose handler the test holds open
 * or makes fail: a concurrent request with the key is refused while the first runs and
 * answered from it afterwards, and a 5xx lets the key go. Two apps on one database stand
 * for two instances.
 */
let db: TestDatabase;
let apps: FastifyInstance[];
let runs = 0;
let gate: Promise<void> = Promise.resolve();
let failNext = false;

beforeAll(async () => {
  db = await createTestDatabase();
  apps = await Promise.all([instance(), instance()]);
});
afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await db?.drop();
});

async function instance(): Promise<FastifyInstance> {
  const plain = Fastify();
  plain.setValidatorCompiler(validatorCompiler);
  plain.setSerializerCompiler(serializerCompiler);
  installProblemHandlers(plain);
  const app = plain.withTypeProvider<ZodTypeProvider>();
  app.post(
    '/v1/admin/customers/:appUserId/things',
    {
      onRequest: async (request) => {
        request.caller = { kind: 'server', keyId: 'key-1', name: 'sam', role: 'admin' };
      },
      ...idempotent(new IdempotencyKeys(db.pool)),
      schema: {
        params: z.object({ appUserId: z.string() }),
        headers: idempotencyHeaders,
        body: z.object({ n: z.number() }),
      },
    },
    async (request, reply) => {
      const run = ++runs;
      await gate;
      if (failNext) {
        failNext = false;
        throw new Error('the database went away');
      }
      return reply.code(201).send({ run, n: request.body.n });
    },
  );
  await app.ready();
  return plain;
}

const post = (app: FastifyInstance, key: string, n = 1) =>
  app.inject({
    method: 'POST',
    url: '/v1/admin/customers/amy/things',
    headers: { 'idempotency-key': key },
    payload: { n },
  });

it('refuses a second request with the key while the first runs, on any instance, then answers it the first answer', async () => {
  let open!: () => void;
  gate = new Promise((resolve) => (open = resolve));
  const before = runs;
  const first = post(apps[0]!, 'k1');
  await vi.waitFor(() => expect(runs).toBe(before + 1)); // the first holds the key, and runs
  const concurrent = await post(apps[1]!, 'k1');
  expect(concurrent.statusCode).toBe(409);
  expect(concurrent.json()).toMatchObject({ code: 'idempotency_key_in_use' });
  expect(concurrent.headers['retry-after']).toBe('1');
  open();
  const answered = await first;
  expect(answered.statusCode).toBe(201);
  const retry = await post(apps[1]!, 'k1');
  expect({ status: retry.statusCode, body: retry.body }).toEqual({ status: 201, body: answered.body });
  expect(retry.headers['idempotent-replayed']).toBe('true');
  expect(runs - before).toBe(1);
});

it('lets the key go after a 5xx, so that a retry runs', async () => {
  failNext = true;
  const failed = await post(apps[0]!, 'k2');
  expect(failed.statusCode).toBe(500);
  const retry = await post(apps[0]!, 'k2');
  expect(retry.statusCode).toBe(201);
  expect(retry.headers['idempotent-replayed']).toBeUndefined();
});

it('purges the keys past their lifetime', async () => {
  await post(apps[0]!, 'k3');
  await db.pool.query(`UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'k3'`);
  expect(await new IdempotencyKeys(db.pool).purgeExpired()).toBe(1);
  const { rows } = await db.pool.query(`SELECT key FROM idempotency_keys ORDER BY key`);
  expect(rows.map((r) => r.key)).toEqual(['k1', 'k2']);
});
