import { Option, type Command } from 'commander';
import { CUSTOMER_EVENT_TYPES } from '../domain/customer-events/customer-event.ts';
import { parsePosition } from '../eventstore/global-position.ts';
import type { DeliveryRecord, ReplaySelection, WebhookDeliveries } from '../webhooks/webhook-deliveries.ts';
import type { EndpointFields, WebhookEndpoint, WebhookEndpoints } from '../webhooks/webhook-endpoints.ts';
import { lines, operatorOf, type CliIo } from './io.ts';
import { withCliServices, type CliServices } from './services.ts';
import { textTable } from './table.ts';

const ENVIRONMENTS = ['production', 'sandbox'] as const;

/**
 * `subledger webhooks`: the app's backends that hear about customer events (outgoing
 * webhooks), as `/v1/admin/webhooks/…` offers them: add, list, change, disable, rotate a
 * secret, send a TEST event, see the deliveries, retry one, replay events. The same
 * checks as the HTTP routes, made before the database is opened; the same refusals
 * after. Deliveries are sent by a running service, never by the CLI.
 */
export function registerWebhookCommands(program: Command, io: CliIo): void {
  const { out, err } = lines(io);
  const webhooks = program
    .command('webhooks')
    .description('Outgoing webhook endpoints: add, change, rotate secrets, test, see and replay deliveries');

  webhooks
    .command('list', { isDefault: true })
    .description('List the endpoints, oldest first (the default)')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean }) =>
      withWebhooks(io, async ({ endpoints }) => {
        const all = await endpoints.list();
        if (options.json) out(JSON.stringify(all, null, 2));
        else if (all.length === 0) out('No webhook endpoints.');
        else out(endpointsTable(all));
      }),
    );

  webhooks
    .command('add')
    .description('Add an endpoint; its signing secret is printed this once only')
    .argument(
      '<url>',
      'https URL of the receiver; no private, loopback or link-local address unless WEBHOOK_ALLOW_PRIVATE_URLS=on',
    )
    .option('--description <text>', 'what it is, for people')
    .option('--types <types>', 'the event types it takes, comma-separated (default: all)')
    .option('--environments <environments>', 'sandbox, production or both, comma-separated (default: all)')
    .option('--max-in-flight <n>', 'deliveries at once, over all customers (default: 10)')
    .option('--json', 'print JSON')
    .action(
      (
        url: string,
        options: { description?: string; types?: string; environments?: string; maxInFlight?: string; json?: boolean },
      ) => {
        const fields: EndpointFields = { url: checkedUrl(url), ...endpointOptions(options) };
        return withWebhooks(io, async ({ endpoints, logger }) => {
          const { endpoint, secret } = await endpoints.create(fields);
          logger.info({ endpointId: endpoint.id, url: endpoint.url, staff: operatorOf(io) }, 'webhook endpoint added');
          if (options.json) {
            out(JSON.stringify({ endpoint, secret }, null, 2));
            return;
          }
          out(`Added webhook endpoint ${endpoint.id}.`);
          out(endpointDetails(endpoint));
          out('\nIts signing secret, shown this once only (keep it now; rotate-secret makes a new one):');
          out(`  ${secret}`);
        });
      },
    );

  webhooks
    .command('update')
    .description('Change an endpoint; --disable stops new deliveries to it (those waiting wait)')
    .argument('<id>', 'the endpoint id, as listed')
    .option('--url <url>', 'https URL of the receiver')
    .option('--description <text>', 'what it is, for people')
    .option('--types <types>', 'the event types it takes, comma-separated, or all')
    .option('--environments <environments>', 'sandbox, production or both, comma-separated, or all')
    .option('--max-in-flight <n>', 'deliveries at once, over all customers')
    .addOption(new Option('--enable', 'send to it again').conflicts('disable'))
    .addOption(new Option('--disable', 'stop sending to it'))
    .option('--json', 'print JSON')
    .action(
      (
        id: string,
        options: {
          url?: string;
          description?: string;
          types?: string;
          environments?: string;
          maxInFlight?: string;
          enable?: boolean;
          disable?: boolean;
          json?: boolean;
        },
      ) => {
        checkEndpointId(id);
        const changes: Partial<EndpointFields> & { enabled?: boolean } = {
          ...(options.url !== undefined && { url: checkedUrl(options.url) }),
          ...endpointOptions(options),
          ...(options.enable && { enabled: true }),
          ...(options.disable && { enabled: false }),
        };
        if (Object.keys(changes).length === 0) {
          throw new Error(
            'Say what to change: --url, --description, --types, --environments, --max-in-flight, --enable or --disable',
          );
        }
        return withWebhooks(io, async ({ endpoints, logger }) => {
          const endpoint = await endpoints.update(id, changes);
          logger.info(
            { endpointId: id, changed: Object.keys(changes), staff: operatorOf(io) },
            'webhook endpoint changed',
          );
          if (options.json) {
            out(JSON.stringify(endpoint, null, 2));
            return;
          }
          out(`Changed webhook endpoint ${endpoint.id}.`);
          out(endpointDetails(endpoint));
        });
      },
    );

  webhooks
    .command('rotate-secret')
    .description('Make a new signing secret; the previous one goes on signing too for another day')
    .argument('<id>', 'the endpoint id, as listed')
    .option('--json', 'print JSON')
    .action((id: string, options: { json?: boolean }) => {
      checkEndpointId(id);
      return withWebhooks(io, async ({ endpoints, logger }) => {
        const { secret, previousExpiresAt } = await endpoints.rotateSecret(id);
        logger.info({ endpointId: id, previousExpiresAt, staff: operatorOf(io) }, 'webhook signing secret rotated');
        if (options.json) {
          out(JSON.stringify({ secret, previousExpiresAt }, null, 2));
          return;
        }
        out(`New signing secret of ${id}, shown this once only (keep it now):`);
        out(`  ${secret}`);
        out(
          `Deliveries are signed with both it and the previous secret until ${previousExpiresAt.toISOString()}, ` +
            'so the receiver can move to the new one meanwhile.',
        );
      });
    });

  webhooks
    .command('test')
    .description('Send the endpoint a TEST event, to see that it is reachable and verifies signatures')
    .argument('<id>', 'the endpoint id, as listed')
    .option('--json', 'print JSON')
    .action((id: string, options: { json?: boolean }) => {
      checkEndpointId(id);
      return withWebhooks(io, async ({ endpoints, deliveries, logger }) => {
        const { eventId } = await deliveries.sendTest(id);
        logger.info({ endpointId: id, eventId, staff: operatorOf(io) }, 'webhook test event queued');
        const { enabled } = await endpoints.get(id);
        if (options.json) {
          out(JSON.stringify({ endpointId: id, eventId }, null, 2));
        } else {
          out(`Queued TEST event ${eventId} for ${id}; a running service sends it.`);
          out(`See how it went with: subledger webhooks deliveries ${id}`);
        }
        if (!enabled) err(`(${id} is disabled: the test waits until it is enabled again)`);
      });
    });

  webhooks
    .command('deliveries')
    .description("The endpoint's latest deliveries, newest first, with status codes, attempts and latency")
    .argument('<id>', 'the endpoint id, as listed')
    .option('--limit <n>', 'how many at most, up to 500', '50')
    .option('--json', 'print JSON')
    .action((id: string, options: { limit: string; json?: boolean }) => {
      checkEndpointId(id);
      const limit = wholeNumber('--limit', options.limit, 1, 500);
      return withWebhooks(io, async ({ endpoints, deliveries }) => {
        await endpoints.get(id); // refuses an unknown endpoint, which would otherwise have no deliveries
        const recent = await deliveries.recent(id, limit);
        if (options.json) out(JSON.stringify(recent, null, 2));
        else if (recent.length === 0) out(`No deliveries to ${id}.`);
        else out(deliveriesTable(recent));
      });
    });

  webhooks
    .command('retry')
    .description('Try a dead (or waiting) delivery again now, with a new retry horizon')
    .argument('<deliveryId>', 'as deliveries lists it')
    .option('--json', 'print JSON')
    .action((deliveryId: string, options: { json?: boolean }) => {
      // Delivery ids are bigints: anything else names no delivery (and must not reach SQL as one).
      if (!/^\d{1,18}$/.test(deliveryId)) {
        throw new Error(`${deliveryId} is not a delivery id: a number, as deliveries lists it`);
      }
      return withWebhooks(io, async ({ deliveries, logger }) => {
        await deliveries.retry(deliveryId);
        logger.info({ deliveryId, staff: operatorOf(io) }, 'webhook delivery retried');
        if (options.json) out(JSON.stringify({ deliveryId, status: 'pending' }));
        else out(`Delivery ${deliveryId} is pending again; a running service tries it now.`);
      });
    });

  webhooks
    .command('replay')
    .description(
      'Send the endpoint again the customer events it takes, from a ledger position or a time, or one ' +
        "customer's, in ledger order, each with its own webhook-id",
    )
    .argument('<id>', 'the endpoint id, as listed')
    .option('--from-position <position>', 'a ledger position, commit.sequence (each event names its own)')
    .option('--from-time <time>', 'events recorded at or after this RFC 3339 time (2026-03-01T12:00:00Z)')
    .option('--customer <appUserId>', "only this customer's events")
    .option('--dry-run', 'only show what would be sent')
    .option('--json', 'print JSON')
    .action(
      async (
        id: string,
        options: { fromPosition?: string; fromTime?: string; customer?: string; dryRun?: boolean; json?: boolean },
      ) => {
        checkEndpointId(id);
        const selection = await replaySelection(options);
        const dryRun = options.dryRun ?? false;
        return withWebhooks(io, async ({ deliveries, logger }) => {
          const { REPLAY_LIMIT } = await import('../webhooks/webhook-deliveries.ts');
          const plan = await deliveries.replay(id, selection, { dryRun });
          if (!dryRun) {
            logger.info(
              {
                endpointId: id,
                fromPosition: options.fromPosition,
                fromTime: options.fromTime,
                appUserId: options.customer,
                count: plan.count,
                staff: operatorOf(io),
              },
              'webhook events replayed',
            );
          }
          if (options.json) {
            out(JSON.stringify({ dryRun, count: plan.count, events: plan.events }, null, 2));
          } else {
            const note = dryRun ? ' (dry run: nothing sent)' : '; a running service sends them';
            if (plan.count === 0) out(`No events to replay to ${id}${note}.`);
            else {
              const verb = dryRun ? 'Would replay' : 'Replaying';
              out(`${verb} ${plan.count} event(s) to ${id}${note}.`);
              if (plan.events.length < plan.count) out(`The first ${plan.events.length}:`);
              out(
                textTable([
                  ['EVENT', 'TYPE', 'CUSTOMER', 'OCCURRED AT'],
                  ...plan.events.map((e) => [e.eventId, e.type, e.appUserId, e.occurredAt.toISOString()]),
                ]),
              );
            }
          }
          if (plan.count >= REPLAY_LIMIT) {
            err(`(a replay takes at most ${REPLAY_LIMIT} events: replay the rest from the position after the last)`);
          }
        });
      },
    );
}

