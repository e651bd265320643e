"""Fixer f38f, t38c's findings 4, 5, 6, 9, 10, 11, 12, 13, 14 (pass 38).

4 waypoint apply --wait: the waiting lines on stderr (each as it comes), the object lines
  and the result on stdout, as install's.
5 waypoint apply --wait --replicas 0: refused before connecting, exit 2, with the line
  without --wait and the one with --replicas 1.
6 waypoint apply WORD, WORD an existing namespace (no -n): `-n WORD` offered (istioctl's
  habit); otherwise, or with the cluster not answering, `--name WORD`.
9 Ctrl-C during install's checks: `install stopped by ... before anything was applied`;
  waypoint delete / enable-ns stopped while connecting say nothing was changed.
10 install --image UPPER/Case:tag alone: a whole line.
11 enable-ns NS NOSUCH: `kubectl create namespace NOSUCH` and the re-run line.
12 status -n Kmesh with kmesh in kmesh-system: `-n kmesh-system` at once.
13 --dry-run=client on uninstall / waypoint: the spellings taken (=server too) and why not client.
14 dump maps: addresses sorted numerically, an agent's dump too.

Real parts: kmeshctl.cli.main in-process against the stand-in API server."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from kmeshctl import stopping
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd

BACKTICKED = re.compile(r"`([^`]*)`")


def _lines(text: str) -> list[list[str]]:
    return [shlex.split(c) for c in BACKTICKED.findall(text) if c.startswith("kmeshctl")]


def _ready(cluster: Any) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))


def _error(result: Any) -> str:
    return result.err.strip().splitlines()[-1]


@pytest.fixture(autouse=True)
def _fresh_stop_state(monkeypatch: Any) -> None:
    """In-process runs share kmeshctl.stopping's record of what a run said and left."""
    monkeypatch.setattr(stopping, "_said", False)
    monkeypatch.setattr(stopping, "_left", "")


# -- 4: waypoint apply's progress ----------------------------------------------------------------


def test_waypoint_apply_wait_progress_goes_to_stderr(cluster: Any) -> None:  # noqa: F811
    _ready(cluster)
    cluster.server.deployment_controller = "stuck"
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp4", "--wait", "--timeout", "1s")
    assert result.code == 1, result
    assert "waiting for waypoint default/wp4" in result.err and "waiting for" not in result.out, result
    assert "Deployment default/wp4 created" in result.out, result  # each object's line: stdout, as install's
    assert "created" not in result.err, result


def test_waypoint_apply_without_wait_prints_no_progress_on_stdout_but_the_objects(cluster: Any) -> None:  # noqa: F811
    _ready(cluster)
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp5")
    assert result.code == 0, result
    assert "waypoint default/wp5 applied" in result.out and "waiting" not in result.out + result.err, result


# -- 5: --wait with --replicas 0 -----------------------------------------------------------------


def test_wait_with_zero_replicas_is_refused_before_connecting(cluster: Any) -> None:  # noqa: F811
    _ready(cluster)
    before = len(cluster.server.requests) if hasattr(cluster.server, "requests") else None
    started = time.monotonic()
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp0", "--replicas", "0", "--wait",
                              "--timeout", "20s")
    assert result.code == 2 and time.monotonic() - started < 5, result
    assert result.err.count("\n") == 1 and "--wait with --replicas 0" in result.err, result.err
    if before is not None:
        assert len(cluster.server.requests) == before
    assert not cluster.server.writes()
    without_wait, one_pod = _lines(result.err)
    assert "--wait" not in without_wait and "--timeout" not in without_wait, without_wait
    assert without_wait[without_wait.index("--replicas") + 1] == "0" and "--kubeconfig" in without_wait
    assert one_pod[one_pod.index("--replicas") + 1] == "1" and "--wait" in one_pod, one_pod
    pasted = cluster.as_typed(*without_wait)
    assert pasted.code == 0 and "waypoint default/wp0 applied" in pasted.out, pasted
    deployment = cluster.server.get("apps/v1", "Deployment", "wp0", "default")
    assert deployment is not None and deployment["spec"]["replicas"] == 0, deployment


