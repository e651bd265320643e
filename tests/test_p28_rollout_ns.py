"""Findings of a new-user tester (p28), against the stand-in API server:

1. an install of an image that pulls but cannot start (no `kmeshctl` in it: the runtime's
   StartError, exit code 128) shows how the container ended, and its fix names --image
   with the install putting back the image it replaced (not `kubectl logs --previous`,
   which prints nothing for a container that never ran); status's Fix: alike.
2. `enable-ns namespace NAME` (kubectl label's habit): drop the word, before any connection.
3. `enable-ns NS --wait` of a namespace another data plane has, kmesh not installed: the
   refusal (which needs no agent) comes first.
4. `status` with no cluster configured while sandboxes are up names them.

Real parts: kmeshctl.cli.main in-process against the stand-in API server; its DaemonSet
controller's pods get the status a kubelet reports for a container that cannot start."""

from __future__ import annotations

import json

import pytest

from kmeshctl.params import DEFAULT_IMAGE
from kmeshctl.rollout import (EXIT_MESSAGE_MAX, PodState, RolloutState, exit_message, pod_state, timeout_fix)
from kmeshctl.status import MeshStatus
from standin import controllers
from standin.fixtures import namespace
from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_cli_kinds import _record, cli, no_env, state_root  # noqa: F401
from test_p26_hints import offline  # noqa: F401
from test_p27_rollout_status import (CONTROLLER_REVISION, OLD, _commands, _image, _installed, _pasted,  # noqa: F401
                                     _revision, connected, status_after_failed_install)

PAUSE = "registry.k8s.io/pause:3.10"
NOT_FOUND = ('failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create '
             'failed: unable to start container process: exec: "kmeshctl": executable file not found in $PATH: '
             'unknown')


def _cannot_start(spec: dict, ready: bool, pod_ip) -> dict:
    """What a kubelet (containerd) reports for a container whose command is not in its
    image, once it backs off: waiting CrashLoopBackOff, the last try a StartError."""
    return {"phase": "Running", "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
            "containerStatuses": [{
                "name": c["name"], "image": c.get("image", ""), "imageID": controllers.image_id(c.get("image", "")),
                "ready": False, "restartCount": 2, "started": False,
                "state": {"waiting": {"reason": "CrashLoopBackOff",
                                      "message": "back-off 20s restarting failed container=kmesh pod=kmesh-x"}},
                "lastState": {"terminated": {"reason": "StartError", "exitCode": 128, "message": NOT_FOUND}}}
                for c in spec.get("containers", [])]}


@pytest.fixture
def unstartable(monkeypatch):
    """The stand-in's `stuck` DaemonSet pods cannot start their container (instead of an image pull)."""
    real = controllers.pod_status
    monkeypatch.setattr(controllers, "pod_status",
                        lambda spec, ready, pod_ip: real(spec, ready, pod_ip) if ready else _cannot_start(spec, ready,
                                                                                                           pod_ip))


def _last_error(result) -> str:
    assert result.code == 1, result
    last = result.err.strip().splitlines()[-1]
    assert last.startswith("Error: DaemonSet kmesh-system/kmesh not ready after 2s (0/2 ready; CrashLoopBackOff)"), \
        result.err
    return last


# -- 1: a container that cannot start ---------------------------------------------------------------


def test_an_image_that_cannot_start_is_put_back_by_the_install_given(cluster, connected,  # noqa: F811
                                                                     unstartable) -> None:
    _installed(cluster, OLD)
    result = cluster.kmeshctl("install", "--cluster-id", "tier-t28a", "--image", PAUSE, "--timeout", "2s")
    line = _last_error(result)
    assert "kubectl logs" not in line, line
    assert f"the agent's container cannot start in image {PAUSE} (StartError, exit code 128: " in line, line
    assert 'exec: "kmeshctl": executable file not found in $PATH): fix --image and re-run install, or put back ' \
           f"{OLD}, the image {PAUSE} replaced: `" in line, line
    # the pods not ready say how the container ended, not only the back-off
    assert "CrashLoopBackOff: last exit StartError, exit code 128: " in result.err, result.err
    [command] = _commands(line)
    assert command[3:] == ["install", "--cluster-id", "tier-t28a", "--image", OLD, "--timeout", "2s"], line
    cluster.server.daemonset_controller = "ready"
    assert _pasted(cluster, line).code == 0 and _image(cluster) == OLD


