// The support console: plain DOM over the admin API. The admin key stays in this tab's
// sessionStorage and goes only to this service, as a bearer credential.
import { wireCustomerActions } from './customer-actions.js';
import { showDocument } from './document-view.js';
import { $, KEY, api, attempt, customerPath, h, rowsOrNone, time } from './page.js';
import { purchaseRows } from './purchases.js';
import { marksFromHistory, periodsChart, periodsFromHistory } from './timeline-chart.js';
import { timelineItems } from './timeline.js';

// Login: the key is checked by asking for something only an admin may read.
function showKeyStatus() {
  $('#key-status').textContent = sessionStorage.getItem(KEY) ? 'Key set for this tab.' : 'No key set.';
}
$('#login').addEventListener(
  'submit',
  attempt(async () => {
    sessionStorage.setItem(KEY, $('#api-key').value.trim());
    $('#api-key').value = '';
    showKeyStatus();
    await loadDeadLetters();
  }),
);
$('#forget-key').addEventListener('click', () => {
  sessionStorage.removeItem(KEY);
  showKeyStatus();
});
showKeyStatus();

// The customer: entitlements now, the chart, the timeline.
let current = null;
$('#search').addEventListener(
  'submit',
  attempt(() => loadCustomer($('#app-user-id').value.trim())),
);

async function loadCustomer(appUserId) {
  const path = customerPath(appUserId);
  const afterChange = async (said) => {
    await loadCustomer(appUserId);
    $('#purchases-result').replaceChildren(h('p', { class: 'done' }, said));
  };
  const [customer, history, purchases] = await Promise.all([
    api('GET', `/v1/customers/${path}`),
    allHistory(path),
    purchaseRows(appUserId, { afterChange }),
  ]);
  current = appUserId;
  renderEntitlements(customer);
  renderChart(history);
  $('#timeline').replaceChildren(
    ...(history.length
      ? timelineItems(history, { showDocument: (id) => attempt(() => showDocument(id))() })
      : [h('li', {}, 'No history.')]),
  );
  $('#purchases').replaceChildren(...purchases);
  for (const result of [
    '#replay-result',
    '#purchases-result',
    '#moment-result',
    '#reconcile-result',
    '#transfer-result',
  ])
    $(result).replaceChildren();
  $('#customer-deliveries').replaceChildren();
  $('#document').hidden = true;
  $('#customer').hidden = false;
  $('#customer-heading').textContent = `Customer ${appUserId}`;
}
wireCustomerActions({ customer: () => current, reload: () => loadCustomer(current) });

