"""Pass 32 (issue 14; fixer f32e), findings of a new-user pass:

1. completion: after `--` only a command taking a command there (`sandbox exec POD --`)
   completes the host's commands (`status -- <TAB>`, `enable-ns foo -- <TAB>`: nothing);
   a leading `-n <TAB>` (`kmeshctl -n`, `--namespace`, `kmeshctl demo -n`) offers the
   cluster's namespaces only, never a sandbox's (docs/usage.md: nothing without a kubeconfig);
2. Ctrl-C during an install after an uninstall that kept the namespace (it held a user's
   ConfigMap) is no "earlier install": the line offers re-run or uninstall;
3. enable-ns / disable-ns tables: a pod the agent never marks says why in ANNOTATED
   (`no (waypoint pod)`), -o wide adds EXPECTED (-o json's expected), -o json `skipped`;
4. install with several istiod revisions gives an install line to paste for each one,
   every typed flag kept.

Real parts: the real bash running `kmeshctl completion bash` with sandbox records in a
temporary state root (test_cli_value_completion's tree); kmeshctl.cli.main in-process
against the stand-in API server (tests/standin); a real SIGINT sent to this process."""
from __future__ import annotations

import json
import shlex
import signal
from pathlib import Path

import pytest

from kmeshctl.cli.completion import COMMAND_LINE, NOTHING_LINE
from standin_apiserver import app_pod, cluster, make_cluster, namespace  # noqa: F401 (fixtures)
from test_cli_completion_after_dashes import TOOL, _with_tool
from test_cli_install_conflicts_and_namespaces import signal_when_applying
from test_cli_value_completion import NAMESPACES, bash, interactive, protocol, standin, tree  # noqa: F401
from test_p31_demo_completion import _with_demo

# -- 1 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("line", ["kmeshctl status -- ", "kmeshctl status -- kube", "kmeshctl enable-ns foo -- ",
                                  "kmeshctl version -- "])
def test_after_dashes_a_command_taking_none_offers_nothing(line: str, tree: Path) -> None:  # noqa: F811
    assert protocol(line, tree) == [NOTHING_LINE]


def test_after_dashes_sandbox_exec_still_offers_commands_then_files(tree: Path) -> None:  # noqa: F811
    assert protocol("kmeshctl sandbox exec netutils -- ", tree) == [COMMAND_LINE]
    _with_tool(tree)
    assert TOOL not in interactive("bash", f"kmeshctl status -- {TOOL[:7]}", tree)
    assert TOOL in interactive("bash", f"kmeshctl sandbox exec netutils -- {TOOL[:7]}", tree)


def test_a_leading_namespace_flag_never_offers_a_sandboxs_namespaces(tree: Path) -> None:  # noqa: F811
    _with_demo(tree, "p32-demo", {"default": True, "team-a": True})  # what the tester's machine had up
    for line in ("kmeshctl -n ", "kmeshctl --namespace ", "kmeshctl demo -n ", "kmeshctl sandbox -n ",
                 "kmeshctl status -n "):
        assert bash(line, tree) == [], line
    # the commands' own -n still complete a sandbox's namespaces
    assert bash("kmeshctl demo traffic-shift --sandbox p32-demo -n ", tree) == ["default", "team-a"]
    assert bash("kmeshctl sandbox exec -n ", tree) == ["default", "h46-one", "h46-two", "team-a"]


def test_a_leading_namespace_flag_offers_the_clusters(tree: Path, standin: Path) -> None:  # noqa: F811
    _with_demo(tree, "p32-demo", {"team-a": True})
    assert bash(f"kmeshctl --kubeconfig {standin} -n ", tree) == NAMESPACES
    assert bash(f"kmeshctl --kubeconfig {standin} waypoint -n h46-", tree) == ["h46-apps", "h46-team"]
    assert bash(f"kmeshctl --kubeconfig {standin} sandbox -n ", tree) == []  # its commands' -n: a sandbox's


# -- 2 ---------------------------------------------------------------------------------------------

NS = "kmesh-system"


def _uninstalled_keeping_the_namespace(cluster) -> None:  # noqa: F811
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0
    cluster.server.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p32-mine", "namespace": NS},
                        "data": {"a": "b"}}, "kubectl-create")
    assert cluster.kmeshctl("uninstall", "-q").code == 0
    assert cluster.server.get("v1", "Namespace", NS) is not None
    assert "Not installed" in cluster.kmeshctl("status").out


