"""Issue 14, kinds "one POD before `--`" and "echoed values quoted by the one rule":

- `sandbox exec netutils default -- true` is bad input (exit 2) naming the extra word and
  -n, never `default: command not found` (exit 127);
- a POD that is no valid pod name (`'netutils-0 '`, `Bad_Pod`) is bad input naming the
  RFC 1123 rule, with the value quoted (an invisible trailing space shows);
- a path or value echoed in an error is quoted as params.shown does (`-f 'with space.yaml'`).

In-process through kmeshctl.cli.main; every case is refused before a sandbox is looked up."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_cli_kinds import cli, no_env  # noqa: F401

POINTER = " (see 'kmeshctl sandbox exec --help')"


@pytest.mark.parametrize("line,words,second", [
    (["netutils", "default", "--", "true"], "netutils default", "default"),
    (["-n", "x", "netutils", "other", "--", "true"], "netutils other", "other"),
    (["netutils", "a b", "--", "true"], "netutils 'a b'", "'a b'"),
])
def test_one_pod_before_dashes(line: list[str], words: str, second: str, capsys, no_env) -> None:
    code, out, err = cli(capsys, "sandbox", "exec", *line)
    assert code == 2 and not out, (code, out, err)
    assert err == (f"Error: sandbox exec takes one POD before --; got {words} (for a namespace use -n {second})"
                   f"{POINTER}\n"), err


@pytest.mark.parametrize("pod,shown", [("netutils-0 ", "'netutils-0 '"), ("Bad_Pod", "Bad_Pod"), ("a..b", "a..b")])
def test_a_pod_name_that_breaks_rfc1123_is_bad_input(pod: str, shown: str, capsys, no_env) -> None:
    code, out, err = cli(capsys, "sandbox", "exec", pod, "--", "true")
    assert code == 2 and not out, (code, out, err)
    assert err.startswith(f"Error: POD {shown}: not a valid pod name (RFC 1123"), err
    assert err.rstrip("\n").endswith(POINTER), err


def test_a_missing_file_with_a_space_is_quoted(capsys, no_env, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, "sandbox", "up", "--name", "h52-q", "-f", "with space.yaml")
    assert code == 2 and not out, (code, out, err)
    assert err.startswith("Error: -f 'with space.yaml': does not exist"), err


def test_a_plot_name_with_a_space_is_quoted(capsys, no_env, tmp_path: Path) -> None:
    code, _, err = cli(capsys, "demo", "traffic-shift", "--target", "local", "--plot", str(tmp_path / "a b.jpg"))
    assert code == 2 and f"--plot '{tmp_path}/a b.jpg': give a .png file name" in err, err
