"""The reproducible, explainable draw behind every round (双随机、一公开, 无事不扰).

Targets
    Each candidate gets a weight (``weight()``: risk factor × recency factor) and a number
    ``u`` in (0, 1) derived from ``sha256`` of the round's seed, a purpose label and the
    target id, never from ``random``'s hidden state. Sampling without replacement follows
    Efraimidis–Spirakis: ``key = u ** (1 / weight)``, and the targets with the largest keys are
    drawn. So a stored seed plus the stored candidate list recompute the same picks on any host,
    and every pick can be explained by its own three numbers.

无事不扰 (the monthly cap)
    A target already planned for a visit this month (in any scene) is left out of the draw,
    unless it is high risk, or the round is complaint-driven or a re-inspection. Such exemptions
    are typed ("high_risk", "complaint", "reinspection") and returned per pick so that the caller
    records them on the visit.

Joint visits (``plan_period``)
    Rounds of one period are planned together, in a fixed order (scene id, then squad id). When
    a later round draws a target for which an earlier round of the same plan already created a
    visit in that month, the later round *joins* that visit instead of being refused by the cap
    or creating a second one: the enterprise sees one team, once, checking the merged checklist
    (综合查一次). Joining adds no visit, so joinable targets are not capped in the later round,
    and the cap can never be exceeded without an exemption. We join only targets the later round
    drew itself; pulling in every target another scene happens to visit would replace this
    scene's random sample with another scene's. Visits planned by rounds generated earlier (the
    caller passes them in ``Candidate.planned_months``) are not joined: they may already be under
    way, so for those the cap applies.

Teams
    ``draw_team`` picks one certified inspector per participating department where the squad has
    one, at least two in all, least loaded first with ties broken by the seed's hash, and never
    someone in conflict with, or who last inspected, one of the round's targets (回避).

Nothing here imports Flask or SQLAlchemy; inputs and outputs are frozen dataclasses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Literal, get_args

from lianduinspect.rules.periods import month_keys, parse_period

__all__ = [
    "ALGORITHM_VERSION",
    "KEY_FORMULA",
    "MAX_RECENCY_DAYS",
    "RISK_FACTORS",
    "TEAM_SIZE_MIN",
    "WEIGHT_FORMULA",
    "Candidate",
    "CandidateRecord",
    "Exclusion",
    "Exemption",
    "Inspector",
    "InspectorRecord",
    "PeriodPlan",
    "PlannedVisit",
    "Risk",
    "RoundKey",
    "RoundPlan",
    "RoundRequest",
    "RuleKind",
    "SampleRule",
    "TargetDraw",
    "TeamDraw",
    "TeamUnavailable",
    "candidates_digest",
    "canonical",
    "canonical_candidates",
    "draw_targets",
    "draw_team",
    "eligible",
    "excluded",
    "explain",
    "plan_period",
    "sample_size",
    "uniform",
    "weight",
]

ALGORITHM_VERSION = "draw-v1"

Risk = Literal["low", "medium", "high"]
RuleKind = Literal["all", "fixed", "percent"]
Exemption = Literal["high_risk", "complaint", "reinspection"]
RoundKey = tuple[int, int]  # (scene_id, squad_id)

RISK_FACTORS: dict[str, int] = {"low": 1, "medium": 2, "high": 4}
# Recency stops growing after about a year; a never-inspected target counts as this old.
MAX_RECENCY_DAYS = 360
RECENCY_SCALE_DAYS = 90
WEIGHT_FORMULA = (
    "weight = risk factor (low 1, medium 2, high 4)"
    f" × (1 + min(days since last inspection in this scene, {MAX_RECENCY_DAYS})"
    f" / {RECENCY_SCALE_DAYS}); never inspected counts as {MAX_RECENCY_DAYS} days"
)
KEY_FORMULA = (
    "u = (2·n + 1) / 2^53, n = the first 52 bits of"
    ' sha256(JSON ["<seed>", "<purpose>", <id>]);'
    " key = u ** (1 / weight); the largest keys are drawn (Efraimidis–Spirakis)"
)
TEAM_SIZE_MIN = 2

_TARGET_PURPOSE = "target"
_TEAM_PURPOSE = "team"


# ---------------------------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True)
class Candidate:
    """A target as the draw sees it."""

    target_id: int
    risk: Risk
    days_since_last: int | None  # None: never inspected in this scene
    planned_months: frozenset[str]  # months with a planned or done visit, in any scene
    active: bool
    category: str
    area_id: int

    def __post_init__(self) -> None:
        if self.risk not in RISK_FACTORS:
            raise ValueError(f"target {self.target_id}: unknown risk {self.risk!r}")
        if self.days_since_last is not None and self.days_since_last < 0:
            raise ValueError(f"target {self.target_id}: days_since_last must not be negative")
        if not isinstance(self.planned_months, frozenset):
            # Freeze it so the candidate stays hashable and the digest cannot drift.
            object.__setattr__(self, "planned_months", frozenset(self.planned_months))


@dataclass(frozen=True)
class SampleRule:
    """How many eligible targets a round takes: all, a fixed number, or a percentage."""

    kind: RuleKind
    value: int = 0

    def __post_init__(self) -> None:
        if self.kind not in get_args(RuleKind):
            raise ValueError(f"unknown sampling rule {self.kind!r}: expected all, fixed or percent")
        if self.kind == "fixed" and self.value < 1:
            raise ValueError("a fixed sampling rule needs a value of at least 1")
        if self.kind == "percent" and not 1 <= self.value <= 100:
            raise ValueError("a percent sampling rule needs a value between 1 and 100")

    def describe(self) -> str:
        """Return the rule in words, e.g. "10%"."""
        match self.kind:
            case "all":
                return "all eligible"
            case "fixed":
                return f"fixed {self.value}"
            case "percent":
                return f"{self.value}%"


@dataclass(frozen=True)
class Inspector:
    """A squad member as the team draw sees them."""

    user_id: int
    department: str
    certified: bool  # holds an enforcement certificate (执法证)
    load: int  # open visits already assigned
    conflicts: frozenset[int] = frozenset()  # target ids they must avoid (回避)

    def __post_init__(self) -> None:
        if not isinstance(self.conflicts, frozenset):
            object.__setattr__(self, "conflicts", frozenset(self.conflicts))


@dataclass(frozen=True)
class RoundRequest:
    """One (scene, squad, period) round to plan together with the others of its period."""

    scene_id: int
    squad_id: int
    period_key: str
    month_key: str  # the month whose visits this round plans
    seed: str
    candidates: tuple[Candidate, ...]
    rule: SampleRule
    complaint: bool = False
    reinspection: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.candidates, tuple):
            object.__setattr__(self, "candidates", tuple(self.candidates))
        if self.month_key not in month_keys(self.period_key):
            raise ValueError(
                f"round {self.key}: month {self.month_key!r} is not in period {self.period_key!r}"
            )

    @property
    def key(self) -> RoundKey:
        """Return the (scene_id, squad_id) pair that names this round within its period."""
        return (self.scene_id, self.squad_id)


# ---------------------------------------------------------------------------------------------
# Outputs


@dataclass(frozen=True)
class Exclusion:
    """A candidate left out before the draw, and why."""

    target_id: int
    reason: str


@dataclass(frozen=True)
class CandidateRecord:
    """How one candidate fared in a target draw."""

    target_id: int
    weight: float
    u: float | None  # None when the candidate never entered the draw
    key: float | None
    picked: bool
    reason: str
    exemption: Exemption | None = None


@dataclass(frozen=True)
class TargetDraw:
    """The outcome of one round's target draw, with everything needed to recompute it."""

    algorithm_version: str
    seed: str
    month_key: str
    rule: SampleRule
    complaint: bool
    reinspection: bool
    joinable: tuple[int, ...]
    candidates_digest: str
    eligible_count: int
    sample_size: int
    picks: list[int]  # drawn target ids, largest key first
    exemptions: dict[int, Exemption]  # picked target id -> why the monthly cap did not apply
    records: list[CandidateRecord]  # drawn, then not drawn (by key), then excluded (by id)


