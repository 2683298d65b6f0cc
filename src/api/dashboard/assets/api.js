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
// msg (or a plain description of a network failure), `field` the form field
// it concerns when we can tell.
export class ApiError extends Error {
  constructor({status, code, message, operationId}) {
    super(message);
    this.status = status;
    this.code = code;
    this.operationId = operationId;
    this.field = fieldForError(code, message);
  }
}

// Listeners for "the key stopped working" (401): the app signs out.
const unauthorizedListeners = new Set();
export function onUnauthorized(fn) {
  unauthorizedListeners.add(fn);
}

// The API's error codes (docs/errors.md) that concern one input.
const FIELD_RANGES = [
  [200, 213, 'certificate_pem'],
  [250, 260, 'private_key_pem'],
  [500, 503, 'domain'],
  [505, 505, 'certificate_id'],
  [506, 506, 'domain'],
  [507, 507, 'certificate_id'],
  [508, 508, 'private_key_type'],
  [514, 514, 'domain'],
  [550, 550, 'url'],
  [551, 551, 'upstream'],
  [552, 553, 'url'],
  [554, 556, 'traffic_policy'],
];
// ngrok's codes that certgate answers in the place of its own (docs/errors.md):
// a name another account holds (413, 414, 417 from POST /reserved_domains;
// 320 from POST /endpoints).
const NGROK_FIELD_CODES = new Map([[413, 'domain'], [414, 'domain'], [417, 'domain'], [320, 'url']]);
// Generic body errors (wrong type, unknown, missing, too long) name their
// field in the message.
// (110, an unknown field, lists the accepted ones after it: not one field.)
const NAMED_FIELD_CODES = new Set([109, 111, 112]);
const KNOWN_FIELDS = ['certificate_pem', 'private_key_pem', 'description', 'metadata', 'domain',
  'certificate_id', 'url', 'upstream', 'traffic_policy'];

export function fieldForError(code, message) {
  const ngrok = Number(/^ERR_NGROK_(\d+)$/.exec(code ?? '')?.[1]);
  if (ngrok) return NGROK_FIELD_CODES.get(ngrok) ?? null;
  const n = Number(/^ERR_CERTGATE_(\d+)$/.exec(code ?? '')?.[1]);
  if (!n) return null;
  for (const [lo, hi, name] of FIELD_RANGES) {
    if (n >= lo && n <= hi) return name;
  }
  if (NAMED_FIELD_CODES.has(n)) {
    return KNOWN_FIELDS.find((f) => new RegExp(`\\b${f}\\b`).test(message ?? '')) ?? null;
  }
  return null;
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
                    operationId: data.details?.operation_id})
    : new ApiError({status: res.status, code: null,
                    message: `certgate answered with HTTP status ${res.status} and no explanation.`});
  if (res.status === 401 && !checkingKey) unauthorizedListeners.forEach((fn) => fn(err));
  throw err;
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body);
export const patch = (path, body) => request('PATCH', path, body);
export const del = (path) => request('DELETE', path);

// Every item of a list, following next_page_uri (bounded, so a huge account
// cannot hang the page).
export async function listAll(collection, maxPages = 50) {
  const items = [];
  let path = `/${collection}?limit=100`;
  for (let page = 0; path && page < maxPages; page += 1) {
    const data = await get(path);
    items.push(...(data[collection] ?? []));
    path = data.next_page_uri ? pathOf(data.next_page_uri) : null;
  }
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
