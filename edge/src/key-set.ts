import CachePolicy from 'http-cache-semantics';
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';

export interface KeySetOptions {
  readonly url: string;
  /** At most one fetch this often for a key id not in the set, or after a failed fetch. */
  readonly refreshCooldownMs: number;
  readonly now: () => number;
  readonly fetch?: typeof fetch;
}

/** No key set has been fetched yet, and the origin cannot give one. */
export class KeySetUnavailable extends Error {
  override readonly name = 'KeySetUnavailable';
}

/** When the origin's answer says nothing storable, trust a fetched key set this long (Subledger says 300 s). */
const DEFAULT_MAX_AGE_MS = 300_000;

/**
 * Subledger's public signing keys, fetched from its JWKS and kept as long as its
 * Cache-Control allows. Fetched again early when a token names a key id the set lacks
 * (at most once per cooldown, so a flood of made-up key ids costs the origin nothing),
 * and kept past their age while the origin cannot be reached: an edge goes on verifying
 * tokens with the keys it has (stale-if-error) rather than refusing everyone.
 *
 * Subledger publishes a key two cache lifetimes before it signs with it, so an edge that
 * refreshes on schedule has every key before it meets a token signed by it.
 */
export class KeySet {
  private keys: { verify: JWTVerifyGetKey; freshUntil: number } | undefined;
  private lastFetchAt = Number.NEGATIVE_INFINITY;
  private fetching: Promise<void> | undefined;

  private readonly options: KeySetOptions;

  constructor(options: KeySetOptions) {
    this.options = options;
  }

  /** A key for jose's `jwtVerify`. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    const now = this.options.now();
    if (!this.keys || now >= this.keys.freshUntil) await this.refresh(now);
    try {
      return await this.current().verify(header, token);
    } catch (error) {
      const unknownKey = error instanceof errors.JWKSNoMatchingKey;
      if (!unknownKey || now - this.lastFetchAt < this.options.refreshCooldownMs) throw error;
      await this.refresh(now);
      return this.current().verify(header, token);
    }
  };

  private current() {
    if (!this.keys) throw new KeySetUnavailable(`No signing keys: ${this.options.url} could not be fetched`);
    return this.keys;
  }

  /** One fetch at a time, whoever asks. */
  private async refresh(now: number): Promise<void> {
    this.fetching ??= this.fetchKeys(now).finally(() => (this.fetching = undefined));
    await this.fetching;
  }

  private async fetchKeys(now: number): Promise<void> {
    this.lastFetchAt = now;
    try {
      const response = await (this.options.fetch ?? fetch)(this.options.url, {
        headers: { accept: 'application/json' },
      });
      if (!response.ok) throw new Error(`${response.status}`);
      const document = (await response.json()) as JSONWebKeySet;
      if (!Array.isArray(document?.keys)) throw new Error('not a JWKS');
      this.keys = { verify: createLocalJWKSet(document), freshUntil: now + freshFor(this.options.url, response) };
    } catch {
      // Stale-if-error: the keys there are stay in use, and the origin is asked again
      // after a cooldown, not on every request while it is down.
      if (this.keys) this.keys = { ...this.keys, freshUntil: now + this.options.refreshCooldownMs };
    }
  }
}

/** As long as the origin's Cache-Control says, read as a private cache would; 5 minutes if it says nothing. */
function freshFor(url: string, response: Response): number {
  const policy = new CachePolicy(
    { url, method: 'GET', headers: {} },
    { status: response.status, headers: Object.fromEntries(response.headers) },
    { shared: false },
  );
  return response.headers.has('cache-control') ? policy.timeToLive() : DEFAULT_MAX_AGE_MS;
}
