import { readFile } from 'node:fs/promises';
import { androidpublisher_v3 } from '@googleapis/androidpublisher';
import { JWT, type JWTInput } from 'google-auth-library';
import { playApiErrorOf, PlayPurchaseRefusedError, RETRYABLE_STATUS_RANGES } from './play-api-errors.ts';

/**
 * The Google Play Developer API, through Google's own client (`@googleapis/androidpublisher`)
 * and a service account key (`google-auth-library`), for what Subledger asks Google about
 * purchases. Every method returns Google's JSON as received: play-payloads.ts checks it.
 * Failures are typed (play-api-errors.ts); requests Google could not answer are retried here
 * by Google's HTTP client (gaxios) before one is reported.
 */

export const PLAY_DEVELOPER_API_ROOT_URL = 'https://androidpublisher.googleapis.com/';
export const ANDROID_PUBLISHER_SCOPE = 'https://www.googleapis.com/auth/androidpublisher';
/**
 * Where google-auth-library sends every service account's token request (gtoken's constant,
 * also the assertion's `aud`): it ignores the key file's `token_uri`.
 */
export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

export type SubscriptionPurchaseV2 = androidpublisher_v3.Schema$SubscriptionPurchaseV2;
export type ProductPurchase = androidpublisher_v3.Schema$ProductPurchase;
export type VoidedPurchase = androidpublisher_v3.Schema$VoidedPurchase;

export interface PlayDeveloperApiOptions {
  /** A service account key file, JSON as Google Cloud gives it. Read at the first request. */
  readonly keyFile: string;
  /** Google's (the default), or a fake's in tests, e.g. `http://127.0.0.1:4010/`. */
  readonly rootUrl?: string;
  /** Per attempt. Default 10 s. */
  readonly timeoutMs?: number;
  /** Retries of a request Google could not answer (see RETRYABLE_STATUS_RANGES, timeouts, the network). Default 3. */
  readonly retries?: number;
}

export interface VoidedPurchasesQuery {
  /** Voided since (Google keeps 30 days); ignored by Google when `token` is set. */
  readonly startTime: Date;
  readonly endTime?: Date;
  /** A `nextPageToken` from an earlier listing, to resume there. */
  readonly token?: string;
}

type ServiceAccountKey = JWTInput & { token_uri?: string };

interface Connection {
  readonly api: androidpublisher_v3.Androidpublisher;
  readonly tokenUrl: string;
}

export class PlayDeveloperApi {
  private connection: Promise<Connection> | undefined;

  private readonly options: PlayDeveloperApiOptions;

  constructor(options: PlayDeveloperApiOptions) {
    this.options = options;
  }

  /** purchases.subscriptionsv2.get: the subscription's state now, whichever product it is. */
  getSubscription(packageName: string, purchaseToken: string): Promise<SubscriptionPurchaseV2> {
    return this.call((api) => api.purchases.subscriptionsv2.get({ packageName, token: purchaseToken }));
  }

  /** purchases.subscriptions.acknowledge; an already acknowledged subscription counts as done. */
  async acknowledgeSubscription(packageName: string, subscriptionId: string, purchaseToken: string): Promise<void> {
    await this.acknowledge(
      (api) =>
        api.purchases.subscriptions.acknowledge({
          packageName,
          subscriptionId,
          token: purchaseToken,
          requestBody: {},
        }),
      async () =>
        (await this.getSubscription(packageName, purchaseToken)).acknowledgementState ===
        'ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED',
    );
  }

  /** purchases.products.get: a one-time product purchase. */
  getProduct(packageName: string, productId: string, purchaseToken: string): Promise<ProductPurchase> {
    return this.call((api) => api.purchases.products.get({ packageName, productId, token: purchaseToken }));
  }

  /** purchases.products.acknowledge; an already acknowledged purchase counts as done. */
  async acknowledgeProduct(packageName: string, productId: string, purchaseToken: string): Promise<void> {
    await this.acknowledge(
      (api) => api.purchases.products.acknowledge({ packageName, productId, token: purchaseToken, requestBody: {} }),
      async () => (await this.getProduct(packageName, productId, purchaseToken)).acknowledgementState === 1,
    );
  }

