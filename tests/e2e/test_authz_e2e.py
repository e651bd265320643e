"""Inbound L4 authorization on the real cluster of the e2e tier (issue 13): Istio
`security.istio.io/v1` AuthorizationPolicy objects applied with kubectl, converted by the
real istiod (PILOT_ENABLE_AMBIENT) into `istio.security.Authorization` resources, enforced
by our node agent's sk_lookup program in each enrolled pod's network namespace.

Cast: the server `authz-server` (fortio: HTTP on 8080, HTTP redirects on 8081) in
`default` with service account `authz-server`; enrolled curl clients `client-a` (sa
client-a) and `client-other` (sa other) in namespace `authz-a`, and `client-b` (sa
default) in `authz-b`. Each case applies one policy, checks what istiod made of it in the
agent's own cache, waits until it is in force, then curls the server's Service from each
client: every allowed case answers, every denied one is refused at once (curl exit 7,
ECONNREFUSED, well under a second), counted per policy in the agent's metrics and logged
in its BPF decision log. The policy is deleted before the next case (and the next case
starts only once every client is allowed again).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Iterator

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.test_cluster_e2e import AGENT_NAMESPACE, XDS_ADDRESS, agent_pod, istiod_get, kmeshctl_json, wait_for
from tests.e2e.tier import Tier

pytestmark = [pytest.mark.e2e, pytest.mark.root]

SERVER_NS, NS_A, NS_B = "default", "authz-a", "authz-b"
ROOT_NS = "istio-system"  # the tier's meshConfig.rootNamespace
HTTP, REDIRECT = 8080, 8081  # fortio server's HTTP and redirect ports (Service ports 80, 81)
ATTEMPTS = 4  # curls per client and case
REFUSED_FAST = 0.5  # seconds: a refused connect() must fail well under this
ANSWER = {80: "200", 81: "303"}  # fortio's answer per Service port (81: a redirect)
CLIENTS = {"client-a": NS_A, "client-other": NS_A, "client-b": NS_B}


def _cast(tier: Tier) -> list[dict]:
    def deployment(name: str, ns: str, sa: str, image: str, args: list[str] | None = None) -> dict:
        container = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent"}
        if args:
            container["args"] = args
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                         "template": {"metadata": {"labels": {"app": name}},
                                      "spec": {"serviceAccountName": sa, "terminationGracePeriodSeconds": 1,
                                               "containers": [container]}}}}

    def sa(name: str, ns: str) -> dict:
        return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}}

    netutils = tier.image("netutils")
    return [
        sa("authz-server", SERVER_NS), sa("client-a", NS_A), sa("other", NS_A),
        deployment("authz-server", SERVER_NS, "authz-server", tier.image("fortio"), ["server"]),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "authz-server", "namespace": SERVER_NS},
         "spec": {"selector": {"app": "authz-server"},
                  "ports": [{"name": "http", "port": 80, "targetPort": HTTP},
                            {"name": "http-redirect", "port": 81, "targetPort": REDIRECT}]}},
        deployment("client-a", NS_A, "client-a", netutils),
        deployment("client-other", NS_A, "other", netutils),
        deployment("client-b", NS_B, "default", netutils),
    ]


@dataclass
class Cast:
    server_ip: str
    vip: str
    ips: dict[str, str]  # client deployment -> pod IP


@pytest.fixture(scope="module")
def cast(tier: Tier) -> Iterator[Cast]:
    """kmeshctl installed with the BPF decision log, the three namespaces enrolled, the cast running."""
    tier.kmeshctl("uninstall", "--timeout", "120", timeout=180)  # whatever an earlier file left
    tier.kmeshctl("install", "--xds-address", XDS_ADDRESS, "--cluster-id", tier.cluster_id,
                  "--image", tier.image("kmeshctl-node"), "--enable-bpf-log", "--timeout", "300", timeout=420)
    objects = _cast(tier)
    try:
        for ns in (NS_A, NS_B):
            tier.kubectl("create", "namespace", ns, check=False)
        tier.kmeshctl("enable-ns", SERVER_NS, NS_A, NS_B)
        tier.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objects))
        for name, ns in (("authz-server", SERVER_NS), *((c, n) for c, n in CLIENTS.items())):
            tier.kubectl("wait", "-n", ns, "--for=condition=Available", f"deployment/{name}", "--timeout=180s",
                         timeout=200)
        pods = {name: _pod(tier, name, ns) for name, ns in (("authz-server", SERVER_NS), *CLIENTS.items())}
        wait_for("the cast to be enrolled", lambda: all(
            _marked(tier, p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods.values()), timeout=60)
        vip = tier.kubectl_json("get", "service", "-n", SERVER_NS, "authz-server")["spec"]["clusterIP"]
        found = Cast(pods["authz-server"]["status"]["podIP"], vip,
                     {c: pods[c]["status"]["podIP"] for c in CLIENTS})
        # The agent knows every cast member's workload (the source identities come from there).
        wait_for("the cast's workloads in the agent's cache", lambda: all(
            ip in json.dumps(_workloads(tier)) for ip in [found.server_ip, *found.ips.values()]), timeout=90, every=2)
        yield found
    finally:
        tier.kubectl("delete", "authorizationpolicies", "-A", "-l", "kmeshctl-e2e=authz", "--wait=true", check=False)
        tier.kubectl("delete", "-f", "-", "--wait=false", check=False, input=yaml.safe_dump_all(objects))
        tier.kubectl("delete", "namespace", NS_A, NS_B, "--wait=false", check=False)
        tier.kmeshctl("uninstall", "--timeout", "120", timeout=180, check=False)


def _pod(tier: Tier, app: str, ns: str) -> dict:
    running = [p for p in tier.kubectl_json("get", "pods", "-n", ns, "-l", f"app={app}")["items"]
               if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]
    assert len(running) == 1, [p["metadata"]["name"] for p in running]
    return running[0]


def _marked(tier: Tier, ns: str, name: str) -> bool:
    pod = tier.kubectl_json("get", "pod", "-n", ns, name)
    return (pod["metadata"].get("annotations") or {}).get("kmesh.net/redirection") == "enabled"


def _dump(tier: Tier) -> dict:
    return kmeshctl_json(tier, "dump", "config", "--pod", agent_pod(tier)["metadata"]["name"])


def _workloads(tier: Tier) -> list[dict]:
    return _dump(tier)["workloads"]


# ----------------------------------------------------------------- traffic and counters


@dataclass(frozen=True)
class Attempt:
    rc: int
    code: str
    seconds: float

    @property
    def refused(self) -> bool:
        return self.rc == 7  # curl: "Failed to connect" (ECONNREFUSED here)


def curl(tier: Tier, client: str, cast: Cast, port: int = 80) -> Attempt:
    """One curl from a client pod to the server's Service; curl's own time (not kubectl's)."""
    done = tier.kubectl("exec", "-n", CLIENTS[client], f"deploy/{client}", "--", "curl", "-sS", "-m", "5",
                        "-o", "/dev/null", "-w", "%{http_code} %{time_total}", f"http://{cast.vip}:{port}/",
                        check=False)
    code, seconds = (done.stdout.split() + ["", "nan"])[:2]
    return Attempt(done.returncode, code, float(seconds))


def agent_metrics(tier: Tier) -> dict[tuple[str, str], float]:
    """kmesh_authz_connections_total by (policy, verdict), not dry-run."""
    node_ip = agent_pod(tier)["status"]["podIP"]
    text = tier.exec_in_node(["curl", "-sS", "-m", "5", f"http://{node_ip}:15020/status/metric"]).stdout
    counts: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "kmesh_authz_connections_total" and s.labels.get("dry_run") == "false":
                counts[(s.labels["policy"], s.labels["verdict"])] = s.value
    return counts


def bpf_log(tier: Tier) -> str:
    return tier.kubectl("logs", "-n", AGENT_NAMESPACE, agent_pod(tier)["metadata"]["name"]).stdout


def authz_lines(log: str, src: str, cast: Cast, port: int, reason: str, policy: str) -> int:
    """Decision-log lines of the kernel's verdict for src -> the server pod's port."""
    pattern = (rf"event=bpf_authz authz {re.escape(src)} -> {re.escape(cast.server_ip)}:{port} "
               rf"\({reason}\) policy_id=\d+ policy={re.escape(policy)}$")
    return len(re.findall(pattern, log, re.MULTILINE))


# ----------------------------------------------------------------- policies


def apply_policy(tier: Tier, name: str, spec: dict, namespace: str = SERVER_NS) -> None:
    doc = {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
           "metadata": {"name": name, "namespace": namespace, "labels": {"kmeshctl-e2e": "authz"}}, "spec": spec}
    tier.kubectl("apply", "-f", "-", input=json.dumps(doc))


def delete_policy(tier: Tier, cast: Cast, name: str, namespace: str = SERVER_NS) -> None:
    tier.kubectl("delete", "authorizationpolicy", "-n", namespace, name)
    wait_for(f"{namespace}/{name} to leave the agent's cache",
             lambda: f"{namespace}/{name}" not in _policies(tier), timeout=60, every=1)
    wait_for("every client to be allowed again", lambda: all(
        curl(tier, c, cast).rc == 0 for c in CLIENTS), timeout=30, every=0.5)


def _rule_of(tier: Tier, src: str) -> tuple[str, str] | None:
    """(verdict, policy name) of the km_authz_rule entry for source address src, if any."""
    maps = kmeshctl_json(tier, "dump", "maps", "--pod", agent_pod(tier)["metadata"]["name"])
    for entry in maps["km_authz_rule"]:
        if entry["key"]["src"] == f"{src}/32":
            return entry["value"]["verdict"], entry["value"]["policyName"]
    return None


def _policies(tier: Tier) -> dict[str, dict]:
    return {f"{p['namespace']}/{p['name']}": p for p in _dump(tier)["policies"]}


def istiod_sent(tier: Tier, key: str, *, listed_on_server: bool) -> dict:
    """The Authorization istiod made of policy `key`, as the agent cached it; with
    listed_on_server, once the server's Workload names it in authorization_policies."""
    def arrived() -> dict | None:
        dump = _dump(tier)
        policy = next((p for p in dump["policies"] if f"{p['namespace']}/{p['name']}" == key), None)
        server = next((w for w in dump["workloads"] if w.get("name", "").startswith("authz-server-")), {})
        listed = key in server.get("authorizationPolicies", [])
        return policy if policy and listed == listed_on_server else None

    return wait_for(f"istiod's {key} in the agent's cache", arrived, timeout=90, every=1)


def only_match(policy: dict) -> dict:
    """The single match of a one-rule, one-clause, one-match policy."""
    [rule] = policy["rules"]
    [clause] = rule["clauses"]
    [match] = clause["matches"]
    return match


@dataclass
class Expect:
    client: str
    port: int  # Service port
    allowed: bool
    policy: str = ""  # the deciding policy ("" for none)
    verdict: str = ""  # kmesh_authz_connections_total's verdict label; "" when not counted
    reason: str = ""  # the decision log's reason; "" when not logged


def run_case(tier: Tier, cast: Cast, expects: list[Expect]) -> None:
    """Wait until the first denied expectation is refused (the policy is in force), then
    make ATTEMPTS curls per expectation and check each outcome, time, count and log line."""
    first_denied = next(e for e in expects if not e.allowed)
    wait_for(f"{first_denied.client} to be refused",
             lambda: curl(tier, first_denied.client, cast, first_denied.port).refused, timeout=60, every=0.5)
    before_metrics, before_log = agent_metrics(tier), bpf_log(tier)
    outcomes = {}
    for e in expects:
        outcomes[(e.client, e.port)] = [curl(tier, e.client, cast, e.port) for _ in range(ATTEMPTS)]
    for e in expects:
        got = outcomes[(e.client, e.port)]
        if e.allowed:
            assert all(a.rc == 0 and a.code == ANSWER[e.port] for a in got), (e, got)
        else:
            assert all(a.refused and a.code == "000" for a in got), (e, got)
            assert max(a.seconds for a in got) < REFUSED_FAST, (e, got)

    def counted() -> list | None:
        after = agent_metrics(tier)
        wrong = [(e, after.get((e.policy, e.verdict), 0) - before_metrics.get((e.policy, e.verdict), 0))
                 for e in expects if e.verdict]
        per_key: dict[tuple[str, str], int] = {}
        for e in expects:
            if e.verdict:
                per_key[(e.policy, e.verdict)] = per_key.get((e.policy, e.verdict), 0) + ATTEMPTS
        bad = [(e, d) for e, d in wrong if d != per_key[(e.policy, e.verdict)]]
        return None if bad else [True]

    wait_for("the agent's per-policy counts", counted, timeout=30, every=1)
    server_port = {80: HTTP, 81: REDIRECT}

    def logged() -> bool:
        log = bpf_log(tier)
        return all(authz_lines(log, cast.ips[e.client], cast, server_port[e.port], e.reason, e.policy or "-")
                   - authz_lines(before_log, cast.ips[e.client], cast, server_port[e.port], e.reason, e.policy or "-")
                   == ATTEMPTS for e in expects if e.reason)

    wait_for("the kernel's decisions in the BPF decision log", logged, timeout=30, every=1)


# ----------------------------------------------------------------- the cases


def test_without_a_policy_every_client_reaches_the_server(tier: Tier, cast: Cast) -> None:
    for client in CLIENTS:
        for port in (80, 81):
            got = curl(tier, client, cast, port)
            assert got.rc == 0 and got.code == ANSWER[port], (client, port, got)
    assert not [k for k in _policies(tier) if k.startswith((SERVER_NS, NS_A, NS_B, ROOT_NS))]


def test_deny_from_a_namespace(tier: Tier, cast: Cast) -> None:
    apply_policy(tier, "deny-from-b", {"selector": {"matchLabels": {"app": "authz-server"}}, "action": "DENY",
                                       "rules": [{"from": [{"source": {"namespaces": [NS_B]}}]}]})
    policy = istiod_sent(tier, "default/deny-from-b", listed_on_server=True)
    assert (policy["scope"], policy["action"]) == ("WORKLOAD_SELECTOR", "DENY")
    assert only_match(policy) == {"namespaces": [{"exact": NS_B}]}
    # In the kernel's maps: the server's address has a table; client-b's address in it is
    # refused by this policy (one root entry plus one per authz-b pod).
    wait_for("the server's table in km_authz_rule", lambda: _rule_of(tier, cast.ips["client-b"]) == (
        "DENY_POLICY", "default/deny-from-b"), timeout=30)
    run_case(tier, cast, [
        Expect("client-b", 80, False, "default/deny-from-b", "deny_policy", "authz_deny"),
        Expect("client-a", 80, True),
        Expect("client-other", 81, True),
    ])
    delete_policy(tier, cast, "deny-from-b")


def test_allow_only_from_a_service_account(tier: Tier, cast: Cast) -> None:
    # No selector: istiod scopes it to the namespace (NAMESPACE), not listed on Workloads.
    apply_policy(tier, "allow-client-a", {"action": "ALLOW", "rules": [
        {"from": [{"source": {"principals": [f"cluster.local/ns/{NS_A}/sa/client-a"]}}]}]})
    policy = istiod_sent(tier, "default/allow-client-a", listed_on_server=False)
    assert (policy["scope"], policy["action"]) == ("NAMESPACE", "ALLOW")
    assert only_match(policy) == {"principals": [{"exact": f"cluster.local/ns/{NS_A}/sa/client-a"}]}
    run_case(tier, cast, [
        Expect("client-other", 80, False, "", "deny_no_allow", "authz_no_allow"),
        Expect("client-b", 81, False, "", "deny_no_allow", "authz_no_allow"),
        Expect("client-a", 80, True, "default/allow-client-a", "allow_policy", "authz_allow"),
    ])

    # The same policy changed to the `serviceAccounts` form, naming the other account: the
    # agent switches tables, client-a is refused now.
    apply_policy(tier, "allow-client-a", {"action": "ALLOW", "rules": [
        {"from": [{"source": {"serviceAccounts": [f"{NS_A}/other"]}}]}]})
    wait_for("istiod's new version in the agent's cache", lambda: only_match(_policies(tier)["default/allow-client-a"])
             == {"serviceAccounts": [{"namespace": NS_A, "serviceAccount": "other"}]}, timeout=60)
    run_case(tier, cast, [
        Expect("client-a", 80, False, "", "deny_no_allow", "authz_no_allow"),
        Expect("client-other", 80, True, "default/allow-client-a", "allow_policy", "authz_allow"),
    ])
    delete_policy(tier, cast, "allow-client-a")


def test_deny_a_port(tier: Tier, cast: Cast) -> None:
    apply_policy(tier, "deny-redirect-port", {"selector": {"matchLabels": {"app": "authz-server"}},
                                              "action": "DENY", "rules": [{"to": [{"operation": {"ports": [str(REDIRECT)]}}]}]})
    policy = istiod_sent(tier, "default/deny-redirect-port", listed_on_server=True)
    assert only_match(policy) == {"destinationPorts": [REDIRECT]}  # the pod's port, not the Service's
    run_case(tier, cast, [
        Expect("client-a", 81, False, "default/deny-redirect-port", "deny_policy", "authz_deny"),
        Expect("client-b", 81, False, "default/deny-redirect-port", "deny_policy", "authz_deny"),
        Expect("client-a", 80, True),
        Expect("client-b", 80, True),
    ])
    delete_policy(tier, cast, "deny-redirect-port")


def test_cidr_rules(tier: Tier, cast: Cast) -> None:
    # DENY the pod network except client-a's address: a prefix and a not_ form.
    apply_policy(tier, "deny-pods-but-a", {"selector": {"matchLabels": {"app": "authz-server"}}, "action": "DENY",
                                           "rules": [{"from": [{"source": {
                                               "ipBlocks": ["10.244.0.0/24"],
                                               "notIpBlocks": [cast.ips["client-a"]]}}]}]})
    policy = istiod_sent(tier, "default/deny-pods-but-a", listed_on_server=True)
    assert only_match(policy) == {"sourceIps": ["10.244.0.0/24"], "notSourceIps": [f"{cast.ips['client-a']}/32"]}
    run_case(tier, cast, [
        Expect("client-other", 80, False, "default/deny-pods-but-a", "deny_policy", "authz_deny"),
        Expect("client-b", 81, False, "default/deny-pods-but-a", "deny_policy", "authz_deny"),
        Expect("client-a", 80, True),
    ])
    delete_policy(tier, cast, "deny-pods-but-a")


def test_remote_ip_blocks_are_not_l4_so_istiod_sends_the_deny_without_them(tier: Tier, cast: Cast) -> None:
    # remoteIpBlocks is a request attribute (X-Forwarded-For) for istiod: it sends the DENY
    # without it ("more restrictive than requested"), i.e. a match of everyone.
    apply_policy(tier, "deny-remote", {"selector": {"matchLabels": {"app": "authz-server"}}, "action": "DENY",
                                       "rules": [{"from": [{"source": {"remoteIpBlocks": ["192.0.2.0/24"]}}]}]})
    policy = istiod_sent(tier, "default/deny-remote", listed_on_server=True)
    assert only_match(policy) == {}
    run_case(tier, cast, [
        Expect(client, port, False, "default/deny-remote", "deny_policy", "authz_deny")
        for client in CLIENTS for port in (80, 81)
    ])
    delete_policy(tier, cast, "deny-remote")


def test_a_root_namespace_policy_is_global(tier: Tier, cast: Cast) -> None:
    apply_policy(tier, "deny-b-mesh-wide", {"action": "DENY", "rules": [
        {"from": [{"source": {"namespaces": [NS_B]}}], "to": [{"operation": {"ports": [str(HTTP)]}}]}]},
        namespace=ROOT_NS)
    policy = istiod_sent(tier, f"{ROOT_NS}/deny-b-mesh-wide", listed_on_server=False)
    assert policy["scope"] == "GLOBAL"
    # One AuthorizationPolicy rule = one group of AND-ed clauses: its `to`, then its `from`.
    [rule] = policy["rules"]
    assert [c["matches"] for c in rule["clauses"]] == [[{"destinationPorts": [HTTP]}], [{"namespaces": [{"exact": NS_B}]}]]
    run_case(tier, cast, [
        Expect("client-b", 80, False, f"{ROOT_NS}/deny-b-mesh-wide", "deny_policy", "authz_deny"),
        Expect("client-b", 81, True),
        Expect("client-a", 80, True),
    ])
    delete_policy(tier, cast, "deny-b-mesh-wide", namespace=ROOT_NS)


def test_nothing_was_nacked_left_unlinked_or_unenforced(tier: Tier, cast: Cast) -> None:
    # istiod's own view: every Authorization response it sent the agent was ACKed.
    proxy = f"{agent_pod(tier)['metadata']['name']}.{AGENT_NAMESPACE}"
    [sync] = [s for s in json.loads(istiod_get(tier, 8080, "/debug/syncz")) if s["proxy"] == proxy]
    sent = sync["resources"]["type.googleapis.com/istio.security.Authorization"]
    assert sent["sent"] == sent["acked"], sync
    [agent] = kmeshctl_json(tier, "status")["agents"]
    assert agent["xds"]["nacks"] == 0, agent
    node_ip = agent_pod(tier)["status"]["podIP"]
    text = tier.exec_in_node(["curl", "-sS", "-m", "5", f"http://{node_ip}:15020/status/metric"]).stdout
    values = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples if not s.labels}
    assert values["kmesh_authz_link_failures_total"] == 0  # every enrolled pod (all by CNI) got its link
    assert values["kmesh_authz_unenforceable_workloads"] == 0
    assert values["kmesh_authz_pending_workloads"] == 0
