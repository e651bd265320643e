"""Findings 9 and 10 of the pass-26 new-user tester (a real cluster), against the stand-in API server:

9. `enable-ns NS` with kmesh not installed said `namespace NS enrolled`, exit 0, and nothing
   else. The label is still set (as `kubectl label` sets it: kmesh may be installed next),
   and a warning on stderr says the namespace's pods are not redirected until kmesh is
   installed, with the install to paste (--kubeconfig / --context typed kept). -q keeps
   it (a warning with a fix: session 28, docs/usage.md); with kmesh installed there is none. disable-ns needs none:
   releasing a namespace from a mesh that is not there is what the user asked for.
10. `uninstall` (and --dry-run) named the namespaces still enrolled but not the waypoints
   `kmeshctl waypoint apply` made, which it leaves running (as istioctl's uninstall leaves
   the user's waypoints): now one stderr line names each (namespace/name) with the
   `kmeshctl waypoint delete -n NS --name N` that removes it, and -o json lists them
   (keptWaypoints). Another tool's waypoint is not named.

Real parts: kmeshctl.cli.main in-process against the stand-in API server (tests/standin);
the DaemonSet's rollout is replaced where an install is pasted (the stand-in runs no agent)."""

from __future__ import annotations

import json
import shlex

import pytest

from kmeshctl.waypoint import deploy
from standin_apiserver import app_pod, cluster, namespace  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd
from test_cli_enable_ns_wait import kmesh_agent_installed

MODE = "istio.io/dataplane-mode"
NOT_INSTALLED = "Warning: kmesh is not installed (no kmesh DaemonSet in any namespace): "


def _labels(server, name: str) -> dict:
    return server.get("v1", "Namespace", name)["metadata"].get("labels") or {}


def _pasted(line: str, start: str = "kmeshctl ") -> list[list[str]]:
    """Every backticked command of ``line`` that starts with ``start``, as words."""
    return [shlex.split(c) for c in line.split("`")[1::2] if c.startswith(start)]


def _run_verbatim(cluster, words: list[str]):  # noqa: F811
    """``words`` (a pasted `kmeshctl ...` line) run as typed: no --kubeconfig added (the
    pasted line must carry it)."""
    return cluster.as_typed(*words)


def _rollout_ready(monkeypatch) -> None:
    from kmeshctl import rollout

    monkeypatch.setattr(rollout, "read_rollout", lambda *args: rollout.RolloutState(True, 2, 2, 2, True, []))


# -- 9: enable-ns with kmesh not installed ----------------------------------------------------------


def _warning(err: str) -> str:
    lines = [x for x in err.strip().splitlines() if x.startswith(NOT_INSTALLED)]
    assert len(lines) == 1, err
    return lines[0]


def test_enable_without_kmesh_labels_and_warns_with_the_install_to_paste(cluster, monkeypatch) -> None:  # noqa: F811
    cluster.server.put(namespace("f266-x"))
    result = cluster.kmeshctl("enable-ns", "f266-x")
    assert result.code == 0, result
    assert _labels(cluster.server, "f266-x")[MODE] == "Kmesh"
    assert "namespace f266-x enrolled" in result.out, result.out
    line = _warning(result.err)
    assert line.startswith(f"{NOT_INSTALLED}namespace f266-x is labelled, but its pods are not redirected until "
                           "kmesh is installed: run `kmeshctl --kubeconfig "), line
    install = _pasted(line, "kmeshctl --kubeconfig")[0]
    assert install == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "install", "--cluster-id", "ID"], line
    # pasted (ID replaced, as the line says), it installs; then enable-ns warns no more
    _rollout_ready(monkeypatch)
    installed = _run_verbatim(cluster, [w if w != "ID" else "c-f266" for w in install])
    assert installed.code == 0, installed
    again = cluster.kmeshctl("enable-ns", "f266-x")
    assert again.code == 0 and "already enrolled" in again.out and NOT_INSTALLED not in again.err, again


def test_the_warning_keeps_the_typed_context(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("f266-x"))
    result = cluster.kmeshctl("enable-ns", "f266-x", "--context", "standin")
    assert result.code == 0, result
    install = _pasted(_warning(result.err), "kmeshctl --kubeconfig")[0]
    assert install[:5] == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "--context", "standin"], install
    assert install[5:] == ["install", "--cluster-id", "ID"], install
    check = _run_verbatim(cluster, [*install, "--dry-run"])  # the context resolves: the dry run is accepted
    assert check.code == 0, check


