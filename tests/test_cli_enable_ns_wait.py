"""`enable-ns/disable-ns --wait`: with no node agent installed, enable-ns fails at once
(exit 1, nothing changed, how to install) instead of waiting the whole limit for marks
nobody makes (disable-ns then has nothing to wait for: see
test_cli_disable_ns_wait_without_kmesh); piped, a progress line only when the pods waited
for change; the words name the direction (`marked` for enable, `unmarked` for disable), never "(un)marked"."""

from __future__ import annotations

from kmeshctl.render import DAEMONSET_NAME, MANAGED_BY_LABEL
from standin_apiserver import app_pod, cluster, namespace  # noqa: F401 (fixture)

MODE = "istio.io/dataplane-mode"


def kmesh_agent_installed(server, where: str = "kmesh-system") -> None:
    """A kmesh DaemonSet as `kmeshctl install` leaves it (only what --wait looks at)."""
    server.put(namespace(where))
    server.put({"apiVersion": "apps/v1", "kind": "DaemonSet",
                "metadata": {"name": DAEMONSET_NAME, "namespace": where,
                             "labels": {MANAGED_BY_LABEL[0]: MANAGED_BY_LABEL[1]}},
                "spec": {"selector": {"matchLabels": {"app": "kmesh"}},
                         "template": {"metadata": {"labels": {"app": "kmesh"}},
                                      "spec": {"containers": [{"name": "kmesh", "image": "kmesh:h63"}]}}}})


def _labels(server, name: str) -> dict:
    return server.get("v1", "Namespace", name)["metadata"].get("labels") or {}


def test_wait_without_the_agent_fails_at_once_and_changes_nothing(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("h63demo"))
    cluster.server.put(app_pod("fortio-v1", "h63demo"))
    result = cluster.kmeshctl("enable-ns", "h63demo", "--wait", "--timeout", "10")
    assert result.code == 1 and not result.out, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "waiting for" not in result.err, result.err
    assert lines[0].startswith("Error: the kmesh DaemonSet is not installed (none in kmesh-system"), lines
    assert "--wait would wait for an agent that is not there" in lines[0], lines
    assert "; install first: `kmeshctl" in lines[0] and "install --cluster-id ID`" in lines[0], lines
    assert MODE not in _labels(cluster.server, "h63demo")


def test_the_agent_in_another_namespace_counts(cluster) -> None:  # noqa: F811
    kmesh_agent_installed(cluster.server, "h63-agents")
    cluster.server.put(namespace("h63demo"))
    result = cluster.kmeshctl("enable-ns", "h63demo", "--wait", "--timeout", "1")
    assert result.code == 0 and "not installed" not in result.err, result


def test_piped_progress_is_one_line_per_change_and_words_the_direction(cluster) -> None:  # noqa: F811
    kmesh_agent_installed(cluster.server)
    cluster.server.put(namespace("h63demo"))
    cluster.server.put(app_pod("fortio-v1", "h63demo"))
    result = cluster.kmeshctl("enable-ns", "h63demo", "--wait", "--timeout", "3")
    assert result.code == 1, result
    waiting = [line for line in result.err.splitlines() if line.startswith("waiting for")]
    assert waiting == ["waiting for 1 pod to be marked (0s, limit 3s)"], result.err
    assert "(un)" not in result.err and "1 running pod not yet marked kmesh.net/redirection after 3s: " \
        "h63demo/fortio-v1; check the node agent" in result.err, result.err


def test_disable_words_unmarked(cluster) -> None:  # noqa: F811
    kmesh_agent_installed(cluster.server)
    cluster.server.put(namespace("h63demo"))
    pod = app_pod("fortio-v1", "h63demo")
    pod["metadata"]["annotations"] = {"kmesh.net/redirection": "enabled"}
    cluster.server.put(pod)
    result = cluster.kmeshctl("disable-ns", "h63demo", "--wait", "--timeout", "1")
    assert result.code == 1 and "waiting for 1 pod to be unmarked" in result.err, result.err
    assert "1 running pod not yet unmarked kmesh.net/redirection" in result.err and "(un)" not in result.err


def test_wide_adds_each_pod_s_ip_and_node(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("h63demo"))
    placed = app_pod("fortio-v1", "h63demo", nodeName="h63-node-a")
    placed.setdefault("status", {})["podIP"] = "10.244.1.7"
    cluster.server.put(placed)
    cluster.server.put(app_pod("pending", "h63demo", phase="Pending"))
    table = cluster.kmeshctl("enable-ns", "h63demo")
    wide = cluster.kmeshctl("enable-ns", "h63demo", "-o", "wide")
    assert table.code == wide.code == 0, (table, wide)
    assert "NODE" not in table.out and "10.244.1.7" not in table.out, table.out
    header = next(line for line in wide.out.splitlines() if line.startswith("NAMESPACE"))
    assert header.split() == ["NAMESPACE", "POD", "PHASE", "ANNOTATED", "EXPECTED", "IP", "NODE"], wide.out
    row = next(line for line in wide.out.splitlines() if "fortio-v1" in line)
    assert row.split()[-2:] == ["10.244.1.7", "h63-node-a"], wide.out
    pending = next(line for line in wide.out.splitlines() if "pending" in line)
    assert pending.split()[-2:] == ["<none>", "<none>"], wide.out
    data = cluster.kmeshctl("enable-ns", "h63demo", "-o", "json")
    assert '"podIP": "10.244.1.7"' in data.out and '"node": "h63-node-a"' in data.out, data.out
