"""Tester 124's findings 4, 5, 9 and 11a (fixer G3), one test per kind; in-process
(kmeshctl.cli.main), sandbox records in a temporary state root, loopback HTTP servers:

- 4: a sandbox whose pins are gone and whose agent ended too has no data path (exit 1,
  naming the sandbox), never an error about a --bpf-fs nobody typed;
- 5: a positional word rewritten into a flag is first checked as that flag checks it: the
  flag its shape names (a path -> --bpf-fs, 90/10 -> --weights), else what is wrong with it,
  never a suggestion that is refused when pasted;
- 9: -o typed after a command without it says what -o typed before it says; a flag another
  command has (`node cleanup --sandbox x`) points at that command;
- 11a: a port that answers, but not as an agent's admin endpoint, is named as no agent's
  admin port; local agent errors never advise `kmeshctl version` (a cluster's agents only).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer

from kmeshctl.cli import app
from kmeshctl.config_dump import CACHE_PATH
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import _record, cli, no_env, state_root  # noqa: F401
from test_cli_malformed_answers import serve  # noqa: F401


def _record(name: str, **fields: object) -> state_mod.SandboxState:
    fields.setdefault("agent", {"admin": "127.0.0.1:1"})
    state = state_mod.SandboxState(name=name, phase=state_mod.PHASE_READY, **fields)  # type: ignore[arg-type]
    state.save()
    return state


ROOT = typer.main.get_command(app)
BACKTICKED = re.compile(r"`([^`]*)`")


def _line(code: int, err: str, expected: int) -> str:
    assert code == expected, (code, err)
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# ------------------------------------------------------------------ 4. pins gone, agent ended


@pytest.mark.parametrize("args", [["dump", "maps", "--sandbox", "gone"], ["dump", "maps"]])
def test_a_sandbox_without_pins_and_agent_has_no_data_path(args, state_root, capsys, no_env,  # noqa: F811
                                                            monkeypatch) -> None:
    _record("gone", processes=[state_mod.ProcessRecord("agent", 4242, component="the node agent")])
    monkeypatch.setattr(sb, "process_alive", lambda st, record: False)  # its agent ended
    code, out, err = cli(capsys, *args)
    line = err.strip().splitlines()[-1]
    assert code == 1 and not out, err
    assert line.startswith("Error: sandbox gone has no data path: nothing is pinned in "), err
    assert "kmeshctl sandbox down --name gone && kmeshctl sandbox up --name gone" in line, err
    assert "--bpf-fs" not in err and "Pods not named" not in err, err


# ------------------------------------------------------------------ 5. positional words checked as their flag


REFUSED = [  # p24 (F4): said plainly (`, and VALUE ...`), never `FLAG refuses VALUE` (a flag not typed)
    (["dump", "maps", "km_nosuch"], ", and km_nosuch is not an accepted value"),
    (["dump", "maps", "{tmp}"], ", and {tmp} is not on a bpf filesystem"),
    (["dump", "maps", "{tmp}/missing"], ", and {tmp}/missing does not exist"),
    (["demo", "traffic-shift", "90/20"], ", and 90/20: weights add up to 110"),
    (["node", "cleanup", "{tmp}"], ", and {tmp} is not on a bpf filesystem"),
    (["node", "run", "{tmp}"], ", and {tmp} is not on a bpf filesystem"),
    (["sandbox", "status", "Bad_Name"], ", and Bad_Name is not a sandbox name"),
    (["sandbox", "up", "toolongname-abcdefghijk"], ", and toolongname-abcdefghijk is not a sandbox name"),
    (["status", "Bad_NS"], ", and Bad_NS is not a valid namespace name"),
    (["bench", "cleanup", "abc"], ", and abc is not a run id"),
    (["waypoint", "delete", "Bad_W"], ", and Bad_W is not a valid waypoint name"),
]


@pytest.mark.parametrize("args,said", REFUSED, ids=[" ".join(a) for a, _ in REFUSED])
def test_a_positional_word_its_flag_refuses_is_named_as_refused(args, said, tmp_path, state_root, capsys,  # noqa: F811
                                                                no_env) -> None:
    args = [a.format(tmp=tmp_path) for a in args]
    line = _line(*cli(capsys, *args)[::2], expected=2)
    assert said.format(tmp=tmp_path) in line and " refuses " not in line, line
    assert all(args[-1] not in span for span in BACKTICKED.findall(line)), line  # no fix carrying it


FITTING = [
    (["demo", "traffic-shift", "90/10"], "kmeshctl demo traffic-shift --weights 90/10"),
    (["dump", "maps", "km_backend"], "kmeshctl dump maps --map km_backend"),
    (["sandbox", "status", "demo"], "kmeshctl sandbox status --name demo"),
    (["status", "kmesh-system"], "kmeshctl status"),  # f34e: its -n's default already
]


@pytest.mark.parametrize("args,fix", FITTING, ids=[" ".join(a) for a, _ in FITTING])
def test_a_positional_word_gets_the_flag_it_fits(args, fix, state_root, capsys, no_env) -> None:  # noqa: F811
    if args[0] == "sandbox":
        _record(args[-1])  # --name is offered only for a sandbox that exists (pass 22)
    line = _line(*cli(capsys, *args)[::2], expected=2)
    assert f"`{fix}`" in line, line


def test_a_bpffs_path_is_offered_as_bpf_fs(state_root, capsys, no_env, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setattr("kmeshctl.nodecheck.bpffs_mounted", lambda path: True)
    code, _, err = cli(capsys, "dump", "maps", str(state_root.parent))
    assert f"`kmeshctl dump maps --bpf-fs {state_root.parent}`" in _line(code, err, 2), err


def _leaves() -> list[list[str]]:
    found: list[list[str]] = []

    def visit(command, words: list[str]) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                visit(sub, [*words, name])
        elif not any(p.param_type_name == "argument" for p in command.params):
            found.append(words)

    visit(ROOT, [])
    return found


@pytest.mark.parametrize("words", _leaves(), ids=" ".join)
def test_no_command_suggests_a_flag_with_a_value_it_refuses(words, state_root, capsys, no_env) -> None:  # noqa: F811
    code, _, err = cli(capsys, *words, "Bad_Value!")
    line = _line(code, err, 2)
    assert all("Bad_Value!" not in span for span in BACKTICKED.findall(line)), line


# ------------------------------------------------------------------ 9. flags a command does not have


@pytest.mark.parametrize("words", [["sandbox", "up"], ["sandbox", "down"], ["node", "cleanup"], ["node", "run"],
                                   ["bench", "cleanup"]], ids=" ".join)
@pytest.mark.parametrize("flag", ["-o", "--output"])
def test_output_after_the_command_says_what_it_says_before(words, flag, state_root, capsys,  # noqa: F811
                                                           no_env) -> None:
    before = _line(*cli(capsys, flag, "json", *words)[::2], expected=2)
    after = _line(*cli(capsys, *words, flag, "json")[::2], expected=2)
    assert after == before == f"Error: kmeshctl {' '.join(words)} takes no -o/--output (see 'kmeshctl " \
                              f"{' '.join(words)} --help')", (before, after)


@pytest.mark.parametrize("args,fix", [
    (["node", "cleanup", "--sandbox", "t1"], "kmeshctl sandbox down --name t1"),
    (["node", "cleanup", "--name=t1"], "kmeshctl sandbox down --name t1"),
    (["node", "cleanup", "--sandbox", "Bad_X"], "kmeshctl sandbox down --name NAME"),
    (["node", "run", "--sandbox", "t1"], "kmeshctl sandbox up --name t1"),
    # `status --sandbox NAME`: tests/test_p36_f36b.py (a NAME that is no sandbox's is not offered)
], ids=lambda a: " ".join(a) if isinstance(a, list) else "")
def test_another_commands_flag_points_at_that_command(args, fix, state_root, capsys, no_env) -> None:  # noqa: F811
    line = _line(*cli(capsys, *args)[::2], expected=2)
    assert f"`{fix}`" in line, line


# ------------------------------------------------------------------ 11a. not an agent's admin port


@pytest.mark.parametrize("answer", [(404, b"404 page not found\n", "text/plain"),
                                    (200, b"<html>hello</html>", "text/html")], ids=["404", "not JSON"])
def test_a_port_that_is_no_agents_says_so(answer, serve, state_root, capsys, no_env) -> None:  # noqa: F811
    port = serve({CACHE_PATH: answer})
    line = _line(*cli(capsys, "dump", "config", "--admin-port", str(port))[::2], expected=1)
    assert line.startswith(f"Error: 127.0.0.1:{port} is not a kmeshctl node agent's admin port (it answered "), line
    assert "did not answer" not in line and "kmeshctl version" not in line, line


def test_dump_maps_note_says_the_port_answered(serve, state_root, capsys, no_env, monkeypatch) -> None:  # noqa: F811
    port = serve({})
    state = _record("nota", agent={"admin": f"127.0.0.1:{port}"})
    monkeypatch.setattr("kmeshctl.cli.dump._check_pinned", lambda st: None)
    _, _, err = cli(capsys, "dump", "maps", "--sandbox", state.name, "--map", "km_manage")
    assert f"Pods not named: 127.0.0.1:{port} is not a kmeshctl node agent's admin port (it answered 404" in err, err
    assert "did not answer" not in err, err


def test_local_agent_errors_never_advise_kmeshctl_version(serve, state_root, capsys, no_env) -> None:  # noqa: F811
    port = serve({CACHE_PATH: (404, json.dumps({"error": f"no such endpoint {CACHE_PATH}"}).encode(),
                               "application/json")})
    line = _line(*cli(capsys, "dump", "config", "--admin-port", str(port))[::2], expected=1)
    assert "kmeshctl version" not in line and f"curl -s http://127.0.0.1:{port}/version" in line, line
    _record("busy", agent={"admin": f"127.0.0.1:{port}"})
    line = _line(*cli(capsys, "dump", "config", "--sandbox", "busy")[::2], expected=1)
    assert "kmeshctl version" not in line and "kmeshctl sandbox status --name busy" in line, line
