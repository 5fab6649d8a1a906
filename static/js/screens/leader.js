// The squad leader: the squad's rounds with progress, the team of a round, ad-hoc rounds, open rectifications.
// These work online only (the leader is at a desk or on signal); the inspector's capture never needs them.
import * as api from "../api.js";
import { fmtDate, fmtEndDate, t } from "../i18n.js";
import { announce, back, go, h, mount, itemsOf as list, nameOf as name } from "../ui.js";

export function progressOf(r) {
  const p = r.progress || r.counts || {};
  const done = (p.inspected ?? p.done ?? 0) + (p.unreachable ?? 0) + (p.skipped ?? 0);
  const pending = p.pending ?? 0;
  const overdue = p.overdue ?? 0;
  const total = p.total ?? r.visit_count ?? done + pending + (p.unreachable ?? 0) + (p.skipped ?? 0);
  return { done, pending, overdue, total };
}
const windowOf = (r) => ({ start: (r.window && r.window.start) || r.window_start, end: (r.window && r.window.end) || r.window_end });
const roundTitle = (r) => r.title || name(r.scene, "") || r.scene_name || `#${r.id}`;

export async function render(main, args, ctx) {
  if (!navigator.onLine) return mount(main, h("p", { class: "notice" }, t("need_network")));
  if (args[0] === "round") return roundScreen(main, Number(args[1]), ctx);
  if (args[0] === "new") return newRoundScreen(main, ctx);
  const squadId = ctx.state.user.squad_id;
  mount(main, h("p", { class: "meta" }, t("loading")));
  const [rounds, rects] = await Promise.all([
    api.rounds({ squad_id: squadId }),
    api.rectifications({ status: "open", squad_id: squadId }).catch(() => ({ items: [] })),
  ]);
  const items = list(rounds);
  mount(main,
    h("h2", {}, t("leader_title")),
    h("div", { class: "actions" }, h("a", { class: "button primary", href: "#/leader/new", id: "new-round" }, t("new_round"))),
    h("ul", { class: "cards", id: "leader-rounds" }, items.map((r) => {
      const p = progressOf(r);
      const w = windowOf(r);
      return h("li", {}, h("a", { class: "card link-card", href: `#/leader/round/${r.id}`, dataset: { round: r.id } },
        h("span", { class: "card-title" }, roundTitle(r)),
        h("span", { class: "meta" }, name(r.squad, ""), " · ", t(`kind_${r.kind}`), " · ", r.period_key || r.period || "", " · ",
          t("window", { a: fmtDate(w.start), b: fmtEndDate(w.end) })),
        h("span", { class: "row" }, h("span", { class: `badge s-${r.status}` }, t(`status_${r.status}`)),
          h("progress", { max: p.total || 1, value: p.done, "aria-label": t("progress_label", p) })),
        h("span", { class: "meta" }, t("progress_label", p))));
    })),
    h("section", { "aria-labelledby": "rect-h" },
      h("h3", { id: "rect-h" }, t("rectifications")),
      list(rects).length ? h("ul", { class: "cards", id: "rectifications" }, list(rects).map((r) => h("li", { class: "card" },
        h("span", { class: "card-title" }, name(r.target, r.target_name || `#${r.target_id}`)),
        h("span", {}, r.item ? `${r.item.code || ""} ${r.item.text || ""}` : r.item_text || ""),
        h("span", { class: "row" }, h("span", { class: `badge s-${r.status}` }, t(`status_${r.status}`)),
          h("span", { class: "meta" }, t("deadline", { t: fmtDate(r.deadline) }))))))
        : h("p", { class: "empty" }, t("no_rectifications"))));
}

