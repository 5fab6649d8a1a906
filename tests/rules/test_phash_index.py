"""The multi-index hash finds exactly what a linear scan finds, only faster."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lianduinspect.rules.phash_index import (MultiIndexHash, linear_scan, neighbours, parse_phash, probe_plan,
                                             probes, substrings)

hash64 = st.integers(min_value=0, max_value=2**64 - 1)


def hexed(value: int) -> str:
    """Format a 64-bit value as a perceptual hash string."""
    return f"{value:016x}"


@st.composite
def near(draw: st.DrawFn, value: int, max_bits: int) -> int:
    """Draw ``value`` with up to ``max_bits`` distinct bits flipped."""
    bits = draw(st.sets(st.integers(0, 63), max_size=max_bits))
    return value ^ sum(1 << bit for bit in bits)


# Indexed items, queries, the index's max_distance and substrings, and the query's distance.
Scenario = tuple[list[tuple[int, str]], list[str], int, int, int | None]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Draw indexed items, queries, the index's shape, and a query distance."""
    max_distance = draw(st.integers(0, 12))
    substrings = draw(st.sampled_from([1, 2, 3, 4, 5, 8, max_distance + 1, 16, 64]))
    query_distance = draw(st.none() | st.integers(0, 16))
    d = max_distance if query_distance is None else query_distance

    values = draw(st.lists(hash64, max_size=20))
    # Near copies of drawn values, so that matches sit at every distance up to and past d.
    values += [draw(near(v, d + 1)) for v in values if draw(st.booleans())]
    # A seeded background large enough that the index is used rather than its fallback scan.
    rng = random.Random(draw(st.integers(0, 2**32)))
    values += [rng.getrandbits(64) for _ in range(draw(st.sampled_from([0, 50, 400, 1500])))]
    rng.shuffle(values)

    pool = values or [0]
    queries = [draw(hash64)] + [draw(near(draw(st.sampled_from(pool)), d)) for _ in range(3)]
    items = [(i, hexed(v)) for i, v in enumerate(values)]
    return items, [hexed(q) for q in queries], max_distance, substrings, query_distance


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_search_equals_linear_scan(scenario: Scenario) -> None:
    items, queries, max_distance, substrings, query_distance = scenario
    index = MultiIndexHash(max_distance, substrings=substrings)
    for item_id, phash in items:
        index.add(item_id, phash)
    d = max_distance if query_distance is None else query_distance
    for query in queries:
        assert index.search(query, query_distance) == linear_scan(items, query, d)


def test_near_copies_are_found_with_their_distances_closest_first() -> None:
    original = 0x8F3A_5C21_D0E4_9B76
    index = MultiIndexHash(max_distance=8)
    index.add("original", hexed(original))
    index.add("recompressed", hexed(original ^ 0b1))
    index.add("cropped", hexed(original ^ 0xFF))  # 8 bits apart: at the limit
    index.add("other", hexed(original ^ 0x1FF))  # 9 bits apart: too far
    assert index.search(hexed(original)) == [("original", 0), ("recompressed", 1), ("cropped", 8)]


def test_query_distance_may_exceed_the_default() -> None:
    index = MultiIndexHash(max_distance=2)
    index.add(1, hexed(0))
    index.add(2, hexed(0xFFF))
    assert index.search(hexed(0)) == [(1, 0)]
    assert index.search(hexed(0), max_distance=12) == [(1, 0), (2, 12)]


def test_equal_distances_are_ordered_by_id() -> None:
    index = MultiIndexHash()
    for item_id in (3, 1, 2):
        index.add(item_id, "00000000000000ff")
    assert index.search("00000000000000ff") == [(1, 0), (2, 0), (3, 0)]


def test_empty_index_finds_nothing() -> None:
    assert MultiIndexHash().search("0123456789abcdef") == []


def test_adding_an_item_again_with_its_hash_is_harmless() -> None:
    index = MultiIndexHash()
    index.add(7, "0123456789abcdef")
    index.add(7, "0123456789ABCDEF")
    assert len(index) == 1
    assert index.search("0123456789abcdef") == [(7, 0)]


def test_adding_an_item_again_with_another_hash_is_refused() -> None:
    index = MultiIndexHash()
    index.add(7, "0123456789abcdef")
    with pytest.raises(ValueError, match="already indexed"):
        index.add(7, "fedcba9876543210")


@pytest.mark.parametrize(
    "bad", ["", "0123456789abcde", "0123456789abcdef0", "0x23456789abcdef", " 123456789abcdef",
            "0123_56789abcdef", "0123456789abcdeg", "０123456789abcdef"],
)
def test_malformed_hashes_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="16 hexadecimal digits"):
        parse_phash(bad)


@pytest.mark.parametrize(("max_distance", "substrings"), [(-1, 4), (65, 4), (8, 0), (8, 65)])
def test_impossible_index_shapes_are_refused(max_distance: int, substrings: int) -> None:
    with pytest.raises(ValueError):
        MultiIndexHash(max_distance, substrings=substrings)


