"""Issue 14, completion of values as kubectl and cilium users expect, one test per kind:

1 a namespace (enable-ns/disable-ns NAMESPACE..., -n, --istio-namespace) completes the
  namespaces of the cluster the line names, when it answers quickly; likewise dump's
  --pod (the pods of -n) and waypoint status/delete --name (the waypoints of -n);
2 with no cluster answering (none configured, refused, or silent) it completes nothing,
  quickly, never file names;
3 no positional argument falls back to file names (none of them is a path); after `--`
  (`sandbox exec POD -- COMMAND`) the shell's own completion still applies;
4 every option taking a sandbox name (--name, --sandbox) completes the sandboxes there
  are (`sandbox up --name`, a new name, nothing), `sandbox exec -n` its pods' namespaces;
5 --kubernetes-version completes the versions it accepts;
6 every option with a fixed set of values or known names completes them (-o, --mode,
  --map, --context, bench's comma lists), and every other option taking a value is a
  path or declared free-form here: none falls back to file names.

The shells are the real bash, zsh and fish running `kmeshctl completion SHELL` (a test is
skipped only when its shell is not installed); `kmeshctl` on their PATH is a wrapper of
the console script whose sandbox records live under tmp_path (not /run/kmeshctl). The
cluster is the stand-in API server (tests/standin) on 127.0.0.1, a random port; the
silent one is test_cli_request_timeout's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import shell_pty
from kmeshctl.cli.badinput import takes_value
from kmeshctl.cli.completion import NOTHING_LINE, path_kind
from kmeshctl.params import check_kubernetes_version
from kmeshctl.sandbox import state as state_mod
from kmeshctl.validate import supported_kubernetes_versions
from standin_apiserver import app_pod, namespace, seeded_server
from test_cli_cluster_context import gateway_crd
from test_cli_kinds import KMESHCTL, REQUIRED_ARGS, cli, leaf_commands
from test_cli_request_timeout import SilentApiServer, _kubeconfig as silent_kubeconfig

NAMESPACES = ["default", "h46-apps", "h46-team", "istio-system", "kmesh-system"]
ENROLLABLE = ["default", "h46-apps", "h46-team"]  # Istio's and kmesh's own are refused
AGENT_PODS = ["kmesh-h46a", "kmesh-h46b"]
SANDBOXES = ["h46-alpha", "h46-beta"]
WRAPPER = f"""#!{sys.executable}
import os, sys
from pathlib import Path
from kmeshctl.sandbox import state
state.STATE_ROOT = Path(os.environ["H46_STATE_ROOT"])  # the test's records, never /run/kmeshctl
from kmeshctl.cli import main
sys.exit(main())
"""
# Options whose value is free-form (a count, an address, an image, a duration, an id):
# they offer nothing, never file names. Any other option taking a value must complete.
FREE_FORM = {"request_timeout", "timeout", "xds_address", "cluster_id", "image", "network", "requests", "weights",
             "repeats", "duration", "warmup", "client_cpus", "mesh_cpus", "admin_port", "metrics_port",
             "envoy_admin_port", "status_port", "port", "replicas", "socket_wait", "xds_tls_server_name",
             "instance_ip", "node_name", "service_account", "pod_name", "name", "waypoint",
             "revision"}  # pass 30: waypoint apply --revision, an istiod revision or tag (free text)


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """tmp_path: a home, a file a fallback to file names would offer, sandbox records,
    and bin/kmeshctl (the wrapper) first on PATH."""
    (tmp_path / "home").mkdir()
    (tmp_path / "kmesh-notes.txt").write_text("")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "kmeshctl").write_text(WRAPPER)
    (tmp_path / "bin" / "kmeshctl").chmod(0o755)
    saved = state_mod.STATE_ROOT
    state_mod.STATE_ROOT = tmp_path / "run"
    try:
        for name, ns in zip(SANDBOXES, ("h46-one", "h46-two")):
            pods = [state_mod.PodRecord(name="netutils-0", namespace=ns, deployment="netutils", labels={},
                                        ip="10.244.0.5", netns=f"h46-{name}-n", cgroup="")]
            state_mod.SandboxState(name=name, phase=state_mod.PHASE_READY, agent={"admin": "127.0.0.1:1"},
                                   pods=pods).save()
    finally:
        state_mod.STATE_ROOT = saved
    return tmp_path


@pytest.fixture()
def standin(tree: Path) -> Iterator[Path]:
    """A stand-in cluster with NAMESPACES, AGENT_PODS in kmesh-system and two Gateways in
    h46-apps (one a waypoint); its kubeconfig."""
    server = seeded_server()
    for name in NAMESPACES:
        if name != "istio-system":
            server.put(namespace(name))
    for pod in AGENT_PODS:
        server.put(app_pod(pod, "kmesh-system"))
    server.put(app_pod("h46-client", "h46-apps"))
    server.put(gateway_crd())
    for name, gateway_class in (("h46-wp", "istio-waypoint"), ("h46-ingress", "istio")):
        server.put({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                    "metadata": {"name": name, "namespace": "h46-apps"},
                    "spec": {"gatewayClassName": gateway_class, "listeners": []}})
    server.start()
    try:
        yield server.write_kubeconfig(tree / "kc.yaml")
    finally:
        server.stop()


def _env(tree: Path, **extra: str) -> dict[str, str]:
    left_out = ("KUBECONFIG", "COLUMNS", "KMESHCTL_SANDBOX_NAME", "_KMESHCTL_COMPLETE", "COMP_WORDS", "COMP_CWORD")
    env = {k: v for k, v in os.environ.items() if k not in left_out}
    return {**env, "PATH": f"{tree / 'bin'}:{Path(KMESHCTL).parent}:{env['PATH']}", "TERM": "dumb",
            "HOME": str(tree / "home"), "H46_STATE_ROOT": str(tree / "run"), **extra}


def bash(line: str, tree: Path, **env: str) -> list[str]:
    """COMPREPLY of the real bash's completion function for ``line`` (words split at
    spaces; a trailing space starts an empty word)."""
    script = ("source <(kmeshctl completion bash); COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); "
              "_kmeshctl_completion kmeshctl; printf '%s\\n' \"${COMPREPLY[@]}\"")
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash", *line.split(" ")], cwd=tree,
                          text=True, capture_output=True, env=_env(tree, **env), timeout=60)
    assert done.returncode == 0 and not done.stderr, done.stderr
    return [w for w in done.stdout.splitlines() if w]


def protocol(line: str, tree: Path, **env: str) -> list[str]:
    """What kmeshctl answers bash's function (a candidate a line, or NOTHING_LINE)."""
    words = line.split(" ")
    done = subprocess.run(["kmeshctl"], cwd=tree, text=True, capture_output=True, timeout=60,
                          env=_env(tree, _KMESHCTL_COMPLETE="complete_bash", COMP_WORDS=line,
                                   COMP_CWORD=str(len(words) - 1), **env))
    assert done.returncode == 0 and not done.stderr, done.stderr
    return done.stdout.splitlines()


