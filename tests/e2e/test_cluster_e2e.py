"""kmeshctl against the real cluster of the e2e tier (tests/e2e/tier.py): the real
kube-apiserver, kubelet, containerd, kube-proxy, CoreDNS and istiod, our real node image.

The tests run in file order and share one cluster: install, connect to istiod, enroll
and route the fortio demo through the eBPF path, uninstall.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
from collections import Counter
from typing import Iterator

import pytest

from tests.e2e.tier import XDS_ADDRESS, Tier

pytestmark = [pytest.mark.e2e, pytest.mark.root]

AGENT_NAMESPACE = "kmesh-system"
FORTIO_KEY = "default/fortio.default.svc.cluster.local"
CURLS = 40


def kmeshctl_json(tier: Tier, *args: str, timeout: float = 300) -> dict:
    return json.loads(tier.kmeshctl(*args, "-o", "json", timeout=timeout).stdout)


def agent_pod(tier: Tier) -> dict:
    pods = tier.kubectl_json("get", "pods", "-n", AGENT_NAMESPACE, "-l", "app=kmesh")["items"]
    assert len(pods) == 1, [p["metadata"]["name"] for p in pods]
    return pods[0]


def wait_for(what: str, check, timeout: float = 120, every: float = 1.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")


@contextlib.contextmanager
def port_forward(tier: Tier, namespace: str, pod: str, port: int) -> Iterator[int]:
    """`kubectl port-forward` in the node's netns; yields the local port on 127.0.0.1."""
    proc = subprocess.Popen([*tier.nsenter(), tier.bin("kubectl"), f"--kubeconfig={tier.kubeconfig}",
                             f"--context={tier.context}", "port-forward", "-n", namespace, f"pod/{pod}",
                             f":{port}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert match, f"port-forward to {namespace}/{pod}:{port}: {line}{proc.stdout.read() if proc.poll() else ''}"
        yield int(match.group(1))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def istiod_get(tier: Tier, port: int, path: str) -> str:
    """GET from istiod's pod. Debug endpoints (port 8080) answer unauthenticated only to
    localhost, which a port-forward is, as for `istioctl`; metrics are on 15014."""
    pod = tier.kubectl_json("get", "pods", "-n", "istio-system", "-l", "app=istiod")["items"][0]
    with port_forward(tier, "istio-system", pod["metadata"]["name"], port) as local:
        return tier.exec_in_node(["curl", "-sS", "-m", "10", f"http://127.0.0.1:{local}{path}"]).stdout


PINNED_PROG_IDS = """
import json, os
from kmeshctl import bpfsys
from kmeshctl.node.loader import PROGRAMS
from kmeshctl.maps import DEFAULT_BPF_FS
ids = {}
for spec in PROGRAMS:
    path = DEFAULT_BPF_FS / spec.name
    if path.exists():
        fd = bpfsys.obj_get(path)
        ids[spec.name] = bpfsys.prog_info(fd).id
        os.close(fd)
print(json.dumps(ids))
"""


def pinned_prog_ids(tier: Tier) -> dict[str, int]:
    """The ids of the agent's programs pinned in the node's bpffs (the node's own view)."""
    done = tier.exec_in_node([sys.executable, "-c", PINNED_PROG_IDS], env={"PYTHONPATH": str(tier.repo)})
    return json.loads(done.stdout)


def attached_at_cgroup_root() -> set[int]:
    """Program ids attached to this host's cgroup v2 root (where the agent attaches)."""
    import os

    from kmeshctl import bpfsys, nodecheck
    from kmeshctl.node.loader import PROGRAMS

    fd = os.open(nodecheck.cgroup2_root(), os.O_RDONLY)
    try:
        return {i for spec in PROGRAMS if spec.on_cgroup for i in bpfsys.prog_query(fd, spec.attach_type)}
    finally:
        os.close(fd)


def curl_remote_ip(tier: Tier, vip: str) -> str:
    """The address netutils' curl connected to: a pod's when the connect() hook rewrote the
    ClusterIP, the ClusterIP itself when kube-proxy's DNAT did the balancing."""
    return tier.kubectl("exec", "deploy/netutils", "--", "curl", "-sS", "-m", "5", "-o", "/dev/null",
                        "-w", "%{remote_ip}", f"http://{vip}:80/").stdout


def marked_pods(tier: Tier) -> set[str]:
    return {p["metadata"]["name"] for p in tier.kubectl_json("get", "pods", "-n", "default")["items"]
            if (p["metadata"].get("annotations") or {}).get("kmesh.net/redirection") == "enabled"}


def _daemonset_version(tier: Tier) -> str:
    """The kmesh DaemonSet's resourceVersion, or '' when there is none."""
    got = tier.kubectl("get", "daemonset", "-n", AGENT_NAMESPACE, "kmesh", "-o",
                       "jsonpath={.metadata.resourceVersion}", check=False)
    return got.stdout.strip() if got.returncode == 0 else ""


def test_install_with_a_cluster_id_istiod_does_not_know_says_why(tier: Tier) -> None:
    before = _daemonset_version(tier)
    bad = tier.kmeshctl("install", "--xds-address", XDS_ADDRESS, "--cluster-id", "not-this-cluster",
                        "--image", tier.image("kmeshctl-node"), "--timeout", "45", check=False, timeout=120)
    # the real istiod's Deployment names its CLUSTER_ID: a different one is refused before
    # anything is written (istiod would refuse the agents' token), the fix carrying istiod's own
    assert bad.returncode == 2 and not bad.stdout, bad.stdout + bad.stderr
    assert "--cluster-id not-this-cluster: not istiod's cluster id, which is " + tier.cluster_id in bad.stderr, \
        bad.stderr
    assert f"--cluster-id {tier.cluster_id}" in bad.stderr.split("`")[1], bad.stderr
    assert _daemonset_version(tier) == before  # nothing was written


def test_precheck_and_install_roll_out_the_real_node_image(tier: Tier) -> None:
    checks = kmeshctl_json(tier, "precheck")
    failed = [c for c in checks["checks"] if c["status"] == "fail"]
    assert not failed, failed

    result = tier.kmeshctl("install", "--xds-address", XDS_ADDRESS, "--cluster-id", tier.cluster_id,
                           "--image", tier.image("kmeshctl-node"), "--enable-bpf-log", "--timeout", "300",
                           timeout=420)
    assert "DaemonSet kmesh-system/kmesh is ready" in result.stdout + result.stderr, result.stderr

    # The real API server's server-side apply: the same install again changes nothing.
    again = tier.kmeshctl("install", "--xds-address", XDS_ADDRESS, "--cluster-id", tier.cluster_id,
                          "--image", tier.image("kmeshctl-node"), "--enable-bpf-log", "--no-wait")
    assert again.stdout.count(" unchanged") == 10 and "Nothing to do" in again.stdout, again.stdout

    # Applied with server-side apply by kmeshctl: the field manager is on the object.
    ds = tier.kubectl_json("get", "daemonset", "-n", AGENT_NAMESPACE, "kmesh", "--show-managed-fields")
    assert any(m["manager"] == "kmeshctl" and m["operation"] == "Apply"
               for m in ds["metadata"]["managedFields"])
    pod = agent_pod(tier)
    assert pod["status"]["phase"] == "Running"
    assert all(c["ready"] for c in pod["status"]["containerStatuses"])
    # The image the kubelet runs is the node image we built and imported (same image id).
    assert pod["spec"]["containers"][0]["image"] == tier.image("kmeshctl-node")
    built = json.loads(tier.crictl("inspecti", "-o", "json", tier.image("kmeshctl-node")).stdout)
    assert pod["status"]["containerStatuses"][0]["imageID"].endswith(built["status"]["id"].split(":")[-1])


def test_agent_is_connected_to_the_real_istiod(tier: Tier) -> None:
    pod = agent_pod(tier)
    name = pod["metadata"]["name"]
    # istiod's own view: a ztunnel-type connection from the agent pod (TLS, its projected
    # token passed istiod's TokenReview), watching the workload API, and no NACK.
    proxy = f"{name}.{AGENT_NAMESPACE}"  # istiod's proxy id: <pod>.<namespace> of the node id
    addresses, authorizations = ("type.googleapis.com/istio.workload.Address",
                                 "type.googleapis.com/istio.security.Authorization")

    def synced() -> dict | None:
        status = [s for s in json.loads(istiod_get(tier, 8080, "/debug/syncz")) if s["proxy"] == proxy]
        if not status or addresses not in status[0]["resources"]:
            return None
        return status[0]

    sync = wait_for("istiod to report the agent's workload xDS", synced)
    assert (sync["proxy_type"], sync["cluster_id"]) == ("ztunnel", tier.cluster_id)
    for type_url in (addresses, authorizations):  # the last response sent was ACKed
        assert sync["resources"][type_url]["sent"] == sync["resources"][type_url]["acked"], sync
    [client] = json.loads(istiod_get(tier, 8080, f"/debug/adsz?proxyID={proxy}"))["clients"]
    assert client["metadata"]["NAMESPACE"] == AGENT_NAMESPACE and client["metadata"]["SERVICE_ACCOUNT"] == "kmesh"
    assert set(client["watches"]) == {addresses, authorizations}
    metrics = istiod_get(tier, 15014, "/metrics")
    rejects = [line for line in metrics.splitlines()
               if line.startswith("pilot_total_xds_rejects") and not line.endswith(" 0")]
    assert not rejects, rejects
    assert any(line.startswith('pilot_xds_pushes{type="wds"}') for line in metrics.splitlines())

    status = kmeshctl_json(tier, "status")
    assert status["healthy"], status
    agents = {a["pod"]: a for a in status["agents"]}
    assert agents[name]["xds"]["connected"] is True, agents
    assert agents[name]["xds"]["address"] == XDS_ADDRESS
    assert agents[name]["xds"]["nacks"] == 0


def test_enrolled_fortio_demo_is_in_the_maps_as_istiod_sent_it(tier: Tier) -> None:
    # enable-ns labels the namespace (the example's Namespace object carries the label too).
    tier.kmeshctl("enable-ns", "default")
    labels = tier.kubectl_json("get", "namespace", "default")["metadata"]["labels"]
    assert labels["istio.io/dataplane-mode"] == "Kmesh"
    tier.kubectl("apply", "-f", str(tier.repo / "examples" / "fortio"))
    tier.kubectl("wait", "--for=condition=Available", "deployment/fortio-v1", "deployment/fortio-v2",
                 "deployment/netutils", "--timeout=180s", timeout=200)
    pods = {p["metadata"]["name"] for p in tier.kubectl_json("get", "pods", "-n", "default")["items"]}
    assert len(pods) == 3
    wait_for("every pod of default to be annotated kmesh.net/redirection: enabled",
             lambda: marked_pods(tier) == pods, timeout=60)
    fortio_ips = {p["status"]["podIP"] for p in tier.kubectl_json("get", "pods", "-l", "app=fortio")["items"]}
    assert len(fortio_ips) == 2

    def fortio_endpoints() -> set[str] | None:
        maps = kmeshctl_json(tier, "dump", "maps", "--pod", agent_pod(tier)["metadata"]["name"])
        addr_of = {e["key"]["backendName"]: e["value"]["addr4"] for e in maps["km_backend"]}
        ends = [e for e in maps["km_endpoint"] if e["key"]["serviceName"] == FORTIO_KEY]
        ips = {addr_of.get(e["value"]["backendName"]) for e in ends}
        return ips if len(ends) == 2 and ips == fortio_ips else None

    wait_for("the fortio Service's two endpoints in the maps", fortio_endpoints, timeout=60, every=2)
    # The agent's own cache (dump config --pod, a port-forward to its admin port) agrees.
    cache = kmeshctl_json(tier, "dump", "config", "--pod", agent_pod(tier)["metadata"]["name"])
    assert FORTIO_KEY in json.dumps(cache) and all(ip in json.dumps(cache) for ip in fortio_ips)
    svc = tier.kubectl_json("get", "service", "fortio")
    maps = kmeshctl_json(tier, "dump", "maps", "--pod", agent_pod(tier)["metadata"]["name"], "--map", "km_frontend")
    assert any(e["value"].get("upstreamName") == FORTIO_KEY and str(e["key"]["addr"]) == svc["spec"]["clusterIP"]
               for e in maps["km_frontend"]), maps


def test_curl_to_the_fortio_clusterip_goes_through_the_ebpf_path(tier: Tier) -> None:
    vip = tier.kubectl_json("get", "service", "fortio")["spec"]["clusterIP"]
    pods = {p["status"]["podIP"]: p["metadata"]["labels"]["version"]
            for p in tier.kubectl_json("get", "pods", "-l", "app=fortio")["items"]}
    servers = Counter()
    for _ in range(CURLS):
        out = tier.kubectl("exec", "deploy/netutils", "--", "curl", "-sS", "-m", "5", "-o", "/dev/null",
                           "-D", "-", f"http://{vip}:80/").stdout
        match = re.search(r"^Server: (\S+)", out, re.MULTILINE | re.IGNORECASE)
        servers[match.group(1) if match else "?"] += 1
    assert set(servers) == {"1", "2"}, servers

    # The kernel's own account (the agent's BPF decision log): one connect decision per
    # curl, the VIP rewritten to a pod in the connect() hook, so kube-proxy's DNAT never
    # saw these connections; the versions it chose are the versions that answered.
    log = tier.kubectl("logs", "-n", AGENT_NAMESPACE, agent_pod(tier)["metadata"]["name"]).stdout
    decisions = re.findall(rf"event=bpf_connect netns=\d+ {re.escape(vip)}:80 -> (\S+):8080 \(endpoint\)", log)
    assert len(decisions) == CURLS, log[-3000:]
    assert Counter(pods[ip][1:] for ip in decisions) == servers
    assert curl_remote_ip(tier, vip) in pods  # connect() itself went to a pod, not the ClusterIP


def live_installed_objects(tier: Tier) -> dict[str, tuple[str, str | None]]:
    """Each object install created, as kubectl reads it now: ref -> (uid, deletionTimestamp);
    one that is gone is missing. The agent pod too: a real delete of its DaemonSet takes it."""
    from kmeshctl.kube import object_ref
    from kmeshctl.uninstall import installed_objects

    found = {}
    for obj in installed_objects(AGENT_NAMESPACE, "istio-system"):
        group = obj["apiVersion"].rpartition("/")[0]
        meta = obj["metadata"]
        where = ["-n", meta["namespace"]] if meta.get("namespace") else []
        got = tier.kubectl("get", obj["kind"].lower() + (f".{group}" if group else ""), meta["name"], *where,
                           "-o", "json", check=False)
        if got.returncode == 0:
            live = json.loads(got.stdout)["metadata"]
            found[object_ref(obj)] = (live["uid"], live.get("deletionTimestamp"))
    pod = agent_pod(tier)["metadata"]
    found[f"Pod {AGENT_NAMESPACE}/{pod['name']}"] = (pod["uid"], pod.get("deletionTimestamp"))
    return found


def test_uninstall_dry_run_and_a_wrong_namespace_delete_nothing(tier: Tier) -> None:
    """The real kube-apiserver takes a DELETE's options from its body and ignores the query:
    every dry-run delete must carry dryRun there. And -n naming no install is refused before
    the shared cluster-scoped objects of the real one go."""
    before = live_installed_objects(tier)
    assert len(before) == 11 and not any(gone for _, gone in before.values()), before

    listed = tier.kmeshctl("uninstall", "--dry-run")
    assert "Dry run: 10 objects would be deleted; nothing deleted." in listed.stdout, listed.stdout
    document = kmeshctl_json(tier, "uninstall", "--dry-run")
    assert document["dryRun"] and document["checked"] and len(document["deleted"]) == 10, document
    assert not document["absent"] and not document["errors"], document
    for extra in ((), ("--dry-run", "-o", "json")):
        wrong = tier.kmeshctl("uninstall", "-n", "h59-none", *extra, check=False)
        assert wrong.returncode == 2 and not wrong.stdout, wrong.stdout + wrong.stderr
        assert wrong.stderr.startswith("Error: kmesh is installed in namespace kmesh-system, not h59-none; "
                                       "pass -n kmesh-system: `kmeshctl "), wrong.stderr
        assert len(wrong.stderr.strip().splitlines()) == 1, wrong.stderr

    # Every object is still there, the same one (uid), none being deleted; the agent too.
    assert live_installed_objects(tier) == before
    assert kmeshctl_json(tier, "status")["healthy"]


def test_uninstall_removes_every_object_and_the_data_path(tier: Tier) -> None:
    ours = pinned_prog_ids(tier)
    assert set(ours) == {"km_connect4", "km_connect6", "km_sockops", "km_sk_msg", "km_authz"}, ours
    assert {ours[n] for n in ("km_connect4", "km_connect6", "km_sockops")} <= attached_at_cgroup_root()
    assert marked_pods(tier)

    result = tier.kmeshctl("uninstall", "--timeout", "120", timeout=180)
    assert re.search(r"node \S+: agent pod kmesh-system/\S+ stopped \(data path removed\)", result.stdout), result.stdout
    assert tier.kubectl("get", "namespace", AGENT_NAMESPACE, check=False).returncode != 0
    assert not tier.kubectl_json("get", "clusterrole,clusterrolebinding,validatingadmissionpolicy,"
                                 "validatingadmissionpolicybinding", "-l",
                                 "app.kubernetes.io/managed-by=kmeshctl")["items"]
    assert not tier.kubectl_json("get", "envoyfilters", "-A")["items"]
    # The node's data path is gone: nothing pinned, none of its programs attached, no pod marked.
    assert tier.exec_in_node(["ls", "/sys/fs/bpf"]).stdout.split() in (["maps.debug", "progs.debug"], [])
    assert not set(ours.values()) & attached_at_cgroup_root()
    assert not marked_pods(tier)
    # The formerly enrolled pod now reaches the VIP as without kmeshctl: kube-proxy balances it.
    vip = tier.kubectl_json("get", "service", "fortio")["spec"]["clusterIP"]
    assert curl_remote_ip(tier, vip) == vip
