import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { millis } from '../../src/domain/time.ts';

/** What `millis` must answer: the platform's reading of the text, or a refusal where it has none. */
function platformMillis(text: string): number | 'refused' {
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? 'refused' : ms;
}

function ours(text: string): number | 'refused' {
  try {
    return millis(text);
  } catch {
    return 'refused';
  }
}

const MAX_INSTANT = 8.64e15;

describe('millis', () => {
  it('reads every instant as the platform does, whatever its year', () => {
    fc.assert(
      fc.property(fc.integer({ min: -MAX_INSTANT, max: MAX_INSTANT }), (instant) => {
        const text = new Date(instant).toISOString();
        expect(ours(text)).toBe(instant);
      }),
      { numRuns: 20_000 },
    );
  });

  it('answers as the platform does for text shaped like a timestamp, digits and separators changed at random', () => {
    const canonical = fc
      .integer({ min: -MAX_INSTANT, max: MAX_INSTANT })
      .map((instant) => new Date(instant).toISOString());
    const mutation = fc.record({
      at: fc.nat({ max: 23 }),
      char: fc.constantFrom(...'0123456789-T:.Z +/x'.split('')),
    });
    fc.assert(
      fc.property(canonical, fc.array(mutation, { maxLength: 3 }), (text, mutations) => {
        const changed = mutations.reduce((t, { at, char }) => t.slice(0, at) + char + t.slice(at + 1), text);
        expect(ours(changed)).toBe(platformMillis(changed));
      }),
      { numRuns: 50_000 },
    );
  });

  it.each([
    '2024-02-29T00:00:00.000Z', // a leap day
    '2023-02-29T00:00:00.000Z', // not one
    '1900-02-29T00:00:00.000Z', // not one either (a century)
    '2000-02-29T00:00:00.000Z', // a leap day (every fourth century)
    '2026-04-31T12:00:00.000Z',
    '2026-12-31T24:00:00.000Z',
    '0099-01-01T00:00:00.000Z', // two-digit years: Date.UTC would read 1999
    '2026-03-01T09:30:00Z', // no milliseconds
    '2026-03-01T09:30:00.000+01:00',
    'not a time',
  ])('%s as the platform reads it', (text) => {
    expect(ours(text)).toBe(platformMillis(text));
  });
});
