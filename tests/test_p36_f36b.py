"""Pass 36, fixer f36b (t35a's findings on status, dump, precheck, uninstall, node run):

1. `status --name X -o json -q` (a sandbox's flag on a cluster's command): the line to
   paste, `kmeshctl sandbox status --name X`, keeps the -o and -q typed (so do waypoint
   list / status --sandbox X); a name that is no sandbox's is said so, not offered.
2. `dump config` of an agent with an empty cache (nothing pushed yet): stdout is empty
   (no `node -: locality unknown` line), the node goes in the one stderr note, -q silent.
3. `precheck --uninstall` checks the install's namespaces: a wrong -n / --istio-namespace
   fails with uninstall's reason and the precheck line to paste (uninstall refuses them).

Real parts: kmeshctl.cli.main in-process; sandbox records in a tmp state root; loopback
HTTP servers answering as an agent's admin port; the stand-in API server."""

from __future__ import annotations

import json
import shlex

import pytest

from kmeshctl import config_dump, precheck
from standin_apiserver import cluster, make_cluster  # noqa: F401 (fixtures)
from test_cli_kinds import _record, cli, no_env, state_root  # noqa: F401
from test_cli_malformed_answers import serve  # noqa: F401

# ------------------------------------------------------------------ 1. status --name X keeps -o / -q


def _fix(err: str) -> list[str]:
    """The words of the one backticked line of the error."""
    [line] = err.strip().splitlines()
    return shlex.split(line.split("`")[1])


@pytest.mark.parametrize("typed", [["status", "--name", "f36b-a", "-o", "json", "-q"],
                                   ["-q", "status", "--sandbox=f36b-a", "-ojson"],
                                   ["status", "-qo", "json", "--name", "f36b-a"],
                                   ["waypoint", "list", "--sandbox", "f36b-a", "-o", "json", "-q"],
                                   ["waypoint", "status", "--sandbox", "f36b-a", "--quiet", "--output=json"]],
                         ids=" ".join)
def test_a_sandbox_flag_on_a_cluster_command_keeps_output_and_quiet(typed, state_root, capsys,  # noqa: F811
                                                                    no_env) -> None:  # noqa: F811
    _record("f36b-a")
    code, out, err = cli(capsys, *typed)
    assert code == 2 and out == "", (out, err)
    words = _fix(err)
    assert words[:3] == ["kmeshctl", "sandbox", "status"] and words[-2:] == ["--name", "f36b-a"], err
    line = " ".join(words)
    assert ("-o json" in line or "--output=json" in line) and any(w in ("-q", "--quiet") for w in words), err
    assert "takes no" not in err, err  # -q is taken after any command


def test_cluster_flags_are_left_out_and_others_named(state_root, capsys, no_env) -> None:  # noqa: F811
    _record("f36b-a")
    code, _, err = cli(capsys, "status", "--name", "f36b-a", "-n", "foo", "--context", "c", "-o", "json")
    assert code == 2, err
    assert _fix(err) == ["kmeshctl", "sandbox", "status", "-o", "json", "--name", "f36b-a"], err
    assert "(sandbox status takes no -n)" in err, err


def test_a_name_that_is_no_sandbox_is_not_offered(state_root, capsys, no_env) -> None:  # noqa: F811
    _record("f36b-a")
    code, _, err = cli(capsys, "status", "--name", "f36b-zz", "-q")
    assert code == 2 and "`kmeshctl sandbox status --name f36b-zz" not in err, err
    assert "--name f36b-zz: no sandbox has this name (sandboxes: f36b-a)" in err, err


# ------------------------------------------------------------------ 2. dump config of an empty cache


def _agent(serve, node: dict) -> str:  # noqa: F811
    body = json.dumps({"services": [], "workloads": [], "policies": [], "enrolled": [], "node": node}).encode()
    return str(serve({config_dump.CACHE_PATH: (200, body, "application/json")}))


@pytest.mark.parametrize("node", [{"name": "", "locality_source": "unknown", "locality": None},
                                  {"name": "node-a", "locality_source": "unknown", "locality": None}],
                         ids=["no node name", "node-a"])