def test_a_first_install_that_cannot_start_offers_kmeshctls_default(cluster, unstartable) -> None:  # noqa: F811
    cluster.server.daemonset_controller = "stuck"
    line = _last_error(cluster.kmeshctl("install", "--cluster-id", "c1", "--image", PAUSE, "--timeout", "2"))
    assert f"or install kmeshctl's default image instead of {PAUSE}: `" in line and "kubectl logs" not in line, line
    [command] = _commands(line)
    assert command[3:] == ["install", "--cluster-id", "c1", "--image", DEFAULT_IMAGE, "--timeout", "2s"], line
    cluster.server.daemonset_controller = "ready"
    assert _pasted(cluster, line).code == 0 and _image(cluster) == DEFAULT_IMAGE


def test_status_of_agents_that_cannot_start_gives_the_install_putting_the_image_back(cluster, connected,  # noqa: F811
                                                                                      unstartable) -> None:
    text = status_after_failed_install(cluster, PAUSE, "tier-t28a")
    assert text.code == 1, text
    [fix] = [line for line in text.out.splitlines() if line.startswith("Fix: ")]
    assert "kubectl logs" not in fix and "StartError, exit code 128" in fix, fix
    assert f"or put back {OLD}, the image {PAUSE} replaced: `" in fix, text.out
    assert json.loads(cluster.kmeshctl("status", "-o", "json").out)["fix"] == fix.removeprefix("Fix: ")
    cluster.server.daemonset_controller = "ready"
    assert _pasted(cluster, fix).code == 0 and _image(cluster) == OLD


def _pod(status: dict, image: str = PAUSE) -> PodState:
    return pod_state({"metadata": {"name": "kmesh-6c77g", "namespace": "kmesh-system"},
                      "spec": {"nodeName": "node-a", "containers": [{"name": "kmesh", "image": image}]},
                      "status": {"phase": "Running", **status}})


@pytest.mark.parametrize("state", [
    {"waiting": {"reason": "RunContainerError", "message": NOT_FOUND}},
    {"waiting": {"reason": "CreateContainerError", "message": 'exec: "kmeshctl": executable file not found'}},
    {"terminated": {"reason": "ContainerCannotRun", "exitCode": 127, "message": "not found"}},
    {"terminated": {"reason": "StartError", "exitCode": 128, "message": NOT_FOUND}},
], ids=["RunContainerError", "CreateContainerError", "ContainerCannotRun", "StartError"])
def test_every_runtime_word_for_a_container_that_cannot_start_names_the_image(state: dict) -> None:
    pod = _pod({"containerStatuses": [{"name": "kmesh", "restartCount": 1, "state": state}]})
    assert pod.not_started, pod
    fix = timeout_fix(RolloutState(True, 1, 1, 0, True, [pod]), "kmesh-system")
    assert "fix --image" in fix and "kubectl logs" not in fix and f"--image {DEFAULT_IMAGE}`" in fix, fix
    status = MeshStatus("kmesh-system", {"name": "kmesh", "desired": 1, "updated": 1, "ready": 0, "image": PAUSE},
                        pods=[pod])
    assert "fix --image" in status.fix and "kubectl logs" not in status.fix, status.fix


def test_an_agent_that_ran_and_exited_keeps_its_previous_log_and_says_how_it_ended() -> None:
    pod = _pod({"containerStatuses": [{"name": "kmesh", "restartCount": 3, "state": {"waiting": {
        "reason": "CrashLoopBackOff", "message": "back-off"}}, "lastState": {"terminated": {
            "reason": "Error", "exitCode": 1, "message": "x" * 500}}}]}, image=OLD)
    assert not pod.not_started and pod.status == "CrashLoopBackOff", pod
    assert pod.reason.startswith("CrashLoopBackOff: last exit Error, exit code 1: ") and len(pod.reason) < 200, pod
    fix = timeout_fix(RolloutState(True, 1, 1, 0, True, [pod]), "kmesh-system")
    assert "`kubectl logs -n kmesh-system kmesh-6c77g --previous`" in fix, fix


