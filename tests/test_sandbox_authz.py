"""AuthorizationPolicy objects in the sandbox (issue 13), on the real kernel: the sandbox
control plane turns them into istio.security.Authorization resources as istiod does
(kmeshctl.sandbox.authz), the real node agent compiles them into its maps, and curl from
enrolled client pods (real TCP through the eBPF connect path to the server's Service) is
answered or refused at once (ECONNREFUSED, curl exit 7), counted per policy in the agent's
metrics. The conversion itself is checked against what the real istiod sent on the e2e
tier (tests/e2e/test_authz_e2e.py) for the same objects.
"""

from __future__ import annotations

import urllib.request

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from kmeshctl.errors import UsageError
from kmeshctl.sandbox import authz as sandbox_authz
from kmeshctl.sandbox import manifests as manifests_mod
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox.containers import fortio_binary
from kmeshctl.sandbox.state import SandboxState
from kmeshctl.xds.builders import authorization
from kmeshctl.xds.convert import policy_json, policy_of

pytestmark = pytest.mark.root

NS_A, NS_B = "authz-a", "authz-b"
CLIENTS = {"client-a": NS_A, "client-other": NS_A, "client-b": NS_B}
ANSWER = {80: "200", 81: "303"}  # fortio's HTTP port and its redirect port
ATTEMPTS = 3


def _namespace(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"istio.io/dataplane-mode": "Kmesh"}}}


def _deployment(name: str, ns: str, sa: str, image: str, args: list[str] | None = None) -> dict:
    container = {"name": name, "image": image, **({"args": args} if args else {})}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"serviceAccountName": sa, "containers": [container]}}}}


def _policy(name: str, spec: dict, namespace: str = "default") -> dict:
    return {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


SERVER = {"selector": {"matchLabels": {"app": "server"}}}
DENY_FROM_B = _policy("deny-from-b", {**SERVER, "action": "DENY",
                                      "rules": [{"from": [{"source": {"namespaces": [NS_B]}}]}]})


def _cast() -> list[dict]:
    return [
        _namespace("default"), _namespace(NS_A), _namespace(NS_B),
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "client-a", "namespace": NS_A}},
        _deployment("server", "default", "server", "fortio/fortio:1.68.2", ["server"]),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "server", "namespace": "default"},
         "spec": {"selector": {"app": "server"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080},
                                                          {"name": "redirect", "port": 81, "targetPort": 8081}]}},
        _deployment("client-a", NS_A, "client-a", "hwchiu/netutils:latest"),
        _deployment("client-other", NS_A, "other", "hwchiu/netutils:latest"),
        _deployment("client-b", NS_B, "default", "hwchiu/netutils:latest"),
        DENY_FROM_B,
    ]


@pytest.fixture(scope="module")
def sandbox(run_id: str, tmp_path_factory):
    if fortio_binary() is None:
        pytest.skip("the port case needs the real fortio (its redirect port 8081): run scripts/setup.sh")
    path = tmp_path_factory.mktemp("authz") / "cast.yaml"
    path.write_text(yaml.safe_dump_all(_cast()))
    name = f"z{run_id}"
    sb.up(name, [path])
    try:
        yield name
    finally:
        sb.down(name)


def _curl(name: str, client: str, port: int = 80) -> tuple[int, str, float]:
    state = SandboxState.load(name)
    vip = state.vips["default/server"]
    done = sb.find_pod(state, client).run(["curl", "-sS", "-m", "5", "-o", "/dev/null", "-w",
                                           "%{http_code} %{time_total}", f"http://{vip}:{port}/"], check=False)
    code, seconds = (done.stdout.split() + ["", "nan"])[:2]
    return done.returncode, code, float(seconds)


def _counts(name: str) -> dict[tuple[str, str], float]:
    state = SandboxState.load(name)
    with urllib.request.urlopen(f"http://{state.agent['metrics']}/status/metric", timeout=5) as r:
        text = r.read().decode()
    return {(s.labels["policy"], s.labels["verdict"]): s.value for f in text_string_to_metric_families(text)
            for s in f.samples if s.name == "kmesh_authz_connections_total"}


