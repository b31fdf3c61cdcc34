import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPair, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import {
  ANDROID_PUBLISHER_SCOPE,
  GOOGLE_TOKEN_URL,
  type ProductPurchase,
  type SubscriptionPurchaseV2,
  type VoidedPurchase,
} from '../../ingest/google/play-developer-api.ts';

/**
 * A stand-in for the Google Play Developer API and Google's OAuth token endpoint over
 * real HTTP on 127.0.0.1, so the real client (Google's library, its service account
 * flow, its retries) runs in tests and on a laptop (`subledger google-dev serve`). It
 * serves what it was given, for one app, and answers failures with Google's status codes
 * and error bodies. Optionally it also publishes push-token keys as Google's JWKS does, and
 * takes its state over HTTP from another process (`/dev/*`). Tests and local development
 * only: never on a production path.
 */

export interface FakePlayDeveloperApiOptions {
  /** The app whose purchases this fake holds; the service accounts may access no other. */
  readonly packageName: string;
  /** Voided purchases per page (Google's default is 1000); small so that tests cross pages. Default 2. */
  readonly pageSize?: number;
  /** The loopback port to listen on; default any free one. */
  readonly port?: number;
  /** Served at `/oauth2/v3/certs`, as Google publishes the keys that sign Pub/Sub push tokens. */
  readonly pushJwks?: JSONWebKeySet;
  /**
   * Serve `PUT /dev/subscriptions/{token}`, `PUT /dev/products/{productId}/{token}`,
   * `POST /dev/voided` (an array) and `GET /dev/state`: the put methods and the state, over
   * HTTP, for a process other than the one that started the fake. Default off.
   */
  readonly devEndpoints?: boolean;
}

/** What `GET /dev/state` answers. */
export interface FakePlayState {
  readonly packageName: string;
  readonly subscriptions: Readonly<Record<string, SubscriptionPurchaseV2>>;
  readonly products: readonly { productId: string; purchaseToken: string; purchase: ProductPurchase }[];
  readonly voided: readonly VoidedPurchase[];
  readonly acknowledgements: readonly Acknowledgement[];
}

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** JSON or form fields as sent; undefined when there was no body. */
  readonly body: unknown;
}

export interface Acknowledgement {
  readonly kind: 'subscription' | 'product';
  /** The subscription id or product id in the path. */
  readonly productId: string;
  readonly purchaseToken: string;
}

/** A service account key in Google's JSON format, written to a file of its own. */
export interface TestServiceAccountKey {
  readonly keyFile: string;
  readonly clientEmail: string;
  readonly privateKeyId: string;
  readonly publicKey: KeyObject;
}

export interface FakePlayDeveloperApi {
  /** `http://127.0.0.1:<port>/`: the client's `rootUrl`. */
  readonly rootUrl: string;
  /** Where the keys it makes send their token requests (their `token_uri`). */
  readonly tokenUrl: string;
  /** Every request, in order, token requests and refused ones included. */
  readonly requests: readonly ReceivedRequest[];
  /** Acknowledgements that took effect, in order. */
  readonly acknowledgements: readonly Acknowledgement[];
  /** A new key for a service account that this fake's token endpoint trusts (written to a temp dir removed on close). */
  createServiceAccountKey(clientEmail?: string): Promise<TestServiceAccountKey>;
  /** Trust a key made elsewhere (see writeTestServiceAccountKey). */
  trustServiceAccount(clientEmail: string, publicKey: KeyObject): void;
  putSubscription(purchaseToken: string, purchase: SubscriptionPurchaseV2): void;
  putProduct(productId: string, purchaseToken: string, purchase: ProductPurchase): void;
  /** Voided purchases; one whose token was put as a subscription is a voided subscription. */
  putVoided(purchases: readonly VoidedPurchase[]): void;
  /** The stored state now, acknowledgements applied. */
  subscription(purchaseToken: string): SubscriptionPurchaseV2 | undefined;
  product(productId: string, purchaseToken: string): ProductPurchase | undefined;
  /**
   * The next `count` API requests (not token requests) get `status` with Google's body
   * for it, before any other check, as when Google is down or throttling. Default 503.
   */
  failNextRequests(count: number, status?: number): void;
  /** The next `count` API requests get no answer at all, as when Google hangs. */
  stallNextRequests(count: number): void;
  close(): Promise<void>;
}

