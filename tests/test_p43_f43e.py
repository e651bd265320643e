"""Pass 43 (f43e), issue 14 kind "a suggested line works when pasted", on the findings of
t43a: the cluster demo's waypoint fix uses the waypoint meant before making a new one;
`waypoint delete` never offers a delete of another object, and lists what was not found;
`waypoint apply` says an untyped change only once applied, and never offers to keep a
revision no istiod serves; `version` shows the agents of the namespace kmesh is installed
in; the demo's lines on a sandbox carry the -c it needs."""

from __future__ import annotations

import json
import shlex
import re
from pathlib import Path

import pytest

from kmeshctl import kube
from kmeshctl.demo_cluster import ClusterTarget
from kmeshctl.errors import KmeshctlError
from kmeshctl.kube import connect
from kmeshctl.render import COMMON_LABELS
from kmeshctl.waypoint import deploy
from demo_mesh_seed import EXAMPLES, fortio_docs, standin_mesh, waypoint_gateway
from standin import StandinApiServer, namespace
from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd

USE = "istio.io/use-waypoint"
BACKTICKED = re.compile(r"`([^`]+)`")


@pytest.fixture()
def server():
    with standin_mesh(waypoint=None) as api:
        yield api


def _target(api: StandinApiServer, tmp_path: Path) -> ClusterTarget:
    client = connect(kube.KubeTarget(str(api.write_kubeconfig(tmp_path / "kubeconfig"))))
    return ClusterTarget(client, fortio_docs(), ("default", "fortio"), settle_s=0, ready_timeout_s=10)


def _managed_gateway(name: str, ns: str = "default") -> dict:
    """A Gateway `waypoint apply` made (its labels), programmed, with no pod ready (scaled to 0)."""
    gateway = waypoint_gateway(name=name, ns=ns)
    gateway["metadata"]["labels"] = {**COMMON_LABELS, deploy.WAYPOINT_LABEL: name}
    return gateway


def _demo_service_labelled(api: StandinApiServer, waypoint: str) -> None:
    service = next(d for d in fortio_docs() if d["kind"] == "Service" and d["metadata"]["name"] == "fortio")
    service["metadata"].setdefault("labels", {})[USE] = waypoint
    api.put(service, manager="kmeshctl")  # an earlier `demo --waypoint east`'s: not held by another manager


# ---------------------------------------------------------------- 5 (a)


def test_the_services_own_scaled_down_waypoint_is_scaled_up_before_a_new_one(server, tmp_path) -> None:
    _demo_service_labelled(server, "east")
    server.put(_managed_gateway("east"))
    with pytest.raises(KmeshctlError) as refused:
        _target(server, tmp_path).prepare(lambda _: None)
    fix = refused.value.fix
    lines = BACKTICKED.findall(fix)
    assert fix.startswith("the Service's own waypoint default/east exists but is not ready"), fix
    assert lines[0].startswith("kmeshctl waypoint apply -n default --name east") and lines[0].endswith(" --wait"), fix
    assert "--waypoint east" in lines[1] and lines[1].startswith("kmeshctl demo traffic-shift"), fix
    assert fix.index("--name east") < fix.index("--name waypoint"), fix  # making a second one comes last


# ---------------------------------------------------------------- 5 (b)


def test_a_mistyped_waypoint_gets_a_did_you_mean_before_making_it(server, tmp_path) -> None:
    server.put(waypoint_gateway(name="waypoint"))  # ready (istiod's programmed, no pods of its own)
    target = _target(server, tmp_path)
    target.waypoint = "waypoin"
    with pytest.raises(KmeshctlError) as refused:
        target.prepare(lambda _: None)
    fix = refused.value.fix
    assert fix.startswith("did you mean waypoint waypoint (waypoints in default: waypoint)?"), fix
    first = shlex.split(BACKTICKED.findall(fix)[0])
    assert first[first.index("--waypoint") + 1] == "waypoint", fix
    assert "kmeshctl waypoint apply -n default --name waypoin --wait" in fix, fix  # still offered, after


def test_no_other_waypoint_keeps_the_plain_fix(server, tmp_path) -> None:
    target = _target(server, tmp_path)
    target.waypoint = "east"
    with pytest.raises(KmeshctlError) as refused:
        target.prepare(lambda _: None)
    assert refused.value.fix == "run `kmeshctl waypoint apply -n default --name east --wait`", refused.value.fix


# ---------------------------------------------------------------- 6, 13 (second bullet)


