// One visit: the visit code as a QR code, the merged checklist by department, photos with their SHA-256,
// GPS, co-inspectors, outcome, an optional signature; the draft survives reloads; submit → the outbox.
import * as db from "../db.js";
import * as outbox from "../outbox.js";
import * as P from "../pack.js";
import { fmtDate, fmtEndDate, t } from "../i18n.js";
import { announce, back, go, h, isoLocal, lastPosition, locate, mount, sha256, uuid4 } from "../ui.js";

const urls = new Map(); // sha256 -> object URL for thumbnails, revoked when the screen closes

function revokeAll() {
  for (const url of urls.values()) URL.revokeObjectURL(url);
  urls.clear();
}

function statusNotice(ctx, visit) {
  const local = ctx.state.overlay.get(visit.id);
  if (local === "queued" || local === "attention") {
    return h("p", { class: "notice", role: "status" }, t("queued_notice"), " ", h("a", { href: "#/outbox" }, t("nav_outbox")));
  }
  return null;
}

export async function render(main, args, ctx) {
  revokeAll();
  const ix = ctx.state.pack;
  const visit = ix.visit.get(Number(args[0]));
  if (!visit) return go("");
  const target = P.targetOf(ix, visit);
  const rounds = P.roundIdsOf(visit).map((id) => ix.round.get(id)).filter(Boolean);
  const groups = P.checklist(ix, visit);
  const items = groups.flatMap((g) => g.items);
  const team = P.team(ix, visit);
  const me = ctx.state.user;
  const latest = P.latestInspection(ix, visit.id);
  const reopen = latest && ["rejected", "needs_evidence"].includes(latest.status);
  const local = ctx.state.overlay.get(visit.id);
  const late = rounds.some((r) => P.windowOf(r).end && new Date(P.windowOf(r).end) < new Date());

  const header = [
    back(rounds[0] ? `round/${rounds[0].id}` : "", t("back")),
    h("h2", { id: "visit-title" }, target.name || `#${visit.target_id}`),
    h("dl", { class: "kv" },
      h("dt", {}, t("address")), h("dd", {}, target.address || ""),
      target.contact_name ? [h("dt", {}, t("contact")), h("dd", {}, target.contact_name, " ",
        target.contact_phone ? h("a", { href: `tel:${target.contact_phone}` }, target.contact_phone) : "")] : null,
      h("dt", {}, t("scene")), h("dd", {}, rounds.map((r) => P.sceneName(r)).join(" + ")),
      h("dt", {}, t("window_end")), h("dd", {}, rounds[0] ? fmtEndDate(P.windowOf(rounds[0]).end) : "")),
    qrBlock(visit),
  ];
  const rect = P.openRectifications(ix, visit.target_id);
  const rectBlock = rect.length ? h("section", { "aria-labelledby": "rect-h" },
    h("h3", { id: "rect-h" }, t("rectifications")),
    h("ul", {}, rect.map((r) => h("li", {}, r.item ? `${r.item.code} ${r.item.text}` : `#${r.item_id}`, " — ",
      t("deadline", { t: fmtDate(r.deadline) }))))) : null;

  const notice = statusNotice(ctx, visit);
  if (notice || (visit.status === "inspected" && !reopen) || (local === "sent" && !reopen)) {
    return mount(main, header, notice || h("p", { class: "notice" }, t("already_inspected")), rectBlock);
  }

  let draft = await db.get("drafts", visit.id);
  if (!draft) {
    draft = { visit_id: visit.id, uuid: uuid4(), supersedes: reopen ? latest.uuid : null, started_at: isoLocal(),
              results: {}, scene_photos: [], inspector_ids: me ? [me.id] : [], location: null, outcome: null,
              notes: "", late_reason: "", signature_sha256: null };
    await db.put("drafts", draft);
  }
  const photoMeta = new Map((await Promise.all(collectShas(draft).map((sha) => db.get("photos", sha))))
    .filter(Boolean).map((p) => [p.sha256, p]));

  let saveTimer = null;
  const save = (now = false) => {
    clearTimeout(saveTimer);
    const write = () => db.put("drafts", { ...draft, updated_at: isoLocal() });
    if (now) return write();
    saveTimer = setTimeout(write, 300);
    return Promise.resolve();
  };

  /** Store a captured photo and the draft that now names it, in one transaction. */
  async function addPhotos(files, attach) {
    for (const file of files) {
      const blob = new Blob([file], { type: file.type || "image/jpeg" });
      const sha = await sha256(blob);
      const fix = lastPosition();
      const photo = { sha256: sha, blob, type: blob.type, size: blob.size, captured_at: isoLocal(),
                      lat: fix ? fix.lat : null, lon: fix ? fix.lon : null, accuracy_m: fix ? fix.accuracy_m : null,
                      visit_id: visit.id };
      attach(sha);
      await db.tx(["photos", "drafts"], "readwrite", async (s) => {
        const existing = await db.req(s.photos.get(sha));
        if (!existing) s.photos.put(photo);
        s.drafts.put({ ...draft, updated_at: isoLocal() });
      });
      photoMeta.set(sha, photoMeta.get(sha) || photo);
    }
  }

  function thumbs(list, onRemove) {
    return h("div", { class: "photos" }, list.map((sha, n) => {
      const p = photoMeta.get(sha);
      if (p && !urls.has(sha)) urls.set(sha, URL.createObjectURL(p.blob));
      return h("div", { class: "thumb", dataset: { sha } },
        h("img", { src: urls.get(sha) || "", alt: `${t("photos")} ${n + 1}` }),
        h("button", { type: "button", class: "remove", "aria-label": `${t("remove_photo")} ${n + 1}`,
                      onclick: () => onRemove(sha) }, "×"));
    }));
  }

  function photoInput(id, label, onFiles) {
    const input = h("input", { id, type: "file", accept: "image/*", capture: "environment", multiple: true,
                               "aria-label": label });
    input.addEventListener("change", async () => {
      const files = [...input.files];
      input.value = "";
      if (files.length) await onFiles(files);
    });
    return h("label", { class: "button file-button", for: id }, h("span", { "aria-hidden": "true" }, t("take_photo")), input);
  }

  // --- checklist -------------------------------------------------------------------------------------
  function itemBlock(item) {
    const r = draft.results[item.id] || (draft.results[item.id] = { result: null, note: "", photos: [] });
    const name = `result-${item.id}`;
    const photosBox = h("div", {});
    const drawPhotos = () => photosBox.replaceChildren(thumbs(r.photos, async (sha) => {
      r.photos = r.photos.filter((x) => x !== sha);
      await save(true);
      drawPhotos();
    }));
    drawPhotos();
    const choice = (value, cls) => h("label", { class: `choice ${cls}` },
      h("input", { type: "radio", name, value, checked: r.result === value,
                   onchange: () => { r.result = value; save(true); block.dataset.result = value; } }),
      h("span", {}, t(`result_${value}`)));
    const block = h("div", { class: "item", id: `item-${item.id}`, dataset: { item: item.id, result: r.result || "" } },
      h("p", { class: "item-text", id: `item-${item.id}-text` }, item.code ? `${item.code} ` : "", item.text,
        item.severity ? h("span", { class: "meta" }, ` · ${t(`severity_${item.severity}`)}`) : null),
      h("p", { class: "basis" }, `${t("legal_basis")}：${item.legal_basis || ""}`),
      h("fieldset", { class: "choices" },
        h("legend", { class: "sr-only" }, t("result_for", { item: item.code || item.text })),
        choice("pass", "c-pass"), choice("fail", "c-fail"), choice("na", "c-na")),
      h("label", { for: `note-${item.id}`, class: "sr-only" }, t("note_for", { item: item.code || item.text })),
      h("textarea", { id: `note-${item.id}`, rows: 1, placeholder: t("note"), value: r.note || "",
                      oninput: (e) => { r.note = e.target.value; save(); } }),
      h("div", { class: "row" },
        photoInput(`photo-${item.id}`, t("add_photo_for", { item: item.code || item.text }), async (files) => {
          await addPhotos(files, (sha) => { if (!r.photos.includes(sha)) r.photos.push(sha); });
          drawPhotos();
        }),
        item.photo_required_on_fail ? h("span", { class: "meta" }, t("photo_required")) : null),
      photosBox);
    return block;
  }

  const checklist = h("section", { "aria-labelledby": "checklist-h" },
    h("h3", { id: "checklist-h" }, t("checklist")),
    groups.map((g) => h("fieldset", { class: "dept", dataset: { dept: g.department } },
      h("legend", {}, g.name), g.items.map(itemBlock))));

  // --- scene photos, location, officers, outcome, notes, signature --------------------------------------
  const sceneBox = h("div", {});
  const drawScene = () => sceneBox.replaceChildren(thumbs(draft.scene_photos, async (sha) => {
    draft.scene_photos = draft.scene_photos.filter((x) => x !== sha);
    await save(true);
    drawScene();
  }));
  drawScene();
  const scene = h("section", { "aria-labelledby": "scene-h" },
    h("h3", { id: "scene-h" }, t("scene_photos")),
    photoInput("scene-photo", t("add_scene_photo"), async (files) => {
      await addPhotos(files, (sha) => { if (!draft.scene_photos.includes(sha)) draft.scene_photos.push(sha); });
      drawScene();
    }),
    sceneBox);

  const locText = h("span", { id: "loc-text" });
  const showLoc = () => {
    const l = draft.location;
    locText.textContent = l ? `${l.lat.toFixed(5)}, ${l.lon.toFixed(5)} (${t("accuracy", { n: Math.round(l.accuracy_m ?? 0) })})`
      : t("no_location");
  };
  const relocate = async () => {
    locText.textContent = t("locating");
    const fix = await locate();
    if (fix && (!draft.location || fix.accuracy_m <= (draft.location.accuracy_m ?? Infinity) || Date.now() - fix.at < 60000)) {
      draft.location = { lat: fix.lat, lon: fix.lon, accuracy_m: fix.accuracy_m };
      save(true);
    }
    showLoc();
  };
  showLoc();
  if (!draft.location) relocate();
  const where = h("section", { "aria-labelledby": "loc-h" },
    h("h3", { id: "loc-h" }, t("location")),
    h("div", { class: "row" }, locText, h("button", { type: "button", onclick: relocate }, t("locate"))));

  const officers = h("fieldset", { class: "checks", id: "inspectors" },
    h("legend", {}, t("inspectors")),
    h("p", { class: "meta" }, t("inspectors_hint")),
    team.map((m) => h("label", {},
      h("input", { type: "checkbox", value: m.id, name: "inspector", checked: draft.inspector_ids.includes(m.id),
                   disabled: !m.certificate_no,
                   onchange: (e) => {
                     const id = Number(e.target.value);
                     draft.inspector_ids = e.target.checked ? [...new Set([...draft.inspector_ids, id])]
                       : draft.inspector_ids.filter((x) => x !== id);
                     save(true);
                   } }),
      h("span", {}, m.full_name, " ",
        h("span", { class: "meta" }, m.certificate_no ? t("certificate", { no: m.certificate_no }) : t("no_certificate"))))));

  const outcome = h("fieldset", { class: "choices", id: "outcome" },
    h("legend", {}, t("outcome")),
    ["pass", "rectify", "refer"].map((value) => h("label", { class: `choice c-${value === "pass" ? "pass" : "fail"}` },
      h("input", { type: "radio", name: "outcome", value, checked: draft.outcome === value,
                   onchange: () => { draft.outcome = value; save(true); } }),
      h("span", {}, t(`outcome_${value}`)))));

  const notes = [
    h("label", { for: "notes" }, t("notes")),
    h("textarea", { id: "notes", rows: 3, value: draft.notes || "", oninput: (e) => { draft.notes = e.target.value; save(); } }),
    late ? [h("label", { for: "late-reason" }, t("late_reason")), h("p", { class: "meta" }, t("late_hint")),
      h("textarea", { id: "late-reason", rows: 2, value: draft.late_reason || "",
                      oninput: (e) => { draft.late_reason = e.target.value; save(); } })] : null,
  ];

  const signature = signatureBlock(draft, save, photoMeta);

  const errors = h("div", { id: "form-errors", class: "error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary", id: "submit" }, t("submit"));
  const form = h("form", { id: "visit-form", "aria-labelledby": "visit-title", novalidate: true },
    reopen ? h("p", { class: "notice" }, t("revision_notice", { status: t(`status_${latest.status}`),
                                                                 reason: latest.review_reason || latest.reason || "" })) : null,
    checklist, scene, where, officers, outcome, notes, signature, errors,
    h("p", { class: "meta" }, t("save_draft")),
    h("div", { class: "sticky" }, submit));

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const problems = validate(draft, items, team, late);
    if (problems.length) {
      mount(errors, t("fix_errors"), h("ul", {}, problems.map((p) => h("li", {}, p))));
      return;
    }
    errors.replaceChildren();
    submit.disabled = true;
    const photoOf = (sha) => {
      const p = photoMeta.get(sha) || {};
      return { sha256: sha, captured_at: p.captured_at || null, lat: p.lat ?? null, lon: p.lon ?? null,
               accuracy_m: p.accuracy_m ?? null };
    };
    const body = {
      visit_id: visit.id,
      supersedes: draft.supersedes,
      inspector_ids: [...draft.inspector_ids].sort((a, b) => a - b),
      started_at: draft.started_at,
      finished_at: isoLocal(),
      location: draft.location,
      results: items.map((item) => {
        const r = draft.results[item.id];
        return { item_id: item.id, result: r.result, note: r.note || null, photos: r.photos.map(photoOf) };
      }),
      scene_photos: draft.scene_photos.map(photoOf),
      outcome: draft.outcome,
      notes: draft.notes || null,
      late_reason: late ? draft.late_reason || null : null,
      signature_sha256: draft.signature_sha256,
    };
    const shas = [...body.results.flatMap((r) => r.photos.map((p) => p.sha256)),
                  ...body.scene_photos.map((p) => p.sha256),
                  ...(draft.signature_sha256 ? [draft.signature_sha256] : [])];
    clearTimeout(saveTimer);
    await outbox.submit(visit.id, draft.uuid, body, shas);
    await ctx.refreshOverlay();
    await ctx.updateStatus();
    announce(t("submitted"));
    ctx.requestBackgroundSync();
    go(rounds[0] ? `round/${rounds[0].id}` : "");
    ctx.syncNow();
  });

  mount(main, header, rectBlock, form);
  const leave = () => { if (!location.hash.startsWith(`#/visit/${visit.id}`)) { revokeAll(); window.removeEventListener("hashchange", leave); } };
  window.addEventListener("hashchange", leave);
}