# -- 6: a stray word that names a namespace -------------------------------------------------------


def test_a_stray_namespace_word_is_offered_as_n(cluster: Any) -> None:  # noqa: F811
    _ready(cluster)
    cluster.server.put(namespace("t38c-a"))
    result = cluster.kmeshctl("waypoint", "apply", "t38c-a", "--replicas", "2")
    assert result.code == 2 and "t38c-a is a namespace: give it with -n" in result.err, result
    [line] = _lines(result.err)
    assert line[line.index("-n") + 1] == "t38c-a" and "--name" not in line and "--replicas" in line, line
    pasted = cluster.as_typed(*line)
    assert pasted.code == 0 and "waypoint t38c-a/waypoint applied" in pasted.out, pasted


def test_a_stray_word_that_is_no_namespace_stays_a_name(cluster: Any) -> None:  # noqa: F811
    result = cluster.kmeshctl("waypoint", "apply", "east")
    assert result.code == 2 and "give the name with --name" in result.err, result
    assert _lines(result.err)[0][-2:] == ["--name", "east"], result.err


def test_a_stray_word_with_n_given_stays_a_name(cluster: Any) -> None:  # noqa: F811
    cluster.server.put(namespace("t38c-a"))
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "t38c-a")
    assert result.code == 2 and "is a namespace" not in result.err and "--name t38c-a" in result.err, result


def test_a_cluster_that_does_not_answer_keeps_the_name_hint_quickly(cluster: Any, tmp_path: Path) -> None:  # noqa: F811
    silent = socket.socket()  # listens, never accepts: every request waits
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        text = cluster.kubeconfig.read_text()
        dead = tmp_path / f"dead-{os.getpid()}"
        dead.write_text(re.sub(r"https://127\.0\.0\.1:\d+", f"https://127.0.0.1:{silent.getsockname()[1]}", text))
        started = time.monotonic()
        result = cluster.as_typed("kmeshctl", "--kubeconfig", str(dead), "waypoint", "apply", "t38c-a")
        assert time.monotonic() - started < 6, "the hint waited for the cluster"
    finally:
        silent.close()
    assert result.code == 2 and "give the name with --name" in result.err, result


# -- 9: a stop before anything was applied ---------------------------------------------------------


@pytest.mark.parametrize("signum,how,code", [(signal.SIGINT, "Ctrl-C (SIGINT)", 130), (signal.SIGTERM, "SIGTERM", 143)])
def test_install_stopped_during_its_checks_says_nothing_was_applied(cluster: Any, monkeypatch: Any, signum: int,
                                                                    how: str, code: int) -> None:  # noqa: F811
    from kmeshctl.cli import cluster as cluster_cli

    def stopped(*_args: Any, **_kw: Any) -> None:
        raise stopping.Stopped(signum)

    monkeypatch.setattr(cluster_cli, "_plan", stopped)
    result = cluster.kmeshctl("install", "--cluster-id", "c1")
    assert result.code == code, result
    line = _error(result)
    assert line.startswith(f"Error: install stopped by {how} before anything was applied; re-run `kmeshctl "), line
    [again] = _lines(line)
    assert again[again.index("--cluster-id") + 1] == "c1" and "--kubeconfig" in again, again
    assert not cluster.server.writes()