@dataclass(frozen=True)
class InspectorRecord:
    """How one inspector fared in a team draw."""

    user_id: int
    department: str
    load: int
    u: float
    chosen: bool
    reason: str


@dataclass(frozen=True)
class TeamDraw:
    """The outcome of one round's team draw."""

    algorithm_version: str
    seed: str
    target_ids: tuple[int, ...]
    participating_departments: tuple[str, ...]
    members: list[int]  # chosen user ids, in the order they were chosen
    uncovered_departments: list[str]  # participating, but no eligible certified inspector
    records: list[InspectorRecord]


@dataclass(frozen=True)
class PlannedVisit:
    """One visit to a target in a month, serving one or more rounds (a joint visit)."""

    target_id: int
    month_key: str
    round_keys: list[RoundKey]  # the creating round first, then the rounds that joined it
    exemption: Exemption | None  # set when the visit was allowed past the monthly cap

    @property
    def joint(self) -> bool:
        """Return whether the visit serves more than one round."""
        return len(self.round_keys) > 1


@dataclass(frozen=True)
class RoundPlan:
    """One request's share of a period plan."""

    scene_id: int
    squad_id: int
    period_key: str
    month_key: str
    draw: TargetDraw
    created: list[int]  # target ids whose visit this round created
    joined: list[int]  # target ids whose visit, created by an earlier round, this round joined


