"""The L4 authorization compiler (pure): from ``model.Policy`` objects and the workloads
the agent knows, the verdict table of one destination address that the kernel's sk_lookup
program reads (``bpf/km_authz.h``, ``bpf/maps_authz.h``).

Istio's semantics (as ztunnel applies them):

- The policies of a destination workload: every GLOBAL policy (istiod marks so the root
  namespace's, ``istio-system``, without selector), the NAMESPACE policies of its namespace, and the
  policies its ``authorization_policies`` names (WORKLOAD_SELECTOR).
- A DENY policy that matches refuses; else, when any ALLOW policy applies, one must match;
  else the connection is allowed. ``dry_run`` policies are left out of the verdict and
  evaluated into a shadow verdict (logged and counted, never enforced).
- Rules OR-ed, clauses of a rule AND-ed, matches of a clause OR-ed (a clause without
  matches matches everything), kinds of a match AND-ed, values of a kind OR-ed; a policy
  without rules matches nothing (so an empty ALLOW refuses everything).
- The source identity (namespace, service account, trust domain) is that of the known
  workload owning the source address. An unknown source has none: ``namespaces``,
  ``principals``, ``service_accounts`` never match it, and their ``not_`` forms always do
  (there is nothing to exclude), as in ztunnel and Envoy's RBAC. Principals are matched
  against ``spiffe://<td>/ns/<ns>/sa/<sa>`` and against ``<td>/ns/<ns>/sa/<sa>`` (the
  form AuthorizationPolicy users write).
- Extensions (``Policy.extensions``, ``Match.extensions``) cannot be evaluated at L4: a
  DENY is applied without them (it refuses more), an ALLOW match with one never matches
  (it allows less); each such policy is reported as a ``Problem``.

Why the table is exact: the source's identity is a function of its address, so the whole
decision is a function of (destination address, destination port, source address). Ports
that a policy names each get a class, all others share class 0. Source addresses are
split by the policies' CIDRs and the known workloads' host addresses (prefixes nest, so
the longest-prefix match picks the right region); an entry equal to its enclosing one is
left out. Shapes: ``compile_table(...) -> CompiledTable``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Optional, Sequence

from kmeshctl.node import model
from kmeshctl.node.model import IPAddress, Match, Policy, Workload

DEFAULT_TRUST_DOMAIN = "cluster.local"
DEFAULT_SERVICE_ACCOUNT = "default"
MAX_RULES_PER_TABLE = 65536  # more: the table is not written, the pod fails closed
MAX_PORT_CLASSES = 4096

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# verdicts (``enum km_authz_verdict``, kmeshctl.maps.AuthzVerdict)
ALLOW, ALLOW_POLICY, DENY_POLICY, DENY_NO_ALLOW, DENY_UNENFORCEABLE = 0, 1, 2, 3, 4


@dataclass(frozen=True, slots=True)
class Identity:
    namespace: str
    service_account: str
    trust_domain: str

    @property
    def principal(self) -> str:
        return f"{self.trust_domain}/ns/{self.namespace}/sa/{self.service_account}"


def identity_of(workload: Workload) -> Identity:
    return Identity(workload.namespace, workload.service_account or DEFAULT_SERVICE_ACCOUNT,
                    workload.trust_domain or DEFAULT_TRUST_DOMAIN)


@dataclass(frozen=True, slots=True)
class Decision:
    """A verdict and the key of the policy that decided it ("" for none); ``shadow_*``:
    the same with the dry-run policies in (equal to the verdict when none decides)."""

    verdict: int
    policy: str = ""
    shadow_verdict: int = ALLOW
    shadow_policy: str = ""


@dataclass(frozen=True)
class Problem:
    """Something a policy asks that the data path does not enforce exactly."""

    policy: str
    message: str


@dataclass(frozen=True)
class CompiledTable:
    """The table of one destination address: ``ports`` (port -> class, classes from 1),
    ``rules`` ((class, source prefix) -> Decision; each class has its root prefix),
    ``policies`` (the applicable policies, in order), ``problems``; ``too_big`` when
    the table would exceed MAX_RULES_PER_TABLE (then ``rules`` is empty)."""

    dst: IPAddress
    ports: dict[int, int]
    rules: dict[tuple[int, IPNetwork], Decision]
    policies: tuple[Policy, ...]
    problems: tuple[Problem, ...] = ()
    too_big: int = 0

    @property
    def enforcing(self) -> bool:
        """Whether any non-dry-run policy applies."""
        return any(not p.dry_run for p in self.policies)


# ----------------------------------------------------------------- which policies apply


def applicable(policies: Mapping[str, Policy], workload: Workload) -> tuple[list[Policy], list[str]]:
    """The policies that apply to ``workload``, sorted by key, and the names its
    ``authorization_policies`` lists that are not known (yet)."""
    chosen: dict[str, Policy] = {}
    for key, policy in policies.items():
        if policy.scope == model.POLICY_GLOBAL or (
                policy.scope == model.POLICY_NAMESPACE and policy.namespace == workload.namespace):
            chosen[key] = policy
    missing = []
    for name in workload.authorization_policies:
        if name in policies:
            chosen[name] = policies[name]
        else:
            missing.append(name)
    return [chosen[k] for k in sorted(chosen)], missing


# ----------------------------------------------------------------- matching one connection


@dataclass(frozen=True)
class Conn:
    """One connection as the matcher sees it: the source's identity (None: unknown), a
    test "is the source inside this prefix", the destination address and port (None: a
    port that no policy names)."""

    identity: Optional[Identity]
    src_in: Callable[[IPNetwork], bool]
    dst: IPAddress
    port: Optional[int]


def _any_string(matches: Sequence[model.StringMatch], value: Optional[str]) -> bool:
    return value is not None and any(m.matches(value) for m in matches)


def _principal_hit(matches: Sequence[model.StringMatch], ident: Optional[Identity]) -> bool:
    if ident is None:
        return False
    forms = (ident.principal, "spiffe://" + ident.principal)
    return any(m.matches(form) for m in matches for form in forms)


def _sa_hit(matches: Sequence[model.ServiceAccountMatch], ident: Optional[Identity]) -> bool:
    if ident is None:
        return False
    return any((not m.namespace or m.namespace == ident.namespace)
               and m.service_account == ident.service_account for m in matches)


def _kind(values: Sequence, hit: bool, negated: bool) -> bool:
    """An empty kind matches all; else a hit (or, negated, no hit)."""
    if not values:
        return True
    return not hit if negated else hit


def match_matches(m: Match, conn: Conn, ignore_extensions: bool) -> bool:
    if m.extensions and not ignore_extensions:
        return False
    ns = conn.identity.namespace if conn.identity else None
    dst_in = lambda c: c.version == conn.dst.version and conn.dst in c  # noqa: E731
    port_hit = lambda ports: conn.port is not None and conn.port in ports  # noqa: E731
    return (_kind(m.namespaces, _any_string(m.namespaces, ns), False)
            and _kind(m.not_namespaces, _any_string(m.not_namespaces, ns), True)
            and _kind(m.principals, _principal_hit(m.principals, conn.identity), False)
            and _kind(m.not_principals, _principal_hit(m.not_principals, conn.identity), True)
            and _kind(m.service_accounts, _sa_hit(m.service_accounts, conn.identity), False)
            and _kind(m.not_service_accounts, _sa_hit(m.not_service_accounts, conn.identity), True)
            and _kind(m.source_ips, any(conn.src_in(c) for c in m.source_ips), False)
            and _kind(m.not_source_ips, any(conn.src_in(c) for c in m.not_source_ips), True)
            and _kind(m.destination_ips, any(dst_in(c) for c in m.destination_ips), False)
            and _kind(m.not_destination_ips, any(dst_in(c) for c in m.not_destination_ips), True)
            and _kind(m.destination_ports, port_hit(m.destination_ports), False)
            and _kind(m.not_destination_ports, port_hit(m.not_destination_ports), True))


def policy_matches(policy: Policy, conn: Conn) -> bool:
    """Whether any rule of ``policy`` matches ``conn`` (extensions: see the module doc)."""
    if policy.extensions and policy.action == model.ALLOW:
        return False
    deny = policy.action == model.DENY
    for rule in policy.rules:
        if all(not clause.matches or any(match_matches(m, conn, deny) for m in clause.matches)
               for clause in rule.clauses):
            return True
    return False


def _evaluate(policies: Sequence[Policy], conn: Conn) -> tuple[int, str]:
    for policy in policies:
        if policy.action == model.DENY and policy_matches(policy, conn):
            return DENY_POLICY, policy.key
    allows = [p for p in policies if p.action == model.ALLOW]
    if not allows:
        return ALLOW, ""
    for policy in allows:
        if policy_matches(policy, conn):
            return ALLOW_POLICY, policy.key
    return DENY_NO_ALLOW, ""


def decide(policies: Sequence[Policy], conn: Conn) -> Decision:
    """Istio's verdict for ``conn`` under ``policies`` (all of them apply)."""
    verdict, by = _evaluate([p for p in policies if not p.dry_run], conn)
    dry = [p for p in policies if p.dry_run]
    if not dry:
        return Decision(verdict, by, verdict, "")
    shadow, shadow_by = _evaluate(policies, conn)
    if shadow == verdict and shadow_by == by:
        return Decision(verdict, by, verdict, "")
    return Decision(verdict, by, shadow, shadow_by or dry[0].key)


