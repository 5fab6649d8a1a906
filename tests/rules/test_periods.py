"""Period keys follow the bureau's local calendar (Asia/Shanghai), whatever the server's zone."""

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lianduinspect.rules.periods import (
    BUREAU_TZ,
    CADENCES,
    cadence_of,
    month_key_of,
    month_keys,
    next_period,
    parse_period,
    period_bounds,
    period_key,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    """Return an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


@pytest.fixture(params=["UTC", "America/Los_Angeles", "Pacific/Kiritimati", "Asia/Shanghai"])
def server_tz(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run the test with the process time zone set to something else."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    ("cadence", "when", "key"),
    [
        ("monthly", utc(2023, 3, 31, 15, 59, 59), "2023-03"),
        ("monthly", utc(2023, 3, 31, 16, 0), "2023-04"),
        ("monthly", utc(2023, 3, 31, 16, 30), "2023-04"),
        ("quarterly", utc(2023, 3, 31, 16, 30), "2023-Q2"),
        ("quarterly", utc(2023, 3, 31, 15, 30), "2023-Q1"),
        ("half_yearly", utc(2023, 6, 30, 16, 0), "2023-H2"),
        ("half_yearly", utc(2023, 6, 30, 15, 59), "2023-H1"),
        ("yearly", utc(2022, 12, 31, 16, 0), "2023"),
        ("yearly", utc(2022, 12, 31, 15, 59), "2022"),
        ("monthly", utc(2022, 12, 31, 16, 0), "2023-01"),
        ("quarterly", utc(2022, 12, 31, 16, 0), "2023-Q1"),
        ("half_yearly", utc(2022, 12, 31, 16, 0), "2023-H1"),
    ],
)
def test_period_key_uses_shanghai_local_date(cadence: str, when: datetime, key: str) -> None:
    assert period_key(cadence, when) == key


def test_period_key_is_the_same_for_the_same_instant_in_any_offset() -> None:
    instant = utc(2023, 3, 31, 16, 30)
    new_york = instant.astimezone(timezone(timedelta(hours=-4)))
    assert period_key("monthly", new_york) == period_key("monthly", instant) == "2023-04"


def test_period_key_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        period_key("monthly", datetime(2023, 3, 31, 16, 30))


def test_period_key_refuses_unknown_cadence() -> None:
    with pytest.raises(ValueError, match="unknown cadence 'weekly'"):
        period_key("weekly", utc(2023, 3, 1))


def test_month_key_of_is_the_local_month() -> None:
    assert month_key_of(utc(2023, 3, 31, 16, 30)) == "2023-04"
    assert month_key_of(utc(2023, 3, 31, 15, 30)) == "2023-03"


@pytest.mark.parametrize(
    ("key", "start", "end"),
    [
        ("2023-03", utc(2023, 2, 28, 16), utc(2023, 3, 31, 16)),
        ("2024-02", utc(2024, 1, 31, 16), utc(2024, 2, 29, 16)),
        ("2023-12", utc(2023, 11, 30, 16), utc(2023, 12, 31, 16)),
        ("2023-Q1", utc(2022, 12, 31, 16), utc(2023, 3, 31, 16)),
        ("2023-Q4", utc(2023, 9, 30, 16), utc(2023, 12, 31, 16)),
        ("2023-H1", utc(2022, 12, 31, 16), utc(2023, 6, 30, 16)),
        ("2023-H2", utc(2023, 6, 30, 16), utc(2023, 12, 31, 16)),
        ("2023", utc(2022, 12, 31, 16), utc(2023, 12, 31, 16)),
    ],
)
def test_period_bounds_are_local_midnights_in_utc(key: str, start: datetime, end: datetime) -> None:
    bounds = period_bounds(key)
    assert bounds == (start, end)
    assert all(b.utcoffset() == timedelta(0) for b in bounds)
    assert all(b.astimezone(BUREAU_TZ).time() == datetime.min.time() for b in bounds)


@pytest.mark.parametrize(
    ("key", "following"),
    [
        ("2023-03", "2023-04"),
        ("2023-12", "2024-01"),
        ("2023-Q1", "2023-Q2"),
        ("2023-Q4", "2024-Q1"),
        ("2023-H1", "2023-H2"),
        ("2023-H2", "2024-H1"),
        ("2023", "2024"),
    ],
)
def test_next_period_rolls_over_year_ends(key: str, following: str) -> None:
    assert next_period(key) == following


@pytest.mark.parametrize(
    ("key", "cadence"),
    [
        ("2023-03", "monthly"),
        ("2023-Q1", "quarterly"),
        ("2023-H2", "half_yearly"),
        ("2023", "yearly"),
    ],
)
def test_cadence_of_reads_the_key_form(key: str, cadence: str) -> None:
    assert cadence_of(key) == cadence


@pytest.mark.parametrize(
    ("key", "months"),
    [
        ("2023-03", ("2023-03",)),
        ("2023-Q2", ("2023-04", "2023-05", "2023-06")),
        ("2023-H2", ("2023-07", "2023-08", "2023-09", "2023-10", "2023-11", "2023-12")),
        ("2023", tuple(f"2023-{m:02d}" for m in range(1, 13))),
    ],
)
def test_month_keys_lists_the_months_a_period_covers(key: str, months: tuple[str, ...]) -> None:
    assert month_keys(key) == months


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("2023-13", "monthly index must be 1..12"),
        ("2023-00", "monthly index must be 1..12"),
        ("2023-Q5", "quarterly index must be 1..4"),
        ("2023-Q0", "quarterly index must be 1..4"),
        ("2023-H3", "half_yearly index must be 1..2"),
        ("2023-3", "expected"),
        ("2023-q1", "expected"),
        ("23-03", "expected"),
        ("2023-03\n", "expected"),
        (" 2023", "expected"),
        ("２０２３", "expected"),
        ("", "expected"),
        ("1969", "year must be between"),
    ],
)
def test_parse_period_refuses_bad_keys_with_a_clear_message(key: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_period(key)


def test_parse_period_refuses_non_strings() -> None:
    with pytest.raises(ValueError, match="must be a string"):
        parse_period(202303)  # type: ignore[arg-type]


def test_next_period_refuses_to_leave_the_supported_years() -> None:
    with pytest.raises(ValueError, match="no period after '9998'"):
        next_period("9998")


def test_results_do_not_depend_on_the_server_time_zone(server_tz: str) -> None:
    assert os.environ["TZ"] == server_tz
    when = utc(2023, 3, 31, 16, 30)
    assert period_key("monthly", when) == "2023-04"
    assert period_key("quarterly", when) == "2023-Q2"
    assert period_key("yearly", utc(2022, 12, 31, 16)) == "2023"
    assert period_bounds("2023-Q1") == (utc(2022, 12, 31, 16), utc(2023, 3, 31, 16))
    assert month_key_of(when.astimezone(timezone(timedelta(hours=-7)))) == "2023-04"


instants = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2999, 12, 31), timezones=st.just(UTC)
)


@settings(deadline=None, max_examples=200)
@given(cadence=st.sampled_from(CADENCES), when=instants)
def test_the_period_of_an_instant_contains_it(cadence: str, when: datetime) -> None:
    key = period_key(cadence, when)
    start, end = period_bounds(key)
    assert start <= when < end
    assert parse_period(key).key == key
    assert cadence_of(key) == cadence
    assert month_key_of(when) in month_keys(key)


@settings(deadline=None, max_examples=200)
@given(cadence=st.sampled_from(CADENCES), when=instants)
def test_consecutive_periods_tile_time_without_gaps(cadence: str, when: datetime) -> None:
    key = period_key(cadence, when)
    following = next_period(key)
    assert period_bounds(key)[1] == period_bounds(following)[0]
    assert following > key  # keys of one cadence sort in time order
    assert month_keys(following)[0] == next_period(month_keys(key)[-1])
