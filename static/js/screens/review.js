// The supervisor: the audit queue (evidence-complete first), one record with its photos full-screen,
// their metadata and anomaly flags, and the decision with a reason (schemas/reviews.py).
import * as api from "../api.js";
import { fmtTime, t, tOr } from "../i18n.js";
import { announce, back, go, h, mount, itemsOf as list, nameOf as name } from "../ui.js";

const scenesOf = (x) => (x.scenes || []).map((s) => name(s)).join(" + ") || name(x.scene, "");

export async function render(main, args) {
  if (!navigator.onLine) return mount(main, h("p", { class: "notice" }, t("need_network")));
  if (args[0] === "conflicts") return args[1] ? conflictScreen(main, Number(args[1])) : conflictsScreen(main);
  if (args[0]) return recordScreen(main, Number(args[0]));
  mount(main, h("p", { class: "meta" }, t("loading")));
  const [queued, kept] = await Promise.all([api.reviewQueue(), api.conflicts({ limit: 200 })]);
  const items = list(queued);
  const open = list(kept).length;
  // The server sends evidence-complete records first; a stable sort keeps that if it ever does not.
  items.sort((a, b) => Number(Boolean(b.evidence_complete)) - Number(Boolean(a.evidence_complete)));
  mount(main,
    h("h2", {}, t("review_title")),
    h("p", {}, h("a", { href: "#/review/conflicts", id: "conflicts-link", class: open ? "flag" : "meta" },
      open ? t("conflicts_n", { n: kept.next_cursor ? `${open}+` : open }) : t("conflicts_none"))),
    items.length ? h("ul", { class: "cards", id: "review-queue" }, items.map((item) => h("li", {},
      h("a", { class: "card link-card", href: `#/review/${item.id}`, dataset: { inspection: item.id } },
        h("span", { class: "card-title" }, name(item.target, `#${item.id}`)),
        h("span", { class: "meta" }, scenesOf(item), " · ", name(item.squad), " · ", fmtTime(item.finished_at)),
        h("span", { class: "row" },
          h("span", { class: `badge ${item.evidence_complete ? "s-approved" : "s-overdue"}` },
            item.evidence_complete ? t("evidence_complete") : t("evidence_incomplete")),
          item.flags_count ? h("span", { class: "badge s-attention" }, t("flags_n", { n: item.flags_count }))
            : h("span", { class: "meta" }, t("no_flags")))))))
      : h("p", { class: "empty", id: "review-empty" }, t("review_empty")));
}

const FLAG_KEYS = { time_outside_visit: "flag_time", before_round: "flag_before_round", gps_far: "flag_distance",
                    same_photo_elsewhere: "flag_duplicate", near_duplicate_elsewhere: "flag_near_duplicate",
                    no_camera_metadata: "flag_no_metadata", editing_software: "flag_editing",
                    late_entry: "flag_late" };

function flagText(flag) {
  const label = FLAG_KEYS[flag.code] ? t(FLAG_KEYS[flag.code]) : flag.code;
  const values = Object.entries(flag.values || {})
    .map(([k, v]) => `${k}: ${v !== null && typeof v === "object" ? JSON.stringify(v) : v}`).join("; ");
  return values ? `${label} (${values})` : label;
}

function photoMeta(p) {
  const facts = (p.evidence && p.evidence.facts) || {};
  const when = facts.captured_at;
  const gps = facts.gps_lat != null ? `${Number(facts.gps_lat).toFixed(5)}, ${Number(facts.gps_lon).toFixed(5)}` : "—";
  const dev = [facts.make, facts.model].filter(Boolean).join(" ") || "—";
  const phone = p.captured_at ? fmtTime(p.captured_at) : "—";
  const where = p.lat != null ? `${p.lat.toFixed(5)}, ${p.lon.toFixed(5)} ±${Math.round(p.accuracy_m ?? 0)}m` : "—";
  return `${t("photo_meta", { t: when || "—", gps, dev })}; ${t("phone_meta", { t: phone, gps: where })}`;
}

