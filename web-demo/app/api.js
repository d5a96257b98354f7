// The REST API of docs/api.md, relative to this page's origin (`/api/v1`), with an
// admin bearer token.

/** An API error: the HTTP status, dcx's `code` and `message` (and a deck's problems). */
export class ApiError extends Error {
  constructor(status, code, message, problems) {
    super(message || code);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.problems = problems || [];
  }
}

const WORDS = {
  unauthorized: 'no token was sent',
  token_invalid: 'the token is not valid (forged, malformed or signed with another key)',
  token_expired: 'the token has expired: use a new one',
  forbidden: 'the REST API takes admin tokens only',
  api_disabled: 'the gateway has no [signaling] token_key, so its API is off',
  not_found: 'not found',
  conflict: 'more than one browser session has this call id',
};

/** Words for people about an API error. */
export function apiErrorWords(e) {
  if (!(e instanceof ApiError)) return (e && e.message) || String(e);
  const w = WORDS[e.code];
  return w ? `${w} (${e.status} ${e.code})` : `${e.message} (${e.status} ${e.code})`;
}

/**
 * A client for one token.
 * @param {string} token an admin token
 * @param {string} [base]
 */
export function api(token, base = 'api/v1') {
  const root = new URL(base.endsWith('/') ? base : `${base}/`, new URL('/', location.href));
  async function request(method, path, body, type) {
    const headers = { Authorization: `Bearer ${token}` };
    if (type) headers['Content-Type'] = type;
    let resp;
    try {
      resp = await fetch(new URL(path, root), { method, headers, body });
    } catch (e) {
      throw new ApiError(0, 'network', `the gateway could not be reached: ${e.message}`);
    }
    const text = await resp.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    if (!resp.ok) {
      const err = json && json.error;
      throw new ApiError(resp.status, err?.code || `http_${resp.status}`, err?.message || text.slice(0, 200), err?.problems);
    }
    return json;
  }
  return {
    calls: () => request('GET', 'calls'),
    hangUp: (id, session) => request('DELETE', `calls/${encodeURIComponent(id)}${session ? `?session=${encodeURIComponent(session)}` : ''}`),
    agents: () => request('GET', 'agents'),
    queues: () => request('GET', 'queues'),
    trunks: () => request('GET', 'trunks'),
    deck: () => request('GET', 'deck'),
    putDeck: (csv) => request('PUT', 'deck', csv, 'text/csv'),
    cdrs: (params = {}) => request('GET', `cdrs?${new URLSearchParams(params)}`),
  };
}
