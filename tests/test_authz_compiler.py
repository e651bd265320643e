"""The L4 authorization compiler (kmeshctl.authz), pure: model.Policy objects and known
workloads in, Istio's verdicts and the compact per-address table out. Every table is
also checked against a direct evaluation by a longest-prefix lookup, as the kernel does."""

from __future__ import annotations

import ipaddress

from kmeshctl.node import authz
from kmeshctl.node.model import (ALLOW, DENY, POLICY_GLOBAL, POLICY_NAMESPACE, POLICY_WORKLOAD_SELECTOR, Clause,
                            Match, Policy, Rule, ServiceAccountMatch, StringMatch, Workload)

net = ipaddress.ip_network
ip = ipaddress.ip_address

SERVER = Workload(uid="c//Pod/shop/web", name="web", namespace="shop", service_account="web",
                  addresses=(ip("10.0.0.10"),), authorization_policies=("shop/sel",))
WORKLOADS = [
    SERVER,
    Workload(uid="c//Pod/foo/a", namespace="foo", service_account="a", addresses=(ip("10.0.0.2"),)),
    Workload(uid="c//Pod/bar/b", namespace="bar", service_account="b", addresses=(ip("10.0.0.3"),),
             trust_domain="example.org"),
    Workload(uid="c//Pod/bar/c", namespace="bar", service_account="c", addresses=(ip("10.0.1.4"),)),
]
SOURCES = authz.sources_of(WORKLOADS)


def _p(name: str, action: int, *matches: Match, scope: int = POLICY_NAMESPACE, ns: str = "shop",
       dry_run: bool = False, rules: tuple[Rule, ...] | None = None) -> Policy:
    return Policy(name=name, namespace=ns, scope=scope, action=action, dry_run=dry_run,
                  rules=rules if rules is not None else (Rule((Clause(matches),)),))


def _s(*values: str) -> tuple[StringMatch, ...]:
    return tuple(StringMatch(exact=v) for v in values)


def lookup(table: authz.CompiledTable, src: str, port: int) -> authz.Decision:
    """What the kernel reads: the port's class, then the longest prefix holding src."""
    cls = table.ports.get(port, 0)
    address = ip(src)
    best = max((n for (c, n) in table.rules if c == cls and address in n), key=lambda n: n.prefixlen)
    return table.rules[(cls, best)]


def direct(policies: list[Policy], src: str, port: int, dst: str = "10.0.0.10") -> authz.Decision:
    owner = {a: i for a, i in SOURCES}
    address = ip(src)
    conn = authz.Conn(owner.get(address), lambda c: address in c, ip(dst), port)
    ports = authz.port_classes(policies)
    return authz.decide(policies, authz.Conn(conn.identity, conn.src_in, conn.dst,
                                             port if port in ports else None))


def check(policies: list[Policy], cases: dict[tuple[str, int], int]) -> authz.CompiledTable:
    table = authz.compile_table(ip("10.0.0.10"), policies, SOURCES)
    for (src, port), verdict in cases.items():
        got = lookup(table, src, port)
        assert got.verdict == verdict, (src, port, got)
        assert got == direct(policies, src, port), (src, port)
    return table


def test_deny_from_a_namespace_is_one_entry_per_source_of_it() -> None:
    deny = _p("deny-foo", DENY, Match(namespaces=_s("foo")))
    table = check([deny], {("10.0.0.2", 80): authz.DENY_POLICY, ("10.0.0.3", 80): authz.ALLOW,
                           ("192.0.2.1", 80): authz.ALLOW})
    assert set(table.rules) == {(0, net("0.0.0.0/0")), (0, net("10.0.0.2/32"))}
    assert table.rules[(0, net("10.0.0.2/32"))].policy == "shop/deny-foo"


def test_allow_only_from_a_service_account_refuses_everyone_else() -> None:
    allow = _p("only-b", ALLOW, Match(service_accounts=(ServiceAccountMatch("bar", "b"),)))
    check([allow], {("10.0.0.3", 80): authz.ALLOW_POLICY, ("10.0.1.4", 80): authz.DENY_NO_ALLOW,
                    ("10.0.0.2", 80): authz.DENY_NO_ALLOW, ("198.51.100.7", 80): authz.DENY_NO_ALLOW})


def test_deny_first_then_allow() -> None:
    allow = _p("allow-bar", ALLOW, Match(namespaces=_s("bar")))
    deny = _p("deny-c", DENY, Match(principals=(StringMatch(suffix="/sa/c"),)))
    check([allow, deny], {("10.0.0.3", 80): authz.ALLOW_POLICY, ("10.0.1.4", 80): authz.DENY_POLICY,
                          ("10.0.0.2", 80): authz.DENY_NO_ALLOW})


def test_ports_get_classes_and_not_forms() -> None:
    deny = _p("deny-9090", DENY, Match(destination_ports=(9090,)))
    allow = _p("allow-not-22", ALLOW, Match(not_destination_ports=(22,)))
    table = check([deny, allow], {("10.0.0.2", 9090): authz.DENY_POLICY, ("10.0.0.2", 8080): authz.ALLOW_POLICY,
                                  ("10.0.0.2", 22): authz.DENY_NO_ALLOW, ("203.0.113.9", 80): authz.ALLOW_POLICY})
    assert table.ports == {22: 1, 9090: 2}


