"""Pass 40, fixer f40b: t40a findings 3, 6, 7, 8 and 9, each without root or a sandbox
(records under tmp_path, maps as an agent's JSON, the lines parsed as a paste would be)."""

from __future__ import annotations

import io
import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from kmeshctl import config_dump
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import _record, cli, no_env, state_root  # noqa: F401

PID = os.getpid()


def _lines(err: str) -> list[str]:
    return re.findall(r"`([^`]*)`", err.replace("'kmeshctl", "'x"))


def _parses(capsys: Any, line: str) -> tuple[int, str]:
    """The offered line run up to its checks (-h-free): exit code and stderr."""
    from kmeshctl.cli import app
    from kmeshctl.cli.badinput import line_problems
    from typer.main import get_command

    return 0, "; ".join(line_problems(shlex.split(line), get_command(app)))


# ------------------------------------------------------------------ 3. dump maps --map with -o name


def test_3_a_map_list_and_o_name_are_said_in_one_error_with_no_line_that_fails(state_root, capsys,  # noqa: F811
                                                                                 no_env) -> None:
    code, _, err = cli(capsys, "dump", "maps", "--sandbox", f"f40b-{PID % 1000}", "--map",
                       "km_authz_rule,km_authz_port", "-o", "name")
    assert code == 2 and err.count("Error:") == 1, err
    assert "--map km_authz_rule,km_authz_port: not an accepted value: one map per run" in err, err
    assert "leave --map out for every map" in err and "; also -o name: not an accepted value" in err, err
    assert not [line for line in _lines(err) if "km_authz_rule,km_authz_port" in line], err
    assert "read its -o json," not in err and "or or" not in err, err


def test_3_two_bad_values_get_the_closest_names_and_one_line_that_parses(state_root, capsys, no_env) -> None:  # noqa: F811
    name = f"f40b-{PID % 1000}"
    code, _, err = cli(capsys, "dump", "maps", "--sandbox", name, "--map", "km_authz_rul", "-o", "jsn")
    assert code == 2 and "; also -o jsn" in err and " or or " not in err and "? or" not in err, err
    lines = _lines(err)
    assert lines == [f"kmeshctl dump maps --sandbox {name} --map km_authz_rule -o json"], err
    assert _parses(capsys, lines[0]) == (0, ""), lines


# ------------------------------------------------------------------ 6. km_authz_rule's cells


def _authz_data(shadow_policy: int = 0) -> dict[str, Any]:
    rule = lambda cls, src, verdict, policy, shadow, sp: {  # noqa: E731
        "key": {"table": 1, "port_class": cls, "src": src},
        "value": {"verdict": verdict, "policy": policy, "shadow_verdict": shadow, "shadow_policy": sp}}
    return {
        "km_authz_port": [{"key": {"table": 1, "port": 8080}, "value": {"port_class": 1}},
                          {"key": {"table": 1, "port": 8443}, "value": {"port_class": 1}}],
        "km_authz_rule": [rule(0, "0.0.0.0/0", "DENY_NO_ALLOW", 0, "DENY_NO_ALLOW", 0),
                          rule(1, "10.244.0.0/24", "DENY_POLICY", 7, "DENY_POLICY", shadow_policy)],
        "km_authz_pol": [{"key": {"id": 7}, "value": {"name": "default/deny-v2", "action": 1, "dry_run": 0}}],
    }


def _tables(data: dict[str, Any], map_name: str | None, wide: bool) -> str:
    out = io.StringIO()
    config_dump.print_maps_json_as_tables(data, map_name, Console(file=out, width=200, highlight=False), wide=wide)
    return out.getvalue()


def test_6_the_dry_run_verdict_cell_holds_what_json_has_and_port_classes_name_their_ports() -> None:
    wide = _tables(_authz_data(), None, True)
    rows = [line.split() for line in wide.splitlines() if line.strip().startswith("1 ")]
    rule_rows = [row for row in rows if "DENY_NO_ALLOW" in row or "DENY_POLICY" in row]
    assert rule_rows[0].count("DENY_NO_ALLOW") == 2, wide  # VERDICT and DRY-RUN VERDICT, as -o json
    assert rule_rows[1].count("DENY_POLICY") == 2, wide
    assert "1 (ports 8080, 8443)" in wide, wide
    table = _tables(_authz_data(), None, False)
    assert "DRY-RUN" not in table and "1 (ports 8080, 8443)" in table, table  # no dry-run policy: -o wide's
    alone = _tables(_authz_data(), "km_authz_rule", False)
    assert "1 (ports: see km_authz_port)" in alone, alone  # km_authz_port not read: the map to look at