def test_install_dry_run_stopped_during_its_checks(cluster: Any, monkeypatch: Any) -> None:  # noqa: F811
    from kmeshctl.cli import cluster as cluster_cli

    monkeypatch.setattr(cluster_cli, "_plan", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--dry-run")
    assert result.code == 130 and _error(result) == ("Error: install --dry-run stopped by Ctrl-C (SIGINT); nothing "
                                                     "was applied (a dry run applies nothing)"), result


def test_waypoint_delete_stopped_while_connecting_says_nothing_was_deleted(cluster: Any,  # noqa: F811
                                                                           monkeypatch: Any) -> None:
    from kmeshctl.cli import waypoint as waypoint_cli

    monkeypatch.setattr(waypoint_cli, "_client", lambda: (_ for _ in ()).throw(KeyboardInterrupt()))
    result = cluster.kmeshctl("waypoint", "delete", "-n", "default")
    assert result.code == 130, result
    assert _error(result).startswith("Error: waypoint delete stopped by Ctrl-C (SIGINT) before anything was "
                                     "deleted; re-run `kmeshctl "), result


def test_waypoint_apply_stopped_while_connecting_says_nothing_was_applied(cluster: Any,  # noqa: F811
                                                                          monkeypatch: Any) -> None:
    from kmeshctl.cli import waypoint as waypoint_cli

    monkeypatch.setattr(waypoint_cli, "_client", lambda: (_ for _ in ()).throw(KeyboardInterrupt()))
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default")
    assert result.code == 130, result
    assert _error(result).startswith("Error: waypoint apply stopped by Ctrl-C (SIGINT) before this run applied "
                                     "anything: it changed nothing; re-run `kmeshctl "), result  # (t39c 6)


def test_enable_ns_stopped_before_any_change(cluster: Any, monkeypatch: Any) -> None:  # noqa: F811
    from kmeshctl.cli import cluster as cluster_cli

    cluster.server.put(namespace("t38c-a"))
    monkeypatch.setattr(cluster_cli, "_checked_namespaces",
                        lambda client, *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()) if client else [])
    result = cluster.kmeshctl("enable-ns", "t38c-a")
    assert result.code == 130, result
    assert _error(result).startswith("Error: enable-ns stopped by Ctrl-C (SIGINT) before any namespace was changed; "
                                     "re-run `kmeshctl "), result
    assert "istio.io/dataplane-mode" not in cluster.server.get("v1", "Namespace", "t38c-a")["metadata"].get(
        "labels", {})


# -- 10: --image of capitals alone ---------------------------------------------------------------


def test_image_with_capitals_alone_gets_a_whole_line(cluster: Any) -> None:  # noqa: F811
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--image", "UPPER/Case:tag")
    assert result.code == 2 and result.err.count("\n") == 1, result
    assert "has capital letters" in result.err, result
    [line] = _lines(result.err)
    assert line[line.index("--image") + 1] == "upper/case:tag" and line[line.index("--cluster-id") + 1] == "c1", line
    assert "--kubeconfig" in line, line
    pasted = cluster.as_typed(*line, "--dry-run")
    assert "capital" not in pasted.err and pasted.code == 0, pasted


# -- 11: enable-ns of a namespace that does not exist ---------------------------------------------


def test_enable_ns_of_a_missing_namespace_offers_to_create_it(cluster: Any) -> None:  # noqa: F811
    cluster.server.put(namespace("t38c-a"))
    result = cluster.kmeshctl("enable-ns", "t38c-a", "nosuch2")
    assert result.code == 2, result
    line = _error(result)
    assert "create it first: `kubectl create namespace nosuch2" in line and "`, then re-run `kmeshctl " in line, line
    [again] = _lines(line)
    assert again[-2:] == ["t38c-a", "nosuch2"] or again[again.index("enable-ns") + 1:][:2] == ["t38c-a", "nosuch2"]
    cluster.server.put(namespace("nosuch2"))
    pasted = cluster.as_typed(*again)
    assert pasted.code == 0 and "namespace nosuch2 enrolled" in pasted.out, pasted


# -- 12: status -n Kmesh ----------------------------------------------------------------------


def _agent_daemonset(ns: str) -> dict:
    from kmeshctl.render import DAEMONSET_NAME, MANAGED_BY_LABEL

    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": DAEMONSET_NAME, "namespace": ns, "labels": {MANAGED_BY_LABEL[0]: MANAGED_BY_LABEL[1]}},
            "spec": {"selector": {"matchLabels": {"app": "kmesh"}},
                     "template": {"metadata": {"labels": {"app": "kmesh"}},
                                  "spec": {"containers": [{"name": "kmesh", "image": "x"}]}}}}


