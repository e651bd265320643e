"""Issue 14, tenth new-user pass, kind "a bad $KMESHCTL_SANDBOX_NAME": one wording on
every command that uses a sandbox (naming the variable and a valid example), and no
check at all on a command that uses none."""

from __future__ import annotations

import pytest

from test_cli_kinds import cli, no_env  # noqa: F401

WORDING = ("Error: $KMESHCTL_SANDBOX_NAME='Bad!': not a sandbox name; use 1-16 lowercase letters, digits or '-', "
           "starting and ending with a letter or digit (it has upper-case letters); did you mean "
           "$KMESHCTL_SANDBOX_NAME=bad? `export KMESHCTL_SANDBOX_NAME=bad`")  # t43b 9: the name fitted, as --name's
USING = [["sandbox", "status"], ["sandbox", "up"], ["sandbox", "down"], ["sandbox", "exec", "netutils", "--", "true"],
         ["dump", "maps"], ["dump", "config"], ["demo", "traffic-shift", "--target", "local"]]


@pytest.mark.parametrize("line", USING, ids=" ".join)
def test_every_command_using_a_sandbox_words_it_the_same(line, capsys, no_env, monkeypatch) -> None:
    monkeypatch.setenv("KMESHCTL_SANDBOX_NAME", "Bad!")
    code, out, err = cli(capsys, *line)
    path = " ".join(w for w in ["kmeshctl", *line[:2]])
    assert code == 2 and not out and err.strip() == f"{WORDING} (see '{path} --help')", err


@pytest.mark.parametrize("line", [["version", "--client"], ["sandbox", "list"], ["render", "--xds-address",
                                  "istiod:15012", "--cluster-id", "c1"], ["completion", "bash"],
                                  ["demo", "traffic-shift", "--target", "cluster"], ["dump", "maps", "--bpf-fs",
                                                                                     "/nonexistent/h45"]],
                         ids=" ".join)
def test_a_command_using_no_sandbox_does_not_check_it(line, capsys, no_env, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("KMESHCTL_SANDBOX_NAME", "Bad!")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    _, _, err = cli(capsys, *line)
    assert "KMESHCTL_SANDBOX_NAME" not in err, err


def test_the_flag_keeps_its_own_wording(capsys, no_env) -> None:
    code, _, err = cli(capsys, "dump", "maps", "--sandbox", "Bad!")
    assert code == 2 and err.startswith("Error: --sandbox 'Bad!': not a sandbox name"), err