def _check(name: str, allowed: list[tuple[str, int]], refused: list[tuple[str, int, str, str]]) -> None:
    """Each allowed (client, port) answers; each refused (client, port, policy, verdict) is
    refused at once every time, and the agent counts exactly those refusals per policy."""
    before = _counts(name)
    for client, port in allowed:
        for _ in range(ATTEMPTS):
            rc, code, _s = _curl(name, client, port)
            assert (rc, code) == (0, ANSWER[port]), (client, port, rc, code)
    expected: dict[tuple[str, str], int] = {}
    for client, port, policy, verdict in refused:
        for _ in range(ATTEMPTS):
            rc, code, seconds = _curl(name, client, port)
            assert (rc, code) == (7, "000") and seconds < 0.5, (client, port, rc, code, seconds)
        expected[(policy, verdict)] = expected.get((policy, verdict), 0) + ATTEMPTS
    after = _counts(name)
    for key, count in expected.items():
        assert after.get(key, 0) - before.get(key, 0) == count, (key, before, after)


def test_deny_from_a_namespace_given_at_up(sandbox: str) -> None:
    _check(sandbox, allowed=[("client-a", 80), ("client-other", 81)],
           refused=[("client-b", 80, "default/deny-from-b", "deny_policy")])


def test_allow_only_from_a_service_account(sandbox: str) -> None:
    sandbox_authz.set_policies(sandbox, [_policy("allow-client-a", {"rules": [
        {"from": [{"source": {"principals": [f"cluster.local/ns/{NS_A}/sa/client-a"]}}]}]})])
    _check(sandbox, allowed=[("client-a", 80), ("client-a", 81)],
           refused=[("client-other", 80, "", "deny_no_allow"), ("client-b", 81, "", "deny_no_allow")])
    # The serviceAccounts form; "other" alone would mean default/other (the policy's namespace).
    sandbox_authz.set_policies(sandbox, [_policy("allow-other", {"rules": [
        {"from": [{"source": {"serviceAccounts": [f"{NS_A}/other"]}}]}]})])
    _check(sandbox, allowed=[("client-other", 80)], refused=[("client-a", 80, "", "deny_no_allow")])


def test_deny_a_port_and_cidr_rules(sandbox: str) -> None:
    state = SandboxState.load(sandbox)
    a_ip = state.pod("client-a-0").ip
    sandbox_authz.set_policies(sandbox, [
        _policy("deny-redirect", {**SERVER, "action": "DENY", "rules": [{"to": [{"operation": {"ports": ["8081"]}}]}]}),
        _policy("deny-pods-but-a", {**SERVER, "action": "DENY", "rules": [{"from": [{"source": {
            "ipBlocks": ["10.244.0.0/16"], "notIpBlocks": [a_ip]}}]}]}),
    ])
    _check(sandbox, allowed=[("client-a", 80)],
           refused=[("client-a", 81, "default/deny-redirect", "deny_policy"),
                    ("client-other", 80, "default/deny-pods-but-a", "deny_policy"),
                    ("client-b", 80, "default/deny-pods-but-a", "deny_policy")])


def test_a_root_namespace_policy_is_global_and_no_policy_allows_all(sandbox: str) -> None:
    sandbox_authz.set_policies(sandbox, [_policy("deny-b", {"action": "DENY", "rules": [
        {"from": [{"source": {"namespaces": [NS_B]}}]}]}, namespace="istio-system")])
    _check(sandbox, allowed=[("client-a", 80)], refused=[("client-b", 80, "istio-system/deny-b", "deny_policy")])
    sandbox_authz.set_policies(sandbox, [])
    _check(sandbox, allowed=[(c, p) for c in CLIENTS for p in (80, 81)], refused=[])


# ----------------------------------------------------------------- the conversion, no kernel


def _converted(doc: dict) -> dict:
    manifests = manifests_mod.from_documents([doc])
    [policy] = manifests.authorization_policies
    return policy_json(policy_of(authorization(sandbox_authz.to_model(policy))))


def _only_match(policy: dict) -> dict:
    [rule] = policy["rules"]
    [clause] = rule["clauses"]
    [match] = clause["matches"]
    return match


