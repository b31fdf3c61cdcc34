// What support staff do to, or ask about, the customer on screen besides replay and grants:
// move their purchases to another account, ask the stores again, see their entitlements at a
// moment (as known then and as known now), and the webhook deliveries about them.
import { $, api, attempt, customerPath, h, rowsOrNone, time } from './page.js';

/** Wires the forms to the customer `customer()` names; `reload()` shows what an action changed. */
export function wireCustomerActions({ customer, reload }) {
  $('#transfer').addEventListener(
    'submit',
    attempt(async () => {
      const to = $('#transfer-to').value.trim();
      const reason = $('#transfer-reason').value.trim();
      const moved = await api('POST', `/v1/admin/customers/${customerPath(customer())}/transfer`, { to, reason });
      await reload();
      $('#transfer-result').replaceChildren(
        h('p', { class: 'done' }, `Moved ${moved.moved.length} purchase(s) from ${moved.from} to ${moved.to}.`),
      );
    }),
  );

  $('#reconcile').addEventListener(
    'click',
    attempt(async () => {
      const { purchases } = await api('POST', `/v1/admin/customers/${customerPath(customer())}/reconcile`);
      await reload();
      $('#reconcile-result').replaceChildren(
        h('p', {}, `Asked the stores about ${purchases.length} purchase(s):`),
        h(
          'ul',
          {},
          purchases.map((p) => h('li', {}, `${p.store} (${p.environment}) ${p.purchaseId}: ${p.outcome}`)),
        ),
      );
    }),
  );

  $('#at-moment').addEventListener(
    'submit',
    attempt(async () => {
      const at = new Date($('#moment').value.trim()).toISOString();
      const answer = await api(
        'GET',
        `/v1/admin/customers/${customerPath(customer())}/entitlements?at=${encodeURIComponent(at)}`,
      );
      $('#moment-result').replaceChildren(
        h('p', {}, `Entitlements at ${time(answer.at)}:`),
        momentTable('As known then', 'known-then', answer.asKnownThen, answer.asKnownNow),
        momentTable('As known now', 'known-now', answer.asKnownNow, answer.asKnownThen),
      );
    }),
  );

  $('#load-customer-deliveries').addEventListener(
    'click',
    attempt(async () => {
      const path = `/v1/admin/customers/${customerPath(customer())}/webhook-deliveries?limit=100`;
      const { deliveries } = await api('GET', path);
      const rows = deliveries.map((d) =>
        h(
          'tr',
          { 'data-delivery': d.id, 'data-status': d.status },
          h('th', { scope: 'row' }, d.id),
          h('td', {}, d.endpointId),
          h('td', {}, d.eventType),
          h('td', {}, d.status),
          h('td', {}, String(d.attempts)),
          h('td', {}, d.lastStatus ? String(d.lastStatus) : (d.lastError ?? '—')),
          h('td', {}, time(d.createdAt)),
        ),
      );
      $('#customer-deliveries').replaceChildren(...rowsOrNone(rows, 7, 'No webhook deliveries about this customer.'));
    }),
  );
}

/** One way of knowing; an entitlement whose answer differs from the other way's is marked. */
function momentTable(caption, id, entitlements, other) {
  const rows = Object.entries(entitlements).map(([name, e]) => {
    const differs = JSON.stringify(e) !== JSON.stringify(other[name]);
    return h(
      'tr',
      { 'data-entitlement': name, ...(differs && { class: 'differs' }) },
      h('th', { scope: 'row' }, name),
      h('td', {}, e.active ? 'active' : 'inactive'),
      h('td', {}, e.expiresAt ? time(e.expiresAt) : 'never'),
      h('td', {}, differs ? 'differs' : ''),
    );
  });
  return h('table', { id }, h('caption', {}, caption), h('tbody', {}, ...rowsOrNone(rows, 4, 'No entitlements.')));
}
