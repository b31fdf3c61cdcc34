/** Node's socket errors that mean the server is not there (or went away mid-query). */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH']);

/**
 * SQLSTATE classes and codes that say PostgreSQL cannot serve us now: connection
 * exceptions (08), and the server shutting down or starting (57P01 to 57P03).
 */
const isUnavailableState = (code: string) => code.startsWith('08') || /^57P0[1-3]$/.test(code);

/** pg's own words for a connection that died or never came, which carry no code. */
const POOL_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Cannot use a pool after calling end',
];

/**
 * True when an error means the database cannot be reached now (worth a 503 and a retry),
 * not that a query was wrong (a fault of ours, a 500).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || isUnavailableState(code))) return true;
  if (POOL_MESSAGES.some((message) => error.message.includes(message))) return true;
  // Node tries every address of a host name: one AggregateError with each attempt's error.
  if (error instanceof AggregateError) return error.errors.some(isDatabaseUnavailable);
  return false;
}
