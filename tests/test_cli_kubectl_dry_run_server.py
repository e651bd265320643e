"""Issue 14, kind "kubectl's spelling of what a flag already does is accepted":
`--dry-run=server` is what kmeshctl's --dry-run is (the API server checks every object,
nothing changes), so it is read as --dry-run on every command that has --dry-run;
`--dry-run=client|none` keep their explaining refusal (h49).

Real parts: kmeshctl.cli.main in-process against the stand-in API server."""

from __future__ import annotations

import yaml

from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_cli_kinds import cli, leaf_commands, no_env  # noqa: F401


def test_install_dry_run_server_is_dry_run(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--dry-run=server")
    assert result.code == 0 and "Nothing applied" in result.err, result
    assert any(d and d["kind"] == "DaemonSet" for d in yaml.safe_load_all(result.out)), result.out
    assert not [r for r in cluster.server.writes() if r.method == "PATCH"], "something was applied"


def test_waypoint_apply_dry_run_server_is_dry_run(tmp_path, capsys, no_env, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv("HOME", str(tmp_path))  # no cluster configured: the offline dry run
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    code, out, err = cli(capsys, "waypoint", "apply", "-n", "default", "--dry-run=server")
    assert code == 0 and list(yaml.safe_load_all(out)), err


def test_every_command_with_dry_run_takes_the_server_spelling(capsys, no_env) -> None:  # noqa: F811
    with_dry_run = [words for words, command in leaf_commands() if any("--dry-run" in p.opts for p in command.params)]
    assert with_dry_run
    for words in with_dry_run:
        code, _, err = cli(capsys, *words, "--dry-run=server", "--help")
        assert code == 0, (words, err)
        code, _, err = cli(capsys, *words, "--dry-run=client")
        assert code == 2 and "does not take a value" in err, (words, err)


def test_after_double_dash_it_is_left_alone() -> None:
    from kmeshctl.cli.conventions import server_dry_run_as_flag

    assert server_dry_run_as_flag(["install", "--dry-run=server", "--", "--dry-run=server"]) == \
        ["install", "--dry-run", "--", "--dry-run=server"]
