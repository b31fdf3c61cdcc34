// The customer's timeline, grouped by what caused it: one store notification (its type and
// subtype), one action of support staff or of an app. A notification repeats what has not
// changed (the link, auto-renew, the product): facts that changed no entitlement are folded
// away, so what a group did reads at a glance.
import { h, time } from './page.js';

/** History entries (oldest first) in groups of one cause, in the order each cause first appears. */
export function groupByCause(history) {
  const groups = new Map();
  for (const entry of history) {
    const group = groups.get(entry.cause.id) ?? { cause: entry.cause, entries: [] };
    group.entries.push(entry);
    groups.set(entry.cause.id, group);
  }
  return [...groups.values()];
}

/** The timeline's items; `showDocument(documentId)` opens the document behind a group. */
export function timelineItems(history, { showDocument }) {
  return groupByCause(history).map(({ cause, entries }) => {
    const first = entries[0];
    const changed = entries.filter((entry) => entry.effects.length);
    const unchanged = entries.filter((entry) => !entry.effects.length);
    const purchases = [...new Set(entries.map((e) => `${e.purchase.store} ${e.purchase.purchaseId}`))];
    return h(
      'li',
      { 'data-cause': cause.id, 'data-cause-kind': cause.kind },
      h(
        'p',
        { class: 'entry-head' },
        h('time', { datetime: first.storeTime ?? first.recordedAt }, time(first.storeTime ?? first.recordedAt)),
        ' ',
        h('strong', { class: 'cause' }, cause.summary),
        ` · ${purchases.join(', ')}`,
        cause.documentId
          ? h(
              'button',
              { type: 'button', class: 'link', onclick: () => showDocument(cause.documentId) },
              'Show document',
            )
          : null,
      ),
      changed.length
        ? h('ul', { class: 'facts' }, changed.map(factItem))
        : h('p', { class: 'no-effect' }, 'No change to entitlements'),
      unchanged.length
        ? h(
            'details',
            { class: 'unchanged' },
            h(
              'summary',
              {},
              `show ${unchanged.length} ${unchanged.length === 1 ? 'fact' : 'facts'} that changed nothing`,
            ),
            h('ul', { class: 'facts' }, unchanged.map(factItem)),
          )
        : null,
    );
  });
}

function factItem(entry) {
  return h(
    'li',
    { 'data-type': entry.type },
    h('strong', {}, entry.type),
    entry.effects.length
      ? h(
          'ul',
          { class: 'effects' },
          entry.effects.map((effect) => h('li', {}, effect.summary)),
        )
      : null,
    h(
      'details',
      {},
      h('summary', {}, 'Event data'),
      h(
        'dl',
        {},
        h('dt', {}, 'Store time'),
        h('dd', {}, time(entry.storeTime)),
        h('dt', {}, 'Recorded at'),
        h('dd', {}, time(entry.recordedAt)),
        h('dt', {}, 'Source document'),
        h('dd', {}, entry.source ? `${entry.source.documentId} (${entry.source.kind})` : 'none'),
      ),
      h('pre', {}, JSON.stringify(entry.data, null, 2)),
    ),
  );
}
