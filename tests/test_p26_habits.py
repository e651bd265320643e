"""Pass-26 new-user findings on other tools' habits (fixer F26-8), in-process through
kmeshctl.cli.main (sandbox records in a temporary state root; no cluster configured unless
a test writes a kubeconfig; a pasted kmeshctl line must get past parsing and every flag
check: the commands' own work is stubbed to exit 7):

- 11: `sandbox describe|get|show|info NAME`, `sandbox ls`, `sandbox rm|delete|remove NAME`
  (and `waypoint get|rm NAME`) get the whole command, as kubectl's verb-first order does;
- 4b: every suggested kmeshctl line keeps the --kubeconfig / --context typed (a line click
  refused before the root read them too); `describe` alone is `kmeshctl status`;
- 7: istioctl's, helm's and cilium's install flags (-y, --skip-confirmation, --revision,
  --version, --values, --set-string), `version --short`, `enable-ns -w`, `enable-ns
  --all`, a --timeout where --request-timeout is meant get a hint; --timeout with --wait
  off warns that it does nothing.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import typer

from kmeshctl.cli import app
from kmeshctl.cli.badinput import COMMAND_HABITS
from kmeshctl.cli.command_hints import GROUP_VERBS, WORD_HABITS
from kmeshctl.cli.suggestions import LOCAL_GROUPS
from test_cli_kinds import _record, cli, no_env, state_root  # noqa: F401
from test_p23_command_hints import BACKTICKED, STUBBED, _assert_pastable, _hint, _line, stubbed  # noqa: F401

ROOT = typer.main.get_command(app)


@pytest.fixture
def offline(tmp_path: Path, monkeypatch, no_env) -> None:  # noqa: F811
    """No cluster configured: no ~/.kube/config, no $KUBECONFIG."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
def kubeconfig(tmp_path: Path) -> str:
    """A kubeconfig with one context, `c` (never connected to: the hints only name it)."""
    path = tmp_path / "f268-kubeconfig"
    path.write_text("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
                    "contexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n"
                    "users:\n- name: u\n  user: {token: x}\n")
    return str(path)


def _commands(line: str, program: str = "kmeshctl") -> list[list[str]]:
    return [shlex.split(found) for found in BACKTICKED.findall(line) if found.startswith(program)]


# ------------------------------------------------------------------ 11. `sandbox VERB NAME`


@pytest.mark.parametrize("verb", ["describe", "get", "show", "info"])
def test_sandbox_describe_or_get_a_name_is_sandbox_status_with_it(verb: str, state_root, stubbed, capsys,  # noqa: F811
                                                                  offline) -> None:
    _record("f268a")
    assert _hint(capsys, "sandbox", verb, "f268a") == ["kmeshctl", "sandbox", "status", "--name", "f268a"]
    assert _hint(capsys, "sandbox", verb, "f268a", "-o", "wide") == [
        "kmeshctl", "sandbox", "status", "--name", "f268a", "-o", "wide"]


@pytest.mark.parametrize("words", [["sandbox", "ls"], ["sandbox", "get"], ["sandbox", "ls", "-o", "json"]],
                         ids=" ".join)
def test_sandbox_ls_or_get_is_sandbox_list(words: list[str], state_root, stubbed, capsys,  # noqa: F811
                                           offline) -> None:
    assert _hint(capsys, *words) == ["kmeshctl", "sandbox", "list", *words[2:]]


@pytest.mark.parametrize("verb", ["rm", "delete", "remove"])
def test_sandbox_rm_a_name_is_sandbox_down_with_it(verb: str, state_root, stubbed, capsys,  # noqa: F811
                                                   offline) -> None:
    _record("f268a")
    line = _line(capsys, "sandbox", verb, "f268a")
    assert f"kmeshctl sandbox has no command {verb}; did you mean down? to remove sandbox f268a: `kmeshctl " \
           "sandbox down --name f268a`" in line, line
    _assert_pastable(capsys, line)
    line = _line(capsys, "sandbox", verb)
    # t39b 4: the one sandbox of this machine gets its line, not the NAME template
    assert "sandboxes are removed by name: `kmeshctl sandbox down --name f268a`" in line, line


