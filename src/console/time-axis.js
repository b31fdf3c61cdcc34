// The chart's time axis: ticks at round instants (UTC) that fit the span shown, so five-
// minute sandbox months read in minutes and production years in months.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Steps from fine to coarse; months and years are calendar steps, not fixed lengths. */
const STEPS = [
  { ms: MINUTE, unit: 'minute' },
  { ms: 5 * MINUTE, unit: 'minute' },
  { ms: 15 * MINUTE, unit: 'minute' },
  { ms: 30 * MINUTE, unit: 'minute' },
  { ms: HOUR, unit: 'hour' },
  { ms: 3 * HOUR, unit: 'hour' },
  { ms: 6 * HOUR, unit: 'hour' },
  { ms: 12 * HOUR, unit: 'hour' },
  { ms: DAY, unit: 'day' },
  { ms: 2 * DAY, unit: 'day' },
  { ms: 7 * DAY, unit: 'day' },
  { ms: 14 * DAY, unit: 'day' },
  { months: 1, ms: 30 * DAY, unit: 'month' },
  { months: 3, ms: 91 * DAY, unit: 'month' },
  { months: 12, ms: 365 * DAY, unit: 'year' },
];

/**
 * Ticks between `min` and `max` (ms), at most `most` of them, at the finest round step
 * that fits; each with a label in the step's unit (`14:05`, `2026-03-02`, `2026-03`).
 * @returns {{ at: number, label: string }[]}
 */
export function timeTicks(min, max, most = 8) {
  const span = Math.max(1, max - min);
  const step = STEPS.find((s) => span / s.ms <= most) ?? yearsStep(span, most);
  const ticks = [];
  for (let at = firstTick(min, step); at <= max; at = nextTick(at, step)) ticks.push({ at, label: label(at, step) });
  // Times of day say which day too, on the first tick and wherever the day turns.
  if (step.ms < DAY) {
    ticks.forEach((tick, i) => {
      const date = new Date(tick.at).toISOString().slice(0, 10);
      if (i === 0 || date !== new Date(ticks[i - 1].at).toISOString().slice(0, 10))
        tick.label = `${date} ${tick.label}`;
    });
  }
  return ticks;
}

/** What the ticks count in, for the axis caption: "minutes (UTC)", "days (UTC)". */
export function tickUnit(min, max, most = 8) {
  const span = Math.max(1, max - min);
  const step = STEPS.find((s) => span / s.ms <= most) ?? yearsStep(span, most);
  return `${step.unit}s (UTC)`;
}

function yearsStep(span, most) {
  const years = Math.ceil(span / (365 * DAY) / most);
  return { months: 12 * years, ms: years * 365 * DAY, unit: 'year' };
}

function firstTick(min, step) {
  if (!step.months) return Math.ceil(min / step.ms) * step.ms;
  const d = new Date(min);
  const startsMonth = d.getUTCDate() === 1 && min % DAY === 0;
  const months = d.getUTCFullYear() * 12 + d.getUTCMonth() + (startsMonth ? 0 : 1);
  const rounded = Math.ceil(months / step.months) * step.months;
  return Date.UTC(Math.floor(rounded / 12), rounded % 12, 1);
}

function nextTick(at, step) {
  if (!step.months) return at + step.ms;
  const d = new Date(at);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + step.months, 1);
}

function label(at, step) {
  const iso = new Date(at).toISOString();
  if (step.unit === 'minute' || step.unit === 'hour') return iso.slice(11, 16);
  if (step.unit === 'day') return iso.slice(0, 10);
  if (step.unit === 'month') return iso.slice(0, 7);
  return iso.slice(0, 4);
}
