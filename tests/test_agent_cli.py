"""`kmeshctl node run` without root: bad flags refused before anything changes, every
flag of the issue with its DaemonSet env default, the one-line-per-event log."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from pathlib import Path

KMESHCTL = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "kmeshctl")


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("NODE_NAME", "XDS_ADDRESS", "KUBECONFIG")}
    return subprocess.run([KMESHCTL, "node", "run", *args], capture_output=True, text=True, timeout=60,
                          env={**clean, **(env or {})})


def _unmade_bpffs() -> Path:
    """A --bpf-fs the agent would accept (under /sys/fs/bpf) that no run makes: the
    tests check it is still not there after a refusal."""
    return Path("/sys/fs/bpf") / f"kmeshctl-test-{uuid.uuid4().hex[:12]}"


def test_other_modes_are_a_usage_error() -> None:
    bpf = _unmade_bpffs()
    result = run("--mode", "kernel-native", "--xds-insecure", "--bpf-fs", str(bpf))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "--mode kernel-native: Kmesh's kernel-native mode, which kmeshctl does not run (it runs dual-engine " \
        "only); did you mean dual-engine? `kmeshctl node run --mode dual-engine --xds-insecure --bpf-fs " in \
        result.stderr, result.stderr
    assert not bpf.exists()


def test_secure_mode_needs_the_root_cert(tmp_path: Path) -> None:
    bpf = _unmade_bpffs()
    result = run("--xds-root-cert", str(tmp_path / "none.pem"), "--bpf-fs", str(bpf))
    assert result.returncode == 2 and "--xds-root-cert" in result.stderr and "istiod's root CA" in result.stderr
    assert not bpf.exists()


def test_bad_xds_address(tmp_path: Path) -> None:
    result = run("--xds-insecure", env={"XDS_ADDRESS": "istiod-no-port"})
    # the variable named as it was set, and the whole line with the address meant (f38a)
    assert result.returncode == 2 and "$XDS_ADDRESS=istiod-no-port: missing port; use `kmeshctl node run " \
        "--xds-insecure --xds-address istiod-no-port:15012`" in result.stderr, result.stderr


def test_a_bad_instance_ip_is_named() -> None:
    bpf = _unmade_bpffs()
    result = run("--xds-insecure", "--enrollment", "local", "--bpf-fs", str(bpf), "--instance-ip", "notanip")
    assert result.returncode == 2 and result.stderr.startswith("Error: --instance-ip notanip: not an IP address; ")
    assert not bpf.exists()


def test_admin_and_metrics_on_one_port_is_bad_input() -> None:
    bpf = _unmade_bpffs()
    result = run("--xds-insecure", "--enrollment", "local", "--bpf-fs", str(bpf),
                 "--admin-port", "15931", "--metrics-port", "15931")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "--metrics-port 15931: the same port as --admin-port" in result.stderr
    assert not bpf.exists()


def test_cni_flags_without_cni_conf_dir_are_refused_not_ignored() -> None:
    bpf = _unmade_bpffs()
    for flag, value in (("--cni-socket", "/nonexist/dir/x.sock"), ("--local-pods", "/nonexist"),
                        ("--cni-fail-policy", "closed")):
        result = run("--xds-insecure", "--enrollment", "local", "--bpf-fs", str(bpf), flag, value)
        assert result.returncode == 2, (flag, result.stderr)
        assert result.stderr.startswith(f"Error: {flag} applies only with --cni-conf-dir"), result.stderr
    assert not bpf.exists()


def test_kubernetes_enrollment_needs_the_node_name() -> None:
    result = run("--xds-insecure", "--enrollment", "kubernetes", "--proc-root", "/proc")
    assert result.returncode == 2 and "NODE_NAME" in result.stderr


def test_bad_log_level() -> None:
    result = run("--log-level", "chatty")
    assert result.returncode == 2 and "--log-level chatty" in result.stderr


LOG_LINE = re.compile(r"time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=(debug|info|warning|error) "
                      r"logger=(\S+) (event=\S+|.*)")
LOGGING_SCRIPT = r"""
import logging, sys
from kmeshctl.node.admin import set_logger_level
from kmeshctl.node.agent import configure_logging
configure_logging(sys.argv[1])
log = logging.getLogger("kmeshctl.xds.client")
log.debug("event=xds_ack type=Address nonce=1")
log.warning("event=xds_nack type=%s detail=%r", "Address", "a: port 70000\nb: 5 bytes")
try:
    raise ValueError("boom\nsecond line")
except ValueError:
    log.exception("event=xds_apply_failed nonce=%s", "7")
