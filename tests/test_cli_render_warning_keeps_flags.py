"""`render --kubeconfig KC --context X ...` warns that the Istio kinds were not
schema-validated and suggests `install --dry-run` with a reachable cluster: that install
keeps every flag typed, the global --kubeconfig / --context too (a tester pasted it without
them and got the offline path again)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]
contexts: [{name: tier-h86, context: {cluster: c, user: u}}]
users: [{name: u, user: {}}]
current-context: tier-h86
"""


def _run(args: list[str], capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    from kmeshctl.cli import main

    monkeypatch.setattr(sys, "argv", ["kmeshctl", *args])
    with pytest.raises(SystemExit) as info:
        main()
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_the_suggested_install_keeps_kubeconfig_context_and_every_flag(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    config = tmp_path / "kc-h86"
    config.write_text(KUBECONFIG)
    code, out, err = _run(["--kubeconfig", str(config), "--context", "tier-h86", "render", "--xds-address",
                           "istiod.istio-system.svc:15012", "--cluster-id", "tier-t73", "-n", "kmesh-h86"],
                          capsys, monkeypatch)
    assert code == 0 and out, err
    line = " ".join(err.split())
    assert (f"`kmeshctl --kubeconfig {config} --context tier-h86 install --xds-address istiod.istio-system.svc:15012 "
            "--cluster-id tier-t73 -n kmesh-h86 --dry-run`") in line, line