def test_several_namespaces_are_named_in_one_warning(cluster) -> None:  # noqa: F811
    for name in ("f266-a", "f266-b"):
        cluster.server.put(namespace(name))
    result = cluster.kmeshctl("enable-ns", "f266-a", "f266-b")
    assert result.code == 0, result
    assert _warning(result.err).startswith(f"{NOT_INSTALLED}namespaces f266-a, f266-b are labelled, but their pods "
                                           "are not redirected"), result.err


def test_json_keeps_stdout_a_document_and_warns_on_stderr(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("f266-x"))
    cluster.server.put(app_pod("fortio-v1", "f266-x"))
    result = cluster.kmeshctl("enable-ns", "f266-x", "-o", "json")
    assert result.code == 0, result
    data = json.loads(result.out)
    assert [n["name"] for n in data["namespaces"]] == ["f266-x"], data
    _warning(result.err)


@pytest.mark.parametrize("args", [["enable-ns", "f266-x", "-q"], ["-q", "enable-ns", "f266-x"]], ids=" ".join)
def test_quiet_keeps_the_warning_which_has_a_fix(args, cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("f266-x"))
    result = cluster.kmeshctl(*args)
    assert result.code == 0 and NOT_INSTALLED in result.err, result  # -q: errors and warnings with a fix
    assert _labels(cluster.server, "f266-x")[MODE] == "Kmesh"


def test_no_warning_with_kmesh_installed(cluster) -> None:  # noqa: F811
    kmesh_agent_installed(cluster.server)
    cluster.server.put(namespace("f266-x"))
    result = cluster.kmeshctl("enable-ns", "f266-x")
    assert result.code == 0 and "Warning" not in result.err, result


def test_a_refused_enable_says_nothing_of_the_install(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("f266-x", {MODE: "ambient"}))
    result = cluster.kmeshctl("enable-ns", "f266-x")
    assert result.code == 2 and NOT_INSTALLED not in result.err, result


def test_disable_without_kmesh_releases_without_a_warning(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("f266-x", {MODE: "Kmesh"}))
    result = cluster.kmeshctl("disable-ns", "f266-x")
    assert result.code == 0 and "namespace f266-x released" in result.out, result
    assert "Warning" not in result.err and MODE not in _labels(cluster.server, "f266-x"), result


# -- 10: uninstall names the waypoints kmeshctl made that it leaves ---------------------------------


WAYPOINTS = [("default", "waypoint"), ("f266-demo", "east")]
LEFT = "Waypoints made by kmeshctl waypoint apply, which uninstall leaves running: "


def _put_waypoints(cluster) -> None:  # noqa: F811
    """kmesh installed, and two waypoints as `waypoint apply` leaves them."""
    assert cluster.kmeshctl("install", "--cluster-id", "c-f266", "--no-wait", "-q").code == 0
    cluster.server.put(gateway_crd())
    for ns, name in WAYPOINTS:
        cluster.server.put(namespace(ns))
        for obj in deploy.render(deploy.WaypointParams(ns, name)):
            cluster.server.put(obj)


