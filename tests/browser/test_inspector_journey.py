"""The inspector's day in real Chromium: capture offline, survive reloads, sync once, never lose or double."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest

from .conftest import ROOT, jpeg, shot, sign_in, wait_worker_ready

pytestmark = pytest.mark.browser


def pending_visits(server, username: str) -> list[int]:
    """Pending visits on the open rounds this inspector is a member of, oldest first."""
    rows = server.sql(
        "SELECT DISTINCT v.id FROM visits v JOIN visit_rounds vr ON vr.visit_id = v.id "
        "JOIN round_members m ON m.round_id = vr.round_id JOIN users u ON u.id = m.user_id "
        "JOIN rounds r ON r.id = vr.round_id "
        "WHERE u.username = ? AND v.status = 'pending' AND r.status NOT IN ('cancelled', 'completed') "
        "AND NOT EXISTS (SELECT 1 FROM inspections i WHERE i.visit_id = v.id) ORDER BY v.id", (username,))
    return [r[0] for r in rows]


def outbox_count(page) -> int:
    return int(page.get_attribute("body", "data-outbox") or "0")


def idb_outbox(page) -> list[dict]:
    """Read the outbox straight from IndexedDB, as the page stores it."""
    return page.evaluate("""() => new Promise((resolve, reject) => {
        const open = indexedDB.open("liandu-inspect");
        open.onsuccess = () => {
            const req = open.result.transaction("outbox").objectStore("outbox").getAll();
            req.onsuccess = () => resolve(req.result.map(e => ({seq: e.seq, kind: e.kind, ref: e.ref, state: e.state,
                                                                 visit_id: e.visit_id, error: e.error || null})));
            req.onerror = () => reject(req.error);
        };
        open.onerror = () => reject(open.error);
    })""")


def fill_visit(page, photos: list[bytes], *, screenshot: str | None = None) -> None:
    """Answer every item (the first fails, with a photo), add a scene photo, a co-inspector, an outcome; submit."""
    page.wait_for_selector("#visit-form")
    items = page.locator("#visit-form .item")
    for i in range(items.count()):
        items.nth(i).locator(".c-pass span").click()
    first = items.nth(0)
    first.locator(".c-fail span").click()
    first.locator("textarea").fill("灭火器过期 (extinguisher expired)")
    first.locator("input[type=file]").set_input_files(
        [{"name": "fail.jpg", "mimeType": "image/jpeg", "buffer": photos[0]}])
    first.locator(".thumb").wait_for()
    page.locator("#scene-photo").set_input_files(
        [{"name": f"scene{n}.jpg", "mimeType": "image/jpeg", "buffer": b} for n, b in enumerate(photos[1:])])
    page.locator("#scene-h ~ div .thumb").nth(len(photos) - 2).wait_for()
    boxes = page.locator("#inspectors input:not([disabled])")
    checked = sum(1 for i in range(boxes.count()) if boxes.nth(i).is_checked())
    for i in range(boxes.count()):
        if checked >= 2:
            break
        if not boxes.nth(i).is_checked():
            boxes.nth(i).check()
            checked += 1
    page.click("#outcome input[value=rectify] + span")
    page.fill("#notes", "现场检查发现 1 项问题，已责令整改。")
    if page.locator("#late-reason").count():
        page.fill("#late-reason", "补录")
    if screenshot:
        first.scroll_into_view_if_needed()
        shot(page, screenshot)
    page.click("#submit")


def test_inspector_captures_offline_and_syncs_exactly_once(server, context, console, inspector):
    visit_id = pending_visits(server, inspector)[0]
    photos = [jpeg(1), jpeg(2)]
    page = console.attach(context.new_page())
    page.goto("/")
    shot(page, "01-login")
    sign_in(page, inspector)
    page.wait_for_selector("#rounds-list .card")
    wait_worker_ready(page)
    shot(page, "02-rounds")
    round_id = server.sql("SELECT round_id FROM visit_rounds WHERE visit_id = ? ORDER BY round_id", (visit_id,))[0][0]
    page.click(f'#rounds-list a[href="#/round/{round_id}"]')
    page.wait_for_selector(f'#visits-list a[data-visit="{visit_id}"]')
    page.wait_for_selector("#visits-list .meta >> text=/距此/")
    shot(page, "03-round-visits")

    # The network goes away; a reload still opens the app, from the service worker.
    context.set_offline(True)
    page.reload()
    page.wait_for_selector(f'#visits-list a[data-visit="{visit_id}"]')
    assert page.text_content("#net") == "离线"
    shot(page, "04-offline-round")
    page.click(f'#visits-list a[data-visit="{visit_id}"]')
    page.wait_for_selector("#visit-form")
    page.click("#visit-code summary")
    page.wait_for_selector("#visit-code svg.qr")
    shot(page, "05-visit-code")
    fill_visit(page, photos, screenshot="06-visit-form")
    page.wait_for_function("() => document.body.dataset.outbox === '3'")
    assert page.text_content("#count") == "待上传 3"

    # Close the page and open the app again, still offline: the outbox still holds it all.
    page.close()
    page = console.attach(context.new_page())
    page.goto("/#/outbox")
    page.wait_for_selector("#pending-list")
    entries = idb_outbox(page)
    assert [e["kind"] for e in entries] == ["evidence", "evidence", "inspection"]
    assert {e["ref"] for e in entries if e["kind"] == "evidence"} == {hashlib.sha256(b).hexdigest() for b in photos}
    shot(page, "07-outbox-offline")
    assert server.sql("SELECT count(*) FROM inspections WHERE visit_id = ?", (visit_id,))[0][0] == 0

    # The network comes back: it syncs by itself.
    context.set_offline(False)
    page.wait_for_function("() => document.body.dataset.outbox === '0' && document.body.dataset.attention === '0'",
                           timeout=30000)
    assert page.text_content("#net") == "在线"
    page.wait_for_selector("#sent-list")
    shot(page, "08-outbox-synced")
    assert idb_outbox(page) == []

    rows = server.sql("SELECT id, uuid FROM inspections WHERE visit_id = ?", (visit_id,))
    assert len(rows) == 1
    stored = {r[0] for r in server.sql("SELECT sha256 FROM inspection_photos WHERE inspection_id = ?", (rows[0][0],))}
    assert stored == {hashlib.sha256(b).hexdigest() for b in photos}
    held = {r[0] for r in server.sql("SELECT sha256, size FROM evidence WHERE sha256 IN (?, ?)", tuple(stored))}
    assert held == stored
    sizes = dict(server.sql("SELECT sha256, size FROM evidence"))
    for b in photos:
        assert sizes[hashlib.sha256(b).hexdigest()] == len(b)

    # English on request, remembered across reloads.
    page.click("#lang")
    page.wait_for_selector("#net >> text=Online")
    page.reload()
    page.wait_for_selector("#net >> text=Online")
    shot(page, "08b-outbox-english")
    page.click("#lang")
    page.wait_for_selector("#net >> text=在线")
    assert not console.unexpected(), console.unexpected()


def test_round_list_comes_with_the_sign_in_not_after_another_round_trip(server, context, console, inspector):
    """On a slow link the pack's own request cost a second round trip: the sign-in answer carries the pack."""
    held = []
    page = console.attach(context.new_page())
    page.route("**/api/v1/pack", lambda route: held.append(route))  # no answer to GET /pack until the list shows
    page.goto("/")
    sign_in(page, inspector)
    page.wait_for_selector("#rounds-list .card")
    open_rounds = server.sql(
        "SELECT count(*) FROM rounds r JOIN round_members m ON m.round_id = r.id JOIN users u ON u.id = m.user_id "
        "WHERE u.username = ? AND r.status NOT IN ('cancelled', 'completed')", (inspector,))[0][0]
    assert page.locator("#rounds-list .card").count() == open_rounds
    shot(page, "02b-rounds-from-sign-in")

    # The refresh that follows asks whether the pack changed since the sign-in: it did not, nothing comes again.
    page.wait_for_function("() => document.body.dataset.outbox === '0'")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the app never refreshed the pack"
    assert held[0].request.headers.get("if-none-match")
    with page.expect_response("**/api/v1/pack") as answer:
        held[0].continue_()
    assert answer.value.status == 304
    assert not console.unexpected(), console.unexpected()


