import { Option, type Command } from 'commander';
import os from 'node:os';
import type { Entitlement } from '../domain/entitlements.ts';
import type { PurchaseKey } from '../domain/purchase/purchase-key.ts';
import type { HistoryEntry } from '../application/customer-history.ts';
import { lines, type CliIo } from './io.ts';
import { withCliServices } from './services.ts';
import { textTable } from './table.ts';

const STORES = ['app_store', 'play_store', 'promotional'] as const;

/**
 * `subledger history` and `subledger entitlements`: what support staff ask about one
 * customer, answered from the event store as `GET /v1/admin/customers/{appUserId}/…` does.
 */
export function registerSupportCommands(program: Command, io: CliIo): void {
  const { out, err } = lines(io);
  program
    .command('history')
    .description("A customer's timeline, oldest first: every event of their purchases and what it changed")
    .argument('<appUserId>', 'the app user id')
    .addOption(new Option('--store <store>', 'only purchases from this store').choices(STORES))
    .option('--limit <n>', 'only the most recent n entries')
    .option('--json', 'print JSON')
    .action((appUserId: string, options: { store?: string; limit?: string; json?: boolean }) =>
      withCliServices(io, async ({ pool, eventStore, catalog }) => {
        const { customerHistory } = await import('../application/customer-history.ts');
        const limit = options.limit === undefined ? Infinity : Number(options.limit);
        if (limit !== Infinity && (!Number.isInteger(limit) || limit < 1)) {
          throw new Error('--limit must be a whole number above 0');
        }
        const all = (await customerHistory({ db: pool, eventStore, catalog }, appUserId)).filter(
          (entry) => !options.store || entry.purchase.store === options.store,
        );
        const entries = all.slice(Math.max(0, all.length - limit));
        const earlier = all.length - entries.length;
        if (options.json) {
          out(JSON.stringify({ appUserId, entries }, null, 2));
        } else if (entries.length === 0) {
          out(`No history for ${appUserId}.`);
        } else {
          out(historyTable(entries));
        }
        if (earlier > 0) err(`(${earlier} earlier entries not shown; raise --limit to see them)`);
      }),
    );

  program
    .command('grant')
    .description('Give a customer a catalog product’s entitlements as a promotional grant')
    .argument('<appUserId>', 'the app user id')
    .requiredOption('--product <productId>', 'a catalog product id (the grant gives its entitlements)')
    .option('--days <n>', 'how long (default: for good)')
    .requiredOption('--reason <text>', 'why, kept on the grant’s events')
    .option('--json', 'print JSON')
    .action((appUserId: string, options: { product: string; days?: string; reason: string; json?: boolean }) => {
      const days = options.days === undefined ? undefined : Number(options.days);
      if (days !== undefined && (!Number.isInteger(days) || days < 1)) {
        throw new Error('--days must be a whole number above 0');
      }
      return withCliServices(io, async ({ eventStore, catalog, clock, view }) => {
        const { giveGrant } = await import('../application/give-grant.ts');
        const grant = await giveGrant({ eventStore, catalog, clock, view }, appUserId, {
          productId: options.product,
          ...(days !== undefined && { durationDays: days }),
          reason: options.reason,
          staff: operator(),
        });
        if (options.json) out(JSON.stringify(grant, null, 2));
        else
          out(
            `Granted ${grant.entitlements.join(', ')} to ${appUserId} until ${grant.endsAt ?? 'for good'}: grant ${grant.grantId}`,
          );
      });
    });

  program
    .command('revoke-grant')
    .description('End a promotional grant now')
    .argument('<appUserId>', 'the app user id')
    .argument('<grantId>', 'the grant id `grant` printed')
    .requiredOption('--reason <text>', 'why, kept on the event')
    .action((appUserId: string, grantId: string, options: { reason: string }) =>
      withCliServices(io, async ({ eventStore, clock, view }) => {
        const { endGrant } = await import('../application/end-grant.ts');
        await endGrant({ eventStore, clock, view }, appUserId, grantId, { reason: options.reason, staff: operator() });
        out(`Ended grant ${grantId} of ${appUserId}.`);
      }),
    );

  program
    .command('transfer')
    .description('Move every purchase a customer owns to another app user (an account merge)')
    .argument('<appUserId>', 'the app user id the purchases leave')
    .requiredOption('--to <appUserId>', 'the app user id they go to')
    .requiredOption('--reason <text>', 'why, kept on the events')
    .option('--json', 'print JSON')
    .action((appUserId: string, options: { to: string; reason: string; json?: boolean }) =>
      withCliServices(io, async ({ pool, eventStore, clock, view }) => {
        const { transferPurchases } = await import('../application/transfer-purchases.ts');
        const moved = await transferPurchases({ db: pool, eventStore, clock, view }, appUserId, options.to, {
          reason: options.reason,
          staff: operator(),
        });
        if (options.json) out(JSON.stringify({ from: appUserId, to: options.to, moved }, null, 2));
        else out(`Moved ${moved.length} purchase(s) from ${appUserId} to ${options.to}.`);
      }),
    );

  program
    .command('entitlements')
    .description("A customer's entitlements at a moment: as Subledger knew them then, and as it knows them now")
    .argument('<appUserId>', 'the app user id')
    .requiredOption('--at <time>', 'the moment, as an RFC 3339 time (2026-03-01T12:00:00Z)')
    .option('--json', 'print JSON')
    .action(async (appUserId: string, options: { at: string; json?: boolean }) => {
      // Checked before opening the database: a typo should not wait for a connection.
      // The same test as the HTTP route's `at`, so both accept the same times.
      const { z } = await import('zod');
      if (!z.iso.datetime({ offset: true }).safeParse(options.at).success) {
        throw new Error(`--at "${options.at}" is not an RFC 3339 time with an offset, like 2026-03-01T12:00:00Z`);
      }
      const at = new Date(options.at).toISOString();
      return withCliServices(io, async ({ pool, eventStore, catalog }) => {
        const [{ entitlementsAtMoment }, { entitlementDocument }] = await Promise.all([
          import('../application/customer-history.ts'),
          import('../application/customer-document.ts'),
        ]);
        const { asKnownThen, asKnownNow } = await entitlementsAtMoment(
          { db: pool, eventStore, catalog },
          appUserId,
          at,
        );
        if (options.json) {
          const byId = (entitlements: readonly Entitlement[]) =>
            Object.fromEntries(entitlements.map((e) => [e.id, entitlementDocument(e)]));
          out(JSON.stringify({ appUserId, at, asKnownThen: byId(asKnownThen), asKnownNow: byId(asKnownNow) }, null, 2));
          return;
        }
        out(`${appUserId} at ${at}\n`);
        out(`As known then (only what was recorded by ${at}):`);
        out(entitlementsTable(asKnownThen));
        out('\nAs known now (everything recorded since, at the stores’ times):');
        out(entitlementsTable(asKnownNow));
      });
    });
}

