"""Two -q cases of the last new-user pass: a warning is no error, so -q silences render's
"not schema-validated" warning wherever -q is typed; and a combined short-flag word with
a letter the command does not take (`status -qx`) names that letter, the word, and the
command's short flags in one line (exit 2), never the good -q as the unknown one."""

from __future__ import annotations

import pytest

from test_cli_kinds import cli, no_env  # noqa: F401

RENDER = ["render", "--xds-address", "istiod.istio-system.svc:15012", "--cluster-id", "c1"]


def test_render_warns_of_unvalidated_kinds_without_q(capsys, no_env) -> None:  # noqa: F811
    code, out, err = cli(capsys, *RENDER)
    assert code == 0 and out and "not schema-validated" in err, err


@pytest.mark.parametrize("args", [["-q", *RENDER], [*RENDER, "-q"], [RENDER[0], "--quiet", *RENDER[1:]],
                                  [*RENDER, "-qo", "json"]], ids=" ".join)
def test_q_silences_render_s_warning(args, capsys, no_env) -> None:  # noqa: F811
    code, out, err = cli(capsys, *args)
    assert code == 0 and out and err == "", err


@pytest.mark.parametrize("word,unknown", [("-qx", "-x"), ("-xq", "-x"), ("-qf", "-f"), ("-qnx", None)])
def test_an_unknown_letter_in_a_short_flag_cluster_is_named(word, unknown, capsys, no_env) -> None:  # noqa: F811
    code, _, err = cli(capsys, "status", word)
    if unknown is None:  # -n takes the rest as its value: namespace x (then: no cluster here)
        assert "No such option" not in err, err
        return
    assert code == 2 and err.count("\n") == 1, err
    assert f"No such option: {unknown} in {word}; kmeshctl status's short flags: -h, -n, -o, -q" in err, err
    assert "No such option: -q" not in err and "(see 'kmeshctl status --help')" in err, err


def test_a_sandbox_command_names_its_own_short_flags(capsys, no_env) -> None:  # noqa: F811
    code, _, err = cli(capsys, "sandbox", "status", "-qz")
    assert code == 2 and "No such option: -z in -qz; kmeshctl sandbox status's short flags: -h, -o, -q" in err, err