def test_expired_session_asks_to_sign_in_and_loses_nothing(server, context, console, inspector):
    visit_id = pending_visits(server, inspector)[0]
    photos = [jpeg(11), jpeg(12)]
    page = console.attach(context.new_page())
    console.allow("status of 401")  # the refused upload that tells the app the session ended
    page.goto("/")
    sign_in(page, inspector)
    page.wait_for_selector("#rounds-list .card")
    wait_worker_ready(page)
    context.set_offline(True)
    page.goto(f"/#/visit/{visit_id}")

    # A half-filled form survives a reload: the draft lives in IndexedDB.
    page.wait_for_selector("#visit-form")
    first = page.locator("#visit-form .item").nth(0)
    first.locator(".c-na span").click()
    first.locator("textarea").fill("草稿备注")
    page.wait_for_timeout(600)
    page.reload()
    page.wait_for_selector("#visit-form")
    first = page.locator("#visit-form .item").nth(0)
    assert first.locator("input[value=na]").is_checked()
    assert first.locator("textarea").input_value() == "草稿备注"

    fill_visit(page, photos)
    page.wait_for_function("() => document.body.dataset.outbox === '3'")

    # The session ends server-side while the outbox waits.
    server.sql("UPDATE auth_sessions SET revoked_at = ? WHERE user_id = (SELECT id FROM users WHERE username = ?)",
               (datetime.now(timezone.utc).isoformat(), inspector))
    context.set_offline(False)
    page.wait_for_selector("#login-title")
    page.wait_for_selector("text=登录已过期")
    shot(page, "09-session-expired")
    assert outbox_count(page) >= 1  # waiting, not dropped
    assert server.sql("SELECT count(*) FROM inspections WHERE visit_id = ?", (visit_id,))[0][0] == 0

    sign_in(page, inspector)
    page.wait_for_function("() => document.body.dataset.outbox === '0' && document.body.dataset.attention === '0'",
                           timeout=30000)
    assert server.sql("SELECT count(*) FROM inspections WHERE visit_id = ?", (visit_id,))[0][0] == 1
    inspection_id = server.sql("SELECT id FROM inspections WHERE visit_id = ?", (visit_id,))[0][0]
    stored = {r[0] for r in server.sql("SELECT sha256 FROM inspection_photos WHERE inspection_id = ?",
                                         (inspection_id,))}
    assert stored == {hashlib.sha256(b).hexdigest() for b in photos}
    assert not console.unexpected(), console.unexpected()


