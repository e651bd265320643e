"""Inbound L4 authorization on the real kernel (issue 13): pods are network namespaces on a
private bridge, the real data path is loaded (its sk_lookup program linked into each
enrolled pod's netns by the agent's enroller), the agent's AuthzSync compiles
model.Policy objects from its workload cache into the pinned maps, and real TCP connects
from enrolled client pods are accepted or refused (RST -> ECONNREFUSED, at once).
Counts come from the kernel's km_authz_stats, decisions from the BPF log."""

from __future__ import annotations

import re

import ipaddress
import time
from dataclasses import replace
from typing import Iterator

import pytest

from bpf_testlib import LoadedEnv, PodProcess, connect, loaded_dataplane, pod_network
from kmeshctl.node import authz, authzlink
from kmeshctl.node.authzsync import AuthzSync
from kmeshctl.maps import AuthzDstKey, AuthzStatKey, AuthzVerdict, LogEvent, Reason
from kmeshctl.node.model import (ALLOW, DENY, POLICY_NAMESPACE, POLICY_WORKLOAD_SELECTOR, Clause, Match, Policy,
                            Rule, ServiceAccountMatch, StringMatch, Workload)
from kmeshctl.node.workload_cache import WorkloadCache

pytestmark = pytest.mark.root

SUBNET = "10.79.0.0/24"
# pod -> (namespace, service account)
PODS = {"client": ("foo", "a"), "other": ("bar", "b"), "server": ("shop", "web")}
SERVER_UID = "Kubernetes//Pod/shop/server"


class Env:
    def __init__(self, dp: LoadedEnv, net) -> None:
        self.dp = dp
        self.net = net
        self.cache = WorkloadCache()
        self.sync = AuthzSync(dp.maps, self.cache)
        self.events: list[LogEvent] = []
        self.servers: list[PodProcess] = []

    def ip(self, pod: str) -> str:
        return str(self.net.pods[pod].ip)

    def policies(self, *policies: Policy) -> None:
        """Make ``policies`` the whole policy set (as an xDS state) and sync; the server's
        Workload lists the WORKLOAD_SELECTOR ones (as istiod does)."""
        gone = [k for k in self.cache.authorizations if k not in {p.key for p in policies}]
        delta = self.cache.apply_authorizations({p.key: p for p in policies}, gone)
        selected = tuple(p.key for p in policies if p.scope == POLICY_WORKLOAD_SELECTOR)
        server = replace(self.cache.workloads[SERVER_UID], authorization_policies=selected)
        delta.merge(self.cache.apply_addresses({SERVER_UID: server}, []))
        report = self.sync(delta)
        assert not self.sync.unenforceable, (self.sync.unenforceable, report)

    def connect(self, pod: str, port: int) -> dict:
        [result] = connect(self.net.pods[pod], self.ip("server"), port, timeout=3, timed=True)
        return result

    def count(self, policy: str, verdict: AuthzVerdict, dry_run: bool = False) -> int:
        key = AuthzStatKey(self.sync.policy_id(policy) if policy else 0, verdict, dry_run)
        value = self.dp.maps.authz_stats.lookup(key)
        return value.count if value else 0

    def log_events(self, reason: Reason) -> list[LogEvent]:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            self.dp.dataplane.poll_log(100)
            found = [e for e in self.events if e.reason == reason]
            if found:
                return found
        return []


def _workloads(net) -> dict[str, Workload]:
    return {f"Kubernetes//Pod/{ns}/{name}": Workload(
        uid=f"Kubernetes//Pod/{ns}/{name}", name=name, namespace=ns, service_account=sa,
        trust_domain="cluster.local", addresses=(net.pods[name].ip,),
)
        for name, (ns, sa) in PODS.items()}


@pytest.fixture(scope="module")
def env(run_id: str) -> Iterator[Env]:
    for dp in loaded_dataplane(run_id, "az", enable_bpf_log=True):
        for net in pod_network(f"km{run_id}az", SUBNET, dp.cgroup):
            for name in PODS:
                net.add_pod(name)
            env = Env(dp, net)
            dp.dataplane.on_log(env.events.append)
            enroller = authzlink.make_enroller(dp.maps, dp.bpf_fs)
            try:
                for name in PODS:
                    enroller.enroll(str(net.pods[name].netns_path), name)
                env.servers.append(PodProcess(net.pods["server"], "serve", "server", "8080", "9090"))
                env.sync(env.cache.apply_addresses(_workloads(net), []))
                yield env
            finally:
                for server in env.servers:
                    server.stop()
                for name in PODS:
                    enroller.release_cookie(net.pods[name].netns_cookie(), name)