@pytest.fixture()
def answer(tree: Path, capsys: Any, monkeypatch: Any) -> Callable[[str], list[str]]:
    """What kmeshctl answers bash's function for a line, in-process (for the sweeps over
    every command: the same code as `protocol`, without a process per line)."""
    monkeypatch.setattr(state_mod, "STATE_ROOT", tree / "run")
    for name in ("KUBECONFIG", "KMESHCTL_SANDBOX_NAME", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tree / "home"))
    monkeypatch.chdir(tree)

    return lambda line: completed_in_process(capsys, monkeypatch, line)


def completed_in_process(capsys: Any, monkeypatch: Any, line: str) -> list[str]:
    """The words kmeshctl.cli.main answers bash's completion function for ``line`` (the
    environment bash sets for it), in-process."""
    monkeypatch.setenv("_KMESHCTL_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", line)
    monkeypatch.setenv("COMP_CWORD", str(len(line.split(" ")) - 1))
    try:
        code, out, err = cli(capsys)
    finally:
        for name in ("_KMESHCTL_COMPLETE", "COMP_WORDS", "COMP_CWORD"):
            monkeypatch.delenv(name)
    assert code == 0 and not err, (line, err)
    return out.splitlines()


def fish(line: str, tree: Path) -> list[str]:
    done = subprocess.run(["fish", "--no-config", "-c", f"kmeshctl completion fish | source; complete -C '{line}'"],
                          cwd=tree, text=True, capture_output=True, env=_env(tree), timeout=60)
    assert done.returncode == 0, done.stderr
    return [w.split("\t")[0] for w in done.stdout.splitlines()]


