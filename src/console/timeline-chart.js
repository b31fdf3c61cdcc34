// Entitlement periods drawn from the history's effects, as inline SVG: one row per
// entitlement, one bar per stretch of access. A support question ("did they have premium
// on the 3rd?") is answered faster by a picture than by reading the timeline.

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

const el = (name, attributes = {}, text) => {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
};
const day = (ms) => new Date(ms).toISOString().slice(0, 10);

/** The chart of `periods`, with a line at `now`; a period with no end (for good) runs past it. */
export function periodsChart(periods, now = Date.now()) {
  const rows = [...new Set(periods.map((p) => p.entitlement))];
  const starts = periods.map((p) => p.start);
  const ends = periods.map((p) => p.end ?? now);
  const min = Math.min(...starts, now);
  const max = Math.max(...ends, now) + 1;
  const width = 760;
  const label = 110;
  const rowHeight = 34;
  const height = rows.length * rowHeight + 40;
  const x = (ms) => label + ((ms - min) / (max - min)) * (width - label - 10);

  const svg = el('svg', {
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-labelledby': 'chart-title chart-desc',
    class: 'periods',
  });
  svg.append(el('title', { id: 'chart-title' }, 'Entitlement periods over time'));
  const described = periods
    .map(
      (p) => `${p.entitlement} from ${day(p.start)} ${p.end === null ? 'for good' : `to ${day(p.end)}`} (${p.store})`,
    )
    .join('; ');
  svg.append(el('desc', { id: 'chart-desc' }, described || 'No entitlement periods'));

  rows.forEach((id, row) => {
    const y = row * rowHeight + 10;
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
      bar.append(
        el(
          'title',
          {},
          `${id}: ${day(period.start)} → ${period.end === null ? 'for good' : day(period.end)} (${period.store})`,
        ),
      );
      svg.append(bar);
    }
  });
  const axis = rows.length * rowHeight + 24;
  svg.append(el('text', { x: label, y: axis, class: 'axis' }, day(min)));
  svg.append(el('text', { x: width - 10, y: axis, class: 'axis', 'text-anchor': 'end' }, day(max - 1)));
  svg.append(el('line', { x1: x(now), x2: x(now), y1: 4, y2: rows.length * rowHeight + 8, class: 'now' }));
  svg.append(el('text', { x: x(now), y: axis + 12, class: 'axis', 'text-anchor': 'middle' }, 'now'));
  return svg;
}
