// The hub's API, as the pages call it: JSON in and out, the session cookie sent by
// the browser. A 401 means the session ended: back to the login page, then here.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// Set while the owner logs out: calls that come back 401 meanwhile are not an
// "expired" session.
let leaving = false;
export function loggingOut() {
  leaving = true;
}

export function toLogin(reason) {
  if (leaving) return;
  const next = location.pathname + location.hash;
  location.assign(`/login?${reason ? reason + '&' : ''}next=${encodeURIComponent(next)}`);
}

export async function api(method, path, body) {
  const init = { method, headers: { accept: 'application/json' }, credentials: 'same-origin' };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const resp = await fetch('/api/v1' + path, init);
  if (resp.status === 401 && !path.startsWith('/login')) {
    toLogin('expired=1');
    throw new ApiError(401, 'Your session has ended; log in again.');
  }
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { error: text };
  }
  if (!resp.ok) {
    throw new ApiError(resp.status, (data && data.error) || `the hub answered ${resp.status}`);
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body === undefined ? {} : body);
export const patch = (path, body) => api('PATCH', path, body);
export const del = (path) => api('DELETE', path);