def test_status_of_a_bad_namespace_offers_the_install_s(cluster: Any) -> None:  # noqa: F811
    cluster.server.put(namespace("kmesh-system"))
    cluster.server.put(_agent_daemonset("kmesh-system"))
    result = cluster.kmeshctl("status", "-n", "Kmesh")
    assert result.code == 2, result
    line = _error(result)
    assert "-n Kmesh: not a valid namespace name" in line and "kmesh is installed in namespace kmesh-system" in line
    assert "did you mean" not in line, line
    [offered] = _lines(line)
    assert offered[offered.index("-n") + 1] == "kmesh-system" and "--kubeconfig" in offered, offered


def test_status_of_a_bad_namespace_without_install_offers_it_lower_cased(cluster: Any) -> None:  # noqa: F811
    result = cluster.kmeshctl("status", "-n", "Kmesh")
    assert result.code == 2 and "did you mean -n kmesh?" in result.err, result


# -- 13: --dry-run=client -----------------------------------------------------------------------


@pytest.mark.parametrize("words", [["uninstall"], ["waypoint", "apply"], ["waypoint", "delete"]], ids=" ".join)
def test_dry_run_client_says_the_spellings_taken(cluster: Any, words: list[str]) -> None:  # noqa: F811
    result = cluster.kmeshctl(*words, "--dry-run=client")
    assert result.code == 2 and result.err.count("\n") == 1, result
    assert "--dry-run=server is taken too, as the same" in result.err, result
    assert "not offered" in result.err or "is not taken" in result.err, result
    assert [w for w in _lines(result.err)[0] if w.startswith("--dry-run")] == ["--dry-run"], result.err
    taken = cluster.kmeshctl(*words, "--dry-run=server", "--help")
    assert taken.code == 0, taken


# -- 14: dump maps order ------------------------------------------------------------------------


ADDRESSES = ["10.244.0.10", "10.244.0.2", "fd00::1", "10.244.0.12", "9.0.0.1", "10.244.0.5"]


def test_map_keys_sort_addresses_numerically() -> None:
    from kmeshctl.dump import sorted_entries
    from kmeshctl.maps import FrontendKey, FrontendValue

    entries = [(FrontendKey(a), FrontendValue(i)) for i, a in enumerate(ADDRESSES, 1)]
    assert [str(k.addr) for k, _ in sorted_entries(entries)] == \
        ["9.0.0.1", "10.244.0.2", "10.244.0.5", "10.244.0.10", "10.244.0.12", "fd00::1"]


def test_an_agent_s_dump_is_shown_in_address_order() -> None:
    from rich.console import Console

    from kmeshctl.config_dump import print_maps_json_as_tables
    from kmeshctl.maps import FrontendKey, FrontendValue

    data = {"km_frontend": [{"key": FrontendKey(a).to_json(), "value": FrontendValue(i).to_json()}
                            for i, a in enumerate(ADDRESSES, 1)]}
    console = Console(record=True, width=200, force_terminal=False)
    print_maps_json_as_tables(data, "km_frontend", console)
    text = console.export_text()
    shown = [a for a in re.findall(r"(?<![\w:.])(\d+\.\d+\.\d+\.\d+|fd00::1)(?![\w.:])", text)]
    assert shown == ["9.0.0.1", "10.244.0.2", "10.244.0.5", "10.244.0.10", "10.244.0.12", "fd00::1"], text


def test_enable_ns_stopped_while_waiting_says_it_was_enrolled(cluster: Any, monkeypatch: Any) -> None:  # noqa: F811
    from kmeshctl import namespaces as ns_ops
    from kmeshctl.cli import cluster as cluster_cli

    cluster.server.put(namespace("t38c-a"))
    monkeypatch.setattr(cluster_cli, "_agent_to_wait_for", lambda *a: True)
    monkeypatch.setattr(ns_ops, "wait_for_annotations", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    result = cluster.kmeshctl("enable-ns", "t38c-a", "--wait")
    assert result.code == 130, result
    line = _error(result)
    assert line.startswith("Error: enable-ns stopped by Ctrl-C (SIGINT) while waiting, every namespace enrolled: "
                           "t38c-a; the node agents go on marking their pods: `kmeshctl "), line
    assert "--wait" in _lines(line)[0], line
    labels = cluster.server.get("v1", "Namespace", "t38c-a")["metadata"]["labels"]
    assert labels.get("istio.io/dataplane-mode") == "Kmesh", labels
