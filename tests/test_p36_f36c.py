"""Pass 36 (t36a findings, fixer f36c): node cleanup's --cgroup2-path that misses the data
path's attach point, the demo's stop while it removes its own sandbox, sandbox exec's hint
for a command typed without `--`, "exists" errors' --force line, bench -o wide, the demo's
-n hint with the count the route needs, node run with no xDS source."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bpf_testlib import dataplane_paths
from kmeshctl.cli import app
from kmeshctl.node import loader
from test_bpf_node_cli import _attached

runner = CliRunner()


def _pasted(output: str, index: int) -> list[str]:
    """The ``index``-th backticked command of an error line, as argv after `kmeshctl`."""
    words = shlex.split(output.split("`")[2 * index + 1])
    assert words[0] == "kmeshctl", output
    return words[1:]


@pytest.mark.root
def test_cleanup_refuses_a_cgroup2_path_that_misses_the_attach_point(run_id: str) -> None:
    bpf_fs, cgroup = dataplane_paths(run_id, "p36")
    other = cgroup.with_name(cgroup.name + "-other")
    cgroup.mkdir()
    other.mkdir()
    try:
        loader.load(bpf_fs, cgroup).close()
        assert len(_attached(cgroup)) == 3
        result = runner.invoke(app, ["node", "cleanup", "--bpf-fs", str(bpf_fs), "--cgroup2-path", str(other)])
        assert result.exit_code == 2, result.output
        assert f"is attached at {cgroup}, not below it" in result.output
        assert "Traceback" not in result.output
        # nothing changed: still pinned and attached where it was
        assert loader.is_loaded(bpf_fs) and len(_attached(cgroup)) == 3
        assert _pasted(result.output, 0) == ["node", "cleanup", "--bpf-fs", str(bpf_fs)]
        second = _pasted(result.output, 1)
        assert second == ["node", "cleanup", "--bpf-fs", str(bpf_fs), "--cgroup2-path", str(cgroup)]
        pasted = runner.invoke(app, second)
        assert pasted.exit_code == 0, pasted.output
        assert f"detached km_connect4 from {cgroup}" in pasted.output
        assert _attached(cgroup) == [] and not bpf_fs.exists()
    finally:
        loader.cleanup(bpf_fs)
        cgroup.rmdir()
        other.rmdir()


@pytest.mark.root
def test_cleanup_takes_a_cgroup2_path_above_the_attach_point(run_id: str) -> None:
    bpf_fs, parent = dataplane_paths(run_id, "p36up")
    cgroup = parent / "child"
    cgroup.mkdir(parents=True)
    try:
        loader.load(bpf_fs, cgroup).close()
        result = runner.invoke(app, ["node", "cleanup", "--bpf-fs", str(bpf_fs), "--cgroup2-path", str(parent)])
        assert result.exit_code == 0, result.output
        assert _attached(cgroup) == [] and not bpf_fs.exists()
    finally:
        loader.cleanup(bpf_fs)
        cgroup.rmdir()
        parent.rmdir()


# ---------------------------------------------------------------- node run with no xDS source

KMESHCTL = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "kmeshctl")


def _node_run(*args: str) -> "subprocess.CompletedProcess[str]":
    import subprocess

    clean = {k: v for k, v in os.environ.items() if k not in ("XDS_ADDRESS", "NODE_NAME", "KUBECONFIG")}
    return subprocess.run([KMESHCTL, "node", "run", *args], capture_output=True, text=True, timeout=60, env=clean)


def test_node_run_refuses_xds_insecure_without_an_xds_address() -> None:
    bpf = Path("/sys/fs/bpf") / f"f36c-{os.urandom(4).hex()}"
    result = _node_run("--enrollment", "local", "--xds-insecure", "--bpf-fs", str(bpf))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("Error: --xds-insecure with no --xds-address (default "
                                    "istiod.istio-system.svc:15012): plaintext to istiod's TLS port"), result.stderr
    assert result.stderr.count("\n") == 1 and not result.stdout
    assert _pasted(result.stderr, 0) == ["node", "run", "--bpf-fs", str(bpf), "--enrollment", "local"]
    assert not bpf.exists()  # refused before anything is claimed or loaded


def test_node_run_names_other_mistakes_first() -> None:
    result = _node_run("--enrollment", "local", "--xds-insecure", "--instance-ip", "notanip")
    assert result.returncode == 2 and result.stderr.startswith("Error: --instance-ip notanip: "), result.stderr


# ---------------------------------------------------------------- the demo's own sandbox, stopped


def _signal_self(signum: int) -> None:
    import time

    os.kill(os.getpid(), signum)
    time.sleep(0.05)


def _own_sandbox_target(monkeypatch, removing: "callable") -> object:
    from kmeshctl.sandbox import demo_target

    monkeypatch.setattr(demo_target.lock_mod, "release", lambda *a, **k: None)
    monkeypatch.setattr(demo_target.lock_mod, "removed_by", lambda *a, **k: None)
    monkeypatch.setattr(demo_target.sb, "down", removing)
    monkeypatch.setattr(demo_target.sb, "leftovers", lambda name: ["/run/kmeshctl/sandbox-" + name])
    target = demo_target.LocalTarget("f36c-auto", ("default", "fortio"), [50, 50])
    target._started_here = True
    monkeypatch.setattr(target, "_process_problems", lambda: [])
    return target


def test_a_signal_while_the_demo_removes_its_own_sandbox_names_that_step(monkeypatch, capsys) -> None:
    import signal

    from kmeshctl import stopping

    done: list[str] = []

    def removing(name: str) -> bool:
        _signal_self(signal.SIGTERM)  # the first: waits for the removal
        _signal_self(signal.SIGTERM)  # the second: cuts it short
        done.append("removed")
        return True

    target = _own_sandbox_target(monkeypatch, removing)
    with stopping.sigterm_stops():
        with pytest.raises(KeyboardInterrupt):
            with stopping.finishing("finishing the demo (putting the weights back)"):  # as cli.demo._run
                target.finish(lambda line: None)
        text = stopping.stop_text(stopping.received())
    err = capsys.readouterr().err
    assert done == []
    assert "SIGTERM: still removing sandbox f36c-auto;" in err, err
    assert "putting the weights back" not in err + text
    assert text.endswith("sandbox f36c-auto (the demo's own) is half-removed; remove it with "
                         "`kmeshctl sandbox down --name f36c-auto`"), text


def test_the_stopped_demos_document_says_what_its_line_says(monkeypatch, capsys) -> None:
    import signal

    import typer

    from kmeshctl import stopping
    from kmeshctl.cli import demo as cli_demo
    from kmeshctl.cli.common import OutputFormat

    class Report:
        stopped = ""
        sent = 12

        def to_json(self) -> dict:
            return {"error": self.stopped}

    printed: list[dict] = []
    monkeypatch.setattr(cli_demo, "print_data", lambda data, output: printed.append(data))
    monkeypatch.setattr(cli_demo.demo, "sent_text", lambda report: "12 of 12 requests sent")
    with stopping.sigterm_stops():
        stopping.leaves("sandbox f36c-auto (the demo's own) is half-removed; remove it with "
                        "`kmeshctl sandbox down --name f36c-auto`")
        with pytest.raises(typer.Exit) as exited:
            cli_demo._report_stop(stopping.Stopped(signal.SIGTERM), Report(), OutputFormat.json)  # type: ignore[arg-type]
    line = capsys.readouterr().err.strip()
    assert exited.value.exit_code == 143
    assert printed and line == f"Error: {printed[0]['error']}", (line, printed)
    assert "`kmeshctl sandbox down --name f36c-auto`" in line


# ---------------------------------------------------------------- sandbox exec without `--`

from test_cli_kinds import cli, no_env  # noqa: E402,F401

COMMAND_WORDS = {
    # a flag of sandbox exec's after the command's first word: it would be taken from the command
    "sandbox exec --name s1 netutils printf -n x": "kmeshctl sandbox exec --name s1 netutils -- printf -n x",
    "sandbox exec netutils grep -i root /etc/passwd": "kmeshctl sandbox exec netutils -- grep -i root /etc/passwd",
    "-q sandbox exec netutils ls -t --namespace=default /":
        "kmeshctl -q sandbox exec netutils -- ls -t --namespace=default /",
    # the command's own flag: the `--` line alone, not the -c (container) habit's line without it
    "sandbox exec netutils ping -c 2 -W 1 10.244.0.3": "kmeshctl sandbox exec netutils -- ping -c 2 -W 1 10.244.0.3",
    "sandbox exec netutils head -c 5 /etc/hostname": "kmeshctl sandbox exec netutils -- head -c 5 /etc/hostname",
}


@pytest.mark.parametrize("typed", list(COMMAND_WORDS))
def test_a_command_typed_without_dashes_gets_only_the_dashes_line(typed: str, capsys, no_env) -> None:
    code, out, err = cli(capsys, *shlex.split(typed))
    assert code == 2 and not out and err.count("\n") == 1, (code, out, err)
    assert COMMAND_WORDS[typed] in err, err
    assert err.count("kmeshctl sandbox exec") + err.count("kmeshctl -q sandbox exec") == 2, err  # the line + --help
    assert "leave out" not in err and "container" not in err, err


def test_a_flag_before_the_command_stays_exec_s_own(capsys, no_env) -> None:
    code, _, err = cli(capsys, "sandbox", "exec", "-c", "x", "netutils", "--", "ls")
    assert code == 2 and "cannot choose a container" in err, err  # kubectl's -c habit: still its hint


# ---------------------------------------------------------------- "exists": the line with --force


def test_an_existing_plot_gets_the_whole_line_with_force(tmp_path: Path, capsys, no_env) -> None:
    plot = tmp_path / "p.png"
    plot.write_bytes(b"earlier")
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "f36c-s", "-c", "12", "-o", "json",
                         "--plot", str(plot), "-q")
    assert code == 2 and not out, err
    assert _pasted(err, 0) == ["demo", "traffic-shift", "-c", "12", "--sandbox", "f36c-s", "-o", "json",
                               "--plot", str(plot), "-q", "--force"], err
    assert plot.read_bytes() == b"earlier"


# ---------------------------------------------------------------- bench dataplane -o wide


def test_bench_dataplane_takes_o_wide_as_every_data_command(tmp_path: Path, capsys, monkeypatch, no_env) -> None:
    from kmeshctl.bench import dataplane as dataplane_mod
    from kmeshctl.errors import KmeshctlError

    reached: list[object] = []

    def run_dataplane(config: object, *_args: object, **_kwargs: object) -> None:
        reached.append(config)
        raise KmeshctlError("f36c: the run started")

    monkeypatch.setattr(dataplane_mod, "run_dataplane", run_dataplane)
    code, _, err = cli(capsys, "bench", "dataplane", "-o", "wide", "--out", str(tmp_path / "r"), "--repeats", "1")
    assert code == 1 and reached and "f36c: the run started" in err, err


# ---------------------------------------------------------------- the demo's -n line: the -c its route needs

from test_cli_kinds import state_root  # noqa: E402,F401
from test_demo_local_namespace import _sandbox  # noqa: E402


@pytest.mark.parametrize("typed, line", [
    (["-q", "-n", "default"], "kmeshctl demo traffic-shift --sandbox f36c-n -q -n team-a -c 24"),
    (["-q", "-n", "default", "--requests=10"], "kmeshctl demo traffic-shift --sandbox f36c-n -q -n team-a -c 24"),
    (["-c", "30", "-n", "default"], "kmeshctl demo traffic-shift --sandbox f36c-n -c 30 -n team-a"),
    (["--weights", "50/50", "-n", "default"], "kmeshctl demo traffic-shift --sandbox f36c-n --weights 50/50 -n team-a"),
])
def test_the_namespace_line_sends_enough_requests_for_that_route(typed: list[str], line: str, state_root, capsys,
                                                                 no_env) -> None:
    _sandbox("f36c-n", "team-a")  # 80/20: 24 requests to judge, the default -c is 20
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "f36c-n", *typed)
    assert code == 2 and not out and err.count("\n") == 1, err
    assert f"e.g. `{line}`" in err, err
