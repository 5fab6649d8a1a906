// The enterprises' evaluations (企业评价), given anonymously with the visit code after an inspection.
// Supervisors and admins: totals per squad and per department, and the written comments with their squad.
// A squad leader: the own squad's total, which the server sends only from five evaluations in completed
// months on (services/visitcode.py keeps that rule; this screen never asks a leader's session for comments).
// Online only: these are oversight screens, and nothing here touches the outbox or the pack.
import * as api from "../api.js";
import { fmtDate, t } from "../i18n.js";
import { announce, go, h, mount, nameOf, route } from "../ui.js";

const PAGE = 20; // comments per request: a phone screen or two
const STARS = [5, 4, 3, 2, 1];

const here = () => route()[0] === "evaluations";
const avg = (x) => (x === undefined || x === null ? "—" : Number(x).toFixed(2));
let uid = 0;

export async function render(main, args, ctx) {
  if (!ctx.has("leader", "supervisor", "admin")) return go(""); // inspectors: the tab is not theirs either
  if (!navigator.onLine) return mount(main, h("p", { class: "notice" }, t("need_network")));
  mount(main, h("p", { class: "meta" }, t("loading")));
  // #/evaluations/squad/3 keeps the comments' filter across a language switch or a reload.
  const squadId = args[0] === "squad" && /^\d+$/.test(args[1] || "") ? Number(args[1]) : null;
  if (ctx.has("supervisor", "admin")) {
    const [summary, first] = await Promise.all([
      api.evaluationSummary(), api.evaluationComments({ squad_id: squadId, limit: PAGE })]);
    if (!here()) return; // the user went elsewhere while this loaded
    return oversightScreen(main, summary, first, squadId, ctx);
  }
  const own = ctx.state.user.squad_id;
  let summary;
  let squad = null;
  try {
    [summary, squad] = await Promise.all([api.evaluationSummary(),
                                          own ? api.squad(own).catch(() => null) : null]);
  } catch (err) {
    if (!(err instanceof api.ApiError && err.status === 404)) throw err;
    if (here()) mount(main, h("h2", {}, t("eval_title")), h("p", { class: "notice" }, t("eval_no_squad")));
    return;
  }
  if (!here()) return;
  leaderScreen(main, summary, squad);
}

// --- figures ------------------------------------------------------------------------------------

/** Count, average and the 5…1 distribution of one aggregate. */
function figures(agg) {
  const dist = agg.distribution;
  const id = `eval-dist-${++uid}`;
  return [
    h("dl", { class: "kv" },
      h("dt", {}, t("eval_count")), h("dd", { class: "eval-count" }, t("eval_n", { n: agg.count ?? 0 })),
      h("dt", {}, t("eval_average")), h("dd", { class: "eval-average" }, avg(agg.average))),
    dist ? h("div", { role: "group", "aria-labelledby": id },
      h("p", { class: "meta dist-h", id }, t("eval_distribution")),
      h("dl", { class: "dist" }, STARS.map((n) => h("div", {},
        h("dt", {}, t("eval_stars", { n })), h("dd", {}, t("eval_n", { n: dist[n] ?? 0 })))))) : null,
  ];
}

function group(id, title, rows, data, note) {
  return h("section", { "aria-labelledby": `${id}-h` },
    h("h3", { id: `${id}-h` }, title),
    note ? h("p", { class: "meta" }, note) : null,
    h("ul", { class: "cards", id }, (rows || []).map((r) => h("li", { class: "card", dataset: data(r) },
      h("h4", { class: "card-title" }, r.name), figures(r)))));
}

// --- supervisors and admins ---------------------------------------------------------------------------

function oversightScreen(main, summary, first, squadId, ctx) {
  const total = summary.total || { count: 0 };
  mount(main,
    h("h2", {}, t("eval_title")),
    h("p", { class: "meta" }, t("eval_intro")),
    total.count ? [
      h("section", { "aria-labelledby": "eval-total-h" },
        h("h3", { id: "eval-total-h" }, t("eval_total")), h("div", { class: "card", id: "eval-total" }, figures(total))),
      group("eval-squads", t("eval_by_squad"), summary.squads, (s) => ({ squad: s.squad_id })),
      group("eval-departments", t("eval_by_department"), summary.departments, (d) => ({ dept: d.code }),
        t("eval_department_note")),
    ] : h("p", { class: "empty", id: "eval-empty" }, t("eval_none")),
    commentsSection(summary.squads || [], first, squadId, ctx));
}

function commentCard(c) {
  const tone = c.rating >= 4 ? "s-approved" : c.rating === 3 ? "s-open" : "s-rejected";
  const data = { id: c.id };
  if (c.squad && c.squad.id != null) data.squad = c.squad.id;
  return h("li", { class: "card", tabindex: "-1", dataset: data },
    h("span", { class: `badge ${tone}` }, t("eval_rating", { n: c.rating })),
    h("p", { class: "comment" }, c.comment),
    h("dl", { class: "kv" },
      h("dt", {}, t("squad")), h("dd", { class: "eval-squad" }, nameOf(c.squad, "—")),
      h("dt", {}, t("scene")), h("dd", {}, (c.scenes || []).join(" + ") || "—"),
      h("dt", {}, t("eval_target")), h("dd", {}, nameOf(c.target, "—")),
      h("dt", {}, t("eval_date")), h("dd", {}, fmtDate(c.created_on))));
}

function failure(err, ctx) {
  if (err instanceof api.ApiError && err.status === 401) {
    ctx.askToSignIn(); // sign in again, then come back here
    return "";
  }
  if (err instanceof api.ApiError) return t("error_generic", { msg: err.message });
  return t("need_network");
}