@pytest.mark.parametrize("spec, scope, match", [
    # What the real istiod sent the agent for the e2e tier's objects (test_authz_e2e.py).
    ({**SERVER, "action": "DENY", "rules": [{"from": [{"source": {"namespaces": [NS_B]}}]}]},
     "WORKLOAD_SELECTOR", {"namespaces": [{"exact": NS_B}]}),
    ({"rules": [{"from": [{"source": {"principals": [f"cluster.local/ns/{NS_A}/sa/client-a"]}}]}]},
     "NAMESPACE", {"principals": [{"exact": f"cluster.local/ns/{NS_A}/sa/client-a"}]}),
    ({"rules": [{"from": [{"source": {"serviceAccounts": [f"{NS_A}/other"]}}]}]},
     "NAMESPACE", {"service_accounts": [{"namespace": NS_A, "serviceAccount": "other"}]}),
    ({**SERVER, "action": "DENY", "rules": [{"to": [{"operation": {"ports": ["8081"]}}]}]},
     "WORKLOAD_SELECTOR", {"destination_ports": [8081]}),
    ({**SERVER, "action": "DENY", "rules": [{"from": [{"source": {"ipBlocks": ["10.244.0.0/24"],
                                                                  "notIpBlocks": ["10.244.0.6"]}}]}]},
     "WORKLOAD_SELECTOR", {"source_ips": ["10.244.0.0/24"], "not_source_ips": ["10.244.0.6/32"]}),
    ({**SERVER, "action": "DENY", "rules": [{"from": [{"source": {"remoteIpBlocks": ["192.0.2.0/24"]}}]}]},
     "WORKLOAD_SELECTOR", {}),
])
def test_conversion_matches_what_istiod_sent(spec: dict, scope: str, match: dict) -> None:
    converted = _converted(_policy("p", spec))
    assert converted["scope"] == scope
    assert _only_match(converted) == match


def test_root_namespace_rule_order_and_wildcards() -> None:
    converted = _converted(_policy("p", {"action": "DENY", "rules": [{
        "from": [{"source": {"namespaces": ["authz-*", "*-b", "*"]}}], "to": [{"operation": {"ports": ["8080"]}}],
        "when": [{"key": "source.ip", "notValues": ["10.0.0.1"]}]}]}, namespace="istio-system"))
    assert converted["scope"] == "GLOBAL"
    [rule] = converted["rules"]
    assert [c["matches"] for c in rule["clauses"]] == [
        [{"destination_ports": [8080]}],
        [{"namespaces": [{"prefix": "authz-"}, {"suffix": "-b"}, {"presence": {}}]}],
        [{"not_source_ips": ["10.0.0.1/32"]}]]


def test_http_attributes_drop_an_allow_rule_and_are_dropped_from_a_deny() -> None:
    http_rule = {"to": [{"operation": {"methods": ["GET"], "ports": ["80"]}}]}
    allow = _converted(_policy("p", {"rules": [http_rule, {"from": [{"source": {"namespaces": ["a"]}}]}]}))
    assert len(allow["rules"]) == 1 and _only_match(allow) == {"namespaces": [{"exact": "a"}]}
    deny = _converted(_policy("p", {"action": "DENY", "rules": [http_rule]}))
    assert _only_match(deny) == {"destination_ports": [80]}


def test_workloads_list_the_selector_policies_that_select_them() -> None:
    manifests = manifests_mod.from_documents([
        _policy("mine", SERVER), _policy("other-ns", SERVER, namespace="elsewhere"),
        _policy("root", SERVER, namespace="istio-system"), _policy("ns-wide", {}),
        _policy("not-me", {"selector": {"matchLabels": {"app": "client"}}})])
    assert sandbox_authz.selected(manifests.authorization_policies, "default", {"app": "server"}) == [
        "default/mine", "istio-system/root"]


@pytest.mark.parametrize("spec, annotations, message", [
    ({"action": "CUSTOM", "provider": {"name": "x"}}, {}, "action CUSTOM is not enforced by node proxies"),
    ({"targetRefs": [{"kind": "Gateway", "group": "gateway.networking.k8s.io", "name": "w"}]}, {}, "targetRef"),
    ({}, {"istio.io/dry-run": "true"}, "AMBIENT_ENABLE_DRY_RUN_AUTHORIZATION_POLICY"),
    ({"rules": [{"from": [{"source": {"trustDomains": ["td"]}}]}]}, {}, "trustDomains is not converted"),
    ({"rules": [{"from": [{"source": {"ipBlocks": ["10.0.0.300"]}}]}]}, {}, "ipBlocks"),
    ({"rules": [{"to": [{"operation": {"ports": ["http"]}}]}]}, {}, "'http' is not a port number"),
    ({"rules": [{"from": [{"source": {"serviceAccounts": ["a"], "namespaces": ["b"]}}]}]}, {},
     "serviceAccounts cannot be set with namespaces"),
    ({"selector": {}}, {}, "spec.selector has no matchLabels"),
])
def test_what_istiod_would_not_send_a_node_proxy_is_refused_loudly(spec, annotations, message) -> None:
    doc = _policy("p", spec)
    doc["metadata"]["annotations"] = annotations
    with pytest.raises(UsageError, match=message):
        manifests_mod.from_documents([doc])
