"""Pass 39 findings fixed by f39c (issue 14, each as a kind across the commands it touches).

- t39a 6 / t39c 7: `dump maps` tables of a real sandbox (one DENY policy, more Services than
  fortio's): enums spelled as -o json spells them, -o wide keeps the columns empty in every
  row (km_authz_rule's DRY-RUN ones), km_service's ENDPOINTS a count, km_backend /
  km_service / km_endpoint rows in the order of the names shown; a pair held twice said
  once with its protocols, and `dump config` naming the protocol of a repeated pair, as
  units (the sandbox takes no UDP port).
- t39a 8 / t39b 3: `version` prints `Client:` before the cluster is asked (a loopback server
  that accepts and never answers plays the hanging API server), and a stop while it is
  awaited leaves it (-o json: the report as far as it got); `--client` reads no kubeconfig.
- t39a 10 / 11, t39b 7: `node cleanup` refuses a sandbox's bpffs after its agent died
  (--force cleans it and names the sandbox), whole lines for a missing dir, "needs root".
- t39b 8: a link-local --xds-address is refused as loopback is.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from test_cli_request_timeout import SilentApiServer, _kubeconfig, silent  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[1]
KMESHCTL = [sys.executable, "-m", "kmeshctl"]
NAME = f"f39c-{os.getpid()}"[:16]

DENY = {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
        "metadata": {"name": "deny-v2", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"version": "v2"}}, "action": "DENY",
                 "rules": [{"from": [{"source": {"ipBlocks": ["10.244.0.0/24"]}}]}]}}

# more Services than fortio's: their hashed ids must not decide the rows' order
EXTRA_SERVICES = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
                   "spec": {"selector": {"app": "fortio"}, "ports": [{"name": "http", "port": 80,
                                                                      "targetPort": 8080}]}}
                  for name in ("zeta", "alpha", "mid", "beta")]


def kmeshctl(*args: str, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "250", "HOME": os.environ.get("HOME", "/root")}
    env.pop("KUBECONFIG", None)
    env.pop("KMESHCTL_SANDBOX_NAME", None)
    return subprocess.run([*KMESHCTL, *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=timeout, **kwargs)


# ------------------------------------------------------------------ dump maps (real sandbox)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("needs root (a real sandbox)")
    extra = tmp_path_factory.mktemp("f39c") / "extra.yaml"
    extra.write_text(yaml.safe_dump_all([DENY, *EXTRA_SERVICES]))
    try:
        up = kmeshctl("sandbox", "up", "--name", NAME, "-q", "-f", str(ROOT / "examples" / "fortio"),
                      "-f", str(extra), timeout=600)
        assert up.returncode == 0, up.stderr
        yield NAME
    finally:
        kmeshctl("sandbox", "down", "--name", NAME, "-q", timeout=300)


def _section(text: str, name: str) -> str:
    return next(part for part in text.split("\n\n") if part.startswith(f"{name}:"))


def _rows(section: str) -> list[str]:
    return [line for line in section.splitlines()[2:] if line.strip()]


def test_authz_rule_verdicts_as_json_spells_them_and_wide_keeps_dry_run_columns(sandbox: str) -> None:
    table = kmeshctl("dump", "maps", "--sandbox", sandbox, "--map", "km_authz_rule")
    wide = kmeshctl("dump", "maps", "--sandbox", sandbox, "--map", "km_authz_rule", "-o", "wide")
    data = json.loads(kmeshctl("dump", "maps", "--sandbox", sandbox, "--map", "km_authz_rule", "-o", "json").stdout)
    assert table.returncode == 0 and wide.returncode == 0, (table.stderr, wide.stderr)
    verdicts = {entry["value"]["verdict"] for entry in data["km_authz_rule"]}
    assert "DENY_POLICY" in verdicts, data
    rows = _rows(_section(table.stdout, "km_authz_rule"))
    assert rows and all(any(v in row.split() for v in verdicts) for row in rows), table.stdout
    assert "deny_policy" not in table.stdout and "default/deny-v2" in table.stdout, table.stdout
    # no policy is in dry run: the table leaves the empty columns out, -o wide shows them
    assert "DRY-RUN" not in table.stdout, table.stdout
    header = _section(wide.stdout, "km_authz_rule").splitlines()[1]
    assert "DRY-RUN VERDICT" in header and "DRY-RUN POLICY" in header, wide.stdout
    assert len(_rows(_section(wide.stdout, "km_authz_rule"))) == len(rows)


def test_service_endpoints_are_a_count(sandbox: str) -> None:
    out = kmeshctl("dump", "maps", "--sandbox", sandbox, "--map", "km_service").stdout
    fortio = next(row for row in _rows(out) if "default/fortio.default.svc.cluster.local" in row)
    assert re.search(r"RANDOM +\d+ +80->8080", fortio) and "p0:" not in out, out


def test_rows_keyed_by_an_id_come_in_the_order_of_the_names_shown(sandbox: str) -> None:
    for name in ("km_backend", "km_service", "km_endpoint"):
        out = kmeshctl("dump", "maps", "--sandbox", sandbox, "--map", name).stdout
        names = [row.split()[0] for row in _rows(_section(out, name))]
        assert len(set(names)) > 2 and names == sorted(names), (name, out)
    out = kmeshctl("dump", "maps", "--sandbox", sandbox, "--map", "km_backend").stdout
    names = [row.split()[0] for row in _rows(out)]
    data = json.loads(kmeshctl("dump", "maps", "--sandbox", sandbox, "--map", "km_backend", "-o", "json").stdout)
    assert [e["key"]["backendName"] for e in data["km_backend"]] == sorted(names)


def test_kinds_as_json_spells_them(sandbox: str) -> None:
    out = kmeshctl("dump", "maps", "--sandbox", sandbox, "--map", "km_frontend").stdout
    kinds = {row.split()[1] for row in _rows(out)}
    assert kinds and kinds <= {"SERVICE", "BACKEND"}, out


def test_node_cleanup_refuses_a_sandbox_bpffs_once_its_agent_died(sandbox: str, tmp_path: Path) -> None:
    """Last of the sandbox's tests: it kills the agent, then removes the sandbox."""
    from kmeshctl.sandbox.state import SandboxState

    record = SandboxState.load(sandbox)
    bpffs = str(record.bpffs)
    pids = [r.pid for r in record.processes_of("agent")]
    assert pids, record
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    time.sleep(1)
    cni = tmp_path / "cni"
    cni.mkdir()
    words = ["node", "cleanup", "--bpf-fs", bpffs, "--cni-conf-dir", str(cni), "--cni-bin-dir", str(cni)]
    refused = kmeshctl(*words)
    assert refused.returncode == 1 and not refused.stdout, refused
    line = refused.stderr.strip()
    assert f"the data path of sandbox {sandbox}" in line and \
        f"`kmeshctl sandbox down --name {sandbox}` removes the whole sandbox" in line, line
    forced = shlex.split(re.findall(r"`([^`]*)`", line)[-1])
    assert forced == ["kmeshctl", *words, "--force"], line
    assert Path(bpffs).is_dir() and any(Path(bpffs).iterdir())  # nothing touched
    done = kmeshctl(*forced[1:])
    assert done.returncode == 0 and "unpinned" in done.stdout, done
    assert f"that was the data path of sandbox {sandbox}" in done.stderr and \
        f"`kmeshctl sandbox down --name {sandbox}` removes them" in done.stderr, done.stderr
    down = kmeshctl("sandbox", "down", "--name", sandbox, "-q")
    assert down.returncode == 0, down.stderr


