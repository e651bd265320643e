"""Issue 14: the CLI as kubectl / istioctl / cilium users expect it, one test group per kind
of fault (1 conventions, 2 help, 3 paste-ready fixes, 4 sandbox-aware local tools,
5 kubeconfig errors, 6 hints, 7 progress, 8 the demo's JSON schema, 9 dump tables).
The real console script in a subprocess, the real typer command tree, the stand-in API
server (tests/standin_apiserver.py) where a cluster is needed."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import typer
import yaml
from rich.console import Console

from kmeshctl import demo, dump
from kmeshctl.cli import app
from kmeshctl.cli.cmdline import walk
from kmeshctl.cli.conventions import hoist_global_flags
from kmeshctl.cli.progress import Progress
from kmeshctl.demo_plot import plot_shares
from kmeshctl.node.ids import IdRegistry
from kmeshctl.maps import MANAGE, ManageKey, ManageValue
from kmeshctl.sandbox import state as state_mod
from standin_apiserver import StandinCluster, cluster  # noqa: F401 (fixture)

KMESHCTL = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "kmeshctl")
ROOT = typer.main.get_command(app)


def run(*args: str, home: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "COLUMNS", "KMESHCTL_SANDBOX_NAME")}
    if home is not None:
        clean["HOME"] = str(home)
    return subprocess.run([KMESHCTL, *args], capture_output=True, text=True, timeout=120,
                          env={**clean, **(env or {})})


def command_paths() -> list[list[str]]:
    """Every command and group of the tree, as the words that name it."""
    paths: list[list[str]] = []

    def visit(command, words: list[str]) -> None:
        paths.append(words)
        for name, sub in getattr(command, "commands", {}).items():
            visit(sub, words + [name])

    visit(ROOT, [])
    return paths


# ------------------------------------------------------------------ 1. conventions


@pytest.mark.parametrize("words", command_paths(), ids=lambda w: " ".join(w) or "kmeshctl")
def test_dash_h_and_help_work_on_every_command(words: list[str]) -> None:
    short, long = run(*words, "-h"), run(*words, "--help")
    assert short.returncode == 0 and long.returncode == 0, short.stderr
    assert "Usage: kmeshctl" in short.stdout and short.stdout == long.stdout


def test_version_flag_command_and_json() -> None:
    from kmeshctl import __version__

    assert run("--version").stdout.strip() == __version__
    assert run("version", "--client").stdout.strip() == f"Client: {__version__}"
    assert json.loads(run("version", "--client", "-o", "json").stdout)["client"] == {"version": __version__}


def test_version_asks_each_agent_of_a_cluster(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("version", "-o", "json")
    report = json.loads(result.out)
    assert result.code == 0 and report["cluster"]["server"] == cluster.server.url
    assert report["cluster"]["namespace"] == "kmesh-system" and report["cluster"]["agents"] == []


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_and_completion_itself(shell: str) -> None:
    script = run("completion", shell)
    assert script.returncode == 0 and "_KMESHCTL_COMPLETE" in script.stdout
    # What the bash script runs on <TAB>: the real completion of `kmeshctl du`.
    completed = run(env={"_KMESHCTL_COMPLETE": "complete_bash", "COMP_WORDS": "kmeshctl du", "COMP_CWORD": "1"})
    assert "dump" in completed.stdout.split()


def test_global_flags_are_hoisted_from_after_the_subcommand() -> None:
    assert hoist_global_flags(["status", "-o", "json", "--context", "c", "--kubeconfig=k"]) == \
        ["--context", "c", "--kubeconfig=k", "status", "-o", "json"]
    assert hoist_global_flags(["sandbox", "exec", "p", "--", "x", "--context", "c"]) == \
        ["sandbox", "exec", "p", "--", "x", "--context", "c"]


def test_kubeconfig_after_the_subcommand_reaches_the_cluster(cluster) -> None:  # noqa: F811
    result = run("status", "-o", "json", "--kubeconfig", str(cluster.kubeconfig))
    assert "cannot" not in result.stderr and json.loads(result.stdout)["namespace"] == "kmesh-system"


def test_dash_n_means_namespace_everywhere_and_every_listed_format_exists() -> None:
    for command in walk(ROOT):
        for param in command.params:
            if "-n" in param.opts:
                assert param.name == "namespace", command.name
            if "-o" in param.opts:
                listed = set(str(param.metavar).split("|"))
                choices = {str(c.value) for c in param.type_descriptor.choices}  # what parsing accepts
                assert listed == choices, (command.name, listed, choices)


@pytest.mark.parametrize("fmt", ["table", "wide", "json", "yaml"])
def test_every_output_format_works(fmt: str) -> None:
    for args in (["sandbox", "list"], ["version", "--client"]):
        result = run(*args, "-o", fmt)
        assert result.returncode == 0, result.stderr
        if fmt == "json":
            json.loads(result.stdout)
        elif fmt == "yaml":
            yaml.safe_load(result.stdout)


# ------------------------------------------------------------------ 2. help text


@pytest.mark.parametrize("words", command_paths(), ids=lambda w: " ".join(w) or "kmeshctl")
def test_help_has_no_python_types_and_is_not_padded_when_piped(words: list[str]) -> None:
    text = run(*words, "--help").stdout
    assert not re.search(r"<(bool|str|int|float|path|list\[)", text), text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert all(line == line.rstrip() for line in text.splitlines())


@pytest.mark.parametrize("words", [["install"], ["status"], ["precheck"], ["demo", "traffic-shift"],
                                   ["dump", "maps"], ["sandbox", "up"], ["node", "cleanup"], ["version"]])
def test_main_commands_show_examples(words: list[str]) -> None:
    text = run(*words, "--help").stdout
    assert "Examples:" in text and f"kmeshctl {' '.join(words)}" in text


@pytest.mark.parametrize("group", [[], ["dump"], ["sandbox"], ["demo"], ["node"], ["bench"]])
def test_a_group_without_subcommand_prints_help_and_no_empty_error(group: list[str]) -> None:
    result = run(*group)
    assert result.returncode == 0 and "Usage: kmeshctl" in result.stdout
    assert "Error" not in result.stderr


# ------------------------------------------------------------------ 3. paste-ready fixes


def test_an_unknown_sandbox_lists_the_existing_ones_and_suggests_its_own_name() -> None:
    result = run("sandbox", "status", "--name", "zz9none")
    assert result.returncode == 1  # NotFound, as kubectl (issue 14, fifth pass)
    assert "sandboxes:" in result.stderr or "no sandbox exists" in result.stderr
    assert "`kmeshctl sandbox up --name zz9none && kmeshctl sandbox status --name zz9none`" in result.stderr


def test_a_suggested_command_keeps_the_kubeconfig_flags(cluster) -> None:  # noqa: F811
    result = run("--kubeconfig", str(cluster.kubeconfig), "status", "-n", "elsewhere")
    assert result.returncode == 1
    assert f"kmeshctl --kubeconfig {cluster.kubeconfig} install --namespace elsewhere" in result.stdout


def test_sandbox_list_exists() -> None:
    result = run("sandbox", "list", "-o", "json")
    assert result.returncode == 0 and isinstance(json.loads(result.stdout), list)


# ------------------------------------------------------------------ 4. local tools and sandboxes


def test_dump_takes_a_sandbox_and_refuses_an_unknown_one() -> None:
    for args in (["dump", "maps", "--sandbox", "zz9none"], ["dump", "config", "--sandbox", "zz9none"]):
        result = run(*args)
        assert result.returncode == 1 and "sandbox zz9none not found" in result.stderr  # NotFound


def test_the_demos_first_line_names_the_sandbox(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(state_mod, "STATE_ROOT", tmp_path / "run")  # not the machine's sandboxes
    documents, subject = demo.fortio_demo()
    target, note = demo.choose_target("local", documents, subject, "abc")
    assert note == "Target: local sandbox abc" and target.sandbox_name == "abc"
    target, note = demo.choose_target("auto", documents, subject, "abc")  # a name means local
    assert note == "Target: local sandbox abc"


# ------------------------------------------------------------------ 5. kubeconfig errors


def test_a_missing_kubeconfig_names_its_path_exit_2(tmp_path: Path) -> None:
    result = run("--kubeconfig", str(tmp_path / "nope"), "status")
    assert result.returncode == 2 and f"--kubeconfig {tmp_path / 'nope'}: does not exist" in result.stderr


def test_an_unknown_context_lists_the_contexts_exit_2(cluster) -> None:  # noqa: F811
    result = run("--kubeconfig", str(cluster.kubeconfig), "--context", "nope", "status")
    assert result.returncode == 2
    assert "--context nope: no such context" in result.stderr and "contexts: standin" in result.stderr


def test_demo_auto_with_a_broken_named_kubeconfig_is_an_error(tmp_path: Path) -> None:
    result = run("--kubeconfig", str(tmp_path / "nope"), "demo", "traffic-shift", home=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith(f"Error: --kubeconfig {tmp_path / 'nope'}: "
                                                              "does not exist; ")
    assert str(tmp_path / "nope") in result.stderr
    assert "Target: local" not in result.stderr


# ------------------------------------------------------------------ 6. hints


def test_ports_are_range_checked_before_any_connection() -> None:
    for args in (["dump", "config", "--admin-port", "70000"], ["node", "run", "--metrics-port", "0"]):
        result = run(*args)
        assert result.returncode == 2 and "65535" in result.stderr or "1" in result.stderr


def test_node_cleanup_of_a_missing_path_is_an_error(tmp_path: Path) -> None:
    result = run("node", "cleanup", "--bpf-fs", str(tmp_path / "gone"))
    assert result.returncode == 2 and "does not exist" in result.stderr and "--ignore-not-found" in result.stderr


@pytest.mark.parametrize("args", [["status", "--kubeconfig", "/nonexistent"], ["dump", "maps", "--map", "x"],
                                  ["render"], ["sandbox", "up", "--name", "Bad!"],
                                  ["demo", "traffic-shift", "--weights", "1/2/3", "--target", "local"]])
def test_errors_are_one_line_without_internal_class_names(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not re.search(r"KmeshctlError|UsageError|Traceback|Exception", result.stderr)
    flag = next((a for a in args if a.startswith("--") and a != "--kubeconfig"), None)
    if flag:
        assert flag in result.stderr


# ------------------------------------------------------------------ 7. progress


def test_a_silent_step_gets_a_heartbeat_and_quiet_prints_nothing() -> None:
    lines: list[str] = []
    with Progress(heartbeat_s=1.0, echo=lines.append) as progress:
        progress("compiling")
        import time
        time.sleep(2.5)
    assert lines[0] == "  compiling" and any("still working" in line and "compiling" in line for line in lines)
    quiet: list[str] = []
    with Progress(quiet=True, echo=quiet.append) as progress:
        progress("x")
    assert quiet == []


def test_request_lines_are_summarised_past_20_unless_verbose(capsys) -> None:
    from kmeshctl.cli.demo import RequestPrinter

    _, subject = demo.fortio_demo()
    for verbose, expected in ((False, 20 + 1 + 3), (True, 250)):
        printer = RequestPrinter(250, subject, verbose=verbose, quiet=False, to_stdout=False)
        for i in range(1, 251):
            printer.request(1, demo.RequestResult(i, 0, 200, "1"), subject.versions[0])
        err = capsys.readouterr().err.splitlines()
        assert len(err) == expected, err[:25]


# ------------------------------------------------------------------ 8. the demo's JSON


def test_the_demo_json_schema_and_the_plot(tmp_path: Path) -> None:
    _, subject = demo.fortio_demo()
    traffic = demo.TrafficCount()
    for i, server in enumerate(["1"] * 9 + ["2"], start=1):
        traffic.add(demo.RequestResult(i, 0, 200, server))
    traffic.add(demo.RequestResult(11, 7, 0, "-"))
    phase = demo._phase_report(subject, [90, 10], traffic, None)
    data = demo.DemoReport("local", 11, [phase], subject, "abc").to_json()
    assert data["schema"] == demo.SCHEMA and data["sandbox"] == "abc" and data["cluster"] is None
    assert data["totals"] == {"requests": 11, "failures": 1, "phases": 1, "during_changes": 0}
    [p] = data["phases"]
    assert p["weights"] == {"v1": 90, "v2": 10} and p["counts"] == {"v1": 9, "v2": 1}
    assert p["configured_share"] == {"v1": 0.9, "v2": 0.1} and p["observed_share"] == {"v1": 0.9, "v2": 0.1}
    assert p["test"] == "binomial" and p["consistent"] is True
    assert p["failed_requests"] == [{"index": 11, "reason": "curl exit 7 (connection refused)",
                                     "curl_exit": 7, "http_status": 0}]
    assert data["passed"] is False  # a request failed
    png = tmp_path / "split.png"
    plot_shares(data, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_plot_needs_a_png_name_before_any_traffic(tmp_path: Path) -> None:
    result = run("demo", "traffic-shift", "--target", "local", "--plot", str(tmp_path / "x.jpg"))
    assert result.returncode == 2 and "--plot" in result.stderr and ".png" in result.stderr


# ------------------------------------------------------------------ 9. dump tables


class _NoIds:
    def name_of(self, _id: int) -> None:
        return None

    def kind_of(self, _id: int) -> None:
        return None


def test_manage_rows_name_the_pod_and_ids_are_never_cut() -> None:
    cookie = 18446744073709551000
    dumps = [dump.MapDump(MANAGE, [(ManageKey(cookie), ManageValue(True))])]
    out = io.StringIO()
    dump.render_tables(dumps, _NoIds(), Console(file=out, width=30), pods={cookie: "default/netutils-0"})  # type: ignore[arg-type]
    text = out.getvalue()
    # ids and names are never cut (issue 14): other columns go first; the line may be wider
    lines = text.splitlines()
    drawn = lines[1:lines.index(next(line for line in lines if line.startswith("(not shown")))]
    assert drawn and any(str(cookie) in line and "default/netutils-0" in line for line in drawn), text
    assert "MANAGED" not in drawn[0], text
    wide = io.StringIO()
    dump.render_tables(dumps, _NoIds(), Console(file=wide, width=30), pods={}, wide=True)  # type: ignore[arg-type]
    assert str(cookie) in wide.getvalue()
    assert dump.pods_by_cookie({"enrolled": [{"cookie": 5, "netns": "/n", "pod": "ns/p"}]}) == {5: "ns/p"}


def test_idregistry_type_is_what_render_tables_reads() -> None:
    assert hasattr(IdRegistry, "name_of") and hasattr(IdRegistry, "kind_of")


# --- found by a new-user pass after the above -------------------------------------------


def test_an_offline_dry_run_says_why_in_words_and_a_broken_explicit_kubeconfig_is_an_error(tmp_path: Path) -> None:
    offline = run("install", "--cluster-id", "c1", "--xds-address", "istiod.istio-system.svc:15012", "--dry-run",
                  home=tmp_path)
    assert offline.returncode == 0, offline.stderr
    assert "No reachable cluster (no cluster configured:" in offline.stderr
    assert "Error)" not in offline.stderr  # no class name (KmeshctlError, UsageError, ApiUnreachable)
    broken = run("install", "--cluster-id", "c1", "--xds-address", "istiod.istio-system.svc:15012", "--dry-run",
                 "--kubeconfig", str(tmp_path / "nope"), home=tmp_path)
    assert broken.returncode == 2 and f"--kubeconfig {tmp_path / 'nope'}: does not exist" in broken.stderr
    assert not broken.stdout  # nothing rendered as if it had worked


def test_waypoint_apply_checks_its_flags_before_connecting_and_lists_only_formats_it_prints(tmp_path: Path) -> None:
    table = run("waypoint", "apply", "--dry-run", "-o", "table", home=tmp_path)
    assert table.returncode == 2 and "-o table: not an accepted value; use one of yaml, json" in table.stderr
    replicas = run("waypoint", "apply", "--replicas", "1000", "--kubeconfig", str(tmp_path / "nope"), home=tmp_path)
    assert replicas.returncode == 2 and "--replicas 1000: out of range; use an integer from 0 to 20" in replicas.stderr
    timeout = run("waypoint", "apply", "--dry-run", "--timeout", "-5", home=tmp_path)
    assert timeout.returncode == 2 and "--timeout" in timeout.stderr


def test_precheck_and_dump_take_a_bad_path_or_kubeconfig_as_bad_input(tmp_path: Path) -> None:
    precheck = run("precheck", "--kubeconfig", str(tmp_path / "nope"), "-o", "json", home=tmp_path)
    assert precheck.returncode == 2 and "--kubeconfig" in precheck.stderr and "does not exist" in precheck.stderr \
        and not precheck.stdout
    dump = run("dump", "maps", "--bpf-fs", str(tmp_path / "nonexist"), home=tmp_path)
    assert dump.returncode == 2 and f"--bpf-fs {tmp_path / 'nonexist'}: does not exist" in dump.stderr
    assert "node run" not in dump.stderr  # no suggestion to start an agent on a mistyped path
