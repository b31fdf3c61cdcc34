import { randomBytes, randomUUID } from 'node:crypto';
import type { Pool, Queryable } from '../db/pool.ts';
import { withTransaction } from '../db/transaction.ts';
import type { Clock } from '../domain/clock.ts';
import { CUSTOMER_EVENT_TYPES } from '../domain/customer-events/customer-event.ts';
import { refusalFamily, type KindOfCode } from '../domain/refusal.ts';
import { endpointUrlProblem } from './endpoint-address.ts';

export interface WebhookEndpoint {
  readonly id: string;
  readonly url: string;
  readonly description: string;
  /** Null: every type. */
  readonly eventTypes: readonly string[] | null;
  /** Null: sandbox and production. */
  readonly environments: readonly string[] | null;
  readonly enabled: boolean;
  readonly maxInFlight: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface EndpointFields {
  readonly url: string;
  readonly description?: string;
  readonly eventTypes?: readonly string[] | null;
  readonly environments?: readonly string[] | null;
  readonly maxInFlight?: number;
}

export type EndpointRefusalCode =
  'invalid_endpoint_url' | 'invalid_endpoint' | 'unknown_event_type' | 'unknown_endpoint';

/** Deliveries at once to one endpoint, at most. */
export const MAX_IN_FLIGHT = 1000;

const KIND_OF: KindOfCode<EndpointRefusalCode> = {
  invalid_endpoint_url: 'invalid',
  invalid_endpoint: 'invalid',
  unknown_event_type: 'invalid',
  unknown_endpoint: 'not_found',
};

export class EndpointRefused extends refusalFamily(KIND_OF) {}

export interface StoredSecret {
  readonly secret: string;
  readonly createdAt: string;
  /** A rotated-out secret still signs until then, so receivers can move at their pace. */
  readonly expiresAt?: string;
}

/** How long a rotated-out secret keeps signing beside the new one. */
export const SECRET_OVERLAP_MS = 24 * 3_600_000;

interface EndpointRow {
  id: string;
  url: string;
  description: string;
  event_types: string[] | null;
  environments: string[] | null;
  enabled: boolean;
  max_in_flight: number;
  secrets: StoredSecret[];
  created_at: Date;
  updated_at: Date;
}

/**
 * The app's backends that hear about customer events: where, which events, with which
 * signing secrets. A secret is shown once, when made; rotating keeps the old one signing
 * for a day, so a receiver verifies with either while it moves to the new one.
 */
export class WebhookEndpoints {
  private readonly pool: Pool;
  private readonly clock: Clock;
  private readonly allowPrivate: boolean;

  constructor(pool: Pool, clock: Clock, { allowPrivate }: { readonly allowPrivate: boolean }) {
    this.pool = pool;
    this.clock = clock;
    this.allowPrivate = allowPrivate;
  }

  async create(fields: EndpointFields): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    this.check(fields);
    const secret = newSecret();
    const now = this.clock.now();
    const { rows } = await this.pool.query<EndpointRow>(
      `INSERT INTO webhook_endpoints (id, url, description, event_types, environments, max_in_flight, secrets, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING *`,
      [
        `we_${randomUUID().replaceAll('-', '')}`,
        fields.url,
        fields.description ?? '',
        fields.eventTypes ?? null,
        fields.environments ?? null,
        fields.maxInFlight ?? 10,
        JSON.stringify([{ secret, createdAt: now.toISOString() }]),
        now,
      ],
    );
    return { endpoint: endpointOf(rows[0]!), secret };
  }

  async list(): Promise<WebhookEndpoint[]> {
    const { rows } = await this.pool.query<EndpointRow>('SELECT * FROM webhook_endpoints ORDER BY created_at, id');
    return rows.map(endpointOf);
  }

  async get(id: string): Promise<WebhookEndpoint> {
    return endpointOf(await this.row(id));
  }

