"""Issue 14, kind "status cells are short, the detail below the table" (every cell, not
only ISTIOD): an agent pod whose image cannot be pulled shows READY `no` and STATUS
`ErrImagePull` as kubectl does; the kubelet's message is only in the `Not healthy:` text;
the table fits 80 columns, and its lines stay short piped and with -o wide. The same for
an agent's long last istiod error (ISTIOD `disconnected`) and install's live pod table.

Real parts: kmeshctl.cli.main in-process against the stand-in API server (tests/standin)."""

from __future__ import annotations

import re

import pytest

from standin_apiserver import cluster  # noqa: F401 (fixture)

KUBELET = ('failed to pull and unpack image "docker.io/kmeshctl/kmeshctl-node:0.1.0": failed to resolve '
           'reference "docker.io/kmeshctl/kmeshctl-node:0.1.0": failed to do request: Head '
           '"https://registry-1.docker.io/v2/kmeshctl/kmeshctl-node/manifests/0.1.0": dial tcp '
           '54.227.20.253:443: i/o timeout')
LAST_ERROR = ("rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing: "
              "dial tcp: lookup nowhere.istio-system.svc on 10.96.0.10:53: no such host\"")


def _failing(cluster) -> None:  # noqa: F811
    cluster.server.daemonset_controller = "stuck"
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0
    import time

    for _ in range(50):
        pods = cluster.server.all_of("v1", "Pod")
        if len(pods) == 2:
            break
        time.sleep(0.1)
    for pod in pods:
        status = pod["status"]
        status["containerStatuses"][0]["state"] = {"waiting": {"reason": "ErrImagePull", "message": KUBELET}}
        cluster.server.set_status("v1", "Pod", pod["metadata"]["name"], pod["metadata"]["namespace"], status)


def _table(text: str) -> list[str]:
    """The table's lines (header to the last row), without colour codes."""
    lines = re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("NODE"))
    return lines[start:next(i for i, line in enumerate(lines) if line.startswith("Enrolled"))]


@pytest.mark.parametrize("output", ["table", "wide"])
def test_an_image_pull_failure_is_a_word_in_the_table(cluster, monkeypatch, output) -> None:  # noqa: F811
    _failing(cluster)
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich draws as for a terminal
    monkeypatch.setenv("TTY_INTERACTIVE", "0")
    result = cluster.kmeshctl("status", "-o", output)
    assert result.code == 1, result
    table = [line for line in _table(result.out) if not line.startswith("Agent ")]
    assert table[0].split()[:4] == ["NODE", "POD", "READY", "STATUS"], table
    rows = [line.split() for line in table if line.startswith("node-")]
    assert [row[2:4] for row in rows] == [["no", "ErrImagePull"]] * 2, table
    assert "i/o timeout" not in "\n".join(table), table
    if output == "table":
        assert max(len(line) for line in table) <= 80, table
    text = re.sub(r"\x1b\[[0-9;]*m", "", result.out)
    not_healthy = text[text.index("Not healthy:"):]
    assert f"pod kmesh-node-a on node-a not ready (ErrImagePull: {KUBELET})" in " ".join(not_healthy.split()), \
        not_healthy


def test_piped_the_table_lines_stay_short(cluster) -> None:  # noqa: F811
    _failing(cluster)
    for output in ("table", "wide"):
        result = cluster.kmeshctl("status", "-o", output)
        table = [line for line in _table(result.out) if not line.startswith("Agent ")]
        widest = max(len(line) for line in table)
        assert widest < 120 if output == "table" else widest < 170, (output, table)


def test_every_cell_but_names_and_image_is_a_few_words() -> None:
    """The kind: whatever message a pod or an agent carries, status_rows keeps each
    state cell short (the messages go under the table)."""
    from kmeshctl.cli.cluster import STATUS_CELL_MAX, status_rows
    from kmeshctl.rollout import PodState
    from kmeshctl.status import AgentXds, MeshStatus

    pods = [PodState("kmesh-a", "kmesh-system", "node-a", "Pending", False, 0, "img", f"ErrImagePull: {KUBELET}", ""),
            PodState("kmesh-b", "kmesh-system", "node-b", "Running", False, 3, "img", "X" * 200 + ": y", ""),
            PodState("kmesh-c", "kmesh-system", "node-c", "Running", False, 0, "img",
                     "ContainersNotReady: containers with unready status: [kmesh]", "")]
    agents = [AgentXds("kmesh-a", "node-a", None, "pod is Pending"),
              AgentXds("kmesh-b", "node-b", None, "cannot port-forward to kmesh-system/kmesh-b: " + "z" * 300),
              AgentXds("kmesh-c", "node-c", {"connected": False, "lastError": LAST_ERROR})]
    rows = status_rows(MeshStatus("kmesh-system", {"name": "kmesh", "desired": 3, "updated": 3, "ready": 0,
                                                   "image": "img"}, pods=pods, agents=agents))
    for row in rows:
        assert all(len(cell) <= STATUS_CELL_MAX for cell in row[2:7]), row
    assert [row[3] for row in rows] == ["ErrImagePull", "X" * STATUS_CELL_MAX, "Running"], rows
    assert [row[4] for row in rows] == ["unknown (pod is Pending)", "unknown (port-forward failed)",
                                        "disconnected"], rows


def test_installs_live_pod_table_shows_the_word_too() -> None:
    from rich.console import Console

    from kmeshctl.rollout import PodState, pods_table

    console = Console(width=80, record=True, file=open("/dev/null", "w"))
    console.print(pods_table([PodState("kmesh-a", "kmesh-system", "node-a", "Pending", False, 0, "img",
                                       f"ErrImagePull: {KUBELET}", "")]))
    text = console.export_text()
    assert "ErrImagePull" in text and "i/o timeout" not in text, text
