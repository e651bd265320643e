"""Issue 14, kind "a time limit is named, and 0 means none (as kubectl's)": uninstall's
object that outlives --timeout is named with the limit typed and a pasteable `kubectl
describe` with the user's --kubeconfig/--context; --timeout 0 is no limit on every wait
of the cluster commands (install's rollout, uninstall, enable-ns --wait) (h49).

Real parts: kmeshctl.cli.main in-process against the stand-in API server, whose delete
of one EnvoyFilter is accepted but leaves it in place (as a finalizer would)."""

from __future__ import annotations

import shlex
import time

from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)

HELD = "skip-tunneling"


HOLD = "h93.test/hold"


def hold_on_delete(server, name: str, finalizers: tuple[str, ...] = (HOLD,)) -> None:
    """The delete of ``name`` is accepted and leaves it in place: held by ``finalizers``
    (none: as an object waiting for its pods or contents)."""
    original = server.delete

    def delete(res, key, dry_run=False):
        if key[-1] == name and not dry_run:
            held = server.objects[key]
            held["metadata"].setdefault("deletionTimestamp", "2026-12-01T00:00:00Z")
            if finalizers:
                held["metadata"]["finalizers"] = list(finalizers)
            return dict(held)
        return original(res, key, dry_run)

    server.delete = delete


def test_an_object_outliving_the_limit_names_it_and_the_finalizer_check_to_paste(cluster) -> None:  # noqa: F811
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait").code == 0
    hold_on_delete(cluster.server, HELD)
    result = cluster.kmeshctl("--context", "standin", "uninstall", "--timeout", "1s")
    error = result.err.strip().splitlines()[-1]
    assert result.code == 1, result
    assert error.startswith(f"Error: EnvoyFilter istio-system/{HELD} still exists after the --timeout 1s limit"), error
    check = next(c for c in error.split("`")[1::2] if c.startswith("kubectl get"))
    assert shlex.split(check) == ["kubectl", "get", "envoyfilter.networking.istio.io", HELD, "-n", "istio-system",
                                  "-o", "jsonpath={.metadata.finalizers}", "--kubeconfig", str(cluster.kubeconfig),
                                  "--context", "standin"], check
    again = next(c for c in error.split("`")[1::2] if c.startswith("kmeshctl"))  # the uninstall as typed (h119)
    assert shlex.split(again) == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "--context", "standin",
                                  "uninstall", "--timeout", "1s"], again
    assert f"(finalizers: {HOLD}); check what holds it with `kubectl get" in error, error


def test_an_object_with_no_finalizer_is_not_sent_to_check_finalizers(cluster) -> None:  # noqa: F811
    """h93: the line said `(no finalizer: ...)` and then to check the finalizers."""
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait").code == 0
    hold_on_delete(cluster.server, HELD, finalizers=())
    result = cluster.kmeshctl("uninstall", "--timeout", "1s")
    error = result.err.strip().splitlines()[-1]
    assert result.code == 1, result
    assert "(no finalizer: pods or dependents still stopping?); see what it still waits for with `kubectl " \
           "describe" in error, error
    assert "finalizers}" not in error and "check what holds" not in error, error
    check = next(c for c in error.split("`")[1::2] if c.startswith("kubectl describe"))
    assert shlex.split(check) == ["kubectl", "describe", "envoyfilter.networking.istio.io", HELD, "-n",
                                  "istio-system", "--kubeconfig", str(cluster.kubeconfig)], check


def test_timeout_zero_is_no_limit(cluster) -> None:  # noqa: F811
    cluster.server.daemonset_controller = "ready"
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--timeout", "0")
    assert result.code == 0 and "s, no limit\n" in result.err and "is ready" in result.err, result
    cluster.server.put(namespace("h49-apps"))
    enabled = cluster.kmeshctl("enable-ns", "h49-apps", "--wait", "--timeout", "0")
    assert enabled.code == 0, enabled
    started = time.monotonic()
    removed = cluster.kmeshctl("uninstall", "--timeout", "0")
    assert removed.code == 0 and time.monotonic() - started < 30, removed


def test_timeout_help_says_zero_is_no_limit(capsys) -> None:
    from test_cli_kinds import cli

    for command in (["install"], ["uninstall"], ["enable-ns"], ["disable-ns"], ["waypoint", "apply"]):
        code, out, _ = cli(capsys, *command, "--help")
        assert code == 0 and "0: no limit" in " ".join(out.split()), out