type WebhookServices = CliServices & {
  readonly endpoints: WebhookEndpoints;
  readonly deliveries: WebhookDeliveries;
};

/** The CLI's services and the webhook ones over them, private URLs allowed as the service's setting says. */
function withWebhooks(io: CliIo, work: (services: WebhookServices) => Promise<void>): Promise<void> {
  return withCliServices(io, async (services) => {
    const [{ WebhookEndpoints }, { WebhookDeliveries }] = await Promise.all([
      import('../webhooks/webhook-endpoints.ts'),
      import('../webhooks/webhook-deliveries.ts'),
    ]);
    const { pool, clock, config } = services;
    await work({
      ...services,
      endpoints: new WebhookEndpoints(pool, clock, { allowPrivate: config.webhooks.allowPrivateUrls }),
      deliveries: new WebhookDeliveries(pool, clock),
    });
  });
}

/** The options `add` and `update` share, checked as the HTTP routes check them; only those given. */
function endpointOptions(options: {
  description?: string;
  types?: string;
  environments?: string;
  maxInFlight?: string;
}): Omit<Partial<EndpointFields>, 'url'> {
  if (options.description !== undefined && options.description.length > 500) {
    throw new Error('--description must be 500 characters at most');
  }
  return {
    ...(options.description !== undefined && { description: options.description }),
    ...(options.types !== undefined && { eventTypes: eventTypesOption(options.types) }),
    ...(options.environments !== undefined && { environments: environmentsOption(options.environments) }),
    ...(options.maxInFlight !== undefined && {
      maxInFlight: wholeNumber('--max-in-flight', options.maxInFlight, 1, 1000),
    }),
  };
}

