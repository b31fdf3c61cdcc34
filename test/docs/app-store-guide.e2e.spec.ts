import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DocSandbox } from '../support/doc-sandbox.ts';
import { eventually } from '../support/eventually.ts';
import type { Terminal } from '../support/terminal.ts';

/*
 * docs/app-store.md's "Try it without Apple": its blocks as written, in a fresh checkout.
 * `apple-dev` creates a test CA, Subledger is started trusting it, and a subscription is
 * bought, renewed and refunded through the webhook. At each step the entitlement itself is
 * checked (active or not, until when), and what a scoped token minted then unlocks.
 */
let sandbox: DocSandbox;
let terminal: Terminal;
let key: string;
beforeAll(async () => {
  sandbox = await DocSandbox.create();
  terminal = sandbox.terminal();
});
afterAll(() => sandbox?.close());

interface Premium {
  active: boolean;
  expiresAt: string;
  purchasedAt: string;
  environment: string;
  willRenew: boolean;
  revokedAt: string | null;
  currentPeriod: { startsAt: string; endsAt: string };
  nextPeriod: { startsAt: string; endsAt: string } | null;
}

/** The guide's read, as the reader types it again after each step. */
async function premium(): Promise<Premium | undefined> {
  const customer = JSON.parse(await terminal.type(sandbox.block('apple-dev-read'))) as {
    entitlements: Record<string, Premium>;
  };
  return customer.entitlements.premium;
}
/** What a scoped token minted now unlocks: the answer premium content sees. */
async function scope(): Promise<string[]> {
  const response = await fetch(`http://127.0.0.1:${sandbox.servicePort}/v1/customers/alice/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}` },
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { scope: string[] }).scope;
}

describe('the App Store guide with apple-dev', () => {
  it('shows an entitlement appear, renew and get refunded', { timeout: 240_000 }, async () => {
    const service = sandbox.background('apple-dev-start');
    await sandbox.until(`http://127.0.0.1:${sandbox.servicePort}/ready`, service);

    const bought = await terminal.type(sandbox.block('apple-dev-buy'));
    expect(bought).toContain('"status":"accepted"');
    // The reader copies the transaction id from what buy printed.
    const transactionId = /SUBSCRIBED\/INITIAL_BUY for (\d+):/.exec(bought)![1]!;
    key = (await terminal.type('printf %s "$KEY"')).trim();
    expect(key).toMatch(/^sl_/);
    const step = (id: string) => terminal.type(sandbox.block(id).replaceAll('<transaction id>', transactionId));

    // Processed a moment after it was accepted: the read is typed again until it shows.
    const first = (await eventually(premium, (p) => p?.active === true))!;
    expect(first).toMatchObject({ active: true, environment: 'sandbox', nextPeriod: null });
    expect(await scope()).toEqual(['premium']);

    // Charged and notified before its period begins, as Apple does up to a day early: the
    // customer stays active through the period running now and the one paid for.
    await step('apple-dev-renew');
    const renewed = (await eventually(premium, (p) => p?.expiresAt !== first.expiresAt))!;
    // A sandbox month is five minutes.
    const periodEnd = first.expiresAt;
    const renewalEnd = new Date(Date.parse(periodEnd) + 5 * 60_000).toISOString();
    expect(renewed).toMatchObject({
      active: true,
      expiresAt: renewalEnd,
      willRenew: true,
      purchasedAt: first.purchasedAt,
      currentPeriod: { startsAt: first.purchasedAt, endsAt: periodEnd },
      nextPeriod: { startsAt: periodEnd, endsAt: renewalEnd },
    });
    expect(await scope()).toEqual(['premium']);

    // Refunds the period running now: access ends at the refund, the renewal stays paid.
    await step('apple-dev-refund');
    const refunded = (await eventually(premium, (p) => p?.active === false))!;
    expect(refunded).toMatchObject({ active: false, revokedAt: expect.any(String) });
    expect(Date.parse(refunded.revokedAt!)).toBeLessThan(Date.parse(periodEnd));
    expect(await scope()).toEqual([]);
  });
});
