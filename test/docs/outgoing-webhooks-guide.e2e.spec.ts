import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DocSandbox } from '../support/doc-sandbox.ts';
import { eventually } from '../support/eventually.ts';

/*
 * docs/outgoing-webhooks.md's "Try it": its blocks as written, in a fresh checkout. An
 * endpoint is added, the example receiver runs with the secret the answer gave, and a
 * purchase reaches it as verified events: the purchase, then the change of access.
 */
let sandbox: DocSandbox;
beforeAll(async () => {
  sandbox = await DocSandbox.create();
});
afterAll(() => sandbox?.close());

describe('the outgoing webhooks guide', () => {
  it('delivers a purchase to the example receiver, verified', { timeout: 240_000 }, async () => {
    const receiverPort = await sandbox.remapPort(4000);
    const service = sandbox.background('webhooks-start');
    await sandbox.until(`http://127.0.0.1:${sandbox.servicePort}/ready`, service);

    const terminal = sandbox.terminal();
    const added = JSON.parse(await terminal.type(sandbox.block('webhooks-add-endpoint'))) as {
      endpoint: { url: string };
      secret: string;
    };
    expect(added.endpoint.url).toBe(`http://127.0.0.1:${receiverPort}/`);
    expect(added.secret).toMatch(/^whsec_/);

    // The reader pastes the secret the answer showed.
    const receiver = sandbox.backgroundCommand(sandbox.block('webhooks-receiver').replace('<secret>', added.secret));
    await eventually(
      async () => receiver.log(),
      (log) => log.includes('listening'),
    );
    await terminal.type(sandbox.block('webhooks-buy'));

    const printed = await eventually(
      async () => receiver.log(),
      (log) => log.includes('ENTITLEMENTS_CHANGED'),
      30_000,
    );
    const lines = printed.split('\n').filter((line) => line.startsWith('evt_'));
    expect(lines[0]).toMatch(/^evt_\S+ INITIAL_PURCHASE alice \[\]$/);
    const changed = lines.find((line) => line.includes('ENTITLEMENTS_CHANGED'))!;
    const after = JSON.parse(changed.split(' ').slice(3).join(' ')) as { id: string; active: boolean }[];
    expect(after).toEqual([expect.objectContaining({ id: 'premium', active: true })]);
    expect(printed).not.toContain('refused');
  });
});
