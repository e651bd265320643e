"""Pass-26 new-user findings on hint lines (fixer F26-3), in-process through
kmeshctl.cli.main (sandbox records in a temporary state root; no cluster configured; a
pasted kmeshctl line must get past parsing and every flag check: the commands' own work
is stubbed to exit 7):

- 7: -A on a command whose -n chooses the one namespace it runs in says to choose it;
- 8: istioctl's, cilium's and bpftool's command words (`logs`, `proxy-config`, `map list`,
  `dump services`) get the kmeshctl command that does that work; `dump -w maps` gets the
  no-watch-mode hint `dump maps -w` gets;
- 9: `waypoint apply --enroll-namespace` gets a kubectl line with the namespace it uses;
- 10: `waypoint list|status --sandbox NAME`, and `waypoint list` with no cluster while
  sandboxes are up, point at `sandbox status --name NAME`;
- 4: `sandbox logs|ps|top NAME` and `describe sandbox` keep the name, or with several
  sandboxes up name one of them (a line without a name would be refused).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import typer

from kmeshctl.cli import app
from kmeshctl.cli.cmdline import option_spelled
from kmeshctl.cli.suggestions import SYSTEM_NAMESPACE_COMMANDS
from test_cli_kinds import _record, cli, no_env, state_root  # noqa: F401
from test_p23_command_hints import BACKTICKED, STUBBED, _assert_pastable, _line, stubbed  # noqa: F401

ROOT = typer.main.get_command(app)


@pytest.fixture
def offline(tmp_path: Path, monkeypatch, no_env) -> None:  # noqa: F811
    """No cluster configured: no ~/.kube/config, no $KUBECONFIG."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def _kmeshctl_lines(line: str) -> list[list[str]]:
    return [shlex.split(found) for found in BACKTICKED.findall(line) if found.startswith("kmeshctl")]


# ------------------------------------------------------------------ 7. -A where -n chooses the namespace


