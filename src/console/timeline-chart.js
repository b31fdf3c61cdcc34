// Entitlement periods drawn from the history's effects, as inline SVG: one row per
// entitlement, one bar per stretch of access. A support question ("did they have premium
// on the 3rd?") is answered faster by a picture than by reading the timeline.

import { tickUnit, timeTicks } from './time-axis.js';

const SVG = 'http://www.w3.org/2000/svg';

/** When an entry happened for the customer: the store's time when it says, else when recorded. */
const timeOf = (entry) => Date.parse(entry.storeTime ?? entry.recordedAt);

/**
 * The periods of access, from the effects of the history entries (oldest first). A period
 * opens when an entitlement becomes active, runs to its latest expiry, and closes when an
 * effect ends it (or when a later activation finds it already lapsed).
 * @returns {{ entitlement: string, start: number, end: number | null, store: string, purchaseId: string }[]}
 */
export function periodsFromHistory(entries) {
  const open = new Map();
  const periods = [];
  const close = (id, end) => {
    const period = open.get(id);
    if (!period) return;
    period.end = end;
    open.delete(id);
  };
  for (const entry of entries) {
    const at = timeOf(entry);
    for (const { entitlement, after } of entry.effects) {
      const current = open.get(entitlement);
      if (after?.active) {
        const lapsed = current && current.end !== null && current.end < at;
        if (current && (lapsed || current.purchaseId !== after.purchaseId))
          close(entitlement, Math.min(current.end ?? at, at));
        if (!open.has(entitlement)) {
          const period = { entitlement, start: at, end: null, store: after.store, purchaseId: after.purchaseId };
          open.set(entitlement, period);
          periods.push(period);
        }
        open.get(entitlement).end = after.expiresAt ? Date.parse(after.expiresAt) : null;
      } else if (current) {
        const until = after?.expiresAt ? Date.parse(after.expiresAt) : at;
        close(entitlement, Math.max(current.start, Math.min(until, current.end ?? until)));
      }
    }
  }
  return periods;
}

/**
 * What the chart marks on the periods, from the history: refunds and revocations (an
 * instant), billing issues (an instant), grace periods (a stretch).
 * @returns {{ kind: 'revoked' | 'billing' | 'grace', purchaseId: string, at: number, until?: number, text: string }[]}
 */
export function marksFromHistory(entries) {
  return entries.flatMap((entry) => {
    const { purchaseId } = entry.purchase;
    const at = timeOf(entry);
    const mark = (kind, instant, text, until) => [{ kind, purchaseId, at: Date.parse(instant), until, text }];
    switch (entry.type) {
      case 'TransactionRefunded':
        return mark('revoked', entry.data.refundedAt, `refund of ${entry.data.transactionId}`);
      case 'TransactionRevoked':
        return mark('revoked', entry.data.revokedAt, `revoked (${entry.data.reason}): ${entry.data.transactionId}`);
      case 'SubscriptionRevoked':
        return mark('revoked', entry.data.revokedAt, `subscription revoked (${entry.data.reason})`);
      case 'RenewalFailed':
        return entry.data.gracePeriodEndsAt
          ? mark('grace', new Date(at).toISOString(), 'grace period', Date.parse(entry.data.gracePeriodEndsAt))
          : mark('billing', new Date(at).toISOString(), 'billing issue: renewal failed');
      case 'SubscriptionPutOnHold':
        return mark('billing', new Date(at).toISOString(), 'billing issue: account hold');
      default:
        return [];
    }
  });
}

const el = (name, attributes = {}, text) => {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
};
/** An instant as the chart's texts write it: to the minute when the span is short, else the day. */
const instant = (ms, short) =>
  new Date(ms)
    .toISOString()
    .slice(0, short ? 16 : 10)
    .replace('T', ' ');

