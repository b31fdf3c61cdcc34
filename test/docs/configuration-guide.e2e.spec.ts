import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DocSandbox } from '../support/doc-sandbox.ts';
import { eventually } from '../support/eventually.ts';
import type { Terminal } from '../support/terminal.ts';

/*
 * docs/configuration.md's blocks, run as written in a fresh checkout: both stores' dev
 * settings at once (each store's notifications are then trusted), a second instance
 * sharing the embedded PostgreSQL, and the CLI reaching it by URL from elsewhere.
 */
let sandbox: DocSandbox;
let terminal: Terminal;
beforeAll(async () => {
  sandbox = await DocSandbox.create();
  terminal = sandbox.terminal();
});
afterAll(() => sandbox?.close());

const customer = async (appUserId: string) =>
  JSON.parse(
    await terminal.type(
      `curl -s localhost:${sandbox.servicePort}/v1/customers/${appUserId} -H "authorization: Bearer $KEY"`,
    ),
  ) as { entitlements: Record<string, { active: boolean; store: string }> };

describe('the configuration guide', () => {
  it('starts one service that trusts both stores’ dev tools', { timeout: 240_000 }, async () => {
    // What the store guides have the reader do first: each dev tool's keys, and the fake Google.
    const googlePort = await sandbox.remapPort(8095);
    await terminal.type(`npx subledger apple-dev init && npx subledger google-dev init --port ${googlePort}`);
    await startFakeGoogle(googlePort);

    const service = sandbox.background('both-stores-start');
    await sandbox.until(`http://127.0.0.1:${sandbox.servicePort}/ready`, service);
    await terminal.type('KEY=$(npx subledger api-keys create --name guide --role admin)');
    await terminal.type('npx subledger apple-dev buy --user alice');
    await terminal.type('npx subledger google-dev buy bob');

    const premium = async (appUserId: string) => (await customer(appUserId)).entitlements.premium;
    const alice = await eventually(
      () => premium('alice'),
      (p) => p?.active === true,
    );
    const bob = await eventually(
      () => premium('bob'),
      (p) => p?.active === true,
    );
    expect(alice).toMatchObject({ active: true, store: 'app_store' });
    expect(bob).toMatchObject({ active: true, store: 'play_store' });
  });

  it('runs a second instance on the embedded PostgreSQL the first started', { timeout: 120_000 }, async () => {
    const secondPort = await sandbox.remapPort(3001);
    const second = sandbox.background('embedded-second-instance');
    await sandbox.until(`http://127.0.0.1:${secondPort}/ready`, second);
    await second.stop();
    // The first still has its database: stopping a sharer does not stop the server.
    expect((await fetch(`http://127.0.0.1:${sandbox.servicePort}/ready`)).status).toBe(200);
    expect((await customer('alice')).entitlements.premium?.active).toBe(true);
  });

  it('reaches the embedded PostgreSQL by URL, with the generated password', { timeout: 60_000 }, async () => {
    const listed = await terminal.type(sandbox.block('embedded-database-url'));
    expect(listed).toContain('guide');
  });
});

/** `google-dev serve`, as its guide runs it, in a terminal of its own. */
async function startFakeGoogle(port: number): Promise<void> {
  const serve = sandbox.backgroundCommand(`npx subledger google-dev serve --port ${port}`);
  await sandbox.until(`http://127.0.0.1:${port}/oauth2/v3/certs`, serve);
}
