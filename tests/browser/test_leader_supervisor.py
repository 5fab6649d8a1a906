"""The squad leader and the supervisor in real Chromium: reassign a team; approve one record, reject another."""
from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from .conftest import jpeg, shot, sign_in

pytestmark = pytest.mark.browser


def leader_of_a_round(server) -> tuple[str, int]:
    rows = server.sql(
        "SELECT u.username, r.id FROM rounds r JOIN users u ON u.squad_id = r.squad_id "
        "JOIN user_roles ur ON ur.user_id = u.id AND ur.role = 'leader' "
        "WHERE r.status NOT IN ('cancelled', 'completed') ORDER BY r.id LIMIT 1")
    return rows[0][0], rows[0][1]


def submit_inspection(server, username: str, seed: int) -> int:
    """Submit one complete inspection through the API, photos first, as a phone would; return its id."""
    phone, body = inspection_body(server, username, seed)
    status, record = phone.call("PUT", f"/inspections/{uuid.uuid4()}", body)
    assert status == 201, record
    return record["id"]


def inspection_body(server, username: str, seed: int):
    """Upload a photo for a pending visit of the user's and return (their API client, an inspection body)."""
    phone = server.api(username)
    status, pack = phone.call("GET", "/pack")
    assert status == 200, pack
    done = {i["visit_id"] for i in pack["inspections"]}
    visit = next(v for v in pack["visits"] if v["status"] == "pending" and v["id"] not in done)
    rounds = {r["id"]: r for r in pack["rounds"]}
    team = {m["id"]: m for rid in visit["round_ids"] if rid in rounds for m in rounds[rid]["team"]}
    officers = sorted(mid for mid, m in team.items() if m["certificate_no"])
    me = phone.user["id"]
    inspector_ids = sorted({me, *[o for o in officers if o != me][:1]})
    photo = jpeg(seed)
    sha = hashlib.sha256(photo).hexdigest()
    status, answer = phone.call("PUT", f"/evidence/{sha}", raw=photo, headers={"Content-Type": "application/octet-stream"})
    assert status in (200, 201), answer
    now = datetime.now(timezone.utc)
    item_ids = [i for group in visit["checklist"] for i in group["item_ids"]]
    target = next(t for t in pack["targets"] if t["id"] == visit["target_id"])
    meta = {"sha256": sha, "captured_at": (now - timedelta(minutes=5)).isoformat(), "lat": target["lat"],
            "lon": target["lon"], "accuracy_m": 8}
    body = {"visit_id": visit["id"], "supersedes": None, "inspector_ids": inspector_ids,
            "started_at": (now - timedelta(minutes=20)).isoformat(), "finished_at": now.isoformat(),
            "location": {"lat": target["lat"], "lon": target["lon"], "accuracy_m": 8},
            "results": [{"item_id": item, "result": "fail" if n == 0 else "pass", "note": "问题" if n == 0 else None,
                         "photos": [meta] if n == 0 else []} for n, item in enumerate(item_ids)],
            "scene_photos": [], "outcome": "rectify", "notes": f"browser test {seed}", "late_reason": None,
            "signature_sha256": None}
    return phone, body


