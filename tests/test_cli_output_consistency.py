"""Issue 14, tenth new-user pass, kind "what a command prints agrees with how it ends":
uninstall never says "Nothing to uninstall" and then fails (the failure is alone), and
a dry run with no cluster says on stderr that it rendered offline (waypoint apply, as
install does), so an unchecked result is never silent."""

from __future__ import annotations

from pathlib import Path

import yaml

from kmeshctl.errors import KmeshctlError
from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_cli_kinds import cli, no_env  # noqa: F401


def test_uninstall_with_nothing_there_is_a_success(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("uninstall", "--timeout", "20")
    assert result.code == 0 and "Nothing to uninstall: none of kmeshctl's objects exist." in result.out, result


def test_uninstall_that_fails_after_finding_nothing_says_only_the_failure(cluster, monkeypatch) -> None:  # noqa: F811
    from kmeshctl import namespaces

    def refused(_client: object) -> list[str]:
        raise KmeshctlError("cannot list namespaces: forbidden (h45)")

    monkeypatch.setattr(namespaces, "enrolled_namespaces", refused)
    result = cluster.kmeshctl("uninstall", "-q", "--timeout", "20")
    assert result.code == 1 and "Nothing to uninstall" not in result.out + result.err, result
    assert result.err.strip() == "Error: cannot list namespaces: forbidden (h45)", result


def _no_cluster(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)


def test_offline_dry_runs_say_so_on_stderr(tmp_path: Path, capsys, no_env, monkeypatch) -> None:
    _no_cluster(tmp_path, monkeypatch)
    lines = {"waypoint apply": ["waypoint", "apply", "--dry-run", "-n", "default"],
             "install": ["install", "--dry-run", "--xds-address", "istiod.istio-system.svc:15012",
                         "--cluster-id", "c1"]}
    for what, line in lines.items():
        code, out, err = cli(capsys, *line)
        assert code == 0 and list(yaml.safe_load_all(out)), (what, err)
        first = err.splitlines()[0]
        assert first.startswith("No reachable cluster (no cluster configured") and "offline" in first, (what, err)
