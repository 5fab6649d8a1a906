"""The enterprises' evaluations (企业评价) in real Chromium: oversight sees totals and comments, a squad only totals.

Evaluations are given the way enterprises give them, through the public visit code API. A leader sees
only completed months, so ratings "given last month" have their day moved back in the database (an
evaluation stores a day and nothing finer, so that is all there is to move).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from .conftest import shot, sign_in

pytestmark = pytest.mark.browser

BUREAU = ZoneInfo("Asia/Shanghai")

# Squad A: six ratings last month (enough for its leader), four with a comment.
A_RATINGS = [(5, "检查人员主动出示执法证，讲解清楚，没有影响正常营业。"), (4, None),
             (5, "一次把消防、食品安全都查完了，不用反复接待，点赞。"), (3, "整改期限有点紧，希望能多给几天。"),
             (4, None), (5, "检查很规范，还提醒我们灭火器快过期了。")]
# Squad B: three last month and three this month: too few in completed months for its leader.
B_LAST_MONTH = [(4, "后厨检查很仔细，指出的问题我们已经整改。"), (2, "来的时间正好是午市高峰，希望能错开。"),
                (5, "执法人员态度好，讲解法规耐心。")]
B_THIS_MONTH = [(3, "检查表上的条款能否提前发给我们自查？"), (4, "油烟净化器的问题说得很清楚。"),
                (5, "流程公开透明，扫码就能看到检查人员和依据。")]
# Squad C: a dozen comments over the last two months, so the list runs to a second page.
C_RATINGS = [(4, "希望多开展政策宣传。"), (5, "服务意识强。"), (3, "等候时间较长。"), (4, "指导具体，便于整改。"),
             (5, "联合检查减少了打扰。"), (4, "建议提前电话告知。"), (2, "个别人员语气生硬。"), (5, "非常专业。"),
             (4, "整改建议很实用。"), (5, "检查时间安排合理。"), (4, "希望复查时再指导一次。"), (5, "感谢上门指导安全生产。")]


@dataclass
class Seeded:
    squads: dict  # "A" | "B" | "C" -> (squad_id, squad name, leader username or None)
    comments: dict  # "A" | "B" | "C" -> [comment texts]
    ratings: dict  # "A" -> [ratings]
    last_month: str  # YYYY-MM


def _visits(server, squad_id: int, n: int) -> list[str]:
    """Codes of visits that take ratings, the rounds that opened earliest first."""
    return [r[0] for r in server.sql(
        "SELECT v.code FROM visits v JOIN rounds r ON r.id = v.round_id "
        "WHERE r.squad_id = ? AND r.status != 'cancelled' AND v.status IN ('pending', 'inspected') "
        "ORDER BY r.window_start, v.id LIMIT ?", (squad_id, n))]


def _rate(server, codes: list[str], given: list[tuple[int, str | None]]) -> list[int]:
    """Post ratings through the public API, three to a visit at most; return the new evaluations' ids."""
    public = server.api()
    ids = []
    for n, (rating, comment) in enumerate(given):
        code = codes[n // 3]
        status, body = public.call("POST", f"/public/visits/{code}/evaluations", {"rating": rating, "comment": comment})
        assert status == 201, body
        ids.append(server.sql("SELECT max(id) FROM evaluations")[0][0])
    return ids


def _move_to(server, ids: list[int], days: list[date]) -> None:
    for evaluation_id, day in zip(ids, days):
        server.sql("UPDATE evaluations SET created_on = ? WHERE id = ?", (day.isoformat(), evaluation_id))


@pytest.fixture(scope="module")
def seeded(server) -> Seeded:
    leaders = server.sql(
        "SELECT s.id, s.name, u.username FROM squads s JOIN users u ON u.squad_id = s.id "
        "JOIN user_roles ur ON ur.user_id = u.id AND ur.role = 'leader' ORDER BY s.id")
    (a_id, a_name, a_leader), (b_id, b_name, b_leader), (c_id, c_name, _c) = leaders[:3]
    month_start = datetime.now(BUREAU).date().replace(day=1)
    last_month = [month_start - timedelta(days=d) for d in (3, 5, 8, 11, 14, 17)]

    a_ids = _rate(server, _visits(server, a_id, 2), A_RATINGS)
    _move_to(server, a_ids, last_month)
    b_codes = _visits(server, b_id, 2)
    b_ids = _rate(server, b_codes, B_LAST_MONTH)
    _move_to(server, b_ids, last_month)
    _rate(server, b_codes[1:], B_THIS_MONTH)  # today: not in a completed month
    c_ids = _rate(server, _visits(server, c_id, 4), C_RATINGS)
    # Spread over the last two months; the two posted last are today's (the newest, on the first page).
    _move_to(server, c_ids[:10], [month_start - timedelta(days=2 + 5 * n) for n in range(10)])
    return Seeded(squads={"A": (a_id, a_name, a_leader), "B": (b_id, b_name, b_leader), "C": (c_id, c_name, None)},
                  comments={"A": [c for _r, c in A_RATINGS if c], "B": [c for _r, c in B_LAST_MONTH + B_THIS_MONTH],
                            "C": [c for _r, c in C_RATINGS]},
                  ratings={"A": [r for r, _c in A_RATINGS]},
                  last_month=(month_start - timedelta(days=1)).strftime("%Y-%m"))


def comment_requests(page) -> list[str]:
    """Record every request the page makes for single evaluations."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/api/v1/evaluations/comments" in r.url else None)
    return seen


def open_evaluations(page, username: str) -> None:
    page.goto("/")
    sign_in(page, username)
    page.wait_for_selector("#nav a[href='#/evaluations']")
    page.click("#nav a[href='#/evaluations']")


def test_supervisor_sees_totals_per_squad_and_department_and_traces_a_comment_to_its_squad(
        server, context, console, seeded):
    supervisor = server.sql("SELECT u.username FROM users u JOIN user_roles r ON r.user_id = u.id "
                            "WHERE r.role = 'supervisor' ORDER BY u.id LIMIT 1")[0][0]
    a_id, a_name, _ = seeded.squads["A"]
    b_id, b_name, _ = seeded.squads["B"]
    page = console.attach(context.new_page())
    open_evaluations(page, supervisor)
    page.wait_for_selector("#eval-squads")
    assert page.get_attribute("#nav a[href='#/evaluations']", "aria-current") == "page"

    # The totals, as the server counts them: all 24, per squad, per department.
    assert page.text_content("#eval-total .eval-count").strip() == "24 条"
    card = page.locator(f'#eval-squads li[data-squad="{a_id}"]')
    assert card.locator("h4").text_content() == a_name
    assert card.locator(".eval-count").text_content() == "6 条"
    ratings = seeded.ratings["A"]
    assert card.locator(".eval-average").text_content() == f"{round(sum(ratings) / len(ratings), 2):.2f}"
    assert card.locator(".dist div").nth(0).text_content() == f"5 分{ratings.count(5)} 条"
    status, summary = server.api(supervisor).call("GET", "/evaluations/summary")
    assert status == 200
    shown = page.locator("#eval-departments li h4").all_text_contents()
    assert shown and shown == [d["name"] for d in summary["departments"]]
    assert page.locator("#eval-squads li").count() == 3
    shot(page, "20-evaluations-supervisor")

    # Written comments: the first page of 20, newest first; "load more" brings the two oldest, below.
    page.wait_for_selector("#eval-comments li")
    assert page.locator("#eval-comments li").count() == 20
    assert page.is_visible("#eval-more")
    page.locator("#eval-comments-h").scroll_into_view_if_needed()
    shot(page, "21-evaluations-comments")
    page.click("#eval-more")
    page.wait_for_function("() => document.querySelectorAll('#eval-comments li').length === 22")
    assert page.is_hidden("#eval-more")
    newest_first = [str(r[0]) for r in server.sql(
        "SELECT id FROM evaluations WHERE comment IS NOT NULL ORDER BY id DESC")]
    assert page.eval_on_selector_all("#eval-comments li", "els => els.map(e => e.dataset.id)") == newest_first
    assert page.evaluate("() => document.activeElement.dataset.id") == newest_first[20]  # the first one loaded

    # One comment traced to its squad, scenes and day.
    text = seeded.comments["A"][1]
    evaluation_id, day, scene = server.sql(
        "SELECT e.id, e.created_on, sv.name FROM evaluations e JOIN visits v ON v.id = e.visit_id "
        "JOIN rounds r ON r.id = v.round_id JOIN scene_versions sv ON sv.id = r.scene_version_id "
        "WHERE e.comment = ?", (text,))[0]
    item = page.locator("#eval-comments li", has_text=text)
    assert item.count() == 1
    assert item.get_attribute("data-squad") == str(a_id) and item.get_attribute("data-id") == str(evaluation_id)
    assert item.locator(".eval-squad").text_content() == a_name
    assert scene in item.text_content()
    assert day.replace("-", "/") in item.text_content()

    # Filter by squad: only that squad's comments, and the filter is kept in the address.
    page.select_option("#eval-squad", str(b_id))
    page.click("#eval-apply")
    page.wait_for_function(f"() => location.hash === '#/evaluations/squad/{b_id}'")
    squads = page.eval_on_selector_all("#eval-comments li", "els => els.map(e => e.dataset.squad)")
    assert squads == [str(b_id)] * len(seeded.comments["B"])
    assert page.is_visible("#eval-squads")  # the totals above stayed
    page.locator("#eval-filter").scroll_into_view_if_needed()
    shot(page, "22-evaluations-filtered")

    # A failed request says so and keeps what is on screen.
    console.allow("ERR_FAILED")
    page.route("**/api/v1/evaluations/comments*", lambda route: route.abort())
    page.select_option("#eval-squad", "")
    page.click("#eval-apply")
    page.wait_for_selector("#eval-comments-error:has-text('需要网络连接')")
    assert page.locator("#eval-comments li").count() == len(seeded.comments["B"])
    assert page.input_value("#eval-squad") == str(b_id)
    assert page.is_visible("#nav") and page.is_visible("#eval-squads")
    assert not console.unexpected(), console.unexpected()


def test_leader_of_a_squad_with_fewer_than_five_sees_why_and_no_single_comment(server, context, console, seeded):
    _b_id, b_name, leader = seeded.squads["B"]
    page = console.attach(context.new_page())
    asked = comment_requests(page)
    open_evaluations(page, leader)
    page.wait_for_selector("#eval-not-enough")
    message = page.text_content("#eval-not-enough")
    assert "不足 5 条" in message and "匿名" in message
    assert page.text_content("#eval-squad-name") == b_name
    body = page.text_content("main")
    for text in seeded.comments["B"] + seeded.comments["A"] + seeded.comments["C"]:
        assert text not in body
    assert page.locator(".eval-count, .eval-average, #eval-comments").count() == 0
    shot(page, "23-evaluations-leader-too-few")

    page.click("#lang")
    page.wait_for_selector("#eval-not-enough:has-text('fewer than 5 evaluations')")
    assert "anonymous" in page.text_content("#eval-not-enough")
    shot(page, "24-evaluations-leader-too-few-en")
    assert asked == []
    assert not console.unexpected(), console.unexpected()


def test_leader_with_five_or_more_sees_the_total_only_and_comments_stay_forbidden(server, context, console, seeded):
    _a_id, a_name, leader = seeded.squads["A"]
    page = console.attach(context.new_page())
    asked = comment_requests(page)
    open_evaluations(page, leader)
    page.wait_for_selector("#eval-squad-summary")
    ratings = seeded.ratings["A"]
    assert page.text_content("#eval-squad-summary .eval-count") == f"{len(ratings)} 条"
    assert page.text_content("#eval-squad-summary .eval-average") == f"{round(sum(ratings) / len(ratings), 2):.2f}"
    assert page.text_content("#eval-squad-name") == a_name
    assert seeded.last_month in page.text_content("#eval-months")
    body = page.text_content("main")
    for text in seeded.comments["A"] + seeded.comments["B"] + seeded.comments["C"]:
        assert text not in body
    assert page.locator("#eval-comments, #eval-not-enough").count() == 0
    shot(page, "25-evaluations-leader")
    assert asked == []
    status, answer = server.api(leader).call("GET", "/evaluations/comments")
    assert status == 403 and answer["error"]["code"] == "forbidden"
    assert not console.unexpected(), console.unexpected()


def test_inspector_has_no_evaluations_tab_and_is_sent_to_the_rounds(server, context, console, inspector, seeded):
    page = console.attach(context.new_page())
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/v1/evaluations" in r.url else None)
    page.goto("/")
    sign_in(page, inspector)
    page.wait_for_selector("#rounds-list")
    assert page.locator("#nav a[href='#/evaluations']").count() == 0
    page.goto("/#/evaluations")
    page.wait_for_function("() => location.hash === '#/'")
    page.wait_for_selector("#rounds-list")
    assert asked == []
    assert not console.unexpected(), console.unexpected()
