"""Pass-28 new-user findings on other tools' words (fixer F28-B), in-process through
kmeshctl.cli.main (sandbox records in a temporary state root; a cluster only where a test
starts the stand-in API server; a pasted kmeshctl line must get past parsing and every
flag check: the commands' own work is stubbed to exit 7):

- 1: kubectl's `get pods --sandbox X` (or --name X, `get svc`, `describe pod`) offered
  kubectl's line with kmeshctl's flag (kubectl refuses it) and `kmeshctl status`: now the
  sandbox's status; so too with no cluster configured and sandboxes up;
- 2: `get waypoints --sandbox X` took X for a waypoint's name: now the sandbox's status, as
  `waypoint list --sandbox X` says;
- 3: istioctl's `manifest generate` with a cluster configured offered render with the
  example istiod address and cluster id: now the cluster's (the typed ones kept);
- 4: istioctl's `bug-report` listed the commands: now what kmeshctl offers instead, as for
  cilium's sysdump; other tools' verbs (dashboard, kube-inject, hubble, clustermesh,
  config) get a hint that pastes or none to paste.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from standin_apiserver import cluster, make_cluster  # noqa: F401 (fixtures)
from test_cli_kinds import _dead_kubeconfig, _record, cli, no_env, state_root  # noqa: F401
from test_p23_command_hints import BACKTICKED, STUBBED, _assert_pastable, _line, stubbed  # noqa: F401
from test_p24_install import _istiod_deployment
from test_p24_status_dump import _agents

SANDBOX = "t28b-one"


@pytest.fixture
def offline(tmp_path: Path, monkeypatch, no_env) -> None:  # noqa: F811
    """No cluster configured: no ~/.kube/config, no $KUBECONFIG."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def _commands(line: str, program: str = "kmeshctl") -> list[list[str]]:
    return [shlex.split(found) for found in BACKTICKED.findall(line) if found.startswith(program)]


# ------------------------------------------------------------------ 1. kubectl's kinds with a sandbox named


