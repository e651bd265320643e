"""Issue 14, second new-user pass: one test per kind of fault it found, each across every
command it can reach (the real typer command tree through kmeshctl.cli.main, in-process or
as the console script; the stand-in API server where a cluster must answer, a dead
address where it must not be asked; sandbox records in a temporary state root instead of
/run/kmeshctl so no real sandbox is touched).

1 help at 80 columns; 2 bad values; 3 waypoint -o and examples; 4 dump's sandbox resolver
and an unreachable API; 5 km_manage's pod in JSON and narrow tables; 6 sandboxes of
another version; 7 values from the environment; 8 options missing their value; 9 bench
flags; 10 names checked before connecting; 11 no cluster configured; 12 KUBECONFIG lists."""

from __future__ import annotations

import inspect
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console

from kmeshctl import dump, sandboxes
from kmeshctl.cli import app
from kmeshctl.cli.badinput import takes_value
from kmeshctl.maps import BACKEND, MANAGE, BackendKey, BackendValue, ManageKey, ManageValue
from kmeshctl.sandbox import state as state_mod
from standin_apiserver import cluster  # noqa: F401 (fixture)

KMESHCTL = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "kmeshctl")
ROOT = typer.main.get_command(app)
PYDANTIC_OR_CLICK = re.compile(r"Value error|Input should|Invalid value for|is not one of|No such option")
# Arguments a command needs before its options are looked at.
REQUIRED_ARGS = {("enable-ns",): ["default"], ("disable-ns",): ["default"], ("sandbox", "exec"): ["pod"],
                 ("completion",): ["bash"]}
# What a command's -n needs beside it: dump's -n is the namespace of the agent pod --pod names
# (refused alone, pass 46), so a check of its namespace values gives a pod.
NAMESPACE_NEEDS = {("dump", "maps"): ["--pod", "kmesh-1"], ("dump", "config"): ["--pod", "kmesh-1"]}


def run(*args: str, env: dict | None = None, home: Path | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "COLUMNS", "KMESHCTL_SANDBOX_NAME")}
    if home is not None:
        clean["HOME"] = str(home)
    return subprocess.run([KMESHCTL, *args], capture_output=True, text=True, timeout=120,
                          env={**clean, **(env or {})})


def cli(capsys: Any, *args: str) -> tuple[int, str, str]:
    """kmeshctl ARGS in-process (kmeshctl.cli.main): exit code, stdout, stderr."""
    from kmeshctl.cli import main

    capsys.readouterr()
    saved = sys.argv
    sys.argv = ["kmeshctl", *args]
    try:
        main()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    finally:
        sys.argv = saved
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def commands() -> list[tuple[list[str], Any]]:
    found: list[tuple[list[str], Any]] = []

    def visit(command: Any, words: list[str]) -> None:
        found.append((words, command))
        for name, sub in getattr(command, "commands", {}).items():
            visit(sub, words + [name])

    visit(ROOT, [])
    return found


def leaf_commands() -> list[tuple[list[str], Any]]:
    return [(w, c) for w, c in commands() if not hasattr(c, "commands")]


def example_lines(command: Any) -> list[str]:
    """The lines of the indented (example) paragraphs of a command's help."""
    text = inspect.cleandoc(command.help or "")
    return [line.strip() for p in text.split("\n\n") if p.lstrip("\b\n").startswith(" ")
            for line in p.splitlines() if line.strip() and line.strip() != "\b"]


