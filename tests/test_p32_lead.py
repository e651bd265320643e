"""Pass 32 (issue 14), the lead's fixes of kind 3 (a suggested line pastes and works) left
from session 26: a command group given as a flag's value gets a line with a command of that
group (`kmeshctl -n dump`, `kmeshctl --context dump`); `--kubeconfig=status` reads as
`--kubeconfig status`; a `<(...)` path is not pasted back (a new shell has no /dev/fd/63);
`dump maps --sandbox X --admin-port P` offers leaving --sandbox out only where that works."""
from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from kmeshctl import sandboxes
from test_cli_kinds import cli, no_env, state_root  # noqa: F401 (fixtures)
from test_p26_dump import _sandbox

BACKTICKED = re.compile(r"`(kmeshctl [^`]*)`")


def _lines(err: str) -> list[list[str]]:
    return [shlex.split(line) for line in BACKTICKED.findall(err)]


# ------------------------------------------------------------------ a group as a flag's value


def test_a_namespace_before_a_group_names_the_commands_that_take_it(capsys, no_env, state_root) -> None:  # noqa: F811
    code, out, err = cli(capsys, "-n", "dump")
    assert code == 2 and not out, err
    assert "not the command dump; kmeshctl dump maps and kmeshctl dump config take -n only with --pod POD" in err, err


def test_a_namespace_before_a_group_gets_its_reading_command_with_its_own_default(capsys, no_env,  # noqa: F811
                                                                                  state_root) -> None:  # noqa: F811
    code, _, err = cli(capsys, "-n", "waypoint")
    assert code == 2, err
    assert _lines(err) == [["kmeshctl", "waypoint", "list", "-n", "default"]], err
    code, _, err = cli(capsys, *_lines(err)[0][1:])  # pasted: parses (no cluster here: exit 1, not 2)
    assert code == 1 and "no cluster configured" in err, err


def test_a_global_flag_before_a_group_gets_its_reading_command(capsys, no_env, state_root) -> None:  # noqa: F811
    code, _, err = cli(capsys, "--context", "dump")
    assert code == 2 and _lines(err) == [["kmeshctl", "dump", "maps", "--context", "NAME"]], err
    code, _, err = cli(capsys, "--kubeconfig", "waypoint")
    assert code == 2 and _lines(err) == [["kmeshctl", "waypoint", "list", "--kubeconfig", "PATH"]], err


def test_a_global_flag_before_a_local_group_gets_no_cluster_line(capsys, no_env, state_root) -> None:  # noqa: F811
    code, _, err = cli(capsys, "--kubeconfig", "sandbox")
    assert code == 2 and "not the command sandbox" in err and _lines(err) == [], err


def test_a_command_after_equals_reads_as_the_spaced_form(capsys, no_env, state_root) -> None:  # noqa: F811
    code, _, err = cli(capsys, "--kubeconfig=status")
    assert code == 2 and "--kubeconfig needs a value (--kubeconfig PATH), not the command status" in err, err
    # a placeholder is no line to paste: what to fill in, in words (t43b 7)
    assert _lines(err) == [] and "with PATH filled in: kmeshctl status --kubeconfig PATH" in err, err
    code, _, err = cli(capsys, "--context=x")  # a value that is no command: still a missing command
    assert code == 2 and _lines(err) == [["kmeshctl", "--context=x", "status"]], err


# ------------------------------------------------------------------ a <(...) path


def test_a_pipe_path_is_not_pasted_back(capsys, no_env, state_root) -> None:  # noqa: F811
    read, write = os.pipe()
    try:
        pipe = f"/dev/fd/{read}"
        code, _, err = cli(capsys, "install", "--dry-run", "--xds-address", "istiod.istio-system.svc:15012",
                           "--crd-file", pipe)
    finally:
        os.close(read)
        os.close(write)
    assert code == 2 and "--cluster-id is required" in err, err
    line = _lines(err)[0]
    assert pipe not in line and line[line.index("--crd-file") + 1] == "PATH", err


# ------------------------------------------------------------------ dump maps --sandbox X --admin-port P


def test_leaving_the_sandbox_out_is_offered_only_where_it_works(capsys, no_env, state_root,  # noqa: F811
                                                                monkeypatch, tmp_path: Path) -> None:
    _sandbox("t32l-a", 1)
    _sandbox("t32l-b", 2)
    code, _, err = cli(capsys, "dump", "maps", "--sandbox", "t32l-a", "--admin-port", "9")
    assert code == 2 and "not sandbox t32l-a's node agent admin port" in err, err
    assert "leave out" not in err, err  # `dump maps --admin-port 9` alone: no data path here to read
    assert _lines(err) == [["kmeshctl", "dump", "maps", "--sandbox", "t32l-a"]], err
    node_maps = tmp_path / "node-maps"
    node_maps.mkdir()
    monkeypatch.setattr(sandboxes, "DEFAULT_BPF_FS", node_maps)  # this node has a data path of its own
    code, _, err = cli(capsys, "dump", "maps", "--sandbox", "t32l-a", "--admin-port", "9")
    assert code == 2 and "or leave out --sandbox to ask 127.0.0.1:9" in err, err


# ------------------------------------------------------------------ t33b 1: -o before a command keeps the line


@pytest.mark.parametrize("typed,meant", [
    (["--output", "waypoint", "delete", "--name", "east", "-n", "team-a"],
     ["kmeshctl", "waypoint", "delete", "--name", "east", "-n", "team-a", "--output", "yaml"]),
    (["-o", "uninstall", "--dry-run", "-n", "kmesh-x"],
     ["kmeshctl", "uninstall", "--dry-run", "-n", "kmesh-x", "-o", "yaml"]),
    (["-o", "disable-ns", "team-a", "team-b"], ["kmeshctl", "disable-ns", "team-a", "team-b", "-o", "table"]),
    (["-o", "demo", "traffic-shift", "--target", "cluster", "-c", "50"],
     ["kmeshctl", "demo", "traffic-shift", "--target", "cluster", "-c", "50", "-o", "table"]),
])
def test_an_output_flag_before_its_command_keeps_the_whole_line(typed, meant, capsys, no_env,  # noqa: F811
                                                               state_root) -> None:  # noqa: F811
    """Before: `kmeshctl waypoint delete --output yaml` (the default waypoint) and a real
    `kmeshctl uninstall -o yaml` for a typed --dry-run."""
    code, _, err = cli(capsys, *typed)
    assert code == 2 and _lines(err) == [meant], err