function commentsSection(squads, first, squadId, ctx) {
  let items = [...(first.items || [])];
  let cursor = first.next_cursor || null;
  let filter = squadId;
  let seq = 0; // a newer filter makes an older answer (filter or "load more") stale

  const list = h("ul", { class: "cards", id: "eval-comments", "aria-labelledby": "eval-comments-h" });
  const empty = h("p", { class: "empty", id: "eval-comments-empty" }, t("eval_no_comments"));
  const status = h("p", { class: "meta", id: "eval-comments-status", role: "status" });
  const error = h("p", { class: "error", id: "eval-comments-error", role: "alert" });
  const more = h("button", { type: "button", id: "eval-more" }, t("eval_load_more"));
  const options = squads.map((s) => [s.squad_id, s.name]);
  if (filter !== null && !options.some(([id]) => id === filter)) options.push([filter, `#${filter}`]);
  const select = h("select", { id: "eval-squad", name: "squad_id", value: filter === null ? "" : String(filter) },
    h("option", { value: "" }, t("eval_all_squads")),
    options.map(([id, label]) => h("option", { value: String(id) }, label)));
  const apply = h("button", { type: "submit", id: "eval-apply" }, t("eval_apply"));
  const form = h("form", { id: "eval-filter", role: "search", "aria-labelledby": "eval-filter-h" },
    h("fieldset", {}, h("legend", { id: "eval-filter-h" }, t("eval_filter")),
      h("label", { for: "eval-squad" }, t("eval_filter_squad")), select,
      h("div", { class: "actions" }, apply)));

  const draw = () => {
    // The server pages from the newest (ids grow with time); each page goes below the last.
    list.replaceChildren(...items.map(commentCard));
    list.hidden = !items.length;
    empty.hidden = items.length > 0;
    status.textContent = items.length
      ? `${t("eval_shown_n", { n: items.length })}${cursor ? ` ${t("eval_more_hint")}` : ""}` : "";
    more.hidden = !cursor;
  };

  more.addEventListener("click", async () => {
    const mine = seq;
    more.disabled = true;
    error.textContent = "";
    try {
      const page = await api.evaluationComments({ squad_id: filter, cursor, limit: PAGE });
      if (mine !== seq) return;
      const known = new Set(items.map((c) => c.id));
      const fresh = (page.items || []).filter((c) => !known.has(c.id));
      items = items.concat(fresh);
      cursor = page.next_cursor || null;
      draw();
      announce(t("eval_loaded_n", { n: fresh.length }));
      // Later pages hold older comments, added below: take the reader to the first of them.
      const freshIds = new Set(fresh.map((c) => String(c.id)));
      const firstNew = [...list.children].find((li) => freshIds.has(li.dataset.id));
      if (firstNew) firstNew.focus();
    } catch (err) {
      if (mine === seq) error.textContent = failure(err, ctx);
    } finally {
      more.disabled = false;
    }
  });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const wanted = select.value ? Number(select.value) : null;
    const mine = ++seq;
    apply.disabled = true;
    error.textContent = "";
    try {
      const page = await api.evaluationComments({ squad_id: wanted, limit: PAGE });
      if (mine !== seq) return;
      filter = wanted;
      items = [...(page.items || [])];
      cursor = page.next_cursor || null;
      // The filter goes into the address without a hashchange: no re-render, the totals above stay.
      history.replaceState(history.state, "", `#/evaluations${wanted === null ? "" : `/squad/${wanted}`}`);
      draw();
    } catch (err) {
      if (mine !== seq) return;
      select.value = filter === null ? "" : String(filter); // the list still shows the previous filter
      error.textContent = failure(err, ctx);
    } finally {
      if (mine === seq) apply.disabled = false;
    }
  });

  draw();
  return h("section", { id: "eval-comments-section", "aria-labelledby": "eval-comments-h" },
    h("h3", { id: "eval-comments-h" }, t("eval_comments")),
    h("p", { class: "meta" }, t("eval_comments_note")),
    form, status, list, empty, error,
    h("div", { class: "actions" }, more));
}

// --- a squad leader --------------------------------------------------------------------------------------

/** The last day before `until` (a date the server sends: completed months end the day before it). */
function lastDayBefore(until) {
  if (!until) return "";
  return fmtDate(new Date(new Date(`${until}T00:00:00+08:00`).getTime() - 1000).toISOString());
}

function leaderScreen(main, summary, squad) {
  const min = summary.minimum || 5;
  const months = summary.months || [];
  const body = summary.enough
    ? [
      h("section", { "aria-labelledby": "eval-squad-h" },
        h("h3", { id: "eval-squad-h" }, t("eval_squad_title")),
        h("div", { class: "card", id: "eval-squad-summary" }, figures(summary),
          h("p", { class: "meta" }, t("eval_until", { d: lastDayBefore(summary.until) })))),
      months.length ? h("section", { "aria-labelledby": "eval-months-h" },
        h("h3", { id: "eval-months-h" }, t("eval_by_month")),
        h("dl", { class: "kv", id: "eval-months" }, months.map((m) => [h("dt", {}, m.month),
          h("dd", {}, m.enough === false ? t("eval_month_few", { min })
            : t("eval_month_line", { n: m.count, avg: avg(m.average) }))]))) : null,
      h("p", { class: "meta", id: "eval-anonymity" }, t("eval_anonymity", { min })),
    ]
    : h("div", { class: "notice", id: "eval-not-enough" },
      h("p", {}, t("eval_not_enough", { min })),
      h("p", {}, t("eval_anonymity", { min })));
  mount(main,
    h("h2", {}, t("eval_title")),
    squad && squad.name ? h("p", { class: "meta", id: "eval-squad-name" }, squad.name) : null,
    h("p", { class: "meta" }, t("eval_intro")),
    body);
}
