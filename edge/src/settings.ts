import type { EdgeProofKey } from '../../src/auth/edge-proof.ts';

/** How the edge keys its cache. `scope` is the design; the others exist to measure it against. */
export type CacheKeyDesign = 'scope' | 'user' | 'token';

/** What an edge needs to know, whichever platform it runs on. */
export interface EdgeSettings {
  /** Subledger's origin, e.g. `https://api.example.com` (no path: proofs cover the path as the origin sees it). */
  readonly originUrl: string;
  readonly jwksUrl: string;
  /** The scoped tokens' `iss` and `aud`, as Subledger's TOKEN_ISSUER and TOKEN_AUDIENCE. */
  readonly issuer: string;
  readonly audience: string;
  /** The key the edge signs its proofs with: one of the origin's EDGE_PROOF_KEYS. */
  readonly proofKey: EdgeProofKey;
  /** How far the edge's clock may be from the token issuer's, for `exp`, `nbf` and `iat`. */
  readonly clockSkewSeconds: number;
  /** At most one JWKS fetch this often for a key id the edge has not seen. */
  readonly jwksRefreshCooldownSeconds: number;
  readonly cacheKey: CacheKeyDesign;
}

export class EdgeSettingsError extends Error {
  override readonly name = 'EdgeSettingsError';
}

/**
 * Settings from plain strings (a Worker's vars and secrets, or a JSON file baked into a
 * Lambda@Edge bundle, which has no environment): every problem at once, never a guess.
 */
export function edgeSettings(vars: Readonly<Record<string, unknown>>): EdgeSettings {
  const problems: string[] = [];
  const text = (name: string, fallback?: string): string => {
    const value = vars[name] ?? fallback;
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
    problems.push(`${name}: required`);
    return '';
  };
  const seconds = (name: string, fallback: number, max: number): number => {
    const value = vars[name] === undefined ? fallback : Number(vars[name]);
    if (Number.isInteger(value) && value >= 0 && value <= max) return value;
    problems.push(`${name}: a whole number of seconds from 0 to ${max}`);
    return fallback;
  };

  const originUrl = text('ORIGIN_URL').replace(/\/+$/, '');
  if (originUrl && !isOriginOnly(originUrl)) problems.push('ORIGIN_URL: an http(s) origin, without a path');
  const [id = '', ...secret] = text('EDGE_PROOF_KEY').split(':');
  const proofKey = { id, secret: secret.join(':') };
  if (!/^[A-Za-z0-9._-]{1,32}$/.test(proofKey.id) || proofKey.secret.length < 32) {
    problems.push('EDGE_PROOF_KEY: id:secret, as in the origin’s EDGE_PROOF_KEYS (a secret of 32 characters or more)');
  }
  const cacheKey = text('CACHE_KEY', 'scope');
  if (!['scope', 'user', 'token'].includes(cacheKey)) problems.push('CACHE_KEY: scope, user or token');

  const settings: EdgeSettings = {
    originUrl,
    jwksUrl: text('JWKS_URL', `${originUrl}/.well-known/jwks.json`),
    issuer: text('TOKEN_ISSUER', 'subledger'),
    audience: text('TOKEN_AUDIENCE', 'subledger-content'),
    proofKey,
    clockSkewSeconds: seconds('CLOCK_SKEW_SECONDS', 30, 300),
    jwksRefreshCooldownSeconds: seconds('JWKS_REFRESH_COOLDOWN_SECONDS', 30, 3600),
    cacheKey: cacheKey as CacheKeyDesign,
  };
  if (problems.length > 0) throw new EdgeSettingsError(`Edge settings: ${problems.join('; ')}`);
  return settings;
}

function isOriginOnly(url: string): boolean {
  try {
    const parsed = new URL(url);
    return /^https?:$/.test(parsed.protocol) && parsed.pathname === '/' && !parsed.search && !parsed.hash;
  } catch {
    return false;
  }
}
