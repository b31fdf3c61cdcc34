import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresEventStore } from '../../src/eventstore/postgres/postgres-event-store.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { appleKey, day, readable, recordBoughtAndRenewed } from '../support/purchase-facts.ts';
import { runSubledger } from '../support/cli.ts';

/*
 * `subledger history` and `subledger entitlements`, as support staff run them (in this
 * process), against a test database holding a subscription bought on day 0 and renewed on
 * day 30 (2026), all recorded today, long after those days, and projected.
 */
const CUSTOMER = 'erin';
const key = appleKey('3000000001');
let db: TestDatabase;

const subledger = (args: string[]) => runSubledger(db.url, args);

beforeAll(async () => {
  db = await createTestDatabase();
  await recordBoughtAndRenewed(new PostgresEventStore(db.pool), key, CUSTOMER);
  // Which purchases are the customer's comes from the projection (customer_streams), as a running service keeps it.
  expect(await subledger(['rebuild-projections'])).toMatchObject({ code: 0 });
});
afterAll(() => db.drop());

describe('subledger history', () => {
  it('prints the timeline as JSON, oldest first, with each event’s effect', async () => {
    const result = await subledger(['history', CUSTOMER, '--json']);
    expect(result.code).toBe(0);
    const body = JSON.parse(result.stdout) as { appUserId: string; entries: any[] };
    expect(body.appUserId).toBe(CUSTOMER);
    expect(body.entries.map((e) => [e.type, e.effects.map((effect: { summary: string }) => effect.summary)])).toEqual([
      ['SubscriptionStarted', []], // not theirs yet: the link follows
      ['PurchaseLinkedToAppUser', [`premium active until ${readable(day(30))}`]],
      ['SubscriptionRenewed', [`premium active until ${readable(day(60))}`]],
    ]);
    expect(body.entries[0]).toMatchObject({ purchase: key, causationId: 'buy', storeTime: day(0) });
  });

  it('prints a table by default, and keeps the most recent entries with --limit', async () => {
    const table = await subledger(['history', CUSTOMER]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^RECORDED AT\s+STORE TIME\s+PURCHASE\s+EVENT\s+EFFECT$/);
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(new RegExp(`^\\S+Z\\s+${day(0)}\\s+app_store/3000000001\\s+SubscriptionStarted$`)),
      expect.stringMatching(new RegExp(`PurchaseLinkedToAppUser\\s+premium active until ${readable(day(30))}$`)),
      expect.stringMatching(new RegExp(`SubscriptionRenewed\\s+premium active until ${readable(day(60))}$`)),
    ]);

    const last = await subledger(['history', CUSTOMER, '--limit', '1', '--json']);
    expect(JSON.parse(last.stdout).entries.map((e: { type: string }) => e.type)).toEqual(['SubscriptionRenewed']);
    expect(last.stderr).toContain('2 earlier entries not shown');
  });

  it('filters by store, and refuses a store it does not know', async () => {
    expect(await subledger(['history', CUSTOMER, '--store', 'play_store'])).toMatchObject({
      code: 0,
      stdout: `No history for ${CUSTOMER}.\n`,
    });
    const unknown = await subledger(['history', CUSTOMER, '--store', 'steam']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Allowed choices are app_store, play_store, promotional');
  });
});

describe('subledger entitlements', () => {
  it('answers as known then (nothing: all was recorded later) and as known now', async () => {
    const result = await subledger(['entitlements', CUSTOMER, '--at', day(15), '--json']);
    expect(result.code).toBe(0);
    const body = JSON.parse(result.stdout);
    expect(body).toMatchObject({ appUserId: CUSTOMER, at: day(15), asKnownThen: {} });
    expect(Object.keys(body.asKnownThen)).toEqual([]);
    expect(body.asKnownNow.premium).toMatchObject({ active: true, expiresAt: day(30), purchaseId: '3000000001' });
  });

  it('prints the two as tables by default', async () => {
    const result = await subledger(['entitlements', CUSTOMER, '--at', day(45)]);
    expect(result.code).toBe(0);
    const [then, now] = result.stdout.split('As known now');
    expect(then).toContain('(none)');
    expect(now).toMatch(/ENTITLEMENT\s+ACTIVE\s+EXPIRES\s+PRODUCT\s+STORE\s+PURCHASE/);
    expect(now).toMatch(new RegExp(`premium\\s+yes\\s+${day(60)}\\s+\\S+\\s+app_store\\s+3000000001`));
  });

  it('fails with exit code 1 and a clear message for a time that is not RFC 3339', async () => {
    for (const at of ['yesterday', '2026-01-15', '2026-01-15T00:00:00']) {
      expect(await subledger(['entitlements', CUSTOMER, '--at', at])).toMatchObject({
        code: 1,
        stderr: `subledger: --at "${at}" is not an RFC 3339 time with an offset, like 2026-03-01T12:00:00Z\n`,
      });
    }
    const missing = await subledger(['entitlements', CUSTOMER]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("required option '--at <time>' not specified");
  });
});

describe('subledger grant, revoke-grant, transfer, replay', () => {
  it('grants, ends a grant, and moves purchases, keeping who and why', async () => {
    const granted = await subledger([
      'grant',
      'fay',
      '--product',
      'premium_monthly',
      '--days',
      '7',
      '--reason',
      'beta tester',
      '--json',
    ]);
    expect(granted.code).toBe(0);
    const grant = JSON.parse(granted.stdout) as { grantId: string; entitlements: string[]; endsAt: string };
    expect(grant.entitlements).toEqual(['premium']);
    expect(await subledger(['grant', 'fay', '--product', 'gold', '--reason', 'x'])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('no product gold'),
    });
    expect(await subledger(['revoke-grant', 'fay', grant.grantId, '--reason', 'beta over'])).toMatchObject({ code: 0 });

    const moved = await subledger(['transfer', CUSTOMER, '--to', 'erin-2', '--reason', 'account merge', '--json']);
    expect(moved.code).toBe(0);
    expect(JSON.parse(moved.stdout)).toMatchObject({ from: CUSTOMER, to: 'erin-2', moved: [key] });
    const events = (await db.pool.query(`SELECT type, metadata FROM events ORDER BY global_position`)).rows;
    expect(
      events.filter((e) => e.metadata.actor?.kind === 'staff').map((e) => [e.type, e.metadata.actor.reason]),
    ).toEqual([
      ['SubscriptionStarted', 'beta tester'],
      ['AutoRenewTurnedOff', 'beta tester'],
      ['PurchaseLinkedToAppUser', 'beta tester'],
      ['TransactionRevoked', 'beta over'],
      ['PurchaseLinkedToAppUser', 'account merge'],
    ]);
    expect((await subledger(['replay', 'erin-2', '--dry-run', '--json'])).code).toBe(0);
  });
});