def _kmeshctl_waypoint(cluster, ns: str, name: str = "waypoint") -> None:  # noqa: F811
    cluster.server.put(namespace(ns))
    cluster.server.put({"apiVersion": deploy.GATEWAY_API, "kind": "Gateway", "metadata": {
        "name": name, "namespace": ns, "labels": {**COMMON_LABELS, deploy.WAYPOINT_LABEL: name}},
        "spec": {"gatewayClassName": deploy.GATEWAY_CLASS, "listeners": []}})


def test_delete_of_a_gone_waypoint_offers_no_delete_of_another(cluster) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("team-c"))
    _kmeshctl_waypoint(cluster, "default")
    result = cluster.kmeshctl("waypoint", "delete", "-n", "team-c", "-o", "json")
    said = " ".join(result.err.split())
    assert result.code == 1 and "waypoint team-c/waypoint not found" in said, result
    assert "is in namespace default" in said, said  # said in words
    lines = [shlex.split(line) for line in BACKTICKED.findall(said)]
    assert len(lines) == 1 and "--ignore-not-found" in lines[0], said
    assert lines[0][lines[0].index("-n") + 1] == "team-c", said
    assert json.loads(result.out)["absent"], result.out


def test_ignore_not_found_lists_what_was_absent(cluster) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("team-c"))
    result = cluster.kmeshctl("waypoint", "delete", "-n", "team-c", "--ignore-not-found", "-o", "json")
    assert result.code == 0, result
    absent = json.loads(result.out)["absent"]
    assert "Gateway team-c/waypoint" in absent and "Deployment team-c/waypoint" in absent, absent
    assert not any(ref.startswith("ClusterRole ") for ref in absent), absent  # shared: not this waypoint's


# ---------------------------------------------------------------- 9


def _applied(cluster, *flags: str):  # noqa: F811
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp", *flags)
    assert result.code == 0, result


def test_a_revision_no_istiod_serves_is_not_offered_to_keep(cluster) -> None:  # noqa: F811
    _applied(cluster, "--revision", "nope")
    again = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp")
    assert again.code == 0, again
    [warning] = [line for line in again.err.splitlines() if line.startswith("Warning: waypoint default/wp")]
    assert "loses label istio.io/rev=nope (no istiod of revision nope runs)" in warning, warning
    assert "--revision nope" not in warning and "`" not in warning, warning


def test_the_untyped_change_is_not_said_when_nothing_was_applied(cluster) -> None:  # noqa: F811
    import copy

    _applied(cluster)
    scaled = copy.deepcopy(cluster.server.get("apps/v1", "Deployment", "wp", "default"))
    scaled["spec"]["replicas"] = 2
    cluster.server.put(scaled, manager="kubectl")  # `kubectl scale`: kubectl owns .spec.replicas
    refused = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp")
    assert refused.code == 1 and 'field manager "kubectl" owns .spec.replicas' in refused.err, refused
    assert "replicas go from" not in refused.err, refused  # nothing was applied: nothing went from 2 to 1
    forced = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp", "--force-conflicts")
    assert forced.code == 0 and "its replicas go from 2 to 1" in forced.err, forced  # applied: said


# ---------------------------------------------------------------- 4 (without a sandbox)


def test_a_demo_line_on_no_sandbox_is_left_as_it_is() -> None:
    from kmeshctl.cli.demo import _judged

    assert _judged("kmeshctl demo traffic-shift -q", None) == "kmeshctl demo traffic-shift -q"


# ---------------------------------------------------------------- 12


def test_version_shows_the_agents_of_the_namespace_kmesh_is_installed_in(cluster) -> None:  # noqa: F811
    installed = cluster.kmeshctl("install", "-n", "kmesh-alt", "--cluster-id", "c-f43e", "--no-wait", "-q")
    assert installed.code == 0, installed
    report = cluster.kmeshctl("version", "-o", "json")
    assert report.code == 0, report
    found = json.loads(report.out)["cluster"]
    assert found["namespace"] == "kmesh-alt" and found["installed"] is True, found
    text = cluster.kmeshctl("version")
    assert text.code == 0, text
    assert "Agents: in namespace kmesh-alt (kmesh is installed there, not in kmesh-system)" in text.out, text
    status = cluster.kmeshctl("status")  # status still refuses, naming the -n to pass
    assert status.code == 2 and "-n kmesh-alt" in status.err, status


# ---------------------------------------------------------------- 4, 7: one real sandbox (root)

KMESHCTL = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "kmeshctl")


