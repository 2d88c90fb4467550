"""NHS numbers: ten digits, the last a modulus-11 check digit.

A number that fails the check is reported, never "corrected": a transposed digit could point at
another child's record.
"""

from __future__ import annotations

import re

_PLACEHOLDERS = {"", "n/a", "na", "not known", "unknown", "none", "tbc", "-", "not available"}


def check_digit(first_nine: str) -> int | None:
    """The check digit for nine digits, or None when no valid number can start with them."""
    if len(first_nine) != 9 or not first_nine.isdigit():
        raise ValueError("need nine digits")
    total = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def is_valid(number: str) -> bool:
    """Ten digits whose last digit is the modulus-11 check digit of the first nine."""
    if len(number) != 10 or not number.isdigit():
        return False
    return check_digit(number[:9]) == int(number[9])


def normalise(text: str | None) -> tuple[str | None, str | None]:
    """(ten digits or None, warning or None) from how a person wrote the number.

    Spaces, dashes and dots are dropped ("943 476 5919", "943-476-5919"); anything else that is
    not ten digits gives None and a warning. The warning never quotes the number.
    """
    if text is None or text.strip().lower().rstrip(".") in _PLACEHOLDERS:
        return None, None
    digits = re.sub(r"[\s\-.]", "", text.strip())
    if not digits.isdigit():
        found = re.findall(r"\d", text)
        return None, f"NHS number is not a number of 10 digits ({len(found)} digits found)"
    if len(digits) != 10:
        return None, f"NHS number has {len(digits)} digits, not 10"
    if not is_valid(digits):
        return digits, "NHS number fails the modulus-11 check digit: please confirm it"
    return digits, None