def test_6_a_dry_run_policy_shows_its_columns_in_the_table() -> None:
    table = _tables(_authz_data(shadow_policy=7), None, False)
    rule = table.split("km_authz_rule:")[1].split("km_authz_pol:")[0]
    assert "DRY-RUN VERDICT" in rule and rule.count("default/deny-v2") == 2, table


def test_6_wide_help_names_the_dry_run_columns(capsys) -> None:
    code, out, _ = cli(capsys, "dump", "maps", "--help")
    text = " ".join(out.split())
    assert code == 0 and "km_authz_rule's DRY-RUN VERDICT and DRY-RUN POLICY when no dry-run policy" in text, text


# ------------------------------------------------------------------ 7. whole lines


def test_7_a_plot_in_a_missing_directory_gets_the_line_that_makes_it(tmp_path: Path, capsys, no_env) -> None:
    missing = tmp_path / f"f40b-{PID}" / "deep"
    code, _, err = cli(capsys, "demo", "traffic-shift", "--plot", str(missing / "x.png"), "-c", "5")
    assert code == 2, err
    assert _lines(err) == [f"mkdir -p {missing} && kmeshctl demo traffic-shift --plot {missing}/x.png -c 5"], err
    code, _, err = cli(capsys, "demo", "traffic-shift", "--plot", str(missing / "x.png"), "-o", "jsn")
    assert code == 2 and f"`mkdir -p {missing}`;" in err and "&& kmeshctl" not in err, err  # with another bad value
    assert not missing.parent.exists()


def test_7_node_cleanup_never_offers_a_line_cleaning_the_default_cni_dir(tmp_path: Path, capsys, no_env) -> None:
    bpffs = f"/sys/fs/bpf/f40b-nope-{PID}"
    for flag in ("--cni-conf-dir", "--cni-bin-dir"):
        code, _, err = cli(capsys, "node", "cleanup", "--bpf-fs", bpffs, flag, str(tmp_path / "none"))
        assert code == 2 and "does not exist" in err and "instead" in err, err
        assert _lines(err) == [], err


def test_7_node_cleanup_of_the_default_cni_dir_missing_keeps_a_valid_bpf_fs(tmp_path: Path, capsys, no_env,
                                                                            monkeypatch) -> None:
    from kmeshctl.cli import node

    default = tmp_path / "net.d"
    monkeypatch.setattr(node, "CNI_CONF_DIR", default)
    if not Path("/sys/fs/bpf").is_dir() or os.geteuid() != 0:
        pytest.skip("needs root and a bpffs at /sys/fs/bpf (a --bpf-fs that works pasted)")
    bpffs = Path(f"/sys/fs/bpf/f40b-{os.getpid()}")  # an empty bpffs directory: the line pasted is taken (p41 f41a)
    bpffs.mkdir()
    try:
        code, _, err = cli(capsys, "node", "cleanup", "--bpf-fs", str(bpffs), "--cni-conf-dir", str(default))
    finally:
        bpffs.rmdir()
    assert code == 2 and _lines(err) == [f"kmeshctl node cleanup --bpf-fs {bpffs}"], err
    code, _, err = cli(capsys, "node", "cleanup", "--bpf-fs", str(tmp_path / "gone"), "--cni-conf-dir", str(default))
    assert code == 2 and _lines(err) == [] and f"--bpf-fs {tmp_path / 'gone'}: does not exist" in err and \
        f"also --cni-conf-dir {default}: does not exist" in err, err  # both said (every_bad_value)


@pytest.mark.parametrize("verb", ["rm", "delete"])
def test_7_sandbox_rm_of_no_such_sandbox_never_offers_another(verb: str, state_root, capsys, no_env) -> None:  # noqa: F811
    """Issue 14 kind 3's own example: a `down` line for a sandbox not named would remove
    that one; the existing ones are listed instead (p23's rule, kept over f40b's line)."""
    name = f"f40b-{PID % 10000}"
    _record(name)
    code, _, err = cli(capsys, "sandbox", verb, "--name", "f40b-x")
    assert code == 2 and _lines(err) == [], err
    assert f"--name f40b-x: no sandbox has this name (sandboxes: {name})" in err, err


