"""Near-duplicate search over 64-bit perceptual hashes by multi-index hashing.

Each hash is cut into ``m`` substrings and every substring has its own table. By the pigeonhole
principle, two hashes within Hamming distance ``d`` have at least one substring within distance
``d // m`` of each other. A query therefore looks up, in each table, the keys within that
distance of its own substring, and checks only the items found there with a popcount
(Norouzi, Punjani & Fleet, "Fast Search in Hamming Space with Multi-Index Hashing", CVPR 2012).

With ``m = d + 1`` every look-up is an exact match, but the substrings are only 7 bits wide, so
each of the 9 look-ups returns 1/128 of all items: about 7 % of the index is checked, barely
faster than a scan. Four 16-bit substrings cost 188 look-ups for ``d = 8`` and return about 300
candidates from 100,000 items (Norouzi's rule ``m ≈ 64 / log2(n)`` gives 4 for 10^4–10^6 items),
which is why four is the default.

Hashes are 16 hexadecimal digits, as stored with each photo.

The database does the same with four indexed columns holding a hash's four 16-bit substrings
(:func:`substrings`): :func:`probes` lists, for each column, every value a hash within the distance
may hold there, the database returns the rows holding any of them, and only those are checked with
a popcount. ``MultiIndexHash`` is the in-memory form, kept for the benchmark.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from itertools import combinations
from math import comb

__all__ = ["HASH_BITS", "SUBSTRINGS", "SUBSTRING_BITS", "MultiIndexHash", "linear_scan", "neighbours",
           "parse_phash", "probe_plan", "probes", "substrings"]

HASH_BITS = 64
SUBSTRINGS = 4  # the database's columns phash_q0..phash_q3
SUBSTRING_BITS = HASH_BITS // SUBSTRINGS

Id = int | str

_HEX16 = re.compile(r"[0-9a-fA-F]{16}")


def parse_phash(phash: str) -> int:
    """Parse a 16-hex-digit perceptual hash into an int."""
    # fullmatch, because int(x, 16) would also take "0x…", underscores and surrounding spaces.
    if not isinstance(phash, str) or not _HEX16.fullmatch(phash):
        raise ValueError(f"a perceptual hash is 16 hexadecimal digits, not {phash!r}")
    return int(phash, 16)


def linear_scan(
    items: Iterable[tuple[Id, str]], phash: str, max_distance: int
) -> list[tuple[Id, int]]:
    """Return ``(item_id, distance)`` for every item within ``max_distance``, closest first."""
    query = parse_phash(phash)
    found = [(item_id, (query ^ parse_phash(h)).bit_count()) for item_id, h in items]
    return sorted(((i, d) for i, d in found if d <= max_distance), key=_by_distance)


def substrings(phash: str | int) -> tuple[int, ...]:
    """Cut a hash into its four 16-bit substrings, the first from its first four hex digits."""
    value = parse_phash(phash) if isinstance(phash, str) else phash
    if not 0 <= value < 1 << HASH_BITS:
        raise ValueError(f"a perceptual hash has {HASH_BITS} bits, not {value!r}")
    mask = (1 << SUBSTRING_BITS) - 1
    return tuple((value >> (HASH_BITS - SUBSTRING_BITS * (k + 1))) & mask for k in range(SUBSTRINGS))


def probe_plan(max_distance: int) -> tuple[tuple[int, int], ...]:
    """Return ``(substring, radius)`` for each substring to look up for hashes within the distance."""
    if not 0 <= max_distance <= HASH_BITS:
        raise ValueError(f"max_distance must be within 0..{HASH_BITS}")
    # With d = r*m + a (0 <= a < m), a match is within r of the query in one of a+1 substrings or
    # within r-1 in one of the others (else they would differ in (a+1)(r+1) + (m-a-1)r = d+1 bits):
    # for d = 8, 137 values in one column and 17 in each other, not 137 in all four. The wide
    # look-ups go to the last substrings: the first holds the DC term, whose bit is set in nearly
    # every photo, so its buckets hold about twice their share.
    r, a = divmod(max_distance, SUBSTRINGS)
    plan = []
    for k in range(SUBSTRINGS):
        radius = min(r if k >= SUBSTRINGS - a - 1 else r - 1, SUBSTRING_BITS)
        if radius >= 0:
            plan.append((k, radius))
    return tuple(plan)


def neighbours(key: int, radius: int) -> tuple[int, ...]:
    """Return every 16-bit value within ``radius`` bits of ``key``, the key itself first."""
    if not 0 <= key < 1 << SUBSTRING_BITS:
        raise ValueError(f"a substring has {SUBSTRING_BITS} bits, not {key!r}")
    return tuple(key ^ flip for flip in _flips(SUBSTRING_BITS, min(radius, SUBSTRING_BITS)))


def probes(phash: str | int, max_distance: int) -> tuple[tuple[int, tuple[int, ...]], ...]:
    """Return ``(substring, values)``: every hash within the distance holds one of them there."""
    parts = substrings(phash)
    return tuple((k, neighbours(parts[k], radius)) for k, radius in probe_plan(max_distance))


class MultiIndexHash:
    """An in-memory index answering "which hashes lie within distance d of this one?"."""

    def __init__(self, max_distance: int = 8, substrings: int = 4) -> None:
        """Prepare an empty index answering queries up to ``max_distance`` bits apart by default."""
        if not 0 <= max_distance <= HASH_BITS:
            raise ValueError(f"max_distance must be within 0..{HASH_BITS}")
        if not 1 <= substrings <= HASH_BITS:
            raise ValueError(f"substrings must be within 1..{HASH_BITS}")
        self.max_distance = max_distance
        width, wider = divmod(HASH_BITS, substrings)
        self._parts: list[tuple[int, int, int]] = []  # (shift, mask, width) per substring
        shift = 0
        for k in range(substrings):
            w = width + (1 if k < wider else 0)
            self._parts.append((shift, (1 << w) - 1, w))
            shift += w
        self._tables: list[dict[int, list[int]]] = [{} for _ in range(substrings)]
        self._ids: list[Id] = []
        self._hashes: list[int] = []
        self._position: dict[Id, int] = {}

    def __len__(self) -> int:
        """Return the number of items indexed."""
        return len(self._ids)

    def add(self, item_id: Id, phash: str) -> None:
        """Index one item's hash; adding the same item with the same hash again is a no-op."""
        value = parse_phash(phash)
        known = self._position.get(item_id)
        if known is not None:
            if self._hashes[known] != value:
                raise ValueError(f"item {item_id!r} is already indexed with another hash")
            return
        position = len(self._ids)
        self._ids.append(item_id)
        self._hashes.append(value)
        self._position[item_id] = position
        for (shift, mask, _), table in zip(self._parts, self._tables):
            table.setdefault((value >> shift) & mask, []).append(position)

    def search(self, phash: str, max_distance: int | None = None) -> list[tuple[Id, int]]:
        """Return ``(item_id, distance)`` for every item within the distance, closest first."""
        d = self.max_distance if max_distance is None else max_distance
        if d < 0:
            raise ValueError("max_distance must not be negative")
        query = parse_phash(phash)
        plan = self._plan(d)
        if sum(_ball(self._parts[k][2], radius) for k, radius in plan) >= len(self._ids):
            # A far query on a small index: looking up every neighbouring key would cost more
            # than reading every item, so read every item.
            candidates: Iterable[int] = range(len(self._ids))
        else:
            found: set[int] = set()
            for k, radius in plan:
                shift, mask, width = self._parts[k]
                table = self._tables[k]
                key = (query >> shift) & mask
                for flip in _flips(width, radius):
                    bucket = table.get(key ^ flip)
                    if bucket is not None:
                        found.update(bucket)
            candidates = found
        hashes, ids = self._hashes, self._ids
        matches = [
            (ids[position], distance)
            for position in candidates
            if (distance := (query ^ hashes[position]).bit_count()) <= d
        ]
        return sorted(matches, key=_by_distance)

    def _plan(self, d: int) -> list[tuple[int, int]]:
        """Return each substring to probe with the radius to probe it within."""
        # With d = r*m + a (0 <= a < m), a match is within r of the query in one of the first
        # a+1 substrings or within r-1 in one of the others; otherwise the substrings alone
        # would differ in at least (a+1)(r+1) + (m-a-1)r = d+1 bits.
        r, a = divmod(d, len(self._parts))
        plan = []
        for k, (_, _, width) in enumerate(self._parts):
            radius = min(r if k <= a else r - 1, width)
            if radius >= 0:
                plan.append((k, radius))
        return plan


def _ball(width: int, radius: int) -> int:
    """Return how many ``width``-bit keys lie within ``radius`` bits of a key."""
    return sum(comb(width, i) for i in range(radius + 1))


@cache
def _flips(width: int, radius: int) -> tuple[int, ...]:
    """Return every ``width``-bit mask with at most ``radius`` bits set."""
    return tuple(
        sum(1 << bit for bit in bits)
        for i in range(radius + 1)
        for bits in combinations(range(width), i)
    )


def _by_distance(match: tuple[Id, int]) -> tuple[int, Id]:
    """Order matches by distance, then by id."""
    return match[1], match[0]