def test_an_empty_cache_prints_nothing_on_stdout(node, serve, state_root, capsys, no_env) -> None:  # noqa: F811
    port = _agent(serve, node)
    for output in ("table", "wide"):
        code, out, err = cli(capsys, "dump", "config", "--admin-port", port, "-o", output)
        assert code == 0 and out == "", out
        said = " (node node-a: locality unknown)" if node["name"] else ""
        assert err == f"No services, workloads or authorization policies{said}.\n", err
    code, out, err = cli(capsys, "dump", "config", "--admin-port", port, "-q")
    assert (code, out, err) == (0, "", ""), (out, err)
    code, out, _ = cli(capsys, "dump", "config", "--admin-port", port, "-o", "json", "-q")
    assert code == 0 and json.loads(out)["node"]["localitySource"] == "unknown", out


def test_a_cache_with_rows_keeps_the_node_line_on_stdout(serve, state_root, capsys, no_env) -> None:  # noqa: F811
    service = {"name": "a", "namespace": "default", "hostname": "a.default.svc.cluster.local",
               "addresses": ["10.96.0.10"], "ports": [{"service_port": 80, "target_port": 8080}]}
    body = json.dumps({"services": [service], "workloads": [], "policies": [],
                       "node": {"name": "node-a", "locality_source": "unknown", "locality": None}}).encode()
    port = serve({config_dump.CACHE_PATH: (200, body, "application/json")})
    code, out, err = cli(capsys, "dump", "config", "--admin-port", str(port))
    assert code == 0 and err == "" and out.splitlines()[-1] == "node node-a: locality unknown", (out, err)


# ------------------------------------------------------------------ 3. precheck --uninstall's namespaces


def _namespaces_row(result) -> dict:
    [row] = [c for c in json.loads(result.out)["checks"] if c["name"] == precheck.INSTALL_NAMESPACES_CHECK]
    return row


def test_precheck_uninstall_fails_a_namespace_uninstall_refuses(cluster) -> None:  # noqa: F811
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "-n", "f36b-own", "--no-wait", "-q").code == 0
    checked = cluster.kmeshctl("precheck", "--uninstall", "-o", "json")
    assert checked.code == 1, checked
    row = _namespaces_row(checked)
    assert row["status"] == "fail", row
    assert row["detail"] == "kmesh is installed in namespace f36b-own, not kmesh-system: uninstall would refuse it"
    fix = row["fix"].split("`")[1]
    assert row["fix"].startswith("pass -n f36b-own: ") and "uninstall it first" not in row["fix"], row
    assert "--uninstall" in shlex.split(fix), fix
    refused = cluster.kmeshctl("uninstall", "--dry-run")
    assert refused.code == 2 and "kmesh is installed in namespace f36b-own, not kmesh-system" in refused.err, refused
    pasted = cluster.as_typed(*shlex.split(fix))
    assert _namespaces_row(pasted)["status"] == "pass" and pasted.code == 0, pasted


def test_precheck_uninstall_fails_an_istio_namespace_uninstall_refuses(cluster) -> None:  # noqa: F811
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0
    checked = cluster.kmeshctl("precheck", "--uninstall", "--istio-namespace", "f36b-istio")
    assert checked.code == 1, checked
    assert "uninstall would refuse it" in checked.out and "--istio-namespace istio-system" in checked.out, checked


# ------------------------------------------------------------------ 4. uninstall on a 1.28 cluster


def _older(cluster, version=(1, 28)):  # noqa: F811
    from test_p34_f34g import _older_cluster

    return _older_cluster(cluster, version)


def test_uninstall_on_a_1_28_cluster_does_not_list_the_policy_install_left_out(cluster) -> None:  # noqa: F811
    old = _older(cluster)
    assert old.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0
    dry = old.kmeshctl("uninstall", "--dry-run")
    assert dry.code == 0, dry
    assert "ValidatingAdmissionPolicy" not in dry.out + dry.err and "kind not served" not in dry.out, dry
    assert "DaemonSet kmesh-system/kmesh would be deleted" in dry.out, dry
    document = old.kmeshctl("uninstall", "--dry-run", "-o", "json")
    assert "ValidatingAdmissionPolicy" not in document.out and document.code == 0, document
    done = old.kmeshctl("uninstall")
    assert done.code == 0 and "ValidatingAdmissionPolicy" not in done.out + done.err, done
    assert "Namespace kmesh-system deleted" in done.out, done


def test_uninstall_on_a_1_30_cluster_still_deletes_the_policy(cluster) -> None:  # noqa: F811
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0
    done = cluster.kmeshctl("uninstall")
    assert done.code == 0 and "ValidatingAdmissionPolicy kmesh-pod-patch-own-node deleted" in done.out, done


