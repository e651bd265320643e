"""uninstall never deletes what it was not asked to (h59):

- a dry-run DELETE carries dryRun=All in its DeleteOptions body: kube-apiserver takes a
  DELETE's options from the body when there is one and ignores the query (checked on the
  real tier by tests/e2e/test_cluster_e2e.py; the stand-in now answers the same way);
- `-n` naming another namespace than the install's is refused (exit 2) before any delete,
  or the shared cluster-scoped objects of the real install would go with nothing else;
- a Ctrl-C / SIGTERM mid-way says what was deleted, what was being deleted and what was
  not, with the command that removes the rest (exit 130 / 143; -o prints the document).

Real parts: kmeshctl.cli.main in-process against the stand-in API server (its request log
says which deletes were dry runs); the signals are real ones sent to this process."""

from __future__ import annotations

import json
import os
import shlex
import signal

import pytest
import yaml

import kmeshctl.uninstall as uninstall_module
from kmeshctl.kube import object_ref
from kmeshctl.uninstall import installed_objects
from standin_apiserver import cluster  # noqa: F401 (fixture)

ORDER = [object_ref(o) for o in reversed(installed_objects("kmesh-system", "istio-system"))]
WRONG = "h59-none"


def _installed(cluster, *flags: str) -> None:  # noqa: F811
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", *flags)
    assert result.code == 0, result


def _deletes(cluster) -> list:  # noqa: F811
    return [r for r in cluster.server.requests if r.method == "DELETE"]


def _present(cluster, namespace: str = "kmesh-system") -> list[str]:  # noqa: F811
    objs = installed_objects(namespace, "istio-system")
    return [object_ref(o) for o in reversed(objs)
            if cluster.server.get(o["apiVersion"], o["kind"], o["metadata"]["name"],
                                  o["metadata"].get("namespace", "")) is not None]


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: "), err
    return lines[0].removeprefix("Error: ")


def _pasted(line: str) -> list[str]:
    return shlex.split(next(c for c in line.split("`")[1::2] if c.startswith("kmeshctl")))


# -- the dry run's DELETE -------------------------------------------------------------------------------


def test_a_delete_with_a_body_ignores_dry_run_in_the_query_as_kube_apiserver_does(cluster,  # noqa: F811
                                                                                  monkeypatch) -> None:
    """The stand-in's answer to the request the old client sent (dryRun=All in the query,
    DeleteOptions in the body): a real delete, as on the real kube-apiserver."""
    from kmeshctl import kube

    _installed(cluster)
    client = kube.connect(kube.KubeTarget(str(cluster.kubeconfig)))
    path = client.kind("v1", "ServiceAccount").object_path("kmesh", "kmesh-system")
    client.delete("v1", "ServiceAccount", "kmesh", "kmesh-system", dry_run=True)
    assert "ServiceAccount kmesh-system/kmesh" in _present(cluster)
    assert _deletes(cluster)[-1].dry_run, _deletes(cluster)
    client.request("DELETE", path, {"dryRun": "All"}, body={"kind": "DeleteOptions", "apiVersion": "v1"})
    assert "ServiceAccount kmesh-system/kmesh" not in _present(cluster)
    assert not _deletes(cluster)[-1].dry_run


def test_uninstall_dry_run_deletes_nothing_and_every_delete_was_a_dry_run(cluster) -> None:  # noqa: F811
    _installed(cluster)
    for flags in ((), ("-o", "json"), ("-o", "yaml")):
        result = cluster.kmeshctl("uninstall", "--dry-run", *flags)
        assert result.code == 0, result
        assert _present(cluster) == ORDER, (flags, _present(cluster))
    assert len(_deletes(cluster)) == 3 * len(ORDER) and all(r.dry_run for r in _deletes(cluster))


# -- -n must name the install's namespace --------------------------------------------------------------