# ------------------------------------------------------------------ dump config / maps cells (units)


def test_dump_config_names_the_protocol_only_of_a_repeated_pair() -> None:
    from kmeshctl.config_dump import _ports

    # one notation with dump maps and with a workload's ports, which carry no protocol (t41c 9)
    assert _ports([{"service_port": 53, "target_port": 53},
                   {"service_port": 53, "target_port": 53, "app_protocol": "TCP"},
                   {"service_port": 9153, "target_port": 9153, "app_protocol": "HTTP11"}]) == \
        "53->53 (2 protocols), 9153->9153"


def test_a_pair_the_map_holds_twice_is_said_once_with_its_protocols() -> None:
    """The sandbox takes no UDP port: kube-dns's km_service value, as the tier's agent wrote it."""
    from kmeshctl.dump import _ports_text
    from kmeshctl.maps import ServiceValue

    value = ServiceValue((2,), ports=((53, 53), (53, 53), (9153, 9153)))
    assert _ports_text(value) == "53->53 (2 protocols), 9153->9153"
    assert _ports_text(ServiceValue()) == "<none>"


def test_endpoint_counts_per_priority_group_say_what_they_are() -> None:
    from kmeshctl.dump import _counts_text
    from kmeshctl.maps import ServiceValue

    assert _counts_text(ServiceValue((2,))) == "2"
    assert _counts_text(ServiceValue((2, 1))) == "2 (prio 0), 1 (prio 1)"
    assert _counts_text(ServiceValue((0, 0, 3))) == "3 (prio 2)"
    assert _counts_text(ServiceValue()) == "0"


# ------------------------------------------------------------------ version


