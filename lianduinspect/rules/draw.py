"""The reproducible, explainable draw behind every round (双随机、一公开, 无事不扰).

Targets
    Each candidate gets a weight (``weight()``: risk factor × recency factor) and a number
    ``u`` in (0, 1) derived from ``sha256`` of the round's seed, a purpose label and the
    target id, never from ``random``'s hidden state. Sampling without replacement follows
    Efraimidis–Spirakis: ``key = u ** (1 / weight)``, and the targets with the largest keys are
    drawn. So a stored seed plus the stored candidate list recompute the same picks on any host,
    and every pick can be explained by its own three numbers.

The candidate list's digest (draw-v2)
    Every candidate has one canonical line (``candidate_line``, format ``CANDIDATE_LINE``); the
    digest is ``sha256`` of the lines of all candidates, sorted by target id and joined with
    "\\n". The lines are what a round stores, so the stored list is the digest's own input, and
    ``parse_candidate`` reads a line back. A candidate is immutable, so its line is computed once
    however many rounds of a period it appears in.

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
    one, at least two in all. Declared conflicts of interest (回避) are absolute: such an inspector
    is never on the team. Rotation (not the same officer who inspected a target last time in this
    scene) is kept whenever it can be: candidates are ranked by how many of the round's targets
    they inspected last time (none first), then by load, then by the seed's hash. When a
    department's only eligible inspectors, or everyone left for the two-officer minimum, inspected
    one of the targets last time, rotation is relaxed for them rather than leaving the round
    without a lawful team, and every such clash is reported (``TeamDraw.rotation_relaxed``).

Nothing here imports Flask or SQLAlchemy; inputs and outputs are frozen dataclasses, except that
a target draw's per-candidate records come as a sequence built when first read
(``CandidateRecords``): generation reads none of them, explanation all.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, fields, is_dataclass
from functools import lru_cache
from operator import attrgetter
from typing import Any, Literal, get_args, overload

from lianduinspect.rules.periods import month_keys, parse_period

__all__ = [
    "ALGORITHM_VERSION",
    "CANDIDATE_LINE",
    "KEY_FORMULA",
    "MAX_RECENCY_DAYS",
    "RISK_FACTORS",
    "TEAM_SIZE_MIN",
    "WEIGHT_FORMULA",
    "Candidate",
    "CandidateRecord",
    "CandidateRecords",
    "Exclusion",
    "Exemption",
    "Inspector",
    "InspectorRecord",
    "PeriodPlan",
    "PlannedVisit",
    "Risk",
    "RotationClash",
    "RoundKey",
    "RoundPlan",
    "RoundRequest",
    "RuleKind",
    "SampleRule",
    "TargetDraw",
    "TeamDraw",
    "TeamUnavailable",
    "candidate_line",
    "candidate_lines",
    "candidates_digest",
    "canonical",
    "canonical_candidates",
    "draw_targets",
    "draw_team",
    "eligible",
    "excluded",
    "exclusion_reason",
    "explain",
    "parse_candidate",
    "plan_period",
    "rotation_clashes",
    "rotation_reason",
    "rotation_relaxed_line",
    "sample_size",
    "target_draw_bytes",
    "team_draw_bytes",
    "uniform",
    "weight",
]

ALGORITHM_VERSION = "draw-v2"

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
CANDIDATE_LINE = (
    "<target id>|<risk>|<days since last inspection in this scene, - if never>"
    "|<months already planned, sorted, comma-separated>|<1 active, 0 inactive>|<area id>"
    "|<category, escaped as inside a JSON string>"
)
TEAM_SIZE_MIN = 2

_TARGET_PURPOSE = "target"
_TEAM_PURPOSE = "team"
_TWO_TO_53 = 2.0**53
_FIRST_8_BYTES = struct.Struct(">Q").unpack_from
_BY_TARGET_ID = attrgetter("target_id")


# ---------------------------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True)
class Candidate:
    """A target as the draw sees it."""

    # Slots, and a slot to cache the canonical line in: a period's plan holds tens of thousands
    # of candidates, and every object with a __dict__ is one more for the garbage collector.
    __slots__ = (
        "target_id",
        "risk",
        "days_since_last",
        "planned_months",
        "active",
        "category",
        "area_id",
        "_line",
    )

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
        object.__setattr__(self, "_line", None)

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        # Frozen: copy and pickle restore the fields the way __init__ sets them.
        for f, value in zip(fields(self), state, strict=True):
            object.__setattr__(self, f.name, value)
        object.__setattr__(self, "_line", None)

    @property
    def canonical_line(self) -> str:
        """Return the candidate's line in the canonical candidate list (format CANDIDATE_LINE)."""
        line: str | None = self._line
        if line is None:
            # Cached on the (frozen) candidate: a period's rounds share candidates, and the line
            # of each is needed for the digest and for what the round stores.
            days = "-" if self.days_since_last is None else str(self.days_since_last)
            months = ",".join(sorted(self.planned_months))
            active = "1" if self.active else "0"
            line = (
                f"{self.target_id}|{self.risk}|{days}|{months}|{active}|{self.area_id}"
                f"|{_json_string(self.category)}"
            )
            object.__setattr__(self, "_line", line)
        return line


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
    conflicts: frozenset[int] = frozenset()  # declared conflicts of interest: target ids (回避)

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


