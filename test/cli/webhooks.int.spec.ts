import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/runtime/system-clock.ts';
import { SECRET_OVERLAP_MS, WebhookEndpoints } from '../../src/webhooks/webhook-endpoints.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { runSubledger } from '../support/cli.ts';

/*
 * `subledger webhooks`, as an operator runs it (in this process), against a test database.
 * No delivery worker runs here: what the commands schedule stays pending, to be looked at.
 */
let db: TestDatabase;
let endpoints: WebhookEndpoints;

const PRIVATE = { WEBHOOK_ALLOW_PRIVATE_URLS: 'on' };
const subledger = (args: string[], env: Record<string, string> = {}) => runSubledger(db.url, args, env);
const UNKNOWN_ENDPOINT = `we_${'0'.repeat(32)}`;

interface ShownEndpoint {
  id: string;
  url: string;
  description: string;
  eventTypes: string[] | null;
  environments: string[] | null;
  enabled: boolean;
  maxInFlight: number;
}

/** Adds an endpoint on a loopback URL (allowed by the setting) and returns it and its secret. */
async function addEndpoint(...options: string[]): Promise<{ endpoint: ShownEndpoint; secret: string }> {
  const added = await subledger(['webhooks', 'add', 'http://127.0.0.1:9/hooks', ...options, '--json'], PRIVATE);
  expect(added).toMatchObject({ code: 0, stderr: '' });
  return JSON.parse(added.stdout) as { endpoint: ShownEndpoint; secret: string };
}

/** A customer event as the customer-events projection writes it, at a ledger position. */
async function customerEvent(id: string, appUserId: string, position: [number, number]): Promise<void> {
  await db.pool.query(
    `INSERT INTO customer_events (id, ledger_commit, ledger_sequence, ledger_event_id, app_user_id, type, environment,
       occurred_at, payload)
     VALUES ($1, $2, $3, $4, $5, 'RENEWAL', 'production', '2026-02-01T00:00:00Z', '{}')`,
    [id, position[0], position[1], `ledger-${id}`, appUserId],
  );
}

const deliveryRows = async (endpointId: string) =>
  (
    await db.pool.query<{ event_id: string; cause: string }>(
      'SELECT event_id, cause FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY id',
      [endpointId],
    )
  ).rows;

beforeAll(async () => {
  db = await createTestDatabase();
  endpoints = new WebhookEndpoints(db.pool, systemClock, { allowPrivate: false });
});
afterAll(() => db.drop());