/** Whether it may be an endpoint's address is the endpoints' own check, with the service's setting. */
function checkedUrl(url: string): string {
  if (url.length > 2048) throw new Error('The endpoint URL must be 2048 characters at most');
  return url;
}

function checkEndpointId(id: string): void {
  if (!/^we_[0-9a-f]{32}$/.test(id)) throw new Error(`${id} is not an endpoint id: we_ and 32 hex digits, as listed`);
}

/** `A,B` or `all` (null: every type). */
function eventTypesOption(text: string): string[] | null {
  const types = commaList(text);
  if (types.length === 1 && types[0] === 'all') return null;
  if (types.length === 0) throw new Error('--types needs one event type or more, comma-separated, or all');
  const known: readonly string[] = CUSTOMER_EVENT_TYPES;
  const unknown = types.filter((t) => !known.includes(t));
  if (unknown.length > 0) throw new Error(`Unknown event types: ${unknown.join(', ')} (known: ${known.join(', ')})`);
  return types;
}

/** `sandbox`, `production`, both, or `all` (null: both). */
function environmentsOption(text: string): string[] | null {
  const environments = commaList(text);
  if (environments.length === 1 && environments[0] === 'all') return null;
  if (environments.length === 0) throw new Error('--environments needs sandbox, production or both, or all');
  const known: readonly string[] = ENVIRONMENTS;
  const unknown = environments.filter((e) => !known.includes(e));
  if (unknown.length > 0) {
    throw new Error(`Unknown environments: ${unknown.join(', ')} (known: ${known.join(', ')})`);
  }
  return environments;
}