async function roundScreen(main, id, ctx) {
  const r = await api.round(id);
  const squad = await api.squad((r.squad && r.squad.id) || r.squad_id || ctx.state.user.squad_id);
  const current = new Set((r.team || r.members || []).map((m) => m.id));
  const members = (squad.members || []).filter((m) => (m.roles || ["inspector"]).includes("inspector"));
  const p = progressOf(r);
  const w = windowOf(r);
  const reason = h("input", { id: "team-reason", name: "reason", required: true });
  const form = h("form", { id: "team-form", "aria-labelledby": "team-h" },
    h("fieldset", { class: "checks" }, h("legend", { id: "team-h" }, t("edit_team")),
      members.map((m) => h("label", {},
        h("input", { type: "checkbox", name: "member", value: m.id, checked: current.has(m.id), disabled: !m.certificate_no }),
        h("span", {}, m.full_name, " ", h("span", { class: "meta" }, name(m.department, ""), " · ",
          m.certificate_no ? t("certificate", { no: m.certificate_no }) : t("no_certificate")))))),
    h("label", { for: "team-reason" }, t("reason")), reason,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", id: "save-team" }, t("save_team"))));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const ids = [...form.querySelectorAll("input[name=member]:checked")].map((x) => Number(x.value));
    try {
      await api.setTeam(id, ids, reason.value.trim());
      announce(t("team_saved"));
      roundScreen(main, id, ctx);
    } catch (err) {
      announce(errorText(err), "error");
    }
  });
  const cancelReason = h("input", { id: "cancel-reason", required: true });
  const cancel = h("form", { id: "cancel-form", class: "card" },
    h("label", { for: "cancel-reason" }, t("reason")), cancelReason,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "danger" }, t("cancel_round"))));
  cancel.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api.cancelRound(id, cancelReason.value.trim());
      announce(t("round_cancelled"));
      go("leader");
    } catch (err) {
      announce(errorText(err), "error");
    }
  });
  const visits = r.visits || [];
  mount(main, back("leader", t("back")),
    h("h2", {}, roundTitle(r)),
    h("p", { class: "meta" }, t(`kind_${r.kind}`), " · ", t("window", { a: fmtDate(w.start), b: fmtEndDate(w.end) }), " · ",
      h("span", { class: `badge s-${r.status}` }, t(`status_${r.status}`))),
    h("progress", { max: p.total || 1, value: p.done, "aria-label": t("progress_label", p) }),
    h("p", { class: "meta" }, t("progress_label", p)),
    h("h3", {}, t("team")),
    h("ul", { id: "team-list" }, (r.team || r.members || []).map((m) => h("li", {}, m.full_name, " ",
      h("span", { class: "meta" }, m.certificate_no || "")))),
    form,
    visits.length ? [h("h3", {}, t("round_visits")), h("ul", { class: "cards" }, visits.map((v) => h("li", { class: "card" },
      h("span", { class: "card-title" }, name(v.target, v.target_name || `#${v.target_id}`)),
      h("span", { class: `badge s-${v.status}` }, t(`status_${v.status}`)))))] : null,
    ["cancelled", "completed"].includes(r.status) ? null : cancel);
}

function errorText(err) {
  if (err instanceof api.ApiError) {
    const details = err.details && Object.keys(err.details).length ? ` ${JSON.stringify(err.details)}` : "";
    return `${err.message}${details}`;
  }
  return t("need_network");
}

