import { gaxios } from 'google-auth-library';
import { Refusal } from '../../domain/refusal.ts';

/**
 * What a caller of the Play Developer API needs to know about a failure: whether Google
 * said no for good (answer 422, dead-letter the notification) or could not answer now
 * (answer 503, let the intake queue retry). `retryable` carries the decision; the
 * subclasses name it.
 */
export class PlayDeveloperApiError extends Refusal<'store_refused' | 'store_unavailable'> {
  /** Absent when no answer came (network, timeout). */
  readonly httpStatus: number | undefined;
  /**
   * Google's reason, e.g. `invalid`, `purchaseTokenNoLongerValid`, `invalidPurchaseState`,
   * `permissionDenied`, or the token endpoint's `invalid_grant`.
   */
  readonly reason: string | undefined;
  readonly retryable: boolean;

  constructor(
    message: string,
    httpStatus: number | undefined,
    reason: string | undefined,
    retryable: boolean,
    options?: ErrorOptions,
  ) {
    // Unreachable or refusing our access, apps get the same answer: try again later.
    super(retryable ? 'unavailable' : 'invalid', retryable ? 'store_unavailable' : 'store_refused', message, options);
    this.httpStatus = httpStatus;
    this.reason = reason;
    this.retryable = retryable;
  }
}

/**
 * Google refuses this request about this purchase, and asking again will not change that:
 * an unknown or malformed purchase token (400 `invalid`), one not found (404) or no longer
 * valid (410, e.g. a subscription expired for more than 60 days), a purchase in a state the
 * operation does not allow (400 `invalidPurchaseState`).
 */
export class PlayPurchaseRefusedError extends PlayDeveloperApiError {
  constructor(message: string, httpStatus: number, reason: string | undefined, options?: ErrorOptions) {
    super(message, httpStatus, reason, false, options);
  }
}

/** Google could not answer, even after the client's retries: 5xx, 408, 409, 429, a timeout, the network. */
export class PlayApiUnavailableError extends PlayDeveloperApiError {
  constructor(message: string, httpStatus: number | undefined, reason: string | undefined, options?: ErrorOptions) {
    super(message, httpStatus, reason, true, options);
  }
}

/**
 * Google refuses our credentials: the token endpoint rejects the service account's key, or
 * the API answers 401/403 (the account is not granted access to the app in Play Console).
 * Not the purchase's fault, so callers answer 503, not 422. Retryable: access granted in
 * Play Console takes up to a day or two to reach the API, and the notifications waiting
 * meanwhile should not be dead-lettered.
 */
export class PlayApiAccessError extends PlayDeveloperApiError {
  constructor(message: string, httpStatus: number | undefined, reason: string | undefined, options?: ErrorOptions) {
    super(message, httpStatus, reason, true, options);
  }
}

/** Statuses worth asking again; the client's retry policy uses the same list. */
export const RETRYABLE_STATUS_RANGES: [number, number][] = [
  [408, 409], // request timeout; 409 `concurrentUpdate`, "already in the process of being updated"
  [429, 429],
  [500, 599],
];

const isRetryableStatus = (status: number) =>
  RETRYABLE_STATUS_RANGES.some(([min, max]) => status >= min && status <= max);

/**
 * The typed error for a failed request; anything that is not an HTTP failure (a bug, a
 * missing parameter) is returned as it is. `tokenUrl` tells the token request from API requests.
 */
export function playApiErrorOf(error: unknown, tokenUrl: string): unknown {
  if (!(error instanceof gaxios.GaxiosError)) return error;
  const status = error.response?.status;
  const reason = reasonOf(error.response?.data);
  const message = `Play Developer API: ${status === undefined ? (error.code ?? 'no answer') : `HTTP ${status}`}, ${error.message}`;
  const options = { cause: error };
  if (status === undefined || isRetryableStatus(status))
    return new PlayApiUnavailableError(message, status, reason, options);
  if (String(error.config.url) === tokenUrl || status === 401 || status === 403) {
    return new PlayApiAccessError(message, status, reason, options);
  }
  return new PlayPurchaseRefusedError(message, status, reason, options);
}

/** Google's API errors are `{ error: { errors: [{ reason }], status } }`; OAuth errors are `{ error: 'invalid_grant' }`. */
function reasonOf(body: unknown): string | undefined {
  const error = (body as { error?: unknown } | undefined)?.error;
  if (typeof error === 'string') return error;
  const { errors, status } = (error ?? {}) as { errors?: { reason?: unknown }[]; status?: unknown };
  const reason = errors?.[0]?.reason ?? status;
  return typeof reason === 'string' ? reason : undefined;
}
