"""Pass 26 (F26-1): `dump maps` / `dump config` with --admin-port while sandboxes are up,
and with a sandbox whose node agent was killed. Every suggested command is run again
in-process and must be accepted (sandbox records in a temporary state root; the agents
are loopback stand-ins; the BPF read is replaced: no root needed)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from kmeshctl import dump as dumper
from kmeshctl.config_dump import CACHE_PATH
from kmeshctl.sandbox import state as state_mod
from kmeshctl.sandbox.sandbox import PINNED_MAP
from test_cli_kinds import cli, no_env, state_root  # noqa: F401 (fixtures)
from test_cli_malformed_answers import serve  # noqa: F401 (fixture)

BACKTICKED = re.compile(r"`([^`]*)`")
CACHE = {"services": [], "workloads": [], "policies": [], "enrolled": [{"cookie": 7, "pod": "default/web-0"}]}


def _sandbox(name: str, port: int, **fields: Any) -> state_mod.SandboxState:
    state = state_mod.SandboxState(name=name, phase=state_mod.PHASE_READY, agent={"admin": f"127.0.0.1:{port}"},
                                   **fields)
    state.save()
    return state


def _agent(serve) -> int:  # noqa: F811
    return serve({CACHE_PATH: (200, json.dumps(CACHE).encode(), "application/json")})


@pytest.fixture
def maps_read(monkeypatch) -> list[tuple[Path, Any]]:
    """The BPF read replaced: (bpffs, pods) of each read; an empty km_manage read back."""
    reads: list[tuple[Path, Any]] = []

    def dump_json(bpffs: Path, name: Any, pods: Any) -> dict:
        reads.append((bpffs, pods))
        return {"km_manage": []}

    def print_tables(bpffs: Path, name: Any, console: Any, pods: Any = None, wide: bool = False) -> set:
        reads.append((bpffs, pods))
        return set()

    monkeypatch.setattr(dumper, "dump_json", dump_json)
    monkeypatch.setattr(dumper, "print_tables", print_tables)
    return reads


def _pasted(capsys, line: str) -> tuple[int, str, str]:
    words = shlex.split(line)
    assert words[0] == "kmeshctl", line
    return cli(capsys, *words[1:])


def _fix(err: str) -> str:
    found = BACKTICKED.findall(err)
    assert found, err
    return found[0]


# ------------------------------------------------------------------ finding 1: --admin-port and --sandbox


@pytest.mark.parametrize("args,kept", [
    (["dump", "maps", "--admin-port", "1"], []),
    (["dump", "maps", "--admin-port", "1", "--map", "km_manage", "-o", "json"], ["--map km_manage", "-o json"]),
    (["dump", "maps", "--admin-port=1", "-o", "json"], ["-o json"]),
    (["dump", "maps", "beta", "--admin-port", "1", "--map", "km_manage"], ["--map km_manage"]),
    (["dump", "config", "beta", "--admin-port", "1", "-o", "json"], ["-o json"]),
], ids=lambda x: " ".join(x) if isinstance(x, list) else "")
def test_p26_a_sandbox_fix_given_with_admin_port_leaves_it_out(args, kept, serve, state_root, capsys,  # noqa: F811
                                                               no_env, maps_read) -> None:
    _sandbox("alpha", _agent(serve))
    _sandbox("beta", _agent(serve))
    code, _, err = cli(capsys, *args)
    assert code == 2, err
    fix = _fix(err)
    assert "--admin-port" not in fix and "--sandbox " in fix, err
    assert all(flag in fix for flag in kept), err
    code, _, err = _pasted(capsys, fix)
    assert code == 0 and "not both" not in err, (fix, err)


@pytest.mark.parametrize("output", ["yaml", "json"])
def test_p26_dump_config_at_a_dead_port_names_sandboxes_with_the_flags_typed(output, serve, state_root,  # noqa: F811
                                                                             capsys, no_env) -> None:
    _sandbox("alpha", _agent(serve))
    _sandbox("beta", _agent(serve))
    code, _, err = cli(capsys, "dump", "config", "--admin-port", "1", "-o", output)
    assert code == 1 and "nothing answers at 127.0.0.1:1" in err, err
    fix = next(f for f in BACKTICKED.findall(err) if f.startswith("kmeshctl dump config"))
    assert fix == f"kmeshctl dump config --sandbox alpha -o {output}", err  # a line per sandbox (p30)
    assert f"`kmeshctl dump config --sandbox beta -o {output}`" in err and "leave out" not in err, err
    code, out, err = _pasted(capsys, fix)
    assert code == 0 and out.strip(), err


def test_p26_the_admin_port_of_a_sandbox_agent_picks_that_sandbox(serve, state_root, capsys, no_env,  # noqa: F811
                                                                  maps_read) -> None:
    _sandbox("alpha", _agent(serve))
    beta = _sandbox("beta", _agent(serve))
    port = str(beta.agent["admin"]).rpartition(":")[2]
    code, out, err = cli(capsys, "dump", "maps", "--admin-port", port, "--map", "km_manage", "-o", "json")
    assert code == 0 and "Error" not in err, err
    assert f"Using sandbox beta (--admin-port {port} is its node agent's admin port)" in err, err
    bpffs, pods = maps_read[-1]
    assert bpffs == beta.bpffs and pods == {7: "default/web-0"}, maps_read
    for args in (["--admin-port", port], ["--sandbox", "beta", "--admin-port", port]):
        code, out, err = cli(capsys, "dump", "config", *args, "-o", "json")
        assert code == 0 and "Error" not in err, (args, err)
        assert json.loads(out)["enrolled"][0]["pod"] == "default/web-0", out
    code, _, err = cli(capsys, "dump", "maps", "--sandbox", "beta", "--admin-port", port)
    assert code == 0 and "not both" not in err, err


# ------------------------------------------------------------------ finding 2: a killed agent


def _killed_agent(name: str, tmp_path: Path, port: int = 1) -> state_mod.SandboxState:
    exit_file = tmp_path / f"{name}-agent.exit"
    exit_file.write_text("137\n")  # its supervisor's record of SIGKILL
    log = tmp_path / f"{name}-agent.log"
    state = _sandbox(name, port, processes=[state_mod.ProcessRecord(
        "agent", 4242, log=str(log), exit_file=str(exit_file), component="the node agent")])
    state.bpffs.mkdir(parents=True)
    (state.bpffs / PINNED_MAP).write_text("")  # its pins are there (without them that is the error)
    return state


@pytest.mark.parametrize("flag", ["--sandbox", "--name"])
def test_p26_dump_config_of_a_killed_agent_gives_the_remake_line(flag, tmp_path, serve, state_root,  # noqa: F811
                                                                 capsys, no_env) -> None:
    _killed_agent("gone", tmp_path)
    code, out, err = cli(capsys, "dump", "config", flag, "gone", "-o", "json")
    lines = err.strip().splitlines()
    assert code == 1 and not out and len(lines) == 1, err
    assert lines[0].startswith("Error: the node agent of sandbox gone is not running: pid 4242 was killed by "
                               "SIGKILL (exit status 137), its log is "), err
    again = f"kmeshctl dump config {flag} gone -o json"
    assert lines[0].endswith(f"; make the sandbox again: `kmeshctl sandbox down --name gone && kmeshctl sandbox "
                             f"up --name gone && {again}`"), err
    assert "sandbox status" not in err and "does not answer" not in err, err
    _sandbox("gone", _agent(serve))  # made again: its agent answers
    code, out, err = _pasted(capsys, again)
    assert code == 0 and json.loads(out)["enrolled"], err


def test_p26_dump_maps_of_a_killed_agent_says_not_running(tmp_path, state_root, capsys, no_env,  # noqa: F811
                                                          maps_read) -> None:
    _killed_agent("gone", tmp_path)
    code, _, err = cli(capsys, "dump", "maps", "--sandbox", "gone", "--map", "km_manage")
    assert code == 0, err
    assert ("Pods not named: the node agent of sandbox gone is not running: pid 4242 was killed by SIGKILL "
            "(exit status 137)") in err, err
    assert ("make the sandbox again: `kmeshctl sandbox down --name gone && kmeshctl sandbox up --name gone && "
            "kmeshctl dump maps --sandbox gone --map km_manage`") in err, err
    assert "did not answer" not in err, err
    _, pods = maps_read[-1]
    assert isinstance(pods, dumper.NoAnswer) and not pods.running
    table = dumper._manage_table([(dumper.ManageKey(7), dumper.ManageValue(True))], None, pods)  # type: ignore
    assert list(table.columns[1].cells) == ["(agent not running)"]
    asked = dumper._manage_table([(dumper.ManageKey(7), dumper.ManageValue(True))], None,  # type: ignore
                                 dumper.NoAnswer("connection refused"))
    assert list(asked.columns[1].cells) == ["(agent did not answer)"]
