"""`sandbox up` and `sandbox down` interrupted (SIGTERM, which the sandbox commands turn
into what Ctrl-C does, exit 143 instead of 130): up says it was interrupted (not that it
failed) and removes what it made; down says which sandbox is half-removed and the
command that finishes it, exit 143, and
that command finishes it. Real sandboxes on the real kernel; the CLI in-process
(kmeshctl.cli.main), the signal sent to ourselves by a real kill(2) right after one real
step of the work, so it lands at a known point."""

from __future__ import annotations

import os
import shutil
import signal
from typing import Any, Callable

import pytest

from kmeshctl.sandbox import pods as pods_mod
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox.manifests import default_files
from kmeshctl.sandbox.state import SandboxState, failed_up_logs, state_dir
from test_cli_kinds import cli

pytestmark = pytest.mark.root


def _leftovers(name: str) -> list[str]:
    return sb._leftovers(SandboxState(name=name))


def _then_sigterm(real: Callable[..., Any]) -> Callable[..., Any]:
    """``real``, then a SIGTERM to this process (the CLI's handler raises at the next step)."""
    def step(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)
        return result
    return step


def test_an_interrupted_up_says_interrupted_and_removes_what_it_made(run_id: str, capsys, monkeypatch) -> None:
    name = f"h61u{run_id}"
    monkeypatch.delenv("KMESHCTL_SANDBOX_NAME", raising=False)
    monkeypatch.setattr(sb, "_start_control_plane", _then_sigterm(sb._start_control_plane))
    try:
        code, _, err = cli(capsys, "sandbox", "up", "--name", name)
        assert code == 143, err
        assert "interrupted: removing what was created" in err and "up failed" not in err, err
        assert f"Error: stopped by SIGTERM: sandbox {name} was not created" in err, err
        assert _leftovers(name) == [] and not state_dir(name).exists()
    finally:
        sb.down(name)
        shutil.rmtree(failed_up_logs(name), ignore_errors=True)


def test_an_interrupted_down_names_the_half_removed_sandbox_and_the_fix(run_id: str, capsys, monkeypatch) -> None:
    name = f"h61d{run_id}"
    monkeypatch.delenv("KMESHCTL_SANDBOX_NAME", raising=False)
    sb.up(name, default_files())
    try:
        with monkeypatch.context() as patch:
            patch.setattr(pods_mod, "remove_pods", _then_sigterm(pods_mod.remove_pods))
            code, out, err = cli(capsys, "sandbox", "down", "--name", name)
        assert code == 143 and "removed." not in out, (out, err)
        assert err.strip().splitlines()[-1] == (f"Error: stopped by SIGTERM: sandbox {name} is half-removed; run "
                                                f"`kmeshctl sandbox down --name {name}` to finish"), err
        assert _leftovers(name)  # half-removed indeed
        code, out, err = cli(capsys, "sandbox", "down", "--name", name)
        assert code == 0 and f"Sandbox {name} removed." in out, err
        assert _leftovers(name) == []
    finally:
        sb.down(name)
