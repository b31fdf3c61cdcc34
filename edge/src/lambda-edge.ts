import { EDGE_SCOPE_HEADER } from '../../src/auth/edge-proof.ts';
import { callerOf, isRefusal } from './caller.ts';
import { EDGE_ONLY_HEADERS, isContentRead, originHeaders, refusalAnswer } from './edge-request.ts';
import { KeySet } from './key-set.ts';
import type { EdgeSettings } from './settings.ts';

/** CloudFront's Lambda@Edge event and answer shapes, as far as the handlers use them. */
export type CloudFrontHeaders = Record<string, { key?: string; value: string }[]>;

export interface CloudFrontRequest {
  clientIp: string;
  method: string;
  uri: string;
  querystring: string;
  headers: CloudFrontHeaders;
  origin?: { custom?: { domainName: string; path: string } };
}

export interface CloudFrontResponse {
  status: string;
  statusDescription: string;
  headers: CloudFrontHeaders;
  body: string;
}

export interface CloudFrontRequestEvent {
  Records: { cf: { config: { eventType: string }; request: CloudFrontRequest } }[];
}

type Handler = (event: CloudFrontRequestEvent) => Promise<CloudFrontRequest | CloudFrontResponse>;

/**
 * Subledger's edge for CloudFront, in two Lambda@Edge triggers that share the Worker's
 * verification and proof code:
 *
 * - `viewerRequest` verifies the caller's scoped token and puts its scope in
 *   `X-Entitlement-Scope`, the one header the cache policy keys on (with the path), and
 *   takes out the token: CloudFront would otherwise have to key on Authorization to
 *   forward it, one copy per token. A refused token is answered here, never cached.
 * - `originRequest` runs on a cache miss only, and adds the edge proof the origin checks.
 *
 * Content reads only; other requests pass, less the headers only an edge may set.
 */
export function lambdaEdgeHandlers(
  settings: EdgeSettings,
  options: { readonly now: () => number; readonly fetch?: typeof fetch },
): { viewerRequest: Handler; originRequest: Handler } {
  const keys = new KeySet({
    url: settings.jwksUrl,
    refreshCooldownMs: settings.jwksRefreshCooldownSeconds * 1000,
    now: options.now,
    ...(options.fetch && { fetch: options.fetch }),
  });

  return {
    async viewerRequest(event) {
      const request = requestOf(event);
      for (const name of EDGE_ONLY_HEADERS) delete request.headers[name];
      if (!isContentRead(request.method, request.uri)) return request;

      const authorization = request.headers.authorization?.[0]?.value;
      const caller = await callerOf(authorization, keys, settings, options.now());
      if (isRefusal(caller)) return cloudFrontAnswer(refusalAnswer(caller));
      delete request.headers.authorization;
      // An empty scope sends no header: CloudFront then keys every anonymous caller and
      // every user without entitlements on the one copy.
      if (caller.scope.length > 0) {
        request.headers[EDGE_SCOPE_HEADER] = [{ key: 'X-Entitlement-Scope', value: caller.scope.join(' ') }];
      }
      return request;
    },

    async originRequest(event) {
      const request = requestOf(event);
      if (!isContentRead(request.method, request.uri)) return request;
      const scope = (request.headers[EDGE_SCOPE_HEADER]?.[0]?.value ?? '').split(' ').filter(Boolean);
      // The path as the origin sees it: behind the origin's path prefix, if it has one.
      const query = request.querystring ? `?${request.querystring}` : '';
      const pathAndQuery = `${request.origin?.custom?.path ?? ''}${request.uri}${query}`;
      const proof = await originHeaders(settings, { method: request.method, pathAndQuery, scope }, options.now());
      for (const [name, value] of Object.entries(proof)) request.headers[name] = [{ value }];
      return request;
    },
  };
}

function requestOf(event: CloudFrontRequestEvent): CloudFrontRequest {
  const record = event.Records[0];
  if (!record) throw new Error('Not a CloudFront event');
  return record.cf.request;
}

const REASONS: Readonly<Record<number, string>> = { 401: 'Unauthorized', 503: 'Service Unavailable' };

function cloudFrontAnswer(answer: {
  status: number;
  headers: Record<string, string>;
  body: string;
}): CloudFrontResponse {
  return {
    status: String(answer.status),
    statusDescription: REASONS[answer.status] ?? '',
    headers: Object.fromEntries(Object.entries(answer.headers).map(([name, value]) => [name, [{ value }]])),
    body: answer.body,
  };
}
