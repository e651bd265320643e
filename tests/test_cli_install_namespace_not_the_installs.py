"""Issue 14 (h73), kind "a namespace flag that is not the install's": install, status and
uninstall find the install on the cluster (uninstall.install_namespaces: its DaemonSets and
the ServiceAccount its ClusterRoleBinding binds; install_istio_namespaces: where its
EnvoyFilters are) and refuse a -n / --istio-namespace that is not the install's, before
anything is written (exit 2), with the command to paste (the user's --kubeconfig /
--context kept). A namespace without istiod (M7) is bad input too, as a mistyped one.

Real parts: kmeshctl.cli.main in-process against the stand-in API server (tests/standin);
its request log says nothing was written."""

from __future__ import annotations

import shlex

import pytest

from kmeshctl.kube import object_ref
from kmeshctl.uninstall import installed_objects
from standin_apiserver import cluster  # noqa: F401 (fixture)
from standin_apiserver import namespace as namespace_object

OTHER = "h73-other"


@pytest.fixture
def installed(cluster):  # noqa: F811
    result = cluster.kmeshctl("install", "--cluster-id", "c-h73", "--no-wait", "-q")
    assert result.code == 0, result
    cluster.server.put(namespace_object("kube-system"))
    cluster.server.requests.clear()
    return cluster


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    return lines[0].removeprefix("Error: ")


def _pasted(line: str) -> list[str]:
    return shlex.split(next(c for c in line.split("`")[1::2] if c.startswith("kmeshctl")))


def _writes(cluster) -> list:  # noqa: F811
    return [r for r in cluster.server.requests if r.method in ("POST", "PUT", "PATCH", "DELETE")
            and "selfsubjectaccessreviews" not in r.path]


def _binding_subjects(cluster) -> list:  # noqa: F811
    binding = cluster.server.get("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "kmesh")
    return [(s["namespace"], s["name"]) for s in binding["subjects"]]


@pytest.mark.parametrize("dry_run", [(), ("--dry-run",)], ids=["real", "dry-run"])
def test_install_into_another_namespace_is_refused_with_nothing_written(installed, dry_run) -> None:
    result = installed.kmeshctl("--context", "standin", "install", "-n", OTHER, "--cluster-id", "c-h73",
                                "--no-wait", *dry_run)
    assert result.code == 2 and result.out == "", result
    line = _one_error_line(result.err)
    assert line.startswith(f"kmesh is installed in namespace kmesh-system, not {OTHER}; pass -n kmesh-system "
                           "(or uninstall it first): `"), line
    assert _pasted(line) == ["kmeshctl", "--kubeconfig", str(installed.kubeconfig), "--context", "standin",
                             "install", "--cluster-id", "c-h73", "-n", "kmesh-system", *dry_run, "--no-wait"], line
    assert not _writes(installed), _writes(installed)
    assert _binding_subjects(installed) == [("kmesh-system", "kmesh")]
    assert installed.server.get("v1", "Namespace", OTHER) is None


def test_the_pasted_install_then_runs_and_changes_nothing(installed) -> None:
    line = _one_error_line(installed.kmeshctl("install", "--namespace", OTHER, "--cluster-id", "c-h73",
                                              "--no-wait").err)
    assert "pass --namespace kmesh-system" in line, line  # the flag as typed
    again = installed.kmeshctl(*_pasted(line)[3:])
    assert again.code == 0 and "Nothing to do: the cluster already matches." in again.out, again


def test_install_with_another_istio_namespace_is_refused(installed) -> None:
    """The EnvoyFilters live in istio-system: applying them to kube-system would leave
    the old ones in place."""
    result = installed.kmeshctl("install", "--cluster-id", "c-h73", "--istio-namespace", "kube-system",
                                "--xds-address", "istiod-1-22-6.istio-system.svc:15012", "--no-wait")
    assert result.code == 2, result
    line = _one_error_line(result.err)
    assert line.startswith("kmesh's EnvoyFilters are in namespace istio-system, not kube-system; pass "
                           "--istio-namespace istio-system (or uninstall it first): `"), line
    words = _pasted(line)
    assert words[words.index("--istio-namespace") + 1] == "istio-system", words
    assert not _writes(installed), _writes(installed)
    assert installed.kmeshctl(*words[3:]).code == 0


def test_an_install_found_from_its_daemonset_alone(installed) -> None:
    """The ClusterRoleBinding gone (a partial uninstall): the DaemonSet still says where."""
    installed.server.delete_object("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "kmesh")
    result = installed.kmeshctl("install", "-n", OTHER, "--cluster-id", "c-h73", "--no-wait")
    assert result.code == 2 and "kmesh is installed in namespace kmesh-system, not h73-other" in result.err, result


def test_a_first_install_anywhere_is_not_refused(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("install", "-n", OTHER, "--cluster-id", "c-h73", "--no-wait", "-q")
    assert result.code == 0, result
    assert cluster.kmeshctl("install", "-n", OTHER, "--cluster-id", "c-h73", "--no-wait", "-q").code == 0


# -- status -n / uninstall --istio-namespace ------------------------------------------------------


def test_status_of_another_namespace_names_the_install_s(installed) -> None:
    for output in ((), ("-o", "json")):
        result = installed.kmeshctl("--context", "standin", "status", "-n", "nosuch", *output)
        assert result.code == 2 and result.out == "", result
        line = _one_error_line(result.err)
        assert line.startswith("kmesh is installed in namespace kmesh-system, not nosuch; pass -n kmesh-system: `"), \
            line
        assert "install" not in line.replace("installed", ""), line  # never the install that is H3
        assert _pasted(line) == ["kmeshctl", "--kubeconfig", str(installed.kubeconfig), "--context", "standin",
                                 "status", "-n", "kmesh-system", *output], line


def test_status_where_nothing_is_installed_still_says_install(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("status", "-n", "nosuch")
    assert result.code == 1 and "Not installed: no DaemonSet kmesh in namespace nosuch" in result.out, result


def test_uninstall_with_another_istio_namespace_is_refused_before_any_delete(installed) -> None:
    result = installed.kmeshctl("uninstall", "--istio-namespace", "kube-system")
    assert result.code == 2, result
    line = _one_error_line(result.err)
    assert line.startswith("kmesh's EnvoyFilters are in namespace istio-system, not kube-system; pass "
                           "--istio-namespace istio-system: `"), line
    assert not _writes(installed), _writes(installed)
    objs = installed_objects("kmesh-system", "istio-system")
    assert all(installed.server.get(o["apiVersion"], o["kind"], o["metadata"]["name"],
                                    o["metadata"].get("namespace", "")) for o in objs), [object_ref(o) for o in objs]


# -- M7: --istio-namespace without istiod is bad input, as a mistyped one -------------------------


@pytest.mark.parametrize("istio_namespace", ["kube-system", "h73-nosuch"], ids=["exists", "mistyped"])
def test_an_istio_namespace_without_istiod_is_bad_input_with_the_command(cluster,  # noqa: F811
                                                                          istio_namespace) -> None:
    cluster.server.put(namespace_object("kube-system"))
    result = cluster.kmeshctl("--context", "standin", "install", "--cluster-id", "c-h73", "--istio-namespace",
                              istio_namespace, "--no-wait")
    assert result.code == 2, result
    line = _one_error_line(result.err)
    assert line.startswith(f"--istio-namespace {istio_namespace}: "), line
    assert "(namespaces with istiod: istio-system)" in line, line
    assert _pasted(line) == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "--context", "standin",
                             "install", "--cluster-id", "c-h73", "--istio-namespace", "istio-system",
                             "--no-wait"], line
    assert not _writes(cluster)
