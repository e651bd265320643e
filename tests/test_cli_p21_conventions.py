"""Pass-21 review findings 1, 2, 6 and 10 (in-process, kmeshctl.cli.main; sandbox records in
a temporary state root, symlink loops and files under tmp_path):

- 1: a path no lookup can take (a symlink loop, a name too long), typed as --bpf-fs or as a
  stray word, is one line and exit 2, never a traceback; a stray word's check that fails in
  an unexpected way gives no hint rather than a traceback;
- 2: `sandbox exec POD curl -o F` without `--`: the command to run goes after `--` (curl's -o);
- 6: stray words of one shape go to that shape's flag, joined (`--weights 90/10,50/50`) or
  repeated (-f); a YAML file goes to -f where the command has it and blames no name flag
  where it has not; `--sandbox WORD` is offered only for a sandbox that exists;
- 10: bench cleanup's --run-id and the waypoint commands' --name have one check each, the
  same a stray word passes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kmeshctl.cli import names, option_hints
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import cli, no_env, state_root  # noqa: F401

BACKTICKED = re.compile(r"`([^`]*)`")


def _line(code: int, err: str, expected: int = 2) -> str:
    assert code == expected, (code, err)
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _loop(tmp_path: Path) -> Path:
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    return tmp_path / "loop1"


# ------------------------------------------------------------------ 1. paths no lookup can take


@pytest.mark.parametrize("args", [["node", "run", "{p}"], ["node", "cleanup", "{p}"], ["dump", "maps", "{p}"],
                                  ["node", "run", "--bpf-fs", "{p}"], ["node", "cleanup", "--bpf-fs", "{p}"],
                                  ["dump", "maps", "--bpf-fs", "{p}"]], ids=" ".join)
def test_a_symlink_loop_is_one_line_exit_2(args, tmp_path, state_root, capsys, no_env) -> None:  # noqa: F811
    loop = _loop(tmp_path)
    line = _line(*cli(capsys, *[a.format(p=loop) for a in args])[::2])
    # p24 (F4): a stray word is said plainly (`, and DIR is a symlink loop`), never `--bpf-fs refuses DIR`
    assert f"--bpf-fs {loop}: is a symlink loop" in line or f", and {loop} is a symlink loop" in line, line
    assert all(str(loop) not in span for span in BACKTICKED.findall(line)), line


@pytest.mark.parametrize("args", [["node", "run", "{p}"], ["node", "cleanup", "{p}"],
                                  ["node", "run", "--bpf-fs", "{p}"]], ids=" ".join)
def test_a_name_too_long_is_one_line_exit_2(args, tmp_path, state_root, capsys, no_env) -> None:  # noqa: F811
    long = tmp_path / ("a" * 300) / "x"
    line = _line(*cli(capsys, *[a.format(p=long) for a in args])[::2])
    assert "file name too long (300 bytes, at most 255 per name)" in line, line


def test_a_check_that_breaks_gives_no_hint_not_a_traceback(tmp_path, state_root, capsys, no_env,  # noqa: F811
                                                           monkeypatch) -> None:
    def broken(flag: str, value: str) -> None:
        raise RuntimeError("a lookup gone wrong")

    monkeypatch.setitem(option_hints.POSITIONAL_CHECKS, ("node", "cleanup", "bpf_fs"), broken)
    line = _line(*cli(capsys, "node", "cleanup", str(tmp_path))[::2])
    assert line.startswith(f"Error: Got unexpected extra argument(s) ({tmp_path}); this command takes no "
                           "positional arguments ("), line
    assert not BACKTICKED.findall(line), line


# ------------------------------------------------------------------ 2. -o of the command sandbox exec runs


@pytest.mark.parametrize("flag", ["-o", "--output"])
def test_exec_without_dashes_puts_the_commands_o_after_them(flag, state_root, capsys, no_env) -> None:  # noqa: F811
    line = _line(*cli(capsys, "sandbox", "exec", "netutils-0", "curl", flag, "/dev/null", "http://10.96.0.10/")[::2])
    assert line == (f"Error: No such option: {flag} (the command to run goes after `--`: kmeshctl sandbox exec "
                    f"netutils-0 -- curl {flag} /dev/null http://10.96.0.10/) (see 'kmeshctl sandbox exec --help')"), line


def test_exec_o_before_the_dashes_is_still_no_o_of_its_own(state_root, capsys, no_env) -> None:  # noqa: F811
    line = _line(*cli(capsys, "sandbox", "exec", "-o", "json", "netutils-0", "--", "curl", "x")[::2])
    assert line == "Error: kmeshctl sandbox exec takes no -o/--output (see 'kmeshctl sandbox exec --help')", line


# ------------------------------------------------------------------ 6. stray words by their shape


@pytest.mark.parametrize("args", [["demo", "traffic-shift", "90/10", "50/50"],
                                  ["demo", "traffic-shift", "--weights", "90/10", "50/50"],
                                  ["demo", "traffic-shift", "--weights=90/10", "50/50"]], ids=" ".join)
def test_several_weight_sets_are_joined_into_one_weights(args, state_root, capsys, no_env) -> None:  # noqa: F811
    line = _line(*cli(capsys, *args)[::2])
    assert "`kmeshctl demo traffic-shift --weights 90/10,50/50`" in line, line
    assert "give one" not in line and "--sandbox" not in line, line


def test_joined_weights_are_checked_before_they_are_offered(state_root, capsys, no_env) -> None:  # noqa: F811
    line = _line(*cli(capsys, "demo", "traffic-shift", "90/10", "50/60")[::2])
    assert ", and 90/10,50/60: set 2 (50/60): adds up to 110" in line and "refuses" not in line, line  # p24
    assert not BACKTICKED.findall(line), line


def test_a_yaml_file_goes_to_f(tmp_path, state_root, capsys, no_env, monkeypatch) -> None:  # noqa: F811
    monkeypatch.chdir(tmp_path)
    Path("m.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n")
    Path("n.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: y}\n")
    line = _line(*cli(capsys, "sandbox", "up", "./m.yaml")[::2])
    assert "`kmeshctl sandbox up -f ./m.yaml`" in line and "--name" not in line, line
    line = _line(*cli(capsys, "sandbox", "up", "m.yaml", "n.yaml")[::2])
    assert "give the files with -f: `kmeshctl sandbox up -f m.yaml -f n.yaml`" in line, line


def test_a_missing_yaml_file_is_refused_as_f(tmp_path, state_root, capsys, no_env, monkeypatch) -> None:  # noqa: F811
    monkeypatch.chdir(tmp_path)
    line = _line(*cli(capsys, "sandbox", "up", "./gone.yaml")[::2])
    assert ", and ./gone.yaml does not exist" in line and "--name" not in line and "refuses" not in line, line


@pytest.mark.parametrize("args", [["install", "./values.yaml"], ["render", "./x.yaml"], ["install", "values.yaml"]],
                         ids=" ".join)
def test_a_yaml_file_blames_no_name_flag_where_there_is_no_f(args, state_root, capsys, no_env) -> None:  # noqa: F811
    line = _line(*cli(capsys, *args)[::2])
    assert "--cluster-id" not in line and "refuses" not in line, line
    assert "takes no positional arguments and reads no file: give its settings as flags" in line, line


def test_sandbox_is_offered_only_for_a_sandbox_that_exists(state_root, capsys, no_env) -> None:  # noqa: F811
    state_mod.SandboxState(name="r21s", phase=state_mod.PHASE_READY, agent={"admin": "127.0.0.1:1"}).save()
    line = _line(*cli(capsys, "demo", "traffic-shift", "90")[::2])
    assert "no sandbox is named 90 (sandboxes: r21s)" in line and "refuses" not in line, line  # p24 (F4)
    assert not BACKTICKED.findall(line), line  # demo changes weights: no guess of a sandbox
    line = _line(*cli(capsys, "demo", "traffic-shift", "r21s")[::2])
    assert "`kmeshctl demo traffic-shift --sandbox r21s`" in line, line


# ------------------------------------------------------------------ 10. one check each


def test_bench_cleanup_run_id_is_the_shared_check(state_root, capsys, no_env, monkeypatch) -> None:  # noqa: F811
    seen = []
    real = names.check_run_id

    def spy(flag: str, value: str) -> None:
        seen.append((flag, value))
        real(flag, value)

    monkeypatch.setattr(names, "check_run_id", spy)
    flag_line = _line(*cli(capsys, "bench", "cleanup", "--run-id", "abc")[::2])
    assert seen and set(seen) == {("--run-id", "abc")}, seen  # parse time (badinput.VALUE_CHECKS) and the body
    word_line = _line(*cli(capsys, "bench", "cleanup", "abc")[::2])
    reason = flag_line.partition("--run-id abc: ")[2].partition(" (see")[0]
    assert reason and f", and abc is {reason} (see" in word_line, (flag_line, word_line)  # p24: said plainly


def test_waypoint_name_is_the_shared_check(state_root, capsys, no_env, monkeypatch) -> None:  # noqa: F811
    seen = []
    real = names.check_waypoint_name

    def spy(flag: str, value: str) -> None:
        seen.append((flag, value))
        real(flag, value)

    monkeypatch.setattr(names, "check_waypoint_name", spy)
    flag_line = _line(*cli(capsys, "waypoint", "delete", "--name", "Bad_W")[::2])
    assert ("--name", "Bad_W") in seen, seen
    word_line = _line(*cli(capsys, "waypoint", "delete", "Bad_W")[::2])
    reason = flag_line.partition("--name Bad_W: ")[2].partition(" (see")[0]
    # p24: said plainly, its `e.g. --name waypoint` left off (the user typed no --name); f34e: the name
    # meant (bad-w) has its line, which the word's form follows with `(bad-w given as --name bad-w)`
    assert reason and f", and Bad_W is {reason.partition(', e.g. --name')[0]}" in word_line, (flag_line, word_line)
