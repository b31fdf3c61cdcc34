import { EDGE_PROOF_HEADER, EDGE_SCOPE_HEADER, signEdgeProof } from '../../src/auth/edge-proof.ts';
import { problemDocument } from '../../src/api/problem-document.ts';
import type { Caller, CallerRefusal } from './caller.ts';
import type { CacheKeyDesign, EdgeSettings } from './settings.ts';

/**
 * What both edge forms (the Worker, Lambda@Edge) decide the same way: which requests
 * the edge answers from its cache, which headers a client may not send, the cache key,
 * the proof on the way to the origin, and the refusal a client sees.
 */

/** Headers only an edge may set: a client that sends them is ignored, never believed. */
export const EDGE_ONLY_HEADERS = [EDGE_SCOPE_HEADER, EDGE_PROOF_HEADER] as const;

/** Content reads: the answers that depend on the path and the caller's scope alone. */
export function isContentRead(method: string, pathname: string): boolean {
  return (method === 'GET' || method === 'HEAD') && /^\/v1\/content(?:\/[^/]+)?\/?$/.test(pathname);
}

/** How long an edge's proof lives: a miss reaches the origin within seconds. */
const PROOF_LIFETIME_SECONDS = 60;

/** The headers that tell the origin which scope the edge verified, and prove it. */
export async function originHeaders(
  settings: EdgeSettings,
  request: { readonly method: string; readonly pathAndQuery: string; readonly scope: readonly string[] },
  now: number,
): Promise<Record<string, string>> {
  const expiresAt = Math.floor(now / 1000) + PROOF_LIFETIME_SECONDS;
  const proven = { method: request.method, url: request.pathAndQuery, scope: request.scope };
  return {
    [EDGE_SCOPE_HEADER]: request.scope.join(' '),
    [EDGE_PROOF_HEADER]: await signEdgeProof(settings.proofKey, proven, expiresAt),
  };
}

/**
 * Where an answer is kept. `scope`: one copy per path and scope, shared by everyone with
 * that scope (anonymous callers and free users with no entitlement share the empty
 * scope's copy). `user` and `token` are the designs it replaced, kept to measure against:
 * the same answers, kept once per user or once per token.
 */
export async function cacheKeyPart(design: CacheKeyDesign, caller: Caller): Promise<string> {
  if (design === 'scope' || caller.kind === 'anonymous') return `scope/${encodeURIComponent(caller.scope.join(' '))}`;
  if (design === 'user') return `user/${encodeURIComponent(caller.subject)}`;
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(caller.token));
  return `token/${[...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * The purge tags of a kept copy: `subledger-content` on every one; `subledger-content-<id>`
 * on an item's (one copy per scope, all purged together), `subledger-content-list` on listings'.
 */
export function cacheTags(pathname: string): string {
  const id = /^\/v1\/content\/([^/]+)\/?$/.exec(pathname)?.[1];
  return `subledger-content,${id === undefined ? 'subledger-content-list' : `subledger-content-${id}`}`;
}

/** An RFC 9457 problem document and its headers, the same as the origin's; never cached. */
export function refusalAnswer(refusal: CallerRefusal): {
  status: number;
  headers: Record<string, string>;
  body: string;
} {
  const headers: Record<string, string> = {
    'content-type': 'application/problem+json',
    'cache-control': 'no-store',
  };
  if (refusal.status === 401) {
    headers['www-authenticate'] = `Bearer error="invalid_token", error_description="${refusal.description}"`;
  } else {
    headers['retry-after'] = '5';
  }
  return {
    status: refusal.status,
    headers,
    body: JSON.stringify(problemDocument(refusal.status, refusal.code, refusal.description)),
  };
}