class CandidateRecords(Sequence[CandidateRecord]):
    """A draw's candidate records, made on first use: drawn, then not drawn (by key), then excluded.

    Generating a period draws tens of thousands of candidates and reads none of their records;
    explaining a round reads all of them. So the draw keeps its numbers in flat lists (floats
    and ints, which the cyclic garbage collector never has to visit) and this sequence turns
    them into records the first time anyone looks.
    """

    __slots__ = ("_pool", "_order", "_take", "_joined", "_month_key", "_left_out", "_made")

    def __init__(
        self,
        pool: tuple[list[int], list[float], list[float], list[float], dict[int, Exemption]],
        order: list[int],
        take: int,
        joined: Set[int],
        month_key: str,
        left_out: tuple[list[int], list[float], list[str]],
    ) -> None:
        # The candidates drawn from: ids, weights, u, keys, and exemptions by position.
        self._pool = pool
        self._order = order  # positions in the pool, largest key first
        self._take = take
        self._joined = joined
        self._month_key = month_key
        self._left_out = left_out  # ids, weights, reasons: excluded before the draw, by id
        self._made: list[CandidateRecord] | None = None

    def _records(self) -> list[CandidateRecord]:
        if self._made is None:
            ids, weights, us, keys, exemptions = self._pool
            made = []
            for rank, at in enumerate(self._order):
                target_id, picked, exemption = ids[at], rank < self._take, exemptions.get(at)
                reason = "drawn" if picked else "not drawn (key below cut)"
                if exemption is not None:
                    reason += f" (exempt from monthly cap: {_EXEMPTION_WORDS[exemption]})"
                elif picked and target_id in self._joined:
                    reason += f" (joins the visit already planned in {self._month_key})"
                made.append(
                    CandidateRecord(
                        target_id, weights[at], us[at], keys[at], picked, reason, exemption
                    )
                )
            made.extend(
                CandidateRecord(target_id, w, None, None, False, reason)
                for target_id, w, reason in zip(*self._left_out)
            )
            self._made = made
        return self._made

    @overload
    def __getitem__(self, index: int) -> CandidateRecord: ...

    @overload
    def __getitem__(self, index: slice) -> list[CandidateRecord]: ...

    def __getitem__(self, index: int | slice) -> CandidateRecord | list[CandidateRecord]:
        return self._records()[index]

    def __len__(self) -> int:
        return len(self._order) + len(self._left_out[0])

    def __iter__(self) -> Iterator[CandidateRecord]:
        return iter(self._records())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CandidateRecords):
            return self._records() == other._records()
        if isinstance(other, (list, tuple)):
            return self._records() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # like a list

    def __repr__(self) -> str:
        return repr(self._records())