def interactive(shell: str, line: str, tree: Path) -> str:
    """What the real interactive shell shows after ``line`` and two TABs."""
    if shell == "bash":
        argv, setup = ["bash", "--norc", "--noprofile", "-i"], ["source <(kmeshctl completion bash)"]
    else:
        argv, setup = ["zsh", "-f", "-i"], ["autoload -U compinit && compinit -u", "source <(kmeshctl completion zsh)"]
    return shell_pty.type_tab(argv, setup, line, tree, _env(tree), tabs=2)


zsh_installed = pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
fish_installed = pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")


# ------------------------------------------------------------------ 1. namespaces from the cluster


def test_namespaces_complete_from_the_cluster_the_line_names(tree: Path, standin: Path) -> None:
    kc = f"kmeshctl --kubeconfig {standin}"
    assert bash(f"{kc} enable-ns ", tree) == ENROLLABLE  # not those enable-ns refuses
    assert bash(f"{kc} waypoint apply -n ", tree) == ENROLLABLE  # waypoint apply refuses them too
    assert bash(f"{kc} disable-ns h46-", tree) == ["h46-apps", "h46-team"]
    assert bash(f"{kc} enable-ns h46-apps ", tree) == [n for n in ENROLLABLE if n != "h46-apps"]  # not twice
    assert bash("kmeshctl enable-ns ", tree, KUBECONFIG=str(standin)) == ENROLLABLE  # KUBECONFIG too
    assert bash(f"kmeshctl enable-ns --kubeconfig {standin} d", tree) == ["default"]  # given after the command
    for line in ("status -n ", "waypoint list -n ", "install --istio-namespace ", "dump config --pod x -n ",
                 "version --namespace="):
        assert bash(f"{kc} {line}", tree) == NAMESPACES, line
    assert bash(f"{kc} -n ", tree) == NAMESPACES  # before the command: asked once for all


def test_pods_and_waypoints_complete_from_the_cluster(tree: Path, standin: Path) -> None:
    kc = f"kmeshctl --kubeconfig {standin}"
    assert bash(f"{kc} dump config --pod ", tree) == AGENT_PODS  # kmesh's namespace by default
    assert bash(f"{kc} dump maps -n h46-apps --pod ", tree) == ["h46-client"]
    assert bash(f"{kc} waypoint status -n h46-apps --name ", tree) == ["h46-wp"]  # not the other class
    assert bash(f"{kc} waypoint delete --name ", tree) == []  # the context's namespace: none there
    assert protocol(f"{kc} waypoint apply --name ", tree) == [NOTHING_LINE]  # a new name


def test_namespaces_complete_in_the_interactive_shells(tree: Path, standin: Path) -> None:
    shown = interactive("bash", f"kmeshctl --kubeconfig {standin} enable-ns ", tree)
    assert all(n in shown for n in ENROLLABLE) and "kmesh-notes.txt" not in shown, shown


@zsh_installed
def test_namespaces_complete_in_zsh(tree: Path, standin: Path) -> None:
    shown = interactive("zsh", f"kmeshctl --kubeconfig {standin} enable-ns ", tree)
    assert all(n in shown for n in ENROLLABLE) and "kmesh-notes.txt" not in shown, shown
    shown = interactive("zsh", f"kmeshctl --kubeconfig {standin} status -n h46-t", tree)
    assert "h46-team" in shown, shown


@fish_installed
def test_namespaces_complete_in_fish(tree: Path, standin: Path) -> None:
    assert fish(f"kmeshctl --kubeconfig {standin} enable-ns ", tree) == ENROLLABLE
    assert fish(f"kmeshctl --kubeconfig {standin} waypoint list -n=h46-a", tree) == ["-n=h46-apps"]


# ------------------------------------------------------------------ 2. no cluster: nothing, quickly


def test_without_a_cluster_answering_a_namespace_completes_nothing_quickly(tree: Path) -> None:
    silent = SilentApiServer()
    try:
        dead = tree / "dead.yaml"
        dead.write_text(silent_kubeconfig(tree / "s.yaml", silent.port).read_text().replace(
            f"127.0.0.1:{silent.port}", "127.0.0.1:1"))
        for kubeconfig in (str(tree / "s.yaml"), str(dead), str(tree / "none.yaml")):
            for line in (f"kmeshctl --kubeconfig {kubeconfig} enable-ns ", f"kmeshctl --kubeconfig {kubeconfig} -n "):
                started = time.monotonic()
                assert protocol(line, tree) == [NOTHING_LINE], line
                # the lookup is bounded at 2 s: a loaded machine starts slowly, an unbounded one waits for good
                assert time.monotonic() - started < 20, line
        assert protocol("kmeshctl disable-ns ", tree) == [NOTHING_LINE]  # no kubeconfig at all
        shown = interactive("bash", f"kmeshctl --kubeconfig {tree / 's.yaml'} enable-ns ", tree)
        assert "kmesh-notes.txt" not in shown and "home/" not in shown, shown
    finally:
        silent.stop()