@pytest.mark.parametrize("at_kind", ["Namespace", "ClusterRole"])
def test_ctrl_c_after_an_uninstall_that_kept_the_namespace_is_no_earlier_install(cluster, monkeypatch,
                                                                                 at_kind) -> None:  # noqa: F811
    _uninstalled_keeping_the_namespace(cluster)
    signal_when_applying(monkeypatch, at_kind, signal.SIGINT)
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q")
    assert result.code == 130, result
    line = result.err.strip().splitlines()[-1]
    assert line.startswith("Error: install stopped by Ctrl-C (SIGINT): "), line
    assert "earlier install" not in line, line
    assert "re-run `" in line and "or remove what was applied with `" in line and " uninstall" in line, line


def test_ctrl_c_over_a_real_install_still_says_it_is_unchanged(cluster, monkeypatch) -> None:  # noqa: F811
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0
    signal_when_applying(monkeypatch, "Namespace", signal.SIGINT)
    line = cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").err.strip().splitlines()[-1]
    assert "the earlier install is unchanged: re-run `" in line and "uninstall" not in line, line


# -- 3 ---------------------------------------------------------------------------------------------


def _waypoint_namespace(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("p32-apps"))
    cluster.server.put(app_pod("fortio-v1", "p32-apps", annotated=True))
    waypoint = app_pod("waypoint-abc", "p32-apps")
    waypoint["metadata"]["labels"]["gateway.istio.io/managed"] = "istio.io-mesh-controller"
    cluster.server.put(waypoint)
    bypass = app_pod("bypassed", "p32-apps")
    bypass["metadata"]["labels"]["kmesh.net/bypass"] = "enabled"
    cluster.server.put(bypass)


def _row(out: str, pod: str) -> list[str]:
    line = next(line for line in out.splitlines() if f" {pod} " in line)
    return [cell.strip() for cell in line.split("  ") if cell.strip()]


def test_enable_ns_table_says_why_a_pod_is_never_marked(cluster) -> None:  # noqa: F811
    _waypoint_namespace(cluster)
    table = cluster.kmeshctl("enable-ns", "p32-apps")
    assert table.code == 0, table
    assert _row(table.out, "waypoint-abc") == ["p32-apps", "waypoint-abc", "Running", "no (waypoint pod)"], table.out
    assert _row(table.out, "fortio-v1") == ["p32-apps", "fortio-v1", "Running", "yes"], table.out
    assert "EXPECTED" not in table.out, table.out


def test_enable_ns_wide_shows_what_json_knows(cluster) -> None:  # noqa: F811
    _waypoint_namespace(cluster)
    wide = cluster.kmeshctl("enable-ns", "p32-apps", "-o", "wide")
    header = next(line for line in wide.out.splitlines() if line.startswith("NAMESPACE")).split()
    assert header[:5] == ["NAMESPACE", "POD", "PHASE", "ANNOTATED", "EXPECTED"], wide.out  # IP, NODE: none here
    assert _row(wide.out, "waypoint-abc")[3:5] == ["no (waypoint pod)", "no"], wide.out
    assert _row(wide.out, "fortio-v1")[3:5] == ["yes", "yes"], wide.out
    assert _row(wide.out, "bypassed")[3:5] == ["no", "yes unless --enable-bypass"], wide.out
    pods = {p["name"]: p for p in json.loads(cluster.kmeshctl("enable-ns", "p32-apps", "-o", "json").out)["pods"]}
    assert pods["waypoint-abc"]["expected"] is False and pods["waypoint-abc"]["skipped"] == "waypoint pod", pods
    assert pods["fortio-v1"]["skipped"] is None and pods["bypassed"]["expected"] is None, pods
    released = cluster.kmeshctl("disable-ns", "p32-apps", "-o", "wide")
    assert _row(released.out, "waypoint-abc")[3:5] == ["no (waypoint pod)", "no"], released.out
    assert _row(released.out, "bypassed")[3:5] == ["no", "no"], released.out


# -- 4 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [(), ("--dry-run",)], ids=["install", "dry-run"])
def test_several_istiods_give_an_install_line_for_each(make_cluster, extra) -> None:  # noqa: F811
    several = make_cluster(istiod_names=("istiod", "istiod-p32c"))
    result = several.kmeshctl("install", "--cluster-id", "c1", "--image", "example.com/kmesh:p32", *extra)
    assert result.code == 2, result
    line = result.err.strip()
    found = ["istiod-p32c.istio-system.svc:15012", "istiod.istio-system.svc:15012"]
    assert line.startswith(f"Error: several istiod revisions in istio-system: {', '.join(found)}; choose one with "
                           "--xds-address: `kmeshctl --kubeconfig "), line
    lines = [shlex.split(part) for part in line.split("`")[1::2]]
    assert len(lines) == 2, line
    for words, address in zip(lines, found):
        assert words[3:] == ["install", "--cluster-id", "c1", "--image", "example.com/kmesh:p32", *extra,
                             "--xds-address", address], words
    pasted = several.as_typed(*lines[0], "--dry-run") if not extra else several.as_typed(*lines[0])
    assert "several istiod" not in pasted.err, pasted
