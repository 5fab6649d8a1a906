// The outbox: every submission is saved with its outbox entries in one IndexedDB transaction, then
// replayed in order, one entry at a time, and deleted only after the server acknowledged it.
// Network errors and 5xx retry with backoff; 401 pauses until the inspector signs in again;
// 409/422 and other refusals are set aside as "needs attention" with the server's reason. Nothing
// expires. No DOM here: the service worker runs this module for Background Sync.
import * as db from "./db.js";
import * as api from "./api.js";

const CHUNK = 512 * 1024; // photos larger than this go up in resumable pieces
const BACKOFF_MIN_MS = 2000;
const BACKOFF_MAX_MS = 5 * 60 * 1000;

export const events = new EventTarget();
const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel("li-outbox") : null;
if (channel) channel.onmessage = (e) => events.dispatchEvent(new CustomEvent(e.data.type, { detail: e.data.detail }));

let running = null; // the flush in progress: a second caller joins it instead of starting another
let again = false;
let paused = false;
let failures = 0;
let retryAt = 0;
let retryTimer = null;

function emit(type, detail = null, broadcast = true) {
  events.dispatchEvent(new CustomEvent(type, { detail }));
  if (broadcast && channel) channel.postMessage({ type, detail });
}

/** Save a submitted inspection: its photos' upload entries, the record's entry, and drop the draft. */
export async function submit(visitId, uuid, body, photoShas) {
  await db.tx(["drafts", "photos", "outbox"], "readwrite", async (s) => {
    const now = new Date().toISOString();
    const queued = new Set();
    for (const sha of photoShas) {
      if (queued.has(sha)) continue;
      queued.add(sha);
      const photo = await db.req(s.photos.get(sha));
      if (!photo) throw new Error(`photo ${sha} is missing`);
      const pending = await db.req(s.outbox.index("ref").getKey(sha));
      if (pending === undefined) {
        s.outbox.add({ kind: "evidence", ref: sha, visit_id: visitId, state: "pending", attempts: 0,
                       created_at: now, size: photo.blob.size });
      }
    }
    s.outbox.add({ kind: "inspection", ref: uuid, visit_id: visitId, body, state: "pending", attempts: 0,
                   created_at: now });
    s.drafts.delete(visitId);
  });
  emit("changed");
}

/** Return {pending, attention, entries} for the status bar and the outbox screen. */
export async function summary() {
  const entries = await db.getAll("outbox");
  const lastSync = await db.kvGet("last_sync");
  return {
    entries,
    pending: entries.filter((e) => e.state === "pending").length,
    attention: entries.filter((e) => e.state === "attention").length,
    lastSync: lastSync || null,
    paused,
  };
}

/** Put an entry that needed attention back in line (the inspector asked to try again). */
export async function retry(seq) {
  await db.tx("outbox", "readwrite", async (s) => {
    const entry = await db.req(s.outbox.get(seq));
    if (entry) {
      entry.state = "pending";
      entry.attempts = 0;
      s.outbox.put(entry);
    }
  });
  emit("changed");
  return flush("retry");
}

/** Let go of a record the server kept aside for a supervisor (a 409 whose details say "kept"): it moves
 *  from the outbox to the sent list, marked kept. Anything else stays where it is. */
export async function release(seq) {
  await db.tx(["outbox", "sent"], "readwrite", async (s) => {
    const entry = await db.req(s.outbox.get(seq));
    if (!entry || entry.state !== "attention" || !keptByServer(entry)) return;
    s.outbox.delete(seq);
    s.sent.put({ uuid: entry.ref, visit_id: entry.visit_id, status: "kept", evidence: null, id: null,
                 at: new Date().toISOString() });
  });
  emit("changed");
}

/** Whether the server said it keeps this refused record for a supervisor. */
export const keptByServer = (entry) => Boolean(entry.error && entry.error.details && entry.error.details.kept === true);

/** Continue after signing in again. */
export function resume() {
  paused = false;
  failures = 0;
  retryAt = 0;
  emit("resumed");
  return flush("resume");
}

export const isPaused = () => paused;

/** Replay the outbox now; overlapping calls share one run (and one lock across tabs and the worker). */
export function flush(reason = "") {
  // Signal is back, or the inspector asked: try now rather than wait out the backoff.
  if (reason === "online" || reason === "button") {
    retryAt = 0;
    failures = 0;
  }
  if (running) {
    again = true;
    return running;
  }
  running = (async () => {
    try {
      do {
        again = false;
        await withLock(drain);
      } while (again && !paused && Date.now() >= retryAt);
    } finally {
      running = null;
      emit("changed", null, false);
    }
  })();
  return running;
}

async function withLock(fn) {
  if (typeof navigator !== "undefined" && navigator.locks) {
    return navigator.locks.request("li-outbox", { ifAvailable: true }, (lock) => (lock ? fn() : null));
  }
  return fn();
}