function viewer() {
  let dialog = document.getElementById("photo-viewer");
  if (dialog) return dialog;
  dialog = h("dialog", { id: "photo-viewer", "aria-label": t("open_photo") },
    h("div", { class: "dialog-bar" }, h("p", { id: "viewer-meta" }),
      h("button", { type: "button", id: "viewer-close", onclick: () => dialog.close() }, t("close"))),
    h("img", { id: "viewer-img", alt: "" }));
  document.body.append(dialog);
  return dialog;
}

function photoCard(p, n, itemLabel) {
  const meta = photoMeta(p);
  const flags = p.flags || [];
  const uploaded = Boolean(p.evidence);
  return h("figure", { class: "card", dataset: { sha: p.sha256 } },
    uploaded ? h("button", { type: "button", class: "thumb", "aria-label": `${t("open_photo")} ${n}`, onclick: () => {
      const dialog = viewer();
      const img = dialog.querySelector("#viewer-img");
      img.src = api.displayUrl(p.sha256);
      img.alt = `${t("photos")} ${n}${itemLabel ? ` · ${itemLabel}` : ""}`;
      dialog.querySelector("#viewer-meta").textContent =
        `${meta}${flags.length ? ` · ⚠ ${flags.map(flagText).join("; ")}` : ""}`;
      dialog.showModal();
    } }, h("img", { src: api.thumbUrl(p.sha256), alt: `${t("photos")} ${n}`, loading: "lazy" }))
      : h("p", { class: "flag" }, t("photo_missing")),
    h("figcaption", { class: "meta" }, itemLabel ? h("strong", {}, itemLabel, h("br")) : null, meta, h("br"),
      h("code", {}, p.sha256.slice(0, 16), "…"),
      flags.map((f) => h("span", { class: "flag" }, h("br"), "⚠ ", flagText(f)))));
}

