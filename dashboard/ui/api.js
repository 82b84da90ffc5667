// Calls to the daemon's HTTP API (/api/v1) with the token the user gave,
// kept in localStorage. A 401 answer calls auth.onUnauthorized, which shows
// the token field.

const TOKEN_KEY = "dueq.token";

function stored() {
  try {
    return localStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return ""; // storage disabled: the token lasts for this page only
  }
}

export const auth = {
  token: stored(),
  onUnauthorized: () => {},
};

// setToken keeps the token for later visits; an empty one forgets it.
export function setToken(token) {
  auth.token = token.trim();
  try {
    if (auth.token) localStorage.setItem(TOKEN_KEY, auth.token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled: keep it in memory
  }
}

// APIError is a non-2xx answer: status and the API's "error" text.
export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "APIError";
    this.status = status;
  }
}

// api calls the API and returns the decoded JSON answer, or throws an
// APIError carrying the answer's error text (or a network error).
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (auth.token) headers.Authorization = "Bearer " + auth.token;
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (err) {
    throw new APIError(0, "cannot reach the daemon: " + err.message);
  }
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (resp.status === 401) auth.onUnauthorized();
  if (!resp.ok) {
    const msg = (data && data.error) || `${resp.status} ${resp.statusText}`;
    throw new APIError(resp.status, msg);
  }
  return data;
}

// path joins a path prefix and an id, escaping the id.
export function path(prefix, id, suffix = "") {
  return prefix + "/" + encodeURIComponent(id) + suffix;
}

// eventsURL is the event stream's URL; EventSource cannot send headers, so
// the token goes in the query.
export function eventsURL() {
  const base = "/api/v1/events";
  return auth.token ? base + "?access_token=" + encodeURIComponent(auth.token) : base;
}
