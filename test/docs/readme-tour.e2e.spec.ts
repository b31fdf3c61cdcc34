import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DocSandbox } from '../support/doc-sandbox.ts';
import { eventually } from '../support/eventually.ts';

/*
 * The README's five-minute tour, as a newcomer follows it: its blocks, as written, typed
 * into two terminals in a fresh checkout (see DocSandbox for the ports it rewrites).
 */
let sandbox: DocSandbox;
beforeAll(async () => {
  sandbox = await DocSandbox.create();
});
afterAll(() => sandbox?.close());

interface Entitlement {
  active: boolean;
  expiresAt: string | null;
  environment: string;
}

describe("the README's five-minute tour", () => {
  it('takes a newcomer from nothing to a premium recipe unlocked by a scoped token', { timeout: 240_000 }, async () => {
    const tour = (id: string) => sandbox.block(id);
    const service = sandbox.background('tour-start');
    await sandbox.until(`http://127.0.0.1:${sandbox.servicePort}/ready`, service);

    const terminal = sandbox.terminal();
    await terminal.type(tour('tour-key'));

    const bought = await terminal.type(tour('tour-buy'));
    expect(bought).toMatch(/SUBSCRIBED\/INITIAL_BUY for \d+: .*accepted/);
    const boughtAt = Date.now();

    // The notification is processed a moment after it was accepted: a reader typing the
    // next command is slower than that, a test is not, so it reads (only reads) again.
    const customer = await eventually(
      async () =>
        JSON.parse(await terminal.type(tour('tour-customer'))) as { entitlements: Record<string, Entitlement> },
      (read) => read.entitlements.premium?.active === true,
    );
    const premium = customer.entitlements.premium!;
    expect(premium).toMatchObject({ active: true, environment: 'sandbox' });
    // A month in Apple's sandbox is five minutes.
    const remaining = Date.parse(premium.expiresAt!) - boughtAt;
    expect(remaining).toBeGreaterThan(4 * 60_000);
    expect(remaining).toBeLessThanOrEqual(5 * 60_000);

    await terminal.type(tour('tour-token'));
    const token = (await terminal.type('printf %s "$TOKEN"')).trim();
    // The token's scope claim is space-separated, as OAuth's is.
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { scope: string };
    expect(claims.scope.split(' ')).toEqual(['premium']);

    const content = JSON.parse(await terminal.type(tour('tour-content'))) as Record<string, unknown>;
    expect(content).toMatchObject({ id: 'recipe-salmon-bowl', locked: false });
    expect(content.body).toEqual(expect.stringContaining('salmon'));

    const paywall = JSON.parse(await terminal.type(tour('tour-paywall'))) as Record<string, unknown>;
    expect(paywall).toMatchObject({ status: 403, code: 'entitlement_required', item: { locked: true } });
    expect(paywall).not.toHaveProperty('body');
    expect(paywall.item).not.toHaveProperty('body');
  });
});
