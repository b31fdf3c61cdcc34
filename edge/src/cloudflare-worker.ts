import CachePolicy from 'http-cache-semantics';
import { callerOf, isRefusal, type Caller } from './caller.ts';
import {
  EDGE_ONLY_HEADERS,
  cacheKeyPart,
  cacheTags,
  isContentRead,
  originHeaders,
  refusalAnswer,
} from './edge-request.ts';
import { KeySet } from './key-set.ts';
import { problemDocument } from '../../src/api/problem-document.ts';
import { edgeSettings, type EdgeSettings } from './settings.ts';

/** The parts of the Workers runtime this uses (not in Node's types). */
interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
}
declare const caches: { readonly default: Cache };
interface Cache {
  match(key: string): Promise<Response | undefined>;
  put(key: string, response: Response): Promise<void>;
}

/**
 * Subledger's edge as a Cloudflare Worker. Content reads are answered from the Workers
 * cache, keyed on the path and the scope of the caller's verified token; a miss asks the
 * origin with that scope and an edge proof, never with the token. Everything else goes
 * to the origin as it came, less the headers only an edge may set.
 */
export default {
  async fetch(request: Request, env: Readonly<Record<string, unknown>>, context: ExecutionContext): Promise<Response> {
    const edge = edgeFor(env);
    const headers = new Headers(request.headers);
    for (const name of EDGE_ONLY_HEADERS) headers.delete(name);
    const url = new URL(request.url);
    if (!isContentRead(request.method, url.pathname)) return passThrough(request, headers, url, edge.settings);

    const caller = await callerOf(headers.get('authorization'), edge.keys, edge.settings, Date.now());
    if (isRefusal(caller)) {
      const { status, headers, body } = refusalAnswer(caller);
      return new Response(body, { status, headers });
    }
    const pathAndQuery = url.pathname + url.search;
    const key = `${url.origin}/.edge-cache/${await cacheKeyPart(edge.settings.cacheKey, caller)}${pathAndQuery}`;
    const cached = await caches.default.match(key);
    if (cached) return toClient(cached, caller, request.method, 'hit');

    let answer: Response;
    try {
      answer = await fetch(`${edge.settings.originUrl}${pathAndQuery}`, {
        headers: {
          accept: 'application/json',
          ...(await originHeaders(edge.settings, { method: 'GET', pathAndQuery, scope: caller.scope }, Date.now())),
        },
      });
    } catch {
      return originUnavailable();
    }
    if (answer.status >= 500) return originUnavailable();
    const keepFor = sharedLifetimeSeconds(key, answer);
    if (keepFor > 0) {
      const copy = answer.clone();
      context.waitUntil(forCache(copy, keepFor, url.pathname).then((kept) => caches.default.put(key, kept)));
    }
    return toClient(answer, caller, request.method, 'miss');
  },
};

/** One per isolate: the key set outlives requests, so tokens verify without a fetch. */
let edge: { settings: EdgeSettings; keys: KeySet } | undefined;

function edgeFor(env: Readonly<Record<string, unknown>>) {
  if (!edge) {
    const settings = edgeSettings(env);
    const keys = new KeySet({
      url: settings.jwksUrl,
      refreshCooldownMs: settings.jwksRefreshCooldownSeconds * 1000,
      now: () => Date.now(),
    });
    edge = { settings, keys };
  }
  return edge;
}

function passThrough(request: Request, headers: Headers, url: URL, settings: EdgeSettings): Promise<Response> {
  return fetch(`${settings.originUrl}${url.pathname}${url.search}`, {
    method: request.method,
    headers,
    body: request.body,
    redirect: 'manual',
  });
}

/**
 * How long a shared cache may keep the origin's answer (its `s-maxage`). The origin
 * marks the paywall (403) shareable as well: RFC 9111 lets a cache keep any status
 * with explicit freshness, but the library keeps to a list without 403, so it reads
 * the paywall as it would a 200.
 */
function sharedLifetimeSeconds(key: string, answer: Response): number {
  if (answer.status !== 200 && answer.status !== 403) return 0;
  const policy = new CachePolicy(
    { url: key, method: 'GET', headers: {} },
    { status: 200, headers: Object.fromEntries(answer.headers) },
    { shared: true },
  );
  return policy.storable() ? Math.floor(policy.timeToLive() / 1000) : 0;
}

/** The header that keeps a cached answer's status: the Workers cache stores a 200. */
const STATUS_HEADER = 'x-subledger-status';

/**
 * The copy the edge keeps: for its own cache only (max-age is the origin's s-maxage),
 * without the origin's Vary (the key already holds the scope). Stored as a 200 with the
 * real status beside it, since not every Workers cache keeps a 403. Tagged, so that a
 * changed item's copies (one per scope) and the listings go in one purge by tag.
 */
async function forCache(answer: Response, keepForSeconds: number, pathname: string): Promise<Response> {
  const headers = new Headers(answer.headers);
  headers.delete('vary');
  headers.delete('set-cookie');
  headers.set('cache-control', `public, max-age=${keepForSeconds}`);
  headers.set('cache-tag', cacheTags(pathname));
  headers.set(STATUS_HEADER, String(answer.status));
  return new Response(await answer.arrayBuffer(), { status: 200, headers });
}

/**
 * The answer as the caller gets it. A token holder's answer is for their browser only
 * (`private`); an anonymous one may be kept by anyone, and browsers revalidate both.
 */
function toClient(answer: Response, caller: Caller, method: string, cache: 'hit' | 'miss'): Response {
  const headers = new Headers(answer.headers);
  const status = Number(headers.get(STATUS_HEADER) ?? answer.status);
  headers.delete(STATUS_HEADER);
  headers.delete('cache-tag');
  headers.set('cache-control', caller.kind === 'token' ? 'private, max-age=0' : 'public, max-age=0');
  headers.set('vary', 'authorization');
  headers.set('x-edge-cache', cache);
  return new Response(method === 'HEAD' ? null : answer.body, { status, headers });
}

function originUnavailable(): Response {
  const detail = 'The content origin cannot be reached; try again';
  return new Response(JSON.stringify(problemDocument(502, 'origin_unavailable', detail)), {
    status: 502,
    headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store', 'retry-after': '5' },
  });
}