def test_leader_reassigns_a_team(server, context, console):
    leader, round_id = leader_of_a_round(server)
    page = console.attach(context.new_page())
    page.goto("/")
    sign_in(page, leader)
    page.wait_for_selector("#nav a[href='#/leader']")
    page.click("#nav a[href='#/leader']")
    page.wait_for_selector(f'#leader-rounds a[data-round="{round_id}"]')
    page.wait_for_selector("#leader-rounds progress")
    shot(page, "11-leader-rounds")
    page.click(f'#leader-rounds a[data-round="{round_id}"]')
    page.wait_for_selector("#team-form")
    before = {r[0] for r in server.sql("SELECT user_id FROM round_members WHERE round_id = ?", (round_id,))}
    boxes = page.locator("#team-form input[name=member]:not([disabled])")
    values = [int(boxes.nth(i).get_attribute("value")) for i in range(boxes.count())]
    outside = [v for v in values if v not in before]
    assert outside, "the squad has no certified inspector off this team"
    page.check(f'#team-form input[value="{outside[0]}"]')
    page.fill("#team-reason", "原检查员回避（亲属关系）")
    shot(page, "12-leader-team")
    page.click("#save-team")
    page.wait_for_selector("#toast >> text=检查组已更新")
    after = {r[0] for r in server.sql("SELECT user_id FROM round_members WHERE round_id = ?", (round_id,))}
    assert outside[0] in after and before <= after
    page.click("text=‹ 返回")
    page.click("#new-round")
    page.wait_for_selector("#round-form")

    # An ad-hoc complaint round with a chosen target and team.
    scene_name = page.locator("#round-scene option").first.text_content()
    page.fill("#round-title", "群众投诉：油烟扰民")
    page.fill("#target-q", "")
    page.click("#target-search")
    page.wait_for_selector("#target-results input")
    # Only targets of the kind the scene's checklist is written for are offered.
    scene_id = int(page.locator("#round-scene").input_value())
    offered = page.eval_on_selector_all("#target-results input", "boxes => boxes.map((b) => Number(b.value))")
    category = server.sql("SELECT v.category FROM scenes s JOIN scene_versions v ON v.scene_id = s.id "
                          "AND v.version = s.current_version WHERE s.id = ?", (scene_id,))[0][0]
    kinds = {server.sql("SELECT category FROM targets WHERE id = ?", (target_id,))[0][0] for target_id in offered}
    assert kinds == {category}, (category, kinds)
    page.locator("#target-results input").first.check()
    members = page.locator("#round-form fieldset.checks input[name=member]")
    members.nth(0).check()
    members.nth(1).check()
    shot(page, "13-leader-new-round")
    page.click("#create-round")
    page.wait_for_function("() => location.hash.startsWith('#/leader/round/')", timeout=10000)
    page.wait_for_selector("#team-form")
    made = server.sql("SELECT kind, title FROM rounds WHERE title = ?", ("群众投诉：油烟扰民",))
    assert made == [("complaint", "群众投诉：油烟扰民")], scene_name
    assert not console.unexpected(), console.unexpected()


def test_supervisor_approves_one_and_rejects_another_with_a_reason(server, context, console):
    leader, round_id = leader_of_a_round(server)
    members = [r[0] for r in server.sql(
        "SELECT u.username FROM round_members m JOIN users u ON u.id = m.user_id "
        "WHERE m.round_id = ? AND u.certificate_no IS NOT NULL ORDER BY u.id", (round_id,))]
    first = submit_inspection(server, members[0], 31)
    second = submit_inspection(server, members[0], 32)
    supervisor = server.sql("SELECT u.username FROM users u JOIN user_roles r ON r.user_id = u.id "
                            "WHERE r.role = 'supervisor' ORDER BY u.id LIMIT 1")[0][0]
    page = console.attach(context.new_page())
    page.goto("/")
    sign_in(page, supervisor)
    page.wait_for_selector(f'#review-queue a[data-inspection="{first}"]')
    page.wait_for_selector(f'#review-queue a[data-inspection="{second}"]')
    shot(page, "14-review-queue")

    page.click(f'#review-queue a[data-inspection="{first}"]')
    page.wait_for_selector("#review-form")
    page.wait_for_selector("#record-photos figure")
    shot(page, "15-review-record")
    page.click("#record-photos figure button.thumb")
    page.wait_for_selector("#photo-viewer[open] #viewer-img")
    page.wait_for_function("() => document.querySelector('#viewer-img').complete")
    shot(page, "16-review-photo")
    page.click("#viewer-close")
    page.click("#review-form input[value=approved] + span")
    page.click("#review-submit")
    page.wait_for_selector("#toast >> text=审核意见已保存")
    page.wait_for_function("() => location.hash === '#/review'")
    page.wait_for_selector(f'#review-queue a[data-inspection="{second}"]')
    page.click(f'#review-queue a[data-inspection="{second}"]')
    page.wait_for_selector("#review-form")
    page.click("#review-form input[value=rejected] + span")
    page.click("#review-submit")
    assert "须填写原因" in page.text_content("#review-error")  # a rejection needs a reason
    page.fill("#review-reason", "照片与检查对象位置不符，请补充现场照片。")
    page.click("#review-submit")
    page.wait_for_function("() => location.hash === '#/review'")
    page.wait_for_selector("#review-queue, #review-empty")

    decisions = dict(server.sql("SELECT inspection_id, decision FROM reviews WHERE inspection_id IN (?, ?)",
                                (first, second)))
    assert decisions == {first: "approved", second: "rejected"}
    reason = server.sql("SELECT reason FROM reviews WHERE inspection_id = ?", (second,))[0][0]
    assert "位置不符" in reason
    assert not console.unexpected(), console.unexpected()