# ------------------------------------------------------------------ 5. 1.30+ without the policy API


def test_install_on_a_1_31_cluster_without_the_policy_api_names_it_and_the_line(cluster) -> None:  # noqa: F811
    off = _older(cluster, (1, 31))  # served from 1.30, turned off here
    result = off.kmeshctl("install", "--cluster-id", "c1", "-n", "f36b-ns", "--no-wait")
    assert result.code == 1, result
    [line] = result.err.strip().splitlines()
    assert "the cluster is Kubernetes 1.31 and does not serve admissionregistration.k8s.io/v1 " \
           "ValidatingAdmissionPolicy" in line and "install Istio" not in line and "ASM" not in line, line
    fix = shlex.split(line.split("`")[1])
    assert fix[3:] == ["install", "--cluster-id", "c1", "-n", "f36b-ns", "--no-wait", "--kubernetes-version", "1.29"]
    pasted = off.as_typed(*fix)
    assert pasted.code == 0 and off.server.all_of("apps/v1", "DaemonSet"), pasted
    assert "ValidatingAdmissionPolicy kmesh-pod-patch-own-node and ValidatingAdmissionPolicyBinding " \
           "kmesh-pod-patch-own-node left out" in pasted.err, pasted


def test_precheck_on_a_1_31_cluster_without_the_policy_api_fails_with_the_line(cluster) -> None:  # noqa: F811
    off = _older(cluster, (1, 31))
    result = off.kmeshctl("precheck", "--cluster-id", "c1", "-o", "json")
    assert result.code == 1, result
    [row] = [c for c in json.loads(result.out)["checks"] if c["name"] == "Kubernetes version"]
    assert row["status"] == "fail" and "does not serve admissionregistration.k8s.io/v1" in row["detail"], row
    assert shlex.split(row["fix"].split("`")[1])[3:] == ["install", "--cluster-id", "c1", "--kubernetes-version",
                                                          "1.29"], row
    assert cluster.kmeshctl("precheck", "-o", "json").code == 1  # the row stays failed: it is the cluster's


def test_a_cluster_without_istio_still_says_install_istio(make_cluster) -> None:  # noqa: F811
    bare = make_cluster(with_istio=False)
    result = bare.kmeshctl("install", "--cluster-id", "c1", "--xds-address", "istiod-1-22-6.istio-system.svc:15012",
                           "--no-wait")
    assert result.code != 0 and "1.29" not in result.err and "install Istio" in result.err, result


# ------------------------------------------------------------------ 6. node run: a socket in use names its pid


@pytest.fixture
def listening(tmp_path):
    """A unix socket this process listens on, in a directory only root enters."""
    import os
    import socket

    home = tmp_path / "f36b-sock"
    home.mkdir(mode=0o700)
    path = home / "agent.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(4)
    yield path, os.getpid()
    server.close()


@pytest.mark.parametrize("flags", [["--admin-socket"], ["--cni-conf-dir", "CNI", "--cni-socket"]],
                         ids=["admin", "cni"])
def test_node_run_names_the_pid_listening_on_the_socket(flags, listening, tmp_path, state_root, capsys,  # noqa: F811
                                                        no_env) -> None:  # noqa: F811
    path, pid = listening
    (tmp_path / "cni").mkdir()
    typed = [str(tmp_path / "cni") if w == "CNI" else w for w in flags]
    code, out, err = cli(capsys, "node", "run", *typed, str(path))
    assert code == 1 and out == "", err
    assert f"in use ({_comm(pid)} pid {pid} answers on it): pass another {flags[-1]}, or stop pid {pid} first" \
        in err, err


def _comm(pid: int) -> str:
    from pathlib import Path

    return Path(f"/proc/{pid}/comm").read_text().strip()


def test_socket_holder_of_no_listener_is_none(tmp_path) -> None:
    from kmeshctl.node.claim import socket_holder

    assert socket_holder(tmp_path / "none.sock") is None


def test_uninstall_after_a_1_29_install_on_a_1_31_cluster_without_the_policy_api(cluster) -> None:  # noqa: F811
    off = _older(cluster, (1, 31))
    assert off.kmeshctl("install", "--cluster-id", "c1", "--kubernetes-version", "1.29", "--no-wait", "-q").code == 0
    done = off.kmeshctl("uninstall")
    assert done.code == 0 and "ValidatingAdmissionPolicy" not in done.out + done.err, done
