"""Which sandbox a command picks by itself, and the fix it offers (new-user pass, helper
h75), one test per kind:

5. the "several sandboxes" fix repeats the command as typed (every flag and argument,
   the sandbox flag added): pasted, it runs on that sandbox;
6. `sandbox exec POD` with several up picks the one that has the pod, or lists those;
7. a failed `up`'s leftovers never block picking the one sandbox that is up (a note
   names them); named, a failed one is still reported as failed;
8. the demo interrupted while bringing up its own sandbox removes it whole (logs too);
17. an agent that takes the connection and does not answer: a waiting line after ~1 s
   (not with -q), then "did not answer in N s (is the agent stopped?)".
Records in a temporary state root, as in test_cli_kinds (no root, no real sandbox)."""

from __future__ import annotations

import shlex
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from kmeshctl import config_dump, sandboxes
from kmeshctl.sandbox import sandbox as sandbox_mod
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import cli, no_env, state_root  # noqa: F401


def _record(name: str, pods: tuple[str, ...] = ()) -> state_mod.SandboxState:
    records = [state_mod.PodRecord(name=p, namespace="default", deployment=p.rsplit("-", 1)[0], labels={},
                                   ip="10.0.0.9", netns=f"h75-{p}", cgroup="") for p in pods]
    state = state_mod.SandboxState(name=name, phase=state_mod.PHASE_READY, agent={"admin": "127.0.0.1:1"},
                                   created_at=time.time() - 300, pods=records)
    state.save()
    return state


def _failed(name: str) -> Path:
    logs = state_mod.failed_up_logs(name)
    logs.mkdir(parents=True)
    (logs / sandbox_mod.UP_END_FILE).write_text("failed\n")
    return logs


def _suggested(err: str) -> list[str]:
    """The words of the command the error's fix gives (between the backticks)."""
    line = err.split("e.g. `", 1)[1].split("`", 1)[0]
    return shlex.split(line)


# ------------------------------------------------------------------ 5. the fix keeps what was typed


SEVERAL = {
    ("demo", "traffic-shift", "--target", "local", "-c", "2", "--weights", "50/50", "-o", "json", "--plot",
     "/tmp/h75q.png"): "kmeshctl demo traffic-shift --sandbox h75a -c 2 --target local --weights 50/50 -o json "
                       "--plot /tmp/h75q.png",
    ("dump", "maps", "-o", "json", "--map", "km_manage"): "kmeshctl dump maps --sandbox h75a --map km_manage -o json",
    ("dump", "config", "-o", "yaml"): "kmeshctl dump config --sandbox h75a -o yaml",
    ("-o", "json", "sandbox", "status"): "kmeshctl sandbox status --name h75a -o json",
    ("sandbox", "exec", "-n", "default", "web", "--", "true"):
        "kmeshctl sandbox exec web --name h75a -n default -- true",
}


@pytest.mark.parametrize("args", list(SEVERAL), ids=lambda a: " ".join(a[:2]))
def test_the_several_sandboxes_fix_keeps_every_typed_flag(args, state_root, capsys, no_env,
                                                          monkeypatch) -> None:
    if args[0] == "dump":
        monkeypatch.setattr(sandboxes, "DEFAULT_BPF_FS", state_root / "no-bpffs")
    for name in ("h75a", "h75b"):
        state = _record(name, ("web-0", "netutils-0"))
        state.vips = {"default/fortio": "10.96.0.10"}  # the demo's objects: one without them is no example
        state.save()
    code, out, err = cli(capsys, *args)
    assert code == 2 and "several sandboxes" in err, (args, code, err)
    assert f"`{SEVERAL[args]}`" in err, (args, err)


def test_the_pasted_fix_runs_on_that_sandbox(state_root, capsys, no_env, monkeypatch) -> None:
    _record("h75a", ("web-0",))
    _record("h75b", ("web-0",))
    ran: list[tuple[str, str, list[str], Any]] = []
    monkeypatch.setattr(sandbox_mod, "exec_in_pod", lambda *a: ran.append(a) or 0)
    code, _, err = cli(capsys, "sandbox", "exec", "-n", "default", "web-0", "--", "echo", "a b")
    assert code == 2 and not ran, err
    words = _suggested(err)
    assert words[0] == "kmeshctl", words
    code, _, err = cli(capsys, *words[1:])
    assert code == 0 and ran == [("h75a", "web-0", ["echo", "a b"], "default")], (code, err, ran)


def test_outside_a_run_the_fix_is_the_bare_command() -> None:
    assert sandboxes.rerun_line("kmeshctl dump maps", "--sandbox", "x") == "kmeshctl dump maps --sandbox x"
    assert sandboxes.rerun_line("kmeshctl sandbox exec p", "--name", "x", "-- true") == \
        "kmeshctl sandbox exec p --name x -- true"


# ------------------------------------------------------------------ 6. exec: the sandbox with the pod


def test_exec_picks_the_only_sandbox_that_has_the_pod(state_root, capsys, no_env, monkeypatch) -> None:
    _record("h75a", ("netutils-0",))
    _record("h75b", ("web-0",))
    ran: list[tuple] = []
    monkeypatch.setattr(sandbox_mod, "exec_in_pod", lambda *a: ran.append(a) or 0)
    code, _, err = cli(capsys, "sandbox", "exec", "web-0", "--", "true")
    assert code == 0 and ran == [("h75b", "web-0", ["true"], None)], (code, err)
    assert "Using sandbox h75b (the only one that has pod web-0" in err, err
    code, _, err = cli(capsys, "-q", "sandbox", "exec", "web", "--", "true")  # a Deployment's name too
    assert code == 0 and ran[-1][0] == "h75b" and not err, err


