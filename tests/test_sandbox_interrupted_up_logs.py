"""M4 (h88): what an interrupted `sandbox up` says about its logs is what happens. A plain
`sandbox up` keeps them (/run/kmeshctl/failed-up-NAME) and says so; a demo bringing up
its own sandbox removes it whole afterwards, so its `up` promises no logs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kmeshctl.sandbox import manifests as manifests_mod
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import no_env, state_root  # noqa: F401


@pytest.fixture
def interrupted_create(monkeypatch) -> None:
    """`up`'s creation step writes a log, then Ctrl-C; teardown only removes the record."""
    import shutil

    def create(state: state_mod.SandboxState, *_: Any) -> None:
        state.logs_dir.mkdir(parents=True, exist_ok=True)
        (state.logs_dir / "agent.log").write_text("compiling\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(sb, "_create", create)
    monkeypatch.setattr(sb, "teardown", lambda state, progress: shutil.rmtree(state.dir, ignore_errors=True))


def _up(name: str, **kwargs: Any) -> list[str]:
    plan = sb.UpPlan(name, manifests_mod.load(manifests_mod.default_files()), [], {})
    said: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        sb.up(name, manifests_mod.default_files(), said.append, plan, **kwargs)
    return said


def test_a_plain_interrupted_up_keeps_its_logs_as_it_says(state_root, interrupted_create, no_env) -> None:
    said = _up("h88i")
    kept = state_mod.failed_up_logs("h88i")
    assert said == [f"interrupted: removing what was created (its logs are kept in {kept})"]
    assert (kept / "agent.log").read_text() == "compiling\n"


def test_the_demos_interrupted_up_promises_no_logs_and_leaves_none(state_root, interrupted_create,
                                                                   no_env) -> None:
    said = _up("h88j", keep_logs_if_interrupted=False)
    assert said == ["interrupted: removing what was created"]
    assert not state_mod.failed_up_logs("h88j").exists() and not state_mod.state_dir("h88j").exists()


def test_the_demo_brings_up_its_sandbox_without_keeping_interrupted_logs(state_root, monkeypatch, no_env) -> None:
    from kmeshctl.sandbox import demo_target

    calls: list[dict[str, Any]] = []

    def up(name: str, files: Any, progress: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(demo_target.sb, "require_root", lambda: None)
    monkeypatch.setattr(demo_target.sb, "up", up)
    monkeypatch.setattr(demo_target.sb, "down", lambda *a, **k: False)
    monkeypatch.setattr(demo_target.lock_mod, "acquire", lambda *a, **k: True)
    monkeypatch.setattr(demo_target.lock_mod, "release", lambda *a, **k: None)
    monkeypatch.setattr(demo_target.lock_mod, "removed_by", lambda *a, **k: None)
    target = demo_target.LocalTarget("h88k", ("default", "fortio"), [100, 0])
    with pytest.raises(KeyboardInterrupt):
        target.prepare(lambda line: None)
    target.finish(lambda line: None)
    assert calls == [{"keep_logs_if_interrupted": False}]
