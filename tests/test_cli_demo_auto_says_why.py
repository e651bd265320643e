"""Issue 14, kind "an automatic choice says what it tried": `demo traffic-shift` with
--target auto tries the configured cluster first; when that cluster does not answer and
the local sandbox cannot be chosen (several up), the one line says both; when the
kubeconfig from $KUBECONFIG does not load, the fix offers the sandbox that is up
(`--name NAME`) next to `--kubeconfig PATH`.

Real parts: kmeshctl.cli.main in-process; a kubeconfig whose API server refuses
connections (127.0.0.1:1). The sandboxes "up" are records in a temporary state
directory (kmeshctl.sandboxes reads the directory; nothing is started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_cli_kinds import _dead_kubeconfig, cli, no_env  # noqa: F401


def sandbox_records(tmp_path: Path, monkeypatch, names: list[str]) -> list[str]:
    """Sandboxes ``names`` up as far as kmeshctl looks (their records only, under tmp_path)."""
    from kmeshctl.sandbox import state as state_mod

    root = tmp_path / "state"
    for name in names:
        (root / f"sandbox-{name}").mkdir(parents=True)
        (root / f"sandbox-{name}" / "state.json").write_text("{}")
    monkeypatch.setattr(state_mod, "STATE_ROOT", root)
    return names


@pytest.fixture
def two_sandboxes(tmp_path: Path, monkeypatch) -> list[str]:
    return sandbox_records(tmp_path, monkeypatch, ["h50-a", "h50-b"])


def test_a_dead_cluster_and_several_sandboxes_are_both_named(two_sandboxes, tmp_path, capsys, monkeypatch,
                                                           no_env) -> None:
    monkeypatch.setenv("KUBECONFIG", str(_dead_kubeconfig(tmp_path / "dead.yaml")))
    code, out, err = cli(capsys, "--request-timeout", "2", "demo", "traffic-shift")
    assert code == 2 and not out and err.count("\n") == 1, err
    assert "no reachable cluster: cannot reach the Kubernetes API at https://127.0.0.1:1" in err, err
    # neither can run this version's demo: the fix is the demo in a new sandbox (tests/test_demo_p21.py)
    assert "; so a local sandbox, but several sandboxes exist (h50-a other version, h50-b other version) and none " \
           "can be used now" in err, err


def test_a_kubeconfig_variable_that_does_not_load_offers_the_sandbox_up(two_sandboxes, tmp_path, capsys,
                                                                       monkeypatch, no_env) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nonexist"))
    code, out, err = cli(capsys, "demo", "traffic-shift")
    assert code == 2 and not out and "does not exist" in err, err
    assert "--kubeconfig PATH" in err, err
    # whole lines to paste (f38a): neither record is this version's (the demo refuses both), so the demo in a
    # new sandbox (t41a 3: only sandboxes the demo runs on as pasted)
    assert "`kmeshctl sandbox up --name kmesh-demo && kmeshctl demo traffic-shift --sandbox kmesh-demo --target " \
           "local`" in err and "--sandbox h50-a" not in err, err
