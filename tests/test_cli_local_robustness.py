"""The local tools (sandbox, demo, dump, output paths), kinds found by the seventh
new-user pass: 1 a closed output pipe never stops work that changes state (and
read-only commands answer `| head -1` alike); 2 dump tables keep the columns that tell
rows apart at any width; 3 a missing agent points at the sandboxes that are up; 4 paths
that cannot be written in the project's words; 5 the plot's legend never covers a bar;
6 titles never wrap mid-phrase. The root test runs a real sandbox (real netns, BPF,
Envoy, fortio) named h36t<pid>, always removed."""

from __future__ import annotations

import io
import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from kmeshctl import config_dump
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import KMESHCTL, cli, no_env, state_root  # noqa: F401
from test_cli_newuser import _record

NAME = f"h36t{os.getpid() % 100000}"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "COLUMNS", "KMESHCTL_SANDBOX_NAME")}


def _closed_pipe_run(*words: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """kmeshctl WORDS with stdout and stderr on a pipe whose reader has gone (`2>&1 | head -0`)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([KMESHCTL, *words], stdout=write_end, stderr=write_end, timeout=timeout, env=_env())
    finally:
        os.close(write_end)


def _kmeshctl(*words: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([KMESHCTL, *words], capture_output=True, text=True, timeout=timeout, env=_env())


def _head_1(line: str) -> int:
    """The exit code of kmeshctl in `kmeshctl ... | head -1`."""
    shell = f"{shlex.quote(KMESHCTL)} {line} | head -1 >/dev/null; exit ${{PIPESTATUS[0]}}"
    return subprocess.run(["bash", "-c", shell], capture_output=True, timeout=120, env=_env()).returncode


def _listed(name: str) -> dict | None:
    rows = json.loads(_kmeshctl("sandbox", "list", "-o", "json").stdout)
    return next((r for r in rows if r["name"] == name), None)


# ------------------------------------------------------------------ 1. closed pipes


@pytest.mark.root
def test_a_closed_pipe_never_stops_work_that_changes_state() -> None:
    """`sandbox up|down ... 2>&1 | head` and the demo: the work is finished (or the
    weights restored) although nothing could be written, then exit 1."""
    try:
        up = _closed_pipe_run("sandbox", "up", "--name", NAME)
        assert up.returncode == 1
        row = _listed(NAME)
        assert row is not None and row["phase"] == "ready" and row["ready"], row
        # read-only commands: output that fits in the pipe is written in one piece, exit 0 alike
        for line in (f"sandbox status --name {NAME}", f"dump config --sandbox {NAME}", "sandbox list",
                     f"dump maps --sandbox {NAME}"):
            assert _head_1(line) == 0, line
        demo = _closed_pipe_run("demo", "traffic-shift", "--name", NAME, "-c", "30", "--weights", "0/100,100/0")
        assert demo.returncode == 1
        # the VirtualService's own 90/10 is in force again: a default run passes its split check
        again = _kmeshctl("demo", "traffic-shift", "--name", NAME, "-c", "200", "-q", "-o", "json")
        report = json.loads(again.stdout)
        assert again.returncode == 0 and report["passed"], again.stderr
        assert [p["weights"] for p in report["phases"]] == [{"v1": 90, "v2": 10}]
        down = _closed_pipe_run("sandbox", "down", "--name", NAME)
        assert down.returncode == 1
        assert _listed(NAME) is None
        netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert f"ksb{NAME}-" not in netns and not Path(f"/sys/fs/bpf/kmeshctl-sandbox-{NAME}").exists()
    finally:
        _kmeshctl("sandbox", "down", "--name", NAME, "--ignore-not-found", "-q")


def test_a_down_that_did_not_finish_is_named_with_its_fix(state_root, capsys, no_env) -> None:  # noqa: F811
    state = _record("h36gone")
    state.phase = state_mod.PHASE_REMOVING  # what a `sandbox down` records first
    state.save()
    code, out, _ = cli(capsys, "sandbox", "list", "-o", "json")
    row = json.loads(out)[0]
    assert code == 0 and not row["ready"] and row["phase"] == "removing"
    assert row["problems"][0] == ("half-removed: a `sandbox down` did not finish: run "
                                  "`kmeshctl sandbox down --name h36gone`")


# ------------------------------------------------------------------ 2. columns that tell rows apart


def _cache() -> dict:
    """A cache dump as the node agent serves it (/debug/config_dump/dual-engine)."""
    svc = "default/fortio.default.svc.cluster.local"
    workload = {"addresses": ["10.244.0.3"], "services": {svc: {"ports": [{"service_port": 80,
                                                                            "target_port": 8080}]}},
                "status": "HEALTHY", "node": "sandbox"}
    return {"services": [{"namespace": ns, "hostname": f"fortio.{ns}.svc.cluster.local",
                          "addresses": ["10.96.0.10"], "ports": [{"service_port": 80, "target_port": 8080}],
                          "load_balancing": {"mode": "STANDARD"}} for ns in ("default", "other")],
            "workloads": [{**workload, "uid": f"Kubernetes//Pod/default/fortio-v{n}-0"} for n in (1, 2)],
            "policies": []}


@pytest.mark.parametrize("wide", [False, True])
def test_dump_config_keeps_uids_and_hostnames_whole_at_80_columns(wide: bool) -> None:
    out = io.StringIO()
    config_dump.print_cache_tables(_cache(), Console(file=out, width=80, force_terminal=True, color_system=None),
                                   wide=wide)
    text = out.getvalue()
    for whole in ("Kubernetes//Pod/default/fortio-v1-0", "Kubernetes//Pod/default/fortio-v2-0",
                  "default/fortio.default.svc.cluster.local", "other/fortio.other.svc.cluster.local"):
        assert whole in text, text
    lines = text.splitlines()
    assert lines[0] == "services (2)" and "workloads (2)" in lines and "authorization policies (0)" not in lines
    noted = [line for line in lines if line.startswith("(not shown at this width")]
    # the columns of <none> only left out; at 80 a workload's SERVICES (a name and its ports)
    # does not fit beside its UID whole: left out, never split; STATUS, narrower, is kept
    assert noted == ([] if wide else ["(not shown at this width: SERVICES; -o wide shows every column)"]), text
    assert wide or "STATUS" in text, text


@pytest.mark.root
def test_sandbox_status_at_60_columns_keeps_pod_names_whole() -> None:
    try:
        assert _kmeshctl("sandbox", "up", "--name", NAME, "-q").returncode == 0
        shown = subprocess.run(["script", "-qc", f"COLUMNS=60 {shlex.quote(KMESHCTL)} sandbox status --name {NAME}",
                                "/dev/null"], capture_output=True, text=True, timeout=120, env=_env()).stdout
        assert "fortio-v1-0" in shown and "fortio-v2-0" in shown and "fortio-v…" not in shown, shown
        assert "(not shown at this width" in shown, shown
        # 3. with a sandbox up, a missing agent points at it, not at starting another one
        missing = _kmeshctl("dump", "config", "--admin-port", "1")
        # (other runs' sandboxes may be up too: then it gives a line for each, this one's among them)
        one = f"`kmeshctl dump config --sandbox {NAME}`" in missing.stderr
        assert missing.returncode == 1 and one, missing.stderr
        assert "sandbox up" not in missing.stderr, missing.stderr
    finally:
        _kmeshctl("sandbox", "down", "--name", NAME, "--ignore-not-found", "-q")


# ------------------------------------------------------------------ 3. hints name the sandboxes up


def test_dump_config_without_an_agent_points_at_the_sandbox_up(state_root, capsys, no_env) -> None:  # noqa: F811
    _record("h36up")
    code, _, err = cli(capsys, "dump", "config", "--admin-port", "2")  # not the agent's port (1): that one picks the sandbox
    assert code == 1 and "`kmeshctl dump config --sandbox h36up`" in err and "sandbox list -o wide" in err, err
    assert "node run" not in err and "sandbox up" not in err, err


# ------------------------------------------------------------------ 4. unwritable paths in the project's words


@pytest.mark.parametrize("args,shown", [
    (["demo", "traffic-shift", "--target", "local", "--plot", "/proc/x.png"],
     "--plot /proc/x.png: /proc is not writable (a kernel filesystem, proc)"),
    (["bench", "dataplane", "--out", "/proc"], "--out /proc: is not writable (a kernel filesystem, proc)"),
    (["bench", "dataplane", "--out", "/proc/sys/x"], "--out /proc/sys/x: /proc/sys is not writable (a kernel "
                                                     "filesystem, proc)"),
])
def test_unwritable_paths_say_why_in_the_projects_words(args: list[str], shown: str, capsys, no_env) -> None:
    code, _, err = cli(capsys, *args)
    assert code == 2 and err.startswith(f"Error: {shown}; give a path you can write to"), err
    assert "No such file" not in err and "Errno" not in err, err


# ------------------------------------------------------------------ 5. the plot's legend


def test_the_plot_legend_is_above_the_bars(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from kmeshctl import demo_plot

    phases = [{"phase": n, "weights": {"v1": w, "v2": 100 - w}, "p_value": 0.5,
               "configured_share": {"v1": w / 100, "v2": 1 - w / 100},
               "observed_share": {"v1": w / 100, "v2": 1 - w / 100}} for n, w in enumerate((90, 50, 100, 0), 1)]
    report = {"subsets": [{"subset": "v1"}, {"subset": "v2"}], "phases": phases, "sandbox": "s", "target": "local",
              "requests": 100, "passed": True}
    figures = []
    saved_close = plt.close
    plt.close = lambda fig=None: figures.append(fig)  # keep the figure to measure it
    try:
        demo_plot.plot_shares(report, tmp_path / "p.png")
    finally:
        plt.close = saved_close
    fig = figures[0]
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    assert legend.y0 >= ax.get_window_extent(renderer).y1 - 1  # wholly above the plotting area
    assert (tmp_path / "p.png").stat().st_size > 0
    saved_close(fig)


# ------------------------------------------------------------------ 6. titles wrap between words, never mid-word


def test_section_titles_wrap_between_words_at_any_width() -> None:
    from rich.table import Table

    from kmeshctl.dump import print_section

    out = io.StringIO()
    table = Table("ADDRESS", "UPSTREAM")
    table.add_row("10.96.0.10:80", "default/fortio")
    title = "km_frontend: destination IP -> service / backend (2 of 105000 entries)"
    print_section(Console(file=out, width=60, force_terminal=True, color_system=None), title, table,
                  ("ADDRESS", "UPSTREAM"), wide=False)
    lines = out.getvalue().splitlines()[:2]  # wrapped as every text line (pass 34): between words, none split
    assert lines == ["km_frontend: destination IP -> service / backend (2 of", "105000 entries)"], lines
