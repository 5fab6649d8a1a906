"""Unified social credit codes (统一社会信用代码), GB 32100-2015.

An 18-character code: position 1 the registration authority (登记管理部门), 2 the entity type
(机构类别), 3-8 the administrative division (莲都区 331102), 9-17 the organisation code, and 18 a
check character computed over the first 17 with the weights below, each character counted by its
index in the 31-symbol alphabet (0-9 and the capitals without I, O, S, V, Z).

`validate` is strict on purpose: a stored code is uppercase with no spaces. Imports that take
codes typed by people pass them through `normalize` first.
"""
from __future__ import annotations

import unicodedata

__all__ = [
    "ALPHABET",
    "DIVISION_LIANDU",
    "REASONS",
    "WEIGHTS",
    "check_char",
    "is_valid",
    "make",
    "normalize",
    "validate",
]

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
DIVISION_LIANDU = "331102"

# Reason codes returned by `validate`, in the order they are checked.
REASONS = ("length", "alphabet", "check_character")

_INDEX = {ch: i for i, ch in enumerate(ALPHABET)}
_MODULUS = len(ALPHABET)  # 31


def check_char(first17: str) -> str:
    """Return the check character (position 18) for the first 17 characters of a code."""
    if not isinstance(first17, str) or len(first17) != 17:
        raise ValueError("the check character is computed over exactly 17 characters")
    bad = [ch for ch in first17 if ch not in _INDEX]
    if bad:
        raise ValueError(f"characters outside the GB 32100 alphabet: {''.join(bad)!r}")
    total = sum(_INDEX[ch] * w for ch, w in zip(first17, WEIGHTS))
    # 31 - (sum mod 31) lies in 1..31; 31 is written as "0".
    return ALPHABET[(_MODULUS - total % _MODULUS) % _MODULUS]


def validate(code: object) -> str | None:
    """Return why `code` is not a valid credit code ("length", "alphabet", "check_character"), or None."""
    if not isinstance(code, str) or len(code) != 18:
        return "length"
    # Strict: lowercase letters, spaces and I/O/S/V/Z are all outside the alphabet.
    if any(ch not in _INDEX for ch in code):
        return "alphabet"
    if check_char(code[:17]) != code[17]:
        return "check_character"
    return None


def is_valid(code: object) -> bool:
    """Return True if `code` is a well-formed credit code with the right check character."""
    return validate(code) is None


def normalize(code: str) -> str:
    """Return `code` as typed by a person, cleaned for checking: full-width folded, spaces gone, uppercase.

    Nothing else is "repaired": a letter O stays an O (and fails `validate`), because guessing
    that it meant 0 could silently attach an inspection record to the wrong enterprise.
    """
    folded = unicodedata.normalize("NFKC", code)
    return "".join(ch for ch in folded if not ch.isspace()).upper()


def make(registration: str, entity_type: str, division: str, org9: str) -> str:
    """Return a full 18-character code built from its parts, with the check character appended."""
    parts = {"registration": (registration, 1), "entity_type": (entity_type, 1), "org9": (org9, 9)}
    for name, (value, length) in parts.items():
        if not isinstance(value, str) or len(value) != length or any(ch not in _INDEX for ch in value):
            raise ValueError(f"{name} must be {length} character(s) from the GB 32100 alphabet, got {value!r}")
    if not isinstance(division, str) or len(division) != 6 or not division.isascii() or not division.isdigit():
        raise ValueError(f"division must be a 6-digit administrative division code, got {division!r}")
    first17 = registration + entity_type + division + org9
    return first17 + check_char(first17)