def _foreign_waypoint(cluster) -> None:  # noqa: F811
    """A Gateway of class istio-waypoint another tool made (istioctl waypoint apply)."""
    cluster.server.put(namespace("f266-other"))
    cluster.server.put({"apiVersion": deploy.GATEWAY_API, "kind": "Gateway",
                        "metadata": {"name": "waypoint", "namespace": "f266-other",
                                     "labels": {"app.kubernetes.io/managed-by": "istioctl"}},
                        "spec": {"gatewayClassName": deploy.GATEWAY_CLASS,
                                 "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]}})


def _gateway(cluster, ns: str, name: str):  # noqa: F811
    return cluster.server.get(deploy.GATEWAY_API, "Gateway", name, ns)


def _left_line(err: str) -> str:
    lines = [x for x in err.strip().splitlines() if x.startswith(LEFT)]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("dry_run", [False, True], ids=["uninstall", "dry-run"])
def test_uninstall_names_each_waypoint_left_with_the_delete_to_paste(dry_run, cluster) -> None:  # noqa: F811
    _put_waypoints(cluster)
    _foreign_waypoint(cluster)
    result = cluster.kmeshctl("uninstall", *(["--dry-run"] if dry_run else []))
    assert result.code == 0, result
    line = _left_line(result.err)
    kubeconfig = str(cluster.kubeconfig)
    assert line == (f"{LEFT}default/waypoint (run: `kmeshctl --kubeconfig {kubeconfig} waypoint delete -n default "
                    f"--name waypoint`), f266-demo/east (run: `kmeshctl --kubeconfig {kubeconfig} waypoint delete "
                    "-n f266-demo --name east`)"), line
    assert "f266-other" not in line, line
    for ns, name in WAYPOINTS:  # kept: the user's, as istioctl's uninstall keeps them
        assert _gateway(cluster, ns, name) is not None
    for words, (ns, name) in zip(_pasted(line), WAYPOINTS):
        deleted = _run_verbatim(cluster, words)
        assert deleted.code == 0, deleted
        assert _gateway(cluster, ns, name) is None


def test_uninstall_json_lists_the_waypoints_left(cluster) -> None:  # noqa: F811
    _put_waypoints(cluster)
    _foreign_waypoint(cluster)
    result = cluster.kmeshctl("uninstall", "-o", "json", "--context", "standin")
    assert result.code == 0, result
    data = json.loads(result.out)
    kubeconfig = str(cluster.kubeconfig)
    assert data["keptWaypoints"] == [
        {"namespace": ns, "name": name,
         "fix": f"kmeshctl --kubeconfig {kubeconfig} --context standin waypoint delete -n {ns} --name {name}"}
        for ns, name in WAYPOINTS], data
    _left_line(result.err)  # stderr names them too, as the enrolled namespaces
    pasted = _run_verbatim(cluster, shlex.split(data["keptWaypoints"][0]["fix"]))
    assert pasted.code == 0 and _gateway(cluster, *WAYPOINTS[0]) is None, pasted


def test_uninstall_namespace_flag_is_not_carried_to_the_waypoint_delete(cluster) -> None:  # noqa: F811
    _put_waypoints(cluster)
    result = cluster.kmeshctl("uninstall", "-n", "kmesh-system", "--istio-namespace", "istio-system")
    assert result.code == 0, result
    for words, (ns, name) in zip(_pasted(_left_line(result.err)), WAYPOINTS):
        assert words[words.index("waypoint"):] == ["waypoint", "delete", "-n", ns, "--name", name], words


def test_no_line_without_waypoints_of_kmeshctl(cluster) -> None:  # noqa: F811
    assert cluster.kmeshctl("install", "--cluster-id", "c-f266", "--no-wait", "-q").code == 0
    cluster.server.put(gateway_crd())
    _foreign_waypoint(cluster)
    result = cluster.kmeshctl("uninstall", "-o", "json")
    assert result.code == 0 and LEFT not in result.err, result
    assert json.loads(result.out)["keptWaypoints"] == []


def test_no_gateway_api_no_line(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("uninstall", "--dry-run", "-o", "json")
    assert result.code == 0 and LEFT not in result.err and "waypoints" not in result.err, result
    assert json.loads(result.out)["keptWaypoints"] == []


def test_waypoints_not_listable_leave_the_uninstall_done_and_json_null(cluster, monkeypatch) -> None:  # noqa: F811
    from standin import HttpError
    from standin.frontend import _Handler

    _put_waypoints(cluster)
    real = _Handler.on_collection

    def on_collection(self, method, res, ns, query, *args):  # type: ignore[no-untyped-def]
        if method == "GET" and res.plural == "gateways" and not ns:
            raise HttpError(403, "Forbidden", 'gateways.gateway.networking.k8s.io is forbidden: User "f266" cannot '
                            'list resource "gateways" at the cluster scope')
        return real(self, method, res, ns, query, *args)

    monkeypatch.setattr(_Handler, "on_collection", on_collection)
    result = cluster.kmeshctl("uninstall", "-o", "json")
    assert result.code == 0, result
    assert json.loads(result.out)["keptWaypoints"] is None
    [line] = [x for x in result.err.splitlines() if x.startswith("Could not list the waypoints")]
    assert "forbidden" in line and LEFT not in result.err, result.err
    look = _pasted(line)[0]
    assert look == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "waypoint", "list", "-A"], line