describe('subledger webhooks add and list', () => {
  it('says when there are none', async () => {
    expect(await subledger(['webhooks'])).toMatchObject({ code: 0, stdout: 'No webhook endpoints.\n' });
  });

  it('refuses a loopback URL unless WEBHOOK_ALLOW_PRIVATE_URLS is on', async () => {
    expect(await subledger(['webhooks', 'add', 'http://127.0.0.1/hooks'])).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'subledger: The endpoint URL must be a public address\n',
    });
    expect(await endpoints.list()).toEqual([]);

    const added = await subledger(['webhooks', 'add', 'http://127.0.0.1/hooks', '--description', 'staging'], PRIVATE);
    expect(added.code).toBe(0);
    const id = /^Added webhook endpoint (we_[0-9a-f]{32})\.$/m.exec(added.stdout)?.[1];
    expect(id).toBeDefined();
    expect(added.stdout).toMatch(/^ {2}URL:\s+http:\/\/127\.0\.0\.1\/hooks$/m);
    expect(added.stdout).toMatch(/^ {2}Description:\s+staging$/m);
    // The secret is printed once, said to be, and is the one that signs.
    expect(added.stdout).toContain('shown this once only');
    const [secret] = await endpoints.signingSecrets(id!);
    expect(added.stdout).toContain(`\n  ${secret}\n`);
  });

  it('adds with types, environments and how many at once, and lists as a table or JSON', async () => {
    const { endpoint, secret } = await addEndpoint(
      '--types',
      'INITIAL_PURCHASE, RENEWAL',
      '--environments',
      'sandbox',
      '--max-in-flight',
      '3',
    );
    expect(secret).toMatch(/^whsec_/);
    expect(await endpoints.signingSecrets(endpoint.id)).toEqual([secret]);
    expect(endpoint).toMatchObject({
      url: 'http://127.0.0.1:9/hooks',
      eventTypes: ['INITIAL_PURCHASE', 'RENEWAL'],
      environments: ['sandbox'],
      enabled: true,
      maxInFlight: 3,
    });

    const table = await subledger(['webhooks', 'list']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+URL\s+ENABLED\s+TYPES\s+ENVIRONMENTS\s+MAX IN FLIGHT$/);
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(/^we_\w+\s+http:\/\/127\.0\.0\.1\/hooks\s+yes\s+all\s+all\s+10$/),
      `${endpoint.id}  http://127.0.0.1:9/hooks  yes      INITIAL_PURCHASE,RENEWAL  sandbox       3`,
    ]);

    const json = await subledger(['webhooks', 'list', '--json']);
    expect(json.code).toBe(0);
    const listed = JSON.parse(json.stdout) as ShownEndpoint[];
    expect(listed.map((e) => e.id)).toHaveLength(2);
    expect(listed[1]).toEqual({ ...endpoint, createdAt: expect.any(String), updatedAt: expect.any(String) });
    expect(JSON.stringify(listed)).not.toContain('whsec_');
  });

  it('refuses option values it cannot take, before anything is stored', async () => {
    const before = (await endpoints.list()).length;
    const refused = async (args: string[], stderr: string) =>
      expect(await subledger(['webhooks', 'add', 'http://127.0.0.1/x', ...args], PRIVATE)).toMatchObject({
        code: 1,
        stdout: '',
        stderr,
      });
    await refused(
      ['--types', 'RENEWAL,RENEWED'],
      expect.stringMatching(/^subledger: Unknown event types: RENEWED \(known: INITIAL_PURCHASE, RENEWAL, .*\)\n$/),
    );
    await refused(['--types', ','], 'subledger: --types needs one event type or more, comma-separated, or all\n');
    await refused(
      ['--environments', 'staging'],
      'subledger: Unknown environments: staging (known: production, sandbox)\n',
    );
    for (const n of ['0', '1001', '2.5', 'ten', '']) {
      await refused(['--max-in-flight', n], 'subledger: --max-in-flight must be a whole number from 1 to 1000\n');
    }
    await refused(['--description', 'x'.repeat(501)], 'subledger: --description must be 500 characters at most\n');
    expect(await subledger(['webhooks', 'add', 'ftp://example.com/hooks'])).toMatchObject({
      code: 1,
      stderr: 'subledger: The endpoint URL must be an http or https URL\n',
    });
    expect(await endpoints.list()).toHaveLength(before);
  });
});

