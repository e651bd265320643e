"""Ctrl-C or SIGTERM during `waypoint apply` / `waypoint delete` exited 130 with no word
of what was done (M11). Now one Error line says what was applied (deleted), what was
being, what was not, and the command that goes on; SIGINT exits 130, SIGTERM 143."""

from __future__ import annotations

import json
import os
import shlex
import signal
from typing import Any

import pytest

from kmeshctl import apply as applier
from kmeshctl.waypoint import deploy
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd


def _ready(cluster) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))


def _stop(how: str) -> None:
    if how == "SIGTERM":
        os.kill(os.getpid(), signal.SIGTERM)  # the real signal: sigterm_stops' handler raises
    raise KeyboardInterrupt  # Ctrl-C, as the CLI's handler raises it


def _stopping_after(count: int, how: str, real: Any) -> Any:
    calls: list[int] = []

    def stopping(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) > count:
            _stop(how)
        return real(*args, **kwargs)
    return stopping


def _error_line(result) -> str:
    lines = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.err
    return lines[0]


@pytest.mark.parametrize("how, code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_stopped_apply_says_what_was_applied_and_how_to_go_on(cluster, monkeypatch, how: str,  # noqa: F811
                                                                code: int) -> None:
    _ready(cluster)
    monkeypatch.setattr(applier, "apply_one", _stopping_after(2, how, applier.apply_one))
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default")
    assert result.code == code, result
    line = _error_line(result)
    name = "Ctrl-C (SIGINT)" if how == "SIGINT" else "SIGTERM"
    assert line.startswith(f"Error: waypoint apply stopped by {name}: applied ServiceAccount default/waypoint, "
                           "ClusterRole kmeshctl-waypoint; ClusterRoleBinding kmeshctl-waypoint-default-waypoint "
                           "being applied (it may have been); not applied: Service default/waypoint"), line
    assert "Gateway default/waypoint" in line.split("not applied: ")[1], line
    again = shlex.split(line.split("re-run `")[1].split("`")[0])
    remove = shlex.split(line.split("remove what was applied with `")[1].split("`")[0])
    assert again[3:] == ["waypoint", "apply", "-n", "default"], again
    assert remove[3:] == ["waypoint", "delete", "-n", "default"], remove
    monkeypatch.undo()
    _ready(cluster)
    assert cluster.kmeshctl(*again[3:]).code == 0  # the pasted command finishes it
    assert cluster.server.get(deploy.GATEWAY_API, "Gateway", "waypoint", "default") is not None


def test_a_stop_in_the_checks_says_nothing_was_applied(cluster, monkeypatch) -> None:  # noqa: F811
    _ready(cluster)
    monkeypatch.setattr(applier, "preflight", _stopping_after(0, "SIGTERM", applier.preflight))
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "-o", "json")
    assert result.code == 143, result
    assert "stopped by SIGTERM before anything was applied" in _error_line(result), result
    document = json.loads(result.out)
    assert document["applied"] == [] and len(document["notApplied"]) == 6 and document["error"], document


def test_a_stop_while_waiting_says_everything_was_applied(cluster, monkeypatch) -> None:  # noqa: F811
    _ready(cluster)

    def never_ready(*_: Any, **__: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(deploy, "wait_ready", never_ready)
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--wait")
    assert result.code == 130, result
    line = _error_line(result)
    assert "while waiting: all 6 objects of waypoint default/waypoint applied" in line, line
    assert "waypoint status -n default`" in line, line


@pytest.mark.parametrize("how, code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_stopped_delete_says_what_was_deleted_and_how_to_go_on(cluster, monkeypatch, how: str,  # noqa: F811
                                                                 code: int) -> None:
    _ready(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default").code == 0
    monkeypatch.setattr(deploy, "_delete_if_ours", _stopping_after(2, how, deploy._delete_if_ours))
    result = cluster.kmeshctl("waypoint", "delete", "-n", "default")
    assert result.code == code, result
    line = _error_line(result)
    assert "waypoint delete stopped by" in line and "deleted Gateway default/waypoint, Deployment default/waypoint; " \
        "Service default/waypoint being deleted (it may be gone); not deleted: ClusterRoleBinding " \
        "kmeshctl-waypoint-default-waypoint, ClusterRole kmeshctl-waypoint, ServiceAccount default/waypoint" \
        in line, line
    again = shlex.split(line.split("re-run `")[1].split("`")[0])
    assert again[3:] == ["waypoint", "delete", "-n", "default"], again
    monkeypatch.undo()
    assert cluster.kmeshctl(*again[3:]).code == 0
    assert cluster.server.get("v1", "ServiceAccount", "waypoint", "default") is None


def test_a_stopped_delete_o_json_carries_the_line(cluster, monkeypatch) -> None:  # noqa: F811
    _ready(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default").code == 0
    monkeypatch.setattr(deploy, "_delete_if_ours", _stopping_after(1, "SIGINT", deploy._delete_if_ours))
    result = cluster.kmeshctl("waypoint", "delete", "-n", "default", "-o", "json")
    assert result.code == 130, result
    document = json.loads(result.out)
    assert document["deleted"] == ["Gateway default/waypoint"] and "stopped by" in document["errors"][0], document
