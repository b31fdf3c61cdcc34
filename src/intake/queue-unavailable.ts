/**
 * An AWS SDK error (it carries `$metadata`, after the SDK's own retries) that a later try may
 * not meet: the network, throttling, SQS's own 5xx. Others (access denied, no such queue) are
 * a fault of configuration, not an outage. Checked before the database's test: the SDK's
 * network errors carry the same socket codes.
 */
export function isQueueUnavailable(error: unknown): boolean {
  if (!(error instanceof Error) || typeof (error as { $metadata?: unknown }).$metadata !== 'object') return false;
  const { $metadata, $retryable, code, name } = error as Error & {
    $metadata: { httpStatusCode?: number };
    $retryable?: unknown;
    code?: unknown;
  };
  if ($metadata.httpStatusCode === undefined) return typeof code === 'string' || name === 'TimeoutError';
  return $metadata.httpStatusCode >= 500 || $metadata.httpStatusCode === 429 || Boolean($retryable);
}