describe('subledger webhooks update and rotate-secret', () => {
  it('disables an endpoint and narrows its types, then takes every type again', async () => {
    const { endpoint } = await addEndpoint();
    const disabled = await subledger(
      [
        'webhooks',
        'update',
        endpoint.id,
        '--disable',
        '--types',
        'EXPIRATION,REFUND',
        '--environments',
        'production,sandbox',
      ],
      PRIVATE,
    );
    expect(disabled.code).toBe(0);
    expect(disabled.stdout).toContain(`Changed webhook endpoint ${endpoint.id}.`);
    expect(disabled.stdout).toMatch(/^ {2}Enabled:\s+no$/m);
    expect(disabled.stdout).toMatch(/^ {2}Event types:\s+EXPIRATION,REFUND$/m);
    expect(await endpoints.get(endpoint.id)).toMatchObject({
      url: endpoint.url, // what was not given is kept
      enabled: false,
      eventTypes: ['EXPIRATION', 'REFUND'],
      environments: ['production', 'sandbox'],
      maxInFlight: 10,
    });

    const again = await subledger(['webhooks', 'update', endpoint.id, '--enable', '--types', 'all', '--json'], PRIVATE);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ id: endpoint.id, enabled: true, eventTypes: null });
    expect(await endpoints.get(endpoint.id)).toMatchObject({ enabled: true, eventTypes: null });
  });

  it('refuses what it cannot change, with a clear message', async () => {
    const { endpoint } = await addEndpoint();
    expect(await subledger(['webhooks', 'update', endpoint.id])).toMatchObject({
      code: 1,
      stderr:
        'subledger: Say what to change: --url, --description, --types, --environments, --max-in-flight, --enable or --disable\n',
    });
    const both = await subledger(['webhooks', 'update', endpoint.id, '--enable', '--disable']);
    expect(both.code).toBe(1);
    expect(both.stderr).toContain("option '--enable' cannot be used with option '--disable'");
    expect(await subledger(['webhooks', 'update', UNKNOWN_ENDPOINT, '--disable'])).toMatchObject({
      code: 1,
      stderr: `subledger: No webhook endpoint ${UNKNOWN_ENDPOINT}\n`,
    });
    expect(await subledger(['webhooks', 'update', 'hooks-1', '--disable'])).toMatchObject({
      code: 1,
      stderr: 'subledger: hooks-1 is not an endpoint id: we_ and 32 hex digits, as listed\n',
    });
    // The loopback URL was allowed by the setting; without it, moving there is refused and nothing changes.
    expect(
      await subledger(['webhooks', 'update', endpoint.id, '--url', 'http://10.0.0.1/x', '--disable']),
    ).toMatchObject({
      code: 1,
      stderr: 'subledger: The endpoint URL must be a public address\n',
    });
    expect(await endpoints.get(endpoint.id)).toMatchObject({ url: endpoint.url, enabled: true });
  });

  it('rotates the secret: the new one and the previous one both sign for a day', async () => {
    const { endpoint, secret } = await addEndpoint();
    const rotated = await subledger(['webhooks', 'rotate-secret', endpoint.id, '--json']);
    expect(rotated.code).toBe(0);
    const { secret: next, previousExpiresAt } = JSON.parse(rotated.stdout) as {
      secret: string;
      previousExpiresAt: string;
    };
    expect(next).toMatch(/^whsec_/);
    expect(next).not.toBe(secret);
    expect(await endpoints.signingSecrets(endpoint.id)).toEqual([next, secret]);
    expect(Date.parse(previousExpiresAt) - Date.now()).toBeGreaterThan(SECRET_OVERLAP_MS - 60_000);

    const text = await subledger(['webhooks', 'rotate-secret', endpoint.id]);
    expect(text.code).toBe(0);
    const [newest] = await endpoints.signingSecrets(endpoint.id);
    expect(text.stdout).toContain(`shown this once only (keep it now):\n  ${newest}\n`);
    expect(text.stdout).toMatch(/with both it and the previous secret until \d{4}-\d\d-\d\dT[\d:.]+Z/);

    expect(await subledger(['webhooks', 'rotate-secret', UNKNOWN_ENDPOINT])).toMatchObject({
      code: 1,
      stderr: `subledger: No webhook endpoint ${UNKNOWN_ENDPOINT}\n`,
    });
  });
});

