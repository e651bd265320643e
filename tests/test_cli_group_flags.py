"""Issue 14, kind "a flag between a group and its subcommand": kubectl's global flags
(-o, -n, -A, -q, --kubeconfig, --context) are taken anywhere on the line, as kubectl
takes them (`kmeshctl sandbox -o json list` = `kmeshctl sandbox list -o json`); a flag
of the subcommand itself typed before it gets the line to paste; -q where nothing would
be printed is accepted (nothing to quiet)."""

from __future__ import annotations

import json

import pytest

from test_cli_kinds import cli, commands, no_env, state_root  # noqa: F401


def test_global_flags_between_a_group_and_its_subcommand_work_as_after_it(capsys, no_env, state_root) -> None:
    code, out, err = cli(capsys, "sandbox", "-o", "json", "list")
    assert (code, json.loads(out)) == (0, []), err
    assert cli(capsys, "sandbox", "-o=json", "list")[:2] == cli(capsys, "sandbox", "list", "-o", "json")[:2]
    for args in (["-q", "sandbox", "list"], ["sandbox", "-q", "list"], ["sandbox", "--quiet", "list"]):
        code, out, err = cli(capsys, *args)
        assert (code, out, err) == (0, "", ""), (args, err)  # parsed, and -q silences the empty-list note


def test_dump_takes_o_before_its_subcommand(capsys, no_env) -> None:
    first = cli(capsys, "dump", "-o", "json", "maps", "--bpf-fs", "/nonexistent")
    assert first[0] == 2 and first == cli(capsys, "dump", "maps", "--bpf-fs", "/nonexistent", "-o", "json"), first
    code, _, err = cli(capsys, "dump", "-o", "xml", "maps")
    assert code == 2 and err.startswith("Error: -o xml: not an accepted value"), err


def test_a_subcommand_flag_before_the_subcommand_gets_the_line_to_paste(capsys, no_env) -> None:
    code, out, err = cli(capsys, "sandbox", "--name", "nu9a", "status")
    assert code == 2 and not out
    assert err.strip() == ("Error: put --name after the subcommand: `kmeshctl sandbox status --name nu9a` "
                           "(see 'kmeshctl sandbox status --help')"), err


def test_a_global_flag_the_subcommand_does_not_take_says_so(capsys, no_env) -> None:
    code, _, err = cli(capsys, "sandbox", "-n", "foo", "list")
    assert code == 2 and err.startswith("Error: kmeshctl sandbox list takes no -n/--namespace"), err
    code, _, err = cli(capsys, "sandbox", "-o", "json")
    assert code == 2 and err.startswith("Error: kmeshctl sandbox -o json: missing a command; e.g. "
                                        "`kmeshctl sandbox list -o json` or `kmeshctl sandbox status -o json`"), err


@pytest.mark.parametrize("words", [w for w, c in commands() if len(w) == 2 and any(
    "-o" in p.opts for p in c.params)], ids=" ".join)
def test_every_subcommand_with_o_takes_it_before_the_subcommand_too(words, capsys, no_env) -> None:
    # a bad value is refused by the subcommand itself, naming it: the flag reached it
    code, _, err = cli(capsys, words[0], "-o", "xml", words[1])
    assert code == 2 and err.startswith("Error: -o xml: not an accepted value"), err
    assert f"(see 'kmeshctl {' '.join(words)} --help')" in err, err
