"""Issue 14, third new-user pass: one test per kind of fault, each across every command it
can reach (the real typer command tree through kmeshctl.cli.main in-process, or the
console script; sandbox records in a temporary state root instead of /run/kmeshctl, as in
test_cli_kinds; a dead API address where a cluster must not answer).

1 output paths checked first; 2 completion of option values; 3 `sandbox list` health
and pod count; 4 help examples use flags that exist; 5 a typed --kubeconfig/--context
means the cluster; 6 empty values; 7 examples on every help, docs/sandbox.md's JSON;
8 no sudo, kmeshctl on PATH; 9 refusals before "Creating"; 10 the only sandbox picked;
11 option help and value words; 12 message wording; 13 piped output."""

from __future__ import annotations

import json
import re
import shlex
import time
from pathlib import Path
from typing import Any

import pytest

from kmeshctl import demo, sandboxes
from kmeshctl.cli.badinput import takes_value
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import (REQUIRED_ARGS, ROOT, _dead_kubeconfig, cli, commands, example_lines,  # noqa: F401
                            leaf_commands, no_env, run, state_root)

REPO = Path(__file__).resolve().parent.parent
BOX = re.compile("[\u2500-\u257f]")


def _record(name: str, pods: tuple[tuple[str, bool], ...] = (), **fields: Any) -> state_mod.SandboxState:
    records = [state_mod.PodRecord(pod, "default", pod.split("-")[0], {}, f"10.244.0.{i + 2}", f"ns-{pod}",
                                   "/nonexistent-cgroup", waypoint=waypoint)
               for i, (pod, waypoint) in enumerate(pods)]
    state = state_mod.SandboxState(name=name, phase=state_mod.PHASE_READY, agent={"admin": "127.0.0.1:1"},
                                   created_at=time.time() - 300, pods=records, **fields)
    state.save()
    return state


# ------------------------------------------------------------------ 1. output paths first


@pytest.mark.parametrize("args", [
    ["demo", "traffic-shift", "--target", "local", "--plot", "/proc/qa-plot.png"],
    ["demo", "traffic-shift", "--target", "local", "--plot", "{dir}.png"],
    ["demo", "traffic-shift", "--target", "local", "--plot", "{tmp}/missing/x.png"],
    ["bench", "dataplane", "--out", "/proc/qa-bench"],
    ["bench", "dataplane", "--out", "{file}"],
    ["node", "run", "--admin-socket", "{dir}.png"],
    ["node", "run", "--admin-socket", "/proc/qa/admin.sock"]])
def test_every_output_path_is_checked_before_any_work(args: list[str], tmp_path: Path, capsys, no_env) -> None:
    (tmp_path / "d.png").mkdir()
    (tmp_path / "f").write_text("")
    args = [a.format(dir=tmp_path / "d", tmp=tmp_path, file=tmp_path / "f") for a in args]
    code, out, err = cli(capsys, *args)
    assert code == 2 and len(err.strip().splitlines()) == 1 and not out, err
    assert err.startswith(f"Error: {args[-2]} {args[-1]}: "), err
    assert "Traceback" not in err and "Target:" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.png", "f"]  # nothing made


# ------------------------------------------------------------------ 2. completion of values


def _complete(capsys: Any, monkeypatch: Any, line: str) -> tuple[int, list[str], str]:
    """What bash's completion function asks (the script of `completion bash`): the words
    so far, the index of the word being completed."""
    words = line.split(" ")
    monkeypatch.setenv("_KMESHCTL_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", line)
    monkeypatch.setenv("COMP_CWORD", str(len(words) - 1))
    code, out, err = cli(capsys)
    return code, out.split(), err


def test_the_bash_script_asks_with_the_instruction_the_tests_use() -> None:
    assert "_KMESHCTL_COMPLETE=complete_bash" in run("completion", "bash").stdout