def _refused(result: dict) -> None:
    assert result["ok"] is False and result["error"] == "ECONNREFUSED", result
    assert result["seconds"] < 1.0, result  # a RST, not a timeout


def _ok(result: dict) -> None:
    assert result["ok"] is True and result["reply"].startswith("server:"), result


def _ns(*names: str) -> tuple[StringMatch, ...]:
    return tuple(StringMatch(exact=n) for n in names)


def _policy(name: str, action: int, *matches: Match, scope: int = POLICY_NAMESPACE,
            dry_run: bool = False) -> Policy:
    return Policy(name=name, namespace="shop", scope=scope, action=action, dry_run=dry_run,
                  rules=(Rule((Clause(matches),)),))


def test_each_pod_netns_has_its_link(env: Env) -> None:
    cookies = {env.net.pods[n].netns_cookie() for n in PODS}
    assert cookies <= set(authzlink.linked_cookies(env.dp.bpf_fs))


def test_no_policy_allows(env: Env) -> None:
    env.policies()
    _ok(env.connect("client", 8080))
    assert env.dp.maps.authz_dst.lookup(AuthzDstKey(ipaddress.ip_address(env.ip("server")))) is None


def test_deny_from_a_namespace(env: Env) -> None:
    deny = _policy("deny-foo", DENY, Match(namespaces=_ns("foo")))
    env.policies(deny)
    before = env.count(deny.key, AuthzVerdict.DENY_POLICY)
    _refused(env.connect("client", 8080))
    _refused(env.connect("client", 9090))
    _ok(env.connect("other", 8080))
    assert env.count(deny.key, AuthzVerdict.DENY_POLICY) == before + 2
    [event, *_] = env.log_events(Reason.AUTHZ_DENY)
    assert str(event.orig_addr) == env.ip("client") and str(event.new_addr) == env.ip("server")
    assert event.new_port in (8080, 9090) and event.policy == env.sync.policy_id(deny.key)


def test_allow_only_from_a_service_account(env: Env) -> None:
    only_b = _policy("only-b", ALLOW, Match(service_accounts=(ServiceAccountMatch("bar", "b"),)),
                     scope=POLICY_WORKLOAD_SELECTOR)
    env.policies(only_b)
    allowed_before = env.count(only_b.key, AuthzVerdict.ALLOW_POLICY)
    denied_before = env.count("", AuthzVerdict.DENY_NO_ALLOW)
    _ok(env.connect("other", 8080))
    _refused(env.connect("client", 8080))
    assert env.count(only_b.key, AuthzVerdict.ALLOW_POLICY) == allowed_before + 1
    assert env.count("", AuthzVerdict.DENY_NO_ALLOW) == denied_before + 1
    assert env.log_events(Reason.AUTHZ_NO_ALLOW)


def test_deny_a_port(env: Env) -> None:
    deny = _policy("deny-9090", DENY, Match(destination_ports=(9090,)))
    env.policies(deny)
    _ok(env.connect("client", 8080))
    _refused(env.connect("client", 9090))
    _refused(env.connect("other", 9090))
    assert env.count(deny.key, AuthzVerdict.DENY_POLICY) >= 2


def test_cidr_rules(env: Env) -> None:
    allow = _policy("allow-other-ip", ALLOW, Match(source_ips=(ipaddress.ip_network(f"{env.ip('other')}/32"),)))
    deny = _policy("deny-subnet-but-other", DENY, Match(source_ips=(ipaddress.ip_network(SUBNET),),
                                                          not_source_ips=(ipaddress.ip_network(f"{env.ip('other')}/32"),)),
                   )
    env.policies(allow)
    _ok(env.connect("other", 8080))
    _refused(env.connect("client", 8080))
    env.policies(deny)
    _ok(env.connect("other", 8080))
    before = env.count(deny.key, AuthzVerdict.DENY_POLICY)
    _refused(env.connect("client", 8080))
    assert env.count(deny.key, AuthzVerdict.DENY_POLICY) == before + 1


def test_dry_run_is_logged_and_counted_not_enforced(env: Env) -> None:
    dry = _policy("dry-deny-foo", DENY, Match(namespaces=_ns("foo")), dry_run=True)
    env.policies(dry)
    before = env.count(dry.key, AuthzVerdict.DENY_POLICY, dry_run=True)
    _ok(env.connect("client", 8080))
    assert env.count(dry.key, AuthzVerdict.DENY_POLICY, dry_run=True) == before + 1
    assert env.log_events(Reason.AUTHZ_DRY_RUN_DENY)