function collectShas(draft) {
  return [...Object.values(draft.results || {}).flatMap((r) => r.photos || []), ...(draft.scene_photos || []),
          ...(draft.signature_sha256 ? [draft.signature_sha256] : [])];
}

function validate(draft, items, team, late) {
  const problems = [];
  const unanswered = items.filter((i) => !(draft.results[i.id] && draft.results[i.id].result)).length;
  if (unanswered) problems.push(t("err_unanswered", { n: unanswered }));
  const noPhoto = items.filter((i) => {
    const r = draft.results[i.id];
    return r && r.result === "fail" && i.photo_required_on_fail && !(r.photos && r.photos.length);
  }).length;
  if (noPhoto) problems.push(t("err_photo", { n: noPhoto }));
  const certified = new Set(team.filter((m) => m.certificate_no).map((m) => m.id));
  if (draft.inspector_ids.filter((id) => certified.has(id)).length < 2) problems.push(t("err_inspectors"));
  if (!draft.outcome) problems.push(t("err_outcome"));
  if (late && !(draft.late_reason || "").trim()) problems.push(t("err_late"));
  return problems;
}

function qrBlock(visit) {
  const holder = h("div", {});
  const details = h("details", { class: "card", id: "visit-code" },
    h("summary", { class: "button" }, t("show_qr")),
    h("p", { class: "meta" }, t("visit_code_hint")),
    holder,
    h("p", { class: "code" }, `${t("visit_code")} ${visit.code || ""}`));
  details.addEventListener("toggle", async () => {
    if (!details.open || holder.firstChild || !visit.code) return;
    const { svg } = await import("../qr.js");
    holder.append(svg(`${location.origin}/v/${visit.code}`, `${t("visit_code")} ${visit.code}`));
  });
  return details;
}

