"""The round draw: weighted, reproducible, explainable, and it never disturbs a target twice."""

import hashlib
import json
import random
from collections import Counter
from dataclasses import replace
from statistics import mean
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lianduinspect.rules.draw import (
    ALGORITHM_VERSION,
    CANDIDATE_LINE,
    WEIGHT_FORMULA,
    Candidate,
    Inspector,
    PeriodPlan,
    Risk,
    RotationClash,
    RoundRequest,
    SampleRule,
    TeamDraw,
    TeamUnavailable,
    candidate_lines,
    candidates_digest,
    canonical,
    canonical_candidates,
    draw_targets,
    draw_team,
    eligible,
    exclusion_reason,
    excluded,
    explain,
    parse_candidate,
    plan_period,
    rotation_clashes,
    sample_size,
    target_draw_bytes,
    uniform,
    weight,
)

MONTH = "2023-03"
CATEGORY = "restaurant"


def cand(
    target_id: int,
    risk: Risk = "medium",
    days: int | None = 30,
    planned: tuple[str, ...] = (),
    active: bool = True,
    category: str = CATEGORY,
    area_id: int = 1,
) -> Candidate:
    """Return a candidate with sensible defaults."""
    return Candidate(target_id, risk, days, frozenset(planned), active, category, area_id)


def registry() -> list[Candidate]:
    """Return 27 targets: three of every (risk, days since last inspection) pair."""
    candidates: list[Candidate] = []
    for risk in ("low", "medium", "high"):
        for days in (7, 90, None):
            for _ in range(3):
                candidates.append(cand(len(candidates) + 1, risk, days))
    return candidates


# ---------------------------------------------------------------------------------------------
# Weights, sample sizes, eligibility


@pytest.mark.parametrize(
    ("risk", "days", "expected"),
    [
        ("low", 0, 1.0),
        ("medium", 0, 2.0),
        ("high", 0, 4.0),
        ("low", 90, 2.0),
        ("medium", 45, 3.0),
        ("high", 180, 12.0),
        ("low", 360, 5.0),
        ("low", 1000, 5.0),
        ("low", None, 5.0),
        ("medium", None, 10.0),
        ("high", None, 20.0),
    ],
)
def test_weight_is_risk_factor_times_recency_factor(
    risk: Risk, days: int | None, expected: float
) -> None:
    assert weight(cand(1, risk, days)) == pytest.approx(expected)


def test_never_inspected_target_gets_the_largest_recency_factor() -> None:
    never = weight(cand(1, "low", None))
    assert all(weight(cand(1, "low", days)) <= never for days in (0, 1, 89, 359, 360, 5000))


def test_weight_grows_with_days_since_last_inspection() -> None:
    weights = [weight(cand(1, "medium", days)) for days in (0, 30, 90, 200, 360)]
    assert weights == sorted(weights) and len(set(weights)) == len(weights)


def test_every_target_has_a_positive_weight() -> None:
    for risk in ("low", "medium", "high"):
        for days in (0, 1, 365, None):
            assert weight(cand(1, risk, days)) > 0


def test_candidate_refuses_unknown_risk_and_negative_days() -> None:
    with pytest.raises(ValueError, match="unknown risk 'extreme'"):
        cand(1, "extreme")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must not be negative"):
        cand(1, "low", -1)


