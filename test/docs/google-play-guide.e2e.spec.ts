import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DocSandbox } from '../support/doc-sandbox.ts';
import { eventually } from '../support/eventually.ts';
import type { Terminal } from '../support/terminal.ts';

/*
 * docs/google-play.md's "Try Google Play without Google": its blocks as written, in a fresh
 * checkout. `google-dev init` writes the keys, `google-dev serve` stands in for Google,
 * Subledger is started with the environment the guide shows (which must be what init
 * prints), and a subscription is bought, renewed and refunded through signed pushes.
 */
let sandbox: DocSandbox;
let terminal: Terminal;
let googlePort: number;
beforeAll(async () => {
  sandbox = await DocSandbox.create();
  googlePort = await sandbox.remapPort(8095);
  terminal = sandbox.terminal();
});
afterAll(() => sandbox?.close());

interface Premium {
  active: boolean;
  expiresAt: string;
  store: string;
  environment: string;
  willRenew: boolean;
}
async function premium(): Promise<Premium | undefined> {
  const customer = JSON.parse(await terminal.type(sandbox.block('google-dev-read'))) as {
    entitlements: Record<string, Premium>;
  };
  return customer.entitlements.premium;
}
/** `NAME=value` pairs of a block or of what a command printed. */
const settingsIn = (text: string) =>
  Object.fromEntries([...text.matchAll(/^\s*(GOOGLE_\w+)=(\S+?)\s*\\?$/gm)].map((m) => [m[1]!, m[2]!]));

describe('the Google Play guide with google-dev', () => {
  it('shows an entitlement appear, renew and get refunded', { timeout: 240_000 }, async () => {
    const init = await terminal.type(sandbox.block('google-dev-init'));
    // The guide's start command is what init prints (the fake's port included).
    expect(settingsIn(init)).toEqual(settingsIn(sandbox.block('google-dev-start')));
    expect(init).toContain(sandbox.block('google-dev-serve'));
    const keyFile = path.join(sandbox.dir, '.data/google-dev/service-account.json');
    const { token_uri } = JSON.parse(await readFile(keyFile, 'utf8')) as { token_uri: string };
    expect(token_uri).toBe(`http://127.0.0.1:${googlePort}/token`);

    const google = sandbox.background('google-dev-serve');
    await sandbox.until(`http://127.0.0.1:${googlePort}/oauth2/v3/certs`, google);
    const service = sandbox.background('google-dev-start');
    await sandbox.until(`http://127.0.0.1:${sandbox.servicePort}/ready`, service);

    const bought = await terminal.type(sandbox.block('google-dev-buy'));
    expect(bought).toContain('"status":"accepted"');
    // The reader copies the purchase token from what buy printed.
    const purchaseToken = /SUBSCRIPTION_PURCHASED for (\S+):/.exec(bought)![1]!;
    const step = (id: string) => terminal.type(sandbox.block(id).replaceAll('<purchase token>', purchaseToken));

    const first = (await eventually(premium, (p) => p?.active === true))!;
    expect(first).toMatchObject({ active: true, store: 'play_store', environment: 'sandbox' });
    expect(await terminal.type('npx subledger google-dev list')).toContain(
      `${purchaseToken}\talice\tpremium_monthly\tSUBSCRIPTION_STATE_ACTIVE`,
    );
    // Subledger asked the fake Google and acknowledged the purchase there, as it would with Google.
    const state = (await (await fetch(`http://127.0.0.1:${googlePort}/dev/state`)).json()) as {
      acknowledgements: unknown;
    };
    expect(state.acknowledgements).toContainEqual(expect.objectContaining({ purchaseToken }));

    await step('google-dev-renew');
    const renewed = (await eventually(premium, (p) => p?.expiresAt !== first.expiresAt))!;
    // A license tester's month is five minutes; the customer stays active throughout.
    expect(Date.parse(renewed.expiresAt) - Date.parse(first.expiresAt)).toBe(5 * 60_000);
    expect(renewed).toMatchObject({ active: true, willRenew: true, store: 'play_store' });

    await step('google-dev-refund');
    expect(await eventually(premium, (p) => p?.active === false)).toMatchObject({ active: false });

    // Ctrl-C stops the fake Google.
    await google.stop();
    const after = await fetch(`http://127.0.0.1:${googlePort}/oauth2/v3/certs`).then(
      (r) => r.status,
      () => 'closed',
    );
    expect(after).toBe('closed');
  });
});
