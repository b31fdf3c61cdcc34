import type { Clock } from '../domain/clock.ts';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { Pool, Queryable } from '../db/pool.ts';
import { withTransaction } from '../db/transaction.ts';

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: Awaited<ReturnType<typeof importJWK>>;
  readonly signsUntil: Date;
}

/** How long verifiers may cache the JWKS (`GET /.well-known/jwks.json`'s max-age), unless configured. */
export const JWKS_CACHE_SECONDS = 300;

/**
 * How long before it signs a new key is published: two JWKS cache lifetimes, so a
 * verifier that refreshes on schedule (and an edge's cache in front of it) has the key
 * before its first token, even if the key is prepared a minute late (the service
 * prepares keys every minute and whenever it signs).
 */
export const publishAheadMs = (jwksCacheSeconds: number) => 2 * jwksCacheSeconds * 1000;
export const PUBLISH_AHEAD_MS = publishAheadMs(JWKS_CACHE_SECONDS);

export interface TokenKeyRingOptions {
  /** How long one key signs new tokens before the next takes over. */
  readonly rotationMs: number;
  /** The longest a token lives: a retired key stays published this much longer. */
  readonly maxTokenLifetimeMs: number;
  readonly clock: Clock;
  /** How long verifiers may cache the JWKS; a key is published two of these before it signs. */
  readonly jwksCacheSeconds?: number;
  /** Where the keys live: scoped tokens' keys, or the development identity provider's. */
  readonly table?: 'token_signing_keys' | 'dev_identity_keys';
}

interface KeyRow {
  kid: string;
  private_jwk: JWK;
  signs_from: Date;
  signs_until: Date;
}

/**
 * The ES256 keys that sign scoped tokens, kept in PostgreSQL so every instance signs
 * with the same key and publishes the same JWKS. A key is published before it signs
 * anything: the first when the service starts, each next one two JWKS cache lifetimes before
 * it takes over. Keys are created under an advisory lock, so two instances never
 * create two at once.
 */
export class TokenKeyRing {
  private current: SigningKey | undefined;
  /** Until when `current` can be used without looking at the table again. */
  private recheckAt = 0;

  private readonly pool: Pool;
  private readonly options: TokenKeyRingOptions;

  constructor(pool: Pool, options: TokenKeyRingOptions) {
    this.pool = pool;
    this.options = options;
  }

  /** The JWKS's max-age: verifiers keep the published keys this long. */
  get jwksCacheSeconds(): number {
    return this.options.jwksCacheSeconds ?? JWKS_CACHE_SECONDS;
  }

  private get publishAheadMs(): number {
    return publishAheadMs(this.jwksCacheSeconds);
  }

  private get table(): string {
    return this.options.table ?? 'token_signing_keys';
  }

  private now(): Date {
    return this.options.clock.now();
  }

  /** The key to sign with now; publishes the next one once its turn is near. */
  async signingKey(): Promise<SigningKey> {
    if (this.current && this.now().getTime() < this.recheckAt) return this.current;
    const { current, nextReady } = await withTransaction(this.pool, async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext('subledger.${this.table}'))`);
      const now = this.now();
      const { rows } = await tx.query<KeyRow>(
        `SELECT kid, private_jwk, signs_from, signs_until FROM ${this.table}
         WHERE signs_until > $1 ORDER BY signs_from`,
        [now],
      );
      const signing = rows.filter((k) => k.signs_from <= now).at(-1) ?? (await this.create(tx, now));
      const turnIsNear = now.getTime() >= signing.signs_until.getTime() - this.publishAheadMs;
      const next = rows.find((k) => k.signs_from >= signing.signs_until);
      if (turnIsNear && !next) await this.create(tx, signing.signs_until);
      return { current: signing, nextReady: turnIsNear || Boolean(next) };
    });
    this.current = {
      kid: current.kid,
      privateKey: await importJWK(current.private_jwk, 'ES256'),
      signsUntil: current.signs_until,
    };
    // Look again when the next key is due to be published, or when this one's turn ends.
    const until = current.signs_until.getTime();
    this.recheckAt = nextReady ? until : until - this.publishAheadMs;
    return this.current;
  }

  /** Public keys published now: every key about to sign, signing, or whose tokens may still be valid. */
  async publicKeys(): Promise<JWK[]> {
    const { rows } = await this.pool.query<{ kid: string; public_jwk: JWK }>(
      `SELECT kid, public_jwk FROM ${this.table}
       WHERE created_at <= $1 AND signs_until + make_interval(secs => $2::float8 / 1000) > $1
       ORDER BY signs_from`,
      [this.now(), this.options.maxTokenLifetimeMs],
    );
    return rows.map((r) => ({ ...r.public_jwk, kid: r.kid, alg: 'ES256', use: 'sig' }));
  }

  private async create(tx: Queryable, signsFrom: Date): Promise<KeyRow> {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const key = {
      kid: randomUUID(),
      private_jwk: await exportJWK(privateKey),
      signs_from: signsFrom,
      signs_until: new Date(signsFrom.getTime() + this.options.rotationMs),
    };
    await tx.query(
      `INSERT INTO ${this.table} (kid, private_jwk, public_jwk, created_at, signs_from, signs_until)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [key.kid, key.private_jwk, await exportJWK(publicKey), this.now(), key.signs_from, key.signs_until],
    );
    return key;
  }
}
