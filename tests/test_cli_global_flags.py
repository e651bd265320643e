"""Issue 14, fifth new-user pass: conventions, one test per kind of fault, over every
command it reaches (kmeshctl.cli.main in-process, the console script for real pipes).

4a `-o` / `-A` before the command as `-n` is; 4b `-o table|wide|json|yaml` wherever data
is printed; 4c `sandbox exec -it` and `-c` as kubectl users type them; 4d `--quiet` on
every long command; 6 a closed stdout pipe: one exit code everywhere; 7 the demo's
p-value rounded in JSON and text."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from kmeshctl import demo
from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_cli_kinds import KMESHCTL, ROOT, cli, commands, no_env, state_root  # noqa: F401
from test_cli_newuser import _record

PODS = (("waypoint", True), ("netutils-0", False))


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "COLUMNS", "KMESHCTL_SANDBOX_NAME")}


# ------------------------------------------------------------------ 4a. -o and -A before the command


def _takes(command, flag: str) -> bool:
    return any(flag in p.opts for p in command.params)


@pytest.mark.parametrize("flag,value", [("-o", "json"), ("--output", "yaml"), ("-A", None),
                                        ("--all-namespaces", None)])
def test_output_and_all_namespaces_before_the_command_mean_the_same_as_after(flag: str, value, capsys,
                                                                           no_env) -> None:
    given = [flag] + ([value] if value else [])
    for words, command in commands():
        if not words or hasattr(command, "commands") or command.hidden:
            continue
        code, out, err = cli(capsys, *given, *words, "--help")
        if _takes(command, flag):
            assert code == 0 and out.startswith(f"Usage: kmeshctl {' '.join(words)}"), (words, err)
        else:
            refused = f"Error: {flag}: kmeshctl {' '.join(words)} has no all-namespaces form" \
                if flag in ("-A", "--all-namespaces") else f"Error: kmeshctl {' '.join(words)} takes no "
            assert code == 2 and err.strip().startswith(refused), (words, err)
            assert len(err.strip().splitlines()) == 1 and "No such option" not in err, err


def test_output_before_the_command_is_the_commands_output(state_root, capsys, no_env) -> None:
    _record("alpha")
    code, out, _ = cli(capsys, "-o", "json", "sandbox", "list")
    assert code == 0 and [row["name"] for row in json.loads(out)] == ["alpha"]
    code, out, _ = cli(capsys, "-o=yaml", "version", "--client")
    assert code == 0 and out.startswith("client:"), out
    code, _, err = cli(capsys, "-o", "json", "sandbox")
    assert code == 2 and "kmeshctl -o json sandbox: missing a command; e.g. `kmeshctl sandbox list -o json`" \
        in err, err


# ------------------------------------------------------------------ 4b. every -o lists table|wide|json|yaml


def test_every_command_that_prints_data_takes_the_four_formats() -> None:
    for words, command in commands():
        for param in command.params:
            if "-o" not in param.opts or command.hidden:
                continue
            if words[-1] in ("render", "install", "uninstall", "dataplane") or (words[0] == "waypoint" and words[-1] in ("apply", "delete")):
                # manifests, (un)install and waypoint apply/delete reports (-o yaml|json) and the
                continue  # benchmark's markdown/JSON summary: no rows
            # the four, and kubectl's -o name where one name per row is what scripts read (pass 29)
            assert param.metavar.startswith("table|wide|json|yaml") and \
                param.metavar.split("|")[4:] in ([], ["name"]), (words, param.metavar)


def test_waypoint_status_takes_table_and_wide(capsys, no_env) -> None:
    for output in ("table", "wide", "json", "yaml"):
        code, _, err = cli(capsys, "waypoint", "status", "-o", output, "--kubeconfig", "/nonexistent-kc")
        # the format is accepted: what stops it is the missing kubeconfig, not -o
        assert code == 2 and "kubeconfig" in err and "-o" not in err, err


# ------------------------------------------------------------------ 4c. exec -it, -c


@pytest.mark.parametrize("flags", [["-it"], ["-i", "-t"], ["--stdin", "--tty"], ["-ti"]])
def test_exec_accepts_i_and_t_as_kubectl_exec_does(flags: list[str], state_root, capsys, no_env) -> None:
    _record("alpha", PODS)
    code, _, err = cli(capsys, "sandbox", "exec", *flags, "nopod", "--name", "alpha", "--", "sh")
    # parsed: it gets as far as looking for the pod (NotFound, exit 1), never "No such option"
    assert code == 1 and "no pod nopod in sandbox alpha" in err and "No such option" not in err, err


@pytest.mark.parametrize("flag", ["-c", "--container"])
def test_exec_with_a_container_gets_a_one_line_hint(flag: str, state_root, capsys, no_env) -> None:
    code, _, err = cli(capsys, "sandbox", "exec", flag, "app", "netutils", "--", "sh")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "sandbox exec cannot choose a container" in err and f"leave out {flag}" in err, err


# ------------------------------------------------------------------ 4d. --quiet on every long command


# Commands that can run for minutes, with what makes them long.
LONG = [("sandbox", "up"), ("sandbox", "down"), ("demo", "traffic-shift"), ("bench", "dataplane"),
        ("waypoint", "apply"), ("install",), ("enable-ns",), ("disable-ns",)]


def test_every_long_command_has_quiet() -> None:
    for path in LONG:
        command = ROOT
        for word in path:
            command = command.commands[word]
        assert _takes(command, "--quiet") and _takes(command, "-q"), path


def test_enable_ns_wait_quiet_prints_no_progress(cluster) -> None:  # noqa: F811
    from standin_apiserver import app_pod, namespace

    from test_cli_enable_ns_wait import kmesh_agent_installed

    kmesh_agent_installed(cluster.server)
    cluster.server.put(namespace("demo"))
    cluster.server.put(app_pod("fortio-v1", "demo"))  # never marked: the wait runs to its timeout
    loud = cluster.kmeshctl("enable-ns", "demo", "--wait", "--timeout", "1")
    quiet = cluster.kmeshctl("enable-ns", "demo", "--wait", "--timeout", "1", "-q")
    assert loud.code == quiet.code == 1 and "waiting for 1 pod " in loud.err, loud
    assert "waiting for" not in quiet.err and "demo/fortio-v1" in quiet.err, quiet.err  # the result stays


def test_bench_quiet_is_checked_like_every_flag(capsys, no_env) -> None:
    code, _, err = cli(capsys, "bench", "dataplane", "-q", "--paths", "direct,foo")
    assert code == 2 and "--paths direct,foo" in err and "No such option" not in err, err


# ------------------------------------------------------------------ 6. a closed stdout pipe


CLOSED_PIPE_LINES = [
    [], ["sandbox"], ["dump"], ["--help"], ["-h", "sandbox"], ["help", "status"], ["version", "--client"],
    ["version", "--client", "-o", "json"], ["sandbox", "list", "-o", "yaml"], ["completion", "bash"],
    ["--version"], ["render", "--xds-address", "istiod.istio-system.svc:15012", "--cluster-id", "c1", "-o", "json"],
]


@pytest.mark.parametrize("words", CLOSED_PIPE_LINES, ids=lambda w: " ".join(w) or "kmeshctl")
def test_a_closed_stdout_pipe_is_exit_1_and_quiet_on_every_command(words: list[str]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first write: EPIPE, every time
    try:
        result = subprocess.run([KMESHCTL, *words], stdout=write_end, stderr=subprocess.PIPE, text=True,
                                timeout=120, env=_clean_env())
    finally:
        os.close(write_end)
    lines = [line for line in result.stderr.splitlines() if not line.startswith("Warning:")]
    assert result.returncode == 1 and lines == [], result.stderr


def test_the_closed_pipe_rule_is_in_the_docs() -> None:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "usage.md").read_text()
    assert "(`| head -0`) is exit 1 too on every command" in docs


# ------------------------------------------------------------------ 7. the p-value, rounded


def test_the_p_value_is_rounded_to_4_significant_digits_in_json_and_text(capsys) -> None:
    from kmeshctl.cli.common import OutputFormat
    from kmeshctl.cli.demo import _print_summary

    _, subject = demo.fortio_demo()
    traffic = demo.TrafficCount()
    for i in range(200):
        traffic.add(demo.RequestResult(i + 1, 0, 200, "1" if i < 185 else "2"))
    phase = demo._phase_report(subject, [90, 10], traffic, None)
    raw = phase.p_value
    assert raw is not None and raw != float(f"{raw:.4g}")  # there is something to round
    data = demo.DemoReport("local", 200, [phase], subject, "k").to_json()
    shown = data["phases"][0]["p_value"]
    assert shown == float(f"{raw:.4g}") and len(repr(shown).lstrip("0.").replace(".", "")) <= 4, shown
    capsys.readouterr()
    _print_summary(demo.DemoReport("local", 200, [phase], subject, "k"), subject, OutputFormat.table)
    assert f"p = {shown:.4g}," in capsys.readouterr().out
    assert demo.shown_p_value(1.234567e-9) == 1.235e-9 and demo.shown_p_value(None) is None
    assert demo.shown_p_value(1.0) == 1.0


def test_the_docs_say_how_the_p_value_is_rounded() -> None:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "usage.md").read_text()
    assert "`p_value` (4 significant digits" in docs
