// The app: boot, sign-in, the status bar, the router, and the inspector's round list (first paint).
// Other screens load on demand. api.js alone talks to the server; outbox.js alone replays the queue.
import * as api from "./api.js";
import * as db from "./db.js";
import * as outbox from "./outbox.js";
import * as P from "./pack.js";
import { currentLang, fmtDate, fmtEndDate, fmtTime, setLang, t } from "./i18n.js";
import { announce, back, distanceM, go, h, lastPosition, locate, mount, route } from "./ui.js";

const FLUSH_EVERY_MS = 60 * 1000;

export const state = {
  user: null,
  pack: P.index(null),
  packAt: null,
  overlay: new Map(), // visit_id -> "queued" | "attention" | "sent" (what this phone did)
  returnTo: null,
};

const $ = (id) => document.getElementById(id);
const roles = () => (state.user ? state.user.roles || [] : []);
const has = (...r) => r.some((x) => roles().includes(x));
const fieldUser = () => has("inspector", "leader");

// --- boot ------------------------------------------------------------------------------------------

async function boot() {
  await setLang(currentLang());
  translateShell();
  $("lang").addEventListener("click", async () => {
    await setLang(currentLang() === "en" ? "zh-CN" : "en");
    translateShell();
    render();
  });
  $("signout").addEventListener("click", signOut);
  $("syncnow").addEventListener("click", () => syncNow("button"));
  window.addEventListener("hashchange", render);
  window.addEventListener("online", () => { updateStatus(); syncNow("online"); });
  window.addEventListener("offline", updateStatus);
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") syncNow(); });
  setInterval(() => syncNow(), FLUSH_EVERY_MS);
  outbox.events.addEventListener("changed", () => { refreshOverlay().then(updateStatus); });
  outbox.events.addEventListener("auth-required", () => askToSignIn());
  outbox.events.addEventListener("attention", () => { refreshOverlay().then(updateStatus); announce(t("status_attention"), "error"); });
  outbox.events.addEventListener("drained", () => { refreshPack(); });

  state.user = (await db.kvGet("user")) || null;
  const stored = await db.kvGet("pack");
  state.pack = P.index(stored);
  state.packAt = (await db.kvGet("pack_at")) || null;
  await refreshOverlay();
  translateShell();
  render();
  // A returning inspector gets the worker at once; a first visit waits until the round list is in,
  // so precaching the shell does not compete with signing in and the pack on a slow link.
  if (state.user) {
    registerWorker();
    if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => {});
  }
  else setTimeout(registerWorker, 20000);
  installInvite();
  if (state.user && navigator.onLine) {
    try {
      state.user = await api.me();
      await db.kvSet("user", state.user);
      translateShell();
    } catch (err) {
      if (err instanceof api.ApiError && err.status === 401) return askToSignIn();
    }
    syncNow();
  }
}

function translateShell() {
  document.title = t("app_name");
  $("brand").textContent = t("app_name");
  $("skip").textContent = t("skip");
  $("lang").textContent = t("lang_switch");
  $("lang").setAttribute("aria-label", t("lang_switch_label"));
  $("signout").textContent = t("sign_out");
  $("signout").hidden = !state.user;
  $("syncnow").textContent = t("sync_now");
  $("nav").setAttribute("aria-label", t("nav"));
  $("update-text").textContent = t("update_ready");
  $("update-go").textContent = t("update");
  $("install-go").textContent = t("install");
  $("install-no").textContent = t("dismiss");
  renderNav();
  updateStatus();
}

function renderNav() {
  const nav = $("nav");
  nav.hidden = !state.user;
  if (!state.user) return nav.replaceChildren();
  const here = route()[0] || "";
  const tabs = [];
  if (fieldUser()) tabs.push(["", "nav_rounds"]);
  if (has("leader", "admin")) tabs.push(["leader", "nav_leader"]);
  if (has("supervisor", "admin")) tabs.push(["review", "nav_review"]);
  if (has("leader", "supervisor", "admin")) tabs.push(["evaluations", "nav_evaluations"]);
  tabs.push(["outbox", "nav_outbox"]);
  const current = (path) => (path === here || (path === "" && ["round", "visit"].includes(here)) ? "page" : null);
  mount(nav, h("ul", {}, tabs.map(([path, key]) =>
    h("li", {}, h("a", { href: `#/${path}`, "aria-current": current(path) }, t(key))))));
}

// --- sync ------------------------------------------------------------------------------------------

