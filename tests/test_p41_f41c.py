"""Pass 41, fixer f41c: t41b findings 4, 5, 6, 7, 10, 12, 15 and t40b findings 5, 7, 11:
each offered line is whole and parses (badinput.line_problems), run without a sandbox or a
cluster (sandbox records under tmp_path)."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from test_cli_kinds import _record, cli, no_env, state_root  # noqa: F401

PID = os.getpid()
NAME = f"f41c-{PID % 10000}"


def _lines(err: str) -> list[str]:
    return re.findall(r"`(kmeshctl [^`]*)`", err)


def _problems(line: str) -> list[str]:
    from typer.main import get_command

    from kmeshctl.cli import app
    from kmeshctl.cli.badinput import line_problems

    return line_problems(shlex.split(line), get_command(app))


# ------------------------------------------------------------------ t41b 4: --waypoint with --target local


def test_demo_waypoint_beside_target_local_says_the_conflict_first_with_both_lines(state_root, capsys,  # noqa: F811
                                                                                   no_env) -> None:
    code, _, err = cli(capsys, "demo", "traffic-shift", "--waypoint", "Bad_W", "--target", "local", "-c", "5")
    assert code == 2 and "and --target local: leave --waypoint out" in err, err
    assert _lines(err) == ["kmeshctl demo traffic-shift -c 5 --target local",
                           "kmeshctl demo traffic-shift -c 5 --target cluster --waypoint bad-w"], err
    assert all(_problems(line) == [] for line in _lines(err)), err


def test_demo_waypoint_conflict_is_said_beside_another_bad_value_with_no_line_that_fails(state_root, capsys,  # noqa: F811
                                                                                         no_env) -> None:
    code, _, err = cli(capsys, "demo", "traffic-shift", "--waypoint", "east", "--target", "local", "-o", "JSON")
    assert code == 2 and "and --target local: leave --waypoint out" in err and "also -o JSON" in err, err
    assert all(_problems(line) == [] for line in _lines(err)), err


# ------------------------------------------------------------------ t41b 5: enable-ns after `--`


@pytest.mark.parametrize("after,line", [
    (["-n"], "kmeshctl enable-ns default"),
    (["--wait"], "kmeshctl enable-ns default --wait"),
    (["-foo"], "kmeshctl enable-ns default"),
    (["-n", "team-a", "--wait"], "kmeshctl enable-ns team-a --wait"),
])
def test_enable_ns_flags_after_separator_get_a_line_that_names_a_namespace(capsys, no_env, after: list[str],
                                                                          line: str) -> None:
    code, _, err = cli(capsys, "enable-ns", "--", *after)
    assert code == 2 and "Missing argument" not in err and "NAMESPACE..." not in err, err
    assert _lines(err) == [line], err
    assert _problems(line) == [], line


def test_enable_ns_unknown_flag_after_separator_is_said_left_out(capsys, no_env) -> None:
    code, _, err = cli(capsys, "disable-ns", "foo", "--", "--timeout", "-x")
    assert code == 2 and "disable-ns has no flag -x" in err and "--timeout is given no value" in err, err
    assert _lines(err) == ["kmeshctl disable-ns foo"], err


# ------------------------------------------------------------------ t41b 6: a stray word is no --sandbox of none


def test_demo_stray_word_is_not_offered_as_a_sandbox_that_does_not_exist(state_root, capsys, no_env) -> None:  # noqa: F811
    code, _, err = cli(capsys, "demo", "traffic-shift", "extra", "-o", "JSON")
    assert code == 2 and "--sandbox extra`" not in err and "given as --sandbox" not in err, err
    assert "extra" in err.partition("`")[0] and all("extra" not in line for line in _lines(err)), err


def test_stray_word_of_an_existing_sandbox_still_becomes_its_flag(state_root, capsys, no_env) -> None:  # noqa: F811
    _record(NAME)
    code, _, err = cli(capsys, "dump", "maps", "km_backend", "-o", "JSN")
    assert code == 2 and _lines(err) == ["kmeshctl dump maps --map km_backend -o json"], err


def test_parseable_gives_a_stray_word_a_flag_only_when_the_flag_takes_it(state_root, no_env) -> None:  # noqa: F811
    from typer.main import get_command

    from kmeshctl.cli import app
    from kmeshctl.cli.suggestions import parseable

    root = get_command(app)
    said = parseable("x: `kmeshctl demo traffic-shift extra -o json`", root)
    assert "--sandbox extra`" not in said, said
    assert "(then fix extra: demo traffic-shift takes no such word)" in said, said
    _record(NAME)
    said = parseable(f"x: `kmeshctl demo traffic-shift {NAME} -o json`", root)
    assert f"`kmeshctl demo traffic-shift --sandbox {NAME} -o json`" in said, said


# ------------------------------------------------------------------ t41b 7: a waypoint name is a Service's


@pytest.mark.parametrize("value,meant", [("1abc", "w-1abc"), ("9_w", "w-9-w"), ("gateway/1abc", "w-1abc")])
def test_waypoint_name_starting_with_a_digit_is_refused_with_one_that_works(capsys, no_env, value: str,
                                                                            meant: str) -> None:
    code, out, err = cli(capsys, "waypoint", "apply", "--dry-run", "--name", value, "-o", "json")
    assert code == 2 and out == "" and "RFC 1035 label" in err, err
    assert _lines(err) == [f"kmeshctl waypoint apply --dry-run --name {meant} -o json"], err
    assert _problems(_lines(err)[0]) == [], err


def test_waypoint_names_with_a_letter_first_still_pass(capsys, no_env) -> None:
    from kmeshctl.cli.names import check_waypoint_name

    for name in ("waypoint", "w1", "a-1", "x" * 63):
        check_waypoint_name("--name", name)


# ------------------------------------------------------------------ t41b 10: lines that keep every flag


def test_waypoint_remove_offers_delete_with_the_flags_typed(capsys, no_env) -> None:
    code, _, err = cli(capsys, "waypoint", "remove", "-n", "foo", "--dry-run")
    assert code == 2 and "NAME" not in err.split("(see")[0], err
    assert _lines(err) == ["kmeshctl waypoint delete -n foo --dry-run", "kmeshctl waypoint list -n foo"], err


def test_waypoint_rm_help_points_at_delete_help(capsys, no_env) -> None:
    code, _, err = cli(capsys, "waypoint", "rm", "--help")
    assert code == 2 and _lines(err) == ["kmeshctl waypoint delete --help"], err


def test_bench_cleanup_not_found_line_keeps_quiet(capsys, no_env) -> None:
    run_id = f"{PID:06x}"[-6:].upper()
    code, _, err = cli(capsys, "bench", "cleanup", "--run-id", run_id, "-q")
    assert code == 1, err
    assert _lines(err) == [f"kmeshctl bench cleanup --run-id {run_id} -q --ignore-not-found"], err
    assert cli(capsys, *shlex.split(_lines(err)[0])[1:])[0] == 0


# ------------------------------------------------------------------ t41b 12: kubectl's -v at a group or alone


@pytest.mark.parametrize("words,line", [
    (["waypoint", "-v=6", "list"], "kmeshctl waypoint list"),
    (["waypoint", "-v", "6", "list", "-n", "foo"], "kmeshctl waypoint list -n foo"),
    (["-v"], "kmeshctl --version"),
    (["-v=6"], "kmeshctl status"),
])
def test_kubectl_v_gets_a_line_at_a_group_and_alone(capsys, no_env, words: list[str], line: str) -> None:
    code, _, err = cli(capsys, *words)
    assert code == 2 and _lines(err) == [line], err


# ------------------------------------------------------------------ t41b 15: directions with a line


def test_dump_pod_beside_sandbox_gives_both_lines(state_root, capsys, no_env) -> None:  # noqa: F811
    _record(NAME)
    code, _, err = cli(capsys, "dump", "config", "--pod", "x", "--sandbox", NAME)
    assert code == 2, err
    assert _lines(err) == ["kmeshctl dump config --pod x", f"kmeshctl dump config --sandbox {NAME}"], err


def test_dump_namespace_without_pod_gives_the_line_without_it(state_root, capsys, no_env) -> None:  # noqa: F811
    _record(NAME)
    code, _, err = cli(capsys, "dump", "maps", "-n", "foo", "--sandbox", NAME, "-o", "json")
    assert code == 2 and _lines(err) == [f"kmeshctl dump maps --sandbox {NAME} -o json"], err


def test_node_run_missing_proc_root_offers_the_hosts_proc(capsys, no_env) -> None:
    missing = f"/nonexistent-f41c-{PID}"
    code, _, err = cli(capsys, "node", "run", "--xds-insecure", "--xds-address", "127.0.0.1:1", "--proc-root",
                       missing)
    assert code == 2 and f"--proc-root {missing}: does not exist" in err, err
    assert _lines(err) == ["kmeshctl node run --xds-insecure --xds-address 127.0.0.1:1 --proc-root /proc"], err


def test_dump_maps_as_another_user_says_the_sandbox_line_needs_root(state_root, capsys, no_env,  # noqa: F811
                                                                    monkeypatch) -> None:
    _record(f"{NAME}a")
    _record(f"{NAME}b")
    monkeypatch.setattr(os, "geteuid", lambda: 65534)
    code, _, err = cli(capsys, "dump", "maps")
    assert code == 2 and "(as root: a sandbox's maps and agent are root's)" in err, err


# ------------------------------------------------------------------ t40b 5: exec with no sandbox


def test_exec_with_a_sandbox_to_make_runs_the_command_in_its_client_pod(state_root, capsys, no_env) -> None:  # noqa: F811
    code, _, err = cli(capsys, "sandbox", "exec", "--name", NAME, "--", "curl", "x")
    assert code == 2, err
    assert _lines(err) == [f"kmeshctl sandbox up --name {NAME} && kmeshctl sandbox exec -n default netutils-0 "
                           f"--name {NAME} -- curl x"], err


# ------------------------------------------------------------------ t40b 7: values with their line


@pytest.mark.parametrize("weights,meant", [("90-10", "90/10"), ("90:10", "90/10"), ("90%/10%", "90/10"),
                                           ("90-10,50:50", "90/10,50/50")])
def test_demo_weights_with_another_separator_get_the_line(capsys, no_env, weights: str, meant: str) -> None:
    code, _, err = cli(capsys, "demo", "traffic-shift", "--weights", weights, "-c", "5")
    assert code == 2 and _lines(err) == [f"kmeshctl demo traffic-shift --weights {meant} -c 5"], err


def test_demo_weights_that_do_not_add_up_get_no_guess(capsys, no_env) -> None:
    code, _, err = cli(capsys, "demo", "traffic-shift", "--weights", "90-20")
    assert code == 2 and "did you mean" not in err and "e.g. 90/10" in err, err


def test_render_kernel_native_says_kmeshctl_runs_dual_engine(capsys, no_env) -> None:
    code, _, err = cli(capsys, "render", "--mode", "kernel-native", "--cluster-id", "c1", "--xds-address",
                       "10.0.0.7:15012")
    assert code == 2 and "Kmesh's kernel-native mode, which kmeshctl does not run (it runs dual-engine" in err, err
    line = "kmeshctl render --mode dual-engine --cluster-id c1 --xds-address 10.0.0.7:15012"
    assert _lines(err) == [line] and _problems(line) == [], err


def test_sandbox_name_near_miss_offers_the_existing_one(state_root, capsys, no_env) -> None:  # noqa: F811
    _record(f"{NAME}s")
    code, _, err = cli(capsys, "sandbox", "status", "--name", NAME)
    assert code == 1 and f"did you mean {NAME}s? `kmeshctl sandbox status --name {NAME}s`" in err, err


def test_sandbox_name_in_upper_case_for_a_demo_that_makes_it(state_root, capsys, no_env) -> None:  # noqa: F811
    code, _, err = cli(capsys, "demo", "traffic-shift", "--sandbox", NAME.upper(), "-c", "5")
    assert code == 2 and _lines(err) == [f"kmeshctl demo traffic-shift --sandbox {NAME} -c 5"], err


# ------------------------------------------------------------------ t40b 11: the bpffs root


def test_dump_maps_at_the_bpffs_root_points_at_the_agents_own_directory(state_root, capsys, no_env) -> None:  # noqa: F811
    from kmeshctl.nodecheck import bpffs_mounted

    if not bpffs_mounted(Path("/sys/fs/bpf")):
        pytest.skip("no bpffs at /sys/fs/bpf")
    code, _, err = cli(capsys, "dump", "maps", "--bpf-fs", "/sys/fs/bpf")
    assert code == 1 and "is the bpffs root, shared with other tools" in err, err
    assert not [line for line in _lines(err) if line.endswith("--bpf-fs /sys/fs/bpf")], err
    assert "kmeshctl dump maps --bpf-fs /sys/fs/bpf/kmesh" in _lines(err), err
