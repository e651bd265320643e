"""What each field of a sandbox manifest must hold, checked before the field is used:
each check returns the value (an absent optional field as its empty form) or raises a
one-line UsageError naming the field as the user wrote it (`spec.selector`,
`spec.template.spec.containers[0].image`), what it holds instead, and the shape that
would be accepted (`spec.selector is a list of 1 item, not a mapping: give selector:
{app: fortio}`). Values the API server refuses (a label value that is not text, a
boolean field holding `maybe`) are refused here too, saying so. Validation only: no
object of the sandbox is built here (kmeshctl.sandbox.manifests does that)."""

from __future__ import annotations

import re
from typing import Any

from kmeshctl.errors import UsageError


def what(value: Any) -> str:
    """A YAML value in words: `a list of 2 items`, `a mapping`, `the number 3`, `null`, `the text 'abc'`."""
    if value is None:
        return "null (empty)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value[:40] + '...' if len(value) > 40 else value!r}"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, dict):
        return "a mapping"
    return f"a YAML {type(value).__name__}"  # a date or binary: YAML's own type word


def leaf(field: str) -> str:
    """The key a field is written with (`spec.template.spec.containers[0].image` -> image)."""
    return re.sub(r"\[\d+\]$", "", field.rpartition(".")[2])


def missing(field: str, give: str) -> UsageError:
    return UsageError(f"{field} is missing: add {give}")


def mapping(value: Any, field: str, give: str, required: bool = False) -> dict[Any, Any]:
    """``value`` when it is a mapping (an absent optional one: {}); ``give``: the field written right."""
    if value is None and not required:
        return {}
    if value is None:
        raise missing(field, give)
    if not isinstance(value, dict):
        raise UsageError(f"{field} is {what(value)}, not a mapping: give {give}")
    return value


def sequence(value: Any, field: str, give: str, required: bool = False) -> list[Any]:
    """``value`` when it is a list (an absent optional one: [])."""
    if value is None and not required:
        return []
    if value is None:
        raise missing(field, give)
    if not isinstance(value, list):
        raise UsageError(f"{field} is {what(value)}, not a list: give {give}")
    return value


def mappings(value: Any, field: str, give: str, item: str, required: bool = False) -> list[dict[Any, Any]]:
    """A list of mappings (containers, ports, routes...); ``item``: one written right."""
    items = sequence(value, field, give, required)
    for index, entry in enumerate(items):
        mapping(entry, f"{field}[{index}]", item, required=True)
    return items


def text(value: Any, field: str, give: str = "", who: str = "Kubernetes") -> str:
    """``value`` when it is text; a number or boolean is refused with it quoted (the API
    server refuses it: `cannot unmarshal number into ... of type string`)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)) and value is not None:
        written = str(value).lower() if isinstance(value, bool) else str(value)
        raise UsageError(f"{field} is {what(value)}, not text ({who} refuses it too): write "
                         f"`{leaf(field)}: \"{written}\"`, in quotes")
    raise UsageError(f"{field} is {what(value)}, not text: give {give or leaf(field) + ': TEXT'}")


def texts(value: Any, field: str, give: str, who: str = "Kubernetes") -> list[str]:
    """A list of text (args, hosts, namespaces...); an absent one: []."""
    items = sequence(value, field, give)
    for index, entry in enumerate(items):
        if not isinstance(entry, str):
            where = f"{field}[{index}]"
            if isinstance(entry, (bool, int, float)):
                written = str(entry).lower() if isinstance(entry, bool) else str(entry)
                raise UsageError(f"{where} is {what(entry)}, not text ({who} refuses it too): write "
                                 f"\"{written}\", in quotes")
            raise UsageError(f"{where} is {what(entry)}, not text: give {give}")
    return items


def boolean(value: Any, field: str) -> bool | None:
    """true/false (None when absent); `maybe` or `"true"` is refused as the API server does."""
    if value is None or isinstance(value, bool):
        return value
    raise UsageError(f"{field} is {what(value)}, not true or false (Kubernetes refuses it too): write "
                     f"`{leaf(field)}: true` or `{leaf(field)}: false`, without quotes")


# Label keys and values as the API server checks them (k8s.io/apimachinery validation).
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_PREFIX = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_RULE = ("letters, digits, '-', '_' and '.', starting and ending with a letter or digit, at most "
               "63 characters")


def labels(value: Any, field: str, give: str = "") -> dict[str, str]:
    """A label mapping (metadata.labels, a selector, a subset's labels), every key and value
    as Kubernetes accepts them; an absent one: {}."""
    found = mapping(value, field, give or f"{leaf(field)}: {{app: fortio}}")
    for key, label in found.items():
        _label_key(key, field)
        where = f"{field}.{key}"
        if label is None:
            raise UsageError(f"{where} is null (empty), not text: give it a value, e.g. {key}: v1, or "
                             f"{key}: \"\" for an empty one")
        if isinstance(label, (bool, int, float)):
            written = str(label).lower() if isinstance(label, bool) else str(label)
            raise UsageError(f"{where} is {what(label)}, not text (Kubernetes refuses a label value that is "
                             f"not text): write `{key}: \"{written}\"`, in quotes")
        if not isinstance(label, str):
            raise UsageError(f"{where} is {what(label)}, not text: a label value is one word, e.g. {key}: v1")
        if label and (len(label) > 63 or not _LABEL_NAME.fullmatch(label)):
            raise UsageError(f"{where} {label[:80]!r} is not a valid label value ({_LABEL_RULE}, or empty); "
                             "change it")
    return found


def _label_key(key: Any, field: str) -> None:
    if isinstance(key, bool):  # YAML 1.1 reads a bare on/off/yes/no/true/false key so
        raise UsageError(f"{field} has a key YAML reads as {what(key)} (a bare on, off, yes, no, true or "
                         f"false), not text: write the key in quotes, e.g. \"on\": VALUE")
    if not isinstance(key, str):
        raise UsageError(f"{field} has the key {key} ({what(key)}), not text: write it in quotes, e.g. "
                         f"\"{key}\": VALUE, or use a word such as app")
    prefix, slash, name = key.rpartition("/")
    if (slash and (not prefix or len(prefix) > 253 or not _LABEL_PREFIX.fullmatch(prefix))) \
            or len(name) > 63 or not _LABEL_NAME.fullmatch(name):
        raise UsageError(f"{field} key {key[:80]!r} is not a valid label key (NAME or PREFIX/NAME: NAME "
                         f"{_LABEL_RULE}; PREFIX a lower-case DNS name); change it")


def integer_text(value: Any) -> str | None:
    """A quoted whole number (`"2"`), as the user would write it without quotes; else None."""
    return value.strip() if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() \
        else None


def integer(value: Any, field: str, example: str) -> int:
    """An integer field (replicas, a port, a weight); a quoted number or a boolean is refused
    as the API server refuses it (`cannot unmarshal string into ... of type int32`), not as
    a number out of range. ``example``: a value that fits the field (`8080`, `1`)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    name, quoted = leaf(field), integer_text(value)
    if quoted is not None:
        fix = f"write `{name}: {quoted}`, without quotes"
    else:
        fix = f"write a number, e.g. `{name}: {example}`"
    raise UsageError(f"{field} is {what(value)}, not an integer (Kubernetes refuses it too): {fix}")