# ----------------------------------------------------------------- compiling a table


def _uses_identity(policies: Iterable[Policy]) -> bool:
    return any(m.namespaces or m.not_namespaces or m.principals or m.not_principals
               or m.service_accounts or m.not_service_accounts
               for p in policies for r in p.rules for c in r.clauses for m in c.matches)


def _matches_of(policies: Iterable[Policy]) -> Iterable[Match]:
    return (m for p in policies for r in p.rules for c in r.clauses for m in c.matches)


def port_classes(policies: Iterable[Policy]) -> dict[int, int]:
    """Every port a policy names -> its class (1, 2, ... in port order)."""
    ports = sorted({port for m in _matches_of(policies)
                    for port in (*m.destination_ports, *m.not_destination_ports)})
    return {port: index for index, port in enumerate(ports, start=1)}


def problems_of(policies: Iterable[Policy]) -> list[Problem]:
    problems = []
    for policy in policies:
        names = list(policy.extensions) + [e for m in _matches_of([policy]) for e in m.extensions]
        if names:
            effect = ("applied without them (refuses more)" if policy.action == model.DENY
                      else "its matches with them never match (allows less)")
            problems.append(Problem(policy.key, f"extensions {', '.join(sorted(set(names)))} are not "
                                                f"enforceable at L4: {effect}"))
    return problems