@pytest.mark.parametrize("dry_run", [(), ("--dry-run",)], ids=["real", "dry-run"])
def test_another_namespace_is_refused_before_any_delete_with_the_command_to_paste(cluster, dry_run) -> None:  # noqa: F811
    _installed(cluster)
    result = cluster.kmeshctl("--context", "standin", "uninstall", "-n", WRONG, *dry_run, "-o", "json",
                              "--timeout", "2m")
    assert result.code == 2 and result.out == "", result
    warned = "Warning: --timeout has no effect with --dry-run (nothing is changed, so nothing is waited for)\n"
    assert result.err.startswith(warned) == bool(dry_run), result.err  # pass 30: as install --dry-run --timeout
    line = _one_error_line(result.err.removeprefix(warned))
    assert line.startswith(f"kmesh is installed in namespace kmesh-system, not {WRONG}; pass -n kmesh-system: "), line
    timeout = [] if dry_run else ["--timeout", "2m"]  # no effect with --dry-run: left out of its line (pass 47)
    assert _pasted(line) == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "--context", "standin",
                             "uninstall", "-n", "kmesh-system", *dry_run, "-o", "json", *timeout], line
    assert not _deletes(cluster), _deletes(cluster)
    assert _present(cluster) == ORDER


def test_the_pasted_command_then_works(cluster) -> None:  # noqa: F811
    _installed(cluster)
    line = _one_error_line(cluster.kmeshctl("uninstall", "--namespace", WRONG, "--dry-run").err)
    assert "pass --namespace kmesh-system" in line, line  # the flag as typed
    words = _pasted(line)
    assert words[words.index("--namespace") + 1] == "kmesh-system", words
    again = cluster.kmeshctl(*words[1:])
    assert again.code == 0 and f"{len(ORDER)} objects would be deleted" in again.out, again


def test_an_install_in_its_own_namespace_is_found_from_the_default(cluster) -> None:  # noqa: F811
    _installed(cluster, "-n", "h59-sys")
    refused = cluster.kmeshctl("uninstall")
    assert refused.code == 2, refused
    assert "kmesh is installed in namespace h59-sys, not kmesh-system; pass -n h59-sys" in refused.err, refused
    assert not _deletes(cluster)
    removed = cluster.kmeshctl("uninstall", "-n", "h59-sys", "-o", "json", "--timeout", "20")
    document = json.loads(removed.out)
    assert removed.code == 0 and len(document["deleted"]) == len(ORDER), removed
    assert not _present(cluster, "h59-sys")


def test_with_the_binding_gone_the_agent_daemonset_still_names_the_namespace(cluster) -> None:  # noqa: F811
    """An earlier uninstall with the wrong -n (before this check) left the DaemonSet: found by its labels."""
    _installed(cluster)
    for kind, api in (("ClusterRoleBinding", "rbac.authorization.k8s.io/v1"), ("ClusterRole", "rbac.authorization.k8s.io/v1")):
        cluster.server.delete_object(api, kind, "kmesh")
    result = cluster.kmeshctl("uninstall", "-n", WRONG)
    assert result.code == 2 and f"installed in namespace kmesh-system, not {WRONG}" in result.err, result
    assert not _deletes(cluster)


def test_with_nothing_installed_anywhere_any_namespace_has_nothing_to_uninstall(cluster) -> None:  # noqa: F811
    for flags in ((), ("--dry-run",)):
        result = cluster.kmeshctl("uninstall", "-n", WRONG, "-q", *flags)
        assert result.code == 0 and "nothing to uninstall" in result.out.lower(), result


def test_a_user_who_may_not_read_the_binding_deletes_nothing_of_it(cluster, monkeypatch) -> None:  # noqa: F811
    """Not stopped by the namespace check; but uninstall deletes only what it can read as
    kmeshctl's (h84): an unreadable object stops it there, with precheck's pointer."""
    from kmeshctl.kube import ApiError, KubeClient

    _installed(cluster)
    real_get = KubeClient.get

    def get(self, api_version, kind, name, namespace=None):
        if kind == "ClusterRoleBinding":
            raise ApiError(403, "Forbidden", "clusterrolebindings is forbidden")
        return real_get(self, api_version, kind, name, namespace)

    monkeypatch.setattr(KubeClient, "get", get)
    result = cluster.kmeshctl("uninstall", "--dry-run", "-q")
    assert result.code == 1, result
    line = _one_error_line(result.err)
    assert line.startswith("cannot tell whether kmeshctl made ClusterRoleBinding kmesh, so the dry run stops "
                           "here: clusterrolebindings is forbidden"), line  # f19k: a dry run deletes nothing
    assert "precheck --uninstall" in line, line
    assert not [r for r in _deletes(cluster) if not r.dry_run]