function historyTable(entries: readonly HistoryEntry[]): string {
  return textTable([
    ['RECORDED AT', 'STORE TIME', 'PURCHASE', 'EVENT', 'EFFECT'],
    ...entries.map((e) => [
      e.recordedAt,
      e.storeTime ?? '-',
      purchaseLabel(e.purchase),
      e.type,
      e.effects.map((effect) => effect.summary).join('; '),
    ]),
  ]);
}

function entitlementsTable(entitlements: readonly Entitlement[]): string {
  if (entitlements.length === 0) return '  (none)';
  const rows = textTable([
    ['ENTITLEMENT', 'ACTIVE', 'EXPIRES', 'PRODUCT', 'STORE', 'PURCHASE'],
    ...entitlements.map((e) => [
      e.id,
      e.active ? 'yes' : 'no',
      e.expiresAt ?? 'never',
      e.productId,
      e.purchase.store,
      purchaseLabel(e.purchase, { withStore: false }),
    ]),
  ]);
  return rows.replace(/^/gm, '  ');
}

/**
 * `app_store/2000000001`; Google purchase tokens run to a hundred characters or more,
 * so long ids keep their start and end, enough to tell purchases apart and find one.
 * The environment shows only when it is not production.
 */
export function purchaseLabel(key: PurchaseKey, { withStore = true } = {}): string {
  const id = key.purchaseId.length > 20 ? `${key.purchaseId.slice(0, 10)}…${key.purchaseId.slice(-6)}` : key.purchaseId;
  const environment = key.environment === 'production' ? '' : ` (${key.environment})`;
  return `${withStore ? `${key.store}/` : ''}${id}${environment}`;
}

/** Who ran the command, kept on the events it records: the operating-system user. */
function operator(): string {
  return `${os.userInfo().username} (cli)`;
}