def _host(ip: IPAddress) -> IPNetwork:
    return ipaddress.ip_network(ip)


def _source_nodes(family: int, policies: Sequence[Policy],
                  sources: Iterable[tuple[IPAddress, Identity]]) -> tuple[list[IPNetwork], dict[IPNetwork, Identity]]:
    """The CIDR nodes (root first) and the host nodes (address -> identity) of one family."""
    root = ipaddress.ip_network("0.0.0.0/0" if family == 4 else "::/0")
    cidrs = {root} | {c for m in _matches_of(policies) for c in (*m.source_ips, *m.not_source_ips)
                      if c.version == family}
    hosts: dict[IPNetwork, Identity] = {}
    if _uses_identity(policies):
        for ip, ident in sources:
            if ip.version == family:
                hosts.setdefault(_host(ip), ident)
    return sorted(cidrs, key=lambda c: c.prefixlen), hosts


def _deepest(cidrs: Sequence[IPNetwork], net: IPNetwork) -> IPNetwork:
    """The longest of ``cidrs`` (sorted by length, root first) that holds ``net``."""
    best = cidrs[0]
    for cidr in cidrs:
        if net.subnet_of(cidr):  # type: ignore[arg-type]
            best = cidr
    return best


def compile_table(dst: IPAddress, policies: Sequence[Policy],
                  sources: Iterable[tuple[IPAddress, Identity]]) -> CompiledTable:
    """The verdict table of destination address ``dst`` under ``policies`` (those that
    apply to its workload, see ``applicable``); ``sources``: (address, identity) of every
    known workload."""
    ports = port_classes(policies)
    problems = tuple(problems_of(policies))
    if len(ports) >= MAX_PORT_CLASSES:
        return CompiledTable(dst, {}, {}, tuple(policies), problems, too_big=len(ports))
    cidrs, hosts = _source_nodes(dst.version, policies, sources)
    rules: dict[tuple[int, IPNetwork], Decision] = {}
    for port_class, port in [(0, None), *((c, p) for p, c in ports.items())]:
        rules.update(_class_rules(dst, port_class, port, policies, cidrs, hosts))
        if len(rules) > MAX_RULES_PER_TABLE:
            return CompiledTable(dst, ports, {}, tuple(policies), problems, too_big=len(rules))
    return CompiledTable(dst, ports, rules, tuple(policies), problems)