@pytest.mark.parametrize(
    ("rule", "eligible_count", "expected"),
    [
        (SampleRule("all"), 7, 7),
        (SampleRule("all"), 0, 0),
        (SampleRule("fixed", 3), 10, 3),
        (SampleRule("fixed", 20), 7, 7),
        (SampleRule("fixed", 3), 0, 0),
        (SampleRule("percent", 10), 25, 3),  # 2.5 rounds up
        (SampleRule("percent", 10), 20, 2),
        (SampleRule("percent", 33), 10, 4),  # 3.3 rounds up
        (SampleRule("percent", 1), 5, 1),  # 0.05 still takes one
        (SampleRule("percent", 1), 1, 1),
        (SampleRule("percent", 100), 9, 9),
        (SampleRule("percent", 50), 0, 0),
    ],
)
def test_sample_size_follows_the_rule(rule: SampleRule, eligible_count: int, expected: int) -> None:
    assert sample_size(rule, eligible_count) == expected


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("some", 1, "unknown sampling rule"),
        ("fixed", 0, "at least 1"),
        ("percent", 0, "between 1 and 100"),
        ("percent", 101, "between 1 and 100"),
    ],
)
def test_sample_rule_refuses_bad_values(kind: str, value: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SampleRule(kind, value)  # type: ignore[arg-type]


def test_eligible_keeps_active_targets_of_the_category_in_the_squads_areas() -> None:
    candidates = [
        cand(1),
        cand(2, active=False),
        cand(3, category="ktv"),
        cand(4, area_id=9),
        cand(5, area_id=2),
        cand(6, active=False, category="ktv", area_id=9),
    ]
    assert [c.target_id for c in eligible(candidates, CATEGORY, [1, 2])] == [1, 5]
    reasons = {e.target_id: e.reason for e in excluded(candidates, CATEGORY, {1, 2})}
    assert reasons == {
        2: "inactive",
        3: "category 'ktv' is not the scene's 'restaurant'",
        4: "area 9 is outside the squad's areas",
        6: "inactive; category 'ktv' is not the scene's 'restaurant';"
        " area 9 is outside the squad's areas",
    }


# ---------------------------------------------------------------------------------------------
# Target draw


def test_draw_takes_the_rules_sample_size() -> None:
    draw = draw_targets("s1", registry(), SampleRule("percent", 10), MONTH)
    assert draw.sample_size == 3 and len(draw.picks) == 3 and len(set(draw.picks)) == 3


def test_draw_picks_the_largest_keys_u_to_the_one_over_weight() -> None:
    draw = draw_targets("s1", registry(), SampleRule("fixed", 5), MONTH)
    by_id = {c.target_id: c for c in registry()}
    for record in draw.records:
        assert record.weight == weight(by_id[record.target_id])
        assert record.u == uniform("s1", "target", record.target_id)
        assert record.key == record.u ** (1 / record.weight)
    ranked = sorted(draw.records, key=lambda r: -(r.key or 0.0))
    assert draw.picks == [r.target_id for r in ranked[:5]]
    assert [r.reason for r in ranked] == ["drawn"] * 5 + ["not drawn (key below cut)"] * 22


def test_u_is_derived_from_sha256_of_seed_purpose_and_id() -> None:
    digest = hashlib.sha256(json.dumps(["s7", "target", 42], separators=(",", ":")).encode())
    n = int.from_bytes(digest.digest()[:8], "big") >> 12
    assert uniform("s7", "target", 42) == (2 * n + 1) / 2**53
    assert 0 < uniform("s7", "target", 42) < 1


def test_u_cannot_collide_through_a_separator_in_the_seed() -> None:
    assert uniform("a|target", "x", 1) != uniform("a", "target|x", 1)


def test_draw_ignores_and_preserves_random_module_state() -> None:
    random.seed(1)
    state = random.getstate()
    first = draw_targets("s1", registry(), SampleRule("fixed", 5), MONTH)
    assert random.getstate() == state
    random.seed(2)
    assert draw_targets("s1", registry(), SampleRule("fixed", 5), MONTH) == first


def test_inactive_candidate_is_never_drawn() -> None:
    draw = draw_targets("s1", [cand(1), cand(2, active=False)], SampleRule("all"), MONTH)
    assert draw.picks == [1]
    assert draw.records[-1].reason == "excluded: inactive" and draw.records[-1].u is None


def test_target_planned_this_month_is_excluded_by_the_monthly_cap() -> None:
    candidates = [cand(1, "medium", planned=(MONTH,)), cand(2, "low")]
    draw = draw_targets("s1", candidates, SampleRule("all"), MONTH)
    assert draw.picks == [2]
    capped = next(r for r in draw.records if r.target_id == 1)
    assert not capped.picked
    assert capped.reason == "excluded: monthly cap (already planned in 2023-03)"


def test_monthly_cap_concerns_only_the_same_month() -> None:
    draw = draw_targets("s1", [cand(1, planned=("2023-02", "2023-04"))], SampleRule("all"), MONTH)
    assert draw.picks == [1] and draw.exemptions == {}


def test_high_risk_target_is_exempt_from_the_monthly_cap() -> None:
    draw = draw_targets("s1", [cand(1, "high", planned=(MONTH,))], SampleRule("all"), MONTH)
    assert draw.picks == [1]
    assert draw.exemptions == {1: "high_risk"}
    assert draw.records[0].reason == "drawn (exempt from monthly cap: high risk)"


def test_complaint_round_is_exempt_from_the_monthly_cap() -> None:
    candidates = [cand(1, "low", planned=(MONTH,)), cand(2, "low")]
    draw = draw_targets("s1", candidates, SampleRule("all"), MONTH, complaint=True)
    assert sorted(draw.picks) == [1, 2]
    assert draw.exemptions == {1: "complaint"}  # only the capped pick needed an exemption


def test_reinspection_round_is_exempt_from_the_monthly_cap() -> None:
    candidates = [cand(1, "low", planned=(MONTH,))]
    draw = draw_targets("s1", candidates, SampleRule("all"), MONTH, reinspection=True)
    assert draw.picks == [1] and draw.exemptions == {1: "reinspection"}


def test_sample_size_counts_capped_targets_but_the_draw_takes_only_what_remains() -> None:
    candidates = [cand(1, planned=(MONTH,)), cand(2, planned=(MONTH,)), cand(3)]
    draw = draw_targets("s1", candidates, SampleRule("fixed", 2), MONTH)
    assert draw.eligible_count == 3 and draw.sample_size == 2
    assert draw.picks == [3]


def test_draw_with_no_candidates_draws_nothing() -> None:
    draw = draw_targets("s1", [], SampleRule("percent", 10), MONTH)
    assert draw.picks == [] and draw.sample_size == 0 and draw.records == []


def test_draw_refuses_repeated_targets_bad_months_and_empty_seeds() -> None:
    with pytest.raises(ValueError, match="repeat a target_id"):
        draw_targets("s1", [cand(1), cand(1)], SampleRule("all"), MONTH)
    with pytest.raises(ValueError, match="monthly key"):
        draw_targets("s1", [cand(1)], SampleRule("all"), "2023-Q1")
    with pytest.raises(ValueError, match="invalid period key"):
        draw_targets("s1", [cand(1)], SampleRule("all"), "March")
    with pytest.raises(ValueError, match="seed"):
        draw_targets("", [cand(1)], SampleRule("all"), MONTH)


def test_same_inputs_and_seed_give_a_byte_identical_draw() -> None:
    candidates = registry()
    first = canonical(draw_targets("s42", candidates, SampleRule("fixed", 5), MONTH))
    shuffled = list(reversed(candidates))
    again = canonical(draw_targets("s42", shuffled, SampleRule("fixed", 5), MONTH))
    assert first == again
    assert json.loads(first)["algorithm_version"] == ALGORITHM_VERSION == "draw-v2"


def test_different_seeds_give_different_draws() -> None:
    rule = SampleRule("fixed", 5)
    picks = {tuple(draw_targets(f"s{i}", registry(), rule, MONTH).picks) for i in range(20)}
    assert len(picks) > 15


@pytest.mark.parametrize(
    "change",
    [
        {"risk": "high"},
        {"days_since_last": 31},
        {"days_since_last": None},
        {"planned_months": frozenset({MONTH})},
        {"active": False},
        {"category": "ktv"},
        {"area_id": 2},
        {"target_id": 99},
    ],
)
def test_changing_one_candidate_changes_the_digest(change: dict[str, Any]) -> None:
    candidates = registry()
    before = candidates_digest(candidates)
    candidates[4] = replace(candidates[4], **change)
    assert candidates_digest(candidates) != before


def test_digest_ignores_candidate_order() -> None:
    candidates = registry()
    assert candidates_digest(candidates) == candidates_digest(list(reversed(candidates)))
    assert candidates_digest(candidates).startswith("sha256:")


def test_digest_is_sha256_of_the_candidate_lines_sorted_by_target_id() -> None:
    candidates = [
        cand(12, "high", None, planned=("2023-04", "2023-03")),
        cand(3, active=False, area_id=7),
    ]
    lines = ["3|medium|30||0|7|restaurant", "12|high|-|2023-03,2023-04|1|1|restaurant"]
    assert candidate_lines(candidates) == lines
    assert canonical_candidates(candidates) == "\n".join(lines).encode()
    expected = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    assert candidates_digest(candidates) == f"sha256:{expected}"
    assert CANDIDATE_LINE.count("|") == 6


@settings(deadline=None, max_examples=200)
@given(
    target_id=st.integers(0, 10**9),
    risk=st.sampled_from(["low", "medium", "high"]),
    days=st.one_of(st.none(), st.integers(0, 5000)),
    months=st.frozensets(st.sampled_from(["2023-01", "2023-02", "2024-12"])),
    active=st.booleans(),
    category=st.text(min_size=1, max_size=12),
    area_id=st.integers(0, 10**6),
)
def test_a_candidate_line_reads_back_as_the_same_candidate(
    target_id: int,
    risk: Risk,
    days: int | None,
    months: frozenset[str],
    active: bool,
    category: str,
    area_id: int,
) -> None:
    candidate = Candidate(target_id, risk, days, months, active, category, area_id)
    line = candidate.canonical_line
    assert "\n" not in line  # lines join with newlines, so none may hold one
    assert parse_candidate(line) == candidate


@pytest.mark.parametrize(
    "line",
    [
        "7|low|-||1|3",  # a field short
        "7|low|007||1|3|restaurant",  # not the canonical spelling of 7 days
        "7|low|-|2023-02,2023-01|1|3|restaurant",  # months out of order
        "7|low|-||yes|3|restaurant",
        "7|severe|-||1|3|restaurant",
        '7|low|-||1|3|rest"aurant',  # a quote the line would have escaped
    ],
)
def test_a_line_that_is_not_canonical_is_refused(line: str) -> None:
    with pytest.raises(ValueError):
        parse_candidate(line)


def test_draw_digest_covers_inputs_and_outcome() -> None:
    candidates = registry()
    draw = draw_targets("s1", candidates, SampleRule("fixed", 5), MONTH)
    again = draw_targets("s1", list(reversed(candidates)), SampleRule("fixed", 5), MONTH)
    assert target_draw_bytes(draw) == target_draw_bytes(again)
    for other in (
        draw_targets("s2", candidates, SampleRule("fixed", 5), MONTH),
        draw_targets("s1", candidates, SampleRule("fixed", 6), MONTH),
        draw_targets("s1", candidates, SampleRule("fixed", 5), "2023-04"),
        draw_targets("s1", candidates[1:], SampleRule("fixed", 5), MONTH),
        draw_targets("s1", candidates, SampleRule("fixed", 5), MONTH, joinable=[draw.picks[0]]),
    ):
        assert target_draw_bytes(other) != target_draw_bytes(draw)


def test_a_draw_keeps_only_its_own_candidates_among_the_joinable() -> None:
    draw = draw_targets("s1", [cand(1), cand(2), cand(3, active=False)], SampleRule("all"), MONTH,
                        joinable={2, 3, 99})
    assert draw.joinable == (2,)


def test_high_risk_and_long_uninspected_targets_are_drawn_more_often() -> None:
    candidates = registry()
    counts: Counter[int] = Counter()
    for i in range(1000):
        counts.update(draw_targets(f"s{i}", candidates, SampleRule("fixed", 5), MONTH).picks)

    def frequency(risk: str, days: int | None) -> float:
        group = [c for c in candidates if (c.risk, c.days_since_last) == (risk, days)]
        return mean(counts[c.target_id] for c in group)

    # A clear margin, not a photo finish: weights differ by up to 20x in this registry.
    assert frequency("high", None) > 5 * frequency("low", 7)
    assert frequency("high", 7) > 2 * frequency("low", 7)
    assert frequency("low", None) > 2 * frequency("low", 7)
    for days in (7, 90, None):
        assert frequency("high", days) > frequency("medium", days) > frequency("low", days)
    for risk in ("low", "medium", "high"):
        assert frequency(risk, None) > frequency(risk, 90) > frequency(risk, 7)
    # Nobody is shut out: every eligible target has a positive weight and was drawn.
    assert all(weight(c) > 0 and counts[c.target_id] > 0 for c in candidates)


def test_a_single_pick_is_drawn_in_proportion_to_weight() -> None:
    candidates = registry()
    total = sum(weight(c) for c in candidates)
    rule = SampleRule("fixed", 1)
    counts = Counter(draw_targets(f"s{i}", candidates, rule, MONTH).picks[0] for i in range(1000))
    for c in candidates:
        expected = 1000 * weight(c) / total
        assert abs(counts[c.target_id] - expected) < 4 * expected**0.5 + 5


# ---------------------------------------------------------------------------------------------
# Period plans and joint visits


def request(
    scene_id: int,
    squad_id: int,
    candidates: list[Candidate],
    rule: SampleRule = SampleRule("all"),
    month_key: str = MONTH,
    period_key: str | None = None,
    complaint: bool = False,
    seed: str | None = None,
) -> RoundRequest:
    """Return a round request with sensible defaults."""
    return RoundRequest(
        scene_id=scene_id,
        squad_id=squad_id,
        period_key=period_key or month_key,
        month_key=month_key,
        seed=seed or f"seed-{scene_id}-{squad_id}",
        candidates=tuple(candidates),
        rule=rule,
        complaint=complaint,
    )


def test_two_scenes_drawing_the_same_target_share_one_joint_visit() -> None:
    plan = plan_period([request(2, 1, [cand(1), cand(2)]), request(1, 1, [cand(1), cand(3)])])
    visits = {v.target_id: v for v in plan.visits}
    assert visits[1].round_keys == [(1, 1), (2, 1)] and visits[1].joint
    assert not visits[2].joint and not visits[3].joint
    assert [(r.scene_id, r.created, r.joined) for r in plan.rounds] == [
        (1, [1, 3], []),
        (2, [2], [1]),
    ]


def test_later_scene_joins_an_exempt_visit_instead_of_being_capped() -> None:
    high = cand(1, "high", planned=(MONTH,))
    plan = plan_period([request(1, 1, [high]), request(2, 1, [high])])
    assert len(plan.visits) == 1
    assert plan.visits[0].round_keys == [(1, 1), (2, 1)]
    assert plan.visits[0].exemption == "high_risk"
    later = plan.rounds[1].draw
    assert later.exemptions == {}  # joining adds no visit, so it needs no exemption
    assert later.records[0].reason == "drawn (joins the visit already planned in 2023-03)"


def test_target_planned_by_an_earlier_generation_stays_capped() -> None:
    low = cand(1, "low", planned=(MONTH,))
    plan = plan_period([request(1, 1, [low]), request(2, 1, [low])])
    assert plan.visits == []


def test_rounds_of_different_months_do_not_join() -> None:
    plan = plan_period(
        [
            request(1, 1, [cand(1)], month_key="2023-03", period_key="2023-Q1"),
            request(2, 1, [cand(1)], month_key="2023-04", period_key="2023-Q2"),
        ]
    )
    assert [(v.month_key, v.round_keys) for v in plan.visits] == [
        ("2023-03", [(1, 1)]),
        ("2023-04", [(2, 1)]),
    ]


def test_plan_does_not_depend_on_the_order_requests_are_given() -> None:
    requests = [
        request(s, q, registry(), SampleRule("percent", 30)) for s in (3, 1, 2) for q in (2, 1)
    ]
    assert canonical(plan_period(requests)) == canonical(plan_period(list(reversed(requests))))


def test_plan_refuses_the_same_round_twice() -> None:
    with pytest.raises(ValueError, match="only once"):
        plan_period([request(1, 1, [cand(1)]), request(1, 1, [cand(2)], seed="other")])


def test_round_request_month_must_lie_in_its_period() -> None:
    with pytest.raises(ValueError, match="not in period"):
        request(1, 1, [cand(1)], month_key="2023-04", period_key="2023-Q1")


MONTHS = ("2023-03", "2023-04")
QUARTER = {"2023-03": "2023-Q1", "2023-04": "2023-Q2"}
rules = st.one_of(
    st.just(SampleRule("all")),
    st.builds(SampleRule, st.just("fixed"), st.integers(1, 6)),
    st.builds(SampleRule, st.just("percent"), st.integers(1, 100)),
)


@st.composite
def registries(draw: st.DrawFn) -> list[Candidate]:
    """Draw a registry of targets (days since last inspection is set per round later)."""
    size = draw(st.integers(1, 10))
    return [
        cand(
            target_id,
            draw(st.sampled_from(["low", "medium", "high"])),
            None,
            tuple(draw(st.frozensets(st.sampled_from(MONTHS)))),
            draw(st.booleans()),
        )
        for target_id in range(1, size + 1)
    ]


@st.composite
def plans(draw: st.DrawFn) -> tuple[list[Candidate], list[RoundRequest]]:
    """Draw a registry and up to four rounds of one plan over overlapping parts of it."""
    targets = draw(registries())
    round_keys = st.tuples(st.integers(1, 3), st.integers(1, 2))
    keys = draw(st.lists(round_keys, min_size=1, max_size=4, unique=True))
    requests = []
    for scene_id, squad_id in keys:
        month = draw(st.sampled_from(MONTHS))
        chosen = draw(st.lists(st.sampled_from(targets), unique_by=lambda c: c.target_id))
        days = st.one_of(st.none(), st.integers(0, 400))
        candidates = [replace(c, days_since_last=draw(days)) for c in chosen]
        requests.append(
            RoundRequest(
                scene_id,
                squad_id,
                draw(st.sampled_from([month, QUARTER[month]])),
                month,
                draw(st.text(min_size=1, max_size=6)),
                tuple(candidates),
                draw(rules),
                complaint=draw(st.booleans()),
                reinspection=draw(st.booleans()),
            )
        )
    return targets, requests


@settings(deadline=None, max_examples=150)
@given(plans())
def test_no_target_is_planned_twice_in_a_month_without_an_exemption(
    drawn: tuple[list[Candidate], list[RoundRequest]],
) -> None:
    targets, requests = drawn
    plan = plan_period(requests)
    by_id = {t.target_id: t for t in targets}
    by_key = {r.key: r for r in requests}

    slots = Counter((v.month_key, v.target_id) for v in plan.visits)
    assert all(count == 1 for count in slots.values())  # joint, never duplicated
    for visit in plan.visits:
        target = by_id[visit.target_id]
        creator = by_key[visit.round_keys[0]]
        if visit.month_key in target.planned_months:
            # Over the cap: only with an exemption the creating round can justify.
            assert visit.exemption is not None
            assert {
                "high_risk": target.risk == "high",
                "complaint": creator.complaint,
                "reinspection": creator.reinspection,
            }[visit.exemption]
        else:
            assert visit.exemption is None


@settings(deadline=None, max_examples=150)
@given(plans())
def test_every_pick_is_served_by_exactly_one_visit_and_shared_picks_are_joint(
    drawn: tuple[list[Candidate], list[RoundRequest]],
) -> None:
    _, requests = drawn
    plan = plan_period(requests)
    serving = {(v.month_key, v.target_id): v for v in plan.visits}
    pickers: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for round_plan in plan.rounds:
        assert sorted(round_plan.created + round_plan.joined) == sorted(round_plan.draw.picks)
        for target_id in round_plan.draw.picks:
            slot = (round_plan.month_key, target_id)
            pickers.setdefault(slot, []).append((round_plan.scene_id, round_plan.squad_id))
    assert set(serving) == set(pickers)
    for slot, round_keys in pickers.items():
        assert serving[slot].round_keys == round_keys  # in processing order, creator first
        assert serving[slot].joint == (len(round_keys) > 1)
    assert [(r.scene_id, r.squad_id) for r in plan.rounds] == sorted(r.key for r in requests)


@settings(deadline=None, max_examples=150)
@given(plans())
def test_each_round_draws_its_sample_from_its_own_uncapped_targets(
    drawn: tuple[list[Candidate], list[RoundRequest]],
) -> None:
    _, requests = drawn
    plan = plan_period(requests)
    taken: set[tuple[str, int]] = set()
    for round_plan in plan.rounds:
        req = next(r for r in requests if r.key == (round_plan.scene_id, round_plan.squad_id))
        active = [c for c in req.candidates if c.active]
        exempt_round = req.complaint or req.reinspection
        pool = [
            c
            for c in active
            if req.month_key not in c.planned_months
            or exempt_round
            or c.risk == "high"
            or (req.month_key, c.target_id) in taken
        ]
        assert len(round_plan.draw.picks) == min(sample_size(req.rule, len(active)), len(pool))
        assert set(round_plan.draw.picks) <= {c.target_id for c in pool}
        taken.update((req.month_key, t) for t in round_plan.draw.picks)


@settings(deadline=None, max_examples=100)
@given(targets=registries(), month=st.sampled_from(MONTHS))
def test_scenes_sharing_eligible_targets_visit_them_jointly(
    targets: list[Candidate], month: str
) -> None:
    plan = plan_period(
        [request(1, 1, targets, month_key=month), request(2, 1, targets, month_key=month)]
    )
    uncapped = {
        t.target_id
        for t in targets
        if t.active and (month not in t.planned_months or t.risk == "high")
    }
    assert {v.target_id for v in plan.visits if v.joint} == uncapped
    assert all(v.round_keys == [(1, 1), (2, 1)] for v in plan.visits)


def test_same_requests_give_a_byte_identical_plan() -> None:
    rule = SampleRule("fixed", 4)
    requests = [request(1, 1, registry(), rule), request(2, 3, registry(), rule)]
    assert canonical(plan_period(requests)) == canonical(plan_period(list(requests)))


# ---------------------------------------------------------------------------------------------
# Team draw

ZHIFA, SHICHANG, SHENGTAI = "综合执法", "市场监管", "生态环境"


def inspector(
    user_id: int,
    department: str,
    load: int = 0,
    certified: bool = True,
    conflicts: tuple[int, ...] = (),
) -> Inspector:
    """Return an inspector with sensible defaults."""
    return Inspector(user_id, department, certified, load, frozenset(conflicts))


def test_team_takes_one_least_loaded_certified_inspector_per_department() -> None:
    squad = [
        inspector(1, ZHIFA, load=3),
        inspector(2, ZHIFA, load=1),
        inspector(3, SHICHANG, load=5),
        inspector(4, SHENGTAI, load=0),
    ]
    team = draw_team("s1", squad, [ZHIFA, SHICHANG], [10], {})
    assert team.members == [2, 3]
    assert team.uncovered_departments == []


def test_team_fills_to_two_officers_from_any_department() -> None:
    squad = [
        inspector(1, ZHIFA, load=2),
        inspector(2, SHENGTAI, load=4),
        inspector(3, SHICHANG, load=1),
    ]
    team = draw_team("s1", squad, [ZHIFA], [10], {})
    assert team.members == [1, 3]
    reasons = {r.user_id: r.reason for r in team.records}
    assert reasons[3].startswith("fills the two-officer minimum")
    assert reasons[2] == "not needed: team already complete"


def test_department_without_an_eligible_inspector_is_reported_uncovered() -> None:
    squad = [
        inspector(1, ZHIFA),
        inspector(2, ZHIFA, load=1),
        inspector(3, SHICHANG, certified=False),
    ]
    team = draw_team("s1", squad, [ZHIFA, SHICHANG, SHENGTAI], [10], {})
    assert team.members == [1, 2]
    assert team.uncovered_departments == [SHICHANG, SHENGTAI]


def test_uncertified_inspector_is_never_chosen() -> None:
    squad = [
        inspector(1, ZHIFA, certified=False),
        inspector(2, ZHIFA, load=9),
        inspector(3, SHICHANG, load=9),
    ]
    team = draw_team("s1", squad, [ZHIFA], [10], {})
    assert 1 not in team.members
    reason = next(r for r in team.records if r.user_id == 1).reason
    assert reason == "no enforcement certificate (执法证)"


def test_inspector_who_last_inspected_a_target_is_passed_over() -> None:
    squad = [inspector(1, ZHIFA), inspector(2, ZHIFA, load=5), inspector(3, SHICHANG)]
    team = draw_team("s1", squad, [ZHIFA, SHICHANG], [10, 11], {11: {1}})
    assert team.members == [2, 3]
    reason = next(r for r in team.records if r.user_id == 1).reason
    assert reason == "回避: inspected target 11 last time in this scene"


def test_inspector_in_conflict_with_a_target_is_passed_over() -> None:
    squad = [
        inspector(1, ZHIFA, conflicts=(10,)),
        inspector(2, ZHIFA, load=5),
        inspector(3, SHICHANG),
    ]
    team = draw_team("s1", squad, [ZHIFA, SHICHANG], [10, 11], {})
    assert team.members == [2, 3]
    reason = next(r for r in team.records if r.user_id == 1).reason
    assert reason == "回避: conflict of interest with target 10"


def test_conflict_with_a_target_outside_the_round_does_not_matter() -> None:
    squad = [inspector(1, ZHIFA, conflicts=(99,)), inspector(2, SHICHANG)]
    assert draw_team("s1", squad, [ZHIFA, SHICHANG], [10], {99: {2}}).members == [1, 2]


def test_equal_loads_are_broken_by_the_seed_not_by_user_id() -> None:
    squad = [inspector(1, ZHIFA), inspector(2, ZHIFA), inspector(3, SHICHANG)]
    departments = [ZHIFA, SHICHANG]
    chosen = Counter(
        draw_team(f"s{i}", squad, departments, [10], {}).members[0] for i in range(100)
    )
    assert chosen[1] > 20 and chosen[2] > 20
    assert draw_team("s5", squad, [ZHIFA], [10], {}) == draw_team("s5", squad, [ZHIFA], [10], {})


def test_fewer_than_two_eligible_inspectors_raise_team_unavailable() -> None:
    squad = [
        inspector(1, ZHIFA),
        inspector(2, ZHIFA, certified=False),
        inspector(3, SHICHANG, conflicts=(10,)),
    ]
    message = "need at least 2 certified inspectors, found 1"
    with pytest.raises(TeamUnavailable, match=message) as caught:
        draw_team("s1", squad, [ZHIFA, SHICHANG], [10], {})
    assert caught.value.details == {
        "needed": 2,
        "found": [1],
        "passed_over": {
            "2": "no enforcement certificate (执法证)",
            "3": "回避: conflict of interest with target 10",
        },
    }


def test_empty_squad_raises_team_unavailable() -> None:
    with pytest.raises(TeamUnavailable, match="found 0"):
        draw_team("s1", [], [ZHIFA], [10], {})


def test_rotation_is_relaxed_only_when_no_alternative_exists() -> None:
    squad = [inspector(1, ZHIFA), inspector(2, ZHIFA, load=5), inspector(3, SHICHANG)]
    team = draw_team("s1", squad, [ZHIFA, SHICHANG], [10, 11], {10: {1, 3}})
    # 1 went to target 10 last time and 2 could go instead; 3 is the squad's only 市场监管.
    assert team.members == [2, 3]
    assert team.rotation_relaxed == [RotationClash(3, SHICHANG, (10,), SHICHANG)]
    reasons = {r.user_id: r.reason for r in team.records}
    assert reasons[1] == "回避: inspected target 10 last time in this scene"
    assert reasons[3] == (
        "represents 市场监管 (load 0); rotation relaxed: inspected target 10 last time in this"
        " scene, no alternative in 市场监管"
    )
    line = "rotation relaxed: inspector 3 inspected target 10 last time; no alternative in 市场监管"
    assert line in explain(team)


def test_rotation_is_relaxed_for_the_two_officer_minimum_only_without_an_alternative() -> None:
    squad = [inspector(1, ZHIFA), inspector(2, SHICHANG), inspector(3, SHENGTAI, load=9)]
    kept = draw_team("s1", squad, [ZHIFA], [10], {10: {2}})
    assert kept.members == [1, 3] and kept.rotation_relaxed == []
    relaxed = draw_team("s1", squad, [ZHIFA], [10], {10: {2, 3}})
    assert relaxed.members == [1, 2]  # both went last time; 2 is the less loaded
    assert relaxed.rotation_relaxed == [RotationClash(2, SHICHANG, (10,), None)]
    assert any(
        line.endswith("no alternative in the squad for the two-officer minimum")
        for line in explain(relaxed)
    )


def test_relaxed_rotation_sends_whoever_inspected_fewest_of_the_targets() -> None:
    squad = [inspector(1, ZHIFA), inspector(2, ZHIFA, load=7), inspector(3, SHICHANG)]
    team = draw_team("s1", squad, [ZHIFA, SHICHANG], [10, 11, 12], {10: {1, 2, 3}, 11: {1}})
    assert team.members == [2, 3]  # 2 is busier than 1, but went back to one target, not two
    assert [(c.user_id, c.target_ids) for c in team.rotation_relaxed] == [(2, (10,)), (3, (10,))]


def test_large_round_with_full_history_still_gets_a_team() -> None:
    # Six inspectors of three departments; each target was inspected last time by one or two of
    # them, and every one of them has been to some of this 300-target round's targets.
    departments = (ZHIFA, SHICHANG, SHENGTAI)
    squad = [inspector(n, departments[(n - 1) // 2], load=n % 3) for n in range(1, 7)]
    target_ids = list(range(1, 301))
    last = {t: {t % 6 + 1, (t * t) % 7 % 6 + 1} for t in target_ids}
    team = draw_team("s1", squad, [ZHIFA, SHICHANG, SHENGTAI], target_ids, last)
    assert len(team.members) == 3 and team.uncovered_departments == []
    assert team.members == [1, 4, 6]  # of each pair, who went to fewer: 85 < 121, 50 < 122, 50 < 122
    assert {c.user_id for c in team.rotation_relaxed} == set(team.members)
    for clash in team.rotation_relaxed:
        mine = rotation_clashes(squad[clash.user_id - 1], target_ids, last)
        assert list(clash.target_ids) == mine
        colleagues = [i for i in squad if i.department == clash.department]
        assert len(mine) == min(len(rotation_clashes(i, target_ids, last)) for i in colleagues)


def test_declared_conflict_is_never_relaxed() -> None:
    squad = [inspector(1, ZHIFA, conflicts=(10,)), inspector(2, SHICHANG), inspector(3, ZHIFA)]
    with pytest.raises(TeamUnavailable) as caught:
        draw_team("s1", squad[:2], [ZHIFA, SHICHANG], [10, 11], {})
    assert caught.value.details["passed_over"] == {"1": "回避: conflict of interest with target 10"}
    # Rotation gives way, a conflict never: 3 goes back to target 11 rather than 1 going at all.
    team = draw_team("s1", squad, [ZHIFA, SHICHANG], [10, 11], {11: {3}})
    assert team.members == [3, 2] and team.rotation_relaxed[0].user_id == 3
    assert exclusion_reason(squad[0], [10, 11]) == "回避: conflict of interest with target 10"
    assert exclusion_reason(squad[2], [10, 11]) is None


DEPARTMENTS = (ZHIFA, SHICHANG, SHENGTAI, "应急管理")


@st.composite
def squads(draw: st.DrawFn) -> tuple[list[Inspector], list[str], list[int], dict[int, set[int]]]:
    """Draw a squad, the round's departments and targets, and who inspected them last."""
    target_ids = draw(st.lists(st.integers(1, 6), min_size=1, max_size=4, unique=True))
    user_ids = list(range(100, 100 + draw(st.integers(0, 8))))
    members = [
        Inspector(
            user_id,
            draw(st.sampled_from(DEPARTMENTS)),
            draw(st.booleans()),
            draw(st.integers(0, 4)),
            draw(st.frozensets(st.integers(1, 6), max_size=2)),
        )
        for user_id in user_ids
    ]
    departments = draw(st.lists(st.sampled_from(DEPARTMENTS), max_size=4, unique=True))
    last = {
        t: draw(st.sets(st.sampled_from(user_ids), max_size=4)) if user_ids else set()
        for t in target_ids
    }
    return members, departments, target_ids, last


@settings(deadline=None, max_examples=300)
@given(squad=squads(), seed=st.text(min_size=1, max_size=6))
def test_team_rules_hold_for_any_squad(
    squad: tuple[list[Inspector], list[str], list[int], dict[int, set[int]]], seed: str
) -> None:
    members, departments, target_ids, last = squad
    # Certified and without a declared conflict: the only ones who may ever go.
    allowed = [i for i in members if i.certified and not (i.conflicts & set(target_ids))]
    if len(allowed) < 2:
        with pytest.raises(TeamUnavailable):
            draw_team(seed, members, departments, target_ids, last)
        return

    # Enough certified, unconflicted inspectors: a team, however much history there is.
    team = draw_team(seed, members, departments, target_ids, last)
    chosen = [i for i in members if i.user_id in team.members]
    assert len(team.members) == len(set(team.members)) >= 2
    assert all(i in allowed for i in chosen)  # certified, never a declared conflict

    # One per participating department where the squad has one.
    covered = [d for d in departments if any(i.department == d for i in allowed)]
    assert team.uncovered_departments == [d for d in departments if d not in covered]
    assert all(any(i.department == d for i in chosen) for d in covered)
    assert len(team.members) == max(2, len(covered))

    # Every clash that remains is reported: who, and which targets.
    def clashes(i: Inspector) -> list[int]:
        return sorted(t for t in target_ids if i.user_id in last[t])

    relaxed = {c.user_id: c for c in team.rotation_relaxed}
    assert set(relaxed) == {i.user_id for i in chosen if clashes(i)}
    assert all(list(relaxed[i.user_id].target_ids) == clashes(i) for i in chosen if clashes(i))

    # Rotation kept whenever an alternative existed.
    for clash in team.rotation_relaxed:
        if clash.no_alternative_in is not None:
            assert all(clashes(i) for i in allowed if i.department == clash.no_alternative_in)
        else:
            assert all(clashes(i) for i in allowed if i.user_id not in team.members)

    # Within a department: the fewest clashes, then the least loaded.
    for department in covered:
        best = min((len(clashes(i)), i.load) for i in allowed if i.department == department)
        assert any(i.department == department and (len(clashes(i)), i.load) == best for i in chosen)
    assert {r.user_id for r in team.records if r.chosen} == set(team.members)


# ---------------------------------------------------------------------------------------------
# Explanations


def test_explain_target_draw_prints_the_formula_and_every_candidate() -> None:
    candidates = [*registry()[:5], cand(90, planned=(MONTH,)), cand(91, active=False)]
    lines = explain(draw_targets("s1", candidates, SampleRule("fixed", 2), MONTH))
    text = "\n".join(lines)
    assert WEIGHT_FORMULA in lines
    assert "seed 's1'" in text and "draw-v2" in text and "sha256:" in text
    for c in candidates:
        assert any(line.startswith(f"target {c.target_id}:") for line in lines)
    assert "excluded: monthly cap (already planned in 2023-03)" in text
    assert "excluded: inactive" in text


def test_explain_team_draw_gives_every_inspector_a_verdict() -> None:
    squad = [inspector(1, ZHIFA), inspector(2, SHICHANG), inspector(3, SHICHANG, certified=False)]
    team = draw_team("s1", squad, [ZHIFA, SHICHANG], [10], {})
    assert isinstance(team, TeamDraw)
    lines = explain(team)
    assert any("inspector 1" in line and "chosen" in line for line in lines)
    assert any("inspector 3" in line and "passed over" in line and "执法证" in line for line in lines)


def test_explain_names_the_inspector_and_target_of_a_relaxed_rotation() -> None:
    squad = [inspector(1, ZHIFA), inspector(3, SHICHANG)]
    team = draw_team("s1", squad, [ZHIFA, SHICHANG], [10], {10: {3}})
    lines = explain(team, people={3: "张三"}, targets={10: "某某餐馆"}, departments={SHICHANG: "市场监管"})
    assert "rotation relaxed: 张三 inspected 某某餐馆 last time; no alternative in 市场监管" in lines


def test_explain_plan_shows_joint_visits() -> None:
    plan = plan_period([request(1, 1, [cand(1)]), request(2, 4, [cand(1)])])
    assert isinstance(plan, PeriodPlan)
    lines = explain(plan)
    assert "联合检查 joint visit: target 1 in 2023-03 serves scene 1/squad 1 + scene 2/squad 4" in lines


def test_explain_refuses_unknown_objects() -> None:
    with pytest.raises(TypeError):
        explain("not a draw")  # type: ignore[arg-type]
