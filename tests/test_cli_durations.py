"""Issue 14, sixth new-user pass, item 4: every duration flag takes kubectl's duration
syntax (`300`, `300s`, `5m`, `1m30s`, `1h`), through the one strict parser
(kmeshctl/asciinum.py, kmeshctl/cli/badinput.py), and its help shows the unit.

Real parts: kmeshctl.cli.main in-process (the flag is parsed before anything connects:
a kubeconfig that does not exist is what fails next)."""

from __future__ import annotations

import pytest

from kmeshctl.asciinum import duration_words, is_duration_text, parse_duration
from test_cli_kinds import cli, commands, no_env  # noqa: F401

DURATION_FLAGS = [(words, max(p.opts, key=len)) for words, command in commands() for p in command.params
                  if getattr(p, "metavar", None) == "DURATION"]


def test_the_parser() -> None:
    assert [parse_duration(t) for t in ("300", "300s", "5m", "1m30s", "1h", "1.5", "500ms", "1.5h")] == \
        [300, 300, 300, 90, 3600, 1.5, 0.5, 5400]
    for text in ("5x", "m", "1m30", "", " 5m", "+5m", "5 m", "1_0s", "５m"):
        assert not is_duration_text(text), text
        with pytest.raises(ValueError):
            parse_duration(text)
    assert [duration_words(s) for s in (86400, 3600, 90, 1, 0.5)] == ["24h", "1h", "1m30s", "1s", "0.5s"]


def test_every_waiting_flag_is_a_duration() -> None:
    found = {(" ".join(w), f) for w, f in DURATION_FLAGS}
    for expected in (("install", "--timeout"), ("uninstall", "--timeout"), ("enable-ns", "--timeout"),
                     ("disable-ns", "--timeout"), ("waypoint apply", "--timeout"),
                     ("bench dataplane", "--duration"), ("bench dataplane", "--warmup")):
        assert expected in found, (expected, found)


@pytest.mark.parametrize("value", ["5m", "300s", "1m30s", "1h", "300", "1.5"])
@pytest.mark.parametrize("args", [["uninstall"], ["enable-ns", "default"], ["disable-ns", "default"],
                                  ["install", "--cluster-id", "c1"], ["waypoint", "apply", "-n", "default"]],
                         ids=" ".join)
def test_a_go_style_duration_is_taken(args, value, tmp_path, capsys, no_env) -> None:
    code, _, err = cli(capsys, "--kubeconfig", str(tmp_path / "none"), *args, "--timeout", value)
    assert code == 2 and "--timeout" not in err and f"--kubeconfig {tmp_path / 'none'}: does not exist" in err, err


@pytest.mark.parametrize("words,flag", DURATION_FLAGS, ids=lambda x: " ".join(x) if isinstance(x, list) else x)
def test_every_duration_flag_says_what_it_takes(words, flag, capsys, no_env) -> None:
    code, out, err = cli(capsys, *words, flag, "5x")
    assert code == 2 and not out, err
    assert err.startswith(f"Error: {flag} 5x: not a duration; use a duration ") and "e.g. 300s, 5m" in err, err
    code, out, _ = cli(capsys, *words, "--help")
    assert f"{flag} DURATION" in out, out


def test_a_range_error_shows_the_value_as_typed_and_the_range_as_durations(capsys, no_env) -> None:
    code, _, err = cli(capsys, "uninstall", "--timeout", "48h")
    assert code == 2 and err.startswith("Error: --timeout 48h: out of range; use a duration from 0s to 24h"), err
    code, _, err = cli(capsys, "bench", "dataplane", "--duration", "2h")
    assert code == 2 and err.startswith("Error: --duration 2h: out of range; use a duration from 1s to 1h"), err


def test_a_whole_second_flag_refuses_a_fraction_by_name(capsys, no_env) -> None:
    code, _, err = cli(capsys, "bench", "dataplane", "--duration", "1.5s")
    assert code == 2 and err.startswith("Error: --duration 1.5s: not a whole number of seconds"), err
