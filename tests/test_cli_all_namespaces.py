"""Issue 14, tenth new-user pass, kind "-A on a command without it": kubectl users type
-A/--all-namespaces everywhere. Every command that has no all-namespaces form says so in
one line with what to do instead (status covers every namespace already, enable-ns takes
names, a waypoint command takes -n), whether -A comes after the command, before it, or
between a group and its subcommand; never "No such option" or a --namespace guess."""

from __future__ import annotations

import re
import shlex

import pytest

from test_cli_kinds import REQUIRED_ARGS, cli, leaf_commands, no_env  # noqa: F401

WITHOUT_A = [words for words, c in leaf_commands() if not c.hidden and words != ["help"]
             and not any("-A" in p.opts for p in c.params)]


def _line(words: list[str], flag: str) -> list[str]:
    tail = ["--", "true"] if words[-1] == "exec" else []
    return [*words, *REQUIRED_ARGS.get(tuple(words), []), flag, *tail]


def test_the_commands_of_the_report_are_covered() -> None:
    for words in (["status"], ["enable-ns"], ["sandbox", "list"]):
        assert words in WITHOUT_A, WITHOUT_A


@pytest.mark.parametrize("flag", ["-A", "--all-namespaces"])
@pytest.mark.parametrize("words", WITHOUT_A, ids=" ".join)
def test_all_namespaces_on_a_command_without_it_says_what_to_do_instead(words, flag, capsys, no_env) -> None:
    code, out, err = cli(capsys, *_line(words, flag))
    path = " ".join(["kmeshctl", *words])
    assert code == 2 and not out and err.count("\n") == 1, err
    assert err.startswith(f"Error: {flag}: {path} has no all-namespaces form"), err
    assert "No such option" not in err and "did you mean --namespace" not in err, err
    assert err.rstrip().endswith(f"(see '{path} --help')"), err
    assert f"leave out {flag}" in err or "by name" in err or "-n NAMESPACE" in err, err


@pytest.mark.parametrize("line,path", [(["-A", "status"], "kmeshctl status"),
                                       (["sandbox", "-A", "list"], "kmeshctl sandbox list"),
                                       (["--all-namespaces", "enable-ns", "default"], "kmeshctl enable-ns"),
                                       (["waypoint", "-A", "status"], "kmeshctl waypoint status")], ids=str)
def test_the_same_line_before_the_command_or_its_group(line, path, capsys, no_env) -> None:
    code, _, err = cli(capsys, *line)
    flag = next(w for w in line if w.startswith("-"))
    assert code == 2 and err.startswith(f"Error: {flag}: {path} has no all-namespaces form"), err
    assert err.rstrip().endswith(f"(see '{path} --help')"), err


def test_what_each_reported_command_offers_instead(capsys, no_env) -> None:
    _, _, err = cli(capsys, "status", "-A")
    assert "covers every namespace already" in err, err
    _, _, err = cli(capsys, "sandbox", "list", "-A")
    assert "lists every sandbox on this machine already" in err, err
    _, _, err = cli(capsys, "enable-ns", "-A")
    pasted = shlex.split(re.search(r"`(kmeshctl [^`]*)`", err).group(1))
    assert pasted[:2] == ["kmeshctl", "enable-ns"] and len(pasted) == 3, err
    code, _, again = cli(capsys, *pasted[1:], "--kubeconfig", "/nonexistent/h45/kc")
    assert code == 2 and "--kubeconfig" in again and "all-namespaces" not in again, again


def test_commands_with_all_namespaces_keep_it(capsys, no_env) -> None:
    code, _, err = cli(capsys, "waypoint", "list", "-A", "--kubeconfig", "/nonexistent/h45/kc")
    assert code == 2 and "all-namespaces form" not in err and "--kubeconfig" in err, err