describe('subledger webhooks test, deliveries and retry', () => {
  it('queues a TEST event, which shows in the deliveries, and retries it', async () => {
    const { endpoint } = await addEndpoint();
    expect(await subledger(['webhooks', 'deliveries', endpoint.id])).toMatchObject({
      code: 0,
      stdout: `No deliveries to ${endpoint.id}.\n`,
    });

    const tested = await subledger(['webhooks', 'test', endpoint.id, '--json']);
    expect(tested).toMatchObject({ code: 0, stderr: '' });
    const { eventId } = JSON.parse(tested.stdout) as { eventId: string };
    expect(eventId).toMatch(/^evt_test_/);
    const text = await subledger(['webhooks', 'test', endpoint.id]);
    const second = /^Queued TEST event (evt_test_\w+) for /.exec(text.stdout)?.[1];
    expect(second).toBeDefined();

    const table = await subledger(['webhooks', 'deliveries', endpoint.id]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^ID\s+EVENT\s+TYPE\s+CUSTOMER\s+STATUS\s+ATTEMPTS\s+LAST STATUS\s+LATENCY\s+NEXT ATTEMPT \/ ERROR$/,
    );
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(new RegExp(`^\\d+\\s+${second}\\s+TEST\\s+\\(test\\)\\s+pending\\s+0\\s+-\\s+-\\s+\\S+Z$`)),
      expect.stringMatching(new RegExp(`^\\d+\\s+${eventId}\\s+TEST\\s+`)),
    ]);

    const json = await subledger(['webhooks', 'deliveries', endpoint.id, '--limit', '1', '--json']);
    const [newest] = JSON.parse(json.stdout) as { id: string; eventId: string; status: string; cause: string }[];
    expect(JSON.parse(json.stdout)).toHaveLength(1);
    expect(newest).toMatchObject({ eventId: second, eventType: 'TEST', status: 'pending', cause: 'test' });

    // A delivery that failed for good is tried again.
    await db.pool.query(
      `UPDATE webhook_deliveries SET status = 'dead', attempts = 7, last_status = 503, last_error = 'HTTP 503'
       WHERE id = $1`,
      [newest!.id],
    );
    expect((await subledger(['webhooks', 'deliveries', endpoint.id])).stdout).toMatch(
      new RegExp(`^${newest!.id}\\s+${second}\\s+TEST\\s+\\(test\\)\\s+dead\\s+7\\s+503\\s+-\\s+HTTP 503$`, 'm'),
    );
    const retried = await subledger(['webhooks', 'retry', newest!.id, '--json']);
    expect(retried).toMatchObject({ code: 0 });
    expect(JSON.parse(retried.stdout)).toEqual({ deliveryId: newest!.id, status: 'pending' });
    const { rows } = await db.pool.query('SELECT status FROM webhook_deliveries WHERE id = $1', [newest!.id]);
    expect(rows).toEqual([{ status: 'pending' }]);
  });

  it('says a TEST event for a disabled endpoint waits', async () => {
    const { endpoint } = await addEndpoint();
    await new WebhookEndpoints(db.pool, systemClock, { allowPrivate: true }).update(endpoint.id, { enabled: false });
    const tested = await subledger(['webhooks', 'test', endpoint.id]);
    expect(tested).toMatchObject({
      code: 0,
      stderr: `(${endpoint.id} is disabled: the test waits until it is enabled again)\n`,
    });
  });

  it('fails with exit code 1 and a clear message for what it cannot do', async () => {
    expect(await subledger(['webhooks', 'retry', '999999'])).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'subledger: No undelivered delivery 999999\n',
    });
    expect(await subledger(['webhooks', 'retry', '12; DROP TABLE x'])).toMatchObject({
      code: 1,
      stderr: 'subledger: 12; DROP TABLE x is not a delivery id: a number, as deliveries lists it\n',
    });
    expect(await subledger(['webhooks', 'test', UNKNOWN_ENDPOINT])).toMatchObject({
      code: 1,
      stderr: `subledger: No webhook endpoint ${UNKNOWN_ENDPOINT}\n`,
    });
    expect(await subledger(['webhooks', 'deliveries', UNKNOWN_ENDPOINT])).toMatchObject({
      code: 1,
      stderr: `subledger: No webhook endpoint ${UNKNOWN_ENDPOINT}\n`,
    });
    for (const limit of ['0', '501', 'all']) {
      expect(await subledger(['webhooks', 'deliveries', UNKNOWN_ENDPOINT, '--limit', limit])).toMatchObject({
        code: 1,
        stderr: 'subledger: --limit must be a whole number from 1 to 500\n',
      });
    }
  });
});

