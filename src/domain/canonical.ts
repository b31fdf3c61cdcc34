import { stringify } from 'safe-stable-stringify';

/**
 * One text per value whatever the key order: what makes "the same fact" comparable,
 * and breaks ties between observations with the same store time deterministically.
 */
export function canonical(value: unknown): string {
  return stringify(value) ?? 'undefined';
}
