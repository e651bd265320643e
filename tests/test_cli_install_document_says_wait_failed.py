"""Helper f19g, kind "a document that reads as success after a failed or stopped wait":
`install -o json` printed `{"applied": [...], "changed": true}` as soon as the objects
were applied, so a SIGTERM (or Ctrl-C) during the rollout wait, or the wait timing out,
left stdout saying success while stderr said `Error: ...` and the exit code 143 / 1. Now,
as `waypoint apply -o json`, the document comes after the wait and, when the wait was
stopped or failed, carries `notApplied` (empty: every object was applied) and `error`,
the words of the Error line on stderr; -o yaml the same.

Real parts: the real console script in a child process and a real signal (the stand-in
API server over loopback, its DaemonSet never ready, so install waits); kmeshctl.cli.main
in-process against the stand-in for the timeout and the ready rollout."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import yaml

from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_cli_install_stopped_while_waiting import _stopped_while_waiting


def _error_line(err: str) -> str:
    """The Error line of stderr (the last one), without `Error: `."""
    [line] = [line for line in err.splitlines() if line.startswith("Error: ")]
    return line.removeprefix("Error: ")


@pytest.mark.parametrize("signum,output", [(signal.SIGTERM, "json"), (signal.SIGINT, "yaml")],
                         ids=["sigterm-json", "sigint-yaml"])
def test_a_stop_during_the_wait_is_in_the_document(cluster, tmp_path: Path, signum: int,  # noqa: F811
                                                    output: str) -> None:
    code, out, err = _stopped_while_waiting(cluster, tmp_path, signum, "-n", "kmesh-f19g", "-o", output)
    assert code == 128 + signum, (code, err)
    document = json.loads(out) if output == "json" else yaml.safe_load(out)
    assert len(document["applied"]) == 10 and document["changed"] is True, out
    assert document["notApplied"] == [], out
    assert "while waiting for the rollout: every object applied" in document["error"], out
    assert document["error"] == _error_line(err), (out, err)


def test_a_rollout_timeout_is_in_the_document(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "-n", "kmesh-f19g", "--timeout", "1", "-o", "json")
    assert result.code == 1, result
    document = json.loads(result.out)
    assert len(document["applied"]) == 10 and document["notApplied"] == [], result.out
    assert document["error"].startswith("DaemonSet kmesh-f19g/kmesh not ready after 1s"), result.out
    assert document["error"] == _error_line(result.err), (result.out, result.err)


def test_a_ready_rollout_s_document_has_no_error(cluster) -> None:  # noqa: F811
    cluster.server.daemonset_controller = "ready"
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "-n", "kmesh-f19g", "--timeout", "20", "-o", "yaml")
    assert result.code == 0, result
    document = yaml.safe_load(result.out)
    assert set(document) == {"applied", "changed"} and len(document["applied"]) == 10, result.out
    assert "is ready" in result.err, result.err


def test_no_wait_prints_the_document_at_once(cluster, monkeypatch) -> None:  # noqa: F811
    from kmeshctl.cli import cluster as commands

    def never(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("--no-wait waited")

    monkeypatch.setattr(commands, "wait_for_rollout", never)
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "-n", "kmesh-f19g", "--no-wait", "-o", "json")
    assert result.code == 0 and set(json.loads(result.out)) == {"applied", "changed"}, result
