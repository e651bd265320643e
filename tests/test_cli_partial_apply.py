"""Issue 14, kind "a failure during the real apply says what was applied and what was
not": install's checks (the API server's dry run of every object) are all or nothing; a
failure after them (the API server failing mid-way) names the object, what stayed
applied and the commands that finish it, and -o json / -o yaml still print what was
applied. Also: every -o format listed works on the apply path too (h49).

Real parts: kmeshctl.cli.main in-process against the stand-in API server, whose real
(not dry-run) apply of the DaemonSet answers 500."""

from __future__ import annotations

import json
import shlex

import yaml

from standin_apiserver import cluster  # noqa: F401 (fixture)
from standin.resources import HttpError

INTERNAL = "Internal error occurred: etcd leader changed (h49)"


def fail_real_daemonset_apply(server) -> None:
    """The DaemonSet's real apply answers 500; its dry run (and every other object) passes."""
    original = server.apply

    def apply(res, key, applied, manager, force, dry_run=False):
        if applied.get("kind") == "DaemonSet" and not dry_run:
            raise HttpError(500, "InternalError", INTERNAL)
        return original(res, key, applied, manager, force, dry_run)

    server.apply = apply


def test_a_failure_mid_apply_names_the_object_the_counts_and_the_commands(cluster) -> None:  # noqa: F811
    fail_real_daemonset_apply(cluster.server)
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait")
    assert result.code == 1, result
    assert result.out.count(" created") == 6, result.out
    error = result.err.strip().splitlines()[-1]
    assert error.startswith("Error: DaemonSet kmesh-system/kmesh could not be applied: "), error
    assert "answered 500 (" + INTERNAL + ")" in error and "6 of 10 objects applied, 4 not" in error, error
    assert "kubectl get --raw /readyz --kubeconfig" in error, error
    commands = [shlex.split(part) for part in error.split("`")[1::2]]
    rerun = next(c for c in commands if c[:1] == ["kmeshctl"] and "install" in c)
    assert "--cluster-id" in rerun and "c1" in rerun and "--kubeconfig" in rerun, error
    assert any(c[:1] == ["kmeshctl"] and "uninstall" in c and "--kubeconfig" in c for c in commands), error
    assert cluster.server.get("v1", "ServiceAccount", "kmesh", "kmesh-system") is not None  # stays applied


def test_the_pasted_rerun_applies_the_rest(cluster) -> None:  # noqa: F811
    original = cluster.server.apply
    fail_real_daemonset_apply(cluster.server)
    first = cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait")
    cluster.server.apply = original
    rerun = next(shlex.split(c) for c in first.err.split("`")[1::2] if " install" in c)
    assert rerun[0] == "kmeshctl" and rerun[1:3] == ["--kubeconfig", str(cluster.kubeconfig)] or \
        "--kubeconfig" in rerun, rerun
    args = [w for w in rerun[1:]]
    at = args.index("--kubeconfig")
    del args[at:at + 2]  # cluster.kmeshctl gives it
    result = cluster.kmeshctl(*args)
    assert result.code == 0 and result.out.count(" created") == 4, result
    assert cluster.server.get("apps/v1", "DaemonSet", "kmesh", "kmesh-system") is not None


def test_json_and_yaml_print_what_was_applied_and_the_error(cluster) -> None:  # noqa: F811
    fail_real_daemonset_apply(cluster.server)
    for fmt, load in (("json", json.loads), ("yaml", yaml.safe_load)):
        result = cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-o", fmt)
        assert result.code == 1, result
        document = load(result.out)
        assert len(document["applied"]) == 6 and len(document["notApplied"]) == 4, document
        assert document["notApplied"][0] == "DaemonSet kmesh-system/kmesh", document
        assert "6 of 10 objects applied" in document["error"], document


def test_an_explicit_yaml_output_is_honoured_when_applying(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-o", "yaml")
    assert result.code == 0, result
    document = yaml.safe_load(result.out)
    assert len(document["applied"]) == 10 and document["changed"] is True, result.out
    plain = cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait")
    assert plain.code == 0 and "Nothing to do" in plain.out, plain


def test_readme_and_usage_say_what_is_all_or_nothing() -> None:
    from conftest import REPO_ROOT

    for name in ("README.md", "docs/usage.md"):
        text = (REPO_ROOT / name).read_text()
        assert "applied all-or-nothing" not in text, name
        assert "what was applied" in text, name