let syncing = null;
/** Flush the outbox, then refresh the pack: on start, online, visible, the timer, and the button. */
export function syncNow(reason = "auto") {
  const byHand = reason === "button";
  if (!state.user || !navigator.onLine || outbox.isPaused()) {
    if (byHand && !navigator.onLine) announce(t("need_network"), "error");
    return Promise.resolve();
  }
  if (syncing) return syncing;
  $("syncnow").disabled = true;
  $("syncnow").textContent = t("syncing");
  syncing = (async () => {
    try {
      await outbox.flush(reason);
      await refreshPack();
    } finally {
      syncing = null;
      $("syncnow").disabled = false;
      $("syncnow").textContent = t("sync_now");
      updateStatus();
    }
  })();
  return syncing;
}

let packing = null;
async function refreshPack() {
  if (!state.user || !fieldUser() || !navigator.onLine || outbox.isPaused()) return;
  if (packing) return packing;
  packing = (async () => {
    try {
      const got = await api.pack(await db.kvGet("pack_etag"));
      await keepPack(got);
      await refreshOverlay();
      updateStatus();
      if (got && !isEditing()) render();
    } catch (err) {
      if (err instanceof api.ApiError && err.status === 401) askToSignIn();
    } finally {
      packing = null;
      registerWorker();
    }
  })();
  return packing;
}

/** Store a pack the server sent ({pack, etag}; null: unchanged, 304) and make it the one shown. */
async function keepPack(got) {
  const now = new Date().toISOString();
  await db.tx("kv", "readwrite", (s) => {
    if (got) {
      s.kv.put(got.pack, "pack");
      s.kv.put(got.etag || null, "pack_etag");
    }
    s.kv.put(now, "pack_at");
    s.kv.put(now, "last_sync");
  });
  if (got) state.pack = P.index(got.pack);
  state.packAt = now;
}

/** Don't re-render under an inspector who is filling a form, or a reader who paged through comments. */
const isEditing = () => ["visit", "leader", "evaluations"].includes(route()[0]);

async function refreshOverlay() {
  const [entries, sent] = await Promise.all([db.getAll("outbox"), db.getAll("sent")]);
  const overlay = new Map();
  for (const s of sent) if (s.status !== "kept") overlay.set(s.visit_id, "sent"); // kept: not stored as sent
  for (const e of entries) {
    if (e.kind !== "inspection") continue;
    overlay.set(e.visit_id, e.state === "attention" ? "attention" : "queued");
  }
  state.overlay = overlay;
}

export async function updateStatus() {
  const online = navigator.onLine;
  const net = $("net");
  net.textContent = online ? t("online") : t("offline");
  net.className = online ? "net on" : "net off";
  const sum = await outbox.summary();
  $("count").textContent = t("outbox_n", { n: sum.pending });
  const attention = $("attention");
  attention.hidden = sum.attention === 0;
  attention.textContent = t("attention_n", { n: sum.attention });
  $("last").textContent = sum.lastSync ? t("last_sync", { t: fmtTime(sum.lastSync) }) : t("never_synced");
  document.body.dataset.outbox = String(sum.pending);
  document.body.dataset.attention = String(sum.attention);
}

// --- service worker, update banner, install invitation ------------------------------------------------

let registered = false;
function registerWorker() {
  if (registered || !("serviceWorker" in navigator)) return;
  registered = true;
  let reloading = false;
  navigator.serviceWorker.register("/sw.js", { scope: "/", type: "module" }).then((reg) => {
    const offer = (worker) => {
      if (!worker || !navigator.serviceWorker.controller) return; // first install: nothing to swap
      $("update").hidden = false;
      $("update-go").onclick = () => { reloading = true; worker.postMessage({ type: "skip-waiting" }); };
    };
    if (reg.waiting) offer(reg.waiting);
    reg.addEventListener("updatefound", () => {
      const worker = reg.installing;
      worker.addEventListener("statechange", () => { if (worker.state === "installed") offer(worker); });
    });
    // Check for a new version now and then; swapping waits for the inspector's tap on 更新.
    setInterval(() => reg.update().catch(() => {}), 30 * 60 * 1000);
  }).catch(() => {});
  navigator.serviceWorker.addEventListener("controllerchange", () => { if (reloading) location.reload(); });
  navigator.serviceWorker.addEventListener("message", (e) => {
    if (e.data && e.data.type === "flush") syncNow();
  });
}