def _leaves_with_own_namespace() -> list[list[str]]:
    """Commands whose -n is the namespace they act in (not kmesh's own) and that have no -A."""
    found: list[list[str]] = []

    def visit(command, words: list[str]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            if hasattr(sub, "commands"):
                visit(sub, [*words, name])
            elif option_spelled(sub, "-n") is not None and option_spelled(sub, "-A") is None \
                    and (*words, name) not in SYSTEM_NAMESPACE_COMMANDS:
                found.append([*words, name])

    visit(ROOT, [])
    return found


@pytest.mark.parametrize("flag", ["-A", "--all-namespaces"])
@pytest.mark.parametrize("where", ["after", "before"])
def test_all_namespaces_on_the_demo_says_to_choose_its_namespace(capsys, offline, flag: str, where: str) -> None:
    words = ["demo", "traffic-shift", flag] if where == "after" else [flag, "demo", "traffic-shift"]
    line = _line(capsys, *words)
    assert "it runs in one namespace: choose it with -n NAMESPACE" in line, line
    assert "no Kubernetes namespaces" not in line, line


@pytest.mark.parametrize("words", _leaves_with_own_namespace(), ids=" ".join)
def test_no_command_with_an_own_namespace_says_it_works_on_none(capsys, offline, words: list[str]) -> None:
    args = [*words, "pod"] if words == ["sandbox", "exec"] else words  # exec's POD is read first
    line = _line(capsys, *args, "-A")
    assert "no Kubernetes namespaces" not in line and "-n" in line.split("(see")[0], line


# ------------------------------------------------------------------ 8. other tools' command words


@pytest.mark.parametrize("words,command", [
    (["proxy-config"], ["dump", "config"]),
    (["proxy-config", "all", "-o", "json"], ["dump", "config", "-o", "json"]),
    (["ztunnel-config", "workloads"], ["dump", "config"]),
    (["proxy-status"], ["status"]),
    (["manifest", "generate"], ["render"]),
    (["analyze"], ["precheck"]),
    (["bpf", "lb", "list"], ["dump", "maps"]),
    (["map", "list"], ["dump", "maps"]),
    (["-o", "json", "map", "list"], ["dump", "maps", "-o", "json"]),
    (["dump", "services"], ["dump", "config"]),
    (["dump", "workloads", "-o", "yaml"], ["dump", "config", "-o", "yaml"]),
    (["dump", "endpoints"], ["dump", "config"]),
    (["dump", "policies"], ["dump", "config"]),
], ids=" ".join)
def test_other_tools_command_words_get_the_kmeshctl_command(state_root, stubbed, capsys, offline,  # noqa: F811
                                                            words: list[str], command: list[str]) -> None:
    line = _line(capsys, *words)
    assert f"has no command {words[2] if words[0] == '-o' else words[1] if words[0] == 'dump' else words[0]};" \
        in line, line
    assert "its commands:" not in line, line
    pasted = _kmeshctl_lines(line)
    assert pasted and pasted[0][1:len(command) + 1] == command[:len(pasted[0]) - 1], line
    assert all(w in pasted[0] for w in command), line
    _assert_pastable(capsys, line)


def test_upgrade_points_at_install_without_a_line_that_would_change_the_install(capsys, offline) -> None:
    line = _line(capsys, "upgrade")
    assert "run kmeshctl install again with your install's flags and the new --image NAME" in line, line
    assert [w[:2] for w in _kmeshctl_lines(line)] == [["kmeshctl", "version"]], line


def test_logs_names_the_agents_on_a_cluster_and_a_sandboxs_logs(state_root, stubbed, capsys,  # noqa: F811
                                                                 offline) -> None:
    line = _line(capsys, "logs")
    assert "`kubectl logs -n kmesh-system -l app=kmesh`" in line, line
    assert "`kmeshctl sandbox status -o wide`" in line, line
    _assert_pastable(capsys, line)
    line = _line(capsys, "-n", "kmesh", "logs", "-f")
    assert "`kubectl logs -n kmesh -l app=kmesh`" in line and "(sandbox status takes no -f)" in line, line
    line = _line(capsys, "--kubeconfig", "/tmp/f263-k", "logs")
    assert "`kubectl logs -n kmesh-system -l app=kmesh --kubeconfig /tmp/f263-k`" in line, line


def test_a_flag_the_command_takes_only_with_another_is_left_out_and_said(state_root, stubbed, capsys,  # noqa: F811
                                                                         offline) -> None:
    line = _line(capsys, "proxy-config", "-n", "istio-system")
    assert "`kmeshctl dump config`" in line and "dump config takes -n only with --pod POD" in line, line
    _assert_pastable(capsys, line)


def test_help_of_another_tools_word_gets_the_same_pointer(capsys, offline) -> None:
    code, _, err = cli(capsys, "help", "proxy-status")
    assert code == 2 and "`kmeshctl status`" in err, err


@pytest.mark.parametrize("words", [["dump", "-w", "maps"], ["dump", "--watch", "config"], ["sandbox", "-w", "list"],
                                   ["waypoint", "-w", "list"]], ids=" ".join)
def test_watch_before_the_subcommand_gets_the_no_watch_mode_hint(capsys, offline, words: list[str]) -> None:
    line = _line(capsys, *words)
    command = f"{words[0]} {words[2]}"
    assert f"{command} shows the state once, it has no watch mode: leave {words[1]} out" in line, line


# ------------------------------------------------------------------ 9. --enroll-namespace


def _kubectl_label(line: str) -> list[str]:
    [found] = [shlex.split(b) for b in BACKTICKED.findall(line) if b.startswith("kubectl")]
    return found


def test_enroll_namespace_labels_the_namespace_the_waypoint_goes_in(stubbed, capsys, offline,  # noqa: F811
                                                                    tmp_path: Path) -> None:
    line = _line(capsys, "waypoint", "apply", "--enroll-namespace")
    assert _kubectl_label(line) == ["kubectl", "label", "namespace", "default", "istio.io/use-waypoint=waypoint"], line
    _assert_pastable(capsys, line)
    line = _line(capsys, "waypoint", "apply", "--namespace", "team-a", "--name=wp", "--enroll-namespace")
    assert _kubectl_label(line)[3:] == ["team-a", "istio.io/use-waypoint=wp"], line
    config = tmp_path / "kubeconfig"
    config.write_text("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
                      "contexts:\n- name: c\n  context: {cluster: c, user: u, namespace: team-b}\n"
                      "current-context: c\nusers:\n- name: u\n  user: {token: x}\n")
    line = _line(capsys, "--kubeconfig", str(config), "waypoint", "apply", "--enroll-namespace", "--context", "c")
    assert _kubectl_label(line) == ["kubectl", "label", "namespace", "team-b", "istio.io/use-waypoint=waypoint",
                                    "--kubeconfig", str(config), "--context", "c"], line
    assert "NAMESPACE" not in line, line


# ------------------------------------------------------------------ 10. waypoints of a sandbox


@pytest.mark.parametrize("command", ["list", "status", "apply", "delete"])
def test_waypoint_given_a_sandbox_points_at_sandbox_status(state_root, stubbed, capsys, offline,  # noqa: F811
                                                           command: str) -> None:
    _record("f263a")
    line = _line(capsys, "waypoint", command, "--sandbox", "f263a")
    assert "`kmeshctl sandbox status --name f263a`" in line, line
    _assert_pastable(capsys, line)


def test_waypoint_list_with_no_cluster_names_the_sandboxes_up(state_root, capsys, offline) -> None:  # noqa: F811
    code, _, err = cli(capsys, "waypoint", "list")
    assert code == 1 and "no cluster configured" in err and "sandbox" not in err, err
    _record("f263a")
    code, _, err = cli(capsys, "waypoint", "list")
    assert code == 1 and "sandbox f263a is up: a sandbox's waypoints are shown by " \
                         "`kmeshctl sandbox status --name f263a`" in err, err
    _record("f263b")
    code, _, err = cli(capsys, "waypoint", "status", "-n", "team-a")
    assert code == 1 and "sandboxes f263a, f263b are up: a sandbox's waypoints are shown by " \
                         "`kmeshctl sandbox status --name f263a`" in err, err


# ------------------------------------------------------------------ 4. the sandbox a status line names


@pytest.mark.parametrize("word", ["logs", "ps", "top"])
def test_sandbox_logs_keeps_the_name_typed_and_names_one_of_several(word: str, state_root, stubbed,  # noqa: F811
                                                                     capsys, offline, monkeypatch) -> None:
    _record("f263a")
    _record("f263b")
    line = _line(capsys, "sandbox", word, "f263b")
    assert "`kmeshctl sandbox status -o wide --name f263b`" in line and "(sandboxes:" not in line, line
    _assert_pastable(capsys, line)
    line = _line(capsys, "sandbox", word)
    assert "`kmeshctl sandbox status -o wide --name f263a` (sandboxes: f263a, f263b)" in line, line
    _assert_pastable(capsys, line)
    line = _line(capsys, "sandbox", word, "--sandbox", "f263b")
    assert "`kmeshctl sandbox status -o wide --sandbox f263b`" in line, line
    monkeypatch.setenv("KMESHCTL_SANDBOX_NAME", "f263b")  # the line pasted in this shell takes it
    line = _line(capsys, "sandbox", word)
    assert "`kmeshctl sandbox status -o wide`" in line and "(sandboxes:" not in line, line


def test_describe_sandbox_with_several_up_names_one(state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    _record("f263a")
    assert "`kmeshctl sandbox status`" in _line(capsys, "describe", "sandbox")  # the only one: picked by itself
    _record("f263b")
    line = _line(capsys, "describe", "sandbox")
    assert "`kmeshctl sandbox status --name f263a` (sandboxes: f263a, f263b)" in line, line
    _assert_pastable(capsys, line)