@dataclass(frozen=True)
class PeriodPlan:
    """The rounds of a period planned together, and the visits they share."""

    algorithm_version: str
    rounds: list[RoundPlan]  # in processing order
    visits: list[PlannedVisit]  # in creation order


class TeamUnavailable(Exception):
    """Raised when fewer than two certified, unconflicted inspectors can be found."""

    def __init__(self, needed: int, found: list[int], records: list[InspectorRecord]) -> None:
        self.needed = needed
        self.found = found
        self.records = records
        passed = "; ".join(f"{r.user_id}: {r.reason}" for r in records if not r.chosen)
        super().__init__(
            f"need at least {needed} certified inspectors, found {len(found)}"
            + (f" (passed over: {passed})" if passed else "")
        )

    @property
    def details(self) -> dict[str, Any]:
        """Return plain values for the API error's details."""
        return {
            "needed": self.needed,
            "found": list(self.found),
            "passed_over": {str(r.user_id): r.reason for r in self.records if not r.chosen},
        }


# ---------------------------------------------------------------------------------------------
# Numbers


def uniform(seed: str, purpose: str, ident: int) -> float:
    """Return a number in the open interval (0, 1) derived from sha256(seed, purpose, id)."""
    # A JSON array rather than "seed|purpose|id" so a seed containing "|" cannot collide.
    message = json.dumps([seed, purpose, ident], ensure_ascii=False, separators=(",", ":"))
    n = int.from_bytes(hashlib.sha256(message.encode("utf-8")).digest()[:8], "big") >> 12
    # (2n + 1) / 2^53 is exact in a double and never 0 or 1, so u ** (1 / w) is always defined.
    return (2 * n + 1) / 2**53


def weight(candidate: Candidate) -> float:
    """Return risk factor × (1 + min(days since last, 360) / 90); never inspected = 360 days."""
    days = MAX_RECENCY_DAYS if candidate.days_since_last is None else candidate.days_since_last
    recency = 1 + min(days, MAX_RECENCY_DAYS) / RECENCY_SCALE_DAYS
    # Both factors are at least 1, so every eligible target keeps a chance of being drawn.
    return RISK_FACTORS[candidate.risk] * recency