def test_cidrs_nest_and_not_source_ips() -> None:
    deny = _p("deny-net-but-one", DENY, Match(source_ips=(net("10.0.0.0/16"),),
                                               not_source_ips=(net("10.0.0.3/32"),)))
    allow = _p("allow-10-0-1", ALLOW, Match(source_ips=(net("10.0.1.0/24"), net("10.0.0.0/24"))))
    check([deny, allow], {("10.0.0.3", 80): authz.ALLOW_POLICY, ("10.0.0.2", 80): authz.DENY_POLICY,
                          ("10.0.1.4", 80): authz.DENY_POLICY, ("10.1.0.1", 80): authz.DENY_NO_ALLOW})


def test_principals_exact_prefix_presence_and_trust_domain() -> None:
    exact = _p("p-exact", ALLOW, Match(principals=_s("example.org/ns/bar/sa/b")))
    spiffe = _p("p-prefix", ALLOW, Match(principals=(StringMatch(prefix="spiffe://cluster.local/ns/foo/"),)))
    check([exact, spiffe], {("10.0.0.3", 1): authz.ALLOW_POLICY, ("10.0.0.2", 1): authz.ALLOW_POLICY,
                            ("10.0.1.4", 1): authz.DENY_NO_ALLOW})
    present = _p("p-any", DENY, Match(principals=(StringMatch(presence=True),)))
    check([present], {("10.0.0.2", 1): authz.DENY_POLICY, ("192.0.2.1", 1): authz.ALLOW})


def test_unknown_source_matches_no_identity_but_every_not_identity() -> None:
    deny_not_foo = _p("deny-not-foo", DENY, Match(not_namespaces=_s("foo")))
    check([deny_not_foo], {("10.0.0.2", 1): authz.ALLOW, ("10.0.0.3", 1): authz.DENY_POLICY,
                           ("192.0.2.1", 1): authz.DENY_POLICY})


def test_destination_ips() -> None:
    deny = _p("deny-dst", DENY, Match(destination_ips=(net("10.0.0.10/32"),)))
    other = _p("deny-other-dst", DENY, Match(destination_ips=(net("10.9.0.0/16"),)))
    check([deny], {("10.0.0.2", 1): authz.DENY_POLICY})
    check([other], {("10.0.0.2", 1): authz.ALLOW})


def test_empty_allow_refuses_all_and_empty_rule_matches_all() -> None:
    check([_p("nothing", ALLOW, rules=())], {("10.0.0.2", 1): authz.DENY_NO_ALLOW})
    check([_p("all", ALLOW, rules=(Rule(()),))], {("10.0.0.2", 1): authz.ALLOW_POLICY})
    check([_p("deny-none", DENY, rules=())], {("10.0.0.2", 1): authz.ALLOW})


def test_dry_run_is_a_shadow_verdict_only() -> None:
    dry = _p("dry", DENY, Match(namespaces=_s("foo")), dry_run=True)
    table = check([dry], {("10.0.0.2", 1): authz.ALLOW, ("10.0.0.3", 1): authz.ALLOW})
    got = lookup(table, "10.0.0.2", 1)
    assert (got.shadow_verdict, got.shadow_policy) == (authz.DENY_POLICY, "shop/dry")
    assert not authz.CompiledTable(ip("10.0.0.10"), {}, {}, (dry,)).enforcing


def test_scopes_global_namespace_selector() -> None:
    policies = {p.key: p for p in (
        _p("g", DENY, scope=POLICY_GLOBAL, ns="istio-system"), _p("n", DENY), _p("other-ns", DENY, ns="foo"),
        _p("sel", ALLOW, scope=POLICY_WORKLOAD_SELECTOR), _p("sel-other", ALLOW, scope=POLICY_WORKLOAD_SELECTOR))}
    chosen, missing = authz.applicable(policies, SERVER)
    assert [p.key for p in chosen] == ["istio-system/g", "shop/n", "shop/sel"] and missing == []
    _, missing = authz.applicable({}, SERVER)
    assert missing == ["shop/sel"]


def test_extensions_are_reported_and_applied_conservatively() -> None:
    deny = _p("deny-ext", DENY, Match(namespaces=_s("foo"), extensions=("x.custom",)))
    allow = _p("allow-ext", ALLOW, Match(namespaces=_s("bar"), extensions=("x.custom",)))
    table = check([deny, allow], {("10.0.0.2", 1): authz.DENY_POLICY, ("10.0.0.3", 1): authz.DENY_NO_ALLOW})
    assert {p.policy for p in table.problems} == {"shop/deny-ext", "shop/allow-ext"}


def test_identity_free_policies_have_no_per_source_entries() -> None:
    many = [Workload(uid=f"c//Pod/x/{i}", namespace="x", addresses=(ipaddress.IPv4Address(0x0A010000 + i),))
            for i in range(2000)]
    table = authz.compile_table(ip("10.0.0.10"), [_p("deny-port", DENY, Match(destination_ports=(22,)))],
                                authz.sources_of(many))
    assert len(table.rules) == 2  # the root of class 0 and of port 22's class


def test_too_big_a_table_is_flagged(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(authz, "MAX_RULES_PER_TABLE", 1)
    table = authz.compile_table(ip("10.0.0.10"), [_p("d", DENY, Match(namespaces=_s("foo")))], SOURCES)
    assert table.too_big and not table.rules and table.enforcing


def test_ipv6_table() -> None:
    v6 = Workload(uid="c//Pod/foo/v6", namespace="foo", addresses=(ip("fd00::2"),))
    table = authz.compile_table(ip("fd00::10"), [_p("deny-foo", DENY, Match(namespaces=_s("foo")))],
                                authz.sources_of([*WORKLOADS, v6]))
    assert table.rules[(0, net("fd00::2/128"))].verdict == authz.DENY_POLICY
    assert (0, net("10.0.0.2/32")) not in table.rules  # other family: not in this table