const API_PATH = /^\/androidpublisher\/v3\/applications\/([^/]+)\/purchases\/(.+)$/;
const ACCESS_TOKEN_LIFETIME_SECONDS = 3599;

/**
 * Google's error bodies, `{ error: { code, message, errors: [{ message, domain, reason }], status } }`.
 * Unknown or malformed purchase tokens get 400 `invalid` "Invalid Value" (what
 * subscriptionsv2.get answers in practice); an acknowledgement of an acknowledged or pending
 * purchase gets 400 `invalidPurchaseState`; an app the account may not access, 401 `permissionDenied`.
 */
function googleError(code: number, message: string, reason: string, domain = 'global', status?: string) {
  return { error: { code, message, errors: [{ message, domain, reason }], ...(status && { status }) } };
}
const INVALID_VALUE = googleError(400, 'Invalid Value', 'invalid');
const INVALID_PURCHASE_STATE = googleError(
  400,
  'The purchase is not in a valid state to perform the desired operation.',
  'invalidPurchaseState',
  'androidpublisher',
);
const PERMISSION_DENIED = googleError(
  401,
  'The current user has insufficient permissions to perform the requested operation.',
  'permissionDenied',
  'androidpublisher',
);
const UNAUTHENTICATED_MESSAGE =
  'Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';
const LOGIN_REQUIRED = googleError(
  401,
  `Request is missing required authentication credential. ${UNAUTHENTICATED_MESSAGE}`,
  'required',
  'global',
  'UNAUTHENTICATED',
);
const INVALID_CREDENTIALS = googleError(
  401,
  `Request had invalid authentication credentials. ${UNAUTHENTICATED_MESSAGE}`,
  'authError',
  'global',
  'UNAUTHENTICATED',
);
const INJECTED: Record<number, ReturnType<typeof googleError>> = {
  404: googleError(404, 'The purchase token was not found.', 'purchaseTokenNotFound'),
  409: googleError(
    409,
    'The operation could not be performed since the object was already in the process of being updated.',
    'concurrentUpdate',
    'androidpublisher',
  ),
  410: googleError(410, 'The purchase token is no longer valid.', 'purchaseTokenNoLongerValid', 'androidpublisher'),
  429: googleError(429, 'Quota exceeded.', 'rateLimitExceeded', 'global', 'RESOURCE_EXHAUSTED'),
  500: googleError(500, 'Internal error encountered.', 'backendError', 'global', 'INTERNAL'),
  503: googleError(503, 'The service is currently unavailable.', 'backendError', 'global', 'UNAVAILABLE'),
};

/** An answer; thrown to cut a request short (unknown token, bad credentials). */
class Reply extends Error {
  readonly status: number;
  readonly body?: object;