def sample_size(rule: SampleRule, eligible_count: int) -> int:
    """Return how many targets the rule takes from eligible_count eligible ones."""
    if eligible_count <= 0:
        return 0
    match rule.kind:
        case "all":
            return eligible_count
        case "fixed":
            return min(rule.value, eligible_count)
        case "percent":
            # Integer ceiling (no float rounding), and at least one: a scene that applies to
            # a squad's area is never silently skipped because the percentage is small.
            return min(eligible_count, max(1, -(-eligible_count * rule.value // 100)))


# ---------------------------------------------------------------------------------------------
# Eligibility


def _exclusion_reason(candidate: Candidate, category: str, area_ids: Set[int]) -> str | None:
    """Return why a candidate is not eligible for a scene and squad, or None if it is."""
    reasons = []
    if not candidate.active:
        reasons.append("inactive")
    if candidate.category != category:
        reasons.append(f"category {candidate.category!r} is not the scene's {category!r}")
    if candidate.area_id not in area_ids:
        reasons.append(f"area {candidate.area_id} is outside the squad's areas")
    return "; ".join(reasons) or None


def eligible(
    candidates: Iterable[Candidate], category: str, area_ids: Iterable[int]
) -> list[Candidate]:
    """Return the active candidates of the scene's category in the squad's areas."""
    areas = frozenset(area_ids)
    return [c for c in candidates if _exclusion_reason(c, category, areas) is None]


def excluded(
    candidates: Iterable[Candidate], category: str, area_ids: Iterable[int]
) -> list[Exclusion]:
    """Return the candidates that eligible() leaves out, each with its reasons."""
    areas = frozenset(area_ids)
    return [
        Exclusion(c.target_id, reason)
        for c in candidates
        if (reason := _exclusion_reason(c, category, areas)) is not None
    ]


# ---------------------------------------------------------------------------------------------
# Canonical forms


def _plain(value: Any) -> Any:
    """Convert dataclasses, sets and mappings into JSON-ready values with a stable order."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def canonical(value: Any) -> bytes:
    """Serialize a draw, plan or input canonically: same content, same bytes."""
    # sort_keys and fixed separators make the bytes stable; floats print as repr, which
    # round-trips exactly, so a recomputed draw compares equal byte for byte.
    return json.dumps(
        _plain(value), ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def canonical_candidates(candidates: Iterable[Candidate]) -> bytes:
    """Serialize a candidate list canonically, sorted by target id; store it to recompute."""
    ordered = sorted(candidates, key=lambda c: c.target_id)
    return canonical(ordered)


def candidates_digest(candidates: Iterable[Candidate]) -> str:
    """Return "sha256:<hex>" of the canonical candidate list."""
    return "sha256:" + hashlib.sha256(canonical_candidates(candidates)).hexdigest()


# ---------------------------------------------------------------------------------------------
# Target draw


def _exemption(candidate: Candidate, complaint: bool, reinspection: bool) -> Exemption | None:
    """Return why a capped candidate may still be drawn, or None if it may not."""
    # The round's own cause comes first: it is why the team is going at all.
    if complaint:
        return "complaint"
    if reinspection:
        return "reinspection"
    if candidate.risk == "high":
        return "high_risk"
    return None


def _excluded_record(candidate: Candidate, reason: str) -> CandidateRecord:
    """Return the record of a candidate that never entered the draw."""
    return CandidateRecord(candidate.target_id, weight(candidate), None, None, False, reason)


_EXEMPTION_WORDS: dict[str, str] = {
    "high_risk": "high risk",
    "complaint": "complaint",
    "reinspection": "re-inspection",
}


def draw_targets(
    seed: str,
    candidates: Sequence[Candidate],
    rule: SampleRule,
    month_key: str,
    complaint: bool = False,
    *,
    reinspection: bool = False,
    joinable: Iterable[int] = (),
) -> TargetDraw:
    """Draw a round's targets from candidates already matched to the scene and squad.

    Inactive candidates are excluded here too. The sample size is taken from the active
    candidates, before the monthly cap, so a busy month does not shrink the rule; the cap then
    removes candidates and the draw takes as many as remain up to that size. `joinable` lists
    targets that already have a visit this month in the same plan: joining one adds no visit,
    so the cap does not apply to them.
    """
    if not isinstance(seed, str) or not seed:
        raise ValueError("seed must be a non-empty string")
    if parse_period(month_key).cadence != "monthly":
        raise ValueError(f"month_key must be a monthly key like '2023-03', not {month_key!r}")
    ids = [c.target_id for c in candidates]
    if len(ids) != len(set(ids)):
        raise ValueError("candidates must not repeat a target_id")
    joinable_ids = frozenset(joinable)

    active = [c for c in candidates if c.active]
    size = sample_size(rule, len(active))

    excluded_records: list[CandidateRecord] = []
    pool: list[tuple[Candidate, Exemption | None]] = []
    for c in sorted(candidates, key=lambda c: c.target_id):
        if not c.active:
            excluded_records.append(_excluded_record(c, "excluded: inactive"))
            continue
        if month_key in c.planned_months and c.target_id not in joinable_ids:
            exemption = _exemption(c, complaint, reinspection)
            if exemption is None:
                # 无事不扰: one visit per target per month across all scenes, unless exempt.
                reason = f"excluded: monthly cap (already planned in {month_key})"
                excluded_records.append(_excluded_record(c, reason))
                continue
            pool.append((c, exemption))
        else:
            pool.append((c, None))

    keyed = []
    for c, exemption in pool:
        w = weight(c)
        u = uniform(seed, _TARGET_PURPOSE, c.target_id)
        keyed.append((u ** (1 / w), c, w, u, exemption))
    # Largest key first; the target id settles an (astronomically unlikely) exact tie.
    keyed.sort(key=lambda item: (-item[0], item[1].target_id))
    take = min(size, len(keyed))

    records: list[CandidateRecord] = []
    picks: list[int] = []
    exemptions: dict[int, Exemption] = {}
    for rank, (key, c, w, u, exemption) in enumerate(keyed):
        picked = rank < take
        if picked:
            picks.append(c.target_id)
            if exemption is not None:
                exemptions[c.target_id] = exemption
        reason = "drawn" if picked else "not drawn (key below cut)"
        if exemption is not None:
            reason += f" (exempt from monthly cap: {_EXEMPTION_WORDS[exemption]})"
        elif picked and c.target_id in joinable_ids:
            reason += f" (joins the visit already planned in {month_key})"
        records.append(CandidateRecord(c.target_id, w, u, key, picked, reason, exemption))

    return TargetDraw(
        algorithm_version=ALGORITHM_VERSION,
        seed=seed,
        month_key=month_key,
        rule=rule,
        complaint=complaint,
        reinspection=reinspection,
        joinable=tuple(sorted(joinable_ids)),
        candidates_digest=candidates_digest(candidates),
        eligible_count=len(active),
        sample_size=size,
        picks=picks,
        exemptions=exemptions,
        records=records + excluded_records,
    )


# ---------------------------------------------------------------------------------------------
# Period plan with joint visits


@dataclass
class _VisitBuilder:
    """A visit being assembled while the plan runs."""

    target_id: int
    month_key: str
    exemption: Exemption | None
    round_keys: list[RoundKey] = field(default_factory=list)


def plan_period(requests: Sequence[RoundRequest]) -> PeriodPlan:
    """Draw every request's targets, joining visits that rounds of one month share."""
    keys = [r.key for r in requests]
    if len(keys) != len(set(keys)):
        raise ValueError("each (scene_id, squad_id) may appear only once in a plan")

    visits: dict[tuple[str, int], _VisitBuilder] = {}
    rounds: list[RoundPlan] = []
    # A fixed order, independent of how the caller listed the requests, so the plan (and who
    # creates a joint visit, and who joins it) is reproducible.
    for request in sorted(requests, key=lambda r: r.key):
        joinable = [tid for (month, tid) in visits if month == request.month_key]
        draw = draw_targets(
            request.seed,
            request.candidates,
            request.rule,
            request.month_key,
            request.complaint,
            reinspection=request.reinspection,
            joinable=joinable,
        )
        created: list[int] = []
        joined: list[int] = []
        for target_id in draw.picks:
            slot = (request.month_key, target_id)
            if slot in visits:
                # Joining: the same team visit serves this round too; no extra visit, no cap.
                visits[slot].round_keys.append(request.key)
                joined.append(target_id)
            else:
                visits[slot] = _VisitBuilder(
                    target_id, request.month_key, draw.exemptions.get(target_id), [request.key]
                )
                created.append(target_id)
        rounds.append(
            RoundPlan(
                request.scene_id,
                request.squad_id,
                request.period_key,
                request.month_key,
                draw,
                created,
                joined,
            )
        )
    return PeriodPlan(
        algorithm_version=ALGORITHM_VERSION,
        rounds=rounds,
        visits=[
            PlannedVisit(v.target_id, v.month_key, list(v.round_keys), v.exemption)
            for v in visits.values()
        ],
    )


# ---------------------------------------------------------------------------------------------
# Team draw


def _passed_over_reason(
    inspector: Inspector, target_ids: Sequence[int], last_inspectors: Mapping[int, Set[int]]
) -> str | None:
    """Return why an inspector may not join this round's team, or None if they may."""
    if not inspector.certified:
        return "no enforcement certificate (执法证)"
    conflicts = sorted(t for t in target_ids if t in inspector.conflicts)
    if conflicts:
        return f"回避: conflict of interest with target {', '.join(map(str, conflicts))}"
    # Rotation: the same officer does not go back to a target they inspected last time.
    previous = sorted(t for t in target_ids if inspector.user_id in last_inspectors.get(t, ()))
    if previous:
        return f"回避: inspected target {', '.join(map(str, previous))} last time in this scene"
    return None


def draw_team(
    seed: str,
    inspectors: Sequence[Inspector],
    participating_departments: Sequence[str],
    target_ids: Sequence[int],
    last_inspectors: Mapping[int, Set[int]],
) -> TeamDraw:
    """Choose a round's team: one per participating department, at least two certified."""
    if not isinstance(seed, str) or not seed:
        raise ValueError("seed must be a non-empty string")
    user_ids = [i.user_id for i in inspectors]
    if len(user_ids) != len(set(user_ids)):
        raise ValueError("inspectors must not repeat a user_id")
    departments = list(dict.fromkeys(participating_departments))  # dedupe, keep order

    tiebreak = {i.user_id: uniform(seed, _TEAM_PURPOSE, i.user_id) for i in inspectors}
    reasons: dict[int, str] = {}
    available: list[Inspector] = []
    for inspector in inspectors:
        reason = _passed_over_reason(inspector, target_ids, last_inspectors)
        if reason is None:
            available.append(inspector)
        else:
            reasons[inspector.user_id] = reason
    # Least loaded first; equal loads are ordered by the seed's hash, not by who was added first.
    available.sort(key=lambda i: (i.load, tiebreak[i.user_id], i.user_id))

    members: list[int] = []
    uncovered: list[str] = []
    for department in departments:
        pick = next((i for i in available if i.department == department), None)
        if pick is None:
            uncovered.append(department)
            continue
        members.append(pick.user_id)
        reasons[pick.user_id] = f"represents {department} (least loaded: load {pick.load})"
    for inspector in available:
        # Two officers at the least (行政处罚法), from any department.
        if len(members) >= TEAM_SIZE_MIN:
            break
        if inspector.user_id not in members:
            members.append(inspector.user_id)
            reasons[inspector.user_id] = (
                f"fills the two-officer minimum (load {inspector.load}, {inspector.department})"
            )
    for inspector in available:
        if inspector.user_id not in members:
            reasons[inspector.user_id] = "not needed: team already complete"

    order = {user_id: n for n, user_id in enumerate(members)}
    records = sorted(
        (
            InspectorRecord(
                i.user_id,
                i.department,
                i.load,
                tiebreak[i.user_id],
                i.user_id in order,
                reasons[i.user_id],
            )
            for i in inspectors
        ),
        key=lambda r: (not r.chosen, order.get(r.user_id, 0), r.user_id),
    )
    if len(members) < TEAM_SIZE_MIN:
        raise TeamUnavailable(TEAM_SIZE_MIN, members, records)
    return TeamDraw(
        algorithm_version=ALGORITHM_VERSION,
        seed=seed,
        target_ids=tuple(target_ids),
        participating_departments=tuple(departments),
        members=members,
        uncovered_departments=uncovered,
        records=records,
    )


# ---------------------------------------------------------------------------------------------
# Explanation (公开)


def _fmt(number: float | None) -> str:
    """Format a draw number for people: six decimals, or n/a when absent."""
    return "n/a" if number is None else f"{number:.6f}"


def _explain_targets(draw: TargetDraw) -> list[str]:
    """Return the lines that explain a target draw."""
    lines = [
        f"目标抽取 target draw {draw.algorithm_version}: seed {draw.seed!r}, month {draw.month_key}",
        f"rule {draw.rule.describe()}: {draw.sample_size} of {draw.eligible_count} eligible,"
        f" {len(draw.picks)} drawn"
        + (" (complaint-driven)" if draw.complaint else "")
        + (" (re-inspection)" if draw.reinspection else ""),
        f"candidates digest {draw.candidates_digest}",
        WEIGHT_FORMULA,
        KEY_FORMULA,
    ]
    for record in draw.records:
        lines.append(
            f"target {record.target_id}: weight {record.weight:.4f}, u {_fmt(record.u)},"
            f" key {_fmt(record.key)} — {record.reason}"
        )
    return lines


def _explain_team(draw: TeamDraw) -> list[str]:
    """Return the lines that explain a team draw."""
    lines = [
        f"人员抽取 team draw {draw.algorithm_version}: seed {draw.seed!r},"
        f" targets {', '.join(map(str, draw.target_ids)) or '—'}",
        f"departments {', '.join(draw.participating_departments) or '—'};"
        f" at least {TEAM_SIZE_MIN} certified; least loaded first, ties by u"
        f" from sha256(JSON [\"<seed>\", \"{_TEAM_PURPOSE}\", <user id>])",
        f"team: {', '.join(map(str, draw.members))}",
    ]
    if draw.uncovered_departments:
        lines.append(f"no eligible inspector from: {', '.join(draw.uncovered_departments)}")
    for record in draw.records:
        verdict = "chosen" if record.chosen else "passed over"
        lines.append(
            f"inspector {record.user_id} ({record.department}, load {record.load},"
            f" u {_fmt(record.u)}): {verdict} — {record.reason}"
        )
    return lines


def _explain_plan(plan: PeriodPlan) -> list[str]:
    """Return the lines that explain a period plan, its rounds and its joint visits."""
    joint = [v for v in plan.visits if v.joint]
    lines = [
        f"计划 period plan {plan.algorithm_version}: {len(plan.rounds)} rounds,"
        f" {len(plan.visits)} visits, {len(joint)} joint"
    ]
    for round_plan in plan.rounds:
        lines.append(
            f"— round scene {round_plan.scene_id} / squad {round_plan.squad_id},"
            f" {round_plan.period_key} (visits in {round_plan.month_key}):"
            f" {len(round_plan.created)} new, {len(round_plan.joined)} joined"
        )
        lines.extend("  " + line for line in _explain_targets(round_plan.draw))
    for visit in joint:
        served = " + ".join(f"scene {s}/squad {q}" for s, q in visit.round_keys)
        lines.append(
            f"联合检查 joint visit: target {visit.target_id} in {visit.month_key} serves {served}"
        )
    for visit in plan.visits:
        if visit.exemption is not None:
            lines.append(
                f"target {visit.target_id} in {visit.month_key}: exempt from monthly cap"
                f" ({_EXEMPTION_WORDS[visit.exemption]})"
            )
    return lines


def explain(draw: TargetDraw | TeamDraw | PeriodPlan) -> list[str]:
    """Return human-readable lines that explain a draw or plan, one fact per line."""
    if isinstance(draw, TargetDraw):
        return _explain_targets(draw)
    if isinstance(draw, TeamDraw):
        return _explain_team(draw)
    if isinstance(draw, PeriodPlan):
        return _explain_plan(draw)
    raise TypeError(f"cannot explain a {type(draw).__name__}")