/** Ask the browser to wake us for the outbox when signal returns (Background Sync, where it exists). */
export async function requestBackgroundSync() {
  try {
    const reg = await navigator.serviceWorker.ready;
    if (reg.sync) await reg.sync.register("li-outbox");
  } catch { /* not supported or not allowed: the timer and the online event still flush */ }
}

function installInvite() {
  const banner = $("install");
  if (localStorage.getItem("li-install-dismissed")) return;
  const standalone = matchMedia("(display-mode: standalone)").matches || navigator.standalone;
  if (standalone) return;
  $("install-no").onclick = () => { banner.hidden = true; localStorage.setItem("li-install-dismissed", "1"); };
  window.addEventListener("beforeinstallprompt", (e) => {
    e.preventDefault();
    $("install-text").textContent = t("install_invite");
    $("install-go").hidden = false;
    $("install-go").onclick = async () => { banner.hidden = true; e.prompt(); };
    banner.hidden = false;
  });
  if (/iphone|ipad|ipod/i.test(navigator.userAgent)) {
    $("install-text").textContent = t("install_ios");
    $("install-go").hidden = true;
    banner.hidden = false;
  }
}

// --- sign in ---------------------------------------------------------------------------------------

function askToSignIn() {
  const here = location.hash;
  if (!here.startsWith("#/login")) state.returnTo = here;
  location.hash = "#/login/expired";
}

async function signOut() {
  try { if (navigator.onLine) await api.logout(); } catch { /* signed out locally anyway */ }
  // The outbox and drafts stay: queued work is never dropped by signing out.
  await db.tx("kv", "readwrite", (s) => { s.kv.delete("user"); s.kv.delete("pack"); s.kv.delete("pack_etag"); });
  state.user = null;
  state.pack = P.index(null);
  translateShell();
  go("login");
}

function loginScreen(main, expired) {
  const error = h("p", { id: "login-error", class: "error", role: "alert" });
  const form = h("form", { class: "card login", "aria-labelledby": "login-title" },
    h("h2", { id: "login-title" }, t("sign_in")),
    expired ? h("p", { class: "notice", role: "alert" }, t("session_expired")) : null,
    h("label", { for: "username" }, t("username")),
    h("input", { id: "username", name: "username", autocomplete: "username", required: true, autocapitalize: "none",
                 spellcheck: "false", value: expired && state.user ? state.user.username : "" }),
    h("label", { for: "password" }, t("password")),
    h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true }),
    error,
    h("button", { type: "submit", class: "primary", id: "login-submit" }, t("sign_in")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = $("login-submit");
    if (!navigator.onLine) { error.textContent = t("need_network"); return; }
    button.disabled = true;
    button.textContent = t("signing_in");
    try {
      const signedIn = await api.login(form.username.value.trim(), form.password.value);
      state.user = signedIn.user;
      await db.kvSet("user", signedIn.user);
      // A field user's pack came with the answer: the round list shows now, not after another round trip.
      if (signedIn.pack) await keepPack(signedIn);
      if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => {});
      translateShell();
      const target = state.returnTo && !state.returnTo.startsWith("#/login") ? state.returnTo : "#/";
      state.returnTo = null;
      location.hash = target;
      if (location.hash === target) render();
      await outbox.resume();
      syncNow();
    } catch (err) {
      error.textContent = err instanceof api.ApiError
        ? (err.code === "auth.locked" ? t("locked_out") : err.status === 401 ? t("bad_credentials") : err.message)
        : t("need_network");
    } finally {
      button.disabled = false;
      button.textContent = t("sign_in");
    }
  });
  mount(main, form);
  $("username").focus();
}

// --- router ----------------------------------------------------------------------------------------

const lazy = {
  visit: () => import("./screens/visit.js"),
  leader: () => import("./screens/leader.js"),
  review: () => import("./screens/review.js"),
  evaluations: () => import("./screens/evaluations.js"),
  outbox: () => import("./screens/queue.js"),
};

let renderSeq = 0;
export async function render() {
  const seq = ++renderSeq;
  const main = $("main");
  const [screen, ...args] = route();
  renderNav();
  if (screen === "login") return loginScreen(main, args[0] === "expired");
  if (!state.user) return loginScreen(main, false);
  try {
    if (!screen) {
      if (!fieldUser() && has("supervisor")) return go("review");
      return roundsScreen(main);
    }
    if (screen === "round") return roundScreen(main, Number(args[0]));
    if (lazy[screen]) {
      const mod = await lazy[screen]();
      if (seq !== renderSeq) return;
      return await mod.render(main, args, ctx);
    }
    go("");
  } catch (err) {
    if (err instanceof api.ApiError && err.status === 401) return askToSignIn();
    mount(main, h("p", { class: "error", role: "alert" },
      err instanceof api.NetworkError ? t("need_network") : t("error_generic", { msg: err.message })));
  }
}

