"""Issue 14, fifth new-user pass: help text, one test per kind of fault, over every command
of the real typer tree (kmeshctl.cli.main in-process).

3a `-h`/`--help` before the command prints that command's help; 3b duration defaults
shown as durations, never a float; 3c help prose names no argument the command does not
have; 3d a default that depends on what is up says so; 3e a default path is shown as
what it really is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kmeshctl.cli.conventions import DURATION_METAVAR
from test_cli_kinds import ROOT, cli, commands, no_env  # noqa: F401

VISIBLE = [(words, command) for words, command in commands() if words and not command.hidden]


def _ids(value: object) -> str:
    return " ".join(value) if isinstance(value, list) else ""


# ------------------------------------------------------------------ 3a. -h before the command


@pytest.mark.parametrize("words,command", VISIBLE, ids=_ids)
def test_help_before_the_command_prints_that_commands_help(words: list[str], command, capsys, no_env) -> None:
    code, expected, _ = cli(capsys, "help", *words)
    assert code == 0 and expected.startswith(f"Usage: kmeshctl {' '.join(words)} "), expected[:80]
    for flag in ("-h", "--help"):
        code, out, err = cli(capsys, flag, *words)
        assert code == 0 and out == expected and not err, (flag, out[:80])


def test_help_before_the_command_keeps_the_global_flags_and_a_bare_help_is_the_top_level(capsys, no_env) -> None:
    code, out, _ = cli(capsys, "--context", "x", "-h", "sandbox", "up")
    assert code == 0 and out.startswith("Usage: kmeshctl sandbox up "), out[:80]
    code, out, _ = cli(capsys, "-h")
    assert code == 0 and out.startswith("Usage: kmeshctl [OPTIONS] COMMAND"), out[:80]


# ------------------------------------------------------------------ 3b. durations


def _help(words: list[str], capsys) -> str:
    code, out, _ = cli(capsys, *words, "--help")
    assert code == 0
    return " ".join(out.split())


@pytest.mark.parametrize("words,command", [(w, c) for w, c in commands() if w], ids=_ids)
def test_every_duration_default_reads_as_a_duration(words: list[str], command, capsys, no_env) -> None:
    text = _help(words, capsys)
    assert not re.search(r"default: \d+\.0(?![\d.])", text), text  # 180.0, not 127.0.0.1
    for param in command.params:
        if param.metavar == DURATION_METAVAR and param.default is not None:
            value = int(param.default) if float(param.default).is_integer() else param.default
            assert f"[default: {value}s" in text, (param.name, text)


def test_there_are_duration_flags_to_check() -> None:
    found = {(tuple(w), p.name) for w, c in commands() for p in c.params if p.metavar == DURATION_METAVAR}
    assert {(("install",), "timeout"), (("waypoint", "apply"), "timeout"), (("bench", "dataplane"), "duration")} <= found


def test_durations_in_minutes_say_so_too() -> None:
    from kmeshctl.cli.conventions import duration_text

    assert [duration_text(v) for v in (180.0, 300, 10, 0.5, 3600, 90)] == \
        ["180s (3m)", "300s (5m)", "10s", "0.5s", "3600s (1h)", "90s"]


# ------------------------------------------------------------------ 3c. arguments the command does not have


def _metavar_words(command) -> set[str]:
    return {w for p in command.params for w in re.findall(r"[A-Z][A-Z_]{2,}", str(p.metavar or ""))}


ACRONYMS = {"ASM", "JSON", "YAML", "API", "BPF", "CPU", "URL", "TCP", "HTTP", "PASS", "FAIL"}


@pytest.mark.parametrize("words,command", [(w, c) for w, c in commands() if not c.hidden], ids=_ids)
def test_help_prose_names_only_arguments_and_values_the_command_has(words: list[str], command) -> None:
    every = set().union(*(_metavar_words(c) for _, c in commands())) - ACRONYMS
    prose = (command.help or "").split("Examples:")[0]
    named = set(re.findall(r"(?<![\w$/.=-])[A-Z][A-Z_]{2,}(?![\w/-])", prose)) & every
    own = _metavar_words(command)
    assert named <= own, f"{' '.join(words)}: help names {sorted(named - own)}, which it does not take"


# ------------------------------------------------------------------ 3d. defaults that depend on what is up


def test_a_sandbox_flag_says_the_only_sandbox_up_is_the_default(capsys, no_env) -> None:
    for words in (["sandbox", "status"], ["sandbox", "down"], ["sandbox", "exec"], ["dump", "maps"],
                  ["dump", "config"], ["demo", "traffic-shift"]):
        text = _help(words, capsys)
        assert "the only sandbox up" in text, words
        assert "default: 'kmesh'." not in text, words
    assert "Name of the new sandbox (also --sandbox NAME; several can coexist): 1-16 lowercase letters, digits or " \
           "'-', starting and ending with a letter or digit, e.g. demo or team-a; default: 'kmesh'." in \
        _help(["sandbox", "up"], capsys)


# ------------------------------------------------------------------ 3e. default paths as they really are


@pytest.mark.parametrize("words,command", [(w, c) for w, c in commands() if w and not c.hidden], ids=_ids)
def test_every_default_path_in_help_is_what_it_really_is(words: list[str], command, capsys, no_env) -> None:
    text = _help(words, capsys)
    for path in re.findall(r"default:? (?:the [\w ]+, )?((?:\./)?[\w.<>-]+/[\w./<>-]*)", text):
        if re.match(r"[\w-]+\.[\w.-]+/", path):
            continue  # an image reference (docker.io/...), not a path
        if path.startswith("./"):
            assert "under the current directory" in text, (words, path)
        else:
            assert path.startswith("/"), (words, path)  # never relative to who knows where


def test_sandbox_up_shows_the_installed_fortio_demo(capsys, no_env) -> None:
    text = _help(["sandbox", "up"], capsys)
    shown = Path(re.search(r"default: the fortio demo, (\S+)", text).group(1))
    assert shown.is_absolute() and sorted(shown.glob("*.yaml")), shown
