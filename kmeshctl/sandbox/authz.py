"""Istio AuthorizationPolicy objects in the sandbox, turned into the workload API's
``istio.security.Authorization`` (as ``model.Policy``) the way istiod does for node
proxies (checked against istiod 1.31's ambient conversion and, on the e2e tier, against
what the real istiod sent our agent):

- scope: a policy with ``spec.selector`` is WORKLOAD_SELECTOR (listed by name, ``ns/name``,
  on each Workload it selects in its own namespace, or in every namespace from the root
  namespace ``istio-system``); without one it is NAMESPACE, or GLOBAL in the root namespace.
- action ALLOW (the default) or DENY.
- each rule becomes one group of AND-ed clauses, in this order: one clause of its ``to``
  entries (OR-ed; ports and notPorts), one of its ``from`` entries (OR-ed; ipBlocks,
  namespaces, serviceAccounts — ``sa`` alone means the policy's namespace — principals
  and their ``not`` forms), one per ``when`` condition (source.ip, source.namespace,
  source.principal, destination.ip, destination.port; values or notValues).
- values: ``*`` is presence, ``*x`` a suffix, ``x*`` a prefix, anything else exact; an
  address without a prefix length is a host.
- HTTP attributes (hosts, methods, paths, remoteIpBlocks, requestPrincipals, any other
  ``when`` key) are not L4: an ALLOW rule carrying one is dropped (it allows less), a DENY
  rule is kept without them (it refuses more). ``http_warnings`` says which, as istiod's
  status condition does.

What istiod does not send a node proxy is refused here with the reason rather than
silently ignored: CUSTOM and AUDIT actions, ``targetRef(s)`` (waypoint policies), the
``istio.io/dry-run`` annotation (sent only with AMBIENT_ENABLE_DRY_RUN_AUTHORIZATION_POLICY)
and ``trustDomains`` (istiod drops it without a word). Shapes: ``parse(doc, name,
namespace) -> AuthorizationPolicy``; ``to_model(policy) -> model.Policy``;
``selected(policies, namespace, labels) -> list of names``.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from kmeshctl.asciinum import is_digits
from kmeshctl.node import model
from kmeshctl.errors import KmeshctlError, UsageError

log = logging.getLogger("kmeshctl.sandbox.authz")

ROOT_NAMESPACE = "istio-system"  # meshConfig.rootNamespace (Istio's default)
API_VERSIONS = ("security.istio.io/v1", "security.istio.io/v1beta1")
DRY_RUN_ANNOTATION = "istio.io/dry-run"
L4_WHEN_KEYS = ("source.ip", "source.namespace", "source.principal", "destination.ip", "destination.port")
_HTTP_OPERATION = ("hosts", "notHosts", "methods", "notMethods", "paths", "notPaths")
_HTTP_SOURCE = ("remoteIpBlocks", "notRemoteIpBlocks", "requestPrincipals", "notRequestPrincipals")
_SOURCE_FIELDS = {"ipBlocks", "notIpBlocks", "namespaces", "notNamespaces", "serviceAccounts",
                  "notServiceAccounts", "principals", "notPrincipals", "trustDomains", "notTrustDomains",
                  *_HTTP_SOURCE}
_OPERATION_FIELDS = {"ports", "notPorts", *_HTTP_OPERATION}


@dataclass(frozen=True)
class AuthorizationPolicy:
    """One parsed object; ``selector`` None when it has no ``spec.selector``."""

    name: str
    namespace: str
    selector: Optional[dict[str, str]]
    action: int
    rules: tuple[dict[str, Any], ...]

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def scope(self) -> int:
        if self.selector is not None:
            return model.POLICY_WORKLOAD_SELECTOR
        return model.POLICY_GLOBAL if self.namespace == ROOT_NAMESPACE else model.POLICY_NAMESPACE


# ----------------------------------------------------------------- parsing


def parse(doc: dict[str, Any], name: str, namespace: str) -> AuthorizationPolicy:
    """The object as the sandbox keeps it; UsageError for what the sandbox cannot do."""
    meta = doc.get("metadata") or {}
    if DRY_RUN_ANNOTATION in (meta.get("annotations") or {}):
        raise UsageError(f"the {DRY_RUN_ANNOTATION} annotation is not supported in the sandbox (istiod "
                         "sends dry-run policies to node proxies only with "
                         "AMBIENT_ENABLE_DRY_RUN_AUTHORIZATION_POLICY=true); remove it")
    spec = doc.get("spec") or {}
    if spec.get("targetRef") or spec.get("targetRefs"):
        raise UsageError("targetRef(s) bind a policy to a waypoint, which istiod never sends to node "
                         "proxies and the sandbox's waypoint does not enforce; use spec.selector")
    unknown = set(spec) - {"selector", "action", "rules", "provider", "targetRef", "targetRefs"}
    if unknown:
        raise UsageError(f"spec.{sorted(unknown)[0]} is not an AuthorizationPolicy field; fix the object")
    action = spec.get("action", "ALLOW")
    if action not in ("ALLOW", "DENY"):
        raise UsageError(f"action {action} is not enforced by node proxies (istiod sends only ALLOW and "
                         "DENY to them); it needs a waypoint, which the sandbox does not give it")
    selector = None
    if spec.get("selector") is not None:
        selector = {str(k): str(v) for k, v in ((spec["selector"] or {}).get("matchLabels") or {}).items()}
        if not selector:
            raise UsageError("spec.selector has no matchLabels: give labels, or remove the selector "
                             "for a policy of the whole namespace")
    rules = tuple(_checked_rule(r, i) for i, r in enumerate(spec.get("rules") or []))
    return AuthorizationPolicy(name, namespace, selector,
                               model.DENY if action == "DENY" else model.ALLOW, rules)


def _checked_rule(rule: Any, index: int) -> dict[str, Any]:
    where = f"rules[{index}]"
    if not isinstance(rule, dict):
        raise UsageError(f"{where} is not a mapping")
    for j, entry in enumerate(rule.get("from") or []):
        source = (entry or {}).get("source")
        _check_fields(source, _SOURCE_FIELDS, f"{where}.from[{j}].source")
        if (source.get("serviceAccounts") or source.get("notServiceAccounts")) and any(
                source.get(f) for f in ("namespaces", "notNamespaces", "principals", "notPrincipals")):
            raise UsageError(f"{where}.from[{j}].source: serviceAccounts cannot be set with namespaces or "
                             "principals (the API server refuses it); split it into two sources")
        for field in ("trustDomains", "notTrustDomains"):
            if source.get(field):
                raise UsageError(f"{where}.from[{j}].source.{field} is not converted by istiod for node "
                                 "proxies (it would be ignored); match principals instead")
        for field in ("ipBlocks", "notIpBlocks"):
            _networks(source.get(field) or [], f"{where}.from[{j}].source.{field}")
    for j, entry in enumerate(rule.get("to") or []):
        operation = (entry or {}).get("operation")
        _check_fields(operation, _OPERATION_FIELDS, f"{where}.to[{j}].operation")
        for field in ("ports", "notPorts"):
            _ports(operation.get(field) or [], f"{where}.to[{j}].operation.{field}")
    for j, condition in enumerate(rule.get("when") or []):
        if not isinstance(condition, dict) or not isinstance(condition.get("key"), str):
            raise UsageError(f"{where}.when[{j}] needs a key")
        if condition["key"] in ("source.ip", "destination.ip"):
            for field in ("values", "notValues"):
                _networks(condition.get(field) or [], f"{where}.when[{j}].{field}")
        if condition["key"] == "destination.port":
            for field in ("values", "notValues"):
                _ports(condition.get(field) or [], f"{where}.when[{j}].{field}")
    return rule


def _check_fields(part: Any, allowed: set[str], where: str) -> None:
    if not isinstance(part, dict):
        raise UsageError(f"{where} must be set (a mapping)")
    unknown = set(part) - allowed
    if unknown:
        raise UsageError(f"{where}.{sorted(unknown)[0]} is not a field of it; fix the object")


def _networks(values: Iterable[Any], where: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return [ipaddress.ip_network(str(v), strict=False) for v in values]
    except ValueError as err:
        raise UsageError(f"{where}: {err} (use an address or ADDRESS/LENGTH)") from None


def _ports(values: Iterable[Any], where: str) -> list[int]:
    ports = []
    for value in values:
        if not is_digits(str(value)) or not 0 < int(value) <= 65535:
            raise UsageError(f"{where}: {value!r} is not a port number (1-65535)")
        ports.append(int(value))
    return ports


# ----------------------------------------------------------------- istiod's conversion


def _string(value: str) -> model.StringMatch:
    if value == "*":
        return model.StringMatch(presence=True)
    if value.startswith("*"):
        return model.StringMatch(suffix=value[1:])
    if value.endswith("*"):
        return model.StringMatch(prefix=value[:-1])
    return model.StringMatch(exact=value)


def _strings(values: Optional[list]) -> tuple[model.StringMatch, ...]:
    return tuple(_string(str(v)) for v in values or [])


def _accounts(values: Optional[list], namespace: str) -> tuple[model.ServiceAccountMatch, ...]:
    result = []
    for value in map(str, values or []):
        ns, slash, sa = value.partition("/")
        result.append(model.ServiceAccountMatch(ns, sa) if slash else model.ServiceAccountMatch(namespace, value))
    return tuple(result)


def _ips(values: Optional[list]) -> tuple:
    return tuple(_networks(values or [], "ip"))


def _source_match(source: dict[str, Any], namespace: str) -> model.Match:
    return model.Match(
        source_ips=_ips(source.get("ipBlocks")), not_source_ips=_ips(source.get("notIpBlocks")),
        namespaces=_strings(source.get("namespaces")), not_namespaces=_strings(source.get("notNamespaces")),
        service_accounts=_accounts(source.get("serviceAccounts"), namespace),
        not_service_accounts=_accounts(source.get("notServiceAccounts"), namespace),
        principals=_strings(source.get("principals")), not_principals=_strings(source.get("notPrincipals")))


def _operation_match(operation: dict[str, Any]) -> model.Match:
    return model.Match(destination_ports=tuple(_ports(operation.get("ports") or [], "ports")),
                       not_destination_ports=tuple(_ports(operation.get("notPorts") or [], "notPorts")))


def _when_match(condition: dict[str, Any]) -> model.Match:
    key, values, not_values = condition["key"], condition.get("values"), condition.get("notValues")
    if key == "source.namespace":
        return model.Match(namespaces=_strings(values), not_namespaces=_strings(not_values))
    if key == "source.principal":
        return model.Match(principals=_strings(values), not_principals=_strings(not_values))
    if key == "source.ip":
        return model.Match(source_ips=_ips(values), not_source_ips=_ips(not_values))
    if key == "destination.ip":
        return model.Match(destination_ips=_ips(values), not_destination_ips=_ips(not_values))
    if key == "destination.port":
        return model.Match(destination_ports=tuple(_ports(values or [], key)),
                           not_destination_ports=tuple(_ports(not_values or [], key)))
    return model.Match()  # an HTTP attribute: nothing of it at L4


def _http_parts(rule: dict[str, Any]) -> list[str]:
    found = [f for entry in rule.get("to") or [] for f in _HTTP_OPERATION if entry["operation"].get(f)]
    found += [f for entry in rule.get("from") or [] for f in _HTTP_SOURCE if entry["source"].get(f)]
    found += [c["key"] for c in rule.get("when") or [] if c["key"] not in L4_WHEN_KEYS]
    return found


def _group(rule: dict[str, Any], policy: AuthorizationPolicy) -> Optional[model.Rule]:
    if policy.action == model.ALLOW and _http_parts(rule):
        return None  # never matches at L4: istiod leaves the whole rule out
    clauses = []
    if rule.get("to"):
        clauses.append(model.Clause(tuple(_operation_match(e["operation"]) for e in rule["to"])))
    if rule.get("from"):
        clauses.append(model.Clause(tuple(_source_match(e["source"], policy.namespace) for e in rule["from"])))
    clauses += [model.Clause((_when_match(c),)) for c in rule.get("when") or []]
    return model.Rule(tuple(clauses))


def to_model(policy: AuthorizationPolicy) -> model.Policy:
    """The Authorization istiod sends node proxies for ``policy``."""
    groups = tuple(g for g in (_group(r, policy) for r in policy.rules) if g is not None)
    return model.Policy(name=policy.name, namespace=policy.namespace, scope=policy.scope,
                        action=policy.action, rules=groups)


def http_warnings(policy: AuthorizationPolicy) -> list[str]:
    """The HTTP attributes of ``policy`` that node proxies cannot see, sorted."""
    return sorted({part for rule in policy.rules for part in _http_parts(rule)})


def selected(policies: Iterable[AuthorizationPolicy], namespace: str, labels: dict[str, str]) -> list[str]:
    """The names (``ns/name``, sorted) of the selector policies that apply to a pod of
    ``namespace`` with ``labels``: those of its namespace or the root namespace whose
    matchLabels it carries."""
    return sorted(p.key for p in policies
                  if p.selector and p.namespace in (namespace, ROOT_NAMESPACE)
                  and all(labels.get(k) == v for k, v in p.selector.items()))


def authorization_resources(policies: Iterable[AuthorizationPolicy]) -> dict[str, dict[str, Any]]:
    """What the sandbox control plane publishes to the node agent: {AUTHORIZATION_TYPE:
    {"ns/name": Authorization}}; a policy with HTTP attributes is logged as istiod's status
    condition says it (node proxies cannot see them)."""
    from kmeshctl.xds import AUTHORIZATION_TYPE
    from kmeshctl.xds.builders import authorizations

    policies = list(policies)
    for policy in policies:
        found = http_warnings(policy)
        if found:
            effect = ("enforced without them (refuses more)" if policy.action == model.DENY
                      else "its rules with them are left out (allows less)")
            log.warning("event=authz_http_attributes policy=%s attributes=%s: node proxies see no HTTP; %s",
                        policy.key, ",".join(found), effect)
    return {AUTHORIZATION_TYPE: authorizations(*(to_model(p) for p in policies))}


# ----------------------------------------------------------------- live changes


def set_policies(name: str, documents: list[dict[str, Any]], timeout: float = 15.0) -> None:
    """Make ``documents`` the sandbox's AuthorizationPolicies (replacing the ones it has),
    as `kubectl apply` / `delete` would, and wait until the node agent holds exactly them.
    Every document is validated with the rest of the record first: an error changes nothing."""
    import signal
    import time

    import yaml

    from kmeshctl.sandbox import agent as agent_mod
    from kmeshctl.sandbox import manifests as manifests_mod
    from kmeshctl.sandbox import sandbox as sandbox_mod

    state = sandbox_mod.loaded_state(name)
    kept = [d for d in yaml.safe_load_all(state.manifests_file.read_text())
            if d and d.get("kind") != "AuthorizationPolicy"]
    manifests = manifests_mod.from_documents([*kept, *documents], "the new policies")
    tmp = state.manifests_file.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump_all([*kept, *documents], sort_keys=False))
    tmp.replace(state.manifests_file)
    sandbox_mod._signal_control_plane(state, signal.SIGHUP)
    wanted = {p.key for p in manifests.authorization_policies}
    deadline = time.monotonic() + timeout
    while True:
        status, dump = agent_mod._request(state, "GET", "/debug/config_dump/dual-engine")
        held = {f"{p['namespace']}/{p['name']}" for p in (dump or {}).get("policies", [])} if status == 200 else None
        if held == wanted:
            return
        if time.monotonic() > deadline:
            raise KmeshctlError(f"the node agent of sandbox {name} holds policies {sorted(held or [])}, "
                                f"not {sorted(wanted)}, after {timeout:.0f}s: see its log")
        time.sleep(0.1)