/** What lazily loaded screens get from the app. */
export const ctx = { state, render, syncNow, updateStatus, refreshOverlay, requestBackgroundSync,
                     refreshPack: () => refreshPack(), has, askToSignIn };

// --- the inspector's rounds ---------------------------------------------------------------------------

function statusBadge(status) {
  return h("span", { class: `badge s-${status}` }, t(`status_${status}`));
}

function visitStatus(visit) {
  const local = state.overlay.get(visit.id);
  if (local === "attention") return "attention";
  if (local === "queued") return "queued";
  if (local === "sent" && visit.status === "pending") return "inspected";
  return visit.status || "pending";
}

function roundsScreen(main) {
  const ix = state.pack;
  const active = ix.rounds.filter((r) => r.status !== "cancelled" && r.status !== "completed");
  active.sort((a, b) => String(P.windowOf(a).end).localeCompare(String(P.windowOf(b).end)));
  const list = h("ul", { class: "cards", id: "rounds-list", "aria-label": t("today_rounds") },
    active.map((r) => {
      const visits = P.visitsOf(ix, r.id);
      const done = visits.filter((v) => visitStatus(v) !== "pending").length;
      return h("li", {}, h("a", { class: "card link-card", href: `#/round/${r.id}` },
        h("span", { class: "card-title" }, P.sceneName(r)),
        h("span", { class: "meta" }, t(`kind_${r.kind}`), " · ",
          t("window", { a: fmtDate(P.windowOf(r).start), b: fmtEndDate(P.windowOf(r).end) })),
        h("span", { class: "row" }, statusBadge(r.status),
          h("progress", { max: visits.length || 1, value: done, "aria-label": t("visits_n", { done, n: visits.length }) }),
          h("span", { class: "meta" }, t("visits_n", { done, n: visits.length })))));
    }));
  mount(main,
    h("h2", {}, t("today_rounds")),
    state.packAt ? h("p", { class: "meta" }, t("pack_updated", { t: fmtTime(state.packAt) })) : null,
    active.length ? list : h("p", { class: "empty", id: "rounds-list", "data-empty": "1" }, t("no_rounds")));
}

function fmtDistance(m) {
  if (m === null || m === undefined) return "";
  return m >= 1000 ? t("km", { n: (m / 1000).toFixed(1) }) : t("m", { n: Math.round(m) });
}

function roundScreen(main, roundId) {
  const ix = state.pack;
  const r = ix.round.get(roundId);
  if (!r) return go("");
  const visits = P.visitsOf(ix, roundId);
  const draw = () => {
    const here = lastPosition();
    const rows = visits.map((v) => {
      const target = P.targetOf(ix, v);
      const d = here && target.lat != null ? distanceM(here.lat, here.lon, target.lat, target.lon) : null;
      return { v, target, d };
    });
    rows.sort((a, b) => (a.d ?? Infinity) - (b.d ?? Infinity));
    return h("ul", { class: "cards", id: "visits-list" }, rows.map(({ v, target, d }) =>
      h("li", {}, h("a", { class: "card link-card", href: `#/visit/${v.id}`, dataset: { visit: v.id } },
        h("span", { class: "card-title" }, target.name || `#${v.target_id}`),
        h("span", { class: "meta" }, target.address || ""),
        h("span", { class: "row" }, statusBadge(visitStatus(v)),
          target.risk ? h("span", { class: `badge r-${target.risk}` }, t(`risk_${target.risk}`)) : null,
          d !== null ? h("span", { class: "meta" }, t("distance", { d: fmtDistance(d) })) : null)))));
  };
  const holder = h("div", {}, draw());
  mount(main, back("", t("back")),
    h("h2", {}, P.sceneName(r)),
    h("p", { class: "meta" }, t(`kind_${r.kind}`), " · ", t("window", { a: fmtDate(P.windowOf(r).start), b: fmtEndDate(P.windowOf(r).end) })),
    h("h3", {}, t("round_visits")), holder);
  locate().then((fix) => { if (fix && route()[0] === "round") holder.replaceChildren(draw()); });
}

boot();
