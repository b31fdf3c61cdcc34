// The store's document behind a timeline group: exactly as received (its signature can be
// checked again), and decoded for reading (a JWS's header and payload, the transaction and
// renewal info signed inside it; a Pub/Sub push's data).
import { $, api, h, time } from './page.js';

export async function showDocument(documentId) {
  const document = await api('GET', `/v1/admin/documents/${encodeURIComponent(documentId)}`);
  const notification = document.notification
    ? [document.notification.type, document.notification.subtype].filter(Boolean).join('/')
    : 'not a notification';
  const view = $('#document');
  view.replaceChildren(
    h('h3', { id: 'document-heading' }, `Document ${document.kind}`),
    h(
      'dl',
      { class: 'facts-list' },
      h('dt', {}, 'Id'),
      h('dd', {}, document.documentId),
      h('dt', {}, 'Notification'),
      h('dd', { 'data-field': 'notification' }, notification),
      h('dt', {}, 'Received at'),
      h('dd', {}, time(document.receivedAt)),
      h('dt', {}, 'Content type'),
      h('dd', {}, document.contentType),
    ),
    h('h4', {}, 'Decoded (for reading; verified when it was received)'),
    h('pre', { class: 'decoded' }, JSON.stringify(document.decoded, null, 2)),
    h('details', {}, h('summary', {}, 'Verbatim, as received'), h('pre', { class: 'verbatim' }, document.body)),
    h('button', { type: 'button', onclick: () => (view.hidden = true) }, 'Close document'),
  );
  view.hidden = false;
  view.scrollIntoView?.({ block: 'nearest' });
}