@dataclass(frozen=True)
class TargetDraw:
    """The outcome of one round's target draw, with everything needed to recompute it."""

    algorithm_version: str
    seed: str
    month_key: str
    rule: SampleRule
    complaint: bool
    reinspection: bool
    joinable: tuple[int, ...]  # candidates with a visit this plan already made this month
    candidates_digest: str
    eligible_count: int
    sample_size: int
    picks: list[int]  # drawn target ids, largest key first
    exemptions: dict[int, Exemption]  # picked target id -> why the monthly cap did not apply
    records: Sequence[CandidateRecord]  # drawn, then not drawn (by key), then excluded (by id)


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
class RotationClash:
    """A team member sent to targets they inspected last time in this scene, for want of others."""

    user_id: int
    department: str
    target_ids: tuple[int, ...]  # the round's targets they inspected last time, ascending
    # The department they represent; None: the squad, for the two-officer minimum.
    no_alternative_in: str | None


@dataclass(frozen=True)
class TeamDraw:
    """The outcome of one round's team draw."""

    algorithm_version: str
    seed: str
    target_ids: tuple[int, ...]
    participating_departments: tuple[str, ...]
    members: list[int]  # chosen user ids, in the order they were chosen
    uncovered_departments: list[str]  # participating, but no certified, unconflicted inspector
    rotation_relaxed: list[RotationClash]  # every member going back to a target; none if avoidable
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
    """Raised when fewer than two certified inspectors without a declared conflict can be found."""

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


def _hasher(seed: str, purpose: str) -> Any:
    """Return a sha256 object fed with the JSON array ["<seed>", "<purpose>", up to the id."""
    # The same bytes as json.dumps([seed, purpose, id]) once "<id>]" is appended: hashing the
    # common prefix once and copying it per id saves encoding the seed for every candidate.
    prefix = json.dumps([seed, purpose], ensure_ascii=False, separators=(",", ":"))[:-1] + ","
    return hashlib.sha256(prefix.encode("utf-8"))


def _u(prefix: Any, ident: int) -> float:
    """Return u for one id from a _hasher() prefix."""
    h = prefix.copy()
    h.update(b"%d]" % ident)
    # (2n + 1) / 2^53 is exact in a double and never 0 or 1, so u ** (1 / w) is always defined.
    return ((_FIRST_8_BYTES(h.digest())[0] >> 12) * 2 + 1) / _TWO_TO_53


def uniform(seed: str, purpose: str, ident: int) -> float:
    """Return a number in the open interval (0, 1) derived from sha256(seed, purpose, id)."""
    # A JSON array rather than "seed|purpose|id" so a seed containing "|" cannot collide.
    return _u(_hasher(seed, purpose), int(ident))


def _recency_days(days: int | None) -> int:
    """Return the days the recency factor counts: capped, and the cap when never inspected."""
    return MAX_RECENCY_DAYS if days is None or days > MAX_RECENCY_DAYS else days


# Weights by risk and capped days: three rows of 361, so the draw looks weights up.
_WEIGHTS: dict[str, tuple[float, ...]] = {
    # Both factors are at least 1, so every eligible target keeps a chance of being drawn.
    risk: tuple(factor * (1 + days / RECENCY_SCALE_DAYS) for days in range(MAX_RECENCY_DAYS + 1))
    for risk, factor in RISK_FACTORS.items()
}


def weight(candidate: Candidate) -> float:
    """Return risk factor × (1 + min(days since last, 360) / 90); never inspected = 360 days."""
    return _WEIGHTS[candidate.risk][_recency_days(candidate.days_since_last)]


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
    if isinstance(value, (list, tuple, CandidateRecords)):
        return [_plain(v) for v in value]
    return value


