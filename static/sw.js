// The service worker, version __STATIC_VERSION__ (a hash of static/ injected by the server).
// It precaches the app shell in its own versioned cache, answers the shell from that cache so the app
// opens with no network at all, leaves other origins, non-GET requests and /api/ alone, deletes only
// its own old caches, and waits for the inspector's tap on 更新 before taking over (no code swapped
// under a half-filled form). Background Sync replays the outbox with the same module the page uses.
import { flush, summary } from "/static/js/outbox.js";

const VERSION = "__STATIC_VERSION__";
const PREFIX = "li-shell-";
const CACHE = PREFIX + VERSION;
const SHELL = [
  "/",
  "/manifest.webmanifest",
  "/static/js/app.js",
  "/static/js/api.js",
  "/static/js/db.js",
  "/static/js/i18n.js",
  "/static/js/i18n-en.js",
  "/static/js/outbox.js",
  "/static/js/pack.js",
  "/static/js/qr.js",
  "/static/js/ui.js",
  "/static/js/screens/visit.js",
  "/static/js/screens/queue.js",
  "/static/js/screens/leader.js",
  "/static/js/screens/review.js",
  "/static/js/screens/evaluations.js",
  "/static/icons/favicon-32.png",
  "/static/icons/icon-192.png",
  "/static/icons/icon-512.png",
  "/static/icons/maskable-512.png",
  "/static/icons/apple-touch-icon.png",
];
const SHELL_PATHS = new Set(SHELL);

self.addEventListener("install", (event) => {
  // cache: "reload" skips the HTTP cache, so a new version never precaches an old file.
  event.waitUntil(caches.open(CACHE).then((cache) =>
    cache.addAll(SHELL.map((url) => new Request(url, { cache: "reload", credentials: "same-origin" })))));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith(PREFIX) && key !== CACHE) await caches.delete(key); // only our own old caches
    }
    await self.clients.claim();
  })());
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "skip-waiting") self.skipWaiting();
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/")) return;
  let key = null;
  if (request.mode === "navigate") {
    if (url.pathname === "/" || url.pathname === "/index.html") key = "/"; // other pages: the network's
  } else if (SHELL_PATHS.has(url.pathname)) {
    key = url.pathname;
  }
  if (!key) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(key, { ignoreSearch: true });
    return hit || fetch(request);
  })());
});

self.addEventListener("sync", (event) => {
  if (event.tag === "li-outbox") event.waitUntil(syncOutbox());
});

async function syncOutbox() {
  const windows = await self.clients.matchAll({ type: "window" });
  if (windows.length) {
    // A page is open: let it flush, so the inspector sees progress and can sign in if asked.
    for (const client of windows) client.postMessage({ type: "flush" });
    return;
  }
  await flush("background-sync");
  const left = await summary();
  if (left.pending > 0 && !left.paused) throw new Error("outbox not empty; let the browser retry later");
}