@pytest.mark.parametrize("configured", [False, True], ids=["no-cluster", "cluster"])
@pytest.mark.parametrize("words,extra", [
    (["get", "pods", "--sandbox", SANDBOX], []),
    (["get", "pods", "--name", SANDBOX], []),
    (["get", "svc", f"--sandbox={SANDBOX}", "-o", "wide"], ["-o", "wide"]),
    (["describe", "pod", "x", "--sandbox", SANDBOX], []),
    (["-n", "foo", "get", "pods", "--sandbox", SANDBOX], []),
], ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_1_a_sandbox_named_gets_its_status_and_no_kubectl_line(stubbed, state_root, capsys, offline,  # noqa: F811
                                                               tmp_path: Path, configured: bool,
                                                               words: list[str], extra: list[str]) -> None:
    _record(SANDBOX)
    typed = ["--kubeconfig", str(_dead_kubeconfig(tmp_path / "dead.yaml"))] if configured else []
    line = _line(capsys, *typed, *words)
    assert _commands(line) == [["kmeshctl", "sandbox", "status", *extra, "--name", SANDBOX]], line
    assert not _commands(line, "kubectl") and "`kmeshctl status`" not in line, line
    _assert_pastable(capsys, line)


@pytest.mark.parametrize("sandboxes,named", [([SANDBOX], []), ([SANDBOX, "t28b-two"], ["--name", SANDBOX])])
def test_1_no_cluster_and_sandboxes_up_gets_a_sandboxs_status(stubbed, state_root, capsys, offline,  # noqa: F811
                                                              sandboxes: list[str], named: list[str]) -> None:
    for name in sandboxes:
        _record(name)
    line = _line(capsys, "get", "pods")
    assert "no cluster is configured" in line and not _commands(line, "kubectl"), line
    assert _commands(line) == [["kmeshctl", "sandbox", "status", *named]], line
    _assert_pastable(capsys, line)


def test_1_an_unknown_sandbox_is_said_and_the_others_listed(stubbed, state_root, capsys, offline) -> None:  # noqa: F811
    _record(SANDBOX)
    line = _line(capsys, "get", "pods", "--sandbox", "t28b-nope")
    assert not _commands(line) and not _commands(line, "kubectl"), line
    assert "--name t28b-nope: no sandbox has this name" in line and SANDBOX in line, line


def test_1_a_cluster_and_no_sandbox_named_keeps_kubectls_line(stubbed, state_root, capsys, offline,  # noqa: F811
                                                              tmp_path: Path) -> None:
    _record(SANDBOX)
    kubeconfig = str(_dead_kubeconfig(tmp_path / "dead.yaml"))
    line = _line(capsys, "--kubeconfig", kubeconfig, "get", "pods", "-n", "foo")
    assert _commands(line, "kubectl") == [["kubectl", "--kubeconfig", kubeconfig, "get", "pods", "-n", "foo"]], line
    assert "sandbox status" not in line, line


# ------------------------------------------------------------------ 2. kubectl's waypoints with --sandbox


@pytest.mark.parametrize("words", [
    ["get", "waypoints", "--sandbox", SANDBOX], ["get", "waypoint", "--sandbox", SANDBOX],
    ["get", "waypoints", "--name", "wp", "--sandbox", SANDBOX, "-n", "foo"],
    ["describe", "waypoint", "wp", f"--sandbox={SANDBOX}"], ["delete", "waypoint", "--sandbox", SANDBOX],
], ids=" ".join)
def test_2_waypoints_of_a_sandbox_are_its_status(stubbed, state_root, capsys, offline,  # noqa: F811
                                                  words: list[str]) -> None:
    _record(SANDBOX)
    line = _line(capsys, *words)
    assert _commands(line) == [["kmeshctl", "sandbox", "status", "--name", SANDBOX]], line
    assert f"waypoint {SANDBOX}" not in line and "waypoint status --name" not in line, line
    _assert_pastable(capsys, line)


# ------------------------------------------------------------------ 3. manifest generate on a cluster


@pytest.mark.parametrize("typed", [[], ["--cluster-id", "tier-9c6a08"]], ids=["bare", "cluster-id"])
def test_3_manifest_generate_gets_the_clusters_istiod_and_id(make_cluster, stubbed, typed: list[str]  # noqa: F811
                                                             ) -> None:
    running = make_cluster(istiod_names=("istiod",))
    _istiod_deployment(running, [{"name": "CLUSTER_ID", "value": "tier-9c6a08"}], name="istiod")
    result = running.kmeshctl("manifest", "generate", *typed)
    assert result.code == 2, result
    [render] = _commands(result.err)
    assert render[render.index("render") + 1:] in (
        ["--xds-address", "istiod.istio-system.svc:15012", "--cluster-id", "tier-9c6a08"],
        ["--cluster-id", "tier-9c6a08", "--xds-address", "istiod.istio-system.svc:15012"]), result.err
    assert "istiod-1-22-6" not in result.err and " c1" not in result.err, result.err
    assert running.as_typed(*render).code == STUBBED


def test_3_a_cluster_that_does_not_answer_gets_the_unrevisioned_istiod(stubbed, capsys, offline,  # noqa: F811
                                                                       tmp_path: Path) -> None:
    kubeconfig = str(_dead_kubeconfig(tmp_path / "dead.yaml"))
    line = _line(capsys, "--kubeconfig", kubeconfig, "manifest", "generate")
    [render] = _commands(line)
    assert ["--xds-address", "istiod.istio-system.svc:15012"] == render[render.index("--xds-address"):][:2], line
    assert "without a revision, the cluster could not be reached" in line, line
    assert "istiod-1-22-6" not in line, line


# ------------------------------------------------------------------ 4. bug-report and other tools' verbs


def test_4_bug_report_names_what_kmeshctl_offers(stubbed, state_root, capsys, offline) -> None:  # noqa: F811
    line = _line(capsys, "bug-report")
    assert "none gathers a bundle (istioctl's bug-report)" in line and "its commands:" not in line, line
    assert [c[1:] for c in _commands(line)] == [["status", "-o", "yaml"], ["dump", "config"], ["dump", "maps"],
                                                ["precheck"]], line
    assert _commands(line, "kubectl") == [["kubectl", "logs", "-n", "kmesh-system", "-l", "app=kmesh"]], line
    _assert_pastable(capsys, line)


def test_4_bug_report_on_a_cluster_keeps_the_kubeconfig_and_names_an_agent(cluster, stubbed, capsys,  # noqa: F811
                                                                           no_env) -> None:
    agent = _agents(cluster.server)[0]
    kubeconfig = str(cluster.kubeconfig)
    line = _line(capsys, "--kubeconfig", kubeconfig, "bug-report")
    given = ["--kubeconfig", kubeconfig]
    assert _commands(line) == [["kmeshctl", *given, "status", "-o", "yaml"],
                               ["kmeshctl", *given, "dump", "config", "--pod", agent, "-n", "kmesh-system"],
                               ["kmeshctl", *given, "dump", "maps", "--pod", agent, "-n", "kmesh-system"],
                               ["kmeshctl", *given, "precheck"]], line
    assert _commands(line, "kubectl") == [["kubectl", "logs", "-n", "kmesh-system", "-l", "app=kmesh", *given]], line
    _assert_pastable(capsys, line)


@pytest.mark.parametrize("words,said", [
    (["dashboard"], "kmeshctl opens no dashboard (istioctl's dashboard"),
    (["dashboard", "kiali"], "kmeshctl opens no dashboard"),
    (["kube-inject", "-f", "app.yaml"], "kmesh injects no sidecar (istioctl's kube-inject): a namespace's pods are "
                                        "put in the mesh by labelling it, kmeshctl enable-ns NAMESPACE"),
    (["hubble", "observe"], "kmeshctl observes no flows (cilium's hubble)"),
    (["clustermesh", "status"], "kmesh joins no clusters (cilium's clustermesh)"),
    (["config", "view"], "kmeshctl has no config command (cilium's config)"),
    (["x", "precheck"], "did you mean `kmeshctl precheck`?"),
    (["admin", "log"], "the node agents' logs"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_4_other_tools_verbs_get_a_hint_that_pastes(stubbed, state_root, capsys, offline,  # noqa: F811
                                                    words: list[str], said: str) -> None:
    line = _line(capsys, *words)
    assert said in line and "its commands:" not in line, line
    assert "takes no" not in line, line  # kube-inject's -f: enable-ns is named, not offered
    assert all(c[1:2] != ["enable-ns"] for c in _commands(line)), line  # labelling changes the cluster
    _assert_pastable(capsys, line)
