"""Issue 14, kind "-q silences every line on stderr but errors, and Ctrl-C says what was
done": `install -q` prints no `Using istiod at`, no dry-run summary, no rollout progress
nor ready line; Ctrl-C during install's wait prints one Error line (the objects were
applied, the rollout goes on, the command that shows it) and exits 130 (h49, h93).

Real parts: kmeshctl.cli.main in-process against the stand-in API server."""

from __future__ import annotations

from standin_apiserver import cluster  # noqa: F401 (fixture)


def test_install_quiet_prints_nothing_on_stderr(cluster) -> None:  # noqa: F811
    cluster.server.daemonset_controller = "ready"
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "-q", "--timeout", "20")
    assert result.code == 0 and result.err == "", result.err
    assert result.out == "Installed: 10 objects applied (10 created).\n", result.out  # h101: as uninstall -q
    dry = cluster.kmeshctl("install", "--cluster-id", "c1", "-q", "--dry-run")
    assert dry.code == 0 and dry.err == "" and "kind: DaemonSet" in dry.out, dry.err


def test_ctrl_c_during_the_wait_says_what_was_applied(cluster, monkeypatch) -> None:  # noqa: F811
    from kmeshctl.cli import cluster as commands

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "wait_for_rollout", interrupted)
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--timeout", "20")
    assert result.code == 130, result
    [line] = [line for line in result.err.splitlines() if "stopped by" in line or "interrupted" in line]
    assert line.startswith("Error: install stopped by Ctrl-C (SIGINT) while waiting for the rollout: every object "
                           "applied; the rollout goes on without kmeshctl: `kmeshctl "), line
    assert "status -n kmesh-system" in line and "--kubeconfig" in line, line
    assert result.out.count(" created") == 10, result.out
