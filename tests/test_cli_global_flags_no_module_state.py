"""The global flags (--kubeconfig, --context, --request-timeout, -q) are one explicit
object per run: the root callback builds a frozen kmeshctl.kube.KubeTarget and puts it
on the click context (ctx.obj); commands hand it to the library (kube.connect(target),
...). No module keeps them: a module global that comes back would let one run's flags
leak into the next (in-process runs: tests, completion) and let library code read the
CLI's state behind its callers' backs."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from kmeshctl import kube
from kmeshctl.cli import common, completion, progress
from test_cli_kinds import cli, no_env, state_root, _record  # noqa: F401

PACKAGE = Path(__file__).resolve().parents[1] / "kmeshctl"


def test_no_module_holds_the_cluster_target_or_quiet() -> None:
    assert not hasattr(kube, "TARGET") and not hasattr(kube, "kubeconfig_named")
    assert not hasattr(common, "GLOBAL")
    for gone in ("_QUIET", "set_quiet", "quiet_run"):
        assert not hasattr(progress, gone), gone
    with pytest.raises(dataclasses.FrozenInstanceError):
        kube.KubeTarget().quiet = True  # type: ignore[misc]


def _module_level_calls(path: Path) -> list[str]:
    """The names called in the module-level statements of ``path`` (assignments)."""
    found = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            for call in ast.walk(node.value):
                if isinstance(call, ast.Call):
                    func = call.func
                    found.append(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return found


def test_no_module_builds_a_target_or_a_quiet_switch_at_import() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        calls = _module_level_calls(path)
        rel = path.relative_to(PACKAGE)
        assert "KubeTarget" not in calls, f"{rel}: a module-level KubeTarget is the global target back"
        if rel.parts[0] == "cli":
            assert "Event" not in calls, f"{rel}: a module-level threading.Event (the old -q switch)"


def test_the_root_callback_puts_the_flags_on_the_context(capsys, monkeypatch, no_env) -> None:  # noqa: F811
    import kmeshctl.cli.cluster as cluster_cli

    seen: list[kube.KubeTarget] = []

    def connect_reachable(target: kube.KubeTarget) -> None:
        seen.append(target)
        raise kube.NoClusterConfigured("h67 stop here")

    monkeypatch.setattr(cluster_cli, "connect_reachable", connect_reachable)
    code, _, err = cli(capsys, "--request-timeout", "7s", "status", "-q")
    assert code == 1 and "h67 stop here" in err, err
    assert seen == [kube.KubeTarget(None, None, 7.0, True)]
    code, _, _ = cli(capsys, "status")  # the next run in this process starts from its own flags
    assert seen[-1] == kube.KubeTarget()


def test_run_options_outside_a_run_are_the_defaults() -> None:
    assert common.run_options() == kube.KubeTarget()


def test_one_run_s_q_does_not_silence_the_next(capsys, no_env, state_root) -> None:  # noqa: F811
    _record("h67a")
    code, _, err = cli(capsys, "-q", "sandbox", "status")
    assert "Using sandbox" not in err, err
    code, _, err = cli(capsys, "sandbox", "status")
    assert "Using sandbox h67a" in err, err


def test_the_waiting_line_takes_quiet_from_the_client_s_target() -> None:
    """kube's `waiting for the Kubernetes API` line reads -q from the target the client
    was made for, not from any module."""
    client = kube.KubeClient(None, kube.KubeTarget(quiet=True, request_timeout=3))  # type: ignore[arg-type]
    assert client.target.quiet and client.rediscovered().target == client.target


def test_the_sandbox_flag_help_class_lives_with_help_not_completion() -> None:
    assert hasattr(common, "SandboxFlagCommand") and not hasattr(completion, "SandboxFlagCommand")
