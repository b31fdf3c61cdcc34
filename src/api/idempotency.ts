import { createHash, randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Queryable } from '../db/pool.ts';
import { canonical } from '../domain/canonical.ts';
import { Refusal } from '../domain/refusal.ts';

/** The optional `Idempotency-Key` request header, for route schemas (so OpenAPI lists it). */
export const idempotencyHeaders = z.looseObject({
  'idempotency-key': z
    .string()
    .regex(/^[\x20-\x7e]{1,255}$/, 'Idempotency-Key must be 1 to 255 printable ASCII characters')
    .optional()
    .describe(
      'Any unique text (a UUID, say). A retry with the same key gets the first answer (status and body) without the work being done again, for 24 hours; the same key with another request is refused (422 idempotency_key_reused), and while the first request runs, a second gets 409 idempotency_key_in_use',
    ),
});

/** Keys are remembered this long after their first use; afterwards the key is new again. */
const KEY_LIFETIME = '24 hours';
/**
 * A request that has not answered after this long died with its instance (admin writes
 * take seconds: a few appends and at most 5 s of waiting for the read model), and the
 * next request with its key runs. Sooner would risk running a live request twice.
 */
const ABANDONED_AFTER = '5 minutes';

interface KeyId {
  /** The API key's id: one staff credential's keys never meet another's. */
  readonly credential: string;
  /** Method and route pattern. */
  readonly route: string;
  readonly appUserId: string;
  readonly key: string;
}
interface Claim extends KeyId {
  readonly claimId: string;
}
interface Answer {
  readonly status: number;
  readonly contentType: string | null;
  readonly body: string | null;
}
type Found =
  | { readonly kind: 'claimed'; readonly claimId: string }
  | { readonly kind: 'answered'; readonly answer: Answer }
  | { readonly kind: 'in_use' | 'reused' };

/** The answers of admin writes by idempotency key, in PostgreSQL: shared by every instance, kept across restarts. */
export class IdempotencyKeys {
  private readonly db: Queryable;

  constructor(db: Queryable) {
    this.db = db;
  }

  /**
   * Takes the key for this request, atomically: one insert (or takeover of an expired or
   * abandoned row) decides which of two concurrent requests runs. Otherwise says what the
   * key holds: the first answer, a request still running, or another request's key.
   */
  async claim(id: KeyId, requestHash: string): Promise<Found> {
    const pk = [id.credential, id.route, id.appUserId, id.key];
    for (let attempt = 0; attempt < 3; attempt++) {
      const claimId = randomUUID();
      const taken = await this.db.query(
        `INSERT INTO idempotency_keys (credential, route, app_user_id, key, request_hash, claim_id)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (credential, route, app_user_id, key) DO UPDATE
           SET request_hash = EXCLUDED.request_hash, claim_id = EXCLUDED.claim_id, created_at = now(),
               status = NULL, content_type = NULL, body = NULL
           WHERE idempotency_keys.created_at < now() - $7::interval
              OR (idempotency_keys.status IS NULL AND idempotency_keys.created_at < now() - $8::interval)`,
        [...pk, requestHash, claimId, KEY_LIFETIME, ABANDONED_AFTER],
      );
      if (taken.rowCount === 1) return { kind: 'claimed', claimId };
      const { rows } = await this.db.query<{
        request_hash: string;
        status: number | null;
        content_type: string | null;
        body: string | null;
      }>(
        `SELECT request_hash, status, content_type, body FROM idempotency_keys
         WHERE credential = $1 AND route = $2 AND app_user_id = $3 AND key = $4`,
        pk,
      );
      const row = rows[0];
      if (!row) continue; // its request failed and let the key go meanwhile: try again
      if (row.request_hash !== requestHash) return { kind: 'reused' };
      if (row.status === null) return { kind: 'in_use' };
      return { kind: 'answered', answer: { status: row.status, contentType: row.content_type, body: row.body } };
    }
    return { kind: 'in_use' };
  }