  async update(
    id: string,
    changes: Partial<EndpointFields> & { readonly enabled?: boolean },
  ): Promise<WebhookEndpoint> {
    const current = endpointOf(await this.row(id));
    // A key given as undefined changes nothing (it does not clear the field).
    const given = Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
    const next = { ...current, ...given };
    // The URL is checked when it changes: an endpoint saved under looser rules can still be disabled.
    this.check(next, { url: next.url !== current.url });
    const { rows } = await this.pool.query<EndpointRow>(
      `UPDATE webhook_endpoints SET url = $2, description = $3, event_types = $4, environments = $5,
         enabled = $6, max_in_flight = $7, updated_at = $8
       WHERE id = $1 RETURNING *`,
      [
        id,
        next.url,
        next.description,
        next.eventTypes,
        next.environments,
        next.enabled,
        next.maxInFlight,
        this.clock.now(),
      ],
    );
    return endpointOf(rows[0]!);
  }

  /** A new secret signs from now; the current one goes on signing for SECRET_OVERLAP_MS. */
  async rotateSecret(id: string): Promise<{ secret: string; previousExpiresAt: Date }> {
    // Under the row's lock: two rotations at once each keep the other's secret.
    return withTransaction(this.pool, async (tx) => {
      const row = await this.row(id, tx, { forUpdate: true });
      return this.rotate(tx, row);
    });
  }

  private async rotate(tx: Queryable, row: EndpointRow): Promise<{ secret: string; previousExpiresAt: Date }> {
    const id = row.id;
    const now = this.clock.now();
    const previousExpiresAt = new Date(now.getTime() + SECRET_OVERLAP_MS);
    const secret = newSecret();
    const kept = liveSecrets(row.secrets, now).map((s) => ({
      ...s,
      expiresAt:
        s.expiresAt && Date.parse(s.expiresAt) < previousExpiresAt.getTime()
          ? s.expiresAt
          : previousExpiresAt.toISOString(),
    }));
    await tx.query('UPDATE webhook_endpoints SET secrets = $2, updated_at = $3 WHERE id = $1', [
      id,
      JSON.stringify([{ secret, createdAt: now.toISOString() }, ...kept]),
      now,
    ]);
    return { secret, previousExpiresAt };
  }

  /** Every secret that signs now, newest first. */
  async signingSecrets(id: string): Promise<string[]> {
    return liveSecrets((await this.row(id)).secrets, this.clock.now()).map((s) => s.secret);
  }

  private async row(id: string, db: Queryable = this.pool, { forUpdate = false } = {}): Promise<EndpointRow> {
    const lock = forUpdate ? ' FOR UPDATE' : '';
    const { rows } = await db.query<EndpointRow>(`SELECT * FROM webhook_endpoints WHERE id = $1${lock}`, [id]);
    if (!rows[0]) throw new EndpointRefused('unknown_endpoint', `No webhook endpoint ${id}`);
    return rows[0];
  }

  private check(fields: EndpointFields, { url = true }: { url?: boolean } = {}): void {
    const problem = url ? endpointUrlProblem(fields.url, { allowPrivate: this.allowPrivate }) : undefined;
    if (problem) throw new EndpointRefused('invalid_endpoint_url', `The endpoint URL must be ${problem}`);
    const environments = fields.environments ?? [];
    if (environments.some((e) => e !== 'production' && e !== 'sandbox')) {
      throw new EndpointRefused('invalid_endpoint', 'Environments are production and sandbox');
    }
    const maxInFlight = fields.maxInFlight ?? 10;
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1 || maxInFlight > MAX_IN_FLIGHT) {
      throw new EndpointRefused('invalid_endpoint', `maxInFlight is a whole number from 1 to ${MAX_IN_FLIGHT}`);
    }
    const unknown = (fields.eventTypes ?? []).filter((t) => !(CUSTOMER_EVENT_TYPES as readonly string[]).includes(t));
    if (unknown.length > 0) {
      throw new EndpointRefused('unknown_event_type', `Unknown event types: ${unknown.join(', ')}`, {
        extensions: { known: CUSTOMER_EVENT_TYPES },
      });
    }
  }
}

export function liveSecrets(secrets: readonly StoredSecret[], now: Date): StoredSecret[] {
  return secrets.filter((s) => s.expiresAt === undefined || Date.parse(s.expiresAt) > now.getTime());
}

/** A Standard Webhooks secret: `whsec_` and 24 random bytes in base64. */
function newSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

function endpointOf(row: EndpointRow): WebhookEndpoint {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    eventTypes: row.event_types,
    environments: row.environments,
    enabled: row.enabled,
    maxInFlight: row.max_in_flight,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
