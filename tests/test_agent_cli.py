"""`kmeshctl node run` refuses bad flags before it changes anything (no root needed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

KMESHCTL = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "kmeshctl")


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("NODE_NAME", "XDS_ADDRESS", "KUBECONFIG")}
    return subprocess.run([KMESHCTL, "node", "run", *args], capture_output=True, text=True, timeout=60,
                          env={**clean, **(env or {})})


def test_other_modes_are_a_usage_error() -> None:
    result = run("--mode", "kernel-native")
    assert result.returncode == 2 and "only --mode=dual-engine" in result.stderr


def test_secure_mode_needs_the_root_cert(tmp_path: Path) -> None:
    result = run("--xds-root-cert", str(tmp_path / "none.pem"), "--bpf-fs", str(tmp_path / "bpf"))
    assert result.returncode == 2 and "istiod root certificate" in result.stderr
    assert not (tmp_path / "bpf").exists()


def test_bad_xds_address(tmp_path: Path) -> None:
    result = run("--xds-insecure", env={"XDS_ADDRESS": "istiod-no-port"})
    assert result.returncode == 2 and "is not HOST:PORT" in result.stderr


def test_kubernetes_enrollment_needs_the_node_name() -> None:
    result = run("--xds-insecure", "--enrollment", "kubernetes")
    assert result.returncode == 2 and "NODE_NAME" in result.stderr


def test_bad_log_level() -> None:
    result = run("--log-level", "chatty")
    assert result.returncode == 2 and "--log-level chatty" in result.stderr
