import type { Queryable } from '../db/pool.ts';
import { HELD_PER_SLOT } from './held-deliveries.ts';
import type { StoredSecret } from './webhook-endpoints.ts';

/** Deliveries leased by one claim at most. */
export const CLAIM_LIMIT = 200;
/**
 * Oldest due deliveries a claim looks at, at most: each is an index probe, the bulk of a
 * claim's cost.
 */
const MAX_CANDIDATES = 2 * CLAIM_LIMIT;

/** What a claim gives: a delivery leased, with its endpoint and its event. */
export interface ClaimedRow {
  id: string;
  endpoint_id: string;
  url: string;
  secrets: StoredSecret[];
  max_in_flight: number;
  event_id: string;
  type: string;
  occurred_at: Date;
  payload: unknown;
  attempts: number;
  created_at: Date;
}

/** The claim's statement (migration 0025), for tests that look at how PostgreSQL runs it. */
export const CLAIM_STATEMENT = 'SELECT * FROM claim_webhook_deliveries($1, $2, $3, $4, $5, $6, $7)';

/** What a claim asks for. `held`: how many deliveries this worker already holds, by endpoint. */
export interface Claim {
  readonly now: Date;
  readonly leaseUntil: Date;
  readonly held: Readonly<Record<string, number>>;
  /** Every customer's head, rather than among the oldest due deliveries only. */
  readonly everyHead: boolean;
}

/**
 * Leases the due heads (one per endpoint and customer) within each endpoint's room. The
 * rules, and why it is a function that reads only by index: migration 0025.
 */
export async function claimDeliveries(db: Queryable, claim: Claim): Promise<ClaimedRow[]> {
  const { rows } = await db.query<ClaimedRow>({
    name: 'claim-webhook-deliveries',
    text: CLAIM_STATEMENT,
    values: claimParameters(claim),
  });
  return rows;
}

/** CLAIM_STATEMENT's parameters. */
export function claimParameters({ now, leaseUntil, held, everyHead }: Claim): unknown[] {
  return [now, leaseUntil, JSON.stringify(held), everyHead, HELD_PER_SLOT, CLAIM_LIMIT, MAX_CANDIDATES];
}
