// The only module that calls fetch: JSON under /api/v1, the session cookie, X-CSRF-Token on writes.
// No DOM here: the service worker imports it too.
import { kvGet, kvSet } from "./db.js";

const BASE = "/api/v1";
let csrf = null;

/** An answer other than 2xx/304, carrying the server's {code, message, details}. */
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

/** The request never reached the server, or no answer came back. */
export class NetworkError extends Error {}

export async function setCsrf(token) {
  csrf = token;
  await kvSet("csrf", token);
}

async function csrfToken() {
  if (csrf === null) csrf = (await kvGet("csrf")) || "";
  return csrf;
}

/** Send one request; resolve {status, data, headers} or throw ApiError / NetworkError. */
export async function request(method, path, { json, body, headers = {}, retryCsrf = true } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin",
                 cache: "no-store" };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  } else if (body !== undefined) {
    init.body = body;
  }
  if (!["GET", "HEAD"].includes(method)) init.headers["X-CSRF-Token"] = await csrfToken();
  let response;
  try {
    response = await fetch(BASE + path, init);
  } catch (err) {
    throw new NetworkError(err && err.message ? err.message : "network");
  }
  if (response.status === 304) return { status: 304, data: null, headers: response.headers };
  let data = null;
  const type = response.headers.get("Content-Type") || "";
  if (method !== "HEAD" && response.status !== 204 && type.includes("json")) {
    try { data = await response.json(); } catch { throw new NetworkError("truncated answer"); }
  }
  if (response.ok) return { status: response.status, data, headers: response.headers };
  const error = (data && data.error) || {};
  const code = error.code || `http_${response.status}`;
  // A stale CSRF token (the session was renewed elsewhere): fetch the current one and try once more.
  if (code === "csrf" && retryCsrf) {
    await me();
    return request(method, path, { json, body, headers, retryCsrf: false });
  }
  throw new ApiError(response.status, code, error.message, error.details);
}

const get = (path, opts) => request("GET", path, opts);

// --- auth ---------------------------------------------------------------------------------------
/** Sign in; resolve {user, pack, etag}. The pack comes with the answer (null for a user without one),
 *  saving the round trip of GET /pack before the first screen on a slow link. */
export async function login(username, password) {
  const { data } = await request("POST", "/auth/login?include=pack",
                                 { json: { username, password }, retryCsrf: false });
  await setCsrf(data.csrf_token);
  return { user: data.user, pack: data.pack, etag: data.pack_etag };
}
export async function logout() {
  try { await request("POST", "/auth/logout", { retryCsrf: false }); } finally { await setCsrf(""); }
}
export async function me() {
  const { data } = await request("GET", "/me");
  await setCsrf(data.csrf_token);
  return data.user;
}

// --- the offline pack ----------------------------------------------------------------------------
/** Fetch the pack; resolve null when the server says it has not changed (304). */
export async function pack(etag) {
  const headers = etag ? { "If-None-Match": etag } : {};
  const { status, data, headers: h } = await get("/pack", { headers });
  return status === 304 ? null : { pack: data, etag: h.get("ETag") };
}

// --- capture -------------------------------------------------------------------------------------
export const putInspection = (uuid, body) => request("PUT", `/inspections/${uuid}`, { json: body });

/** Return {offset, complete}: how many bytes of a photo the server holds, and whether it is stored whole. */
export async function evidenceOffset(sha256) {
  const { headers } = await request("HEAD", `/evidence/${sha256}`);
  return { offset: Number(headers.get("Upload-Offset") || 0), complete: headers.get("Upload-Complete") === "1" };
}
export const putEvidence = (sha256, blob) =>
  request("PUT", `/evidence/${sha256}`, { body: blob, headers: { "Content-Type": "application/octet-stream" } });
export const patchEvidence = (sha256, offset, blob, total) =>
  request("PATCH", `/evidence/${sha256}`, { body: blob, headers: {
    "Content-Type": "application/offset+octet-stream", "Upload-Offset": String(offset),
    "Upload-Length": String(total) } });
export const thumbUrl = (sha256) => `${BASE}/evidence/${sha256}/thumb`;
export const displayUrl = (sha256) => `${BASE}/evidence/${sha256}/display`;

// --- squad leader --------------------------------------------------------------------------------
const qs = (params) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : "";
};
export const rounds = (params = {}) => get(`/rounds${qs(params)}`).then((r) => r.data);
export const round = (id) => get(`/rounds/${id}`).then((r) => r.data);
export const createRound = (body) => request("POST", "/rounds", { json: body }).then((r) => r.data);
export const setTeam = (id, userIds, reason) =>
  request("PUT", `/rounds/${id}/team`, { json: { user_ids: userIds, reason } }).then((r) => r.data);
export const cancelRound = (id, reason) =>
  request("POST", `/rounds/${id}/cancel`, { json: { reason } }).then((r) => r.data);
export const rectifications = (params = {}) => get(`/rectifications${qs(params)}`).then((r) => r.data);
export const scenes = () => get("/scenes").then((r) => r.data);
export const targets = (params = {}) => get(`/targets${qs(params)}`).then((r) => r.data);
export const squad = (id) => get(`/squads/${id}`).then((r) => r.data);

// --- supervisor ----------------------------------------------------------------------------------
export const reviewQueue = (params = {}) => get(`/reviews/queue${qs(params)}`).then((r) => r.data);
export const reviewInspection = (id) => get(`/reviews/inspections/${id}`).then((r) => r.data);
export const review = (id, body) => request("POST", `/inspections/${id}/reviews`, { json: body }).then((r) => r.data);
/** Records the sync kept aside instead of overwriting ({items, next_cursor}), one in full, resolving one. */
export const conflicts = (params = {}) => get(`/conflicts${qs(params)}`).then((r) => r.data);
export const conflict = (id) => get(`/conflicts/${id}`).then((r) => r.data);
export const resolveConflict = (id, resolution) =>
  request("POST", `/conflicts/${id}/resolve`, { json: { resolution } }).then((r) => r.data);

// --- enterprises' evaluations (online only) --------------------------------------------------------
/** Aggregates: a leader's own squad (five or more, completed months), or per squad and department. */
export const evaluationSummary = () => get("/evaluations/summary").then((r) => r.data);
/** One page of written comments ({items, next_cursor}); supervisors and admins only. */
export const evaluationComments = (params = {}) => get(`/evaluations/comments${qs(params)}`).then((r) => r.data);
