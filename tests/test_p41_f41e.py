"""Pass 41, fixer f41e (t41c findings on the real cluster tier):

1. `dump maps --pod X --map <typo>` never adds `--sandbox` (refused beside --pod) to its line.
3. A partial install with nothing to read its image from offers a whole install line (the
   default image, said so), never `--image IMAGE`; `--image IMAGE` pasted is said to be a
   placeholder with a real image's line, not "fixed" into `--image image`; the waypoint's
   image fixes the same.
6. `waypoint delete/status --name wp3` with wp3 only in another namespace offers `-n THERE`.
12. `dump ... --admin-port 1` with the agent serving another port: the whole line, not a fragment.
"""

from __future__ import annotations

import shlex

import pytest

from kmeshctl import sandboxes
from kmeshctl.render import COMMON_LABELS
from kmeshctl.waypoint import deploy
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd
from test_cli_kinds import cli, no_env  # noqa: F401 (fixtures)


def _lines(text: str) -> list[list[str]]:
    return [shlex.split(c) for c in text.split("`")[1::2] if c.startswith("kmeshctl")]


# ---------------------------------------------------------------- 1


def test_a_line_with_pod_gets_no_sandbox_flag(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(sandboxes, "DEFAULT_BPF_FS", tmp_path / "none")
    monkeypatch.setattr(sandboxes, "existing", lambda: {"t41a-1": sandboxes.PHASE_READY,
                                                        "t41a-2": sandboxes.PHASE_READY})
    monkeypatch.delenv(sandboxes.NAME_ENV, raising=False)
    for line in ("kmeshctl dump maps --pod kmesh-4j9w8 --map km_service",
                 "kmeshctl dump config --pod=kmesh-4j9w8 -n kmesh-system"):
        assert sandboxes.naming_one(line) == line
    # without a place, several sandboxes: one is still named (the dump would refuse to pick)
    assert "--sandbox" in sandboxes.naming_one("kmeshctl dump maps --map km_service")


# ---------------------------------------------------------------- 3


def test_a_placeholder_image_is_said_so_with_a_line_of_a_real_image(capsys, no_env) -> None:  # noqa: F811
    from kmeshctl.params import DEFAULT_IMAGE, WAYPOINT_DEFAULT_IMAGE

    for args, image in ((["install", "--cluster-id", "c1", "--image", "IMAGE", "--timeout", "20s", "-q"],
                         DEFAULT_IMAGE),
                        (["waypoint", "apply", "-n", "demo", "--image", "IMAGE"], WAYPOINT_DEFAULT_IMAGE)):
        code, out, err = cli(capsys, *args)
        said = " ".join(err.split())
        assert code == 2 and not out and "placeholder" in said and "--image image" not in said, err
        [line] = _lines(said)
        assert line[line.index("--image") + 1] == image, said
        assert line == ["kmeshctl", *[image if w == "IMAGE" else w for w in args]], said
    code, _, err = cli(capsys, "install", "--cluster-id", "c1", "--image", "Reg/Img:1")
    assert code == 2 and "--image reg/img:1" in err, err  # a real reference's capitals are still mended


def test_a_partial_install_with_nothing_to_read_offers_a_whole_line() -> None:
    from kmeshctl.params import DEFAULT_IMAGE
    from kmeshctl.status import MeshStatus

    status = MeshStatus("kmesh-system", None, remaining=["Namespace kmesh-system", "ServiceAccount kmesh"],
                        expected=10, reinstall="kmeshctl install --cluster-id tier-t41c",
                        uninstall="kmeshctl uninstall")
    [problem] = status.problems
    assert "IMAGE" not in problem and DEFAULT_IMAGE in problem, problem
    assert _lines(status.fix) == [["kmeshctl", "install", "--cluster-id", "tier-t41c"], ["kmeshctl", "uninstall"]]


def test_the_waypoint_image_fix_is_a_whole_line() -> None:
    from kmeshctl.rollout import PodState

    p = deploy.WaypointParams("ns", "wp", image="reg/wp:typo")
    pulled = PodState("wp-1", "ns", "", "Pending", False, 0, "reg/wp:typo", "ImagePullBackOff: Back-off", "")
    fix = deploy.stuck_fix(p, [pulled])
    assert "IMAGE" not in fix and _lines(fix) == [["kmeshctl", "waypoint", "apply", "-n", "ns", "--name", "wp",
                                                   "--image", deploy.DEFAULT_IMAGE]], fix
    put_back = deploy.stuck_fix(p, [pulled], replaced="reg/wp:1")
    assert _lines(put_back) == [["kmeshctl", "waypoint", "apply", "-n", "ns", "--name", "wp", "--image", "reg/wp:1"]]
    default = deploy.WaypointParams("ns", "wp")
    pulled_default = PodState("wp-1", "ns", "", "Pending", False, 0, deploy.DEFAULT_IMAGE, "ErrImagePull: x", "")
    said = deploy.stuck_fix(default, [pulled_default])
    assert "IMAGE" not in said and "registry access" in said and "kubectl describe pod wp-1 -n ns" in said, said


# ---------------------------------------------------------------- 6


def _waypoint(cluster, ns: str, name: str) -> None:  # noqa: F811
    cluster.server.put(namespace(ns))
    cluster.server.put({"apiVersion": deploy.GATEWAY_API, "kind": "Gateway", "metadata": {
        "name": name, "namespace": ns, "labels": {**COMMON_LABELS, deploy.WAYPOINT_LABEL: name}},
        "spec": {"gatewayClassName": deploy.GATEWAY_CLASS, "listeners": []}})


@pytest.mark.parametrize("command", ["status"])  # delete: said in words only (test_p43_f43e)
@pytest.mark.parametrize("ns_words", [[], ["--namespace", "default"], ["-ndefault"]])
def test_a_waypoint_in_another_namespace_is_offered_there(command: str, ns_words: list[str],
                                                         cluster) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))
    _waypoint(cluster, "default", "waypoint")
    _waypoint(cluster, "demo", "wp3")
    result = cluster.kmeshctl("waypoint", command, *ns_words, "--name", "wp3")
    said = " ".join(result.err.split())
    assert result.code == 1 and "waypoint default/wp3 not found" in said, result
    assert "waypoint wp3 is in namespace demo:" in said, said
    first = _lines(said)[0]
    assert first[:3] == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig)], said
    assert first[3:5] == ["waypoint", command] and first[first.index("--name") + 1] == "wp3", said
    spelled = [w for w in first if w in ("-n", "--namespace") or w.startswith(("-n", "--namespace="))]
    assert len(spelled) == 1 and first[first.index(spelled[0]) + 1] == "demo", said


