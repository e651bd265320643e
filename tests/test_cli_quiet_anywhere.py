"""-q/--quiet is global (docs/usage.md): accepted in every place on every command (before
the group, between group and subcommand, after the subcommand), one mechanism
(kmeshctl.cli.conventions.gather_quiet_flag), and where given it silences every line on
stderr that is not an error (kmeshctl.cli.progress.note)."""

from __future__ import annotations

import pytest

from kmeshctl.cli.progress import Progress, note
from test_cli_kinds import cli, leaf_commands, no_env, state_root, _record  # noqa: F401


def _places(words: list[str], flag: str) -> list[list[str]]:
    """``flag`` before the command, after each of its words."""
    return [[*words[:i], flag, *words[i:]] for i in range(len(words) + 1)]


@pytest.mark.parametrize("words", [w for w, _ in leaf_commands()], ids=" ".join)
def test_q_is_accepted_in_every_place_on_every_command(words, capsys, no_env) -> None:
    for flag in ("-q", "--quiet"):
        for args in _places(words, flag):
            # --help after the parse: an unknown option is refused while parsing, before help
            code, out, err = cli(capsys, *args, "--help")
            assert code == 0 and out.startswith("Usage: kmeshctl"), (args, err)
            assert "No such option" not in err, (args, err)


@pytest.mark.parametrize("args", [["dump", "-q", "maps"], ["node", "-q", "preflight"], ["dump", "maps", "-q"],
                                  ["node", "preflight", "-q"], ["sandbox", "status", "-q"],
                                  ["waypoint", "delete", "-n", "h63", "-q"], ["sandbox", "exec", "-q", "p", "--", "sh"]],
                         ids=" ".join)
def test_the_places_the_new_user_pass_found_refused_now_parse(args, capsys, no_env, state_root) -> None:
    code, _, err = cli(capsys, *args, "--bpf-fs", "/nonexistent-h63") if args[0] == "dump" else cli(capsys, *args)
    assert "No such option" not in err and "-q" not in err, (args, err)


def test_q_twice_is_one_flag_and_the_command_own_q_still_gets_it(capsys, no_env, state_root) -> None:
    for args in (["-q", "sandbox", "list", "-q"], ["sandbox", "-q", "list", "--quiet"]):
        code, out, err = cli(capsys, *args)
        assert (code, out, err) == (0, "", ""), (args, err)  # parsed, and -q silences the empty-list note


def test_q_after_dashes_is_the_command_s(capsys, no_env) -> None:
    from kmeshctl.cli.conventions import gather_quiet_flag
    from test_cli_kinds import ROOT

    assert gather_quiet_flag(ROOT, ["sandbox", "exec", "p", "--", "grep", "-q", "x"]) == \
        ["sandbox", "exec", "p", "--", "grep", "-q", "x"]
    assert gather_quiet_flag(ROOT, ["sandbox", "up", "-q"]) == ["-q", "sandbox", "up", "-q"]
    assert gather_quiet_flag(ROOT, ["dump", "maps", "-q"]) == ["-q", "dump", "maps"]


def test_using_sandbox_note_is_silenced_by_q_in_every_place(capsys, no_env, state_root) -> None:
    _record("h63a")
    code, _, err = cli(capsys, "sandbox", "status")
    assert "Using sandbox h63a" in err, err
    for args in (["-q", "sandbox", "status"], ["sandbox", "-q", "status"], ["sandbox", "status", "-q"],
                 ["-q", "sandbox", "exec", "p", "--", "true"], ["sandbox", "exec", "-q", "p", "--", "true"]):
        code, _, err = cli(capsys, *args)
        assert "Using sandbox" not in err, (args, err)


def test_dump_note_goes_through_the_quiet_aware_note(capsys, no_env, monkeypatch) -> None:
    from kmeshctl import sandboxes

    def target(*_a, **_k):
        return sandboxes.LocalTarget(sandboxes.Path("/nonexistent-h63"), 1, None, "Using sandbox h63b (the only one up)")

    monkeypatch.setattr(sandboxes, "local_target", target)
    _, _, err = cli(capsys, "dump", "maps")
    assert "Using sandbox h63b" in err, err
    for args in (["-q", "dump", "maps"], ["dump", "-q", "maps"], ["dump", "maps", "-q"]):
        _, _, err = cli(capsys, *args)
        assert "Using sandbox" not in err, (args, err)


def test_progress_and_note_take_the_run_s_quiet(capsys) -> None:
    """-q is passed in (the run's KubeTarget on ctx.obj: kmeshctl.cli.common.run_options),
    never read from a module-level switch."""
    assert Progress(quiet=True).quiet and not Progress().quiet
    note("h63 hidden", True)
    note("h63 shown", False)
    assert capsys.readouterr().err == "h63 shown\n"


def test_the_offline_dry_run_note_is_silenced_by_q(tmp_path, capsys, no_env, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config at all
    code, out, err = cli(capsys, "waypoint", "apply", "--dry-run")
    assert code == 0 and "rendered offline" in err, err
    for args in (["-q", "waypoint", "apply", "--dry-run"], ["waypoint", "-q", "apply", "--dry-run"],
                 ["waypoint", "apply", "--dry-run", "-q"]):
        code, quiet_out, err = cli(capsys, *args)
        assert code == 0 and err == "" and quiet_out == out, (args, err)