async function allHistory(path) {
  const entries = [];
  let cursor = null;
  do {
    const page = await api(
      'GET',
      `/v1/admin/customers/${path}/history?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    entries.push(...page.entries);
    cursor = page.nextCursor;
  } while (cursor);
  return entries;
}

function renderEntitlements(customer) {
  const rows = Object.entries(customer.entitlements).map(([id, e]) =>
    h(
      'tr',
      { 'data-entitlement': id },
      h('th', { scope: 'row' }, id),
      h('td', { class: e.active ? 'active' : 'inactive' }, e.active ? 'active' : 'inactive'),
      h('td', {}, e.expiresAt ? time(e.expiresAt) : 'never'),
      h('td', {}, e.productId),
      h('td', {}, `${e.store} (${e.environment})`),
      h('td', {}, e.willRenew ? 'yes' : 'no'),
    ),
  );
  $('#entitlements').replaceChildren(...rowsOrNone(rows, 6, 'No entitlements.'));
  const products = new Set(Object.values(customer.entitlements).map((e) => e.productId));
  for (const s of Object.values(customer.subscriptions)) if (s.productId) products.add(s.productId);
  $('#known-products').replaceChildren(...[...products].map((id) => h('option', { value: id })));
}

function renderChart(history) {
  const periods = periodsFromHistory(history);
  const chart = periods.length
    ? periodsChart(periods, marksFromHistory(history))
    : h('p', {}, 'No entitlement periods yet.');
  $('#chart').replaceChildren(chart);
}

// Replay: a dry run shows what would change; applying it rewrites the read model.
$('#replay-dry-run').addEventListener(
  'click',
  attempt(async () => {
    const reason = $('#replay-reason').value.trim() || undefined;
    const dry = await api('POST', `/v1/admin/customers/${customerPath(current)}/replay`, { dryRun: true, reason });
    const result = $('#replay-result');
    if (!dry.changed.length) {
      result.replaceChildren(
        h('p', {}, `No differences: ${dry.streams.length} purchase(s) re-folded, read model agrees.`),
      );
      return;
    }
    result.replaceChildren(
      h('p', {}, `${dry.changed.length} purchase(s) would change:`),
      changesTable(dry.changed),
      h('button', { type: 'button', id: 'replay-apply', onclick: attempt(() => applyReplay(reason)) }, 'Apply replay'),
    );
  }),
);

async function applyReplay(reason) {
  const applied = await api('POST', `/v1/admin/customers/${customerPath(current)}/replay`, { dryRun: false, reason });
  await loadCustomer(current);
  $('#replay-result').replaceChildren(
    h('p', { class: 'done' }, `Replay applied: ${applied.changed.length} purchase(s) rewritten.`),
    changesTable(applied.changed),
  );
}

/** The latest period's access, as the read-model row states it. */
const access = (row) => {
  if (!row?.accessFrom) return 'no access';
  return `access ${time(row.accessFrom)} → ${row.lifetimeAccess ? 'for good' : time(row.accessUntil)}`;
};

function changesTable(changed) {
  return h(
    'table',
    { class: 'changes' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Purchase'),
        h('th', { scope: 'col' }, 'Before'),
        h('th', { scope: 'col' }, 'After'),
      ),
    ),
    h(
      'tbody',
      {},
      changed.map((change) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, change.streamId, h('br'), `changed: ${change.columns.join(', ')}`),
          h('td', {}, access(change.before), diffDetails(change.before)),
          h('td', {}, access(change.after), diffDetails(change.after)),
        ),
      ),
    ),
  );
}
const diffDetails = (row) => h('details', {}, h('summary', {}, 'Row'), h('pre', {}, JSON.stringify(row, null, 2)));

// Grants: a promotional purchase of a catalog product, for some days.
$('#grant').addEventListener(
  'submit',
  attempt(async () => {
    const grant = await api('POST', `/v1/admin/customers/${customerPath(current)}/grants`, {
      productId: $('#grant-product').value.trim(),
      durationDays: Number($('#grant-days').value),
      reason: $('#grant-reason').value.trim(),
    });
    await waitForEntitlements(grant.entitlements);
    await loadCustomer(current);
    $('#grant-result').replaceChildren(
      h(
        'p',
        { class: 'done' },
        `Granted ${grant.entitlements.join(', ')} until ${time(grant.endsAt)} (grant ${grant.grantId}).`,
      ),
    );
  }),
);

/** The read model follows the event store within moments: wait (briefly) until it shows the grant. */
async function waitForEntitlements(ids) {
  for (let tries = 0; tries < 20; tries++) {
    const customer = await api('GET', `/v1/customers/${customerPath(current)}`);
    if (ids.every((id) => customer.entitlements[id]?.active)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

// Dead letters.
$('#load-dead-letters').addEventListener('click', attempt(loadDeadLetters));

async function loadDeadLetters() {
  const { deadLetters } = await api('GET', '/v1/admin/dead-letters?limit=100');
  const rows = deadLetters.map((letter) =>
    h(
      'tr',
      { 'data-message-id': letter.messageId },
      h('th', { scope: 'row' }, letter.messageId),
      h('td', {}, letter.kind),
      h('td', {}, time(letter.failedAt)),
      h('td', {}, String(letter.attempts)),
      h('td', {}, letter.reason),
      h('td', {}, letter.documentId),
      h(
        'td',
        {},
        h(
          'button',
          {
            type: 'button',
            'aria-label': `Retry message ${letter.messageId}`,
            onclick: attempt(async () => {
              await api('POST', `/v1/admin/dead-letters/${encodeURIComponent(letter.messageId)}/retry`);
              await loadDeadLetters();
              $('#dead-letters-status').textContent = `Message ${letter.messageId} is back in the intake queue.`;
            }),
          },
          'Retry',
        ),
      ),
    ),
  );
  $('#dead-letters').replaceChildren(...rowsOrNone(rows, 7, 'No dead letters.'));
}

// Webhook endpoints: each one's deliveries, a test event, a retry, a replay.
$('#load-webhooks').addEventListener('click', attempt(loadWebhooks));
let webhook = null;

async function loadWebhooks() {
  const { endpoints } = await api('GET', '/v1/admin/webhooks/endpoints');
  const rows = endpoints.map((endpoint) =>
    h(
      'tr',
      { 'data-endpoint': endpoint.id },
      h('th', { scope: 'row' }, endpoint.id),
      h('td', {}, endpoint.url),
      h('td', {}, endpoint.enabled ? 'yes' : 'no'),
      h('td', {}, endpoint.eventTypes ? endpoint.eventTypes.join(', ') : 'all'),
      h(
        'td',
        {},
        h(
          'button',
          {
            type: 'button',
            'aria-label': `Deliveries of ${endpoint.id}`,
            onclick: attempt(() => loadDeliveries(endpoint.id)),
          },
          'Deliveries',
        ),
        h(
          'button',
          {
            type: 'button',
            'aria-label': `Send a test event to ${endpoint.id}`,
            onclick: attempt(async () => {
              const { eventId } = await api('POST', `/v1/admin/webhooks/endpoints/${endpoint.id}/test`);
              await loadDeliveries(endpoint.id);
              $('#webhook-status').textContent = `Test event ${eventId} scheduled.`;
            }),
          },
          'Send test',
        ),
      ),
    ),
  );
  $('#webhooks').replaceChildren(...rowsOrNone(rows, 5, 'No webhook endpoints.'));
}

async function loadDeliveries(endpointId) {
  const { deliveries } = await api('GET', `/v1/admin/webhooks/endpoints/${endpointId}/deliveries?limit=100`);
  webhook = endpointId;
  const rows = deliveries.map((d) =>
    h(
      'tr',
      { 'data-delivery': d.id, 'data-status': d.status },
      h('th', { scope: 'row' }, d.id),
      h('td', {}, `${d.eventType} ${d.eventId}`),
      h('td', {}, d.appUserId),
      h('td', {}, d.status),
      h('td', {}, String(d.attempts)),
      h('td', {}, d.lastStatus ? String(d.lastStatus) : (d.lastError ?? '—')),
      h('td', {}, d.lastLatencyMs === null ? '—' : `${d.lastLatencyMs} ms`),
      h('td', {}, time(d.nextAttemptAt)),
      h(
        'td',
        {},
        d.status === 'delivered'
          ? null
          : h(
              'button',
              {
                type: 'button',
                'aria-label': `Retry delivery ${d.id}`,
                onclick: attempt(async () => {
                  await api('POST', `/v1/admin/webhooks/deliveries/${d.id}/retry`);
                  await loadDeliveries(endpointId);
                  $('#webhook-status').textContent = `Delivery ${d.id} will be tried again now.`;
                }),
              },
              'Retry',
            ),
      ),
    ),
  );
  $('#deliveries-heading').textContent = `Deliveries to ${endpointId}`;
  $('#deliveries').replaceChildren(...rowsOrNone(rows, 9, 'No deliveries yet.'));
  $('#webhook-replay-result').replaceChildren();
  $('#webhook').hidden = false;
}

$('#webhook-replay').addEventListener(
  'submit',
  attempt(async () => {
    const appUserId = $('#replay-customer').value.trim();
    const fromTime = $('#replay-from').value.trim();
    const dryRun = $('#replay-webhook-dry-run').checked;
    const plan = await api('POST', `/v1/admin/webhooks/endpoints/${webhook}/replay`, {
      ...(appUserId && { appUserId }),
      ...(fromTime && { fromTime }),
      dryRun,
    });
    const said = dryRun ? `Would send ${plan.count} events.` : `Scheduled ${plan.count} events again.`;
    $('#webhook-replay-result').replaceChildren(
      h('p', {}, said),
      h(
        'ol',
        {},
        ...plan.events.map((e) => h('li', {}, `${time(e.occurredAt)} ${e.type} ${e.appUserId} ${e.eventId}`)),
      ),
    );
    if (!dryRun) await loadDeliveries(webhook);
  }),
);
