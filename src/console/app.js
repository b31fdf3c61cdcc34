// The support console: plain DOM over the admin API. The admin key stays in this tab's
// sessionStorage and goes only to this service, as a bearer credential.
import { periodsChart, periodsFromHistory } from './timeline-chart.js';

const KEY = 'subledger.adminKey';
const $ = (selector) => document.querySelector(selector);
const h = (name, attributes = {}, ...children) => {
  const node = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) {
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  node.append(...children.flat().filter((child) => child !== undefined && child !== null));
  return node;
};

/** A refusal of the API, with its problem document's code and detail. */
class ApiError extends Error {}

async function api(method, path, body) {
  const key = sessionStorage.getItem(KEY);
  if (!key) throw new ApiError('Enter an admin API key first.');
  const response = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  const answer = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const what = answer?.detail ?? answer?.title ?? response.statusText;
    throw new ApiError(`${method} ${path}: ${response.status} ${answer?.code ?? ''} ${what}`.replace(/\s+/g, ' '));
  }
  return answer;
}

const messages = $('#messages');
const showError = (error) => {
  messages.replaceChildren(h('p', {}, error instanceof ApiError ? error.message : `Unexpected: ${error}`));
};
const clearError = () => messages.replaceChildren();
/** Runs an action of the page, its failure shown in the message area. */
const attempt = (action) => async (event) => {
  event?.preventDefault();
  clearError();
  try {
    await action(event);
  } catch (error) {
    showError(error);
  }
};
const time = (iso) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC') : '—');
const customerPath = (appUserId) => encodeURIComponent(appUserId);

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
  const [customer, history] = await Promise.all([api('GET', `/v1/customers/${path}`), allHistory(path)]);
  current = appUserId;
  renderEntitlements(customer);
  renderChart(history);
  renderTimeline(history);
  $('#replay-result').replaceChildren();
  $('#customer').hidden = false;
  $('#customer-heading').textContent = `Customer ${appUserId}`;
}

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
  $('#entitlements').replaceChildren(
    ...(rows.length ? rows : [h('tr', {}, h('td', { colspan: '6' }, 'No entitlements.'))]),
  );
  const products = new Set(Object.values(customer.entitlements).map((e) => e.productId));
  for (const s of Object.values(customer.subscriptions)) if (s.productId) products.add(s.productId);
  $('#known-products').replaceChildren(...[...products].map((id) => h('option', { value: id })));
}

function renderChart(history) {
  const periods = periodsFromHistory(history);
  $('#chart').replaceChildren(periods.length ? periodsChart(periods) : h('p', {}, 'No entitlement periods yet.'));
}

function renderTimeline(history) {
  const items = history.map((entry) =>
    h(
      'li',
      { 'data-type': entry.type },
      h(
        'p',
        { class: 'entry-head' },
        h('time', { datetime: entry.storeTime ?? entry.recordedAt }, time(entry.storeTime ?? entry.recordedAt)),
        ' ',
        h('strong', {}, entry.type),
        ` · ${entry.purchase.store} ${entry.purchase.purchaseId}`,
        entry.actor
          ? ` · by ${entry.actor.kind} ${entry.actor.id}${entry.actor.reason ? `: ${entry.actor.reason}` : ''}`
          : '',
      ),
      entry.effects.length
        ? h(
            'ul',
            { class: 'effects' },
            entry.effects.map((effect) => h('li', {}, effect.summary)),
          )
        : h('p', { class: 'no-effect' }, 'No change to entitlements'),
      h(
        'details',
        {},
        h('summary', {}, 'Event data'),
        h(
          'dl',
          {},
          h('dt', {}, 'Recorded at'),
          h('dd', {}, time(entry.recordedAt)),
          h('dt', {}, 'Source document'),
          h('dd', {}, entry.source ? `${entry.source.documentId} (${entry.source.kind})` : 'none'),
          h('dt', {}, 'Cause'),
          h('dd', {}, entry.causationId ?? 'none'),
        ),
        h('pre', {}, JSON.stringify(entry.data, null, 2)),
      ),
    ),
  );
  $('#timeline').replaceChildren(...(items.length ? items : [h('li', {}, 'No history.')]));
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
  $('#dead-letters').replaceChildren(
    ...(rows.length ? rows : [h('tr', {}, h('td', { colspan: '7' }, 'No dead letters.'))]),
  );
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
  $('#webhooks').replaceChildren(
    ...(rows.length ? rows : [h('tr', {}, h('td', { colspan: '5' }, 'No webhook endpoints.'))]),
  );
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
  $('#deliveries').replaceChildren(
    ...(rows.length ? rows : [h('tr', {}, h('td', { colspan: '9' }, 'No deliveries yet.'))]),
  );
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