/** The distinct non-empty items of `a, b,c`. */
function commaList(text: string): string[] {
  return [
    ...new Set(
      text
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== ''),
    ),
  ];
}

function wholeNumber(option: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${option} must be a whole number from ${min} to ${max}`);
  }
  return n;
}

/** What to replay, as the HTTP route takes it: checked before the database is opened. */
async function replaySelection(options: {
  fromPosition?: string;
  fromTime?: string;
  customer?: string;
}): Promise<ReplaySelection> {
  const { fromPosition, fromTime, customer } = options;
  if (fromPosition === undefined && fromTime === undefined && customer === undefined) {
    throw new Error('Say where to replay from (--from-position or --from-time), or whose events (--customer)');
  }
  const position = fromPosition === undefined ? undefined : parsePosition(fromPosition);
  if (fromPosition !== undefined && !position) {
    throw new Error(
      `--from-position "${fromPosition}" is not a ledger position: commit.sequence, like 1234.0 ` +
        '(each event names its own as ledgerPosition)',
    );
  }
  if (fromTime !== undefined) {
    // The same test as the HTTP route's `fromTime`, so both accept the same times.
    const { z } = await import('zod');
    if (!z.iso.datetime({ offset: true }).safeParse(fromTime).success) {
      throw new Error(`--from-time "${fromTime}" is not an RFC 3339 time with an offset, like 2026-03-01T12:00:00Z`);
    }
  }
  if (customer !== undefined && (customer.length < 1 || customer.length > 256)) {
    throw new Error('--customer must be an app user id of 1 to 256 characters');
  }
  return {
    ...(position && { fromPosition: position }),
    ...(fromTime !== undefined && { fromTime: new Date(fromTime) }),
    ...(customer !== undefined && { appUserId: customer }),
  };
}

const everything = (values: readonly string[] | null) => (values ? values.join(',') : 'all');

function endpointsTable(endpoints: readonly WebhookEndpoint[]): string {
  return textTable([
    ['ID', 'URL', 'ENABLED', 'TYPES', 'ENVIRONMENTS', 'MAX IN FLIGHT'],
    ...endpoints.map((e) => [
      e.id,
      e.url,
      e.enabled ? 'yes' : 'no',
      everything(e.eventTypes),
      everything(e.environments),
      String(e.maxInFlight),
    ]),
  ]);
}

function endpointDetails(e: WebhookEndpoint): string {
  const rows = textTable([
    ['URL:', e.url],
    ['Description:', e.description === '' ? '-' : e.description],
    ['Enabled:', e.enabled ? 'yes' : 'no'],
    ['Event types:', everything(e.eventTypes)],
    ['Environments:', everything(e.environments)],
    ['Max in flight:', String(e.maxInFlight)],
  ]);
  return rows.replace(/^/gm, '  ');
}

function deliveriesTable(deliveries: readonly DeliveryRecord[]): string {
  return textTable([
    ['ID', 'EVENT', 'TYPE', 'CUSTOMER', 'STATUS', 'ATTEMPTS', 'LAST STATUS', 'LATENCY', 'NEXT ATTEMPT / ERROR'],
    ...deliveries.map((d) => [
      d.id,
      d.eventId,
      d.eventType,
      d.appUserId,
      d.status,
      String(d.attempts),
      d.lastStatus === null ? '-' : String(d.lastStatus),
      d.lastLatencyMs === null ? '-' : `${d.lastLatencyMs} ms`,
      nextOrError(d),
    ]),
  ]);
}

/** When a waiting delivery is tried next, and why the last attempt failed, if it did. */
function nextOrError(d: DeliveryRecord): string {
  const error = d.lastError?.replace(/\s+/g, ' ');
  const next = d.nextAttemptAt?.toISOString();
  if (next && error) return `${next} (last: ${error})`;
  return next ?? error ?? '-';
}
