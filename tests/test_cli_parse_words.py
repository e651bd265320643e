"""Issue 14, tenth new-user pass, kind "no click wording is left": a flag without its
value, a missing argument and an unknown command are each one line in kmeshctl's words
(the problem, a valid example, the see-help suffix, exit 2) on every command, instead of
click's "Option '-n' requires an argument.", "Missing argument 'X'." and "No such
command 'x'."; each example given is accepted when used."""

from __future__ import annotations

import re
import shlex

import pytest

from kmeshctl.cli.badinput import takes_value
from test_cli_kinds import REQUIRED_ARGS, ROOT, cli, commands, leaf_commands, no_env  # noqa: F401

CLICK_WORDS = re.compile(r"requires an argument|Missing argument|No such command|Missing option")
RUNNABLE = [(words, c) for words, c in leaf_commands() if not c.hidden and words != ["help"]]


def _pointer(words: list[str]) -> str:
    return f" (see 'kmeshctl {' '.join(words)} --help')"


VALUE_CASES = [(words, opt) for words, c in RUNNABLE for p in c.params
               if takes_value(p) and not p.hidden for opt in p.opts]


@pytest.mark.parametrize("words,opt", VALUE_CASES, ids=lambda x: " ".join(x) if isinstance(x, list) else x)
def test_a_flag_without_its_value_is_named_with_an_example(words, opt, capsys, no_env) -> None:
    code, out, err = cli(capsys, *words, *REQUIRED_ARGS.get(tuple(words), []), opt)
    assert code == 2 and not out and err.count("\n") == 1, err
    assert not CLICK_WORDS.search(err), err
    assert err.startswith(f"Error: {opt} needs a value: {opt} "), err
    assert err.rstrip("\n").endswith(_pointer(words)), err
    example = re.search(rf"e\.g\. {re.escape(opt)} (\S+) \(see", err)
    if example is None:
        return
    # the example is a value the flag takes: fed back, the error is no longer about it
    value = shlex.split(example.group(1))[0]
    line = [*words, *REQUIRED_ARGS.get(tuple(words), []), opt, value, "--kubeconfig", "/nonexistent/h45/kc"]
    if words[-1] == "exec":
        line += ["--", "true"]
    _, _, again = cli(capsys, *line)
    # named with the kubeconfig's problem (every bad value said at once), a path that is not on this
    # machine, or a flag another needs, is still said; the example's form is never the problem
    first = again.split("; also ")[0]
    assert not again.startswith((f"Error: {opt} ", f"Error: {opt}=")) or ": does not exist;" in first or \
        f"{opt} applies only with" in first or f"{opt} is the namespace of the agent pod --pod names" in first or \
        f"{opt} {value} names a local sandbox, --kubeconfig" in first, (line, again)


@pytest.mark.parametrize("flag", ["--kubeconfig", "--context", "--request-timeout"])
def test_a_global_flag_without_its_value_too(flag: str, capsys, no_env) -> None:
    for line in ([flag], ["status", flag], ["status", flag, "-o", "json"]):
        code, _, err = cli(capsys, *line)
        assert code == 2 and err.startswith(f"Error: {flag} needs a value: {flag} ") and not CLICK_WORDS.search(err), (line, err)


ARGUMENT_CASES = [words for words, c in RUNNABLE if any(p.param_type_name == "argument" and p.required
                                                         for p in c.params)]


def test_some_commands_require_an_argument() -> None:
    assert ["enable-ns"] in ARGUMENT_CASES and ["completion"] in ARGUMENT_CASES, ARGUMENT_CASES


@pytest.mark.parametrize("words", ARGUMENT_CASES, ids=" ".join)
def test_a_missing_argument_is_named_with_the_commands_own_example(words, capsys, no_env) -> None:
    code, out, err = cli(capsys, *words)
    assert code == 2 and not out and err.count("\n") == 1 and not CLICK_WORDS.search(err), err
    assert " is required: e.g. `kmeshctl " in err and err.rstrip().endswith(_pointer(words)), err
    pasted = shlex.split(re.search(r"`(kmeshctl [^`]*)`", err).group(1))
    _, _, again = cli(capsys, *pasted[1:], "--kubeconfig", "/nonexistent/h45/kc")
    assert " is required" not in again, (pasted, again)


GROUPS = [words for words, c in commands() if hasattr(c, "commands")]


@pytest.mark.parametrize("words", GROUPS, ids=lambda w: " ".join(w) or "kmeshctl")
def test_an_unknown_command_lists_the_commands_or_offers_the_close_one(words, capsys, no_env) -> None:
    code, out, err = cli(capsys, *words, "nosuch")
    path = " ".join(["kmeshctl", *words])
    assert code == 2 and not out and err.count("\n") == 1 and not CLICK_WORDS.search(err), err
    assert err.startswith(f"Error: {path} has no command nosuch; its commands: "), err
    assert err.rstrip().endswith(f"(see '{path} --help')"), err
    group = ROOT
    for word in words:
        group = group.commands[word]
    first = sorted(group.commands)[0]
    code, _, err = cli(capsys, *words, first[:-1] + first[-1] * 2)  # a typo of a real one
    assert code == 2 and f"did you mean {first}?" in err and not CLICK_WORDS.search(err), err


@pytest.mark.parametrize("line", [["--context", "prod"], ["--request-timeout", "5s"]], ids=" ".join)
def test_global_flags_without_a_command_name_a_command(line, capsys, no_env) -> None:
    code, out, err = cli(capsys, *line)
    assert code == 2 and not out and err.count("\n") == 1 and not CLICK_WORDS.search(err), err
    assert err.startswith("Error: kmeshctl needs a command after its flags: e.g. `kmeshctl "), err
    pasted = shlex.split(re.search(r"`(kmeshctl [^`]*)`", err).group(1))
    assert pasted[1:len(line) + 1] == line, pasted
