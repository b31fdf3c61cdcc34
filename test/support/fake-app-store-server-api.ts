import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KeyObject } from 'node:crypto';
import { jwtVerify } from 'jose';
import { decodeJwsPayload } from '../../src/ingest/apple/jws.ts';

/**
 * A stand-in for Apple's App Store Server API over real HTTP on 127.0.0.1, so the
 * real client (Apple's library, its bearer tokens, its response checks) runs in tests.
 * It serves what the test put in it, already signed (see createAppleTestCa), in the
 * shapes Apple documents; it does not sign anything itself.
 */

export interface FakeAppStoreServerApiOptions {
  /** The public half of the key the client signs its bearer tokens with. */
  readonly publicKey: KeyObject;
  readonly keyId: string;
  readonly issuerId: string;
  readonly bundleId: string;
  /** Other apps of the same team: the key works for them too, and they have no data here. */
  readonly otherBundleIds?: readonly string[];
  readonly environment?: 'Sandbox' | 'Production';
  readonly appAppleId?: number;
  /** Apple pages by 20; smaller here so that tests cross page boundaries. Default 2. */
  readonly pageSize?: number;
}

export interface FakeSubscription {
  readonly originalTransactionId: string;
  /** Subscriptions of one customer are answered together, whichever transaction is asked about. Default: its own. */
  readonly customer?: string;
  readonly subscriptionGroupIdentifier?: string;
  /** Every transaction of the subscription as Apple signs it (JWS), oldest first; the last is the latest. */
  readonly signedTransactions: readonly string[];
  readonly signedRenewalInfo: string;
  /** 1 active, 2 expired, 3 billing retry, 4 grace period, 5 revoked. */
  readonly status: number;
}

export interface FakeNotification {
  readonly signedPayload: string;
  /** When the App Store sent it: what Get Notification History filters on. */
  readonly sentAt: Date;
}

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
}

export interface FakeAppStoreServerApi {
  readonly url: string;
  /** Every request, in order, including refused ones. */
  readonly requests: readonly ReceivedRequest[];
  putSubscription(subscription: FakeSubscription): void;
  addNotification(notification: FakeNotification): void;
  /** The next `count` requests get `status`, before any other check, as when Apple is down or throttling. */
  failNextRequests(count: number, status: number, errorCode?: number): void;
  close(): Promise<void>;
}

const AUDIENCE = 'appstoreconnect-v1';
// Apple's error bodies: https://developer.apple.com/documentation/appstoreserverapi/error_codes
const ERROR_CODE_BY_STATUS: Record<number, number> = { 400: 4000000, 429: 4290000, 500: 5000000 };
const NOT_FOUND = { errorCode: 4040010, errorMessage: 'Transaction id not found.' };
const INVALID_REVISION = { errorCode: 4000005, errorMessage: 'Invalid request revision.' };
const INVALID_TOKEN = { errorCode: 4000014, errorMessage: 'Invalid pagination token.' };
const INVALID_START_DATE = { errorCode: 4000015, errorMessage: 'Invalid start date.' };
const INVALID_END_DATE = { errorCode: 4000016, errorMessage: 'Invalid end date.' };
const START_AFTER_END = { errorCode: 4000013, errorMessage: 'Start date after end date.' };

/** An answer; thrown to cut a request short (unknown id, bad token). */
class Reply extends Error {
  readonly status: number;
  readonly body: object | string;

