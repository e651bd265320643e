"""Findings of a new-user tester on a real cluster (p26), against the stand-in API server:

1a. a --cluster-id that is not the one istiod's Deployment names (its CLUSTER_ID, or Istio's
    default `Kubernetes` when unset) is refused before anything is written (install, install
    --dry-run), exit 2, one line whose fix (istiod's id, every flag typed) is accepted; precheck
    --cluster-id shows it as a failed row. No Deployment (ASM): nothing changes.
1b. a bare Service name (`--xds-address istiod:15012`) is refused with the Service's full name.
1c. an istiod Service's ClusterIP is refused with the Service's DNS name.
1d. the rollout wait stops early when every agent not ready reports the same istiod refusal,
    exit 1, and never suggests a longer --timeout for it.
2.  the install suggested when --cluster-id is missing or kmesh is not installed carries
    istiod's cluster id when its Deployment names it (the placeholder otherwise).

Real parts: kmeshctl.cli.main in-process against the stand-in API server; the agents' admin
endpoint (config_dump.fetch_from_pod) and the DaemonSet's state are replaced."""

from __future__ import annotations

import json
import shlex

import pytest

from standin_apiserver import cluster, make_cluster, namespace  # noqa: F401 (fixture)
from test_cli_kinds import cli, no_env  # noqa: F401 (fixture)
from test_p24_install import ISTIOD, REFUSED, _agents_say, _commands, _istiod_deployment, _rollout_ready, _writes

SERVICE = "istiod-1-22-6"


def _one_error_line(result) -> str:  # noqa: F811
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.err
    return lines[0]


def _pasted(cluster, line: str):  # noqa: F811
    """The one kmeshctl command of ``line`` run as pasted (the stand-in's --kubeconfig in it)."""
    [command] = _commands(line, "kmeshctl")
    assert command[1:3] == ["--kubeconfig", str(cluster.kubeconfig)], command
    return cluster.kmeshctl(*command[3:])


def _words(command: list[str]) -> tuple[str, set[tuple[str, ...]]]:
    """(the subcommand, its flags as (flag, value) pairs or (flag,)) of a pasted command
    after `kmeshctl --kubeconfig K`: the order the flags are given in is not the point."""
    words, pairs, i = command[4:], set(), 0
    while i < len(words):
        takes = i + 1 < len(words) and not words[i + 1].startswith("-")
        pairs.add(tuple(words[i:i + 2]) if takes else (words[i],))
        i += 2 if takes else 1
    return command[3], pairs


def _nothing_sent(cluster) -> None:  # noqa: F811
    assert not _writes(cluster) and not [r for r in cluster.server.requests if r.dry_run], cluster.server.requests


# -- 1a: --cluster-id against istiod's own -------------------------------------------------------


@pytest.mark.parametrize("env, own", [([{"name": "CLUSTER_ID", "value": "tier-bf2229"}], "tier-bf2229"),
                                      (None, "Kubernetes")], ids=["set", "istios-default"])
@pytest.mark.parametrize("extra", [(), ("--dry-run",)], ids=["install", "dry-run"])
def test_a_cluster_id_not_istiods_is_refused_before_anything(cluster, monkeypatch, env, own,  # noqa: F811
                                                             extra) -> None:
    _istiod_deployment(cluster, env)
    waits = () if extra else ("--timeout", "7")  # a dry run waits for nothing: --timeout would be warned of
    result = cluster.kmeshctl("install", "-n", "kmesh-f265", "--cluster-id", "tier-bf2229x", *waits, *extra)
    assert result.code == 2 and not result.out, result
    line = _one_error_line(result)
    assert line.startswith(f"Error: --cluster-id tier-bf2229x: not istiod's cluster id, which is {own}"), line
    _nothing_sent(cluster)
    [command] = _commands(line, "kmeshctl")
    assert _words(command) == _words(["kmeshctl", "--kubeconfig", "K", "install", "-n", "kmesh-f265",
                                      "--cluster-id", own, *(("--timeout", "7s") if waits else ()), *extra]), command
    _rollout_ready(monkeypatch)
    pasted = _pasted(cluster, line)
    assert pasted.code == 0, pasted


