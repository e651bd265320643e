"""Pass-23 new-user findings on unknown commands and flags given with no command (in-process,
kmeshctl.cli.main; sandbox records in a temporary state root; every command's own work
stubbed: a pasted hint line that gets past parsing and every flag check exits 7, nothing runs):

- 1: kubectl's verb-first order (`get sandbox`, `describe sandbox NAME`, `delete waypoint
  NAME`) gets the kmeshctl command that does it, never `status` of the verb's group;
- 2: a flag with no command is said to miss a command, with a command it makes sense with
  alone (never one that needs more flags); a flag with no value is said to need one;
- 3: `sandbox run` -> exec, `sandbox logs|ps` -> `sandbox status -o wide`, enable-namespace
  -> enable-ns.
"""

from __future__ import annotations

import functools
import re
import shlex

import pytest
import typer

from kmeshctl.cli import app
from kmeshctl.cli import sandbox as sandbox_cli
from test_cli_kinds import _record, cli, no_env, state_root  # noqa: F401

BACKTICKED = re.compile(r"`([^`]*)`")
STUBBED = 7


@pytest.fixture
def stubbed(monkeypatch) -> None:
    """Every command's own function exits 7 (the checks wrapped around it still run)."""
    def stub_all(typer_app: typer.Typer) -> None:
        for info in typer_app.registered_commands:
            original = info.callback

            @functools.wraps(original)  # type: ignore[arg-type]
            def stub(*_: object, **__: object) -> None:
                raise typer.Exit(STUBBED)

            monkeypatch.setattr(info, "callback", stub)
        for group in typer_app.registered_groups:
            stub_all(group.typer_instance)  # type: ignore[arg-type]

    stub_all(app)


def _line(capsys, *args: str) -> str:
    code, out, err = cli(capsys, *args)
    assert code == 2 and not out and "Traceback" not in err, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _pasted_lines(line: str) -> list[list[str]]:
    return [shlex.split(found) for found in BACKTICKED.findall(line) if found.startswith("kmeshctl")]


def _assert_pastable(capsys, line: str) -> None:
    """Each backticked kmeshctl line gets past parsing and every flag check when pasted."""
    for words in _pasted_lines(line):
        assert words[0] == "kmeshctl", words
        code, _, err = cli(capsys, *words[1:])
        assert code == STUBBED, (words, code, err)


def _hint(capsys, *args: str) -> list[str]:
    line = _line(capsys, *args)
    found = _pasted_lines(line)
    assert len(found) == 1, line
    _assert_pastable(capsys, line)
    return found[0]


# ------------------------------------------------------------------ 1. kubectl's verb first


@pytest.mark.parametrize("args", [["get", "sandbox"], ["get", "sandboxes"], ["get", "sandboxes", "-o", "json"]],
                         ids=" ".join)
def test_get_sandboxes_is_sandbox_list(args, state_root, stubbed, capsys, no_env) -> None:  # noqa: F811
    line = _line(capsys, *args)
    assert line.startswith("Error: kmeshctl has no command get; to list sandboxes: `kmeshctl sandbox list"), line
    assert _hint(capsys, *args) == ["kmeshctl", "sandbox", "list", *args[2:]]


@pytest.mark.parametrize("args", [["describe", "sandbox", "f24a"], ["get", "sandbox", "f24a"],
                                  ["get", "sandbox/f24a"], ["describe", "sandboxes", "f24a", "-o", "wide"]],
                         ids=" ".join)
def test_describe_or_get_a_sandbox_is_sandbox_status_with_its_name(args, state_root, stubbed, capsys,  # noqa: F811
                                                                    no_env) -> None:  # noqa: F811
    _record("f24a")
    extra = args[3:]
    assert _hint(capsys, *args) == ["kmeshctl", "sandbox", "status", "--name", "f24a", *extra]


def test_delete_a_sandbox_is_sandbox_down_with_its_name(state_root, stubbed, capsys, no_env) -> None:  # noqa: F811
    _record("f24a")
    line = _line(capsys, "delete", "sandbox", "f24a")
    assert line == ("Error: kmeshctl has no command delete; to remove sandbox f24a: `kmeshctl sandbox down --name "
                    "f24a` (see 'kmeshctl sandbox --help')"), line
    _assert_pastable(capsys, line)


@pytest.mark.parametrize("verb", ["describe", "get", "delete"])
def test_a_sandbox_that_does_not_exist_is_said_so_not_offered(verb, state_root, stubbed, capsys,  # noqa: F811
                                                               no_env) -> None:  # noqa: F811
    _record("f24a")
    line = _line(capsys, verb, "sandbox", "f24z")
    assert "--name f24z: no sandbox has this name (sandboxes: f24a)" in line, line
    assert not _pasted_lines(line) and "did you mean" not in line, line


