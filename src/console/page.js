// What every part of the console shares: building DOM, calling the admin API with the
// tab's key, showing a refusal in the alert area, and writing times the same way.

export const KEY = 'subledger.adminKey';
export const $ = (selector) => document.querySelector(selector);
export const h = (name, attributes = {}, ...children) => {
  const node = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) {
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  node.append(...children.flat().filter((child) => child !== undefined && child !== null));
  return node;
};

/** A refusal of the API, with its problem document's code and detail. */
export class ApiError extends Error {}

export async function api(method, path, body) {
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

const messages = () => $('#messages');
export const showError = (error) => {
  messages().replaceChildren(h('p', {}, error instanceof ApiError ? error.message : `Unexpected: ${error}`));
};
/** Runs an action of the page, its failure shown in the message area. */
export const attempt = (action) => async (event) => {
  event?.preventDefault();
  messages().replaceChildren();
  try {
    await action(event);
  } catch (error) {
    showError(error);
  }
};
export const time = (iso) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC') : '—');
export const customerPath = (appUserId) => encodeURIComponent(appUserId);
/** A table body's rows, or one row saying there are none. */
export const rowsOrNone = (rows, columns, none) =>
  rows.length ? rows : [h('tr', {}, h('td', { colspan: String(columns) }, none))];