def _class_rules(dst: IPAddress, port_class: int, port: Optional[int], policies: Sequence[Policy],
                 cidrs: list[IPNetwork], hosts: dict[IPNetwork, Identity]
                 ) -> dict[tuple[int, IPNetwork], Decision]:
    def region(node: IPNetwork, ident: Optional[Identity]) -> Decision:
        src_in = (lambda c: c.version == node.version and node.subnet_of(c))  # type: ignore[arg-type]
        return decide(policies, Conn(ident, src_in, dst, port))

    kept: dict[IPNetwork, Decision] = {}
    kept_cidrs: list[IPNetwork] = []
    for cidr in cidrs:  # shortest first: each one's enclosing kept entry is already known
        decision = region(cidr, None)
        if not kept or kept[_deepest(kept_cidrs, cidr)] != decision:
            kept[cidr] = decision
            kept_cidrs.append(cidr)
    memo: dict[tuple[Identity, IPNetwork], Decision] = {}
    for host, ident in hosts.items():
        key = (ident, _deepest(cidrs, host))
        if key not in memo:
            memo[key] = region(host, ident)
        enclosing = kept[_deepest(kept_cidrs, host)]
        if memo[key] != enclosing:
            kept[host] = memo[key]
    return {(port_class, net): decision for net, decision in kept.items()}


def sources_of(workloads: Iterable[Workload]) -> list[tuple[IPAddress, Identity]]:
    """(address, identity) of every address of every workload; an address two workloads
    hold goes to the smaller uid (independent of arrival order)."""
    owner: dict[IPAddress, tuple[str, Identity]] = {}
    for w in workloads:
        for ip in w.addresses:
            held = owner.get(ip)
            if held is None or w.uid < held[0]:
                owner[ip] = (w.uid, identity_of(w))
    return [(ip, ident) for ip, (_, ident) in owner.items()]


@dataclass
class WorkloadTables:
    """The compiled tables of one workload (one per address) and the policy names it
    lists that are not known yet."""

    uid: str
    tables: list[CompiledTable] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def compile_workload(workload: Workload, policies: Mapping[str, Policy],
                     sources: Sequence[tuple[IPAddress, Identity]]) -> WorkloadTables:
    """The tables of every address of ``workload``; none when no policy applies."""
    chosen, missing = applicable(policies, workload)
    result = WorkloadTables(workload.uid, missing=missing)
    if chosen:
        result.tables = [compile_table(ip, chosen, sources) for ip in workload.addresses]
    return result