def test_7_sandbox_list_jsonpath_gets_a_jq_line(state_root, capsys, no_env) -> None:  # noqa: F811
    for path in ("{.name}", "{.items[*].name}"):
        code, _, err = cli(capsys, "sandbox", "list", "-o", f"jsonpath={path}")
        assert code == 2 and _lines(err) == ["kmeshctl sandbox list -o json | jq -r '.[].name'"], err
    code, _, err = cli(capsys, "sandbox", "list", "-o", "jsonpath={range .items[*]}{.name}{end}")
    assert code == 2 and _lines(err) == ["kmeshctl sandbox list -o json | jq -r ."], err
    assert "write the path in jq's words" in err, err


# ------------------------------------------------------------------ 8. a half-removed sandbox's notes


def test_8_a_half_removed_sandbox_gets_no_note_offering_the_demo(state_root, capsys, no_env,  # noqa: F811
                                                               monkeypatch) -> None:
    from kmeshctl.cli import sandbox as cli_sandbox
    from kmeshctl.sandbox import demo_target

    name = f"f40b-{PID % 10000}"
    state = _record(name)
    state.phase = state_mod.PHASE_REMOVING
    state.save()
    fix = f"kmeshctl sandbox down --name {name}"
    demo = f"until then the demo can send it nothing: `kmeshctl demo traffic-shift --sandbox {name}`"
    monkeypatch.setattr(cli_sandbox.sandbox_mod, "status", lambda n: {
        "name": n, "phase": state_mod.PHASE_REMOVING, "ready": False, "problems": ["half-removed"], "fix": fix,
        "notes": [], "pods": [], "services": [], "waypoints": [], "controlplane": {}, "agent": {}})
    monkeypatch.setattr(demo_target, "weights_note", lambda state: demo)
    code, out, err = cli(capsys, "sandbox", "status", "--name", name)
    assert code == 1 and f"Fix: `{fix}`" in out and "demo" not in out, out


def test_8_half_made_phases() -> None:
    from kmeshctl.sandbox.sandbox import half_made

    assert half_made(state_mod.PHASE_REMOVING) and half_made(state_mod.PHASE_HALF_CREATED)
    assert not half_made(state_mod.PHASE_READY) and not half_made(state_mod.PHASE_NOT_READY)


# ------------------------------------------------------------------ 9. --name: the rule broken


@pytest.mark.parametrize("typed,broken,meant", [
    ("T40A-1", "it has upper-case letters", "t40a-1"),
    ("t40a-1234567890123", "it has 18 characters, at most 16", "t40a-12345678901"),
    ("a_b", "it has '_'", "a-b"),
])
def test_9_a_bad_name_says_the_rule_broken_and_offers_a_line(typed: str, broken: str, meant: str, state_root,  # noqa: F811
                                                             capsys, no_env) -> None:
    code, _, err = cli(capsys, "sandbox", "up", "--name", typed)
    assert code == 2 and f"not a sandbox name; use {state_mod.NAME_RULE} ({broken})" in err, err
    assert f"did you mean --name {meant}?" in err and _lines(err) == [f"kmeshctl sandbox up --name {meant}"], err
    assert _parses(capsys, _lines(err)[0]) == (0, "")


def test_9_no_line_naming_a_sandbox_that_does_not_exist(state_root, capsys, no_env) -> None:  # noqa: F811
    # t43b 9: a reading command is offered the name fitted (its run says there is no such
    # sandbox and lists them); `sandbox down` of a sandbox that is not there is not
    code, _, err = cli(capsys, "sandbox", "status", "--name", "T40A-1")
    assert code == 2 and "(it has upper-case letters); did you mean --name t40a-1?" in err, err
    assert _lines(err) == ["kmeshctl sandbox status --name t40a-1"], err
    code, _, err = cli(capsys, "sandbox", "down", "--name", "T40A-1")
    # pass 48 (t47a): the name meant is said, still with no line (it would fail pasted)
    assert code == 2 and "(it has upper-case letters); it would be --name t40a-1, and no sandbox is named " \
        "t40a-1" in err and _lines(err) == [], err
