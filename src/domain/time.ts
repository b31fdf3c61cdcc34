/** An instant as ISO 8601 in UTC with milliseconds, e.g. `2026-03-01T09:30:00.000Z`. */
export type Timestamp = string;

export function toTimestamp(instant: Date | number): Timestamp {
  return new Date(instant).toISOString();
}

export function millis(timestamp: Timestamp): number {
  const ms = Date.parse(timestamp);
  if (Number.isNaN(ms)) throw new RangeError(`Not a timestamp: ${JSON.stringify(timestamp)}`);
  return ms;
}

/** Whether `value` is a timestamp in the one form the domain accepts (what `toTimestamp` writes). */
export function isCanonicalTimestamp(value: unknown): value is Timestamp {
  if (typeof value !== 'string') return false;
  const ms = Date.parse(value);
  return !Number.isNaN(ms) && new Date(ms).toISOString() === value;
}