# ------------------------------------------------------------------ 3. no argument falls back to files


def _argument_lines() -> list[str]:
    """`kmeshctl WORDS ` for every command: the word completed is a positional argument
    (or none: the command takes no argument)."""
    return [" ".join(["kmeshctl", *words, *REQUIRED_ARGS.get(tuple(words), []), ""]) for words, _ in leaf_commands()]


def test_no_positional_argument_falls_back_to_file_names(tree: Path, answer: Callable[[str], list[str]]) -> None:
    for line in _argument_lines():
        offered = answer(line)
        assert offered and "kmesh-notes.txt" not in offered and ":kmeshctl-complete-file:" not in offered, line
    assert protocol("kmeshctl status ", tree) == [NOTHING_LINE]
    assert protocol("kmeshctl sandbox exec netutils ", tree) == [NOTHING_LINE]
    for line in ("kmeshctl status ", "kmeshctl sandbox exec netutils ", "kmeshctl completion bash "):
        shown = interactive("bash", line, tree)
        assert "kmesh-notes.txt" not in shown and "home/" not in shown, (line, shown)
    # after `--` the words are the pod's command: the shell's own completion (files) stays
    shown = interactive("bash", "kmeshctl sandbox exec netutils -- cat kmesh-no", tree)
    assert "kmesh-notes.txt" in shown, shown


@zsh_installed
def test_no_positional_argument_falls_back_to_file_names_in_zsh(tree: Path) -> None:
    for line in ("kmeshctl enable-ns ", "kmeshctl status ", "kmeshctl sandbox exec netutils "):
        shown = interactive("zsh", line, tree)
        assert "kmesh-notes.txt" not in shown and "home/" not in shown, (line, shown)


@fish_installed
def test_no_positional_argument_falls_back_to_file_names_in_fish(tree: Path) -> None:
    for line in ("kmeshctl enable-ns ", "kmeshctl status ", "kmeshctl dump maps "):
        assert fish(line, tree) == [], line


# ------------------------------------------------------------------ 4. sandbox names


def _sandbox_name_options() -> list[tuple[list[str], str]]:
    """(command words, flag) of every option that names an existing sandbox."""
    found = []
    for words, command in leaf_commands():
        for param in command.params:
            if param.param_type_name == "option" and (
                    (param.name == "name" and words[0] in ("sandbox", "demo")) or param.name == "sandbox"):
                found.append((words, param.opts[0]))
    return found


def test_every_sandbox_name_option_completes_the_sandboxes(tree: Path, answer: Callable[[str], list[str]]) -> None:
    options = _sandbox_name_options()
    assert {" ".join(w) for w, _ in options} >= {"sandbox status", "sandbox down", "sandbox exec", "sandbox up",
                                                 "dump maps", "dump config", "demo traffic-shift"}
    for words, flag in options:
        line = " ".join(["kmeshctl", *words, flag, ""])
        expected = [NOTHING_LINE] if words == ["sandbox", "up"] else SANDBOXES  # up: a new name
        assert answer(line) == expected, line
    assert bash("kmeshctl sandbox status --name h46-b", tree) == ["h46-beta"]
    assert bash("kmeshctl sandbox status -o json --name ", tree) == SANDBOXES
    shown = interactive("bash", "kmeshctl sandbox status --name h46-", tree)  # their common prefix: listed
    assert all(n in shown for n in SANDBOXES) and "kmesh-notes.txt" not in shown, shown


def test_sandbox_exec_namespace_completes_its_pods_namespaces(tree: Path) -> None:
    assert bash("kmeshctl sandbox exec --name h46-beta -n ", tree) == ["h46-two"]
    assert bash("kmeshctl sandbox exec -n ", tree, KMESHCTL_SANDBOX_NAME="h46-alpha") == ["h46-one"]


@zsh_installed
def test_sandbox_names_complete_in_zsh(tree: Path) -> None:
    shown = interactive("zsh", "kmeshctl sandbox status --name h46-", tree)
    assert all(n in shown for n in SANDBOXES), shown