def test_negative_query_distance_is_refused() -> None:
    with pytest.raises(ValueError):
        MultiIndexHash().search("0123456789abcdef", max_distance=-1)


# --- the database's look-up: four indexed 16-bit substring columns -------------------------------


def test_a_hash_is_cut_into_four_substrings_first_digits_first() -> None:
    assert substrings("0123456789abcdef") == (0x0123, 0x4567, 0x89AB, 0xCDEF)
    assert substrings(0xFFFF_0000_0000_0001) == (0xFFFF, 0, 0, 1)


@pytest.mark.parametrize("bad", [-1, 2**64])
def test_a_value_wider_than_a_hash_has_no_substrings(bad: int) -> None:
    with pytest.raises(ValueError):
        substrings(bad)


@pytest.mark.parametrize(("max_distance", "plan"), [
    (0, ((3, 0),)),  # an identical hash has an identical last substring
    (3, ((0, 0), (1, 0), (2, 0), (3, 0))),  # 3 bits cannot touch all four substrings
    (4, ((0, 0), (1, 0), (2, 0), (3, 1))),
    (8, ((0, 1), (1, 1), (2, 1), (3, 2))),
    (10, ((0, 1), (1, 2), (2, 2), (3, 2))),
])
def test_probe_plan_spends_the_wider_radius_on_the_last_substrings(max_distance: int, plan) -> None:
    assert probe_plan(max_distance) == plan


@pytest.mark.parametrize("bad", [-1, 65])
def test_impossible_probe_distances_are_refused(bad: int) -> None:
    with pytest.raises(ValueError):
        probe_plan(bad)


def test_neighbours_are_the_key_then_every_value_within_the_radius() -> None:
    assert neighbours(0xBEEF, 0) == (0xBEEF,)
    assert neighbours(0, 1) == (0, *(1 << bit for bit in range(16)))
    assert len(neighbours(0xBEEF, 2)) == len(set(neighbours(0xBEEF, 2))) == 1 + 16 + 120
    assert all((value ^ 0xBEEF).bit_count() <= 2 for value in neighbours(0xBEEF, 2))
    with pytest.raises(ValueError):
        neighbours(0x1_0000, 1)


def test_distance_eight_looks_up_188_values() -> None:
    plan = probes("0123456789abcdef", 8)
    assert [(k, len(values)) for k, values in plan] == [(0, 17), (1, 17), (2, 17), (3, 137)]
    assert plan[0][1][0] == 0x0123 and plan[3][1][0] == 0xCDEF


def _flip_spread(value: int, per_substring: tuple[int, ...]) -> int:
    """Flip the lowest ``n`` bits of each 16-bit substring, first substring first."""
    for k, n in enumerate(per_substring):
        value ^= ((1 << n) - 1) << (48 - 16 * k)
    return value


def _retrieved(query: int, stored: int, max_distance: int) -> bool:
    """Tell whether the database's look-up returns ``stored`` for ``query`` (before the exact check)."""
    parts = substrings(stored)
    return any(parts[k] in values for k, values in probes(query, max_distance))


def test_every_way_of_spreading_eight_bits_over_the_substrings_is_retrieved() -> None:
    query = 0x8F3A_5C21_D0E4_9B76
    spreads = [(a, b, c, 8 - a - b - c) for a in range(9) for b in range(9 - a) for c in range(9 - a - b)]
    assert len(spreads) == 165
    assert all(_retrieved(query, _flip_spread(query, spread), 8) for spread in spreads)
    # One bit more, spread (2, 2, 2, 3), escapes every look-up: the plan is as tight as it may be.
    assert not _retrieved(query, _flip_spread(query, (2, 2, 2, 3)), 8)


@st.composite
def lookups(draw: st.DrawFn) -> tuple[list[int], list[int], int]:
    """Draw stored hashes with near copies, queries near and far, and a distance."""
    d = draw(st.integers(0, 16))
    values = draw(st.lists(hash64, max_size=20))
    values += [draw(near(v, d + 1)) for v in values if draw(st.booleans())]
    rng = random.Random(draw(st.integers(0, 2**32)))
    values += [rng.getrandbits(64) for _ in range(draw(st.sampled_from([0, 50, 400])))]
    pool = values or [0]
    queries = [draw(hash64)] + [draw(near(draw(st.sampled_from(pool)), d)) for _ in range(3)]
    return values, queries, d


@settings(max_examples=200, deadline=None)
@given(lookups())
def test_database_lookup_then_exact_check_equals_linear_scan(lookup: tuple[list[int], list[int], int]) -> None:
    values, queries, d = lookup
    items = [(i, hexed(v)) for i, v in enumerate(values)]
    for query in queries:
        # What the database does: a row whose substring k holds one of the probed values.
        wanted = [(k, set(vals)) for k, vals in probes(query, d)]
        candidates = [(i, v) for i, v in enumerate(values) if any(substrings(v)[k] in vals for k, vals in wanted)]
        found = sorted(((i, c) for i, v in candidates if (c := (v ^ query).bit_count()) <= d),
                       key=lambda match: (match[1], match[0]))
        assert found == linear_scan(items, hexed(query), d)
