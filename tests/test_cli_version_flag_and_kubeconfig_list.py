"""Helper h89, kind "input accepted or worded oddly": `kmeshctl --version extra` printed
the version and ignored `extra` (exit 0); `--context X` with a KUBECONFIG list of files
that do not exist said `(/a:/b (from $KUBECONFIG) does not exist)`.

Real parts: kmeshctl.cli.main in-process."""

from __future__ import annotations

import pytest

from kmeshctl import __version__
from test_cli_kinds import cli, no_env  # noqa: F401


def test_version_flag_alone_prints_the_version(capsys, no_env) -> None:  # noqa: F811
    assert cli(capsys, "--version")[:2] == (0, f"{__version__}\n")


@pytest.mark.parametrize("extra", [["extra"], ["sandbox", "list"]])
def test_version_flag_with_more_words_is_bad_input(extra: list[str], capsys, no_env) -> None:  # noqa: F811
    code, out, err = cli(capsys, "--version", *extra)
    assert code == 2 and out == "", (code, out, err)
    assert err.startswith(f"Error: --version takes no command or argument, got {' '.join(extra)}; run "
                          "`kmeshctl --version` alone"), err


def test_a_context_with_no_kubeconfig_file_of_a_list(capsys, no_env, monkeypatch, tmp_path) -> None:  # noqa: F811
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path}/h89a:{tmp_path}/h89b")
    code, _, err = cli(capsys, "--context", "X", "sandbox", "list")
    assert code == 2, err
    assert (f"no kubeconfig to look it up in (none of the $KUBECONFIG files exist ({tmp_path}/h89a, "
            f"{tmp_path}/h89b))") in err, err
