import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { eventually } from '../support/eventually.ts';
import { freePort } from '../support/free-port.ts';

/*
 * Issue 14: the receiver of docs/outgoing-webhooks.md (examples/webhook-receiver.mjs), run as a reader would,
 * hears a purchase from a running Subledger and prints it, verified; a delivery signed
 * with another secret is refused.
 */
let harness: AppleHarness;
let receiver: ChildProcess | undefined;
const printed: string[] = [];

beforeAll(async () => {
  harness = await startAppleHarness({ WEBHOOK_ALLOW_PRIVATE_URLS: 'on', WEBHOOK_POLL_MS: '20' });
});
afterAll(async () => {
  receiver?.kill();
  await harness?.stop();
});

it('prints the verified events of a purchase, and refuses a delivery it cannot verify', async () => {
  const port = await freePort();
  const admin = (await new ApiKeys(harness.db.pool).create('ops', 'admin')).secret;
  const add = async (secretFor?: string) => {
    const response = await harness.subledger.api.inject({
      method: 'POST',
      url: '/v1/admin/webhooks/endpoints',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ url: `http://127.0.0.1:${port}/`, description: secretFor ?? 'the receiver' }),
    });
    return response.json() as { endpoint: { id: string }; secret: string };
  };
  const { secret } = await add();
  const stranger = await add('another backend: its secret is not the receiver’s');

  receiver = spawn(process.execPath, ['examples/webhook-receiver.mjs'], {
    env: { ...process.env, WEBHOOK_SECRET: secret, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  receiver.stdout!.on('data', (chunk: Buffer) => printed.push(...chunk.toString().trim().split('\n')));
  await eventually(
    async () => printed,
    (lines) => lines.includes('listening'),
  );

  const user = randomUUID();
  await harness.notify({
    type: 'SUBSCRIBED',
    subtype: 'INITIAL_BUY',
    signedDate: Math.floor(Date.now() / 1000) * 1000,
    transaction: {
      appAccountToken: user,
      originalTransactionId: '6000000000000001',
      transactionId: '6000000000000001',
    },
  });
  await harness.processed();
  const lines = await eventually(
    async () => printed,
    // Two events to each endpoint: the receiver's verified, the other's refused.
    (all) => all.filter((l) => l.includes(user)).length >= 2 && all.filter((l) => l.startsWith('refused:')).length >= 2,
  );
  const mine = lines.filter((l) => l.includes(user));
  expect(mine.filter((l) => / INITIAL_PURCHASE /.test(l))).toHaveLength(1);
  expect(mine.filter((l) => / ENTITLEMENTS_CHANGED /.test(l))).toHaveLength(1);
  expect(mine.find((l) => / ENTITLEMENTS_CHANGED /.test(l))).toContain('"id":"premium","active":true');
  // The other endpoint's deliveries reach the same URL signed with its own secret: refused.
  expect(lines.filter((l) => l.startsWith('refused:')).length).toBeGreaterThanOrEqual(2);
  expect(stranger.secret).not.toBe(secret);
});