  /** purchases.voidedpurchases.list, every page: refunded, charged back or revoked purchases, subscriptions included. */
  async listVoidedPurchases(packageName: string, query: VoidedPurchasesQuery): Promise<VoidedPurchase[]> {
    const voided: VoidedPurchase[] = [];
    let token = query.token;
    for (;;) {
      const page = await this.call((api) =>
        api.purchases.voidedpurchases.list({
          packageName,
          // 1: subscriptions too; the default, 0, leaves them out.
          type: 1,
          startTime: String(query.startTime.getTime()),
          ...(query.endTime && { endTime: String(query.endTime.getTime()) }),
          ...(token !== undefined && { token }),
        }),
      );
      voided.push(...(page.voidedPurchases ?? []));
      const next = page.tokenPagination?.nextPageToken;
      if (!next) return voided;
      token = next;
    }
  }

  /**
   * Google answers the acknowledgement of an acknowledged purchase with 400
   * `invalidPurchaseState`, as it does that of a purchase that cannot be acknowledged
   * (a pending one); the purchase itself tells which. This also makes gaxios' retry of
   * an acknowledgement whose answer was lost harmless.
   */
  private async acknowledge(
    request: (api: androidpublisher_v3.Androidpublisher) => Promise<{ data: unknown }>,
    isAcknowledged: () => Promise<boolean>,
  ): Promise<void> {
    try {
      await this.call(request);
    } catch (error) {
      const refusedForItsState = error instanceof PlayPurchaseRefusedError && error.reason === 'invalidPurchaseState';
      if (!refusedForItsState || !(await isAcknowledged())) throw error;
    }
  }

  private async call<T>(request: (api: androidpublisher_v3.Androidpublisher) => Promise<{ data: T }>): Promise<T> {
    const { api, tokenUrl } = await this.connect();
    try {
      return (await request(api)).data;
    } catch (error) {
      throw playApiErrorOf(error, tokenUrl);
    }
  }

  /** Reads the key at the first request, not at construction; a failed read is tried again next time. */
  private connect(): Promise<Connection> {
    this.connection ??= this.open().catch((error: unknown) => {
      this.connection = undefined;
      throw error;
    });
    return this.connection;
  }

  private async open(): Promise<Connection> {
    const { keyFile, rootUrl = PLAY_DEVELOPER_API_ROOT_URL, timeoutMs = 10_000, retries = 3 } = this.options;
    const key = JSON.parse(await readFile(keyFile, 'utf8')) as ServiceAccountKey;
    // Only a service account: other credential types would make google-auth-library run other flows.
    if (key.type !== 'service_account') throw new Error(`${keyFile} is not a service account key`);
    const auth = new JWT({
      scopes: [ANDROID_PUBLISHER_SCOPE],
      // Every request, the token's included. Node's fetch, not gaxios' node-fetch: its
      // timeouts are TimeoutErrors, which gaxios retries (node-fetch's AbortErrors it does not).
      transporterOptions: { timeout: timeoutMs, fetchImplementation: fetch },
    });
    auth.fromJSON(key);
    const tokenUrl = new URL(key.token_uri ?? GOOGLE_TOKEN_URL).href;
    if (tokenUrl !== GOOGLE_TOKEN_URL) sendTokenRequestsTo(auth, tokenUrl);
    const api = new androidpublisher_v3.Androidpublisher({
      auth,
      rootUrl,
      retryConfig: {
        retry: retries,
        noResponseRetries: retries,
        // POST for acknowledgements: see acknowledge().
        httpMethodsToRetry: ['GET', 'POST'],
        statusCodesToRetry: RETRYABLE_STATUS_RANGES,
      },
    });
    return { api, tokenUrl };
  }
}

/**
 * Honours the key file's `token_uri` (a fake's in tests), which google-auth-library
 * ignores: its documented seam is the client's transporter, so the token request is
 * redirected there. The assertion keeps Google's audience, as Google requires.
 */
function sendTokenRequestsTo(auth: JWT, tokenUrl: string): void {
  auth.transporter.interceptors.request.add({
    resolved: async (request) => {
      if (String(request.url) === GOOGLE_TOKEN_URL) request.url = new URL(tokenUrl);
      return request;
    },
  });
}
