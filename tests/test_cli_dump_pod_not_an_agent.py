"""`dump config|maps --pod` naming a pod that is no kmesh agent (an app's pod): one line,
exit 2, naming the agent pods there are and a pasteable command with one of them (the
typed --kubeconfig / --context kept), before any port-forward is tried. The agent pod
comes from the rendered DaemonSet through the stand-in's DaemonSet controller, so its
labels are the template's (helper h77)."""

from __future__ import annotations

import re
import shlex
import time

import pytest

from kmeshctl.config_dump import AGENT_POD_LABELS
from kmeshctl.params import install_params
from kmeshctl.render import render_manifests
from standin_apiserver import app_pod, cluster, namespace  # noqa: F401 (fixture)

APP_POD = "fortio-v1-h77xx"


def put_install(server) -> None:
    """The install's Namespace and DaemonSet, its controller at once and ready."""
    server.daemonset_controller = "ready"
    server.controller_delay = 0.0
    for obj in render_manifests(install_params("istiod-1-22-6.istio-system.svc:15012", "c1")):
        if obj["kind"] in ("Namespace", "DaemonSet"):
            server.put(obj)


def _install_agent(server) -> str:
    """The install's Namespace and DaemonSet: its controller makes one agent pod per node;
    the first agent pod's name."""
    put_install(server)
    deadline = time.monotonic() + 10
    while not (pods := sorted(p["metadata"]["name"] for p in server.all_of("v1", "Pod")
                              if p["metadata"]["namespace"] == "kmesh-system")):
        assert time.monotonic() < deadline, "the DaemonSet controller made no pod"
        time.sleep(0.05)
    return pods[0]


def _app(server) -> None:
    server.put(namespace("default"))
    server.put(app_pod(APP_POD, "default"))


def _pasted(line: str) -> list[str]:
    """The words of the one backticked `kmeshctl ...` command of ``line``."""
    [command] = re.findall(r"`(kmeshctl [^`]*)`", line)
    return shlex.split(command)


def _forwards(server) -> list[str]:
    return [r.path for r in server.requests if r.path.endswith("/portforward")]


def test_agent_pod_labels_are_the_daemonset_templates() -> None:
    [ds] = [o for o in render_manifests(install_params("istiod.istio-system.svc:15012", "c1"))
            if o["kind"] == "DaemonSet"]
    labels = ds["spec"]["template"]["metadata"]["labels"]
    assert AGENT_POD_LABELS.items() <= labels.items()
    assert AGENT_POD_LABELS.items() <= ds["spec"]["selector"]["matchLabels"].items()


@pytest.mark.parametrize("what", ["config", "maps"])
def test_an_apps_pod_is_named_with_the_agent_pods(cluster, what: str) -> None:  # noqa: F811
    agent = _install_agent(cluster.server)
    _app(cluster.server)
    result = cluster.kmeshctl("dump", what, "--pod", APP_POD, "-n", "default")
    assert result.code == 2, result
    [line] = result.err.strip().splitlines()
    assert line.startswith(f"Error: pod default/{APP_POD} is not a kmesh agent (agent pods: kmesh-system/{agent}")
    assert "; pass --pod with one of them: " in line, line
    assert _pasted(line) == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "dump", what, "--pod", agent,
                             "-n", "kmesh-system"], line
    assert "port-forward" not in line and "admin-port" not in line, line
    assert _forwards(cluster.server) == []  # refused before any port-forward


def test_the_pasted_command_keeps_the_context(cluster) -> None:  # noqa: F811
    agent = _install_agent(cluster.server)
    _app(cluster.server)
    result = cluster.kmeshctl("--context", "standin", "dump", "config", "--pod", APP_POD, "-n", "default")
    assert result.code == 2, result
    [line] = result.err.strip().splitlines()
    assert _pasted(line) == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "--context", "standin", "dump",
                             "config", "--pod", agent, "-n", "kmesh-system"], line


def test_no_agent_installed_says_so(cluster) -> None:  # noqa: F811
    _app(cluster.server)
    result = cluster.kmeshctl("dump", "config", "--pod", APP_POD, "-n", "default")
    assert result.code == 2, result
    [line] = result.err.strip().splitlines()
    assert f"pod default/{APP_POD} is not a kmesh agent, and no pod of this cluster is" in line, line
    assert "install kmesh first" in line, line
    assert f"`kubectl get pods -A -l app=kmesh --kubeconfig {cluster.kubeconfig}` lists none" in line, line


def test_an_agent_pod_passes_the_check(cluster) -> None:  # noqa: F811
    """The agent's own pod is port-forwarded to (the stand-in has no backend for it: the
    port-forward's own error follows, not 'not a kmesh agent')."""
    agent = _install_agent(cluster.server)
    result = cluster.kmeshctl("dump", "config", "--pod", agent, "--request-timeout", "5s")
    assert result.code == 1 and "not a kmesh agent (agent pods" not in result.err, result
    assert _forwards(cluster.server), result.err


def test_a_missing_pod_is_not_found_before_any_port_forward(cluster) -> None:  # noqa: F811
    agent = _install_agent(cluster.server)
    result = cluster.kmeshctl("dump", "config", "--pod", "kmesh-nope")
    assert result.code == 1 and "pod kmesh-system/kmesh-nope not found" in result.err, result
    assert f"kmesh-system/{agent}" in result.err and "not a kmesh agent (" not in result.err, result
    assert _forwards(cluster.server) == []


class _NoListing:
    """A cluster whose user may read the pod but list no pods (RBAC)."""

    def get(self, api_version: str, kind: str, name: str, namespace: str) -> dict:
        return app_pod(name, namespace)

    def list(self, *args, **kwargs) -> list:
        from kmeshctl.kube import ApiError

        raise ApiError(403, "Forbidden", 'pods is forbidden: User "dev" cannot list resource "pods"')


def test_a_user_who_may_not_list_pods_is_told_the_label() -> None:
    from kmeshctl.config_dump import check_agent_pod
    from kmeshctl.errors import UsageError

    with pytest.raises(UsageError) as raised:
        check_agent_pod(_NoListing(), APP_POD, "default", "kmeshctl dump config")  # type: ignore[arg-type]
    text = str(raised.value)
    assert text == (f"pod default/{APP_POD} is not a kmesh agent (no label app=kmesh); pass --pod with an agent "
                    "pod: `kubectl get pods -A -l app=kmesh` lists them"), text
    assert "install kmesh" not in text
