"""Label and field selectors, parsed as the real API server parses them (the subset the
tests and kmeshctl use)."""

from __future__ import annotations

import re
from typing import Any, Callable

from .fields import MISSING, value_at
from .resources import HttpError

_SET_TERM = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ_TERM = re.compile(r"^\s*([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)\s*$")
_EXISTS_TERM = re.compile(r"^\s*(!?)\s*([\w./-]+)\s*$")
FIELDS = {"metadata.name", "metadata.namespace", "spec.nodeName", "status.phase"}

LabelMatch = Callable[[dict], bool]
ObjectMatch = Callable[[dict], bool]


def parse_label_selector(text: str) -> LabelMatch:
    terms = [t for t in re.split(r",(?![^()]*\))", text or "") if t.strip()]
    checks = [_label_term(t) for t in terms]
    return lambda labels: all(check(labels) for check in checks)


def _label_term(term: str) -> LabelMatch:
    if m := _SET_TERM.match(term):
        key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if m := _EQ_TERM.match(term):
        key, op, value = m.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if m := _EXISTS_TERM.match(term):
        negate, key = m.groups()
        return lambda labels: (key in labels) != bool(negate)
    raise HttpError(400, "BadRequest", f"unable to parse requirement: {term!r}")


def parse_field_selector(text: str) -> ObjectMatch:
    checks = []
    for term in [t for t in (text or "").split(",") if t.strip()]:
        m = _EQ_TERM.match(term)
        if not m or m.group(1) not in FIELDS:
            raise HttpError(400, "BadRequest", f'field label not supported: "{term}"')
        path, op, value = tuple(m.group(1).split(".")), m.group(2), m.group(3)
        checks.append((path, op == "!=", value))
    return lambda obj: all((_field_text(obj, p) == v) != negate for p, negate, v in checks)


def _field_text(obj: Any, path: tuple[str, ...]) -> str:
    found = value_at(obj, path)
    return "" if found is MISSING else str(found)


def object_matcher(labels: str, fields: str) -> ObjectMatch:
    """One predicate over whole objects for a labelSelector + fieldSelector pair."""
    label_match = parse_label_selector(labels)
    field_match = parse_field_selector(fields)
    return lambda obj: label_match(obj.get("metadata", {}).get("labels") or {}) and field_match(obj)