  /** Keeps the answer for the retries to come. */
  async complete(claim: Claim, answer: Answer): Promise<void> {
    await this.db.query(
      `UPDATE idempotency_keys SET status = $6, content_type = $7, body = $8
       WHERE credential = $1 AND route = $2 AND app_user_id = $3 AND key = $4 AND claim_id = $5`,
      [
        claim.credential,
        claim.route,
        claim.appUserId,
        claim.key,
        claim.claimId,
        answer.status,
        answer.contentType,
        answer.body,
      ],
    );
  }

  /** Forgets the key (the request failed on our side): a retry runs again. */
  async release(claim: Claim): Promise<void> {
    await this.db.query(
      `DELETE FROM idempotency_keys
       WHERE credential = $1 AND route = $2 AND app_user_id = $3 AND key = $4 AND claim_id = $5`,
      [claim.credential, claim.route, claim.appUserId, claim.key, claim.claimId],
    );
  }

  /** Deletes the keys past their lifetime (they are ignored anyway); returns how many. */
  async purgeExpired(): Promise<number> {
    const { rowCount } = await this.db.query('DELETE FROM idempotency_keys WHERE created_at < now() - $1::interval', [
      KEY_LIFETIME,
    ]);
    return rowCount ?? 0;
  }
}

/**
 * Route hooks that make a write idempotent when the request has an `Idempotency-Key`:
 * `preHandler` (after authentication and validation) claims the key or answers from it;
 * `onSend` keeps the answer the handler gave. A 5xx answer is not kept: the key is let go,
 * and a retry runs again. Without the header, nothing changes.
 */
export function idempotent(keys: IdempotencyKeys) {
  const claims = new WeakMap<FastifyRequest, Claim>();

  const preHandler = async (request: FastifyRequest, reply: FastifyReply) => {
    const key = (request.headers as { 'idempotency-key'?: string })['idempotency-key'];
    if (key === undefined || request.caller?.kind !== 'server') return;
    const id: KeyId = {
      credential: request.caller.keyId,
      route: `${request.method} ${request.routeOptions.url}`,
      appUserId: (request.params as { appUserId: string }).appUserId,
      key,
    };
    const { params, query, body } = request;
    const hash = createHash('sha256')
      .update(canonical({ params, query, body: body ?? null }))
      .digest('hex');
    const found = await keys.claim(id, hash);
    switch (found.kind) {
      case 'claimed':
        claims.set(request, { ...id, claimId: found.claimId });
        return;
      case 'reused':
        throw new Refusal(
          'invalid',
          'idempotency_key_reused',
          'This Idempotency-Key was used for another request (other parameters or body); send a new key',
        );
      case 'in_use':
        reply.header('retry-after', '1');
        throw new Refusal(
          'conflict',
          'idempotency_key_in_use',
          'A request with this Idempotency-Key is still running; retry in a moment to get its answer',
        );
      case 'answered': {
        const { status, contentType, body: stored } = found.answer;
        request.log.info({ idempotencyKey: key }, 'answered from an idempotency key');
        reply.code(status).header('idempotent-replayed', 'true');
        if (contentType) reply.header('content-type', contentType);
        return reply.send(stored ?? undefined);
      }
    }
  };

  const onSend = async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const claim = claims.get(request);
    if (!claim) return payload;
    claims.delete(request);
    const text = typeof payload === 'string' ? payload : payload == null ? null : undefined;
    try {
      if (reply.statusCode >= 500 || text === undefined) await keys.release(claim);
      else {
        const contentType = reply.getHeader('content-type');
        await keys.complete(claim, {
          status: reply.statusCode,
          contentType: typeof contentType === 'string' ? contentType : null,
          body: text,
        });
      }
    } catch (err) {
      // The work is done; its answer still goes out. A retry gets 409 until the key is abandoned.
      request.log.error({ err, idempotencyKey: claim.key }, 'could not keep the answer of an idempotency key');
    }
    return payload;
  };

  return { preHandler, onSend };
}