def test_a_runtime_message_is_cut_to_its_cause() -> None:
    said = exit_message(NOT_FOUND)
    assert len(said) <= EXIT_MESSAGE_MAX and said.endswith('exec: "kmeshctl": executable file not found in $PATH')
    assert len(exit_message("y" * 1000)) <= EXIT_MESSAGE_MAX


# -- 2: `enable-ns namespace NAME` ---------------------------------------------------------------------


@pytest.mark.parametrize("command,word", [("enable-ns", "namespace"), ("enable-ns", "ns"), ("disable-ns", "namespaces")])
def test_kubectls_kind_word_before_the_names_is_dropped_before_connecting(cluster, command: str,  # noqa: F811
                                                                        word: str) -> None:
    cluster.server.put(namespace("t28b-app"))
    asked = len(cluster.server.requests)
    result = cluster.kmeshctl(command, word, "t28b-app", "-o", "json", "--timeout", "5")
    assert result.code == 2 and len(cluster.server.requests) == asked, result
    line = result.err.strip().splitlines()[-1]  # after --timeout's warning (no --wait typed)
    assert f"; drop the word {word}: `" in line, line
    [pasted] = _commands(line)
    assert pasted[3:5] == [command, "t28b-app"] and sorted(pasted[5:]) == ["--timeout", "-o", "5s", "json"], line
    assert _pasted(cluster, line).code == 0


def test_a_namespace_named_namespace_alone_is_a_name(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("enable-ns", "namespace")
    assert result.code == 2 and "namespace(s) not found: namespace" in result.err, result


# -- 3: --wait and another data plane's namespace, kmesh not installed ---------------------------------


def test_another_data_planes_namespace_is_refused_before_the_missing_agent(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("t28b-amb", {"istio.io/dataplane-mode": "ambient"}))
    result = cluster.kmeshctl("enable-ns", "t28b-amb", "--wait", "--timeout", "30")
    assert result.code == 2, result
    [line] = result.err.strip().splitlines()
    assert "enrolled in another data plane (istio.io/dataplane-mode=ambient)" in line and "--overwrite" in line, line
    # f36f: the line leaves out the --wait the missing agent would refuse next (one paste, not two)
    assert "(--wait left out: kmesh is not installed, no node agent to wait for)" in line, line
    without = [c for c in _commands(line) if c[3] == "enable-ns"]
    assert without == [["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "enable-ns", "t28b-amb", "--overwrite"]]
    assert cluster.server.get("v1", "Namespace", "t28b-amb")["metadata"]["labels"]["istio.io/dataplane-mode"] == \
        "ambient"  # nothing changed so far
    assert _pasted(cluster, line).code == 0
    assert cluster.server.get("v1", "Namespace", "t28b-amb")["metadata"]["labels"]["istio.io/dataplane-mode"] == \
        "Kmesh"


# -- 4: status with no cluster while sandboxes are up --------------------------------------------------


def test_status_with_no_cluster_names_the_sandboxes_up(state_root, capsys, offline) -> None:  # noqa: F811
    code, _, err = cli(capsys, "status")
    assert code == 1 and "no cluster configured" in err and "sandbox" not in err, err
    _record("f28a-one")
    code, _, err = cli(capsys, "status")
    assert code == 1 and "(sandbox f28a-one is up: a sandbox's agent and pods are shown by " \
                         "`kmeshctl sandbox status --name f28a-one`)" in err, err
    assert cli(capsys, "sandbox", "status", "--name", "f28a-one")[0] != 2
    _record("f28a-two")
    code, _, err = cli(capsys, "status", "-o", "json")
    assert code == 1 and "sandboxes f28a-one, f28a-two are up: a sandbox's agent and pods are shown by " \
                         "`kmeshctl sandbox status --name f28a-one`" in err, err
