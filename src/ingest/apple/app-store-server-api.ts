import {
  APIError,
  APIException,
  AppStoreServerAPIClient,
  Environment,
  GetTransactionHistoryVersion,
} from '@apple/app-store-server-library';
import { Refusal } from '../../domain/refusal.ts';

/**
 * Apple's App Store Server API, through Apple's own client, for the reads that
 * reconcile our ledger with the App Store. Every method returns Apple's signed
 * strings exactly as received: they are verified elsewhere, by our SignedDataVerifier,
 * like any other document from Apple.
 */

/** Where Apple serves the API (the library keeps these private). */
export const APP_STORE_SERVER_API_URLS = {
  Production: 'https://api.storekit.apple.com',
  Sandbox: 'https://api.storekit-sandbox.apple.com',
} as const;

export interface AppStoreServerApiOptions {
  /** An In-App Purchase key from App Store Connect: PEM, PKCS#8, EC P-256. */
  readonly signingKey: string;
  readonly keyId: string;
  readonly issuerId: string;
  readonly bundleId: string;
  readonly environment: 'Production' | 'Sandbox';
  /** Apple's (see APP_STORE_SERVER_API_URLS), or a fake's in tests, e.g. `http://127.0.0.1:4010`. */
  readonly baseUrl: string;
}

/** The latest state of one auto-renewable subscription, as Apple signed it. */
export interface SignedSubscriptionStatus {
  readonly originalTransactionId: string;
  /** 1 active, 2 expired, 3 billing retry, 4 grace period, 5 revoked. */
  readonly status: number;
  readonly signedTransactionInfo: string;
  readonly signedRenewalInfo: string;
}

/** A request Apple answered with an error; `retryable` tells a caller's retry policy whether to try again. */
export class AppStoreServerApiError extends Refusal<'store_refused' | 'store_unavailable'> {
  readonly retryable: boolean;
  readonly httpStatus: number;
  /** Apple's `errorCode` (see the library's APIError); absent when the body had none, as on a 401. */
  readonly apiErrorCode: number | undefined;

  constructor(httpStatus: number, apiErrorCode: number | undefined, message: string) {
    // Apple marks some "not found" answers as transient (an account or app still being provisioned).
    const retryable = httpStatus === 429 || httpStatus >= 500 || RETRYABLE_API_ERRORS.has(apiErrorCode);
    super(retryable ? 'unavailable' : 'invalid', retryable ? 'store_unavailable' : 'store_refused', message);
    this.retryable = retryable;
    this.httpStatus = httpStatus;
    this.apiErrorCode = apiErrorCode;
  }
}

const RETRYABLE_API_ERRORS = new Set<number | undefined>([
  APIError.ACCOUNT_NOT_FOUND_RETRYABLE,
  APIError.APP_NOT_FOUND_RETRYABLE,
  APIError.ORIGINAL_TRANSACTION_ID_NOT_FOUND_RETRYABLE,
  APIError.GENERAL_INTERNAL_RETRYABLE,
]);

const ENVIRONMENTS = { Production: Environment.PRODUCTION, Sandbox: Environment.SANDBOX } as const;

type FetchResponse = ReturnType<AppStoreServerAPIClient['makeFetchRequest']>;

/** Apple's client picks its URL from the environment alone; this one sends its requests to `baseUrl`. */
class ClientWithBaseUrl extends AppStoreServerAPIClient {
  private readonly baseUrl: string;

  constructor(options: AppStoreServerApiOptions) {
    super(options.signingKey, options.keyId, options.issuerId, options.bundleId, ENVIRONMENTS[options.environment]);
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  protected override makeFetchRequest(
    path: string,
    query: URLSearchParams,
    method: string,
    body: string | Buffer | undefined,
    headers: { [key: string]: string },
  ): FetchResponse {
    // Node's own fetch, not the library's node-fetch (no dependency of ours): the library
    // reads only `ok`, `status` and `json()` from the response, which both provide.
    return fetch(`${this.baseUrl}${path}?${query}`, { method, body, headers }) as unknown as FetchResponse;
  }
}

export class AppStoreServerApi {
  private readonly client: AppStoreServerAPIClient;

  constructor(options: AppStoreServerApiOptions) {
    this.client = new ClientWithBaseUrl(options);
  }

  /** Get All Subscription Statuses: every subscription of the customer who made `transactionId`. */
  async subscriptionStatuses(transactionId: string): Promise<SignedSubscriptionStatus[]> {
    const response = await call(() => this.client.getAllSubscriptionStatuses(transactionId));
    // The library checks only the top level of this response, so the items are checked here.
    return (response.data ?? []).flatMap((group) =>
      (group.lastTransactions ?? []).map((item) => ({
        originalTransactionId: checked(item.originalTransactionId, 'string', 'originalTransactionId'),
        status: checked(item.status, 'number', 'status'),
        signedTransactionInfo: checked(item.signedTransactionInfo, 'string', 'signedTransactionInfo'),
        signedRenewalInfo: checked(item.signedRenewalInfo, 'string', 'signedRenewalInfo'),
      })),
    );
  }

  /** Get Transaction History (v2): every signed transaction of the customer, all pages. */
  transactionHistory(transactionId: string): Promise<string[]> {
    return allPages(
      (revision) =>
        call(() => this.client.getTransactionHistory(transactionId, revision, {}, GetTransactionHistoryVersion.V2)),
      (page) => page.signedTransactions ?? [],
      (page) => page.revision,
    );
  }

  /** Get Notification History: the signed payloads Apple sent (or tried to) in the window, all pages. */
  notificationHistory(window: { startDate: Date; endDate: Date }): Promise<string[]> {
    // Apple wants the same body on every page; only the token changes.
    const request = { startDate: window.startDate.getTime(), endDate: window.endDate.getTime() };
    return allPages(
      (paginationToken) => call(() => this.client.getNotificationHistory(paginationToken, request)),
      (page) => (page.notificationHistory ?? []).map((item) => checked(item.signedPayload, 'string', 'signedPayload')),
      (page) => page.paginationToken,
    );
  }
}

/**
 * Follows Apple's cursor (`revision`, `paginationToken`) while `hasMore`. A page that
 * promises more without a cursor fails, rather than asking for the first page forever.
 */
async function allPages<Page extends { hasMore?: boolean }, Item>(
  fetchPage: (cursor: string | null) => Promise<Page>,
  itemsOf: (page: Page) => Item[],
  cursorOf: (page: Page) => string | undefined,
): Promise<Item[]> {
  const items: Item[] = [];
  let cursor: string | null = null;
  for (;;) {
    const page = await fetchPage(cursor);
    items.push(...itemsOf(page));
    if (!page.hasMore) return items;
    cursor = checked(cursorOf(page), 'string', 'pagination cursor');
  }
}

async function call<T>(request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    if (!(error instanceof APIException)) throw error;
    const code = error.apiError ?? undefined;
    const detail = error.errorMessage ?? (code === undefined ? 'no error code' : `error ${code}`);
    throw new AppStoreServerApiError(
      error.httpStatusCode,
      code,
      `App Store Server API: HTTP ${error.httpStatusCode}, ${detail}`,
    );
  }
}

function checked<T extends string | number>(value: T | undefined, type: 'string' | 'number', field: string): T {
  if (typeof value !== type) throw new Error(`App Store Server API response without a ${type} ${field}`);
  return value as T;
}