@pytest.mark.parametrize("words", [["sandbox", "rm", "--all"], ["delete", "sandboxes", "--all"]], ids=" ".join)
def test_removing_every_sandbox_as_kubectl_spells_it_is_sandbox_down_all(words: list[str], state_root,  # noqa: F811
                                                                         stubbed, capsys, offline) -> None:
    assert _hint(capsys, *words) == ["kmeshctl", "sandbox", "down", "--all"]  # stubbed: nothing is removed


def test_sandbox_describe_without_a_name_names_one_of_several(state_root, stubbed, capsys,  # noqa: F811
                                                              offline) -> None:
    _record("f268a")
    assert _hint(capsys, "sandbox", "describe") == ["kmeshctl", "sandbox", "status"]  # the only one: picked
    _record("f268b")
    line = _line(capsys, "sandbox", "describe")
    assert "`kmeshctl sandbox status --name f268a` (sandboxes: f268a, f268b)" in line, line
    _assert_pastable(capsys, line)


def test_sandbox_verb_of_a_sandbox_that_does_not_exist_lists_them(state_root, stubbed, capsys,  # noqa: F811
                                                                  offline) -> None:
    _record("f268a")
    line = _line(capsys, "sandbox", "describe", "f268z")
    assert "--name f268z: no sandbox has this name (sandboxes: f268a)" in line and not _commands(line), line


@pytest.mark.parametrize("words,command", [
    (["waypoint", "get", "wp"], ["waypoint", "status", "--name", "wp"]),
    (["waypoint", "describe", "wp", "-n", "team-a"], ["waypoint", "status", "--name", "wp", "-n", "team-a"]),
    (["waypoint", "rm", "wp"], ["waypoint", "delete", "--name", "wp"]),
    (["waypoint", "ls"], ["waypoint", "list"]),
], ids=" ".join)
def test_waypoint_group_verbs_get_the_whole_command(words: list[str], command: list[str], stubbed, capsys,  # noqa: F811
                                                    offline) -> None:
    assert _hint(capsys, *words) == ["kmeshctl", *command]


def test_help_of_a_group_verb_still_points_at_the_command_to_ask_help_of(capsys, offline) -> None:
    code, _, err = cli(capsys, "help", "sandbox", "describe")
    # the help line to paste (t48a 11: a did-you-mean with its line), never the command run for real
    assert code == 2 and "did you mean status? `kmeshctl help sandbox status`" in err, err


# ------------------------------------------------------------------ 4b. the cluster flags typed


@pytest.mark.parametrize("words,command", [(["describe"], ["status"]), (["get"], ["status"]),
                                           (["get", "-o", "json"], ["status", "-o", "json"])], ids=" ".join)
def test_describe_alone_is_status(words: list[str], command: list[str], stubbed, capsys, offline,  # noqa: F811
                                  kubeconfig: str) -> None:
    assert _hint(capsys, *words) == ["kmeshctl", *command]
    assert _hint(capsys, "--kubeconfig", kubeconfig, *words) == ["kmeshctl", "--kubeconfig", kubeconfig, *command]
    assert _hint(capsys, *words, "--context", "c", "--kubeconfig", kubeconfig) == [
        "kmeshctl", "--kubeconfig", kubeconfig, "--context", "c", *command]  # typed after: carried all the same


def test_waypoint_delete_all_keeps_the_kubeconfig(stubbed, capsys, offline, kubeconfig: str) -> None:  # noqa: F811
    line = _line(capsys, "waypoint", "delete", "--all", "--kubeconfig", kubeconfig)
    assert f"`kmeshctl --kubeconfig {kubeconfig} waypoint list -A` lists them" in line, line
    _assert_pastable(capsys, line)


