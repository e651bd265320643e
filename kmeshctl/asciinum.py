"""Numbers a user types (flag values, manifest fields) in ASCII digits only. Python's
int() and float() (and pydantic's lax parsing, which typer uses) also take the digits of
other scripts ('９０', '٩٠'), '_' separators ('1_0'), a '+' sign, surrounding spaces and
'80.0' for an integer, which kubectl, istioctl and the API server refuse: every parser of
a user's number goes through here, so one rule holds everywhere.

The rule: an integer is ASCII digits (``signed``: after an optional '-'); a number (a
duration, a timeout) is an integer or a plain decimal (``1.5``), with an optional
exponent (``1e3``), or ``inf`` / ``nan`` (which the range checks then refuse by name)."""

from __future__ import annotations

import re

_UNSIGNED = re.compile(r"[0-9]+")
_SIGNED = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|inf|infinity|nan)", re.IGNORECASE)


def is_digits(text: object) -> bool:
    """``text`` is a string of ASCII digits 0-9 only (no sign, no spaces)."""
    return isinstance(text, str) and _UNSIGNED.fullmatch(text) is not None


def is_integer_text(text: object, signed: bool = False) -> bool:
    """``text`` spells an integer by the rule above (``signed``: a leading '-' allowed)."""
    return isinstance(text, str) and (_SIGNED if signed else _UNSIGNED).fullmatch(text) is not None


def is_number_text(text: object) -> bool:
    """``text`` spells a number by the rule above: `90`, `1.5`, `1e3`, `inf`, `nan`, with an
    optional leading '-' (never '+', '_', spaces, or digits of other scripts)."""
    return isinstance(text, str) and _NUMBER.fullmatch(text) is not None


def parse_int(text: str, signed: bool = False) -> int:
    """The integer ``text`` spells in ASCII digits (``signed``: an optional leading '-',
    never '+'); ValueError for anything else."""
    if not is_integer_text(text, signed):
        raise ValueError(f"{text!r} is not a whole number in the digits 0-9")
    return int(text)


def parse_number(text: str) -> float:
    """The number ``text`` spells (see is_number_text); ValueError for anything else."""
    if not is_number_text(text):
        raise ValueError(f"{text!r} is not a number in the digits 0-9")
    return float(text)


# A duration as kubectl takes one (Go's time.ParseDuration: `300s`, `5m`, `1m30s`, `1.5h`,
# `250ms`), or a plain number of seconds (`300`, as kmeshctl always took).
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h)")
_DURATION = re.compile(r"-?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|ms|s|m|h))+")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
DURATION_EXAMPLES = "e.g. 300s, 5m, 1m30s, 1h; a plain number is seconds"


def is_duration_text(text: object) -> bool:
    """``text`` spells a duration: a number (seconds, see is_number_text) or Go's syntax."""
    return is_number_text(text) or (isinstance(text, str) and _DURATION.fullmatch(text) is not None)


def parse_duration(text: str) -> float:
    """Seconds of a duration (`300`, `300s`, `5m`, `1m30s`, `1h`, `1.5s`, `500ms`);
    ValueError for anything else."""
    if is_number_text(text):
        return float(text)
    if not is_duration_text(text):
        raise ValueError(f"{text!r} is not a duration ({DURATION_EXAMPLES})")
    sign = -1.0 if text.startswith("-") else 1.0
    return sign * sum(float(number) * _UNIT_S[unit] for number, unit in _DURATION_PART.findall(text))


def duration_words(seconds: float) -> str:
    """`24h`, `1h`, `5m`, `1m30s`, `1s`, `0.5s`: seconds as a duration is typed."""
    if seconds != int(seconds) or seconds < 60:
        return f"{seconds:g}s"
    whole, text = int(seconds), ""
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size:
            text += f"{whole // size}{unit}"
            whole %= size
    return text


def limit_words(timeout_s: float) -> str:
    """`limit 5m`, or `no limit` for a --timeout of 0 or inf (math.inf: what 0 becomes),
    the one spelling of a wait's limit in the lines that say what a command waits for."""
    if not timeout_s or timeout_s != timeout_s or timeout_s == float("inf"):  # 0, nan, inf
        return "no limit"
    return f"limit {duration_words(timeout_s)}"


def waited_words(waited_s: float, timeout_s: float) -> str:
    """`12s, limit 5m` (`12s, no limit`): how long a wait has gone on and its limit, the
    one spelling of both in every progress line of a wait (install's rollout, enable-ns
    --wait, waypoint apply)."""
    return f"{waited_s:.0f}s, {limit_words(timeout_s)}"