async function firstPending() {
  return db.tx("outbox", "readonly", (s) => new Promise((resolve, reject) => {
    const cursor = s.outbox.openCursor();
    cursor.onsuccess = () => {
      const c = cursor.result;
      if (!c) return resolve(null);
      if (c.value.state === "pending") return resolve(c.value);
      c.continue();
    };
    cursor.onerror = () => reject(cursor.error);
  }));
}

async function drain() {
  if (paused || Date.now() < retryAt) return;
  if (typeof navigator !== "undefined" && navigator.onLine === false) return;
  let contacted = false;
  for (;;) {
    const entry = await firstPending();
    if (!entry) break;
    emit("sending", { seq: entry.seq, kind: entry.kind }, false);
    let result;
    try {
      result = await send(entry);
    } catch (err) {
      result = classify(err);
    }
    if (result.ok) {
      contacted = true;
      failures = 0;
      await acknowledge(entry, result.data);
      emit("changed");
      continue;
    }
    if (result.kind === "auth") {
      // The queue waits, untouched, until the inspector signs in again; then resume() continues it.
      paused = true;
      emit("auth-required", { code: result.error.code });
      return;
    }
    if (result.kind === "retry") {
      failures += 1;
      const wait = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (failures - 1)) * (0.75 + Math.random() / 2);
      retryAt = Date.now() + (result.retryAfter ? result.retryAfter * 1000 : wait);
      await db.tx("outbox", "readwrite", async (s) => {
        const fresh = await db.req(s.outbox.get(entry.seq));
        if (fresh) {
          fresh.attempts = (fresh.attempts || 0) + 1;
          fresh.last_error = result.message;
          s.outbox.put(fresh);
        }
      });
      clearTimeout(retryTimer);
      retryTimer = setTimeout(() => flush("backoff"), retryAt - Date.now());
      emit("changed");
      return;
    }
    // Refused: set aside with the server's reason, keep going with the rest; never dropped.
    contacted = true;
    await db.tx("outbox", "readwrite", async (s) => {
      const fresh = await db.req(s.outbox.get(entry.seq));
      if (fresh) {
        fresh.state = "attention";
        fresh.error = result.error;
        fresh.attempts = (fresh.attempts || 0) + 1;
        s.outbox.put(fresh);
      }
    });
    emit("attention", { seq: entry.seq, error: result.error });
  }
  if (contacted || (await db.count("outbox")) === 0) {
    await db.kvSet("last_sync", new Date().toISOString());
  }
  emit("drained");
}

function classify(err) {
  if (err instanceof api.NetworkError) return { kind: "retry", message: "network" };
  if (err instanceof api.ApiError) {
    const error = { status: err.status, code: err.code, message: err.message, details: err.details };
    if (err.status === 401) return { kind: "auth", error };
    if (err.status >= 500) return { kind: "retry", message: `${err.status} ${err.code}` };
    if (err.status === 429) return { kind: "retry", message: err.code, retryAfter: err.details.retry_after };
    return { kind: "attention", error };
  }
  // A local failure (IndexedDB, a missing blob): keep the entry, try again later.
  return { kind: "retry", message: String(err && err.message ? err.message : err) };
}

async function send(entry) {
  if (entry.kind === "evidence") return sendEvidence(entry.ref);
  if (entry.kind === "inspection") {
    const { status, data } = await api.putInspection(entry.ref, entry.body);
    return { ok: true, data: { status, record: data } };
  }
  return { ok: true, data: null };
}

async function sendEvidence(sha256) {
  const photo = await db.get("photos", sha256);
  if (!photo) return { ok: true, data: null }; // already acknowledged by an earlier entry
  const blob = photo.blob;
  const size = blob.size;
  if (size <= CHUNK) {
    await api.putEvidence(sha256, blob); // small: one request; a repeat is harmless (same hash)
    return { ok: true, data: null };
  }
  // Large: ask how much the server holds and continue from there, piece by piece.
  let { offset, complete } = await api.evidenceOffset(sha256);
  if (complete) return { ok: true, data: null };
  if (offset > size) offset = 0;
  while (offset < size) {
    const end = Math.min(size, offset + CHUNK);
    const { headers } = await api.patchEvidence(sha256, offset, blob.slice(offset, end), size);
    const held = Number(headers.get("Upload-Offset"));
    offset = Number.isFinite(held) && held > offset ? held : end;
  }
  return { ok: true, data: null };
}

async function acknowledge(entry, data) {
  await db.tx(["outbox", "photos", "sent"], "readwrite", (s) => {
    s.outbox.delete(entry.seq);
    if (entry.kind === "evidence") s.photos.delete(entry.ref);
    if (entry.kind === "inspection") {
      const record = (data && data.record) || {};
      s.sent.put({ uuid: entry.ref, visit_id: entry.visit_id, status: data && data.status,
                   evidence: record.evidence || null, id: record.id || null, at: new Date().toISOString() });
    }
  });
}