_VALUED = {"--sandbox": "f268a", "--name": "f268a", "--for": "service", "-f": "v.yaml", "--filename": "v.yaml",
           "--values": "v.yaml", "--set": "a=b", "--set-string": "a=b", "--set-file": "a=b", "--version": "0.2.0",
           "-r": "1-22", "--revision": "1-22"}
_VERB_LINES = [["describe"], ["get", "-o", "json"], ["describe", "waypoint", "wp"], ["get", "waypoints"],
               ["delete", "waypoint"], ["get", "status"], ["waypoint", "get", "wp"], ["waypoint", "rm", "wp"],
               ["waypoint", "ls"], ["get", "pods"], ["stauts"], ["-n", "x"], ["waypoint", "-n"], ["status", "-A"],
               ["enable-ns", "--all"], ["enable-ns", "-A"], ["enable-ns", "default", "-w"],
               ["status", "--timeout", "5s"], ["install", "-y"], ["sandbox", "rm", "--all"]]


def _habit_lines() -> list[list[str]]:
    """Every COMMAND_HABITS and WORD_HABITS case (with a value where the flag takes one),
    and kubectl's verbs and other hinted lines."""
    flags = [[*command.split(), flag, *([_VALUED[flag]] if flag in _VALUED else [])]
             for command, flag in COMMAND_HABITS]
    return [*flags, *([*path, word] for path, word in WORD_HABITS), *_VERB_LINES]


def _carries(words: list[str], flag: str, value: str) -> bool:
    own = words[:words.index("--")] if "--" in words else words
    return any(own[i:i + 2] == [flag, value] for i in range(len(own))) or f"{flag}={value}" in own


@pytest.mark.parametrize("where", ["before", "after"])
@pytest.mark.parametrize("words", _habit_lines(), ids=" ".join)
def test_every_suggested_command_keeps_the_cluster_flags_typed(words: list[str], where: str, state_root,  # noqa: F811
                                                               stubbed, capsys, offline, kubeconfig: str) -> None:
    _record("f268a")
    cluster = ["--kubeconfig", kubeconfig, "--context", "c"]
    code, out, err = cli(capsys, *(cluster + words if where == "before" else words + cluster))
    assert code == 2 and "Traceback" not in err, (code, out, err)
    for command in _commands(err):
        if command[1:2] and command[1] in LOCAL_GROUPS or "--help" in command:
            continue  # a local command, a help line: no cluster is read
        assert _carries(command, "--kubeconfig", kubeconfig) and _carries(command, "--context", "c"), err
    for command in _commands(err, "kubectl"):
        assert _carries(command, "--kubeconfig", kubeconfig) and _carries(command, "--context", "c"), err


# ------------------------------------------------------------------ 7. other tools' flags