logging.getLogger("grpc._channel").info("library chatter")
logging.getLogger("urllib3.connectionpool").warning("Retrying after connection broken")
set_logger_level("kmeshctl.mapsync", "debug")  # what POST /debug/loggers does
logging.getLogger("kmeshctl.mapsync").debug("event=maps_delta writes=3")
"""


def agent_log(level: str) -> list[str]:
    python = str(Path(KMESHCTL).parent / "python")
    result = subprocess.run([python, "-c", LOGGING_SCRIPT, level], capture_output=True, text=True,
                            timeout=60, check=True)
    return result.stderr.splitlines()


def test_log_is_one_line_per_event_with_level_and_fields() -> None:
    lines = agent_log("info")
    parsed = [LOG_LINE.fullmatch(line) for line in lines]
    assert all(parsed), lines
    assert [(m.group(1), m.group(2)) for m in parsed] == [
        ("warning", "kmeshctl.xds.client"),  # the debug line is below --log-level info
        ("error", "kmeshctl.xds.client"),  # the traceback stays on the event's line
        ("warning", "urllib3.connectionpool"),  # libraries: warnings only, same format
        ("info", "kmeshctl.admin"),
        ("debug", "kmeshctl.mapsync"),  # its level was raised at run time
    ]
    assert "detail='a: port 70000\\nb: 5 bytes'" in lines[0]
    assert "event=xds_apply_failed nonce=7\\nTraceback (most recent call last):" in lines[1]
    assert lines[1].endswith("ValueError: boom\\nsecond line")
    assert "event=log_level_changed logger=kmeshctl.mapsync level=debug" in lines[3]


def test_log_level_debug_shows_debug_events() -> None:
    lines = agent_log("debug")
    assert any("level=debug logger=kmeshctl.xds.client event=xds_ack" in line for line in lines)
    assert not any("library chatter" in line for line in lines)


CONFIG_SCRIPT = r"""
import json, sys
from kmeshctl.node import agent

def show_config(self):  # instead of loading BPF and running: print what `node run` built
    c = self.config
    print(json.dumps({"xds_address": c.xds_address, "node_id": c.identity.node_id(),
                      "node": dict(c.identity.node().metadata), "cluster": c.identity.node().cluster,
                      "mode": c.mode, "bypass": c.enable_bypass, "bpf_log": c.enable_bpf_log,
                      "bpf_fs": str(c.bpf_fs), "cgroup2_path": str(c.cgroup2_path),
                      "ports": [c.admin_port, c.metrics_port], "insecure": c.xds_insecure,
                      "tls_server_name": c.xds_tls_server_name}))

agent.Agent.run_until_signalled = show_config
from kmeshctl.cli import main
sys.argv = ["kmeshctl", "node", "run", *sys.argv[1:]]
main()
"""
DAEMONSET_ENV = {"XDS_ADDRESS": "istiod-1-22-6.istio-system.svc:15012", "CLUSTER_ID": "c1",
                 "POD_NAME": "kmesh-7xk2p", "POD_NAMESPACE": "kmesh-system", "INSTANCE_IP": "10.0.3.7",
                 "NODE_NAME": "node-a", "SERVICE_ACCOUNT": "kmesh"}


def built_config(*args: str, env: dict[str, str]) -> dict:
    python = str(Path(KMESHCTL).parent / "python")
    clean = {k: v for k, v in os.environ.items() if k not in DAEMONSET_ENV}
    result = subprocess.run([python, "-c", CONFIG_SCRIPT, *args], capture_output=True, text=True,
                            timeout=60, env={**clean, **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_flag_defaults_from_the_daemonset_env() -> None:
    config = built_config(env=DAEMONSET_ENV)
    assert config["xds_address"] == "istiod-1-22-6.istio-system.svc:15012"
    assert config["node_id"] == "ztunnel~10.0.3.7~kmesh-7xk2p.kmesh-system~kmesh-system.svc.cluster.local"
    assert config["node"] == {"NAMESPACE": "kmesh-system", "CLUSTER_ID": "c1", "INSTANCE_IPS": "10.0.3.7",
                              "NODE_NAME": "node-a", "SERVICE_ACCOUNT": "kmesh"}
    assert config["cluster"] == "c1" and config["insecure"] is False


def test_flags_win_over_the_env_and_defaults_are_the_issue_s() -> None:
    defaults = built_config(env={})
    assert defaults["xds_address"] == "istiod.istio-system.svc:15012" and defaults["cluster"] == "Kubernetes"
    assert defaults["ports"] == [15200, 15020] and defaults["mode"] == "dual-engine"
    assert (defaults["bypass"], defaults["bpf_log"]) == (False, False)
    config = built_config("--xds-address", "10.0.0.9:15012", "--cluster-id", "c2", "--node-name", "node-b",
                          "--enable-bypass", "--enable-bpf-log", "--bpf-fs", "/sys/fs/bpf/k2",
                          "--cgroup2-path", "/sys/fs/cgroup/unified", "--admin-port", "15300",
                          "--metrics-port", "15021", "--xds-tls-server-name", "istiod.istio-system.svc",
                          env=DAEMONSET_ENV)
    assert config["xds_address"] == "10.0.0.9:15012" and config["node"]["CLUSTER_ID"] == "c2"
    assert config["node"]["NODE_NAME"] == "node-b" and (config["bypass"], config["bpf_log"]) == (True, True)
    assert (config["bpf_fs"], config["cgroup2_path"]) == ("/sys/fs/bpf/k2", "/sys/fs/cgroup/unified")
    assert config["ports"] == [15300, 15021] and config["tls_server_name"] == "istiod.istio-system.svc"
    assert defaults["tls_server_name"] is None
