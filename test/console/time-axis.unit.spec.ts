import { describe, expect, it } from 'vitest';
// @ts-expect-error The console is plain JavaScript with no types: it has no build step.
import { tickUnit, timeTicks } from '../../src/console/time-axis.js';

/* The chart's axis reads in the unit of the span shown: minutes for sandbox months, months for years. */
const at = (iso: string) => Date.parse(iso);
const labels = (from: string, to: string) =>
  (timeTicks(at(from), at(to), 6) as { label: string }[]).map((t) => t.label);

describe('timeTicks', () => {
  it('counts a sandbox customer’s quarter hour in minutes, the day written once', () => {
    expect(labels('2026-03-02T14:03:20Z', '2026-03-02T14:18:00Z')).toEqual(['2026-03-02 14:05', '14:10', '14:15']);
    expect(tickUnit(at('2026-03-02T14:03:20Z'), at('2026-03-02T14:18:00Z'), 6)).toBe('minutes (UTC)');
  });

  it('writes the day again where it turns', () => {
    expect(labels('2026-03-02T20:00:00Z', '2026-03-03T08:00:00Z')).toEqual([
      '2026-03-02 21:00',
      '2026-03-03 00:00',
      '03:00',
      '06:00',
    ]);
  });

  it('counts weeks in days and years in calendar months', () => {
    expect(labels('2026-03-02T10:00:00Z', '2026-03-06T00:00:00Z')).toEqual([
      '2026-03-03',
      '2026-03-04',
      '2026-03-05',
      '2026-03-06',
    ]);
    expect(labels('2026-01-15T00:00:00Z', '2027-03-01T00:00:00Z')).toEqual([
      '2026-04',
      '2026-07',
      '2026-10',
      '2027-01',
    ]);
  });

  it('never gives more ticks than asked for', () => {
    for (const span of [1, 59_000, 3_600_000, 86_400_000, 40 * 86_400_000, 30 * 365 * 86_400_000]) {
      expect(timeTicks(0, span, 6).length).toBeLessThanOrEqual(6);
    }
  });
});
