"""The shape of an AuthorizationPolicy's spec, checked before kmeshctl.sandbox.authz reads
it: every field it reads (selector.matchLabels, action, rules[].from[].source,
rules[].to[].operation, rules[].when[]) holds what Istio's CRD schema accepts, each
refusal naming the field as written (`spec.rules is a mapping, not a list: give rules:
[{from: [...]}]`). The meaning (which fields node proxies enforce) is authz's to check.
Validation only."""

from __future__ import annotations

import ipaddress
from typing import Any

from kmeshctl.errors import UsageError
from kmeshctl.sandbox import shapes

_RULE = "{from: [{source: {namespaces: [other]}}]}"
_FROM = "{source: {namespaces: [other]}}"
_TO = "{operation: {ports: [\"8080\"]}}"
_WHEN = "{key: source.ip, values: [10.0.0.0/8]}"
_ACTIONS = ("ALLOW", "DENY", "AUDIT", "CUSTOM")
_IP_KEYS = ("source.ip", "destination.ip", "remote.ip")  # `when` keys whose values are addresses or CIDRs


def check(spec: dict[str, Any]) -> None:
    """UsageError naming the first field of ``spec`` (the policy's spec) with a wrong shape."""
    selector = shapes.mapping(spec.get("selector"), "spec.selector", "selector: {matchLabels: {app: fortio}}")
    shapes.labels(selector.get("matchLabels"), "spec.selector.matchLabels")
    if spec.get("action") is not None:
        action = shapes.text(spec["action"], "spec.action", "action: ALLOW or action: DENY", "Istio")
        if action != action.upper() and action.upper() in _ACTIONS:
            raise UsageError(f"spec.action {action}: Istio's actions are upper case (it refuses {action}); did you "
                             f"mean action: {action.upper()}?")
    rules = shapes.sequence(spec.get("rules"), "spec.rules", f"rules: [{_RULE}]")
    for index, rule in enumerate(rules):
        _rule(rule, f"spec.rules[{index}]")


def _rule(rule: Any, where: str) -> None:
    rule = shapes.mapping(rule, where, _RULE, required=True)
    unknown = sorted(str(k) for k in rule if k not in ("from", "to", "when"))
    if unknown:
        raise UsageError(f"{where}.{unknown[0]} is not a field of a rule (from, to and when are; Istio refuses "
                         "it too); fix the object")
    for index, entry in enumerate(shapes.mappings(rule.get("from"), f"{where}.from", f"from: [{_FROM}]", _FROM)):
        _fields(entry.get("source"), f"{where}.from[{index}].source", "source: {namespaces: [other]}")
    for index, entry in enumerate(shapes.mappings(rule.get("to"), f"{where}.to", f"to: [{_TO}]", _TO)):
        _fields(entry.get("operation"), f"{where}.to[{index}].operation", "operation: {ports: [\"8080\"]}")
    for index, condition in enumerate(shapes.mappings(rule.get("when"), f"{where}.when", f"when: [{_WHEN}]",
                                                      _WHEN)):
        _condition(condition, f"{where}.when[{index}]")


def _fields(part: Any, where: str, give: str) -> None:
    """A source or operation: a mapping whose every field is a list of text (Istio's schema:
    ports too are text, `ports: ["8080"]`); ipBlocks addresses or CIDRs."""
    part = shapes.mapping(part, where, give, required=True)
    for key, value in part.items():
        shapes.texts(value, f"{where}.{key}", f"{key}: [VALUE]", "Istio")
        if key in ("ipBlocks", "notIpBlocks"):
            _networks(value, f"{where}.{key}")


def _networks(values: list[str] | None, where: str) -> None:
    """Each of ``values`` an address or ADDRESS/LENGTH, else a UsageError in our words with
    a CIDR that would be accepted (the address with a length that fits it)."""
    for index, value in enumerate(values or []):
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            address = value.partition("/")[0]
            try:
                example = f"{address}/{24 if ipaddress.ip_address(address).version == 4 else 64}"
            except ValueError:
                example = "10.0.0.0/24"
            raise UsageError(f"{where}[{index}] {value}: not a CIDR (ADDRESS or ADDRESS/LENGTH); e.g. {example}") \
                from None


def _condition(condition: dict[str, Any], where: str) -> None:
    if condition.get("key") in (None, ""):
        raise shapes.missing(f"{where}.key", "key: source.ip (with values: [...])")
    shapes.text(condition["key"], f"{where}.key", who="Istio")
    for field in ("values", "notValues"):
        shapes.texts(condition.get(field), f"{where}.{field}", f"{field}: [VALUE]", "Istio")
        if condition["key"] in _IP_KEYS:
            _networks(condition.get(field), f"{where}.{field}")
    if not condition.get("values") and not condition.get("notValues"):
        raise UsageError(f"{where} has neither values nor notValues (Istio refuses it too): add values: [VALUE]")
