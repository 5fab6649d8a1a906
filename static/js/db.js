// IndexedDB: the pack, drafts, photos (as Blobs), the outbox and the sent log, in one database.
// No DOM here: the service worker imports this module too (Background Sync).

const NAME = "liandu-inspect";
const VERSION = 1;
export const STORES = ["kv", "drafts", "photos", "outbox", "sent"];

let opening = null;

/** Open the database once per context, creating the stores on first use. */
export function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(NAME, VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        db.createObjectStore("kv"); // pack, pack_etag, user, csrf, last_sync, …
        db.createObjectStore("drafts", { keyPath: "visit_id" });
        db.createObjectStore("photos", { keyPath: "sha256" });
        // The outbox keeps the order things were saved in: seq is the replay order.
        const outbox = db.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
        outbox.createIndex("ref", "ref");
        db.createObjectStore("sent", { keyPath: "uuid" });
      };
      request.onsuccess = () => {
        const db = request.result;
        db.onversionchange = () => { db.close(); opening = null; };
        resolve(db);
      };
      request.onerror = () => { opening = null; reject(request.error); };
    });
  }
  return opening;
}

/** Resolve with an IDBRequest's result. */
export function req(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/**
 * Run fn(stores) in one transaction and resolve after it commits.
 * fn may be async but must await only IndexedDB requests, or the transaction closes early.
 */
export async function tx(names, mode, fn) {
  const db = await open();
  const list = [].concat(names);
  const t = db.transaction(list, mode);
  const committed = new Promise((resolve, reject) => {
    t.oncomplete = () => resolve();
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error || new DOMException("Transaction aborted", "AbortError"));
  });
  const stores = {};
  for (const name of list) stores[name] = t.objectStore(name);
  let value;
  try {
    value = await fn(stores, t);
  } catch (err) {
    try { t.abort(); } catch { /* already finished */ }
    await committed.catch(() => {});
    throw err;
  }
  await committed;
  return value;
}

export const get = (store, key) => tx(store, "readonly", (s) => req(s[store].get(key)));
export const getAll = (store) => tx(store, "readonly", (s) => req(s[store].getAll()));
export const put = (store, value, key) => tx(store, "readwrite", (s) => { s[store].put(value, key); });
export const del = (store, key) => tx(store, "readwrite", (s) => { s[store].delete(key); });
export const count = (store) => tx(store, "readonly", (s) => req(s[store].count()));

export const kvGet = (key) => get("kv", key);
export const kvSet = (key, value) => put("kv", value, key);