def test_supervisor_compares_a_kept_record_and_resolves_it(server, context, console):
    _leader, round_id = leader_of_a_round(server)
    member = server.sql("SELECT u.username FROM round_members m JOIN users u ON u.id = m.user_id "
                        "WHERE m.round_id = ? AND u.certificate_no IS NOT NULL ORDER BY u.id", (round_id,))[0][0]
    phone, body = inspection_body(server, member, 41)
    key = str(uuid.uuid4())
    assert phone.call("PUT", f"/inspections/{key}", body)[0] == 201
    # The same record ID arrives again with other content (another phone's copy): kept aside, not stored.
    status, answer = phone.call("PUT", f"/inspections/{key}", dict(body, notes="另一台手机上的记录", outcome="refer"))
    assert status == 409 and answer["error"]["details"]["kept"] is True, answer
    conflict_id = server.sql("SELECT id FROM inspection_conflicts WHERE uuid = ?", (key,))[0][0]
    supervisor = server.sql("SELECT u.username FROM users u JOIN user_roles r ON r.user_id = u.id "
                            "WHERE r.role = 'supervisor' ORDER BY u.id LIMIT 1")[0][0]

    page = console.attach(context.new_page())
    page.goto("/")
    sign_in(page, supervisor)
    page.wait_for_selector("#conflicts-link.flag")
    assert "冲突记录待处理" in page.text_content("#conflicts-link")
    page.click("#conflicts-link")
    page.click(f'#conflict-list a[data-conflict="{conflict_id}"]')
    page.wait_for_selector("#conflict-diff")
    assert page.text_content("#conflict-reason") == "同一记录编号，内容不同"
    diff = page.text_content("#conflict-diff")
    assert "另一台手机上的记录" in diff and "责令整改 → 移交立案" in diff, diff
    shot(page, "17-kept-record")
    page.click("#conflict-resolve")
    assert "请填写处理说明" in page.text_content("#conflict-error")
    page.fill("#conflict-resolution", "已与执法人员核实：第二份为误操作，以已存记录为准。")
    page.click("#conflict-resolve")
    page.wait_for_function("() => location.hash === '#/review/conflicts'")
    page.wait_for_selector("#conflict-list, #conflicts-empty")
    assert page.locator(f'#conflict-list a[data-conflict="{conflict_id}"]').count() == 0
    resolved = server.sql("SELECT resolution, resolved_at IS NOT NULL FROM inspection_conflicts WHERE id = ?",
                          (conflict_id,))
    assert resolved == [("已与执法人员核实：第二份为误操作，以已存记录为准。", 1)]
    notes = server.sql("SELECT notes, outcome FROM inspections WHERE uuid = ?", (key,))
    assert notes == [("browser test 41", "rectify")]  # the stored record stands
    assert not console.unexpected(), console.unexpected()