  constructor(status: number, body?: object) {
    super(`HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/** What the OAuth token endpoint says, as `{ error, error_description }`. */
const oauthError = (error: string, description: string) => new Reply(400, { error, error_description: description });

export async function startFakePlayDeveloperApi(options: FakePlayDeveloperApiOptions): Promise<FakePlayDeveloperApi> {
  const pageSize = options.pageSize ?? 2;
  const accounts = new Map<string, KeyObject>();
  const accessTokens = new Map<string, number>(); // token → expiry (ms)
  const subscriptions = new Map<string, SubscriptionPurchaseV2>();
  const products = new Map<string, ProductPurchase>(); // `${productId} ${token}` → purchase
  const voided: VoidedPurchase[] = [];
  const requests: ReceivedRequest[] = [];
  const acknowledgements: Acknowledgement[] = [];
  const keyDirs: string[] = [];
  let failures = { count: 0, status: 503 };
  let stalls = 0;
  let url = '';

  // https://developers.google.com/identity/protocols/oauth2/service-account#authorizingrequests
  async function issueAccessToken(body: Record<string, string>): Promise<object> {
    if (body.grant_type !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      throw oauthError('unsupported_grant_type', `Invalid grant_type: ${body.grant_type ?? ''}`);
    }
    const assertion = body.assertion ?? '';
    let issuer: unknown;
    try {
      issuer = decodeJwt(assertion).iss;
    } catch {
      throw oauthError('invalid_request', 'Invalid JWT assertion.');
    }
    const publicKey = typeof issuer === 'string' ? accounts.get(issuer) : undefined;
    if (!publicKey) throw oauthError('invalid_grant', 'Invalid grant: account not found');
    let scope: unknown;
    try {
      const { payload } = await jwtVerify(assertion, publicKey, {
        algorithms: ['RS256'],
        issuer: issuer as string,
        // Google's audience, whichever URL the assertion was sent to.
        audience: GOOGLE_TOKEN_URL,
        requiredClaims: ['iat', 'exp'],
      });
      if (payload.exp! - payload.iat! > 3600) throw new Error('lives too long');
      scope = payload.scope;
    } catch (error) {
      const signature = (error as { code?: string }).code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED';
      throw oauthError(
        'invalid_grant',
        signature
          ? 'Invalid JWT Signature.'
          : 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
      );
    }
    if (typeof scope !== 'string' || !scope.split(' ').includes(ANDROID_PUBLISHER_SCOPE)) {
      throw oauthError('invalid_scope', 'The androidpublisher scope is required.');
    }
    const accessToken = `ya29.fake-${randomUUID()}`;
    accessTokens.set(accessToken, Date.now() + ACCESS_TOKEN_LIFETIME_SECONDS * 1000);
    return { access_token: accessToken, expires_in: ACCESS_TOKEN_LIFETIME_SECONDS, token_type: 'Bearer' };
  }

  function authenticate(request: IncomingMessage): void {
    const header = request.headers.authorization;
    if (!header) throw new Reply(401, LOGIN_REQUIRED);
    const expiry = accessTokens.get(header.match(/^Bearer (.+)$/)?.[1] ?? '');
    if (expiry === undefined || expiry < Date.now()) throw new Reply(401, INVALID_CREDENTIALS);
  }

  function acknowledge(kind: Acknowledgement['kind'], productId: string, purchaseToken: string): Reply {
    if (kind === 'subscription') {
      const subscription = subscriptions.get(purchaseToken);
      if (!subscription?.lineItems?.some((item) => item.productId === productId)) throw new Reply(400, INVALID_VALUE);
      if (
        subscription.acknowledgementState === 'ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED' ||
        subscription.subscriptionState === 'SUBSCRIPTION_STATE_PENDING'
      ) {
        throw new Reply(400, INVALID_PURCHASE_STATE);
      }
      subscription.acknowledgementState = 'ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED';
    } else {
      const product = products.get(`${productId} ${purchaseToken}`);
      if (!product) throw new Reply(400, INVALID_VALUE);
      // purchaseState 2: pending.
      if (product.acknowledgementState === 1 || product.purchaseState === 2)
        throw new Reply(400, INVALID_PURCHASE_STATE);
      product.acknowledgementState = 1;
    }
    acknowledgements.push({ kind, productId, purchaseToken });
    return new Reply(204);
  }

  // The page token is opaque to clients; here it carries the query, which Google ignores
  // once a token is given, and the offset of the next page.
  function voidedPage(query: URLSearchParams): object {
    const token = query.get('token');
    const now = Date.now();
    let listing: { startTime: number; endTime: number; type: number; offset: number };
    if (token) {
      try {
        listing = JSON.parse(Buffer.from(token, 'base64url').toString()) as typeof listing;
      } catch {
        throw new Reply(400, INVALID_VALUE);
      }
    } else {
      listing = {
        startTime: Number(query.get('startTime') ?? now - 30 * 86_400_000),
        endTime: Number(query.get('endTime') ?? now),
        type: Number(query.get('type') ?? 0),
        offset: 0,
      };
    }
    const { startTime, endTime, type, offset } = listing;
    const matching = voided
      .filter((v) => Number(v.voidedTimeMillis) >= startTime && Number(v.voidedTimeMillis) <= endTime)
      .filter((v) => type === 1 || !subscriptions.has(v.purchaseToken ?? ''))
      .sort((a, b) => Number(a.voidedTimeMillis) - Number(b.voidedTimeMillis));
    const end = offset + Math.min(pageSize, Number(query.get('maxResults') ?? pageSize));
    const page = matching.slice(offset, end);
    const next = Buffer.from(JSON.stringify({ ...listing, offset: end })).toString('base64url');
    return {
      ...(page.length > 0 && { voidedPurchases: page }),
      ...(end < matching.length && { tokenPagination: { nextPageToken: next } }),
    };
  }

  function route(method: string, purchasePath: string, query: URLSearchParams): Reply {
    const param = (match: RegExpMatchArray, i: number) => decodeURIComponent(match[i]!);
    let match: RegExpMatchArray | null;
    if (method === 'GET' && (match = purchasePath.match(/^subscriptionsv2\/tokens\/([^/:]+)$/))) {
      const subscription = subscriptions.get(param(match, 1));
      if (!subscription) throw new Reply(400, INVALID_VALUE);
      return new Reply(200, subscription);
    }
    if (method === 'GET' && (match = purchasePath.match(/^products\/([^/]+)\/tokens\/([^/:]+)$/))) {
      const product = products.get(`${param(match, 1)} ${param(match, 2)}`);
      if (!product) throw new Reply(400, INVALID_VALUE);
      return new Reply(200, product);
    }
    if (
      method === 'POST' &&
      (match = purchasePath.match(/^(subscriptions|products)\/([^/]+)\/tokens\/([^/:]+):acknowledge$/))
    ) {
      return acknowledge(match[1] === 'subscriptions' ? 'subscription' : 'product', param(match, 2), param(match, 3));
    }
    if (method === 'GET' && purchasePath === 'voidedpurchases') return new Reply(200, voidedPage(query));
    throw new Reply(404);
  }

  function devRoute(method: string, devPath: string, body: unknown): Reply {
    const isObject = (value: unknown): value is object =>
      typeof value === 'object' && value !== null && !Array.isArray(value);
    const param = (match: RegExpMatchArray, i: number) => decodeURIComponent(match[i]!);
    let match: RegExpMatchArray | null;
    if (method === 'GET' && devPath === 'state') {
      const state: FakePlayState = {
        packageName: options.packageName,
        subscriptions: Object.fromEntries(subscriptions),
        products: [...products].map(([key, purchase]) => {
          const [productId, purchaseToken] = key.split(' ') as [string, string];
          return { productId, purchaseToken, purchase };
        }),
        voided,
        acknowledgements,
      };
      return new Reply(200, state);
    }
    if (method === 'PUT' && (match = devPath.match(/^subscriptions\/([^/]+)$/)) && isObject(body)) {
      fake.putSubscription(param(match, 1), body);
      return new Reply(204);
    }
    if (method === 'PUT' && (match = devPath.match(/^products\/([^/]+)\/([^/]+)$/)) && isObject(body)) {
      fake.putProduct(param(match, 1), param(match, 2), body);
      return new Reply(204);
    }
    if (method === 'POST' && devPath === 'voided' && Array.isArray(body) && body.every(isObject)) {
      fake.putVoided(body as VoidedPurchase[]);
      return new Reply(204);
    }
    const known = /^(state|voided|subscriptions\/[^/]+|products\/[^/]+\/[^/]+)$/.test(devPath);
    throw known ? new Reply(400, INVALID_VALUE) : new Reply(404);
  }

  async function handle(request: IncomingMessage): Promise<Reply> {
    const requestUrl = new URL(request.url ?? '/', 'http://fake');
    const method = request.method ?? '';
    const body = await bodyOf(request);
    requests.push({ method, path: requestUrl.pathname, query: Object.fromEntries(requestUrl.searchParams), body });
    try {
      if (method === 'POST' && requestUrl.pathname === '/token') {
        return new Reply(200, await issueAccessToken((body ?? {}) as Record<string, string>));
      }
      if (options.pushJwks && method === 'GET' && requestUrl.pathname === '/oauth2/v3/certs') {
        return new Reply(200, options.pushJwks);
      }
      if (options.devEndpoints && requestUrl.pathname.startsWith('/dev/')) {
        return devRoute(method, requestUrl.pathname.slice('/dev/'.length), body);
      }
      const match = requestUrl.pathname.match(API_PATH);
      if (!match) throw new Reply(404);
      if (stalls > 0) {
        stalls -= 1;
        return new Promise<never>(() => {}); // until the client gives up, or close()
      }
      if (failures.count > 0) {
        failures.count -= 1;
        const { status } = failures;
        return new Reply(status, INJECTED[status] ?? googleError(status, 'Injected failure.', 'injected'));
      }
      authenticate(request);
      if (decodeURIComponent(match[1]!) !== options.packageName) throw new Reply(401, PERMISSION_DENIED);
      return route(method, match[2]!, requestUrl.searchParams);
    } catch (error) {
      if (error instanceof Reply) return error;
      throw error;
    }
  }

  const server = createServer((request, response) => {
    handle(request).then(
      (reply) => send(response, reply),
      (error: unknown) => send(response, new Reply(500, googleError(500, String(error), 'backendError'))),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject); // a fixed port already taken
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const tokenUrl = `${url}token`;

  const fake: FakePlayDeveloperApi = {
    rootUrl: url,
    tokenUrl,
    requests,
    acknowledgements,
    async createServiceAccountKey(clientEmail) {
      const dir = await mkdtemp(path.join(tmpdir(), 'subledger-play-key-'));
      keyDirs.push(dir);
      const key = await writeTestServiceAccountKey({ dir, tokenUri: tokenUrl, ...(clientEmail && { clientEmail }) });
      fake.trustServiceAccount(key.clientEmail, key.publicKey);
      return key;
    },
    trustServiceAccount: (clientEmail, publicKey) => void accounts.set(clientEmail, publicKey),
    putSubscription: (token, purchase) => void subscriptions.set(token, structuredClone(purchase)),
    putProduct: (productId, token, purchase) => void products.set(`${productId} ${token}`, structuredClone(purchase)),
    putVoided: (purchases) => void voided.push(...structuredClone(purchases)),
    subscription: (token) => structuredClone(subscriptions.get(token)),
    product: (productId, token) => structuredClone(products.get(`${productId} ${token}`)),
    failNextRequests(count, status = 503) {
      failures = { count, status };
    },
    stallNextRequests(count) {
      stalls = count;
    },
    async close() {
      await new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // fetch keeps connections alive; without this, close waits for them to time out.
        server.closeAllConnections();
      });
      await Promise.all(keyDirs.map((dir) => rm(dir, { recursive: true, force: true })));
    },
  };
  return fake;
}

export const TEST_CLIENT_EMAIL = 'subledger-play@subledger-test.iam.gserviceaccount.com';

/**
 * A new RSA 2048 service account key written to `dir` as Google Cloud's JSON key file,
 * `token_uri` included; named as Google names the file it downloads, unless `fileName`.
 */
export async function writeTestServiceAccountKey(options: {
  readonly dir: string;
  readonly tokenUri: string;
  readonly clientEmail?: string;
  readonly fileName?: string;
}): Promise<TestServiceAccountKey> {
  const { dir, tokenUri, clientEmail = TEST_CLIENT_EMAIL } = options;
  const { privateKey, publicKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  const privateKeyId = randomBytes(20).toString('hex');
  const projectId = clientEmail.split('@')[1]!.split('.')[0]!;
  const json = {
    type: 'service_account',
    project_id: projectId,
    private_key_id: privateKeyId,
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: clientEmail,
    client_id: String(BigInt(`0x${randomBytes(8).toString('hex')}`)),
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: tokenUri,
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(clientEmail)}`,
    universe_domain: 'googleapis.com',
  };
  const keyFile = path.join(dir, options.fileName ?? `${projectId}-${privateKeyId.slice(0, 12)}.json`);
  await writeFile(keyFile, `${JSON.stringify(json, null, 2)}\n`, { mode: 0o600 });
  return { keyFile, clientEmail, privateKeyId, publicKey };
}

/** JSON or form fields; undefined when empty. */
async function bodyOf(request: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of request) text += chunk;
  if (!text) return undefined;
  if (request.headers['content-type']?.startsWith('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function send(response: ServerResponse, reply: Reply): void {
  if (reply.body === undefined) {
    response.writeHead(reply.status).end();
    return;
  }
  response.writeHead(reply.status, { 'content-type': 'application/json; charset=UTF-8' });
  response.end(JSON.stringify(reply.body));
}
