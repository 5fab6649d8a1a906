// Small DOM helpers: build elements without innerHTML (no injection, CSP-friendly), announce, route.

/** Create an element: h("button", {class: "x", onclick}, "text", child…). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  let initial;
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "value") initial = value; // a property (textarea, select), set once the children are in
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  if (initial !== undefined) el.value = initial;
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace an element's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Say something to screen readers and show it briefly. */
export function announce(text, kind = "info") {
  const box = document.getElementById("toast");
  if (!box) return;
  box.className = `toast toast-${kind}`;
  box.textContent = text;
  box.hidden = false;
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => { box.hidden = true; }, kind === "error" ? 8000 : 4000);
}

/** Return "#/a/b" as ["a", "b"]. */
export const route = () => (location.hash.replace(/^#\/?/, "") || "").split("/").filter(Boolean);
export const go = (path) => { location.hash = `#/${path}`; };

/** A back link to a route. */
/** The items of an API list: a page ({items, next_cursor}) or a plain array. */
export const itemsOf = (data) => (Array.isArray(data) ? data : (data && data.items) || []);
/** The name to show for a thing the API sends as an object ({name}, {full_name}, {title}, {code}) or a string. */
export const nameOf = (x, fallback = "") =>
  (x && typeof x === "object" ? x.name || x.full_name || x.title || x.code : x) || fallback;
export const back = (path, label) => h("a", { href: `#/${path}`, class: "back" }, "‹ ", label);

/** Local ISO 8601 time with the phone's offset (e.g. 2023-04-10T10:00:00+08:00). */
export function isoLocal(date = new Date()) {
  const pad = (n) => String(Math.trunc(Math.abs(n))).padStart(2, "0");
  const off = -date.getTimezoneOffset();
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:`
    + `${pad(date.getMinutes())}:${pad(date.getSeconds())}${off >= 0 ? "+" : "-"}${pad(off / 60)}:${pad(off % 60)}`;
}

/** A random UUID v4 (crypto.randomUUID where the browser has it). */
export function uuid4() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = Array.from(b, (v) => v.toString(16).padStart(2, "0")).join("");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** SHA-256 of a Blob, as lowercase hex, computed on the phone. */
export async function sha256(blob) {
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return Array.from(new Uint8Array(digest), (v) => v.toString(16).padStart(2, "0")).join("");
}

/** Great-circle distance in metres (haversine). */
export function distanceM(lat1, lon1, lat2, lon2) {
  const r = 6371008.8;
  const rad = Math.PI / 180;
  const dlat = (lat2 - lat1) * rad;
  const dlon = (lon2 - lon1) * rad;
  const a = Math.sin(dlat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dlon / 2) ** 2;
  return 2 * r * Math.asin(Math.min(1, Math.sqrt(a)));
}

let lastFix = null;
/** The latest GPS fix, or null. */
export const lastPosition = () => lastFix;

/** Ask for the position; resolve {lat, lon, accuracy_m} or null (denied, none, timeout). */
export function locate(timeout = 15000) {
  return new Promise((resolve) => {
    if (!navigator.geolocation) return resolve(null);
    navigator.geolocation.getCurrentPosition(
      (p) => {
        lastFix = { lat: p.coords.latitude, lon: p.coords.longitude, accuracy_m: Math.round(p.coords.accuracy),
                    at: Date.now() };
        resolve(lastFix);
      },
      () => resolve(null),
      { enableHighAccuracy: true, timeout, maximumAge: 60000 },
    );
  });
}