# -- stopped by a signal --------------------------------------------------------------------------------


def _signal_while_awaiting(monkeypatch, kind: str, signum: int) -> None:
    """A real ``signum`` to this process while uninstall waits for the ``kind`` object to go."""
    real_wait = uninstall_module.wait_gone

    def wait_gone(client, obj, deadline, poll=0.5, timeout=0, **notes):
        if obj["kind"] == kind:
            os.kill(os.getpid(), signum)
        return real_wait(client, obj, deadline, poll, timeout, **notes)

    monkeypatch.setattr(uninstall_module, "wait_gone", wait_gone)


def _expected_stop(how: str) -> str:
    done, going, left = ORDER[:3], ORDER[3], ORDER[4:]
    assert going == "DaemonSet kmesh-system/kmesh"
    return (f"uninstall stopped by {how}: deleted {', '.join(done)}; {going} being deleted (the cluster "
            f"finishes it); not deleted: {', '.join(left)}; re-run `")


def test_ctrl_c_says_what_went_what_did_not_and_the_re_run(cluster, monkeypatch) -> None:  # noqa: F811
    _installed(cluster)
    _signal_while_awaiting(monkeypatch, "DaemonSet", signal.SIGINT)
    result = cluster.kmeshctl("--context", "standin", "uninstall", "--timeout", "20s")
    assert result.code == 130, result
    line = _one_error_line(result.err)
    assert line.startswith(_expected_stop("Ctrl-C (SIGINT)")), line
    assert line.endswith("` to remove the rest (it is safe to repeat)"), line
    assert _pasted(line) == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "--context", "standin",
                             "uninstall", "--timeout", "20s"], line
    assert _present(cluster) == ORDER[4:]  # the DaemonSet's delete was accepted: it went
    monkeypatch.undo()
    again = cluster.kmeshctl(*_pasted(line)[1:])
    assert again.code == 0 and not _present(cluster), again


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_sigterm_with_output_prints_the_document_so_far_and_exits_143(cluster, monkeypatch, output) -> None:  # noqa: F811
    _installed(cluster)
    _signal_while_awaiting(monkeypatch, "DaemonSet", signal.SIGTERM)
    result = cluster.kmeshctl("uninstall", "-o", output)
    assert result.code == 143, result
    document = json.loads(result.out) if output == "json" else yaml.safe_load(result.out)
    line = _one_error_line(result.err)
    assert line.startswith(_expected_stop("SIGTERM")), line
    assert document["deleted"] == ORDER[:3] and document["errors"] == [line], document
    assert _pasted(line)[-3:] == ["uninstall", "-o", output], line
    assert signal.getsignal(signal.SIGTERM) is not None  # the handler put back (the CLI's own)


def test_a_stopped_dry_run_says_nothing_was_deleted(cluster, monkeypatch) -> None:  # noqa: F811
    _installed(cluster)
    real_delete_one = uninstall_module.delete_one

    def delete_one(client, obj, dry_run=False, **kwargs):
        if obj["kind"] == "DaemonSet":
            raise KeyboardInterrupt
        return real_delete_one(client, obj, dry_run, **kwargs)

    monkeypatch.setattr(uninstall_module, "delete_one", delete_one)
    result = cluster.kmeshctl("uninstall", "--dry-run")
    assert result.code == 130, result
    line = _one_error_line(result.err)
    assert line.startswith("uninstall --dry-run stopped by Ctrl-C (SIGINT); nothing was deleted; re-run `"), line
    assert _pasted(line)[-2:] == ["uninstall", "--dry-run"], line
    assert _present(cluster) == ORDER
