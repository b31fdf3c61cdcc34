// The customer's purchases: each with its transactions (App Store) or orders (Google
// Play), prices where the store said, environment, and who owned it when.
import { api, attempt, customerPath, h, rowsOrNone, time } from './page.js';

const price = (p) => (p ? `${p.amount} ${p.currency}` : 'price not known');

/** The purchases table's rows; a grant still giving access has a way to end it. */
export async function purchaseRows(appUserId, { afterChange }) {
  const { purchases } = await api('GET', `/v1/admin/customers/${customerPath(appUserId)}/purchases`);
  const rows = purchases.map((p) =>
    h(
      'tr',
      { 'data-purchase': p.purchaseId },
      h('th', { scope: 'row' }, `${p.store} (${p.environment})`, h('br'), h('code', {}, p.purchaseId)),
      h('td', {}, p.productId ?? `unknown to the catalog: ${p.storeProductId ?? '—'}`),
      h('td', {}, p.owner === appUserId ? 'this customer' : (p.owner ?? 'nobody')),
      h('td', {}, transactionList(p)),
      h('td', {}, ownerList(p.owners)),
      h('td', {}, endsGrant(p, appUserId) ? endGrantForm(appUserId, p.purchaseId, afterChange) : null),
    ),
  );
  return rowsOrNone(rows, 6, 'No purchases.');
}

function transactionList(p) {
  const noun = p.store === 'play_store' ? 'Order' : 'Transaction';
  return h(
    'ul',
    { class: 'transactions' },
    p.transactions.map((t) =>
      h(
        'li',
        { 'data-transaction': t.transactionId },
        `${noun} ${t.transactionId}: ${time(t.purchasedAt)} → ${t.expiresAt ? time(t.expiresAt) : 'for good'}`,
        ` · ${t.periodType}${t.offer ? ` (${t.offer})` : ''} · ${price(t.price)}`,
        t.revoked ? h('span', { class: 'revoked' }, ` · revoked at ${time(t.revoked.at)} (${t.revoked.reason})`) : null,
      ),
    ),
  );
}

function ownerList(owners) {
  if (!owners.length) return 'never claimed';
  return h(
    'ol',
    { class: 'owners' },
    owners.map((o) =>
      h(
        'li',
        {},
        `${time(o.at)}: ${o.via === 'refused' ? `claim by ${o.appUserId} refused (owner ${o.previousAppUserId})` : `${o.appUserId} (${o.via.replaceAll('_', ' ')})`}`,
        o.previousAppUserId && o.via !== 'refused' ? ` from ${o.previousAppUserId}` : '',
        o.by ? ` by ${o.by}${o.reason ? `: ${o.reason}` : ''}` : '',
      ),
    ),
  );
}

/** A promotional grant of this customer that has not ended, nor been ended. */
function endsGrant(p, appUserId) {
  const grant = p.transactions.at(-1);
  if (p.store !== 'promotional' || p.owner !== appUserId || !grant || grant.revoked) return false;
  return !grant.expiresAt || Date.parse(grant.expiresAt) > Date.now();
}

function endGrantForm(appUserId, grantId, afterChange) {
  const reason = h('input', { 'aria-label': `Reason to end grant ${grantId}`, required: '', size: '20' });
  const end = attempt(async () => {
    const why = reason.value.trim();
    const path = `/v1/admin/customers/${customerPath(appUserId)}/grants/${encodeURIComponent(grantId)}`;
    await api('DELETE', `${path}?reason=${encodeURIComponent(why)}`);
    await afterChange(`Grant ${grantId} ended.`);
  });
  return h('form', { class: 'row', onsubmit: end }, reason, h('button', { type: 'submit' }, 'End grant'));
}