  constructor(status: number, body: object | string) {
    super(`HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export async function startFakeAppStoreServerApi(
  options: FakeAppStoreServerApiOptions,
): Promise<FakeAppStoreServerApi> {
  const pageSize = options.pageSize ?? 2;
  const app = {
    environment: options.environment ?? 'Sandbox',
    bundleId: options.bundleId,
    appAppleId: options.appAppleId ?? 1234567890,
  };
  const subscriptions = new Map<string, FakeSubscription>();
  const notifications: FakeNotification[] = [];
  const requests: ReceivedRequest[] = [];
  let failures: { count: number; status: number; errorCode: number | undefined } = {
    count: 0,
    status: 500,
    errorCode: undefined,
  };

  /** The customer's subscriptions, found by any of its transaction ids (as Apple does). */
  function subscriptionsOfCustomer(transactionId: string): FakeSubscription[] {
    const customerOf = (s: FakeSubscription) => s.customer ?? s.originalTransactionId;
    const match = [...subscriptions.values()].find(
      (s) =>
        s.originalTransactionId === transactionId ||
        s.signedTransactions.some((t) => transactionIdOf(t) === transactionId),
    );
    if (!match) throw new Reply(404, NOT_FOUND);
    return [...subscriptions.values()].filter((s) => customerOf(s) === customerOf(match));
  }

  function statuses(transactionId: string) {
    const groups = new Map<string, FakeSubscription[]>();
    for (const s of subscriptionsOfCustomer(transactionId)) {
      const group = s.subscriptionGroupIdentifier ?? '21000000';
      groups.set(group, [...(groups.get(group) ?? []), s]);
    }
    return {
      ...app,
      data: [...groups].map(([subscriptionGroupIdentifier, members]) => ({
        subscriptionGroupIdentifier,
        lastTransactions: members.map((s) => ({
          status: s.status,
          originalTransactionId: s.originalTransactionId,
          signedTransactionInfo: s.signedTransactions.at(-1),
          signedRenewalInfo: s.signedRenewalInfo,
        })),
      })),
    };
  }

  // Cursors are opaque to clients; here they are the offset of the next page.
  function history(transactionId: string, revision: string | null) {
    const all = subscriptionsOfCustomer(transactionId).flatMap((s) => s.signedTransactions);
    const start = revision === null ? 0 : offsetIn(revision, INVALID_REVISION);
    const end = start + pageSize;
    // Apple sends a revision on every page, the last one included.
    return { ...app, revision: cursor(end), hasMore: end < all.length, signedTransactions: all.slice(start, end) };
  }

  function notificationHistory(body: { startDate?: unknown; endDate?: unknown }, token: string | null) {
    const { startDate, endDate } = body;
    if (typeof startDate !== 'number') throw new Reply(400, INVALID_START_DATE);
    if (typeof endDate !== 'number') throw new Reply(400, INVALID_END_DATE);
    if (startDate > endDate) throw new Reply(400, START_AFTER_END);
    const inWindow = notifications
      .filter((n) => n.sentAt.getTime() >= startDate && n.sentAt.getTime() < endDate)
      .sort((a, b) => a.sentAt.getTime() - b.sentAt.getTime());
    const start = token === null ? 0 : offsetIn(token, INVALID_TOKEN);
    const end = start + pageSize;
    const hasMore = end < inWindow.length;
    return {
      notificationHistory: inWindow.slice(start, end).map((n) => ({
        signedPayload: n.signedPayload,
        sendAttempts: [{ attemptDate: n.sentAt.getTime(), sendAttemptResult: 'SUCCESS' }],
      })),
      hasMore,
      // Unlike a revision, a pagination token comes only when there is more.
      ...(hasMore && { paginationToken: cursor(end) }),
    };
  }

  async function route(request: IncomingMessage, url: URL): Promise<object> {
    const query = (name: string) => url.searchParams.get(name);
    let match: RegExpMatchArray | null;
    if (request.method === 'GET' && (match = url.pathname.match(/^\/inApps\/v1\/subscriptions\/([^/]+)$/))) {
      return statuses(decodeURIComponent(match[1]!));
    }
    if (request.method === 'GET' && (match = url.pathname.match(/^\/inApps\/v2\/history\/([^/]+)$/))) {
      return history(decodeURIComponent(match[1]!), query('revision'));
    }
    if (request.method === 'POST' && url.pathname === '/inApps/v1/notifications/history') {
      return notificationHistory(await jsonBody(request), query('paginationToken'));
    }
    throw new Reply(404, 'Not Found');
  }

  // What Apple checks: https://developer.apple.com/documentation/appstoreserverapi/generating-json-web-tokens-for-api-requests
  async function authenticate(request: IncomingMessage): Promise<string> {
    const token = request.headers.authorization?.match(/^Bearer (.+)$/)?.[1];
    try {
      if (!token) throw new Error('no bearer token');
      const { payload, protectedHeader } = await jwtVerify(token, options.publicKey, {
        algorithms: ['ES256'],
        issuer: options.issuerId,
        audience: AUDIENCE,
        requiredClaims: ['iat', 'exp'],
      });
      if (protectedHeader.kid !== options.keyId) throw new Error('wrong kid');
      const bid = String(payload.bid);
      if (bid !== options.bundleId && !options.otherBundleIds?.includes(bid)) throw new Error('wrong bid');
      // Apple refuses tokens meant to live longer than an hour.
      if (payload.exp! - payload.iat! > 3600) throw new Error('token lives too long');
      return bid;
    } catch {
      // Apple documents no errorCode for 401 and answers with plain text, not its JSON
      // error body; Apple's library then throws APIException(401) with no apiError.
      throw new Reply(401, 'Unauthenticated');
    }
  }

  /** Another app of the team knows none of this app's transactions and sent none of its notifications. */
  function otherApp(url: URL): Reply {
    if (url.pathname === '/inApps/v1/notifications/history')
      return new Reply(200, { notificationHistory: [], hasMore: false });
    return new Reply(404, NOT_FOUND);
  }

  async function handle(request: IncomingMessage): Promise<Reply> {
    const url = new URL(request.url ?? '/', 'http://fake');
    requests.push({ method: request.method ?? '', path: url.pathname, query: Object.fromEntries(url.searchParams) });
    if (failures.count > 0) {
      failures.count -= 1;
      const { status, errorCode } = failures;
      return new Reply(status, { ...(errorCode !== undefined && { errorCode }), errorMessage: 'Injected failure.' });
    }
    try {
      const bid = await authenticate(request);
      if (bid !== options.bundleId) return otherApp(url);
      return new Reply(200, await route(request, url));
    } catch (error) {
      if (error instanceof Reply) return error;
      throw error;
    }
  }

  const server = createServer((request, response) => {
    handle(request).then(
      (reply) => send(response, reply),
      (error: unknown) => send(response, new Reply(500, { errorCode: 5000000, errorMessage: String(error) })),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    putSubscription: (subscription) => void subscriptions.set(subscription.originalTransactionId, subscription),
    addNotification: (notification) => void notifications.push(notification),
    failNextRequests(count, status, errorCode = ERROR_CODE_BY_STATUS[status]) {
      failures = { count, status, errorCode };
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // fetch keeps connections alive; without this, close waits for them to time out.
        server.closeAllConnections();
      }),
  };
}

const cursor = (offset: number) => Buffer.from(`offset:${offset}`).toString('base64url');

function offsetIn(token: string, invalid: object): number {
  const offset = Buffer.from(token, 'base64url')
    .toString()
    .match(/^offset:(\d+)$/)?.[1];
  if (offset === undefined) throw new Reply(400, invalid);
  return Number(offset);
}

function transactionIdOf(signedTransaction: string): unknown {
  return (decodeJwsPayload(signedTransaction) as { transactionId?: unknown } | undefined)?.transactionId;
}

async function jsonBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of request) text += chunk;
  try {
    const body: unknown = JSON.parse(text);
    if (body && typeof body === 'object') return body as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new Reply(400, { errorCode: 4000000, errorMessage: 'Invalid request.' });
}

function send(response: ServerResponse, reply: Reply): void {
  const json = typeof reply.body === 'object';
  response.writeHead(reply.status, { 'content-type': json ? 'application/json' : 'text/plain' });
  response.end(json ? JSON.stringify(reply.body) : reply.body);
}