def test_exec_lists_only_the_sandboxes_that_have_the_pod(state_root, capsys, no_env) -> None:
    _record("h75a", ("netutils-0",))
    _record("h75b", ("web-0",))
    _record("h75c", ("web-0",))
    code, out, err = cli(capsys, "sandbox", "exec", "web-0", "--", "true")
    assert code == 2 and not out, err
    assert "several sandboxes have pod web-0 (h75b ready, h75c ready): pass --name NAME, " \
           "e.g. `kmeshctl sandbox exec web-0 --name h75b -- true`" in err, err


# ------------------------------------------------------------------ 7. a failed `up` does not block


def test_a_failed_up_is_not_picked_over_the_one_up(state_root, no_env) -> None:
    _record("h75a")
    _failed("h75f")
    for command in ("kmeshctl sandbox status", "kmeshctl dump maps", "kmeshctl demo traffic-shift",
                    "kmeshctl sandbox exec web"):
        assert sandboxes.pick(command) == "h75a", command
    assert sandboxes.failed_note("h75a") == "; h75f failed; remove it with `kmeshctl sandbox down --name h75f`"
    with pytest.raises(Exception, match="several sandboxes exist"):  # `down` would remove the wrong one
        sandboxes.pick("kmeshctl sandbox down")


def test_a_failed_up_is_named_in_a_note_and_still_reported_when_named(state_root, capsys, no_env,
                                                                      monkeypatch) -> None:
    _record("h75a", ("web-0",))
    _failed("h75f")
    monkeypatch.setattr(sandbox_mod, "exec_in_pod", lambda *a: 0)
    code, _, err = cli(capsys, "sandbox", "exec", "web-0", "--", "true")
    assert code == 0 and "several" not in err, err
    assert "Using sandbox h75a (the only one up; --name NAME chooses); h75f failed; remove it with " \
           "`kmeshctl sandbox down --name h75f`" in err, err
    code, _, err = cli(capsys, "demo", "traffic-shift", "--target", "local", "-c", "1")
    assert "several" not in err, err
    code, _, err = cli(capsys, "sandbox", "exec", "web-0", "--name", "h75f", "--", "true")
    assert code == 1 and "sandbox h75f failed (its up did not finish)" in err, err


# ------------------------------------------------------------------ 8. the demo's own sandbox, interrupted


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt(), None], ids=["ctrl-c", "sigterm"])
def test_a_demo_interrupted_while_making_its_sandbox_removes_it(interrupt, state_root, monkeypatch) -> None:
    import signal

    from kmeshctl.sandbox import demo_target
    from kmeshctl.stopping import Stopped

    error = interrupt or Stopped(signal.SIGTERM)
    removed: list[str] = []

    def up(name: str, *_: Any, **__: Any) -> None:
        _failed(name)  # what `up` keeps when interrupted
        raise error

    def down(name: str, *_: Any, **__: Any) -> bool:
        removed.append(name)
        import shutil

        shutil.rmtree(state_mod.failed_up_logs(name))
        return True

    monkeypatch.setattr(demo_target.sb, "require_root", lambda: None)
    monkeypatch.setattr(demo_target.sb, "up", up)
    monkeypatch.setattr(demo_target.sb, "down", down)
    monkeypatch.setattr(demo_target.lock_mod, "acquire", lambda *a, **k: True)
    monkeypatch.setattr(demo_target.lock_mod, "release", lambda *a, **k: None)
    monkeypatch.setattr(demo_target.lock_mod, "removed_by", lambda *a, **k: None)
    target = demo_target.LocalTarget("h75d", ("default", "fortio"), [100, 0])
    with pytest.raises(KeyboardInterrupt):
        target.prepare(lambda line: None)
    target.finish(lambda line: None)
    assert removed == ["h75d"] and not sandboxes.failed_up_names()


# ------------------------------------------------------------------ 17. an agent that does not answer


@pytest.fixture
def silent_agent():
    """A port that takes connections (the kernel's backlog) and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


@pytest.mark.parametrize("quiet", [False, True])
def test_a_silent_agent_is_waited_for_aloud_then_named_as_not_answering(quiet, silent_agent, capsys,
                                                                        monkeypatch) -> None:
    import kmeshctl.kube

    monkeypatch.setattr(config_dump, "TIMEOUT_S", 1.5)
    monkeypatch.setattr(kmeshctl.kube, "WAITING_NOTE_AFTER_S", 0.3)
    with pytest.raises(config_dump.AgentTimeout) as caught:
        config_dump.fetch_local(config_dump.CACHE_PATH, silent_agent, quiet, "h75s")
    assert str(caught.value) == (f"the node agent admin endpoint at 127.0.0.1:{silent_agent} did not answer in "
                                 "1.5 s (is the agent stopped?); check `kmeshctl sandbox status --name h75s`")
    err = capsys.readouterr().err
    waiting = f"waiting for the node agent admin endpoint at 127.0.0.1:{silent_agent} (limit 1.5s)"
    assert (waiting in err) is not quiet, err


def test_no_agent_at_all_is_still_no_endpoint() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: refused
        with pytest.raises(Exception, match=f"no node agent admin endpoint at 127.0.0.1:{port}"):
            config_dump.fetch_local(config_dump.CACHE_PATH, port)