@pytest.mark.parametrize("words,said,command", [
    (["install", "-y"], "install does not ask: leave -y out", None),
    (["install", "--skip-confirmation"], "install does not ask: leave --skip-confirmation out", None),
    (["uninstall", "--skip-confirmation"], "uninstall does not ask: leave --skip-confirmation out", None),
    (["install", "--revision", "1-22-6"], "kmesh has no revisions of its own (istioctl's --revision)",
     ["install", "--xds-address", "istiod-1-22-6.istio-system.svc:15012"]),
    (["install", "-r", "asm-1-22", "--istio-namespace", "istio-asm"], "the istiod-<revision> Service",
     ["install", "--istio-namespace", "istio-asm", "--xds-address", "istiod-asm-1-22.istio-asm.svc:15012"]),
    (["version", "--short"], "version's lines are short already", ["version"]),
    (["install", "--version", "0.2.0"], "the node agent's version is its image's tag (helm's and cilium's --version)",
     ["install", "--image", "docker.io/kmeshctl/kmeshctl-node:0.2.0"]),
    (["install", "--values", "v.yaml"], "install reads no values file (helm's and cilium's --values): each setting "
                                        "is a flag of its own", None),
    (["install", "--set-string", "a=b"], "install has no --set-string (helm's and cilium's): each setting is a "
                                         "flag of its own", None),
    (["enable-ns", "default", "-w"], "did you mean --wait?", ["enable-ns", "default", "--wait"]),
    (["disable-ns", "-w", "default"], "did you mean --wait?", ["disable-ns", "default", "--wait"]),
    (["-w", "enable-ns", "default"], "did you mean --wait?", ["enable-ns", "default", "--wait"]),
    (["enable-ns", "--all"], "--all: kmeshctl enable-ns has no all-namespaces form; give the namespaces by name",
     ["enable-ns", "default"]),
    (["disable-ns", "--all"], "give the namespaces by name", ["disable-ns", "default"]),
    (["--timeout", "5s", "status"], "did you mean --request-timeout (how long one API request may take; status "
                                    "waits for nothing else)?", ["--request-timeout", "5s", "status"]),
    (["status", "--timeout=5s"], "did you mean --request-timeout", ["status", "--request-timeout=5s"]),
], ids=lambda value: " ".join(value) if isinstance(value, list) else "")
def test_other_tools_flags_get_what_kmeshctl_does(words: list[str], said: str, command: list[str] | None,
                                                  stubbed, capsys, offline) -> None:  # noqa: F811
    line = _line(capsys, *words)
    assert said in line, line
    if command is not None:
        assert _commands(line)[0] == ["kmeshctl", *command], line
    for pasted in _commands(line):
        code, _, err = cli(capsys, *pasted[1:])
        assert code == (0 if "--help" in pasted else STUBBED), (pasted, code, err)


def _waiting_commands() -> list[list[str]]:
    """The commands with --timeout and --wait/--no-wait."""
    found: list[list[str]] = []

    def visit(command, words: list[str]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            names = {p.name for p in sub.params}
            if hasattr(sub, "commands"):
                visit(sub, [*words, name])
            elif {"timeout", "wait"} <= names:
                found.append([*words, name])

    visit(ROOT, [])
    return found


ARGUMENTS = {("enable-ns",): ["default"], ("disable-ns",): ["default"]}


def _run(capsys, words: list[str], *flags: str) -> str:
    code, _, err = cli(capsys, *words, *ARGUMENTS.get(tuple(words), []), *flags)
    assert code == STUBBED, (code, err)
    return err


@pytest.mark.parametrize("words", _waiting_commands(), ids=" ".join)
def test_timeout_without_wait_warns_it_does_nothing(words: list[str], stubbed, capsys, offline) -> None:  # noqa: F811
    assert words  # install, enable-ns, disable-ns, waypoint apply
    err = _run(capsys, words, "--no-wait", "--timeout", "5s")
    assert err == f"Warning: --timeout has effect only with --wait ({' '.join(words)} does not wait without it)\n", err
    assert _run(capsys, words, "--wait", "--timeout", "5s") == ""
    assert _run(capsys, words, "--no-wait") == ""  # --timeout not typed: its default is no one's choice


def test_timeout_with_dry_run_warns_nothing_waits(stubbed, capsys, offline) -> None:  # noqa: F811
    # pass 29: a dry run applies nothing, so --timeout bounds nothing: said, as without --wait
    assert _run(capsys, ["waypoint", "apply"], "--dry-run", "--timeout", "5") == \
        "Warning: --timeout has no effect with --dry-run (nothing is changed, so nothing is waited for)\n"
    assert _run(capsys, ["waypoint", "apply"], "--dry-run") == ""


def test_the_commands_that_wait_are_found() -> None:
    assert ["waypoint", "apply"] in _waiting_commands() and ["enable-ns"] in _waiting_commands()


def test_group_verbs_are_kubectls() -> None:
    assert set(GROUP_VERBS.values()) == {"describe", "get", "delete", "create"}