def test_delete_sandbox_without_a_name_lists_them(state_root, stubbed, capsys, no_env) -> None:  # noqa: F811
    line = _line(capsys, "delete", "sandbox")
    assert "kmeshctl sandbox down --name NAME" in line and "`kmeshctl sandbox list`" in line, line
    _assert_pastable(capsys, line)


@pytest.mark.parametrize("args,expected", [
    (["get", "waypoint"], ["waypoint", "list"]),
    (["get", "waypoints", "-A"], ["waypoint", "list", "-A"]),
    (["get", "waypoints", "-n", "foo", "-o", "json"], ["waypoint", "list", "-n", "foo", "-o", "json"]),
    (["get", "waypoint", "east", "-n", "foo"], ["waypoint", "status", "--name", "east", "-n", "foo"]),
    (["describe", "waypoint", "east"], ["waypoint", "status", "--name", "east"]),
    (["describe", "waypoint"], ["waypoint", "status"]),
    (["delete", "waypoint", "east", "-n", "foo"], ["waypoint", "delete", "--name", "east", "-n", "foo"]),
    (["-n", "foo", "delete", "waypoint", "east"], ["waypoint", "delete", "--name", "east", "-n", "foo"]),
    (["-n", "foo", "get", "waypoints"], ["waypoint", "list", "-n", "foo"]),
], ids=lambda x: " ".join(x))
def test_waypoint_verbs_are_the_waypoint_groups(args, expected, stubbed, capsys, no_env) -> None:  # noqa: F811
    assert _hint(capsys, *args) == ["kmeshctl", *expected]


def test_delete_waypoint_without_a_name_lists_them(stubbed, capsys, no_env) -> None:  # noqa: F811
    line = _line(capsys, "delete", "waypoint", "-n", "foo")
    assert "`kmeshctl waypoint delete -n foo`" in line and "`kmeshctl waypoint list -n foo`" in line, line
    _assert_pastable(capsys, line)


def test_a_sandbox_command_given_a_flag_it_takes_not_says_so(state_root, stubbed, capsys,  # noqa: F811
                                                              no_env) -> None:  # noqa: F811
    _record("f24a")
    line = _line(capsys, "-n", "foo", "get", "sandbox", "f24a")
    assert "`kmeshctl sandbox status --name f24a` (sandbox status takes no -n)" in line, line
    _assert_pastable(capsys, line)


# p24: `get foo`, not `get pods` (a kind of kubectl's: kubectl's line, test_p24_hints)
@pytest.mark.parametrize("args,word,close", [(["stauts"], "stauts", "status"), (["get", "foo"], "get", "status"),
                                             (["sandbox", "lsit"], "lsit", "list"),
                                             (["-n", "foo", "stauts"], "stauts", "status")],
                         ids=lambda x: " ".join(x) if isinstance(x, list) else x)
def test_plain_typos_keep_did_you_mean(args, word, close, capsys, no_env) -> None:  # noqa: F811
    line = _line(capsys, *args)
    assert f"has no command {word}; did you mean {close}?" in line, line


# ------------------------------------------------------------------ 2. a flag with no command


def test_a_namespace_with_no_command_is_a_missing_command(stubbed, capsys, no_env) -> None:  # noqa: F811
    line = _line(capsys, "-n", "foo")
    assert line == "Error: kmeshctl -n foo: missing a command; e.g. `kmeshctl status -n foo` (see 'kmeshctl --help')"
    _assert_pastable(capsys, line)
    assert cli(capsys, "-n", "foo", "status")[0] == STUBBED  # -n before the command is accepted


def test_dump_namespace_is_never_offered_without_pod(stubbed, capsys, no_env) -> None:  # noqa: F811
    for args in (["dump", "-n", "kmesh-system"], ["-n", "kmesh-system", "dump"]):
        line = _line(capsys, *args)
        assert "missing a command" in line and not _pasted_lines(line), line
        assert "kmeshctl dump maps and kmeshctl dump config take -n only with --pod POD" in line, line


@pytest.mark.parametrize("args,flag", [(["-n"], "-n"), (["-o"], "-o"), (["sandbox", "-o"], "-o"),
                                       (["waypoint", "-o"], "-o"), (["dump", "-n"], "-n"), (["dump", "-o"], "-o"),
                                       (["sandbox", "-o", "list"], "-o"), (["-o", "status"], "-o"),
                                       (["waypoint", "-n"], "-n"), (["sandbox", "-o", "-h"], "-o"),
                                       (["-n", "--help"], "-n"), (["-o="], "-o"), (["sandbox", "--output="], "--output")],
                         ids=lambda x: " ".join(x) if isinstance(x, list) else x)
def test_a_flag_without_its_value_is_said_to_need_one(args, flag, state_root, stubbed, capsys,  # noqa: F811
                                                      no_env) -> None:  # noqa: F811
    line = _line(capsys, *args)
    assert f"{flag} needs a value ({flag} " in line, line
    assert "No such option" not in line and "takes no" not in line and "goes after" not in line, line
    for words in _pasted_lines(line):
        at = words.index(flag)
        assert at + 1 < len(words) and not words[at + 1].startswith("-"), line  # never a flag without its value
    _assert_pastable(capsys, line)