def canonical(value: Any) -> bytes:
    """Serialize a draw, plan or input canonically: same content, same bytes."""
    # sort_keys and fixed separators make the bytes stable; floats print as repr, which
    # round-trips exactly, so a recomputed draw compares equal byte for byte.
    return json.dumps(
        _plain(value), ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


@lru_cache(maxsize=256)
def _json_string(text: str) -> str:
    """Return a string escaped as inside a JSON string literal (a registry has a few categories)."""
    # Escaped, so no line holds a newline; last on the line, so a "|" in it needs no escape.
    return json.dumps(text, ensure_ascii=False)[1:-1]


def candidate_line(candidate: Candidate) -> str:
    """Return a candidate's canonical line (format CANDIDATE_LINE)."""
    return candidate.canonical_line


def candidate_lines(candidates: Iterable[Candidate]) -> list[str]:
    """Return the canonical candidate list: every candidate's line, sorted by target id."""
    return [c.canonical_line for c in sorted(candidates, key=_BY_TARGET_ID)]


def parse_candidate(line: str) -> Candidate:
    """Read a candidate back from its canonical line; raise ValueError if it is not one."""
    parts = line.split("|", 6)
    if len(parts) != 7:
        raise ValueError(f"not a candidate line ({CANDIDATE_LINE}): {line!r}")
    target_id, risk, days, months, active, area_id, category = parts
    if active not in ("0", "1"):
        raise ValueError(f"candidate line {line!r}: active must be 0 or 1")
    name = json.loads(f'"{category}"')
    candidate = Candidate(
        int(target_id),
        risk,  # type: ignore[arg-type]  # checked by Candidate
        None if days == "-" else int(days),
        frozenset(months.split(",")) if months else frozenset(),
        active == "1",
        name,
        int(area_id),
    )
    if candidate.canonical_line != line:
        # Only the canonical spelling is accepted, so a line and its candidate digest alike.
        raise ValueError(f"candidate line {line!r} is not canonical: {candidate.canonical_line!r}")
    return candidate


def _digest_of_lines(lines: Iterable[str]) -> str:
    return "sha256:" + hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def canonical_candidates(candidates: Iterable[Candidate]) -> bytes:
    """Serialize a candidate list canonically: the lines sorted by target id, joined by newlines."""
    return "\n".join(candidate_lines(candidates)).encode("utf-8")


def candidates_digest(candidates: Iterable[Candidate]) -> str:
    """Return "sha256:<hex>" of the canonical candidate list; it does not depend on their order."""
    return _digest_of_lines(candidate_lines(candidates))


def target_draw_bytes(result: TargetDraw) -> bytes:
    """Return the canonical bytes a target draw's digest covers: its inputs and its outcome.

    The inputs are the version, seed, month, rule, cause (complaint, re-inspection), joinable
    candidates and the candidate list by its digest; the outcome is the counts, the picks in key
    order and the exemptions. The per-candidate numbers (weight, u, key) are not included: they
    follow from the inputs, and explaining a round recomputes and prints them.
    """
    content = [
        result.algorithm_version,
        result.seed,
        result.month_key,
        [result.rule.kind, result.rule.value],
        result.complaint,
        result.reinspection,
        list(result.joinable),
        result.candidates_digest,
        result.eligible_count,
        result.sample_size,
        list(result.picks),
        sorted([t, e] for t, e in result.exemptions.items()),
    ]
    return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def team_draw_bytes(result: TeamDraw) -> bytes:
    """Return the canonical bytes a team draw's digest covers: every field, floats exact."""
    content = [
        result.algorithm_version,
        result.seed,
        list(result.target_ids),
        list(result.participating_departments),
        list(result.members),
        list(result.uncovered_departments),
        [
            [c.user_id, c.department, list(c.target_ids), c.no_alternative_in]
            for c in result.rotation_relaxed
        ],
        [[r.user_id, r.department, r.load, r.u, r.chosen, r.reason] for r in result.records],
    ]
    return json.dumps(
        content, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


# ---------------------------------------------------------------------------------------------
# Target draw


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
    so the cap does not apply to them. The draw keeps only the joinable targets among its own
    candidates: the others cannot change it.
    """
    if not isinstance(seed, str) or not seed:
        raise ValueError("seed must be a non-empty string")
    if parse_period(month_key).cadence != "monthly":
        raise ValueError(f"month_key must be a monthly key like '2023-03', not {month_key!r}")
    ordered = sorted(candidates, key=_BY_TARGET_ID)
    if len({c.target_id for c in ordered}) != len(ordered):
        raise ValueError("candidates must not repeat a target_id")
    joinable_ids = joinable if isinstance(joinable, (set, frozenset)) else frozenset(joinable)

    # The round's own cause comes first: it is why the team is going at all.
    cause: Exemption | None = (
        "complaint" if complaint else "reinspection" if reinspection else None
    )
    cap_reason = f"excluded: monthly cap (already planned in {month_key})"
    copy = _hasher(seed, _TARGET_PURPOSE).copy
    first_8_bytes, weights, max_days = _FIRST_8_BYTES, _WEIGHTS, MAX_RECENCY_DAYS
    lines: list[str] = []
    # The candidates that enter the draw, as flat columns in target id order.
    ids: list[int] = []
    ws: list[float] = []
    us: list[float] = []
    keys: list[float] = []
    exempt: dict[int, Exemption] = {}  # position -> why the monthly cap did not apply
    out_ids: list[int] = []
    out_ws: list[float] = []
    out_reasons: list[str] = []
    joined: list[int] = []
    active = 0
    # The hot loop of a period's generation (every candidate of every round passes here once):
    # uniform() and weight() inlined, numbers in flat lists rather than a record per candidate.
    for c in ordered:
        lines.append(c.canonical_line)
        target_id = c.target_id
        days = c.days_since_last
        w = weights[c.risk][max_days if days is None or days > max_days else days]
        if not c.active:
            out_ids.append(target_id)
            out_ws.append(w)
            out_reasons.append("excluded: inactive")
            continue
        active += 1
        if target_id in joinable_ids:
            joined.append(target_id)
        elif month_key in c.planned_months:
            exemption = cause or ("high_risk" if c.risk == "high" else None)
            if exemption is None:
                # 无事不扰: one visit per target per month across all scenes, unless exempt.
                out_ids.append(target_id)
                out_ws.append(w)
                out_reasons.append(cap_reason)
                continue
            exempt[len(ids)] = exemption
        h = copy()
        h.update(b"%d]" % target_id)
        u = ((first_8_bytes(h.digest())[0] >> 12) * 2 + 1) / _TWO_TO_53
        ids.append(target_id)
        ws.append(w)
        us.append(u)
        keys.append(u ** (1 / w))
    # Largest key first. The sort is stable and the pool is in target id order, so the target id
    # settles an (astronomically unlikely) exact tie.
    order = sorted(range(len(ids)), key=keys.__getitem__, reverse=True)
    size = sample_size(rule, active)
    take = min(size, len(ids))
    drawn = order[:take]
    joinable_here = tuple(joined)  # ascending, as the candidates were
    return TargetDraw(
        algorithm_version=ALGORITHM_VERSION,
        seed=seed,
        month_key=month_key,
        rule=rule,
        complaint=complaint,
        reinspection=reinspection,
        joinable=joinable_here,
        candidates_digest=_digest_of_lines(lines),
        eligible_count=active,
        sample_size=size,
        picks=[ids[at] for at in drawn],
        exemptions={ids[at]: exempt[at] for at in drawn if at in exempt},
        records=CandidateRecords(
            (ids, ws, us, keys, exempt),
            order,
            take,
            frozenset(joinable_here),
            month_key,
            (out_ids, out_ws, out_reasons),
        ),
    )


# ---------------------------------------------------------------------------------------------
# Period plan with joint visits


def plan_period(requests: Sequence[RoundRequest]) -> PeriodPlan:
    """Draw every request's targets, joining visits that rounds of one month share."""
    keys = [r.key for r in requests]
    if len(keys) != len(set(keys)):
        raise ValueError("each (scene_id, squad_id) may appear only once in a plan")

    visits: dict[tuple[str, int], PlannedVisit] = {}
    # The targets with a visit in this plan, per month: kept as the plan grows, not rebuilt
    # from every visit for every round.
    visited: dict[str, set[int]] = {}
    rounds: list[RoundPlan] = []
    # A fixed order, independent of how the caller listed the requests, so the plan (and who
    # creates a joint visit, and who joins it) is reproducible.
    for request in sorted(requests, key=attrgetter("key")):
        key, month = request.key, request.month_key
        month_visited = visited.setdefault(month, set())
        draw = draw_targets(
            request.seed,
            request.candidates,
            request.rule,
            month,
            request.complaint,
            reinspection=request.reinspection,
            joinable=month_visited,
        )
        created: list[int] = []
        joined: list[int] = []
        for target_id in draw.picks:
            if target_id in month_visited:
                # Joining: the same team visit serves this round too; no extra visit, no cap.
                visits[(month, target_id)].round_keys.append(key)
                joined.append(target_id)
            else:
                visits[(month, target_id)] = PlannedVisit(
                    target_id, month, [key], draw.exemptions.get(target_id)
                )
                month_visited.add(target_id)
                created.append(target_id)
        rounds.append(
            RoundPlan(
                request.scene_id, request.squad_id, request.period_key, month, draw, created, joined
            )
        )
    return PeriodPlan(
        algorithm_version=ALGORITHM_VERSION, rounds=rounds, visits=list(visits.values())
    )


# ---------------------------------------------------------------------------------------------
# Team draw


def exclusion_reason(inspector: Inspector, target_ids: Iterable[int]) -> str | None:
    """Return why an inspector may never be on this round's team, or None if they may.

    No enforcement certificate, or a declared conflict of interest with one of the targets
    (回避): both absolute, for a drawn team and a hand-picked one alike.
    """
    if not inspector.certified:
        return "no enforcement certificate (执法证)"
    conflicts = sorted(inspector.conflicts.intersection(target_ids)) if inspector.conflicts else ()
    if conflicts:
        return f"回避: conflict of interest with target {', '.join(map(str, conflicts))}"
    return None


def rotation_clashes(
    inspector: Inspector, target_ids: Iterable[int], last_inspectors: Mapping[int, Set[int]]
) -> list[int]:
    """Return the round's targets this inspector inspected last time in this scene, ascending."""
    return sorted(t for t in set(target_ids) if inspector.user_id in last_inspectors.get(t, ()))


def rotation_reason(target_ids: Iterable[int]) -> str:
    """Return the rotation rule's reason (回避) for going back to these targets."""
    return f"回避: inspected target {', '.join(map(str, target_ids))} last time in this scene"


def _relaxed_words(clash: RotationClash) -> str:
    """Return why rotation gave way for this member."""
    where = clash.no_alternative_in
    return (
        f"no alternative in {where}"
        if where is not None
        else "no alternative in the squad for the two-officer minimum"
    )


def draw_team(
    seed: str,
    inspectors: Sequence[Inspector],
    participating_departments: Sequence[str],
    target_ids: Sequence[int],
    last_inspectors: Mapping[int, Set[int]],
) -> TeamDraw:
    """Choose a round's team: one per participating department, at least two certified.

    Declared conflicts exclude; rotation ranks: fewest of the round's targets inspected last
    time first (none, whenever someone can go who has none), then least loaded, then the seed.
    """
    if not isinstance(seed, str) or not seed:
        raise ValueError("seed must be a non-empty string")
    user_ids = [i.user_id for i in inspectors]
    if len(user_ids) != len(set(user_ids)):
        raise ValueError("inspectors must not repeat a user_id")
    departments = list(dict.fromkeys(participating_departments))  # dedupe, keep order

    prefix = _hasher(seed, _TEAM_PURPOSE)
    tiebreak = {i.user_id: _u(prefix, i.user_id) for i in inspectors}
    # Who inspected which of the round's targets last time, in one pass over the targets.
    went_back: dict[int, list[int]] = {}
    for target_id in sorted(set(target_ids)):
        for user_id in last_inspectors.get(target_id, ()):
            went_back.setdefault(user_id, []).append(target_id)
    reasons: dict[int, str] = {}
    available: list[Inspector] = []
    for inspector in inspectors:
        reason = exclusion_reason(inspector, target_ids)
        if reason is None:
            available.append(inspector)
        else:
            reasons[inspector.user_id] = reason

    def clashes(inspector: Inspector) -> list[int]:
        return went_back.get(inspector.user_id, [])

    # Rotation kept first, then least loaded; equal loads are ordered by the seed's hash, not by
    # who was added first.
    available.sort(key=lambda i: (len(clashes(i)), i.load, tiebreak[i.user_id], i.user_id))

    members: list[int] = []
    uncovered: list[str] = []
    relaxed: list[RotationClash] = []
    for department in departments:
        pool = [i for i in available if i.department == department]
        if not pool:
            uncovered.append(department)
            continue
        pick = pool[0]
        members.append(pick.user_id)
        clash = clashes(pick)
        if clash:
            # Everyone of this department inspected one of the targets last time: rather send
            # the one who went back least than leave the department out of a joint round.
            relaxed.append(RotationClash(pick.user_id, department, tuple(clash), department))
            reasons[pick.user_id] = (
                f"represents {department} (load {pick.load}); rotation relaxed:"
                f" inspected target {', '.join(map(str, clash))} last time in this scene,"
                f" {_relaxed_words(relaxed[-1])}"
            )
        elif pick.load == min(i.load for i in pool):
            reasons[pick.user_id] = f"represents {department} (least loaded: load {pick.load})"
        else:
            reasons[pick.user_id] = (
                f"represents {department} (least loaded without a rotation clash: load {pick.load})"
            )
    for inspector in available:
        # Two officers at the least (行政处罚法), from any department.
        if len(members) >= TEAM_SIZE_MIN:
            break
        if inspector.user_id in members:
            continue
        members.append(inspector.user_id)
        reason = f"fills the two-officer minimum (load {inspector.load}, {inspector.department})"
        clash = clashes(inspector)
        if clash:
            relaxed.append(
                RotationClash(inspector.user_id, inspector.department, tuple(clash), None)
            )
            reason += (
                f"; rotation relaxed: inspected target {', '.join(map(str, clash))} last time"
                f" in this scene, {_relaxed_words(relaxed[-1])}"
            )
        reasons[inspector.user_id] = reason
    for inspector in available:
        if inspector.user_id not in members:
            clash = clashes(inspector)
            # Rotation kept: someone else could go.
            reasons[inspector.user_id] = (
                rotation_reason(clash) if clash else "not needed: team already complete"
            )

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
        rotation_relaxed=relaxed,
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


def rotation_relaxed_line(
    clash: RotationClash,
    people: Mapping[int, str] | None = None,
    targets: Mapping[int, str] | None = None,
    departments: Mapping[str, str] | None = None,
) -> str:
    """Return one relaxed rotation in words, with names where given."""
    who = (people or {}).get(clash.user_id) or f"inspector {clash.user_id}"
    names = targets or {}
    where = "、".join(names.get(t) or f"target {t}" for t in clash.target_ids)
    if clash.no_alternative_in is not None:
        department = (departments or {}).get(clash.no_alternative_in) or clash.no_alternative_in
        why = f"no alternative in {department}"
    else:
        why = _relaxed_words(clash)
    return f"rotation relaxed: {who} inspected {where} last time; {why}"


def _explain_team(
    draw: TeamDraw,
    people: Mapping[int, str] | None,
    targets: Mapping[int, str] | None,
    departments: Mapping[str, str] | None,
) -> list[str]:
    """Return the lines that explain a team draw."""
    lines = [
        f"人员抽取 team draw {draw.algorithm_version}: seed {draw.seed!r},"
        f" targets {', '.join(map(str, draw.target_ids)) or '—'}",
        f"departments {', '.join(draw.participating_departments) or '—'};"
        f" at least {TEAM_SIZE_MIN} certified, never one with a declared conflict;"
        " fewest targets inspected last time first (rotation), then least loaded, then u"
        f" from sha256(JSON [\"<seed>\", \"{_TEAM_PURPOSE}\", <user id>])",
        f"team: {', '.join(map(str, draw.members))}",
    ]
    if draw.uncovered_departments:
        lines.append(f"no eligible inspector from: {', '.join(draw.uncovered_departments)}")
    lines.extend(
        rotation_relaxed_line(clash, people, targets, departments)
        for clash in draw.rotation_relaxed
    )
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


def explain(
    draw: TargetDraw | TeamDraw | PeriodPlan,
    *,
    people: Mapping[int, str] | None = None,
    targets: Mapping[int, str] | None = None,
    departments: Mapping[str, str] | None = None,
) -> list[str]:
    """Return human-readable lines that explain a draw or plan, one fact per line.

    `people`, `targets` and `departments` name ids in the team draw's relaxed rotations.
    """
    if isinstance(draw, TargetDraw):
        return _explain_targets(draw)
    if isinstance(draw, TeamDraw):
        return _explain_team(draw, people, targets, departments)
    if isinstance(draw, PeriodPlan):
        return _explain_plan(draw)
    raise TypeError(f"cannot explain a {type(draw).__name__}")