async function recordScreen(main, id) {
  const rec = await api.reviewInspection(id);
  const results = rec.results || [];
  const label = new Map(results.map((r) => [r.item_id, `${r.code || ""} ${r.text || ""}`.trim()]));
  const recordFlags = (rec.flags || []).filter((f) => !f.photo);
  const decision = h("form", { id: "review-form", class: "card", "aria-labelledby": "decision-h" },
    h("fieldset", { class: "choices" }, h("legend", { id: "decision-h" }, t("decision")),
      ["approved", "rejected", "needs_evidence"].map((d) => h("label", { class: `choice c-${d === "approved" ? "pass" : "fail"}` },
        h("input", { type: "radio", name: "decision", value: d, required: true }), h("span", {}, t(`decision_${d}`))))),
    h("label", { for: "review-reason" }, t("reason")),
    h("textarea", { id: "review-reason", name: "reason", rows: 3 }),
    h("p", { class: "error", id: "review-error", role: "alert" }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", id: "review-submit" }, t("submit_review"))));
  decision.addEventListener("submit", async (e) => {
    e.preventDefault();
    const chosen = decision.querySelector("input[name=decision]:checked");
    const reason = decision.reason.value.trim();
    const error = decision.querySelector("#review-error");
    if (!chosen) { error.textContent = t("decision"); return; }
    if (chosen.value !== "approved" && !reason) { error.textContent = t("reason_required"); return; }
    try {
      await api.review(id, { decision: chosen.value, reason: reason || null, item_comments: {} });
      announce(t("review_saved"));
      go("review");
    } catch (err) {
      error.textContent = err instanceof api.ApiError ? `${err.code}: ${err.message}` : t("need_network");
    }
  });
  const loc = rec.location;
  const decided = rec.status !== "submitted";
  let n = 0;
  mount(main, back("review", t("back")),
    h("h2", {}, name(rec.target, `#${id}`)),
    h("dl", { class: "kv" },
      h("dt", {}, t("scene")), h("dd", {}, scenesOf(rec)),
      h("dt", {}, t("squad")), h("dd", {}, name(rec.squad)),
      h("dt", {}, t("inspectors")), h("dd", {}, (rec.inspectors || []).map((m) => `${m.full_name} ${m.certificate_no || ""}`).join("，")),
      h("dt", {}, t("finished_at")), h("dd", {}, fmtTime(rec.started_at), " – ", fmtTime(rec.finished_at)),
      h("dt", {}, t("location")), h("dd", {}, loc ? `${loc.lat}, ${loc.lon} (${t("accuracy", { n: Math.round(loc.accuracy_m ?? 0) })})` : "—"),
      h("dt", {}, t("outcome")), h("dd", {}, t(`outcome_${rec.outcome}`)),
      h("dt", {}, t("record")), h("dd", {}, tOr(`status_${rec.status}`, rec.status || ""), rec.revision > 1 ? ` · r${rec.revision}` : "")),
    rec.notes ? h("p", {}, rec.notes) : null,
    rec.late_reason ? h("p", {}, `${t("late_reason")}：${rec.late_reason}`) : null,
    h("section", { "aria-labelledby": "flags-h" }, h("h3", { id: "flags-h" }, t("flags")),
      (rec.flags || []).length ? h("ul", { id: "record-flags" }, (rec.flags || []).map((f) => h("li", { class: "flag" },
        flagText(f), f.photo ? ` · ${f.photo.slice(0, 12)}…` : ""))) : h("p", { class: "meta" }, t("no_flags"))),
    h("section", { "aria-labelledby": "photos-h" }, h("h3", { id: "photos-h" }, t("photos")),
      (rec.evidence_missing || []).length ? h("p", { class: "flag" }, t("evidence_missing", { n: rec.evidence_missing.length })) : null,
      h("div", { id: "record-photos" }, (rec.photos || []).map((p) => photoCard(p, ++n, p.item_id ? label.get(p.item_id) : t("scene_photos"))))),
    h("section", { "aria-labelledby": "items-h" }, h("h3", { id: "items-h" }, t("checklist")),
      h("ul", { class: "cards" }, results.map((r) => h("li", { class: "card" },
        h("span", { class: "card-title" }, label.get(r.item_id) || `#${r.item_id}`),
        h("span", { class: `badge ${r.result === "fail" ? "s-rejected" : r.result === "pass" ? "s-approved" : "s-pending"}` },
          t(`result_${r.result}`)),
        r.note ? h("p", {}, r.note) : null)))),
    (rec.reviews || []).length ? h("section", { "aria-labelledby": "reviews-h" }, h("h3", { id: "reviews-h" }, t("decision")),
      h("ul", {}, rec.reviews.map((v) => h("li", {}, `${t(`decision_${v.decision}`)} · ${name(v.reviewer)} · ${fmtTime(v.created_at)}`,
        v.reason ? ` — ${v.reason}` : "")))) : null,
    recordFlags.length ? null : null,
    decided ? null : decision);
}

// --- records the sync kept aside (冲突记录) ---------------------------------------------------------

const showValue = (field, value) => {
  if (value === null || value === undefined || value === "") return "—";
  if (field === "outcome") return tOr(`outcome_${value}`, value);
  if (field === "started_at" || field === "finished_at") return fmtTime(value);
  return String(value);
};

function diffList(d, labels) {
  if (!d) return h("p", { class: "meta", id: "conflict-diff" }, t("conflict_no_standing"));
  const rows = Object.entries(d.fields || {}).map(([field, change]) => h("li", {},
    h("strong", {}, tOr(field, field)), "：", showValue(field, change.from), " → ", showValue(field, change.to)));
  for (const item of d.items || []) {
    const parts = [];
    if (item.result) {
      parts.push(`${item.result.from ? t(`result_${item.result.from}`) : "—"} → ${item.result.to ? t(`result_${item.result.to}`) : "—"}`);
    }
    if (item.note) parts.push(`${t("item_note")}：${item.note.from || "—"} → ${item.note.to || "—"}`);
    if (item.photos) parts.push(t("photos_changed", { added: item.photos.added.length, removed: item.photos.removed.length }));
    rows.push(h("li", {}, h("strong", {}, labels[item.item_id] || `#${item.item_id}`), "：", parts.join("；")));
  }
  const scene = d.scene_photos || { added: [], removed: [] };
  if (scene.added.length || scene.removed.length) {
    rows.push(h("li", {}, h("strong", {}, t("scene_photos")), "：",
      t("photos_changed", { added: scene.added.length, removed: scene.removed.length })));
  }
  return rows.length ? h("ul", { id: "conflict-diff" }, rows) : h("p", { class: "meta", id: "conflict-diff" }, t("conflict_same_results"));
}

const reasonText = (c) => tOr(`conflict_reason_${c.reason}`, c.reason || t("conflict_reason_unknown"));

async function conflictsScreen(main) {
  mount(main, h("p", { class: "meta" }, t("loading")));
  const items = list(await api.conflicts({ limit: 200 }));
  mount(main, back("review", t("back")),
    h("h2", {}, t("conflicts_title")),
    h("p", { class: "meta" }, t("conflicts_intro")),
    items.length ? h("ul", { class: "cards", id: "conflict-list" }, items.map((c) => h("li", {},
      h("a", { class: "card link-card", href: `#/review/conflicts/${c.id}`, dataset: { conflict: c.id } },
        h("span", { class: "card-title" }, name(c.target, `#${c.visit_id || c.id}`)),
        h("span", { class: "meta" }, name(c.squad, ""), " · ", name(c.submitted_by, ""), " · ", fmtTime(c.received_at)),
        h("span", { class: "badge s-attention" }, reasonText(c))))))
      : h("p", { class: "empty", id: "conflicts-empty" }, t("conflicts_empty")));
}

async function conflictScreen(main, id) {
  const c = await api.conflict(id);
  const standing = c.standing;
  const form = h("form", { id: "conflict-form", class: "card", "aria-labelledby": "resolve-h" },
    h("h3", { id: "resolve-h" }, t("conflict_resolve_title")),
    h("label", { for: "conflict-resolution" }, t("resolution")),
    h("textarea", { id: "conflict-resolution", name: "resolution", rows: 3, maxlength: 500 }),
    h("p", { class: "error", id: "conflict-error", role: "alert" }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", id: "conflict-resolve" }, t("resolve"))));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const note = form.resolution.value.trim();
    const error = form.querySelector("#conflict-error");
    if (!note) { error.textContent = t("resolution_required"); return; }
    try {
      await api.resolveConflict(id, note);
      announce(t("conflict_resolved"));
      go("review/conflicts");
    } catch (err) {
      error.textContent = err instanceof api.ApiError ? `${err.code}: ${err.message}` : t("need_network");
    }
  });
  mount(main, back("review/conflicts", t("back")),
    h("h2", {}, name(c.target, `#${id}`)),
    h("dl", { class: "kv" },
      h("dt", {}, t("conflict_reason")), h("dd", { id: "conflict-reason" }, reasonText(c)),
      h("dt", {}, t("squad")), h("dd", {}, name(c.squad, "—")),
      h("dt", {}, t("submitted_by")), h("dd", {}, c.submitted_by ? `${c.submitted_by.full_name} ${c.submitted_by.certificate_no || ""}` : "—"),
      h("dt", {}, t("conflict_received")), h("dd", {}, fmtTime(c.received_at)),
      h("dt", {}, t("conflict_standing")), h("dd", {}, standing
        ? h("a", { href: `#/review/${standing.id}`, id: "conflict-standing" },
          `${tOr(`status_${standing.status}`, standing.status)} · r${standing.revision} · ${fmtTime(standing.finished_at)}`)
        : "—")),
    h("section", { "aria-labelledby": "diff-h" }, h("h3", { id: "diff-h" }, t("conflict_differences")),
      diffList(c.diff, c.item_labels || {})),
    c.state === "resolved"
      ? h("p", { id: "conflict-resolution-text" }, t("resolved_by", { name: name(c.resolved_by, "—"), t: fmtTime(c.resolved_at), note: c.resolution }))
      : form);
}
