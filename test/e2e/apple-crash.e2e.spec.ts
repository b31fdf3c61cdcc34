import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAppleTestCa, type AppleTestCa } from '../../src/dev/apple/test-signer.ts';
import { signNotification } from '../../src/dev/apple/test-notifications.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { eventually } from '../support/eventually.ts';
import { freePort } from '../support/free-port.ts';
import { startSubledgerProcess, waitForHttp, type RunningProcess } from '../support/subledger-process.ts';

/*
 * Real processes killed with SIGKILL: no shutdown hook runs, no buffer is flushed.
 * Whatever Subledger answered 200 to must be processed after a restart, once.
 */
let db: TestDatabase;
let ca: AppleTestCa;
let certDir: string;
let env: Record<string, string>;
let base: string;
const running: RunningProcess[] = [];
const NOW = Math.floor(Date.now() / 1000) * 1000;
/** Events one initial buy records: started, auto-renew on, no product change, linked to the user. */
const EVENTS_PER_INITIAL_BUY = 4;

beforeAll(async () => {
  ca = await createAppleTestCa({ name: 'Subledger crash test' });
  certDir = await mkdtemp(path.join(tmpdir(), 'subledger-crash-'));
  await writeFile(path.join(certDir, 'root.pem'), ca.rootPem);
  db = await createTestDatabase();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  env = {
    DATABASE_URL: db.url,
    PORT: String(port),
    APPLE_TRUSTED_ROOTS: path.join(certDir, 'root.pem'),
    LOG_LEVEL: 'warn',
    // A killed worker's messages come back after this, not after the default minute.
    INTAKE_VISIBILITY_TIMEOUT_SECONDS: '2',
  };
});
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  await db?.drop();
  await rm(certDir, { recursive: true, force: true });
});
beforeEach(async () => {
  await db.pool.query('TRUNCATE events, purchases, intake_messages, intake_sqs_messages, source_documents, projection_checkpoints');
});

async function start(extra: Record<string, string> = {}): Promise<RunningProcess> {
  const process = startSubledgerProcess({ ...env, ...extra });
  running.push(process);
  await waitForHttp(`${base}/health`, process);
  return process;
}
async function kill(process: RunningProcess): Promise<void> {
  const exited = once(process.child, 'exit');
  process.child.kill('SIGKILL');
  await exited;
}
async function initialBuy(appUserId: string, originalTransactionId: string) {
  const signedPayload = await signNotification(ca.signer, {
    type: 'SUBSCRIBED',
    subtype: 'INITIAL_BUY',
    signedDate: NOW,
    transaction: { originalTransactionId, transactionId: originalTransactionId, appAccountToken: appUserId },
  });
  const response = await fetch(`${base}/v1/webhooks/apple`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ signedPayload }),
  });
  return response.status;
}
async function messages() {
  const { rows } = await db.pool.query<{ state: string; attempts: number }>(
    `SELECT state, attempts FROM intake_messages ORDER BY message_id`,
  );
  return rows;
}
const allDone = (rows: { state: string }[]) => rows.every((m) => m.state === 'done');
async function linkedPurchases(): Promise<number> {
  const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM purchases WHERE app_user_id IS NOT NULL`);
  return rows[0].n;
}

describe('a process killed with SIGKILL', () => {
  it('after answering 200 and before processing: the next process processes the notification once', async () => {
    const acceptor = await start({ INTAKE_WORKER: 'off' });
    expect(await initialBuy(randomUUID(), '4000000000000001')).toBe(200);
    await kill(acceptor);
    expect(await messages()).toEqual([{ state: 'pending', attempts: 0 }]);

    const next = await start();
    const after = await eventually(messages, allDone, 30_000);
    expect(after).toEqual([{ state: 'done', attempts: 1 }]);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM events`);
    expect(rows[0].n).toBe(EVENTS_PER_INITIAL_BUY);
    expect(await eventually(linkedPurchases, (n) => n === 1)).toBe(1);
    await next.stop();
  });

  it('while processing a burst: every accepted notification ends up recorded exactly once', async () => {
    const first = await start();
    const purchases = Array.from({ length: 40 }, (_, i) => ({
      user: randomUUID(),
      originalTransactionId: `40000000000${String(100 + i)}`,
    }));
    const statuses = await Promise.all(purchases.map((p) => initialBuy(p.user, p.originalTransactionId)));
    expect(statuses.every((s) => s === 200)).toBe(true);
    // Kill as soon as the worker has started on the burst, most of it still to do.
    await eventually(messages, (rows) => rows.some((m) => m.state === 'done' || m.attempts > 0), 30_000);
    await kill(first);

    const second = await start();
    const after = await eventually(messages, allDone, 60_000);
    expect(after).toHaveLength(purchases.length);
    const { rows } = await db.pool.query<{ stream_id: string; n: number }>(
      `SELECT stream_id, count(*)::int AS n FROM events GROUP BY stream_id`,
    );
    // Messages the dead worker had taken were processed again: the facts were recorded once all the same.
    expect(rows).toHaveLength(purchases.length);
    expect(rows.filter((r) => r.n !== EVENTS_PER_INITIAL_BUY)).toEqual([]);
    expect(await eventually(linkedPurchases, (n) => n === purchases.length, 30_000)).toBe(purchases.length);
    await second.stop();
  });
});