def test_a_policy_change_switches_tables_and_frees_the_old(env: Env) -> None:
    env.policies(_policy("deny-foo", DENY, Match(namespaces=_ns("foo"))))
    dst = AuthzDstKey(ipaddress.ip_address(env.ip("server")))
    first = env.dp.maps.authz_dst.lookup(dst)
    env.policies(_policy("deny-bar", DENY, Match(namespaces=_ns("bar"))))
    second = env.dp.maps.authz_dst.lookup(dst)
    assert first and second and first.table != second.table
    assert not [k for k in env.dp.maps.authz_rule.keys() if k.table == first.table]
    _ok(env.connect("client", 8080))
    _refused(env.connect("other", 8080))


def test_policy_churn_reuses_ids_and_keeps_km_authz_pol_small(env: Env) -> None:
    for n in range(40):  # one policy replaced by another, forty times over
        env.policies(_policy(f"deny-foo-{n}", DENY, Match(namespaces=_ns("foo"))))
        pinned = {v.name: k.id for k, v in env.dp.maps.authz_pol.items()}
        assert list(pinned) == [f"shop/deny-foo-{n}"], pinned
        assert env.sync.policy_names() == {i: name for name, i in pinned.items()}
    assert max(env.sync.policy_names()) <= 2  # ids are reused, not counted up
    last = "shop/deny-foo-39"
    _refused(env.connect("client", 8080))
    assert env.count(last, AuthzVerdict.DENY_POLICY) == 1  # a reused id counts from zero
    env.policies()
    assert not list(env.dp.maps.authz_pol.items()) and not env.sync.policy_names()
    assert not [k for k in env.dp.maps.authz_stats.keys() if k.policy]


def test_unenforceable_table_fails_closed_and_is_reported(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(authz, "MAX_RULES_PER_TABLE", 1)
    deny = _policy("deny-foo-big", DENY, Match(namespaces=_ns("foo")))
    delta = env.cache.apply_authorizations({deny.key: deny}, list(env.cache.authorizations))
    report = env.sync(delta)
    lines = report.problems_for([deny.key])
    assert lines and "fail closed" in lines[0], lines
    assert SERVER_UID in env.sync.unenforceable
    _refused(env.connect("other", 8080))  # nothing this policy denies, but it cannot be enforced
    assert env.count("", AuthzVerdict.DENY_UNENFORCEABLE) >= 1
    monkeypatch.undo()
    env.sync(env.cache.apply_authorizations({}, []))
    env.sync.apply()  # recompile with the real limit
    _ok(env.connect("other", 8080))
    _refused(env.connect("client", 8080))


def test_enforcement_survives_a_reload_and_a_new_agent(env: Env) -> None:
    env.policies(_policy("deny-foo", DENY, Match(namespaces=_ns("foo"))))
    env.dp.reload()  # new programs swapped into the pinned links
    _refused(env.connect("client", 8080))
    fresh = AuthzSync(env.dp.maps, env.cache)  # a restarted agent adopts ids and tables
    assert fresh.policy_id("shop/deny-foo") == env.sync.policy_id("shop/deny-foo")
    _refused(env.connect("client", 8080))
    fresh.apply()
    _refused(env.connect("client", 8080))
    _ok(env.connect("other", 8080))
    env.sync = fresh


def test_dump_maps_decodes_the_authorization_maps(env: Env) -> None:
    import json

    from typer.testing import CliRunner

    from kmeshctl.cli import app

    deny = _policy("deny-foo", DENY, Match(namespaces=_ns("foo")))
    env.policies(deny)
    _refused(env.connect("client", 8080))
    runner = CliRunner()
    result = runner.invoke(app, ["dump", "maps", "--bpf-fs", str(env.dp.bpf_fs), "-o", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    [dst] = [e for e in data["km_authz_dst"] if e["key"]["addr"] == env.ip("server")]
    rules = [e for e in data["km_authz_rule"] if e["key"]["table"] == dst["value"]["table"]]
    client_rule = next(e for e in rules if e["key"]["src"] == f"{env.ip('client')}/32")
    assert client_rule["value"]["verdict"] == "DENY_POLICY"
    assert client_rule["value"]["policyName"] == "shop/deny-foo"
    assert any(e["key"]["policyName"] == "shop/deny-foo" and e["value"]["count"] >= 1
               for e in data["km_authz_stats"])
    table = runner.invoke(app, ["dump", "maps", "--bpf-fs", str(env.dp.bpf_fs)], env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    assert re.search(r"DENY_POLICY +shop/deny-foo", table.output) and "km_authz_rule" in table.output