def test_namespace_and_all_namespaces_with_no_command_get_no_line_that_refuses_them(capsys,  # noqa: F811
                                                                                   no_env) -> None:  # noqa: F811
    line = _line(capsys, "-A", "-n", "foo")
    assert "missing a command; give -n NAMESPACE or -A (--all-namespaces), not both" in line, line
    assert not _pasted_lines(line), line


def test_a_value_that_is_a_subcommand_gets_that_subcommand(stubbed, capsys, no_env) -> None:  # noqa: F811
    line = _line(capsys, "sandbox", "-o", "list")
    assert line.endswith(": e.g. `kmeshctl sandbox list -o table` (see 'kmeshctl sandbox list --help')"), line


@pytest.mark.parametrize("args", [["-n", "foo"], ["-o", "json"], ["-A"], ["sandbox", "-o", "json"],
                                  ["waypoint", "-o", "json"], ["waypoint", "-n", "foo"], ["dump", "-o", "json"],
                                  ["-o", "json", "sandbox"], ["-n", "foo", "sandbox"]], ids=" ".join)
def test_every_missing_command_line_pastes(args, state_root, stubbed, capsys, no_env) -> None:  # noqa: F811
    line = _line(capsys, *args)
    assert line.startswith(f"Error: {shlex.join(['kmeshctl', *args])}: missing a command; e.g. `"), line
    assert "goes after the command" not in line, line
    for words in _pasted_lines(line):
        for i, word in enumerate(args):  # every value typed is kept
            if not word.startswith("-") and word not in ("sandbox", "waypoint", "dump"):
                assert word in words, (line, word)
        assert not any(w in words for w in ("apply", "delete", "install", "uninstall")), line  # only reading ones
    _assert_pastable(capsys, line)


def test_a_missing_command_line_keeps_the_cluster_flags(stubbed, capsys, no_env) -> None:  # noqa: F811
    line = _line(capsys, "--request-timeout", "5s", "-n", "foo")
    assert "`kmeshctl --request-timeout 5s status -n foo`" in line, line


def test_a_misspelled_subcommand_after_a_group_flag_is_an_unknown_command(capsys, no_env) -> None:  # noqa: F811
    line = _line(capsys, "sandbox", "-o", "json", "lsit")
    assert line.startswith("Error: kmeshctl sandbox has no command lsit; did you mean list?"), line


# ------------------------------------------------------------------ 3. run, logs, ps, enable-namespace


def test_sandbox_run_is_exec(state_root, stubbed, capsys, no_env) -> None:  # noqa: F811
    _record("f24a")
    line = _line(capsys, "sandbox", "run", "netutils-0", "--", "true")
    assert "did you mean exec? `kmeshctl sandbox exec netutils-0 -- true`" in line and " up" not in line, line
    _assert_pastable(capsys, line)
    assert _hint(capsys, "sandbox", "run", "netutils-0", "curl", "-sv", "x") == \
        shlex.split("kmeshctl sandbox exec netutils-0 -- curl -sv x")
    assert "did you mean exec (run a command in a pod) or up" in _line(capsys, "sandbox", "run")


@pytest.mark.parametrize("word,column", [("logs", "LOG"), ("ps", "PIDS")])
def test_sandbox_logs_and_ps_point_at_status_wide(word, column, state_root, stubbed, capsys,  # noqa: F811
                                                  no_env) -> None:  # noqa: F811
    _record("f24a")
    line = _line(capsys, "sandbox", word)
    assert f"did you mean status? its {column} column" in line, line
    assert _hint(capsys, "sandbox", word) == ["kmeshctl", "sandbox", "status", "-o", "wide"]
    assert _hint(capsys, "sandbox", word, "--name", "f24a") == \
        ["kmeshctl", "sandbox", "status", "-o", "wide", "--name", "f24a"]
    assert column in sandbox_cli.WIDE_POD_COLUMNS  # -o wide shows it


def test_enable_namespace_is_enable_ns(stubbed, capsys, no_env) -> None:  # noqa: F811
    assert "has no command enable-namespace; did you mean enable-ns?" in _line(capsys, "enable-namespace")
    assert "did you mean disable-ns?" in _line(capsys, "disable-namespace")
    assert _hint(capsys, "enable-namespace", "foo") == ["kmeshctl", "enable-ns", "foo"]


def test_a_shell_in_capitals_gets_the_line_in_lower_case(capsys, no_env) -> None:
    code, out, err = cli(capsys, "completion", "BASH")
    assert code == 2 and not out and "use bash, zsh or fish: `kmeshctl completion bash`" in err, err
    code, _, err = cli(capsys, "completion", "tcsh")
    assert code == 2 and "`" not in err.split("(see")[0], err
