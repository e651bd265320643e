"""An on/off flag typed with `=VALUE` (kubectl's `--quiet=true`, `--force=false`) gets the
one line `Option '--quiet' does not take a value; ... write --quiet ...` wherever it is
typed: before the command, between a group and its subcommand, after the subcommand, a
global flag (-q/--quiet, the root's) as well as a command's own; never "No such option"
nor "takes no -q/--quiet" (tester F19, B). No cluster, no sandbox (temporary state root)."""

from __future__ import annotations

import pytest

from test_cli_kinds import cli, no_env, state_root  # noqa: F401

QUIET = "Error: Option '--quiet' does not take a value; on/off flags take no value here: write --quiet to turn " \
        "it on, leave it out for off, `kmeshctl {line}` (see 'kmeshctl {path} --help')"

LINES = {
    ("sandbox", "list", "--quiet=false"): QUIET.format(line="sandbox list", path="sandbox list"),
    ("status", "--quiet=true"): QUIET.format(line="status --quiet", path="status"),
    ("dump", "maps", "--quiet=true"): QUIET.format(line="dump maps --quiet", path="dump maps"),
    ("dump", "--quiet=true", "maps"): QUIET.format(line="dump maps --quiet", path="dump maps"),
    ("sandbox", "--quiet=true", "list"): QUIET.format(line="sandbox list --quiet", path="sandbox list"),
    ("--quiet=true", "sandbox", "list"): QUIET.format(line="sandbox list --quiet", path="sandbox list"),
    ("-n", "foo", "status", "--quiet=1"): QUIET.format(line="-n foo status --quiet", path="status"),
    ("sandbox", "--force=true", "down"): "Error: Option '--force' does not take a value; on/off flags take no "
                                         "value here: write --force to turn it on, leave it out for off, "
                                         "`kmeshctl sandbox down --force` "
                                         "(see 'kmeshctl sandbox down --help')",
    ("sandbox", "exec", "web", "--quiet=true", "--", "true"): QUIET.format(
        line="sandbox exec web --quiet -- true", path="sandbox exec"),
}


@pytest.mark.parametrize("args", list(LINES), ids=" ".join)
def test_an_on_off_flag_with_a_value_is_one_line_anywhere(args, state_root, capsys, no_env) -> None:
    code, out, err = cli(capsys, *args)
    assert (code, out, err.strip()) == (2, "", LINES[args]), err


def test_the_flags_own_spellings_keep_working(state_root, capsys, no_env) -> None:
    for args in (("sandbox", "list", "--quiet"), ("sandbox", "--quiet", "list"), ("-q", "sandbox", "list"),
                 ("sandbox", "list", "-o=json")):
        code, _, err = cli(capsys, *args)
        assert code == 0, (args, err)


def test_words_after_dashes_and_a_global_flags_value_are_not_flags(state_root, capsys, no_env) -> None:
    code, _, err = cli(capsys, "sandbox", "exec", "web", "--", "ls", "--quiet=1")
    assert "does not take a value" not in err, err
    code, _, err = cli(capsys, "--context", "--quiet=x", "status")
    assert "does not take a value" not in err, err
