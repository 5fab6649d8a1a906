"""GB 32100-2015 unified social credit codes, tested with literals."""
from __future__ import annotations

import pytest

from lianduinspect.rules import creditcode
from lianduinspect.rules.creditcode import ALPHABET, check_char, is_valid, make, normalize, validate

# Real codes in the published format.
#
# 91350100M000100Y43 is the worked example of GB 32100-2015. By hand, each of the first 17
# characters counted by its index in ALPHABET (M = 21, Y = 30), times its weight:
#   9*1 + 1*3 + 3*9 + 5*27 + 0*19 + 1*26 + 0*16 + 0*17 + M(21)*20 + 0*29 + 0*25 + 0*13
#   + 1*8 + 0*24 + 0*10 + Y(30)*30 + 4*28
#   = 9 + 3 + 27 + 135 + 26 + 420 + 8 + 900 + 112 = 1640
#   1640 mod 31 = 28 (31 * 52 = 1612), and 31 - 28 = 3, so the check character is "3".
# 914403001922038216 is 华为技术有限公司 (Shenzhen): division 440300, older numeric org code.
KNOWN_VALID = ["91350100M000100Y43", "914403001922038216", "91440300708461136T"]


def test_check_char_of_the_standards_worked_example_is_3():
    assert check_char("91350100M000100Y4") == "3"


@pytest.mark.parametrize("code", KNOWN_VALID)
def test_real_codes_are_valid(code):
    assert validate(code) is None
    assert is_valid(code)


@pytest.mark.parametrize("code", KNOWN_VALID)
def test_changing_any_one_character_breaks_the_code(code):
    # 31 is prime and no weight is a multiple of it, so every single substitution changes the sum.
    for position in range(18):
        for replacement in ALPHABET:
            if replacement == code[position]:
                continue
            changed = code[:position] + replacement + code[position + 1:]
            assert validate(changed) == "check_character", changed


def test_swapping_the_last_digit_of_a_real_code_is_caught():
    assert validate("91350100M000100Y44") == "check_character"


@pytest.mark.parametrize("letter", list("IOSVZ"))
def test_letters_outside_the_alphabet_are_rejected(letter):
    code = "91350100" + letter + "000100Y43"
    assert validate(code) == "alphabet"
    assert not is_valid(code)


def test_lowercase_is_rejected_strictly():
    assert validate("91350100m000100y43") == "alphabet"


def test_spaces_are_rejected_strictly():
    assert validate("9135 0100M000100Y4") == "alphabet"  # 18 characters, one a space


@pytest.mark.parametrize("code", ["", "91350100M000100Y4", "91350100M000100Y433", "9" * 30])
def test_wrong_length_is_rejected(code):
    assert validate(code) == "length"


@pytest.mark.parametrize("value", [None, 91350100, b"91350100M000100Y43"])
def test_non_strings_are_rejected_not_raised(value):
    assert validate(value) == "length"
    assert not is_valid(value)


def test_check_character_31_is_written_as_0():
    # All zeros sum to 0; 31 - 0 = 31, which the standard writes as "0".
    assert check_char("0" * 17) == "0"
    assert is_valid("0" * 18)


def test_check_char_rejects_bad_input():
    with pytest.raises(ValueError):
        check_char("91350100M000100Y")  # 16 characters
    with pytest.raises(ValueError):
        check_char("91350100O000100Y4")  # letter O


def test_normalize_strips_spaces_and_uppercases_for_imports():
    assert normalize(" 9135 0100m000\t100y43 ") == "91350100M000100Y43"
    assert is_valid(normalize("91350100m000100y43"))


def test_normalize_folds_full_width_characters():
    assert normalize("９１３５０１００Ｍ０００１００Ｙ４３") == "91350100M000100Y43"


def test_normalize_does_not_guess_letters_for_digits():
    # O is not silently turned into 0: the code stays invalid and the import reports it.
    assert validate(normalize("91350100MOOO100Y43")) == "alphabet"


def test_make_appends_the_check_character():
    assert make("9", "1", "350100", "M000100Y4") == "91350100M000100Y43"


def test_make_builds_valid_liandu_codes():
    code = make("9", "2", creditcode.DIVISION_LIANDU, "MA2E0K7P1")
    assert code.startswith("92331102MA2E0K7P1")
    assert is_valid(code)


@pytest.mark.parametrize("parts", [
    ("91", "1", "331102", "MA2E0K7P1"),   # registration is one character
    ("9", "", "331102", "MA2E0K7P1"),     # entity type missing
    ("9", "1", "33110", "MA2E0K7P1"),     # division too short
    ("9", "1", "33110A", "MA2E0K7P1"),    # division not digits
    ("9", "1", "331102", "MA2E0K7P"),     # organisation code too short
    ("9", "1", "331102", "MA2E0K7PI"),    # I is not in the alphabet
    ("9", "1", "331102", "ma2e0k7p1"),    # lowercase
])
def test_make_rejects_malformed_parts(parts):
    with pytest.raises(ValueError):
        make(*parts)