async function newRoundScreen(main, ctx) {
  const squadId = ctx.state.user.squad_id;
  const [scenes, squad] = await Promise.all([api.scenes(), api.squad(squadId)]);
  const today = new Date().toISOString().slice(0, 10);
  const later = new Date(Date.now() + 14 * 864e5).toISOString().slice(0, 10);
  const chosen = new Map();
  const chosenBox = h("ul", { id: "chosen-targets" });
  const drawChosen = () => chosenBox.replaceChildren(...[...chosen.values()].map((tg) => h("li", {}, tg.name, " ",
    h("button", { type: "button", class: "ghost", "aria-label": t("remove_target", { name: tg.name }),
                  onclick: () => { chosen.delete(tg.id); drawChosen(); } }, "×"))));
  const results = h("ul", { id: "target-results", class: "checks" });
  const q = h("input", { id: "target-q", type: "search" });
  // Only targets in the squad's own areas, of the kind the scene's checklist is written for, may be put on its round.
  const area = h("select", { id: "target-area" }, (squad.areas || []).map((a) => h("option", { value: a.id }, a.name)));
  const categories = new Map(list(scenes).map((s) => [String(s.id), s.current ? s.current.category : s.category]));
  const scene = h("select", { id: "round-scene", name: "scene_id", onchange: () => {
    for (const [id, tg] of chosen) if (tg.category !== categories.get(scene.value)) chosen.delete(id);
    drawChosen();
    results.replaceChildren();
  } }, list(scenes).map((s) => h("option", { value: s.id }, (s.current && s.current.name) || s.name || s.code)));
  const search = async () => {
    const found = list(await api.targets({ q: q.value.trim(), area_id: area.value, category: categories.get(scene.value),
                                           active: "true", limit: 20 }));
    results.replaceChildren(...found.map((tg) => h("li", {}, h("label", {},
      h("input", { type: "checkbox", value: tg.id, checked: chosen.has(tg.id),
                   onchange: (e) => { if (e.target.checked) chosen.set(tg.id, tg); else chosen.delete(tg.id); drawChosen(); } }),
      h("span", {}, tg.name, " ", h("span", { class: "meta" }, tg.address || ""))))));
  };
  const form = h("form", { id: "round-form", "aria-labelledby": "new-h" },
    h("h2", { id: "new-h" }, t("new_round")),
    h("label", { for: "round-kind" }, t("round_kind")),
    h("select", { id: "round-kind", name: "kind" }, ["complaint", "campaign"].map((k) => h("option", { value: k }, t(`kind_${k}`)))),
    h("label", { for: "round-scene" }, t("scene")),
    scene,
    h("label", { for: "round-title" }, t("title")),
    h("input", { id: "round-title", name: "title", required: true }),
    h("label", { for: "round-start" }, t("window_start")),
    h("input", { id: "round-start", name: "window_start", type: "date", value: today, required: true }),
    h("label", { for: "round-end" }, t("window_end")),
    h("input", { id: "round-end", name: "window_end", type: "date", value: later, required: true }),
    h("fieldset", {}, h("legend", {}, t("targets")),
      h("label", { for: "target-area" }, t("area")), area,
      h("label", { for: "target-q" }, t("search_targets")),
      h("div", { class: "row" }, q, h("button", { type: "button", id: "target-search", onclick: search }, t("search"))),
      results, chosenBox),
    h("fieldset", { class: "checks" }, h("legend", {}, t("team")),
      (squad.members || []).filter((m) => m.certificate_no).map((m) => h("label", {},
        h("input", { type: "checkbox", name: "member", value: m.id }), h("span", {}, m.full_name)))),
    h("label", { for: "round-team-reason" }, t("team_reason")),
    h("textarea", { id: "round-team-reason", name: "team_reason", rows: 2 }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", id: "create-round" }, t("create_round"))));
  const zoned = (day, end) => `${day}T${end ? "23:59:59" : "00:00:00"}+08:00`;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const made = await api.createRound({
        kind: form.kind.value, scene_id: Number(form.scene_id.value), squad_id: squadId, title: form.title.value.trim(),
        window: { start: zoned(form.window_start.value, false), end: zoned(form.window_end.value, true) },
        target_ids: [...chosen.keys()],
        user_ids: [...form.querySelectorAll("input[name=member]:checked")].map((x) => Number(x.value)),
        // Needed only when someone on the team inspected one of these targets last time (回避).
        ...(form.team_reason.value.trim() ? { team_reason: form.team_reason.value.trim() } : {}),
      });
      announce(t("round_created"));
      go(`leader/round/${made.id}`);
    } catch (err) {
      announce(errorText(err), "error");
    }
  });
  mount(main, back("leader", t("back")), form);
}
