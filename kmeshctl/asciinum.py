"""Numbers a user types (flag values, manifest fields) in ASCII digits only. Python's
int() and str.isdigit() also take the digits of other scripts ('９０', '٩٠') and '_'
separators ('1_0'), which kubectl, istioctl and the API server refuse: every parser of a
user's number goes through here, so one rule holds everywhere."""

from __future__ import annotations

import re

_UNSIGNED = re.compile(r"[0-9]+")
_SIGNED = re.compile(r"[+-]?[0-9]+")


def is_digits(text: object) -> bool:
    """``text`` is a string of ASCII digits 0-9 only (no sign, no spaces)."""
    return isinstance(text, str) and _UNSIGNED.fullmatch(text) is not None


def parse_int(text: str, signed: bool = False) -> int:
    """The integer ``text`` spells in ASCII digits (``signed``: an optional + or -);
    ValueError for anything else."""
    if (_SIGNED if signed else _UNSIGNED).fullmatch(text) is None:
        raise ValueError(f"{text!r} is not a whole number in the digits 0-9")
    return int(text)