@pytest.mark.parametrize("line,expected", [
    ("kmeshctl status -o ", ["table", "wide", "json", "yaml"]), ("kmeshctl status -o j", ["json"]),
    ("kmeshctl dump maps --map km_b", ["km_backend"]), ("kmeshctl demo traffic-shift --target c", ["cluster"]),
    ("kmeshctl node run --mode ", ["dual-engine"]), ("kmeshctl completion z", ["zsh"]),
    ("kmeshctl sandbox status --name ", ["alpha", "beta"]), ("kmeshctl sandbox exec --name b", ["beta"]),
    ("kmeshctl dump config --sandbox ", ["alpha", "beta"]), ("kmeshctl demo traffic-shift --name a", ["alpha"]),
    ("kmeshctl sandbox down --name ", ["alpha", "beta"])])
def test_option_values_complete_without_an_error(line: str, expected: list[str], state_root, capsys, monkeypatch,
                                                 no_env) -> None:
    _record("alpha")
    _record("beta")
    code, words, err = _complete(capsys, monkeypatch, line)
    assert code == 0 and not err, err
    assert words == expected


def test_every_value_option_completes_without_an_error(state_root, capsys, monkeypatch, no_env) -> None:
    for words, command in leaf_commands():
        for param in command.params:
            if not takes_value(param):
                continue
            line = " ".join(["kmeshctl", *words, *REQUIRED_ARGS.get(tuple(words), []), param.opts[0], ""])
            code, _, err = _complete(capsys, monkeypatch, line)
            assert code == 0 and not err, (line, err)


def test_contexts_complete_from_the_kubeconfig(tmp_path: Path, capsys, monkeypatch, no_env) -> None:
    monkeypatch.setenv("KUBECONFIG", str(_dead_kubeconfig(tmp_path / "kc")))
    code, words, err = _complete(capsys, monkeypatch, "kmeshctl --context d")
    assert code == 0 and words == ["dead"] and not err


# ------------------------------------------------------------------ 3. sandbox list = status


