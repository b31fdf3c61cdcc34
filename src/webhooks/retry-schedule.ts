/**
 * When to try a delivery again: exponential back-off from 5 seconds, doubling, with
 * "full jitter" on the upper half (so receivers that failed together are not retried
 * together), each wait at most 4 hours, until the horizon since the first attempt has
 * passed: then the delivery is dead. A receiver's Retry-After is honoured when it asks
 * for longer, within the horizon.
 */
export interface RetryPolicy {
  /** How long after its first attempt a delivery may still be retried (default about a day). */
  readonly horizonMs: number;
}

const FIRST_WAIT_MS = 5_000;
const LONGEST_WAIT_MS = 4 * 3_600_000;

/** The wait before attempt `attempts + 1`, or undefined: give up. `random` is in [0, 1). */
export function nextRetryDelay(
  policy: RetryPolicy,
  {
    attempts,
    firstAttemptAt,
    now,
    retryAfterMs,
    random,
  }: {
    /** Attempts made so far, the failed one included (1 after the first). */
    readonly attempts: number;
    readonly firstAttemptAt: number;
    readonly now: number;
    readonly retryAfterMs?: number;
    readonly random: number;
  },
): number | undefined {
  const ceiling = Math.min(LONGEST_WAIT_MS, FIRST_WAIT_MS * 2 ** Math.min(attempts - 1, 20));
  const backOff = ceiling / 2 + (ceiling / 2) * random;
  const wait = Math.max(backOff, retryAfterMs ?? 0);
  return now + wait - firstAttemptAt > policy.horizonMs ? undefined : Math.round(wait);
}

/** Retry-After as seconds or an HTTP date, in milliseconds from `now`; undefined when absent or unreadable. */
export function retryAfterMs(header: string | undefined, now: number): number | undefined {
  if (header === undefined) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
