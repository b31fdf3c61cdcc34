import type { Clock } from '../domain/clock.ts';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { Pool } from '../db/pool.ts';
import { withTransaction } from '../db/transaction.ts';

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: Awaited<ReturnType<typeof importJWK>>;
  readonly signsUntil: Date;
}

export interface TokenKeyRingOptions {
  /** How long one key signs new tokens before the next takes over. */
  readonly rotationMs: number;
  /** The longest a token lives: a retired key stays published this much longer. */
  readonly maxTokenLifetimeMs: number;
  readonly clock: Clock;
  /** Where the keys live: scoped tokens' keys, or the development identity provider's. */
  readonly table?: 'token_signing_keys' | 'dev_identity_keys';
}

/**
 * The ES256 keys that sign scoped tokens, kept in PostgreSQL so every instance signs
 * with the same key and publishes the same JWKS. Keys are created when needed (the
 * first token, or the current key's turn is over), under an advisory lock so two
 * instances never create two at once.
 */
export class TokenKeyRing {
  private current: SigningKey | undefined;

  private readonly pool: Pool;
  private readonly options: TokenKeyRingOptions;

  constructor(pool: Pool, options: TokenKeyRingOptions) {
    this.pool = pool;
    this.options = options;
  }

  private get table(): string {
    return this.options.table ?? 'token_signing_keys';
  }

  private now(): Date {
    return this.options.clock.now();
  }

  /** The key to sign with now. */
  async signingKey(): Promise<SigningKey> {
    if (this.current && this.current.signsUntil > this.now()) return this.current;
    const row = await withTransaction(this.pool, async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext('subledger.${this.table}'))`);
      const { rows } = await tx.query<{ kid: string; private_jwk: JWK; signs_until: Date }>(
        `SELECT kid, private_jwk, signs_until FROM ${this.table}
         WHERE signs_until > $1 ORDER BY signs_until DESC LIMIT 1`,
        [this.now()],
      );
      if (rows[0]) return rows[0];
      const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
      const created = {
        kid: randomUUID(),
        private_jwk: await exportJWK(privateKey),
        signs_until: new Date(this.now().getTime() + this.options.rotationMs),
      };
      await tx.query(
        `INSERT INTO ${this.table} (kid, private_jwk, public_jwk, created_at, signs_until)
         VALUES ($1, $2, $3, $4, $5)`,
        [created.kid, created.private_jwk, await exportJWK(publicKey), this.now(), created.signs_until],
      );
      return created;
    });
    this.current = {
      kid: row.kid,
      privateKey: await importJWK(row.private_jwk, 'ES256'),
      signsUntil: row.signs_until,
    };
    return this.current;
  }

  /** Public keys of every key whose tokens may still be valid: the JWKS. */
  async publicKeys(): Promise<JWK[]> {
    const { rows } = await this.pool.query<{ kid: string; public_jwk: JWK }>(
      `SELECT kid, public_jwk FROM ${this.table}
       WHERE signs_until + make_interval(secs => $2::float8 / 1000) > $1 ORDER BY created_at`,
      [this.now(), this.options.maxTokenLifetimeMs],
    );
    return rows.map((r) => ({ ...r.public_jwk, kid: r.kid, alg: 'ES256', use: 'sig' }));
  }
}