describe('subledger webhooks replay', () => {
  it('says when there is nothing to replay, and sends nothing on a dry run', async () => {
    const { endpoint } = await addEndpoint();
    expect(await subledger(['webhooks', 'replay', endpoint.id, '--from-position', '0.0', '--dry-run'])).toMatchObject({
      code: 0,
      stdout: `No events to replay to ${endpoint.id} (dry run: nothing sent).\n`,
    });
    const json = await subledger(['webhooks', 'replay', endpoint.id, '--customer', 'nobody', '--dry-run', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ dryRun: true, count: 0, events: [] });
    expect(await deliveryRows(endpoint.id)).toEqual([]);
  });

  it('lists what a dry run would send, then sends it', async () => {
    const { endpoint } = await addEndpoint('--types', 'RENEWAL');
    await customerEvent('evt_r1', 'gus', [100, 1]);
    await customerEvent('evt_r2', 'hal', [100, 2]);
    await customerEvent('evt_r3', 'gus', [101, 1]);

    const dryRun = await subledger(['webhooks', 'replay', endpoint.id, '--from-position', '100.2', '--dry-run']);
    expect(dryRun.code).toBe(0);
    expect(dryRun.stdout.trimEnd().split('\n')).toEqual([
      `Would replay 2 event(s) to ${endpoint.id} (dry run: nothing sent).`,
      expect.stringMatching(/^EVENT\s+TYPE\s+CUSTOMER\s+OCCURRED AT$/),
      expect.stringMatching(/^evt_r2\s+RENEWAL\s+hal\s+2026-02-01T00:00:00.000Z$/),
      expect.stringMatching(/^evt_r3\s+RENEWAL\s+gus\s+2026-02-01T00:00:00.000Z$/),
    ]);
    expect(await deliveryRows(endpoint.id)).toEqual([]);

    const sent = await subledger(['webhooks', 'replay', endpoint.id, '--customer', 'gus', '--json']);
    expect(sent.code).toBe(0);
    expect(JSON.parse(sent.stdout)).toMatchObject({
      dryRun: false,
      count: 2,
      events: [{ eventId: 'evt_r1' }, { eventId: 'evt_r3' }],
    });
    expect(await deliveryRows(endpoint.id)).toEqual([
      { event_id: 'evt_r1', cause: 'replay' },
      { event_id: 'evt_r3', cause: 'replay' },
    ]);
  });

  it('refuses a selection it cannot take, with a clear message and exit code 1', async () => {
    const { endpoint } = await addEndpoint();
    const replay = (...args: string[]) => subledger(['webhooks', 'replay', endpoint.id, ...args, '--dry-run']);
    expect(await replay()).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'subledger: Say where to replay from (--from-position or --from-time), or whose events (--customer)\n',
    });
    for (const position of ['12', 'x.y', '1.2.3', '9223372036854775808.0']) {
      expect(await replay('--from-position', position)).toMatchObject({
        code: 1,
        stderr: `subledger: --from-position "${position}" is not a ledger position: commit.sequence, like 1234.0 (each event names its own as ledgerPosition)\n`,
      });
    }
    for (const time of ['yesterday', '2026-01-15', '2026-01-15T00:00:00']) {
      expect(await replay('--from-time', time)).toMatchObject({
        code: 1,
        stderr: `subledger: --from-time "${time}" is not an RFC 3339 time with an offset, like 2026-03-01T12:00:00Z\n`,
      });
    }
    expect(await replay('--customer', '')).toMatchObject({
      code: 1,
      stderr: 'subledger: --customer must be an app user id of 1 to 256 characters\n',
    });
    expect(
      await subledger(['webhooks', 'replay', UNKNOWN_ENDPOINT, '--from-time', '2026-01-15T00:00:00Z', '--dry-run']),
    ).toMatchObject({ code: 1, stderr: `subledger: No webhook endpoint ${UNKNOWN_ENDPOINT}\n` });
  });
});

describe('the log of a command', () => {
  it('goes to stderr, so a --json answer on stdout stays JSON even when the log speaks', async () => {
    const added = await subledger(['webhooks', 'add', 'http://127.0.0.1:9/logged', '--json'], {
      ...PRIVATE,
      LOG_LEVEL: 'debug',
    });
    expect(added.code).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ endpoint: { url: 'http://127.0.0.1:9/logged' } });
    expect(added.stderr).toContain('webhook endpoint added');
  });
});