def test_conflict_is_set_aside_as_needing_attention_not_dropped(server, context, console, inspector):
    visit_id = pending_visits(server, inspector)[0]
    page = console.attach(context.new_page())
    console.allow("status of 409")  # the conflict this test provokes
    page.goto("/")
    sign_in(page, inspector)
    page.wait_for_selector("#rounds-list .card")
    wait_worker_ready(page)
    context.set_offline(True)
    page.goto(f"/#/visit/{visit_id}")
    fill_visit(page, [jpeg(21), jpeg(22)])
    page.wait_for_function("() => document.body.dataset.outbox === '3'")
    queued = [e for e in idb_outbox(page) if e["kind"] == "inspection"][0]
    body = page.evaluate("""(seq) => new Promise((resolve) => {
        const open = indexedDB.open("liandu-inspect");
        open.onsuccess = () => {
            const req = open.result.transaction("outbox").objectStore("outbox").get(seq);
            req.onsuccess = () => resolve(req.result.body);
        };
    })""", queued["seq"])

    # Another copy of the record reached the server first under the same UUID, with different notes.
    other = dict(body, notes="另一台设备上的不同内容")
    status, answer = server.api(inspector).call("PUT", f"/inspections/{queued['ref']}", other)
    assert status == 201, answer

    context.set_offline(False)
    page.wait_for_function("() => document.body.dataset.attention === '1'", timeout=30000)
    page.wait_for_function("() => document.body.dataset.outbox === '0'", timeout=30000)
    page.click("#attention")
    page.wait_for_selector("#attention-list")
    assert "inspection.conflict" in page.text_content("#attention-list")
    shot(page, "10-needs-attention")
    left = idb_outbox(page)
    assert [(e["kind"], e["state"]) for e in left] == [("inspection", "attention")]
    assert left[0]["error"]["code"] == "inspection.conflict"
    assert server.sql("SELECT count(*) FROM inspections WHERE visit_id = ?", (visit_id,))[0][0] == 1

    # The server kept the phone's copy for a supervisor: the inspector may let it go from the phone.
    assert "服务器已保留这份记录" in page.text_content("#attention-list")
    kept = server.sql("SELECT body FROM inspection_conflicts WHERE uuid = ?", (queued["ref"],))
    assert len(kept) == 1 and "另一台设备上的不同内容" not in kept[0][0]  # the phone's own body, not the other copy
    page.click("#attention-list button.release")
    page.wait_for_function("() => document.body.dataset.attention === '0'")
    assert idb_outbox(page) == []
    page.wait_for_selector("#sent-list >> text=已交审核人员核对")
    assert not console.unexpected(), console.unexpected()


