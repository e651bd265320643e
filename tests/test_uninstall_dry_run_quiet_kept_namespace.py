"""f19k, finding E: `uninstall --dry-run -q` shows no per-object line, and its one line did
not say that the namespace would be kept, nor that install's Pod Security label would be
removed from it (the real run's -q line says both). Now it says both, in the dry run's words.

Real parts: kmeshctl.cli.main in-process against the stand-in API server."""

from __future__ import annotations

from standin import HttpError
from standin_apiserver import cluster  # noqa: F401 (fixture)

NS = "kmesh-system"
MINE = "f19k-mine"
PSA_KEY = "pod-security.kubernetes.io/enforce"


def _keep(cluster) -> None:  # noqa: F811
    """Installed, then a ConfigMap of the user's in the namespace."""
    assert cluster.kmeshctl("install", "--cluster-id", "c-f19k", "--no-wait", "-q").code == 0
    cluster.server.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": MINE, "namespace": NS},
                        "data": {"a": "b"}}, "kubectl-create")


def test_the_quiet_dry_run_says_the_label_would_go(cluster) -> None:  # noqa: F811
    _keep(cluster)
    result = cluster.kmeshctl("uninstall", "--dry-run", "-q")
    assert result.code == 0, result
    assert result.out == (f"Dry run: 9 objects would be deleted; namespace {NS} would be kept (holds objects not "
                          "made by kmeshctl; the Pod Security labels install added would be removed); nothing "
                          "deleted.\n"), result.out
    assert cluster.server.get("v1", "Namespace", NS)["metadata"]["labels"][PSA_KEY] == "privileged"


def test_the_quiet_dry_run_says_a_label_that_could_not_go_would_stay(cluster) -> None:  # noqa: F811
    _keep(cluster)
    real_patch = cluster.server.merge_patch

    def refused(res, key, *args, **kwargs):  # type: ignore[no-untyped-def]
        if res.kind == "Namespace":
            raise HttpError(403, "Forbidden", f'namespaces "{NS}" is forbidden: User "f19k" cannot patch resource '
                            '"namespaces"')
        return real_patch(res, key, *args, **kwargs)

    cluster.server.merge_patch = refused
    result = cluster.kmeshctl("uninstall", "--dry-run", "-q")
    assert result.code == 0, result
    assert result.out.endswith(f"; namespace {NS} would be kept (holds objects not made by kmeshctl; the Pod "
                               "Security labels install added would stay on it); nothing deleted.\n"), result.out


def test_the_quiet_dry_run_of_nothing_else_names_the_kept_namespace(cluster) -> None:  # noqa: F811
    _keep(cluster)
    assert cluster.kmeshctl("uninstall", "-q").code == 0  # the labels gone, the namespace kept
    result = cluster.kmeshctl("uninstall", "--dry-run", "-q")
    assert result.out == (f"Dry run: nothing would be deleted; namespace {NS} would be kept (holds objects not "
                          "made by kmeshctl).\n"), result.out