def _stopped_while_awaited(server: SilentApiServer, kubeconfig: Path, signum: int, *args: str
                           ) -> tuple[int, str, str]:
    """`kmeshctl version` against the hanging server, stdout a pipe, stopped by ``signum``
    once the server holds its connection (the cluster is being asked)."""
    held = len(server.held)
    proc = subprocess.Popen([*KMESHCTL, "--kubeconfig", str(kubeconfig), "version", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while len(server.held) == held and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(server.held) > held, "kmeshctl never connected"
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, err


@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_version_client_line_survives_a_stop_while_the_server_hangs(silent, signum: int, code: int) -> None:
    from kmeshctl import __version__

    server, kubeconfig = silent
    rc, out, err = _stopped_while_awaited(server, kubeconfig, signum)
    assert rc == code and out == f"Client: {__version__}\n", (rc, out, err)
    assert err.strip().splitlines()[-1].startswith("Error: stopped by"), err


def test_version_json_stopped_while_the_server_hangs_is_the_report_so_far(silent) -> None:
    from kmeshctl import __version__

    server, kubeconfig = silent
    rc, out, err = _stopped_while_awaited(server, kubeconfig, signal.SIGINT, "-o", "json")
    report = json.loads(out)
    assert rc == 130 and report["client"] == {"version": __version__} and report["cluster"] is None, (out, err)
    assert report["clusterError"] == "stopped by Ctrl-C (SIGINT)" and report["clusterConfigured"] is True, report


@pytest.mark.parametrize("flags", [["--kubeconfig", "/nonexist-f39c"], ["--context", "nope"]])
@pytest.mark.parametrize("fmt", [[], ["-o", "json"]])
def test_version_client_reads_no_kubeconfig(flags: list[str], fmt: list[str], tmp_path: Path) -> None:
    from kmeshctl import __version__

    env_run = subprocess.run([*KMESHCTL, "version", "--client", *fmt], capture_output=True, text=True, cwd=ROOT,
                             env={**os.environ, "KUBECONFIG": "/nonexist-f39c"})
    typed = kmeshctl(*flags, "version", "--client", *fmt)
    assert typed.returncode == env_run.returncode == 0, (typed, env_run)
    assert typed.stdout == env_run.stdout and not typed.stderr, (typed, env_run)
    if fmt:
        assert json.loads(typed.stdout)["client"] == {"version": __version__}
    else:
        assert typed.stdout == f"Client: {__version__}\n"


# ------------------------------------------------------------------ node cleanup lines


@pytest.mark.parametrize("flag", ["--cni-conf-dir", "--cni-bin-dir", "--cgroup2-path"])
def test_a_missing_dir_gets_a_whole_line_without_it(flag: str, tmp_path: Path) -> None:
    bpffs = f"/sys/fs/bpf/f39c-none-{os.getpid()}"
    # --ignore-not-found: the missing --bpf-fs is no bad value of its own (else both are said, no line: p41 f41a)
    result = kmeshctl("node", "cleanup", "--bpf-fs", bpffs, flag, "/nonexist-f39c", "--ignore-not-found")
    assert result.returncode == 2, result
    lines = re.findall(r"`([^`]*)`", result.stderr)
    # a CNI dir left out would clean the default one, not asked for (t40a #7): no line (tests/test_p40_f40b.py)
    assert lines == ([f"kmeshctl node cleanup --bpf-fs {bpffs} --ignore-not-found"] if flag == "--cgroup2-path"
                     else []), result.stderr
    both = kmeshctl("node", "cleanup", "--bpf-fs", bpffs, flag, "/nonexist-f39c")
    assert both.returncode == 2 and f"--bpf-fs {bpffs}: does not exist" in both.stderr and \
        f"also {flag} /nonexist-f39c" in both.stderr and "`" not in both.stderr, both.stderr


def test_a_missing_bpffs_names_no_command_fragment(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("node cleanup needs root")
    cni = tmp_path / "cni"
    cni.mkdir()
    bpffs = f"/sys/fs/bpf/f39c-none-{os.getpid()}"
    result = kmeshctl("node", "cleanup", "--bpf-fs", bpffs, "--cni-conf-dir", str(cni), "--cni-bin-dir", str(cni))
    assert result.returncode == 2, result
    assert "the agent (kmeshctl node run) was given as --bpf-fs" in result.stderr, result.stderr
    assert "`" not in result.stderr.replace("'kmeshctl node cleanup --help'", ""), result.stderr


def test_node_cleanup_as_another_user_says_it_needs_root(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("runs the command as nobody")
    result = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *KMESHCTL,
                             "node", "cleanup", "--ignore-not-found"], capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "HOME": str(tmp_path)})
    assert result.returncode == 1 and not result.stdout, result
    assert result.stderr.strip() == "Error: node cleanup needs root (the pinned data path, the CNI config): " \
                                    "run it as root: `kmeshctl node cleanup --ignore-not-found`", result.stderr


# ------------------------------------------------------------------ --xds-address


@pytest.mark.parametrize("address", ["[fe80::1%eth0]:15012", "169.254.10.1:15012", "[fe80::1]:15012"])
def test_a_link_local_xds_address_is_refused_with_one_that_passes(address: str) -> None:
    result = kmeshctl("render", "--cluster-id", "c1", "--xds-address", address)
    assert result.returncode == 2 and not result.stdout, result
    assert "is a link-local address" in result.stderr and "other nodes cannot reach it" in result.stderr
    line = re.findall(r"`([^`]*)`", result.stderr)[-1]
    pasted = kmeshctl(*shlex.split(line)[1:])
    assert pasted.returncode == 0 and "kind: DaemonSet" in pasted.stdout, pasted.stderr
