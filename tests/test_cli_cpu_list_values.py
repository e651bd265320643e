"""Issue 14, kind "a CPU list is checked whole before any work": `bench dataplane`'s
--client-cpus / --mesh-cpus refuse a range with no end (`0-`), a backwards range (`1-0`),
an empty item (`0,,1`) and CPUs this machine does not have, exit 2 up front (once `0-`
passed, pods were set up and taskset failed, exit 1). In-process through
kmeshctl.cli.main; every case is refused while the command line is checked."""

from __future__ import annotations

import os

import pytest

from kmeshctl.bench.topology import BenchError, parse_cpu_list
from test_cli_kinds import cli, no_env  # noqa: F401

FLAGS = ["--client-cpus", "--mesh-cpus"]
POINTER = " (see 'kmeshctl bench dataplane --help')"


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize("value", ["0-", "-1", "0,,1", "a", "0-1-2", ","])
def test_a_malformed_cpu_list_is_bad_input(flag: str, value: str, capsys, no_env) -> None:
    code, out, err = cli(capsys, "bench", "dataplane", flag, value, "--paths", "direct")
    assert code == 2 and not out, (code, out, err)
    assert "not a CPU list" in err and "e.g." in err and "0-1" in err and err.count("\n") == 1, err
    assert err.rstrip("\n").endswith(POINTER), err
    assert "setting up" not in err, err


@pytest.mark.parametrize("flag", FLAGS)
def test_a_backwards_range_says_which_way_round(flag: str, capsys, no_env) -> None:
    code, out, err = cli(capsys, "bench", "dataplane", flag, "1-0", "--paths", "direct")
    assert code == 2 and not out, (code, out, err)
    assert err.startswith(f"Error: {flag} 1-0: range 1-0 runs backwards; write the lower CPU first, "
                          f"e.g. {flag} 0-1"), err


@pytest.mark.parametrize("flag", FLAGS)
def test_a_cpu_this_machine_lacks_is_bad_input(flag: str, capsys, no_env) -> None:
    missing = max(os.sched_getaffinity(0)) + 1
    for value in (str(missing), f"0-{missing}"):
        code, out, err = cli(capsys, "bench", "dataplane", flag, value, "--paths", "direct")
        assert code == 2 and not out, (code, out, err)
        assert f"Error: {flag} {value}: CPU {missing} not on this machine; use CPUs of" in err, err
        assert err.rstrip("\n").endswith(POINTER), err


def test_the_parser_itself_refuses_open_and_backwards_ranges() -> None:
    assert parse_cpu_list("0-2,5") == {0, 1, 2, 5} and parse_cpu_list("3") == {3}
    for text in ("0-", "1-0", "-", "0,,1"):
        with pytest.raises(BenchError):
            parse_cpu_list(text)