def test_with_istiod_outside_the_cluster_any_cluster_id_is_taken(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("install", "--cluster-id", "asm-cluster", "--dry-run")  # ASM: no istiod Deployment
    assert result.code == 0, result


def test_an_istiod_whose_cluster_id_comes_from_elsewhere_is_not_checked(cluster) -> None:  # noqa: F811
    _istiod_deployment(cluster, [{"name": "CLUSTER_ID", "valueFrom": {"configMapKeyRef": {"name": "x", "key": "y"}}}])
    assert cluster.kmeshctl("install", "--cluster-id", "any", "--dry-run").code == 0


def _precheck_rows(cluster, *args: str) -> dict:  # noqa: F811
    result = cluster.kmeshctl("precheck", "-o", "json", *args)
    return {row["name"]: row for row in json.loads(result.out)["checks"]}


def test_precheck_names_istiods_cluster_id_and_fails_another(cluster) -> None:  # noqa: F811
    from kmeshctl import precheck
    from kmeshctl.kube import KubeTarget, connect

    assert "istiod cluster id" not in _precheck_rows(cluster)  # no Deployment (ASM): no row
    _istiod_deployment(cluster, [{"name": "CLUSTER_ID", "value": "tier-bf2229"}])
    row = _precheck_rows(cluster)["istiod cluster id"]
    assert row["status"] == "pass" and "install with --cluster-id tier-bf2229" in row["detail"], row
    client = connect(KubeTarget(str(cluster.kubeconfig)))
    [same] = precheck.check_istiod_cluster_id(client, "istio-system", "tier-bf2229")
    [other] = precheck.check_istiod_cluster_id(client, "istio-system", "tier-bf2229x")
    assert same.status == "pass" and other.status == "fail", (same, other)
    assert "--cluster-id tier-bf2229x: not istiod's cluster id" in other.detail, other
    assert other.fix == "install with istiod's: `kmeshctl install --cluster-id tier-bf2229`", other


# -- 1b / 1c: addresses the agents cannot use -----------------------------------------------------


@pytest.mark.parametrize("extra", [(), ("--dry-run",)], ids=["install", "dry-run"])
def test_a_bare_service_name_is_refused_with_its_full_name(cluster, monkeypatch, extra) -> None:  # noqa: F811
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--xds-address", f"{SERVICE}:15012", *extra)
    assert result.code == 2 and not result.out, result
    line = _one_error_line(result)
    assert "a bare Service name resolves only in the agents' own namespace (kmesh-system)" in line, line
    _nothing_sent(cluster)
    [command] = _commands(line, "kmeshctl")
    assert _words(command) == _words(["kmeshctl", "--kubeconfig", "K", "install", "--cluster-id", "c1",
                                      "--xds-address", ISTIOD, *extra]), command
    _rollout_ready(monkeypatch)
    assert _pasted(cluster, line).code == 0


def test_istiods_cluster_ip_is_refused_with_its_dns_name(cluster, monkeypatch) -> None:  # noqa: F811
    ip = cluster.server.get("v1", "Service", SERVICE, "istio-system")["spec"]["clusterIP"]
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--xds-address", f"{ip}:15012", "--dry-run")
    assert result.code == 2 and not result.out, result
    line = _one_error_line(result)
    assert f"--xds-address {ip}:15012: the ClusterIP of Service istio-system/{SERVICE}" in line, line
    _nothing_sent(cluster)
    [command] = _commands(line, "kmeshctl")
    assert _words(command) == _words(["kmeshctl", "--kubeconfig", "K", "install", "--cluster-id", "c1",
                                      "--xds-address", ISTIOD, "--dry-run"]), command
    assert _pasted(cluster, line).code == 0


def test_the_help_shows_no_bare_service_name(capsys, no_env) -> None:  # noqa: F811
    code, out, _ = cli(capsys, "install", "--help")
    assert code == 0 and "istiod:15012" not in out, out


# -- 1d: the wait stops on a refusal waiting cannot end -------------------------------------------


@pytest.fixture
def quick_watch(monkeypatch):
    from kmeshctl import rollout

    monkeypatch.setattr(rollout, "REFUSAL_HOLD_S", 1.5)
    monkeypatch.setattr(rollout, "REFUSAL_CHECK_S", 0.0)


DNS = ("UNAVAILABLE: DNS resolution failed for istiod:15012: C-ares status is not ARES_SUCCESS qtype=A name=istiod "
       "is_balancer=0: DNS server returned general failure")
HOSTNAME = ("UNAVAILABLE: failed to connect to all addresses; last error: UNKNOWN: ipv4:10.96.0.9:15012: Custom "
            "verification check failed with error: UNAUTHENTICATED: Hostname Verification Check failed.")


@pytest.mark.parametrize("address, error", [(ISTIOD, REFUSED), ("istiod:15012", DNS), ("10.96.0.9:15012", HOSTNAME)],
                         ids=["unauthenticated", "dns", "hostname"])
def test_a_refusal_every_agent_reports_stops_the_wait_early(cluster, monkeypatch, quick_watch, address,  # noqa: F811
                                                             error) -> None:
    _agents_say(monkeypatch, address, error)
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--timeout", "5m")
    assert result.code == 1, result
    last = result.err.strip().splitlines()[-1]
    assert last.startswith("Error: DaemonSet kmesh-system/kmesh not ready: every agent not ready has reported the "
                           "same refusal"), last
    assert "--timeout" not in last.replace("--timeout 5m", ""), last  # never "wait longer"
    assert "not ready after 5m" not in result.err, result.err


def test_agents_that_do_not_agree_are_waited_for_until_the_limit(cluster, monkeypatch,  # noqa: F811
                                                                  quick_watch) -> None:
    _agents_say(monkeypatch, ISTIOD, "UNAVAILABLE: failed to connect to all addresses: Connection refused")
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--timeout", "3")
    assert result.code == 1 and "not ready after 3s" in result.err.strip().splitlines()[-1], result.err


def test_refusal_kinds() -> None:
    from kmeshctl.rollout import refusal_kind

    assert [refusal_kind(e) for e in (REFUSED, DNS, HOSTNAME, "UNAVAILABLE: Connection refused", "")] == \
        ["unauthenticated", "dns", "hostname", "", ""]


# -- 2: istiod's cluster id in the install suggested ----------------------------------------------


def test_install_without_cluster_id_suggests_istiods(cluster, monkeypatch) -> None:  # noqa: F811
    result = cluster.kmeshctl("install", "-n", "kmesh-f265")
    assert result.code == 2 and "--cluster-id c1" in result.err, result  # no Deployment: the example stays
    _istiod_deployment(cluster, [{"name": "CLUSTER_ID", "value": "tier-bf2229"}])
    result = cluster.kmeshctl("install", "-n", "kmesh-f265")
    line = _one_error_line(result)
    [command] = _commands(line, "kmeshctl")
    assert _words(command) == _words(["kmeshctl", "--kubeconfig", "K", "install", "-n", "kmesh-f265",
                                      "--cluster-id", "tier-bf2229"]), line
    _rollout_ready(monkeypatch)
    assert _pasted(cluster, line).code == 0


def test_status_and_enable_ns_of_no_install_suggest_istiods_cluster_id(cluster, monkeypatch) -> None:  # noqa: F811
    result = cluster.kmeshctl("status")
    assert "install --cluster-id ID` with ID this cluster's id" in result.out, result  # not known: placeholder
    _istiod_deployment(cluster, [{"name": "CLUSTER_ID", "value": "tier-bf2229"}])
    result = cluster.kmeshctl("status")
    assert result.code == 1 and "install --cluster-id tier-bf2229` (istiod's cluster id)" in result.out, result
    state = json.loads(cluster.kmeshctl("status", "-o", "json").out)
    assert "install --cluster-id tier-bf2229`" in state["problems"][0], state
    cluster.server.put(namespace("f265-app"))
    enabled = cluster.kmeshctl("enable-ns", "f265-app")
    assert "install --cluster-id tier-bf2229`" in enabled.err, enabled
    command = _commands(result.out, "kmeshctl")[0]
    assert _words(command) == _words(["kmeshctl", "--kubeconfig", "K", "install", "--cluster-id", "tier-bf2229"])
    _rollout_ready(monkeypatch)
    assert cluster.kmeshctl(*command[3:]).code == 0, shlex.join(command)


def test_version_demo_and_enable_ns_wait_of_no_install_suggest_istiods_cluster_id(cluster) -> None:  # noqa: F811
    _istiod_deployment(cluster, [{"name": "CLUSTER_ID", "value": "tier-bf2229"}])
    cluster.server.put(namespace("f265-app"))
    runs = {"version": cluster.kmeshctl("version"),
            "demo": cluster.kmeshctl("demo", "traffic-shift", "--target", "cluster"),
            "enable-ns --wait": cluster.kmeshctl("enable-ns", "f265-app", "--wait")}
    for what, result in runs.items():
        said = result.out + result.err
        assert "install --cluster-id tier-bf2229`" in said and "ID this cluster's id" not in said, (what, said)


def test_precheck_cluster_id_fails_the_row_on_another_with_install_to_paste(cluster) -> None:  # noqa: F811
    _istiod_deployment(cluster, [{"name": "CLUSTER_ID", "value": "tier-bf2229"}])
    result = cluster.kmeshctl("precheck", "--cluster-id", "tier-bf2229x", "-o", "json")
    assert result.code == 1, result
    row = {r["name"]: r for r in json.loads(result.out)["checks"]}["istiod cluster id"]
    assert row["status"] == "fail" and "--cluster-id tier-bf2229x: not istiod's cluster id" in row["detail"], row
    [command] = _commands(row["fix"], "kmeshctl")
    assert _words(command) == _words(["kmeshctl", "--kubeconfig", "K", "install", "--cluster-id", "tier-bf2229"]), row
    same = {r["name"]: r for r in json.loads(cluster.kmeshctl("precheck", "--cluster-id", "tier-bf2229", "-o",
                                                              "json").out)["checks"]}["istiod cluster id"]
    assert same["status"] == "pass" and "install with" not in same["detail"], same
