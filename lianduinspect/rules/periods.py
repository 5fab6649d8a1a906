"""Period keys for round cadences, in the bureau's local time.

A round covers one period of its scene's cadence. Periods are named by keys that sort and read
naturally: ``"2023-03"`` (monthly), ``"2023-Q1"`` (quarterly), ``"2023-H1"`` (half-yearly) and
``"2023"`` (yearly).

Every boundary is local midnight in Asia/Shanghai, whatever the server's ``TZ``: an inspection at
2023-03-31T16:30Z already belongs to 2023-04 in Lishui. So every function here takes aware
datetimes only and converts with ``zoneinfo`` explicitly; nothing reads the process time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal, get_args
from zoneinfo import ZoneInfo

__all__ = [
    "BUREAU_TZ",
    "CADENCES",
    "Cadence",
    "Period",
    "cadence_of",
    "month_key_of",
    "month_keys",
    "next_period",
    "parse_period",
    "period_bounds",
    "period_key",
]

BUREAU_TZ = ZoneInfo("Asia/Shanghai")

Cadence = Literal["monthly", "quarterly", "half_yearly", "yearly"]
CADENCES: tuple[Cadence, ...] = get_args(Cadence)

# Years outside this range are refused: before 1970 Shanghai's zone history is irregular, and
# the upper bound leaves room for next_period() and the end of period_bounds().
MIN_YEAR = 1970
MAX_YEAR = 9998

_MONTHS_PER_PERIOD: dict[str, int] = {"monthly": 1, "quarterly": 3, "half_yearly": 6, "yearly": 12}

# ASCII digits only (re.ASCII), and fullmatch below, so "２０２３-03" or "2023-03\n" are refused.
_PATTERNS: tuple[tuple[Cadence, re.Pattern[str]], ...] = (
    ("monthly", re.compile(r"([0-9]{4})-([0-9]{2})", re.ASCII)),
    ("quarterly", re.compile(r"([0-9]{4})-Q([0-9])", re.ASCII)),
    ("half_yearly", re.compile(r"([0-9]{4})-H([0-9])", re.ASCII)),
    ("yearly", re.compile(r"([0-9]{4})", re.ASCII)),
)

_EXPECTED = '"2023-03" (monthly), "2023-Q1" (quarterly), "2023-H1" (half-yearly) or "2023" (yearly)'


@dataclass(frozen=True, order=True)
class Period:
    """One period: a cadence, a year, and the period's 1-based index within that year."""

    cadence: Cadence
    year: int
    index: int

    @property
    def key(self) -> str:
        """Return the period's key, e.g. "2023-Q1"."""
        match self.cadence:
            case "monthly":
                return f"{self.year:04d}-{self.index:02d}"
            case "quarterly":
                return f"{self.year:04d}-Q{self.index}"
            case "half_yearly":
                return f"{self.year:04d}-H{self.index}"
            case "yearly":
                return f"{self.year:04d}"

    @property
    def first_month(self) -> int:
        """Return the calendar month (1-12) the period starts in."""
        return (self.index - 1) * _MONTHS_PER_PERIOD[self.cadence] + 1

    @property
    def month_count(self) -> int:
        """Return how many calendar months the period spans."""
        return _MONTHS_PER_PERIOD[self.cadence]


def parse_period(key: str) -> Period:
    """Parse a period key, raising ValueError that names the expected forms."""
    if not isinstance(key, str):
        raise ValueError(f"period key must be a string like {_EXPECTED}, not {type(key).__name__}")
    for cadence, pattern in _PATTERNS:
        match = pattern.fullmatch(key)
        if match is None:
            continue
        year = int(match.group(1))
        index = int(match.group(2)) if match.lastindex == 2 else 1
        periods_per_year = 12 // _MONTHS_PER_PERIOD[cadence]
        if not 1 <= index <= periods_per_year:
            raise ValueError(
                f"invalid period key {key!r}: {cadence} index must be 1..{periods_per_year}"
            )
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise ValueError(
                f"invalid period key {key!r}: year must be between {MIN_YEAR} and {MAX_YEAR}"
            )
        return Period(cadence, year, index)
    raise ValueError(f"invalid period key {key!r}: expected {_EXPECTED}")


def _require_cadence(cadence: str) -> Cadence:
    """Return cadence unchanged if it is known, else raise ValueError."""
    if cadence not in _MONTHS_PER_PERIOD:
        raise ValueError(f"unknown cadence {cadence!r}: expected one of {', '.join(CADENCES)}")
    return cadence  # type: ignore[return-value]


def _local(when: datetime) -> datetime:
    """Convert an aware datetime to bureau-local time; refuse naive ones."""
    # A naive datetime would be read in the server's zone, which is exactly the bug to avoid.
    if not isinstance(when, datetime) or when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("when must be a timezone-aware datetime")
    return when.astimezone(BUREAU_TZ)


def period_key(cadence: str, when: datetime) -> str:
    """Return the key of the cadence's period that contains the instant `when`."""
    months = _MONTHS_PER_PERIOD[_require_cadence(cadence)]
    local = _local(when)
    period = Period(cadence, local.year, (local.month - 1) // months + 1)  # type: ignore[arg-type]
    return period.key


def month_key_of(when: datetime) -> str:
    """Return the monthly key ("2023-03") of the bureau-local month containing `when`."""
    return period_key("monthly", when)


def cadence_of(key: str) -> Cadence:
    """Return the cadence a period key belongs to."""
    return parse_period(key).cadence


def _start_local(year: int, month: int) -> datetime:
    """Return local midnight on the first day of year-month, normalising month overflow."""
    year, month0 = divmod(year * 12 + month - 1, 12)
    return datetime(year, month0 + 1, 1, tzinfo=BUREAU_TZ)


def period_bounds(key: str) -> tuple[datetime, datetime]:
    """Return the period's [start, end) as aware UTC datetimes at bureau-local midnights."""
    period = parse_period(key)
    start = _start_local(period.year, period.first_month)
    end = _start_local(period.year, period.first_month + period.month_count)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def next_period(key: str) -> str:
    """Return the key of the period that follows `key` in the same cadence."""
    period = parse_period(key)
    per_year = 12 // period.month_count
    year, index0 = divmod(period.year * per_year + period.index, per_year)
    if year > MAX_YEAR:
        raise ValueError(f"no period after {key!r}: year must be at most {MAX_YEAR}")
    return Period(period.cadence, year, index0 + 1).key


def month_keys(key: str) -> tuple[str, ...]:
    """Return the monthly keys a period covers, in calendar order."""
    period = parse_period(key)
    return tuple(
        Period("monthly", period.year, month).key
        for month in range(period.first_month, period.first_month + period.month_count)
    )