@fish_installed
def test_sandbox_names_complete_in_fish(tree: Path) -> None:
    assert fish("kmeshctl sandbox status --name ", tree) == SANDBOXES
    assert fish("kmeshctl dump maps --sandbox=h46-a", tree) == ["--sandbox=h46-alpha"]


# ------------------------------------------------------------------ 5. --kubernetes-version


def test_kubernetes_version_completes_the_accepted_versions(tree: Path) -> None:
    accepted = list(supported_kubernetes_versions())
    assert len(accepted) > 1
    for command in ("render", "install"):
        offered = bash(f"kmeshctl {command} --kubernetes-version ", tree)
        assert offered == accepted, offered
        for version in offered:
            check_kubernetes_version(version)
    assert bash("kmeshctl render --kubernetes-version=1.3", tree) == [v for v in accepted if v.startswith("1.3")]
    shown = interactive("bash", "kmeshctl install --kubernetes-version 1.", tree)  # no prefix to insert: listed
    assert accepted[0] in shown and accepted[-1] in shown and "kmesh-notes.txt" not in shown, shown


@zsh_installed
def test_kubernetes_version_completes_in_zsh(tree: Path) -> None:
    shown = interactive("zsh", "kmeshctl render --kubernetes-version 1.", tree)
    accepted = supported_kubernetes_versions()
    assert accepted[0] in shown and accepted[-1] in shown, shown


@fish_installed
def test_kubernetes_version_completes_in_fish(tree: Path) -> None:
    assert sorted(fish("kmeshctl install --kubernetes-version ", tree)) == sorted(supported_kubernetes_versions())


# ------------------------------------------------------------------ 6. every value option


def test_every_value_option_completes_its_values_or_is_free_form(answer: Callable[[str], list[str]]) -> None:
    """An option taking a value has a completer (a rule, a choice) or is a path, unless
    declared free-form above; a free-form one offers nothing, never file names."""
    from kmeshctl.cli import app  # noqa: F401 (the commands registered)
    from kmeshctl.cli.completion import attach_value_completers
    from test_cli_kinds import ROOT

    attach_value_completers(ROOT)
    for words, command in leaf_commands():
        for param in command.params:
            if not takes_value(param) or param.param_type_name != "option" or path_kind(param):
                continue
            completes = param._custom_shell_complete is not None or param.type_descriptor.is_choice
            where = " ".join([*words, param.opts[0]])
            assert completes or param.name in FREE_FORM, f"{where}: no completion and not declared free-form"
            if not completes:
                line = " ".join(["kmeshctl", *words, *REQUIRED_ARGS.get(tuple(words), []), param.opts[0], ""])
                assert answer(line) == [NOTHING_LINE], line


def test_fixed_sets_and_known_names_complete_in_bash(tree: Path) -> None:
    assert bash("kmeshctl status -o ", tree) == ["table", "wide", "json", "yaml"]
    assert bash("kmeshctl node run --log-level ", tree) == ["debug", "info", "warning", "error"]
    assert bash("kmeshctl demo traffic-shift --target ", tree) == ["auto", "local", "cluster"]
    assert bash("kmeshctl install --mode ", tree) == ["dual-engine"]
    assert bash("kmeshctl dump maps --map km_b", tree) == ["km_backend"]
    assert bash("kmeshctl bench dataplane --paths direct,kmesh-", tree) == ["direct,kmesh-l4", "direct,kmesh-waypoint"]
    assert "direct" not in bash("kmeshctl bench dataplane --paths direct,", tree)
    assert bash("kmeshctl bench dataplane --loads paced-1k,c", tree) == ["paced-1k,closed-4"]
    assert bash("kmeshctl waypoint apply -o ", tree) == ["yaml", "json"]


@zsh_installed
def test_fixed_sets_complete_in_zsh(tree: Path) -> None:
    shown = interactive("zsh", "kmeshctl node run --log-level ", tree)
    assert all(v in shown for v in ("debug", "info", "warning", "error")), shown
    shown = interactive("zsh", "kmeshctl dump maps --map km_", tree)
    assert "km_backend" in shown and "kmesh-notes.txt" not in shown, shown


@fish_installed
def test_fixed_sets_complete_in_fish(tree: Path) -> None:
    assert sorted(fish("kmeshctl demo traffic-shift --target ", tree)) == ["auto", "cluster", "local"]  # fish sorts
    assert fish("kmeshctl bench dataplane --loads paced-1k,c", tree) == ["paced-1k,closed-4"]
    assert fish("kmeshctl dump maps --map km_b", tree) == ["km_backend"]
