"""`sandbox up` asks whether a pod's process listens the way kubelet's probes do: not
through the data path, so an AuthorizationPolicy that denies the pod's own identity
(DENY from the default service account, or DENY everything with `rules: [{}]`) cannot
make `up` blame the process. The check looks for a LISTEN socket in the pod's network
namespace (/proc/net/tcp{,6}); the root test brings the fortio example up with such a
policy and checks the policy is still enforced for another pod's request."""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kmeshctl.sandbox.pods import listens_in
from kmeshctl.sandbox.state import SandboxState

REPO = Path(__file__).resolve().parent.parent
KMESHCTL = [sys.executable, "-m", "kmeshctl"]
POD_IP = ipaddress.ip_address("10.244.0.4")

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"


def _row(local: str, state: str) -> str:
    return f"   0: {local} 00000000:0000 {state} 00000000:00000000 00:00000000 00000000     0        0 1 1\n"


@pytest.mark.parametrize("local, state, port, listens", [
    ("00000000:1F90", "0A", 8080, True),     # 0.0.0.0:8080 LISTEN
    ("0400F40A:1F90", "0A", 8080, True),     # 10.244.0.4:8080 LISTEN
    ("0100007F:1F90", "0A", 8080, False),    # 127.0.0.1:8080: not reachable at the pod's address
    ("0500F40A:1F90", "0A", 8080, False),    # another address
    ("00000000:1F91", "0A", 8080, False),    # another port
    ("0400F40A:1F90", "01", 8080, False),    # ESTABLISHED, not LISTEN
])
def test_listens_in_tcp(local: str, state: str, port: int, listens: bool) -> None:
    assert listens_in(HEADER + _row(local, state), POD_IP, port) is listens


@pytest.mark.parametrize("local, listens", [
    ("00000000000000000000000000000000:1F90", True),    # [::]:8080 (takes IPv4 too)
    ("0000000000000000FFFF00000400F40A:1F90", True),    # [::ffff:10.244.0.4]:8080
    ("00000000000000000000000001000000:1F90", False),   # [::1]:8080
])
def test_listens_in_tcp6(local: str, listens: bool) -> None:
    assert listens_in(HEADER + _row(local, "0A"), POD_IP, 8080) is listens


def test_listens_in_this_process() -> None:
    """The parser against the kernel's own text: a socket this test opens."""
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        text = Path("/proc/thread-self/net/tcp").read_text()
        assert listens_in(text, ipaddress.ip_address("127.0.0.1"), port)
        assert not listens_in(text, POD_IP, port)


DENY_V2 = {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
           "metadata": {"name": "deny-v2", "namespace": "default"},
           "spec": {"selector": {"matchLabels": {"version": "v2"}}, "action": "DENY",
                    "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/default/sa/default"]}}]}]}}


def _run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([*KMESHCTL, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO)


@pytest.mark.root
def test_up_with_a_deny_policy_on_the_pods_own_identity(run_id: str, tmp_path: Path) -> None:
    files = tmp_path / "manifests"
    files.mkdir()
    for example in (REPO / "examples" / "fortio").glob("*.yaml"):
        shutil.copy(example, files / example.name)
    (files / "deny-v2.yaml").write_text(yaml.safe_dump(DENY_V2))
    name = f"h61p{run_id}"
    try:
        up = _run("sandbox", "up", "--name", name, "-f", str(files))
        assert up.returncode == 0, up.stderr
        state = SandboxState.load(name)
        ips = {p.name: p.ip for p in state.pods}

        def curl(pod: str) -> subprocess.CompletedProcess:
            return _run("sandbox", "exec", "--name", name, "netutils", "--", "curl", "-sS", "-m", "5", "-o",
                        "/dev/null", "-w", "%{http_code}", f"http://{ips[pod]}:8080/", timeout=30)

        allowed, denied = curl("fortio-v1-0"), curl("fortio-v2-0")
        assert (allowed.returncode, allowed.stdout) == (0, "200"), allowed.stderr
        # DENY refuses the connection at once (docs/agent.md): curl exit 7, no HTTP status
        assert (denied.returncode, denied.stdout) == (7, "000"), denied.stderr
    finally:
        _run("sandbox", "down", "--name", name, "--ignore-not-found", "-q")