/** The chart of `periods` and `marks` on a time axis, with a line at `now`; a period with no end (for good) runs past it. */
export function periodsChart(periods, marks = [], now = Date.now()) {
  const rows = [...new Set(periods.map((p) => p.entitlement))];
  const starts = periods.map((p) => p.start);
  const ends = periods.map((p) => p.end ?? now);
  const min = Math.min(...starts, now);
  const max = Math.max(...ends, now) + 1;
  const short = max - min < 2 * 86_400_000;
  const width = 760;
  const label = 110;
  const rowHeight = 34;
  const height = rows.length * rowHeight + 56;
  const x = (ms) => label + ((ms - min) / (max - min)) * (width - label - 20);

  const svg = el('svg', {
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-labelledby': 'chart-title chart-desc',
    class: 'periods',
  });
  svg.append(el('title', { id: 'chart-title' }, 'Entitlement periods over time'));
  const described = [
    ...periods.map(
      (p) =>
        `${p.entitlement} from ${instant(p.start, short)} ${p.end === null ? 'for good' : `to ${instant(p.end, short)}`} (${p.store})`,
    ),
    ...marks.map((m) => `${m.text} at ${instant(m.at, short)}`),
  ].join('; ');
  svg.append(el('desc', { id: 'chart-desc' }, described || 'No entitlement periods'));

  const top = (row) => row * rowHeight + 10;
  rows.forEach((id, row) => {
    const y = top(row);
    svg.append(el('text', { x: 4, y: y + 17, class: 'row-label' }, id));
    for (const period of periods.filter((p) => p.entitlement === id)) {
      const end = period.end ?? max;
      const bar = el('rect', {
        x: x(period.start),
        y,
        width: Math.max(2, x(end) - x(period.start)),
        height: rowHeight - 12,
        rx: 3,
        class: `bar store-${period.store}${period.end === null ? ' open-ended' : ''}`,
        'data-entitlement': id,
      });
      const until = period.end === null ? 'for good' : instant(period.end, short);
      bar.append(el('title', {}, `${id}: ${instant(period.start, short)} → ${until} (${period.store})`));
      svg.append(bar);
    }
  });
  svg.append(...marks.flatMap((mark) => markShapes(mark, periods, rows, top, x, rowHeight)));
  svg.append(...axis(min, max, x, rows.length * rowHeight + 8));
  const nowX = x(now);
  svg.append(el('line', { x1: nowX, x2: nowX, y1: 4, y2: rows.length * rowHeight + 8, class: 'now' }));
  svg.append(
    el(
      'text',
      // Kept inside the chart when now is near an edge (it is the right edge while access runs).
      { x: nowX, y: rows.length * rowHeight + 50, class: 'now-label', 'text-anchor': nowAnchor(nowX, width) },
      `now ${instant(now, true)} UTC`,
    ),
  );
  return svg;
}

const nowAnchor = (nowX, width) => (nowX > width - 90 ? 'end' : nowX < 200 ? 'start' : 'middle');

/** Tick marks and labels that fit the span (time-axis.js), and what they count in. */
function axis(min, max, x, baseline) {
  const shapes = [el('line', { x1: x(min), x2: x(max), y1: baseline, y2: baseline, class: 'axis-line' })];
  for (const tick of timeTicks(min, max, 6)) {
    shapes.push(el('line', { x1: x(tick.at), x2: x(tick.at), y1: baseline, y2: baseline + 5, class: 'tick' }));
    shapes.push(el('text', { x: x(tick.at), y: baseline + 17, class: 'axis', 'text-anchor': 'middle' }, tick.label));
  }
  shapes.push(el('text', { x: 4, y: baseline + 17, class: 'axis axis-unit' }, tickUnit(min, max, 6)));
  return shapes;
}

/** A mark on every row where the purchase it is about gave access. */
function markShapes(mark, periods, rows, top, x, rowHeight) {
  const onRows = rows.filter((id) => periods.some((p) => p.entitlement === id && p.purchaseId === mark.purchaseId));
  return onRows.map((id) => {
    const y = top(rows.indexOf(id));
    const shape =
      mark.kind === 'grace'
        ? el('rect', {
            x: x(mark.at),
            y: y + rowHeight - 16,
            width: Math.max(2, x(mark.until) - x(mark.at)),
            height: 4,
          })
        : el('path', { d: `M ${x(mark.at)} ${y - 4} l 5 -6 h -10 z` });
    shape.setAttribute('class', `mark mark-${mark.kind}`);
    shape.setAttribute('data-entitlement', id);
    shape.append(el('title', {}, mark.text));
    return shape;
  });
}
