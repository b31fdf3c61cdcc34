import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { eventually } from '../support/eventually.ts';
import { freePort } from '../support/free-port.ts';
import { startSubledgerProcess, waitForHttp, type RunningProcess } from '../support/subledger-process.ts';

/*
 * docs/app-store.md's "Try it without Apple" walkthrough, step by step, with real
 * processes: `subledger apple-dev` creates a test CA, Subledger is started trusting
 * it, and a purchase is bought, renewed and refunded through the webhook.
 */
const run = promisify(execFile);
let db: TestDatabase;
let dir: string;
let base: string;
let service: RunningProcess | undefined;
let apiKey: string;

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(path.join(tmpdir(), 'subledger-apple-dev-'));
  base = `http://127.0.0.1:${await freePort()}`;
});
afterAll(async () => {
  await service?.stop();
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
});

async function appleDev(...args: string[]): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    ['bin/subledger.js', 'apple-dev', '--dir', dir, '--url', base, ...args],
    { env: { PATH: process.env.PATH ?? '' } },
  );
  return stdout;
}
async function premiumOf(appUserId: string) {
  const response = await fetch(`${base}/v1/customers/${appUserId}`, { headers: { authorization: `Bearer ${apiKey}` } });
  const customer = (await response.json()) as {
    entitlements: Record<
      string,
      { active: boolean; expiresAt: string; purchasedAt: string; environment: string; revokedAt: string | null }
    >;
  };
  return customer.entitlements.premium;
}
/** What a scoped token minted now unlocks: the answer premium content sees. */
async function scopeOf(appUserId: string): Promise<string[]> {
  const response = await fetch(`${base}/v1/customers/${appUserId}/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}` },
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { scope: string[] }).scope;
}

describe('the App Store walkthrough with apple-dev', () => {
  it('shows an entitlement appear, renew and get refunded', async () => {
    const init = await appleDev('init');
    expect(init).toContain(`APPLE_TRUSTED_ROOTS=certs/apple/AppleRootCA-G3.cer,${path.join(dir, 'root.pem')}`);

    service = startSubledgerProcess({
      DATABASE_URL: db.url,
      PORT: new URL(base).port,
      LOG_LEVEL: 'warn',
      APPLE_TRUSTED_ROOTS: `certs/apple/AppleRootCA-G3.cer,${path.join(dir, 'root.pem')}`,
    });
    await waitForHttp(`${base}/health`, service);
    const created = await run(
      process.execPath,
      ['bin/subledger.js', 'api-keys', 'create', '--name', 'laptop', '--role', 'admin'],
      { env: { PATH: process.env.PATH ?? '', DATABASE_URL: db.url } },
    );
    apiKey = created.stdout.trim();
    expect(apiKey).toMatch(/^sl_/);

    const bought = await appleDev('buy', '--user', 'alice');
    const originalTransactionId = bought.match(/for (\d+):/)?.[1];
    expect(bought).toContain('"status":"accepted"');
    const first = await eventually(
      () => premiumOf('alice'),
      (premium) => premium?.active === true,
    );
    expect(first).toMatchObject({ active: true, environment: 'sandbox', nextPeriod: null });
    expect(await scopeOf('alice')).toEqual(['premium']);

    // Charged and notified before its period begins, as Apple does up to a day early: the
    // customer stays active through the period running now and the one paid for.
    await appleDev('renew', originalTransactionId!);
    const renewed = await eventually(
      () => premiumOf('alice'),
      (premium) => premium?.expiresAt !== first!.expiresAt,
    );
    // A sandbox month is five minutes.
    const periodEnd = first!.expiresAt;
    const renewalEnd = new Date(Date.parse(periodEnd) + 5 * 60_000).toISOString();
    expect(renewed).toMatchObject({
      active: true,
      expiresAt: renewalEnd,
      willRenew: true,
      purchasedAt: first!.purchasedAt,
      currentPeriod: { startsAt: first!.purchasedAt, endsAt: periodEnd },
      nextPeriod: { startsAt: periodEnd, endsAt: renewalEnd },
    });
    expect(await scopeOf('alice')).toEqual(['premium']);

    // Refunds the period running now: access ends at the refund, the renewal stays paid.
    await appleDev('refund', originalTransactionId!);
    const refunded = await eventually(
      () => premiumOf('alice'),
      (premium) => premium?.active === false,
    );
    expect(refunded).toMatchObject({ active: false, revokedAt: expect.any(String) });
    expect(Date.parse(refunded!.revokedAt!)).toBeLessThan(Date.parse(periodEnd));
    expect(await scopeOf('alice')).toEqual([]);
  });
});