function signatureBlock(draft, save, photoMeta) {
  const canvas = h("canvas", { class: "sig", id: "signature", role: "img", "aria-label": t("signature_canvas"),
                               width: 640, height: 320 });
  const g = canvas.getContext("2d");
  const status = h("span", { class: "meta", id: "sig-status" }, draft.signature_sha256 ? t("signature_saved") : "");
  let drawing = false;
  let dirty = false;
  const point = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * (canvas.width / r.width), (e.clientY - r.top) * (canvas.height / r.height)];
  };
  g.lineWidth = 4;
  g.lineCap = "round";
  g.strokeStyle = "#000";
  canvas.addEventListener("pointerdown", (e) => {
    drawing = true;
    canvas.setPointerCapture(e.pointerId);
    g.beginPath();
    g.moveTo(...point(e));
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    g.lineTo(...point(e));
    g.stroke();
    dirty = true;
  });
  const finish = async () => {
    if (!drawing) return;
    drawing = false;
    if (!dirty) return;
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    const sha = await sha256(blob);
    const photo = { sha256: sha, blob, type: "image/png", size: blob.size, captured_at: isoLocal(), lat: null, lon: null,
                    accuracy_m: null, visit_id: draft.visit_id, signature: true };
    draft.signature_sha256 = sha;
    await db.tx(["photos", "drafts"], "readwrite", (s) => { s.photos.put(photo); s.drafts.put(draft); });
    photoMeta.set(sha, photo);
    status.textContent = t("signature_saved");
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  const existing = draft.signature_sha256 && photoMeta.get(draft.signature_sha256);
  if (existing) createImageBitmap(existing.blob).then((bmp) => g.drawImage(bmp, 0, 0)).catch(() => {});
  return h("section", { "aria-labelledby": "sig-h" },
    h("h3", { id: "sig-h" }, t("signature")),
    canvas,
    h("div", { class: "row" }, status, h("button", { type: "button", onclick: () => {
      g.clearRect(0, 0, canvas.width, canvas.height);
      dirty = false;
      draft.signature_sha256 = null;
      status.textContent = "";
      save(true);
    } }, t("clear_signature"))));
}
