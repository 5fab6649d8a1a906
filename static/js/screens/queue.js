// The outbox screen: what waits to upload, what needs attention (with the server's reason), what went up.
import * as db from "../db.js";
import * as outbox from "../outbox.js";
import * as P from "../pack.js";
import { fmtTime, t } from "../i18n.js";
import { h, mount } from "../ui.js";

function describe(ix, entry) {
  if (entry.kind === "evidence") return t("kind_evidence", { sha: entry.ref.slice(0, 12) });
  const visit = ix.visit.get(entry.visit_id);
  const target = visit ? P.targetOf(ix, visit) : {};
  return t("kind_inspection", { visit: target.name || `#${entry.visit_id}` });
}

function reason(error) {
  if (!error) return "";
  const fields = error.details && typeof error.details === "object"
    ? Object.entries(error.details).filter(([k]) => k !== "stored" && k !== "kept").map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join("; ")
    : "";
  return `${error.code} — ${error.message || ""}${fields ? ` (${fields})` : ""}`;
}

export async function render(main, _args, ctx) {
  const draw = async () => {
    const ix = ctx.state.pack;
    const sum = await outbox.summary();
    const sent = (await db.getAll("sent")).sort((a, b) => String(b.at).localeCompare(String(a.at))).slice(0, 20);
    const attention = sum.entries.filter((e) => e.state === "attention");
    const pending = sum.entries.filter((e) => e.state === "pending");
    mount(main,
      h("h2", {}, t("outbox_title")),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "primary", id: "queue-sync", onclick: () => ctx.syncNow("button") }, t("sync_now"))),
      attention.length ? h("section", { "aria-labelledby": "att-h", id: "attention-list" },
        h("h3", { id: "att-h", class: "flag" }, t("needs_attention"), ` (${attention.length})`),
        h("ul", { class: "cards" }, attention.map((e) => h("li", { class: "card", dataset: { seq: e.seq, kind: e.kind } },
          h("span", { class: "card-title" }, describe(ix, e)),
          h("span", { class: "badge s-attention" }, t("status_attention")),
          h("p", { class: "error" }, t("server_said", { msg: reason(e.error) })),
          outbox.keptByServer(e) ? h("p", { class: "meta" }, t("kept_by_server")) : null,
          h("div", { class: "actions" },
            outbox.keptByServer(e) ? h("button", { type: "button", class: "release", onclick: async () => { await outbox.release(e.seq); draw(); } },
              t("release")) : null,
            h("button", { type: "button", onclick: async () => { await outbox.retry(e.seq); draw(); } }, t("retry"))))))) : null,
      pending.length ? h("ul", { class: "cards", id: "pending-list", "aria-label": t("outbox_n", { n: pending.length }) },
        pending.map((e) => h("li", { class: "card", dataset: { seq: e.seq, kind: e.kind } },
          h("span", { class: "card-title" }, describe(ix, e)),
          h("span", { class: "badge s-queued" }, t("status_queued")), " ",
          e.attempts ? h("span", { class: "meta" }, t("attempts", { n: e.attempts }), e.last_error ? ` · ${e.last_error}` : "") : null)))
        : (attention.length ? null : h("p", { class: "empty", id: "outbox-empty" }, t("outbox_empty"))),
      sent.length ? h("section", { "aria-labelledby": "sent-h" },
        h("h3", { id: "sent-h" }, t("sent_title")),
        h("ul", { class: "cards", id: "sent-list" }, sent.map((s) => h("li", { class: "card" },
          h("span", { class: "card-title" }, describe(ix, { kind: "inspection", visit_id: s.visit_id })),
          h("span", { class: "meta" }, fmtTime(s.at), " · ",
            s.status === "kept" ? t("sent_kept")
              : s.evidence && s.evidence.missing && s.evidence.missing.length
                ? t("evidence_missing", { n: s.evidence.missing.length }) : t("evidence_ok")))))) : null);
  };
  redraw = draw;
  if (!listening) {
    listening = true;
    outbox.events.addEventListener("changed", () => { if (location.hash.startsWith("#/outbox")) redraw(); });
  }
  await draw();
}

let redraw = () => {};
let listening = false;
