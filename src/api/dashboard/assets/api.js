// The dashboard's only door to certgate: the REST API on this same origin,
// with the API key the user signed in with. The key lives in sessionStorage,
// so it is gone when the tab closes.

const KEY_STORAGE = 'certgate.api_key';

export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

// An API error as people read it: `message` is the API's own one-sentence
// msg (or a plain description of a network failure), `field` the input it
// concerns (the API's details.field, e.g. "certificate_pem" or
// "certificate_management_policy.private_key_type"), or null.
export class ApiError extends Error {
  constructor({status, code, message, operationId, field}) {
    super(message);
    this.status = status;
    this.code = code;
    this.operationId = operationId;
    this.field = field ?? null;
    this.unauthorized = isAuthError(code);
  }
}

// ngrok's codes for a missing or wrong API key (ERR_NGROK_200 to 208), which
// certgate answers with HTTP 403 as ngrok does. 403 alone does not say it: a
// plan that lacks a feature is a 403 too.
export function isAuthError(code) {
  return /^ERR_NGROK_20[0-8]$/.test(code ?? '');
}

// Listeners for "the key stopped working": the app signs out.
const unauthorizedListeners = new Set();
export function onUnauthorized(fn) {
  unauthorizedListeners.add(fn);
}

// Turns an absolute API URL (the API's `uri` and `next_page_uri`) into a
// path on this origin.
export function pathOf(uri) {
  const u = new URL(uri, location.origin);
  return u.pathname + u.search;
}

export async function request(method, path, body) {
  const headers = {'Ngrok-Version': '2', Accept: 'application/json'};
  const key = apiKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  } catch (e) {
    throw new ApiError({status: 0, code: null,
      message: `certgate did not answer (${e.message}). Check that the server is running and try again.`});
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (res.ok) {
    if (data === null) {
      throw new ApiError({status: res.status, code: null,
        message: `certgate answered with HTTP status ${res.status} but no readable body.`});
    }
    return data;
  }
  const err = data && typeof data.msg === 'string'
    ? new ApiError({status: res.status, code: data.error_code, message: data.msg,
                    operationId: data.details?.operation_id, field: data.details?.field})
    : new ApiError({status: res.status, code: null,
                    message: `certgate answered with HTTP status ${res.status} and no explanation.`});
  if (err.unauthorized && !checkingKey) unauthorizedListeners.forEach((fn) => fn(err));
  throw err;
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body);
export const patch = (path, body) => request('PATCH', path, body);
export const del = (path) => request('DELETE', path);

// Every item of a list, following next_page_uri (bounded, so a huge account
// cannot hang the page). The array's `truncated` is true when it stopped at
// that bound with more pages left.
export async function listAll(collection, maxPages = 50) {
  const items = [];
  let path = `/${collection}?limit=100`;
  for (let page = 0; path && page < maxPages; page += 1) {
    const data = await get(path);
    items.push(...(data[collection] ?? []));
    path = data.next_page_uri ? pathOf(data.next_page_uri) : null;
  }
  items.truncated = Boolean(path);
  return items;
}

// Checks a key without keeping it unless it works.
let checkingKey = false;
export async function signIn(key) {
  const previous = apiKey();
  setApiKey(key);
  checkingKey = true;
  try {
    await get('/tls_certificates?limit=1');
  } catch (e) {
    setApiKey(previous);
    throw e;
  } finally {
    checkingKey = false;
  }
}