def test_list_uses_the_status_health_check_and_counts_the_same_pods(state_root, capsys, no_env) -> None:
    pods = (("waypoint", True), ("fortio-v1-0", False), ("fortio-v2-0", False), ("netutils-0", False))
    dead = state_mod.ProcessRecord("container", 2 ** 22 + 1, "fortio-v1-0", "/dev/null",
                                   component="pod fortio-v1-0 (fortio)", cgroup="/nonexistent-cgroup")
    _record("sick", pods, processes=[dead])
    _record("fine", pods)
    code, out, _ = cli(capsys, "sandbox", "list", "-o", "json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and rows["sick"]["phase"] == "not ready" and not rows["sick"]["ready"]
    assert rows["sick"]["problems"] == [f"pod fortio-v1-0 (fortio) (pid {dead.pid}) exited (exit status not "
                                        "recorded): see /dev/null"]
    assert rows["fine"]["phase"] == "ready" and rows["fine"]["pods"] == 4  # the waypoint's pod counts
    code, out, _ = cli(capsys, "sandbox", "list")
    assert re.search(r"^sick +not ready +4 ", out, re.M), out
    code, out, _ = cli(capsys, "sandbox", "status", "--name", "sick", "-o", "json")
    report = json.loads(out)
    assert code == 1 and not report["ready"] and rows["sick"]["problems"][0] in report["problems"]
    assert len(report["pods"]) == rows["sick"]["pods"]


# ------------------------------------------------------------------ 4. examples that work


def _example_cases() -> list[tuple[str, str]]:
    cases = []
    for words, command in commands():
        for line in example_lines(command):
            if line.startswith("kmeshctl "):
                cases.append((" ".join(words) or "kmeshctl", line))
    return cases


@pytest.mark.parametrize("where,example", _example_cases())
def test_every_help_example_parses_with_flags_that_exist(where: str, example: str) -> None:
    """Each example's command and flags are the CLI's own (click parses it, nothing runs)."""
    args = shlex.split(example.split("  #")[0])[1:]
    for i, word in enumerate(args):
        if word.startswith(("<", ">", "|")):  # a shell redirection or pipe ends the command
            args = args[:i]
            break
    if "--" in args:
        args = args[:args.index("--")]
    from kmeshctl.cli.conventions import hoist_global_flags

    args = hoist_global_flags(args)
    while args and args[0] in ("--kubeconfig", "--context"):
        args = args[2:]
    command, used = ROOT, []
    while hasattr(command, "commands") and args and args[0] in command.commands:
        used.append(args[0])
        command, args = command.commands[args[0]], args[1:]
    assert not hasattr(command, "commands"), example  # names a command, not a group
    command.make_context(" ".join(used), list(args))  # unknown flags or bad values raise here


def test_the_sandbox_examples_name_service_names_that_resolve() -> None:
    from kmeshctl.sandbox.manifests import default_files, load
    from kmeshctl.sandbox.pods import plan_vips
    from kmeshctl.sandbox.sandbox import hosts_lines
    from kmeshctl.sandbox.topology import Topology

    manifests = load(default_files())
    vips = {tuple(k.split("/")): v for k, v in plan_vips(manifests).items()}
    hosts = hosts_lines(Topology(manifests, [], vips, []), "default", "10.244.0.5", "netutils-0")
    fortio = next(line for line in hosts if "fortio" in line).split()
    assert fortio == [vips[("default", "fortio")], "fortio.default.svc.cluster.local", "fortio.default.svc",
                      "fortio.default", "fortio"]
    other_ns = hosts_lines(Topology(manifests, [], vips, []), "other", "10.244.0.5", "x")
    assert "fortio" not in next(line for line in other_ns if "fortio" in line).split()
    sandbox_help = "\n".join(example_lines(ROOT.commands["sandbox"]))
    assert "curl -sv fortio:80" in sandbox_help  # made to work by the hosts above (test_sandbox runs it)


# ------------------------------------------------------------------ 5. --kubeconfig/--context mean the cluster


def test_a_typed_context_or_kubeconfig_never_runs_the_demo_locally(tmp_path: Path) -> None:
    result = run("demo", "traffic-shift", "--context", "prod", home=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith("Error: --context prod: "), result.stderr
    dead = _dead_kubeconfig(tmp_path / "lo.yaml")
    result = run("demo", "traffic-shift", "--kubeconfig", str(dead), home=tmp_path)
    assert result.returncode == 1 and "cannot reach the Kubernetes API at https://127.0.0.1:1" in result.stderr
    assert str(dead) in result.stderr
    for result in (run("demo", "traffic-shift", "--context", "prod", home=tmp_path),
                   run("--kubeconfig", str(dead), "demo", "traffic-shift", home=tmp_path)):
        assert "Target: local" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = run("--context", "dead", "demo", "traffic-shift", "--name", "x", env={"KUBECONFIG": str(dead)})
    assert result.returncode == 2 and "give one of them" in result.stderr


def test_a_context_without_any_kubeconfig_is_bad_input_everywhere(tmp_path: Path) -> None:
    result = run("--context", "prod", "status", home=tmp_path)
    assert result.returncode == 2 and "no kubeconfig to look it up in" in result.stderr


# ------------------------------------------------------------------ 6. empty values


def _value_flag_cases() -> list[tuple[list[str], str]]:
    return [(words, max(param.opts, key=len)) for words, command in leaf_commands() for param in command.params
            if takes_value(param)]


@pytest.mark.parametrize("words,flag", _value_flag_cases(), ids=lambda x: " ".join(x) if isinstance(x, list) else x)
def test_an_empty_value_is_bad_input_never_the_default(words: list[str], flag: str, capsys, no_env) -> None:
    required = REQUIRED_ARGS.get(tuple(words), [])
    for form in ([flag, ""], [f"{flag}="]):
        code, out, err = cli(capsys, *words, *required, *form)
        assert code == 2 and err.startswith(f"Error: {flag} '': empty value; give "), (form, err)
        assert not out


@pytest.mark.parametrize("args", [["--kubeconfig", "", "status"], ["status", "--context", ""],
                                  ["--context=", "status"], ["sandbox", "up", "--name", ""],
                                  ["demo", "traffic-shift", "--weights", ""], ["status", "-n", ""]])
def test_empty_global_and_short_flags_too(args: list[str], capsys, no_env) -> None:
    code, _, err = cli(capsys, *args)
    assert code == 2 and "'': empty value" in err and "Creating" not in err, err


# ------------------------------------------------------------------ 7. examples everywhere, docs


@pytest.mark.parametrize("words", [w for w, c in commands() if not c.hidden], ids=" ".join)
def test_every_help_ends_with_examples(words: list[str], capsys, no_env) -> None:
    code, out, _ = cli(capsys, *words, "--help")
    assert code == 0 and "\n  Examples:\n" in out, out
    assert any(line.strip().startswith("kmeshctl ") for line in out.split("Examples:")[1].splitlines())


def test_the_sandbox_docs_show_the_demo_json_as_it_is() -> None:
    text = (REPO / "docs" / "sandbox.md").read_text()
    shown = json.loads(re.search(r"```json\n(\{\n  \"schema\".*?\n\})\n```", text, re.S).group(1))
    assert shown["schema"] == demo.SCHEMA
    documents, subject = demo.fortio_demo()
    traffic = demo.TrafficCount()
    traffic.add(demo.RequestResult(1, 0, 200, "1"))
    real = demo.DemoReport("local", 1, [demo._phase_report(subject, [90, 10], traffic, None)], subject,
                           "kmesh").to_json()
    assert set(shown) == set(real) and set(shown["phases"][0]) == set(real["phases"][0])
    assert set(shown["phases"][0]["counts"]) == {"v1", "v2"}  # by subset, as the weights


# ------------------------------------------------------------------ 8. no sudo, kmeshctl on PATH


def test_no_help_or_hint_says_sudo(capsys, no_env) -> None:
    for words, _ in commands():
        _, out, _ = cli(capsys, *words, "--help")
        assert "sudo" not in out, words
    for path in [*(REPO / "kmeshctl" / "cli").glob("*.py"), REPO / "kmeshctl" / "sandbox" / "sandbox.py",
                 REPO / "kmeshctl" / "sandboxes.py", REPO / "kmeshctl" / "demo.py", REPO / "kmeshctl" / "kube.py"]:
        assert "sudo" not in path.read_text(), path


def test_setup_links_kmeshctl_onto_the_path_and_the_readme_says_so() -> None:
    setup = (REPO / "scripts" / "setup.sh").read_text()
    assert 'ln -sfn "$PWD/.venv/bin/kmeshctl" "$link"' in setup and "link=/usr/local/bin/kmeshctl" in setup
    assert "\nlink_kmeshctl\n" in setup
    assert "/usr/local/bin/kmeshctl" in (REPO / "README.md").read_text()


# ------------------------------------------------------------------ 9. refusals before "Creating"


def test_up_refuses_before_it_says_creating(state_root, capsys, no_env) -> None:
    _record("dup")
    code, _, err = cli(capsys, "sandbox", "up", "--name", "dup")
    assert code == 1 and "sandbox dup is already up" in err and "Creating" not in err, err
    code, _, err = cli(capsys, "sandbox", "up", "--name", "new", "-f", str(REPO / "README.md"))
    assert code != 0 and "Creating" not in err, err


# ------------------------------------------------------------------ 10. the only sandbox


def test_status_down_and_exec_pick_the_only_sandbox_or_ask(state_root, capsys, no_env) -> None:
    _record("solo")
    code, out, err = cli(capsys, "sandbox", "status", "-o", "json")
    assert json.loads(out)["name"] == "solo" and "Using sandbox solo" in err
    _record("other")
    for args in (["sandbox", "status"], ["sandbox", "down"], ["sandbox", "exec", "netutils", "--", "true"]):
        code, _, err = cli(capsys, *args)
        assert code == 2 and "several sandboxes are up (other, solo): pass --name NAME" in err, (args, err)
    assert sandboxes.names() == ["other", "solo"]  # nothing removed


# ------------------------------------------------------------------ 11. option help, value words


def test_every_option_has_help_and_a_value_word_not_text(capsys, no_env) -> None:
    for words, command in commands():
        for param in command.params:
            if param.param_type_name != "option" or param.hidden:
                continue
            assert param.help, (words, param.opts)
            if takes_value(param):
                assert param.metavar and param.metavar not in ("TEXT", "VALUE"), (words, param.opts, param.metavar)
        _, out, _ = cli(capsys, *words, "--help")
        assert not re.search(r"\bTEXT\b", out), words
    for words in (["node", "run"], ["install"], ["render"]):
        mode = next(p for p in ROOT.commands[words[0]].commands.get(words[-1], ROOT.commands[words[0]]).params
                    if p.name == "mode") if len(words) > 1 else next(p for p in ROOT.commands[words[0]].params
                                                                     if p.name == "mode")
        assert mode.metavar == "dual-engine", words  # the one choice, shown and completed as such


# ------------------------------------------------------------------ 12. wording


def test_messages_say_what_is_wrong_once(tmp_path: Path, capsys, no_env) -> None:
    code, _, err = cli(capsys, "demo", "traffic-shift", "--weights", "90/10,")
    assert code == 2 and err.startswith("Error: --weights '90/10,': set 2 ('')"), err
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    code, _, err = cli(capsys, "--kubeconfig", str(empty), "status")
    assert code == 2 and f"kubeconfig {empty} has no contexts" in err and "(contexts: none)" not in err, err
    code, _, err = cli(capsys, "--kubeconfig", str(tmp_path), "status")
    assert code == 2 and err.count(str(tmp_path)) == 1, err
    result = run("version", home=tmp_path)
    assert "Cluster: could not reach one (" in result.stderr and "not asked" not in result.stderr


# ------------------------------------------------------------------ 13. piped output


def test_piped_tables_are_plain_columns_without_trailing_spaces(state_root, capsys, no_env) -> None:
    _record("alpha", (("netutils-0", False),))
    _record("b", ())
    for args in (["sandbox", "list"], ["sandbox", "list", "-o", "wide"], ["sandbox", "status", "--name", "alpha"]):
        _, out, _ = cli(capsys, *args)
        assert not BOX.search(out), (args, out)
        assert all(line == line.rstrip() for line in out.splitlines()), (args, out)
    _, out, _ = cli(capsys, "sandbox", "list")
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "PHASE", "PODS", "AGE"] and len(header) == len(header.rstrip())
    assert max(len(line) for line in out.splitlines()) < 40  # as wide as the text, not the terminal


def test_the_demo_summary_piped_has_no_blank_first_line_or_trailing_spaces(capsys) -> None:
    from kmeshctl.cli.common import OutputFormat
    from kmeshctl.cli.demo import _print_summary

    _, subject = demo.fortio_demo()
    traffic = demo.TrafficCount()
    for i in range(10):
        traffic.add(demo.RequestResult(i + 1, 0, 200, "1" if i < 9 else "2"))
    report = demo.DemoReport("local", 10, [demo._phase_report(subject, [90, 10], traffic, None)], subject, "k")
    capsys.readouterr()
    _print_summary(report, subject, OutputFormat.table)
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("Phase 1: 10 requests"), out
    assert not BOX.search(out) and all(line == line.rstrip() for line in out.splitlines()), out
    assert re.search(r"^v1 +1 +90% +9 +90\.0%$", out, re.M), out


def test_demo_request_lines_have_no_trailing_spaces(capsys) -> None:
    from kmeshctl.cli.demo import RequestPrinter

    _, subject = demo.fortio_demo()
    printer = RequestPrinter(3, subject, verbose=True, quiet=False, to_stdout=True)
    capsys.readouterr()
    printer.phase(1, [90, 10])
    printer.request(1, demo.RequestResult(1, 0, 200, "1"), subject.versions[0])
    printer.request(1, demo.RequestResult(2, 7, 0, "-"), None)
    out = capsys.readouterr().out
    assert out and all(line == line.rstrip() for line in out.splitlines()), repr(out)


def test_outside_a_terminal_rich_is_not_asked_to_draw() -> None:
    import io

    from rich.table import Table

    from kmeshctl.cli.tables import cli_console

    table = Table("A", "B", title="T")
    table.add_row("x", "")
    buffer = io.StringIO()
    cli_console(file=buffer).print(table)
    assert buffer.getvalue() == "T\nA   B\nx\n"
