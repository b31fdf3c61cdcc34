/**
 * The HTTP requests AWS hands a Lambda function, and the answers it takes back: API
 * Gateway REST APIs (proxy integration, and HTTP APIs with payload format 1.0), HTTP APIs
 * with payload format 2.0, and function URLs (the same shape as 2.0). Only the parts read
 * here are typed; the events carry much more (requestContext's identity, stage, time).
 */

/** A REST API proxy event, or an HTTP API payload 1.0 (`version: "1.0"`). */
export interface ProxyEventV1 {
  readonly version?: '1.0';
  readonly httpMethod: string;
  readonly path: string;
  /** As the client sent them, case included; the last value of a repeated header. */
  readonly headers?: Readonly<Record<string, string | undefined>> | null;
  /** Every value of every header: read in preference to `headers` when present. */
  readonly multiValueHeaders?: Readonly<Record<string, readonly string[] | undefined>> | null;
  /** Decoded (`%00` is a NUL). */
  readonly queryStringParameters?: Readonly<Record<string, string | undefined>> | null;
  readonly body: string | null;
  readonly isBase64Encoded: boolean;
  readonly requestContext?: { readonly requestId?: string };
}

/** An HTTP API payload 2.0, or a function URL request. */
export interface ProxyEventV2 {
  readonly version: '2.0';
  readonly rawPath: string;
  /** Lowercase names; a repeated header's values joined with commas. */
  readonly headers?: Readonly<Record<string, string | undefined>>;
  readonly queryStringParameters?: Readonly<Record<string, string | undefined>>;
  /** Absent when the request has none. */
  readonly body?: string;
  readonly isBase64Encoded: boolean;
  readonly requestContext: { readonly http: { readonly method: string }; readonly requestId?: string };
}

export type HttpEvent = ProxyEventV1 | ProxyEventV2;

/** A request as the webhooks read it, whichever event carried it. */
export interface HttpRequest {
  readonly method: string;
  readonly path: string;
  /** Lowercase names, repeated values joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string>>;
  /** The bytes sent (base64 bodies decoded); absent when there were none. */
  readonly body?: Buffer;
}

/** What API Gateway and function URLs take back: the same shape for every format. */
export interface HttpResult {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly isBase64Encoded: false;
}

export class NotAnHttpEvent extends TypeError {
  constructor() {
    super('Expected an API Gateway proxy event (REST API, HTTP API 1.0 or 2.0) or a function URL request');
    this.name = 'NotAnHttpEvent';
  }
}

export function requestOf(event: HttpEvent): HttpRequest {
  if (isV2(event)) {
    return {
      method: event.requestContext.http.method.toUpperCase(),
      path: event.rawPath,
      headers: lowercased(Object.entries(event.headers ?? {})),
      query: defined(event.queryStringParameters),
      ...bodyOf(event.body, event.isBase64Encoded),
    };
  }
  if (typeof (event as Partial<ProxyEventV1>).httpMethod !== 'string') throw new NotAnHttpEvent();
  const headers = event.multiValueHeaders
    ? Object.entries(event.multiValueHeaders).map(([name, values]) => [name, values?.join(', ')] as const)
    : Object.entries(event.headers ?? {});
  return {
    method: event.httpMethod.toUpperCase(),
    path: event.path,
    headers: lowercased(headers),
    query: defined(event.queryStringParameters),
    ...bodyOf(event.body, event.isBase64Encoded),
  };
}

/** A JSON answer (`content-type` may be overridden, as problem documents do). */
export function jsonResult(
  statusCode: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): HttpResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(body),
    isBase64Encoded: false,
  };
}

function isV2(event: HttpEvent): event is ProxyEventV2 {
  return (
    (event as Partial<ProxyEventV2>).version === '2.0' &&
    Boolean(event.requestContext && 'http' in event.requestContext)
  );
}

/** Header names are case-insensitive; a REST API passes them as the client spelt them. */
function lowercased(entries: readonly (readonly [string, string | undefined])[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of entries) {
    if (value === undefined || value === null) continue;
    const key = name.toLowerCase();
    headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
  }
  return headers;
}

function defined(record: Readonly<Record<string, string | undefined>> | null | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(record ?? {}).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

/** Each format sends a body as text, or as base64 when API Gateway took it for binary. */
function bodyOf(body: string | null | undefined, isBase64Encoded: boolean): { body?: Buffer } {
  if (body === undefined || body === null) return {};
  return { body: Buffer.from(body, isBase64Encoded ? 'base64' : 'utf8') };
}