def test_a_waypoint_nowhere_keeps_the_fix_of_here(cluster) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))
    result = cluster.kmeshctl("waypoint", "delete", "--name", "wp3")
    assert result.code == 1 and "is in namespace" not in result.err and "--ignore-not-found" in result.err, result


# ---------------------------------------------------------------- 12


@pytest.mark.parametrize("typed,expected", [
    ("kmeshctl dump maps --pod kmesh-x --admin-port 1 -o json", "--admin-port 15200 -o json"),
    ("kmeshctl dump config --pod kmesh-x --admin-port=1", "--admin-port=15200"),
    ("kmeshctl dump maps --pod kmesh-x", "--pod kmesh-x --admin-port 15200"),
])
def test_the_admin_port_fix_is_the_whole_line(typed: str, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from kmeshctl import config_dump

    command = " ".join(typed.split()[:3])
    monkeypatch.setattr(sandboxes, "typed_now", lambda: sandboxes.Typed(command, None, sandboxes.rerun_line, typed))
    said = config_dump._on_port(15200)
    [line] = _lines(said)
    assert shlex.join(line).endswith(expected) and line.count("--pod") == 1, said
    monkeypatch.setattr(sandboxes, "typed_now", lambda: sandboxes.Typed("kmeshctl status", None,
                                                                        sandboxes.rerun_line, "kmeshctl status"))
    assert config_dump._on_port(15200) == ""  # status has no --admin-port: no line to give


# ---------------------------------------------------------------- 4


def test_an_agent_in_a_pod_is_named_by_its_pod(tmp_path) -> None:
    from kmeshctl import nodecheck

    proc = tmp_path / "proc"
    (proc / "7").mkdir(parents=True)
    (proc / "7" / "environ").write_bytes(b"PATH=/bin\0POD_NAME=kmesh-rpj5v\0POD_NAMESPACE=kmesh-system\0")
    (proc / "7" / "cgroup").write_text("0::/kt-x/kubepods/burstable/pod87b9/7172\n")
    assert nodecheck.agent_pod(7, proc) == "kmesh-system/kmesh-rpj5v"
    (proc / "8").mkdir()
    (proc / "8" / "environ").write_bytes(b"POD_NAME=x\0POD_NAMESPACE=y\0")
    (proc / "8" / "cgroup").write_text("0::/user.slice\n")  # a process of no pod, whatever its environment
    assert nodecheck.agent_pod(8, proc) is None
    assert nodecheck.agent_pod(9, proc) is None  # gone or unreadable


@pytest.mark.parametrize("namespace,line", [("kmesh-system", "`kmeshctl uninstall`"),
                                            ("kmesh-x", "`kmeshctl uninstall -n kmesh-x`")])
def test_cleanup_under_an_agent_pod_says_uninstall_not_kill(namespace: str, line: str, tmp_path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import fcntl
    import os

    from kmeshctl import nodecheck
    from kmeshctl.errors import KmeshctlError
    from kmeshctl.node import claim

    held = tmp_path / f"bpf-{os.getpid()}"
    held.mkdir()
    monkeypatch.setattr(claim, "holder_pid", lambda _path: 4242)
    monkeypatch.setattr(nodecheck, "agent_pod", lambda pid, *_: f"{namespace}/kmesh-rpj5v" if pid == 4242 else None)
    fd = os.open(held, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(KmeshctlError) as caught:
            claim.check_unclaimed(held)
        said = str(caught.value)
        assert f"node agent of pod {namespace}/kmesh-rpj5v (pid 4242)" in said and line in said, said
        assert "kill" not in said.replace("killed", ""), said
        text = claim.in_use_text(held, "--bpf-fs", 4242)  # `node run` on that directory
        assert line in text and "`kill" not in text and "its own --bpf-fs DIR" in text, text
    finally:
        os.close(fd)


# ---------------------------------------------------------------- 11


def _pod(status: str, image: str = "reg/agent:bad") -> "object":
    from kmeshctl.rollout import PodState

    return PodState("kmesh-1", "kmesh-system", "n1", "Pending", False, 0, image, f"{status}: x", "")


def test_the_wait_ends_early_once_every_agent_waits_on_its_image() -> None:
    from kmeshctl.rollout import IMAGE_HOLD_S, ImageWatch, RolloutState

    now = [0.0]
    watch = ImageWatch(lambda: now[0])
    pulling = RolloutState(True, 1, 1, 0, True, [_pod("ContainerCreating")])
    backing_off = RolloutState(True, 1, 1, 0, True, [_pod("ImagePullBackOff")])
    assert watch(pulling) == ""
    now[0] = 5
    assert watch(backing_off) == ""
    now[0] = 5 + IMAGE_HOLD_S - 1
    assert watch(RolloutState(True, 1, 1, 0, True, [_pod("ErrImagePull")])) == ""
    now[0] = 5 + IMAGE_HOLD_S
    assert watch(backing_off) == "ImagePullBackOff"
    assert watch(pulling) == ""  # one poll otherwise: the hold starts again
    now[0] += IMAGE_HOLD_S - 1
    assert watch(backing_off) == ""


def test_a_timeout_while_pulling_says_the_pull_and_its_fix() -> None:
    from kmeshctl.rollout import RolloutState, flag_setter, timeout_fix

    state = RolloutState(True, 1, 1, 0, True, [_pod("ContainerCreating")])
    install_with = flag_setter("kmeshctl install --cluster-id c1 --image reg/agent:bad --timeout 8s")
    pulling = timeout_fix(state, "kmesh-system", install_with=install_with, timeout=8, pull="pulling")
    assert "the image reg/agent:bad is still being pulled" in pulling and "stops early once the pull fails" in pulling
    assert _lines(pulling) == [["kmeshctl", "install", "--cluster-id", "c1", "--image", "reg/agent:bad",
                                "--timeout", "5m"]], pulling
    failed = timeout_fix(state, "kmesh-system", install_with=install_with, timeout=8,
                         pull='failed: Failed to pull image "reg/agent:bad": not found')
    assert "cannot be pulled" in failed and "--timeout 5m" not in failed, failed
    from kmeshctl.params import DEFAULT_IMAGE
    assert [DEFAULT_IMAGE] == [w[w.index("--image") + 1] for w in _lines(failed)], failed


def test_the_pull_state_is_read_from_the_pods_latest_pull_event() -> None:
    from kmeshctl.rollout import image_pull_state

    class Events:
        def __init__(self, events: list[dict]) -> None:
            self.events = events

        def is_served(self, *_: str) -> bool:
            return True

        def list(self, *_: object, **__: object) -> list[dict]:
            return self.events

    def event(reason: str, when: str, pod: str = "kmesh-1") -> dict:
        return {"reason": reason, "lastTimestamp": when, "message": f"{reason} image", "involvedObject": {"name": pod}}

    stuck = [_pod("ContainerCreating")]
    assert image_pull_state(Events([event("Pulling", "2026-01-01T00:00:01Z")]), stuck) == "pulling"
    assert image_pull_state(Events([event("Pulling", "2026-01-01T00:00:01Z"),
                                    event("Failed", "2026-01-01T00:00:03Z")]), stuck) == "failed: Failed image"
    assert image_pull_state(Events([event("Failed", "2026-01-01T00:00:03Z", pod="other")]), stuck) == ""
    assert image_pull_state(Events([event("Pulling", "2026-01-01T00:00:01Z")]), [_pod("ImagePullBackOff")]) == ""


def test_waypoint_apply_wait_ends_early_on_an_image_it_cannot_pull(cluster, monkeypatch) -> None:  # noqa: F811
    import time

    from kmeshctl import rollout

    monkeypatch.setattr(rollout, "IMAGE_HOLD_S", 0.0)  # the hold is ImageWatch's unit test's
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))
    cluster.server.deployment_controller = "stuck"
    started = time.monotonic()
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp2", "--image", "reg/wp:bad",
                              "--wait", "--timeout", "60s")
    said = " ".join(result.err.split())
    assert result.code == 1 and "which waiting longer does not end" in said, result
    assert time.monotonic() - started < 30, said
    line = _lines(said)[-1]
    assert line[line.index("--image") + 1] == deploy.DEFAULT_IMAGE and line[line.index("--timeout") + 1] in ("60s", "1m"), said