def _run(*words: str, timeout: float = 120):
    import subprocess

    return subprocess.run([KMESHCTL, *words], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def three_v1(tmp_path_factory):
    """A sandbox made from the fortio example with 3 fortio-v1 replicas (90/10 needs -c 56)."""
    import os

    if os.geteuid() != 0:
        pytest.skip("sandbox up needs root")
    folder = tmp_path_factory.mktemp("f43e-manifests")
    for source in sorted(EXAMPLES.glob("*.yaml")):
        text = source.read_text()
        if source.name == "fortio-route.yaml":
            text = text.replace("replicas: 1", "replicas: 3", 1)  # fortio-v1's, the first
        (folder / source.name).write_text(text)
    name = f"f43e-{os.getpid() % 100000}"
    try:
        made = _run("sandbox", "up", "--name", name, "-f", str(folder), "-q", timeout=300)
        assert made.returncode == 0, made.stderr
        yield name
    finally:
        _run("sandbox", "down", "--name", name, timeout=120)


def _needed_in(line: str) -> str:
    words = shlex.split(line)
    return words[words.index("-c") + 1] if "-c" in words else ""


def test_every_demo_line_naming_the_sandbox_carries_its_count(three_v1) -> None:
    needed = _needed_in(_run("demo", "traffic-shift", "--sandbox", three_v1, "-q", "-n", "5").stderr.split("`")[1])
    assert needed and int(needed) > 20, needed  # the -n refusal's own, the reference
    for words in (["--waypoint", "waypoint"], ["--kubeconfig", f"/nonexistent/f43e-{three_v1}"]):
        refused = _run("demo", "traffic-shift", "--sandbox", three_v1, *words, "-q")
        assert refused.returncode == 2, refused
        [local] = [line for line in BACKTICKED.findall(refused.stderr) if f"--sandbox {three_v1}" in line]
        assert _needed_in(local) == needed, refused.stderr
    typo = _run("demo", "traffic-shift", "-q", "--sandbox", f"{three_v1}x")
    meant = next(line for line in BACKTICKED.findall(typo.stderr) if f"--sandbox {three_v1} " in f"{line} ")
    assert "did you mean" in typo.stderr and _needed_in(meant) == needed, typo.stderr


def test_a_stopped_waypoint_envoy_is_refused_at_once(three_v1) -> None:
    import os
    import signal
    import time

    pods = json.loads(_run("sandbox", "status", "--name", three_v1, "-o", "json").stdout)["pods"]
    pid = next(p["processes"][0]["pid"] for p in pods if p["waypoint"])
    os.kill(pid, signal.SIGSTOP)
    try:
        began = time.monotonic()
        refused = _run("demo", "traffic-shift", "--sandbox", three_v1, "-q", "--weights", "50/50", timeout=60)
        took = time.monotonic() - began
    finally:
        os.kill(pid, signal.SIGCONT)
    assert refused.returncode == 1 and f"is stopped (SIGSTOP): resume it with `kill -CONT {pid}`" in refused.stderr, \
        refused
    assert "Sending" not in refused.stderr and took < 4, (took, refused.stderr)
    again = shlex.split(BACKTICKED.findall(refused.stderr)[-1])
    assert again[:2] == ["kmeshctl", "demo"] and "--weights" in again and "-c" in again, refused.stderr


# ---------------------------------------------------------------- 13 (third bullet)

DENY_V2 = {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
           "metadata": {"name": "deny-v2", "namespace": "default"},
           "spec": {"selector": {"matchLabels": {"app": "fortio", "version": "v2"}}, "action": "DENY",
                    "rules": [{"from": [{"source": {"namespaces": ["default"]}}]}]}}


@pytest.mark.parametrize("policy,said", [
    (DENY_V2, ["AuthorizationPolicy default/deny-v2 on subset v2"]),
    ({**DENY_V2, "spec": {**DENY_V2["spec"], "selector": {"matchLabels": {"app": "netutils"}}}}, []),  # not fortio's
    ({**DENY_V2, "spec": {"action": "DENY", "rules": [{"to": [{"operation": {"ports": ["9"]}}]}]}},
     ["AuthorizationPolicy default/deny-v2 on subsets v1, v2"]),  # no selector: every pod of the namespace
    ({**DENY_V2, "spec": {**DENY_V2["spec"], "action": "ALLOW"}}, []),
])
def test_the_deny_policies_on_the_subsets_measured_are_named(policy: dict, said: list[str]) -> None:
    from kmeshctl import demo
    from kmeshctl.sandbox import manifests as m

    documents, subject = demo.fortio_demo()
    assert demo.denying_policies(m.from_documents([*documents, policy]), subject) == said
