import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { isAtOrAfter } from '../../src/eventstore/global-position.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { startSubledger, type Subledger } from '../../src/runtime/subledger.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase;
let subledger: Subledger;
beforeAll(async () => {
  db = await createTestDatabase({ migrated: false });
  const config = loadConfig({
    DATABASE_URL: db.url,
    PORT: '0',
    // An idle projection would look again only after a minute: appends must wake it.
    PROJECTION_IDLE_POLL_MS: '60000',
    // /ready's details, as an operator on a private network reads them.
    OPERATOR_ROUTES: 'public',
  });
  subledger = await startSubledger(config, silentLogger);
});
afterAll(async () => {
  await subledger?.stop();
  await db.drop();
});

it('migrates an empty database and serves health and readiness over HTTP', async () => {
  expect(await (await fetch(`${subledger.url}/health`)).json()).toEqual({ status: 'ok' });
  const ready = await fetch(`${subledger.url}/ready`);
  expect(ready.status).toBe(200);
});

it('publishes the key that will sign scoped tokens as it starts, before any token is asked for', async () => {
  const { keys } = (await (await fetch(`${subledger.url}/.well-known/jwks.json`)).json()) as {
    keys: { kid: string }[];
  };
  expect(keys).toHaveLength(1);
  const { token } = await subledger.tokens.issue('alice', []);
  expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid).toBe(keys[0]!.kid);
});

it('reports how long an open write transaction has been holding readers back', async () => {
  const other = await db.pool.connect();
  try {
    await other.query('BEGIN');
    await other.query('SELECT pg_current_xact_id()'); // takes a transaction id, as a write would
    await sleep(1100);
    const body = (await (await fetch(`${subledger.url}/ready`)).json()) as {
      database: { oldestWriteTransactionSeconds: number };
    };
    expect(body.database.oldestWriteTransactionSeconds).toBeGreaterThanOrEqual(1);
  } finally {
    await other.query('ROLLBACK');
    other.release();
  }
});

it('wakes its projection when this process appends, without waiting for the next poll', async () => {
  await sleep(100); // let the runner go idle
  const { position } = await subledger.eventStore.append(
    `purchase:app_store:production:${randomUUID()}`,
    [{ id: randomUUID(), type: 'AutoRenewTurnedOff', data: { observedAt: '2026-01-01T00:00:00.000Z' }, metadata: {} }],
    { expectedVersion: 'no_stream' },
  );
  const deadline = Date.now() + 10_000;
  while (!isAtOrAfter(subledger.purchases.status().checkpoint, position)) {
    if (Date.now() > deadline) throw new Error('the projection did not wake up');
    await sleep(20);
  }
});

it('comes back at once for an event an older open transaction held back, not at the next poll', async () => {
  await sleep(100); // let the runner go idle
  const older = await db.pool.connect();
  try {
    await older.query('BEGIN');
    await older.query('SELECT pg_current_xact_id()'); // a writer that began first, still open
    const { position } = await subledger.eventStore.append(
      `purchase:app_store:production:${randomUUID()}`,
      [
        {
          id: randomUUID(),
          type: 'AutoRenewTurnedOff',
          data: { observedAt: '2026-01-01T00:00:00.000Z' },
          metadata: {},
        },
      ],
      { expectedVersion: 'no_stream' },
    );
    await sleep(300); // the append's nudge came, and found the event held back
    expect(isAtOrAfter(subledger.purchases.status().checkpoint, position)).toBe(false);
    await older.query('ROLLBACK');
    const deadline = Date.now() + 10_000;
    while (!isAtOrAfter(subledger.purchases.status().checkpoint, position)) {
      if (Date.now() > deadline) throw new Error('the projection waited for its next poll');
      await sleep(20);
    }
  } finally {
    older.release();
  }
});

it('publishes the keys that verify its scoped tokens', async () => {
  const { token } = await subledger.tokens.issue('alice', []);
  const response = await fetch(`${subledger.url}/.well-known/jwks.json`);
  expect(response.headers.get('cache-control')).toBe('public, max-age=300');
  const { keys } = (await response.json()) as { keys: { kid: string; kty: string; crv: string; d?: string }[] };
  const kid = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid;
  expect(keys).toEqual([expect.objectContaining({ kid, kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' })]);
  expect(keys[0]!.d).toBeUndefined(); // never the private part
});