def test_new_version_is_offered_not_swapped_mid_form(server, browser, console, inspector, tmp_path):
    """A deploy with a changed static/ is installed in the background; the app swaps only on 更新."""
    import shutil

    from .conftest import PHONE, _free_port, serve, stop

    # Two deploys of the same app on one origin: this tree, then a copy whose static/ differs by a byte.
    newer = tmp_path / "newer"
    for part in ("lianduinspect", "static", "migrations"):
        shutil.copytree(ROOT / part, newer / part, ignore=shutil.ignore_patterns("__pycache__"))
    with open(newer / "static" / "app.css", "a", encoding="utf-8") as fh:
        fh.write("\n/* next deploy */\n")
    env = {**server.env, "LIANDUINSPECT_DATABASE_URL": f"sqlite:///{tmp_path / 'copy.sqlite3'}"}
    shutil.copyfile(server.db_path, tmp_path / "copy.sqlite3")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN", base_url=base)
    process = serve(env, port)
    try:
        page = console.attach(context.new_page())
        page.goto("/")
        sign_in(page, inspector)
        page.wait_for_selector("#rounds-list .card")
        wait_worker_ready(page)
        before = page.evaluate("() => caches.keys()")
        visit_id = pending_visits(server, inspector)[-1]
        page.goto(f"/#/visit/{visit_id}")
        page.fill("#notes", "正在填写")
        stop(process)
        process = serve(env, port, root=newer)
        page.evaluate("() => navigator.serviceWorker.getRegistration().then((r) => r.update())")
        page.wait_for_selector("#update:not([hidden])", timeout=30000)
        shot(page, "17-update-available")
        assert page.input_value("#notes") == "正在填写"  # nothing swapped under the inspector
        with page.expect_navigation():
            page.click("#update-go")
        page.wait_for_selector("#visit-form")
        assert page.input_value("#notes") == "正在填写"  # and the draft survived the swap
        after = page.evaluate("() => caches.keys()")
        shell = [k for k in after if k.startswith("li-shell-")]
        assert len(shell) == 1 and shell != [k for k in before if k.startswith("li-shell-")], (before, after)
        assert not console.unexpected(), console.unexpected()
    finally:
        context.close()
        stop(process)
