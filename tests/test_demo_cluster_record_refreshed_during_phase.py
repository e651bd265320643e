"""A run's weights record tells another host's run that it may still be going while its
time (`at`) is younger than OTHER_HOST_RUN_S: a phase longer than that (-c 100000) keeps it
young, rewriting it every DEMO_RECORD_REFRESH_S on the VirtualService as the run left it
(fenced by uid and resourceVersion); weights changed by someone else meanwhile are not
the run's any more, so the record's time is left alone, and the phase goes on either way."""

from __future__ import annotations

import json
import time
from typing import Any

from kmeshctl import demo, demo_cluster
from kmeshctl.demo_cluster import ORIGINAL_WEIGHTS, VS_API, ClusterTarget, running_elsewhere, weights_record
from test_demo_cluster_sweep_kills_only_its_loops import standin  # noqa: F401 - the fixture

REFRESH_S = 1.0


def _vs(server: Any) -> dict:
    return server.get(VS_API, "VirtualService", "fortio", "default")


def _record_at(server: Any) -> str:
    return json.loads(_vs(server)["metadata"]["annotations"][ORIGINAL_WEIGHTS])["at"]


def _read_for(cluster: ClusterTarget, seconds: float) -> int:
    """Read a phase's loop for ``seconds``: the lines read."""
    lines = cluster.run_loop(demo.loop_argv(cluster.service_url(), 100000))
    read, until = 0, time.monotonic() + seconds
    try:
        while time.monotonic() < until:
            next(lines)
            read += 1
    finally:
        lines.close()
    return read


def _vs_patches(server: Any, since: int) -> list[str]:
    return [r.path for r in server.requests[since:] if r.method == "PATCH" and "virtualservices" in r.path]


def test_a_long_phase_keeps_its_records_time_young(standin, monkeypatch) -> None:  # noqa: F811
    server, _, target = standin
    monkeypatch.setattr(demo_cluster, "DEMO_RECORD_REFRESH_S", REFRESH_S)
    cluster = target()
    cluster.prepare(lambda _: None)
    cluster.set_weights([50, 50])
    set_at = _record_at(server)
    time.sleep(1.1)  # the record's time has a resolution of 1 s
    assert _read_for(cluster, 2.5 * REFRESH_S) > 0
    assert _record_at(server) > set_at
    record = weights_record(_vs(server))
    assert record is not None and record.set is not None and record.set == cluster._set_http
    assert time.time() - record.at < 2 * REFRESH_S + 1
    # as another host's run sees it: the run may still be going
    monkeypatch.setattr(demo_cluster.socket, "gethostname", lambda: "another-host")
    assert running_elsewhere(record)


def test_weights_changed_by_someone_else_mid_phase_keep_the_records_time(standin, monkeypatch) -> None:  # noqa: F811
    server, _, target = standin
    monkeypatch.setattr(demo_cluster, "DEMO_RECORD_REFRESH_S", REFRESH_S)
    cluster = target()
    cluster.prepare(lambda _: None)
    cluster.set_weights([50, 50])
    vs = _vs(server)
    vs["spec"]["http"][0]["route"][0]["weight"], vs["spec"]["http"][0]["route"][1]["weight"] = 20, 80
    vs["metadata"].pop("managedFields", None)
    server.put(vs, manager="kubectl-patch")  # the user's edit mid-phase
    set_at, before = _record_at(server), len(server.requests)
    time.sleep(1.1)
    assert _read_for(cluster, 2.5 * REFRESH_S) > 0  # the phase goes on
    assert _vs_patches(server, before) == [] and _record_at(server) == set_at