@pytest.fixture
def no_env(monkeypatch) -> None:
    for name in ("KUBECONFIG", "KMESHCTL_SANDBOX_NAME", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


# ------------------------------------------------------------------ 1. help at 80 columns


@pytest.mark.parametrize("words,command", commands(), ids=lambda x: " ".join(x) if isinstance(x, list) else "")
def test_help_at_80_columns_keeps_flags_and_examples_whole_without_padding(words, command, capsys, monkeypatch,
                                                                          no_env) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = cli(capsys, *words, "--help")
    assert code == 0 and out.startswith("Usage: kmeshctl")
    for line in out.splitlines():
        assert len(line) <= 80 and line == line.rstrip(), repr(line)
        assert not re.search(r"\w-$", line), repr(line)  # no flag or word split at a '-'
    for param in command.params:
        for opt in param.opts if param.param_type_name == "option" and not param.hidden else ():
            assert re.search(rf"(^|[\s,]){re.escape(opt)}([\s,/]|$)", out, re.M), (opt, out)
    shown = {line.strip() for line in out.splitlines()}
    for example in example_lines(command):
        assert example in shown, (example, out)


def test_piped_help_is_80_columns_without_padding() -> None:
    for words in (["dump", "maps"], ["node", "run"], []):
        out = run(*words, "--help").stdout
        assert max(len(line) for line in out.splitlines()) <= 80
        assert all(line == line.rstrip() for line in out.splitlines())


# ------------------------------------------------------------------ 2. bad values


def _bad_values(param: Any) -> list[str]:
    descriptor = param.type_descriptor
    if descriptor.is_choice:
        return ["xml-nope"]
    number = descriptor.annotation in (int, float) or int in getattr(descriptor.annotation, "__args__", ()) \
        or float in getattr(descriptor.annotation, "__args__", ())
    if not number:
        return []
    values = ["abc"]
    if descriptor.parameter_info.max is not None:
        values.append(str(descriptor.parameter_info.max + 1))
    if descriptor.parameter_info.min is not None:
        values.append(str(descriptor.parameter_info.min - 1))
    return values


def _bad_value_cases() -> list[tuple[list[str], str, str]]:
    cases = []
    for words, command in leaf_commands():
        for param in command.params:
            if param.param_type_name != "option" or not takes_value(param):
                continue
            for value in _bad_values(param):
                cases.append((words, max(param.opts, key=len), value))
    return cases


@pytest.mark.parametrize("words,flag,value", _bad_value_cases(), ids=lambda x: " ".join(x) if isinstance(x, list) else x)
def test_every_bad_value_is_one_kubectl_line_naming_the_flag_and_what_is_accepted(words, flag, value, capsys,
                                                                                 no_env) -> None:
    code, _, err = cli(capsys, *words, *REQUIRED_ARGS.get(tuple(words), []), flag, value)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and not PYDANTIC_OR_CLICK.search(err), err
    assert err.startswith(f"Error: {flag} {value}: ") and "; use " in err, err


def test_a_bad_argument_value_and_the_short_flag_as_typed(capsys, no_env) -> None:
    code, _, err = cli(capsys, "completion", "tcsh")
    assert code == 2 and err == ("Error: completion: tcsh is not a supported shell; use bash, zsh or fish "
                                 "(see 'kmeshctl completion --help')\n"), err
    code, _, err = cli(capsys, "status", "-o", "xml")
    assert code == 2 and err.startswith("Error: -o xml: not an accepted value; use one of table, wide, json, yaml")
    code, _, err = cli(capsys, "dump", "maps", "--admin-port", "70000")
    assert "out of range; use an integer from 1 to 65535" in err


# ------------------------------------------------------------------ 3. waypoint -o and examples


def test_waypoint_commands_list_only_formats_they_print_and_show_examples(capsys, no_env) -> None:
    group = ROOT.commands["waypoint"]
    for name, command in group.commands.items():
        if command.hidden:
            continue
        assert f"kmeshctl waypoint {name}" in "\n".join(example_lines(command)), name
        for param in command.params:
            if "-o" in param.opts:
                listed = set(str(param.metavar).split("|"))
                assert listed == {str(c.value) for c in param.type_descriptor.choices}, name
    assert ROOT.commands["waypoint"].commands["status"].params[2].metavar == "table|wide|json|yaml"  # issue 14, fifth pass: as every -o
    assert "kmeshctl waypoint list" in "\n".join(example_lines(group))


# ------------------------------------------------------------------ 4. dump's resolver, unreachable API


@pytest.fixture
def state_root(tmp_path: Path, monkeypatch) -> Path:
    """Sandbox records under tmp_path (not /run/kmeshctl), this node without a data path."""
    root = tmp_path / "run"
    monkeypatch.setattr(state_mod, "STATE_ROOT", root)
    monkeypatch.setattr(state_mod, "BPFFS_ROOT", tmp_path / "bpf")
    monkeypatch.setattr(sandboxes, "DEFAULT_BPF_FS", tmp_path / "no-node-maps")
    return root


def _record(name: str, **fields: Any) -> state_mod.SandboxState:
    state = state_mod.SandboxState(name=name, phase=state_mod.PHASE_READY, agent={"admin": "127.0.0.1:1"}, **fields)
    state.save()
    return state


def test_dump_maps_and_config_share_one_resolver_that_lists_several_sandboxes(state_root, capsys, no_env) -> None:
    _record("alpha")
    _record("beta")
    for args in (["dump", "maps"], ["dump", "config"]):
        code, _, err = cli(capsys, *args)
        assert code == 2 and "several sandboxes exist (alpha ready, beta ready): pass --sandbox NAME, e.g. " in err, err
    target = sandboxes.local_target(None, None, "beta")
    assert target.sandbox is not None and target.sandbox.name == "beta" and target.admin_port == 1


def test_dump_with_no_data_path_and_no_sandbox_says_what_to_start(state_root, capsys, no_env) -> None:
    code, _, err = cli(capsys, "dump", "maps")
    assert code == 1 and "no sandbox is up" in err and "--bpf-fs" in err and "does not exist: pass" not in err
    code, _, err = cli(capsys, "dump", "config")
    assert code == 1 and "--admin-port PORT" in err


def _dead_kubeconfig(path: Path) -> Path:
    """A kubeconfig whose API server address refuses connections (127.0.0.1:1)."""
    path.write_text("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
                    "contexts:\n- name: dead\n  context: {cluster: c, user: u}\ncurrent-context: dead\n"
                    "users:\n- name: u\n  user: {token: x}\n")
    return path


def test_dump_pod_with_the_api_server_down_names_the_cluster_not_the_pod(tmp_path: Path, capsys, no_env) -> None:
    kubeconfig = _dead_kubeconfig(tmp_path / "dead")
    for args in (["dump", "config", "--pod", "kmesh-x"], ["dump", "maps", "--pod", "kmesh-x"]):
        code, _, err = cli(capsys, "--kubeconfig", str(kubeconfig), *args)
        assert code == 1 and "cannot reach the Kubernetes API at https://127.0.0.1:1" in err, err
        assert f"kubeconfig {kubeconfig}, context dead" in err and "pod name" not in err


def test_a_suggested_kubectl_command_keeps_the_kubeconfig_flags(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("dump", "config", "--pod", "no-such-pod")
    assert result.code == 1
    # p24 F2: a pod not found is named before any port-forward, with the agent pods' kubectl line
    assert f"`kubectl get pods -A -l app=kmesh --kubeconfig {cluster.kubeconfig}`" in result.err, result.err


# ------------------------------------------------------------------ 5. km_manage's pod, narrow tables


class _Ids:
    def name_of(self, id_: int) -> str:
        return {7: "default/fortio-v1-596b55cb8b-sfktr"}.get(id_, "default/fortio.default.svc.cluster.local")

    def kind_of(self, _id: int) -> None:
        return None


COOKIE = 18446744073709551000


def test_manage_rows_name_their_pod_in_json_as_the_table_does() -> None:
    dumps = [dump.MapDump(MANAGE, [(ManageKey(COOKIE), ManageValue(True)), (ManageKey(5), ManageValue(True))])]
    data = dump.to_json(dumps, _Ids(), {COOKIE: "default/netutils-0"})  # type: ignore[arg-type]
    assert data["km_manage"][0]["key"]["pod"] == {"namespace": "default", "name": "netutils-0"}
    assert data["km_manage"][1]["key"]["pod"] is None
    agent = {"km_manage": [{"key": {"netns_cookie": COOKIE}, "value": {"managed": True}}]}
    assert dump.with_pods(agent, {COOKIE: "ns/p"})["km_manage"][0]["key"]["pod"] == {"namespace": "ns", "name": "p"}
    assert dump.entry_from_json("km_manage", data["km_manage"][0])[0].netns_cookie == COOKIE


def test_a_narrow_table_keeps_ids_and_names_whole_and_leaves_other_columns_out() -> None:
    dumps = [dump.MapDump(BACKEND, [(BackendKey(7), BackendValue(("10.244.0.12",), (3, 4)))])]
    out = io.StringIO()
    dump.render_tables(dumps, _Ids(), Console(file=out, width=50), pods={})  # type: ignore[arg-type]
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()[1:3]) <= 50, text  # the table (its title may be longer)
    # the one style (plain columns, kubectl's), so the first column starts the line; the uid
    # and the tunnel are detail columns (-o wide)
    assert re.search(r"^default/fortio-v1-596b55cb8b-sfktr +10\.244\.0\.12", text, re.MULTILINE), text
    # (WAYPOINT, <none> in every row, is left out as an empty column: not named here)
    assert "not shown at this width: SERVICES; -o wide shows every column" in " ".join(text.split())
    wide = io.StringIO()
    dump.render_tables(dumps, _Ids(), Console(file=wide, width=80), pods={}, wide=True)  # type: ignore[arg-type]
    assert "default/fortio.default.svc.cluster.local, default/fortio.default.svc.cluster.local" in wide.getvalue()
    assert re.search(r"^7 +default/fortio-v1-596b55cb8b-sfktr", wide.getvalue(), re.MULTILINE), wide.getvalue()
    assert "not shown" not in wide.getvalue()


# ------------------------------------------------------------------ 6. another version's sandbox


def test_a_sandbox_of_another_version_gets_down_then_up_with_its_name(state_root, capsys, no_env) -> None:
    _record("old")
    path = state_mod.state_dir("old") / "state.json"
    raw = json.loads(path.read_text())
    raw["layout"] = 1  # a field this version does not write
    del raw["pods_ready" if "pods_ready" in raw else "agent"]
    path.write_text(json.dumps(raw))
    fix = "`kmeshctl sandbox down --name old`, then `kmeshctl sandbox up --name old`"
    for args in (["dump", "maps", "--sandbox", "old"], ["dump", "config", "--sandbox", "old"],
                 ["sandbox", "status", "--name", "old"], ["dump", "maps"]):
        code, _, err = cli(capsys, *args)
        assert code == 1 and "was made by another kmeshctl version" in err and fix in err, (args, err)
    code, out, _ = cli(capsys, "sandbox", "list")
    assert code == 0 and "other version" in out
    assert state_mod.SandboxState.load("old").name == "old"  # down can still find what to remove


def test_a_sandbox_whose_maps_this_version_cannot_read_is_called_another_versions(state_root, capsys,
                                                                                  no_env) -> None:
    state = _record("maps")
    state.bpffs.mkdir(parents=True)  # a ready sandbox with none of this version's maps pinned
    code, _, err = cli(capsys, "dump", "maps", "--sandbox", "maps", "-o", "json")
    assert code == 1 and "sandbox maps was made by another kmeshctl version" in err, err
    assert "`kmeshctl sandbox down --name maps`" in err and "node cleanup" not in err and "node run" not in err


# ------------------------------------------------------------------ 7. values from the environment


@pytest.mark.parametrize("args", [["sandbox", "status"], ["sandbox", "up"], ["sandbox", "down"],
                                  ["sandbox", "exec", "netutils", "--", "true"],
                                  ["demo", "traffic-shift", "--target", "local"]])
def test_a_bad_value_from_the_environment_names_the_variable(args: list[str]) -> None:
    result = run(*args, env={"KMESHCTL_SANDBOX_NAME": "Bad!"})
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("Error: $KMESHCTL_SANDBOX_NAME='Bad!': not a sandbox name"), result.stderr
    assert "--name Bad!" not in result.stderr and "--name 'Bad!'" not in result.stderr


def test_a_suggestion_keeps_its_flags_when_the_value_came_from_the_environment() -> None:
    result = run("sandbox", "status", env={"KMESHCTL_SANDBOX_NAME": "zz9envnone"})
    assert result.returncode == 1 and ("`kmeshctl sandbox up --name zz9envnone && kmeshctl sandbox status --name "
                                       "zz9envnone`") in result.stderr


# ------------------------------------------------------------------ 8. options missing their value


def _value_options() -> list[tuple[list[str], str]]:
    return [(words, opt) for words, command in leaf_commands() for param in command.params
            if takes_value(param) for opt in param.opts]


@pytest.mark.parametrize("words,opt", _value_options(), ids=lambda x: " ".join(x) if isinstance(x, list) else x)
def test_every_option_missing_its_value_says_it_requires_an_argument(words, opt, capsys, no_env) -> None:
    required = REQUIRED_ARGS.get(tuple(words), [])
    for tail in ([], ["-h"]):
        code, out, err = cli(capsys, *words, *required, opt, *tail)
        assert code == 2 and err.startswith(f"Error: {opt} needs a value: {opt} "), (tail, err)
        assert not out


@pytest.mark.parametrize("args", [["status", "--context"], ["status", "--context", "-o", "json"],
                                  ["dump", "maps", "--kubeconfig"], ["--context"]])
def test_global_flags_missing_their_value_too(args: list[str], capsys, no_env) -> None:
    code, _, err = cli(capsys, *args)
    flag = args[args.index('--context') if '--context' in args else -1]
    assert code == 2 and err.startswith(f"Error: {flag} needs a value: {flag} "), err


# ------------------------------------------------------------------ 9. bench flags


@pytest.mark.parametrize("args,flag", [
    (["--paths", "direct,nope"], "--paths direct,nope"), (["--paths", ","], "--paths"),
    (["--loads", "fast"], "--loads fast"), (["--client-cpus", "a-b"], "--client-cpus a-b"),
    (["--mesh-cpus", "x"], "--mesh-cpus x"), (["--duration", "0"], "--duration 0"),
    (["--warmup", "-1"], "--warmup -1"), (["--repeats", "x"], "--repeats x")])
def test_bench_errors_name_the_flag_typed(args: list[str], flag: str, capsys, no_env) -> None:
    code, _, err = cli(capsys, "bench", "dataplane", *args)
    assert code == 2 and err.startswith(f"Error: {flag}"), err


# ------------------------------------------------------------------ 10. names checked before connecting


@pytest.mark.parametrize("args,named", [
    # values echoed by the one quoting rule (shell-style): bare unless a shell needs quotes
    (["status", "-n", "BAD_NS"], "-n BAD_NS"), (["enable-ns", "default", "Bad NS"], "namespace 'Bad NS'"),
    (["disable-ns", "x_y"], "namespace x_y"), (["version", "-n", "X"], "-n X"),
    (["precheck", "--istio-namespace", "I"], "--istio-namespace I"), (["uninstall", "-n", "U"], "-n U"),
    (["dump", "config", "--pod", "p", "-n", "N"], "-n N"), (["waypoint", "list", "-n", "W"], "-n W"),
    (["waypoint", "status", "--name", "Bad"], "--name Bad"), (["waypoint", "delete", "--namespace", "D"],
                                                                "--namespace D")])
def test_invalid_names_fail_at_once_naming_the_rule(args: list[str], named: str, tmp_path: Path, capsys,
                                                    no_env) -> None:
    kubeconfig = _dead_kubeconfig(tmp_path / "dead")  # any contact would say "cannot reach"
    code, _, err = cli(capsys, "--kubeconfig", str(kubeconfig), *args)
    rule = "RFC 1035 label" if args[0] == "waypoint" and "--name" in args else "RFC 1123 label"  # its Service's too
    assert code == 2 and err.startswith(f"Error: {named}: not a valid") and rule in err, err


# ------------------------------------------------------------------ 11. no cluster configured


def test_no_kubeconfig_at_all_says_no_cluster_is_configured(tmp_path: Path) -> None:
    result = run("status", home=tmp_path)
    assert result.returncode == 1  # docs/usage.md: 1 = the cluster cannot be reached (none configured)
    assert result.stderr.startswith("Error: no cluster configured:") and "--kubeconfig PATH" in result.stderr
    docs = (Path(__file__).resolve().parent.parent / "docs" / "usage.md").read_text()
    assert "| `1` |" in docs and "no cluster configured" in docs


# ------------------------------------------------------------------ 12. KUBECONFIG lists


def test_a_kubeconfig_list_skips_missing_files_as_kubectl_does(cluster, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    from kmeshctl import kube

    listed = f"{tmp_path / 'missing-a'}{os.pathsep}{cluster.kubeconfig}{os.pathsep}{tmp_path / 'missing-b'}"
    assert kube.connect_reachable(kube.KubeTarget(listed)).host == cluster.server.url
    with pytest.raises(kube.UsageError, match="none of .* exists"):
        kube.load_configuration(kube.KubeTarget(f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}"))
