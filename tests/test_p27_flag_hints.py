"""Pass-27 new-user findings on flags (fixer F27-3), in-process through kmeshctl.cli.main
(sandbox records in a temporary state root; no cluster configured; the kubeconfig typed is
a file no one connects to; a pasted kmeshctl line must get past parsing and every flag
check: the commands' own work is stubbed to exit 7):

- 1: a stray word after a command whose flag for it is typed already (`install --cluster-id
  a extra`) is said to be extra, with the line without it;
- 2, 5: a flag of kubectl's, istioctl's, helm's or cilium's (-y, --revision, --dry-run, -w,
  --wait, -f, --grace-period, --version, --values, --set, --timeout, ...) typed on any
  command that lacks it says what the command does instead, never a bare `No such option`;
- 3: kubectl's --dry-run=client|server on each command with a --dry-run describes that
  command's own --dry-run;
- 4: a --timeout on a sandbox command (before or after it) says what the command does.
"""

from __future__ import annotations

import re
import shlex

import pytest
import typer

from kmeshctl.cli import app
from kmeshctl.cli.suggestions import LOCAL_GROUPS
from test_cli_kinds import _record, cli, no_env, state_root  # noqa: F401
from test_p23_command_hints import BACKTICKED, STUBBED, _line, stubbed  # noqa: F401
from test_p23_command_hints import _pasted_lines as _pasted
from test_p26_habits import kubeconfig, offline  # noqa: F401 (fixtures)

ROOT = typer.main.get_command(app)
BARE = re.compile(r"Error: No such option: \S+ \(see '[^']*--help'\)")
SANDBOX = "f273a"  # recorded by the tests that need a sandbox to exist


def _assert_pastable(capsys, line: str) -> None:
    """Each backticked kmeshctl line gets past parsing and every flag check when pasted
    (a `--help` line prints its help)."""
    for words in _pasted(line):
        code, _, err = cli(capsys, *words[1:])
        assert code == (0 if "--help" in words else STUBBED), (line, words, code, err)


# ------------------------------------------------------------------ 1. a stray word beside its flag


# (install's stray word beside --cluster-id is its --namespace since pass 47, f47a: p27_lead below)
@pytest.mark.parametrize("words,given,stray,line", [
    (["dump", "maps", "--map", "km_backend", "km_manage"], "--map km_backend", "km_manage",
     ["dump", "maps", "--map", "km_backend"]),
    (["waypoint", "delete", "--name", "east", "-n", "team", "west"], "--name east", "west",
     ["waypoint", "delete", "--name", "east", "-n", "team"]),
], ids=lambda value: " ".join(value) if isinstance(value, list) else "")
def test_a_stray_word_beside_its_flag_typed_is_extra_with_the_line_without_it(
        words: list[str], given: str, stray: str, line: list[str], stubbed, capsys, offline) -> None:  # noqa: F811
    said = _line(capsys, *words)
    assert f"{given} is given already, so leave out {stray}: `{shlex.join(['kmeshctl', *line])}`" in said, said
    _assert_pastable(capsys, said)


def test_installs_stray_word_beside_the_cluster_id_is_the_namespace_or_no_real_line(stubbed, capsys,  # noqa: F811
                                                                                     offline) -> None:
    xds = ["--xds-address", "istiod.istio-system.svc:15012"]
    said = _line(capsys, "install", "--dry-run", "--cluster-id", "t27b", *xds, "extra")
    assert f"`{shlex.join(['kmeshctl', 'install', '--dry-run', '--cluster-id', 't27b', *xds, '--namespace', 'extra'])}`" \
        in said, said
    _assert_pastable(capsys, said)
    said = _line(capsys, "install", "--cluster-id=t27b", "one", "two")
    assert "so leave out one two, or give the namespace meant with --namespace (no line is offered: install changes " \
           "the cluster" in said and "`" not in said, said


def test_the_line_without_the_stray_word_keeps_the_cluster_flags(stubbed, capsys, offline,  # noqa: F811
                                                                 kubeconfig: str) -> None:
    said = _line(capsys, "--kubeconfig", kubeconfig, "uninstall", "-n", "kmesh-system", "--context", "c",
                 "kmesh-other")
    assert _pasted(said) == [["kmeshctl", "--kubeconfig", kubeconfig, "uninstall", "-n", "kmesh-system",
                              "--context", "c"]], said
    _assert_pastable(capsys, said)


# ------------------------------------------------------------------ 2, 5. other tools' flags on every command

# kubectl's, istioctl's, helm's and cilium's common flags, with a value where they take one
OTHER_TOOLS_FLAGS = [["-y"], ["--yes"], ["--skip-confirmation"], ["-r", "1-22"], ["--revision", "1-22"],
                     ["--dry-run"], ["--dry-run=client"], ["--dry-run=server"], ["-w"], ["--wait"], ["--wait=false"],
                     ["--watch"], ["-f", "x.yaml"], ["--filename", "x.yaml"], ["--grace-period", "0"],
                     ["--grace-period=30"], ["--now"], ["--version", "0.2.0"], ["--values", "v.yaml"],
                     ["--set", "a=b"], ["--set-string", "a=b"], ["--set-file", "a=b"], ["--timeout", "5m"],
                     ["--force"]]
# What a command needs typed for a pasted line to pass its checks: its arguments, the
# sandbox it names (one that exists; `up` makes a new one), render's required flags.
NEEDS = {("enable-ns",): ["default"], ("disable-ns",): ["default"], ("completion",): ["bash"], ("help",): ["status"],
         ("sandbox", "exec"): ["web", "--name", SANDBOX], ("sandbox", "up"): ["--name", "f273b"],
         ("sandbox", "down"): ["--name", SANDBOX], ("sandbox", "status"): ["--name", SANDBOX],
         ("dump", "maps"): ["--sandbox", SANDBOX], ("dump", "config"): ["--sandbox", SANDBOX],
         ("demo", "traffic-shift"): ["--sandbox", SANDBOX], ("waypoint", "delete"): ["--name", "east"],
         ("render",): ["--xds-address", "istiod.istio-system.svc:15012", "--cluster-id", "c1"]}
AFTER = {("sandbox", "exec"): ["--", "true"]}


def _leaves() -> list[list[str]]:
    found: list[list[str]] = []

    def visit(command, words: list[str]) -> None:
        for name, sub in command.commands.items():
            if hasattr(sub, "commands"):
                visit(sub, [*words, name])
            else:
                found.append([*words, name])

    visit(ROOT, [])
    return found


@pytest.fixture
def one_tree(stubbed, monkeypatch) -> None:  # noqa: F811
    """The (stubbed) command tree built once for the many lines of a walk, not once a line."""
    built = typer.main.get_command(app)
    monkeypatch.setattr(typer.main, "get_command", lambda _app: built)


def test_every_command_is_walked() -> None:
    assert {("sandbox", "up"), ("sandbox", "down"), ("waypoint", "apply"), ("waypoint", "delete"), ("uninstall",),
            ("install",), ("render",)} <= {tuple(words) for words in _leaves()}


@pytest.mark.parametrize("words", _leaves(), ids=" ".join)
def test_no_other_tools_flag_gets_a_bare_no_such_option(words: list[str], state_root, one_tree, capsys,  # noqa: F811
                                                        offline, kubeconfig: str) -> None:
    """Every command with each flag: accepted, or one line that says what to do instead;
    every line it suggests pastes, and keeps the sandbox, namespace and cluster flags typed."""
    _record(SANDBOX)
    refused_with_lines_that_paste(capsys, words, NEEDS.get(tuple(words), []), OTHER_TOOLS_FLAGS, kubeconfig)


def refused_with_lines_that_paste(capsys, words: list[str], needs: list[str], flags: list[list[str]],
                                  kubeconfig: str) -> None:
    """``words`` (a command) typed with each of ``flags`` (and ``needs``, its own arguments, and
    a cluster): accepted, or one line that is no bare "No such option"; every line it suggests
    pastes, and keeps the sandbox, namespace and cluster flags typed."""
    cluster = ["--kubeconfig", kubeconfig, "--context", "c"]
    pasted_once: set[str] = set()
    for flag in flags:
        typed = [*words, *needs, *flag, *cluster, *AFTER.get(tuple(words), [])]
        code, out, err = cli(capsys, *typed)
        if code == STUBBED:
            continue  # the command has this flag
        assert code == 2 and "Traceback" not in err, (typed, code, out, err)
        line = err.strip()
        assert len(line.splitlines()) == 1 and not BARE.fullmatch(line), (typed, line)
        for pasted in _pasted(line):
            if "--help" in pasted:
                continue  # a help line reads no cluster, names no sandbox
            same = pasted[1:len(words) + 1] == words
            # the demo's --sandbox beside a cluster is itself refused ("give one of them"): each way
            # offered keeps one side, `--target local` the sandbox, `--target cluster` the cluster flags
            target = pasted[pasted.index("--target") + 1] if "--target" in pasted[:-1] else None
            if same and target != "cluster":  # the line typed, less the flag: every other word kept
                twice = {needs[i + 1] for i, w in enumerate(needs[:-1]) if w.startswith("-") and w in flag}
                assert all(w in pasted for w in needs if w not in twice), (typed, line)
            if (same or pasted[1] not in LOCAL_GROUPS) and target != "local":
                assert _carries(pasted, "--kubeconfig", kubeconfig) and _carries(pasted, "--context", "c"), \
                    (typed, line)
            if "--name" in needs and pasted[1] == "sandbox":  # another sandbox command: the same sandbox
                assert _carries(pasted, "--name", needs[needs.index("--name") + 1]), (typed, line)
        fresh = [found for found in BACKTICKED.findall(line) if found not in pasted_once]
        pasted_once.update(fresh)
        _assert_pastable(capsys, " ".join(f"`{found}`" for found in fresh))


def _carries(words: list[str], flag: str, value: str) -> bool:
    return any(words[i:i + 2] == [flag, value] for i in range(len(words))) or f"{flag}={value}" in words


@pytest.mark.parametrize("words,said,command", [
    # pass 30: `waypoint apply --revision` labels the Gateway (istio.io/rev, as istioctl's); delete has none
    (["waypoint", "delete", "--revision", "1-22", "-n", "team"],
     "waypoint delete takes no --revision: it covers waypoints of any istiod revision (only `waypoint apply` "
     "takes --revision): leave --revision out",  # pass 31 (t31c): not "kmesh has no revisions"
     ["waypoint", "delete", "-n", "team"]),
    (["render", "--cluster-id", "c1", "-r", "asm-1-22"], "its agents follow the istiod --xds-address names",
     ["render", "--cluster-id", "c1", "--xds-address", "istiod-asm-1-22.istio-system.svc:15012"]),
    (["waypoint", "delete", "-y", "--name", "east"], "waypoint delete does not ask (istioctl's -y): leave -y out",
     ["waypoint", "delete", "--name", "east"]),
    (["sandbox", "down", "--yes", "--name", SANDBOX], "sandbox down does not ask",
     ["sandbox", "down", "--name", SANDBOX]),
    (["sandbox", "down", "-f", "examples/fortio/", "--name", SANDBOX],
     "sandbox down removes a sandbox by its name, with everything made from its files (kubectl's -f)",
     ["sandbox", "down", "--name", SANDBOX]),
    (["sandbox", "down", "--grace-period", "0", "--name", SANDBOX],
     "sandbox down has no --grace-period (kubectl delete's): it waits until every process of the sandbox has ended "
     "(SIGTERM, then SIGKILL after 2s)", ["sandbox", "down", "--name", SANDBOX]),
    (["sandbox", "up", "--wait", "--name", "f273b"], "sandbox up has no --wait (kubectl's): it waits until the "
     "sandbox is ready by itself (the node agent within 90s, each pod within 30s",
     ["sandbox", "up", "--name", "f273b"]),
    (["sandbox", "up", "-w", "--name", "f273b"], "sandbox up has no -w", ["sandbox", "up", "--name", "f273b"]),
    (["sandbox", "up", "--dry-run=client", "--name", "f273b"], "sandbox up has no dry run (kubectl's --dry-run): it "
     "changes only this machine, and sandbox down removes everything it makes; `kmeshctl sandbox status --name f273b` "
     "shows whether it is up already", ["sandbox", "status", "--name", "f273b"]),  # pass 44 (t43b 1): no line that changes things
    (["sandbox", "down", "--dry-run", "--name", SANDBOX], "`kmeshctl sandbox status --name f273a` shows what it "
     "would remove", ["sandbox", "status", "--name", SANDBOX]),
    (["enable-ns", "default", "--dry-run=client"], "enable-ns has no dry run (kubectl's --dry-run): it changes only "
     "the label istio.io/dataplane-mode of the namespaces named", ["status"]),
    (["status", "--dry-run"], "status changes nothing, so it has no dry run: leave --dry-run out", ["status"]),
    (["render", "--cluster-id", "c1", "--xds-address", "istiod.istio-system.svc:15012", "--dry-run"],
     "render is install's offline dry run already",
     ["render", "--cluster-id", "c1", "--xds-address", "istiod.istio-system.svc:15012"]),
    (["waypoint", "apply", "--version", "0.2.0"], "waypoint apply runs the version its --image tag names",
     ["waypoint", "apply", "--image", "docker.io/kmeshctl/kmeshctl-waypoint:0.2.0"]),
    (["sandbox", "up", "--values", "v.yaml"], "sandbox up reads no values file (helm's and cilium's --values)",
     ["sandbox", "up", "--help"]),
    (["uninstall", "--grace-period=0"], "uninstall has no --grace-period (kubectl delete's): each object goes with "
     "its own grace period", ["uninstall"]),
], ids=lambda value: " ".join(value) if isinstance(value, list) else "")
def test_other_tools_flags_say_what_the_command_does_instead(words: list[str], said: str, command: list[str],  # noqa
                                                             state_root, stubbed, capsys, offline) -> None:
    _record(SANDBOX)
    line = _line(capsys, *words)
    assert said in line, line
    assert _pasted(line)[0] == ["kmeshctl", *command], line
    _assert_pastable(capsys, line)


# ------------------------------------------------------------------ 3. each command's own --dry-run


@pytest.mark.parametrize("words,does", [
    (["uninstall", "-n", "kmesh-system"], "it is kubectl's --dry-run=server: each delete is sent with dryRun=All, so "
                                          "the API server answers for every object, and nothing is deleted; what "
                                          "would go is listed in order"),
    (["waypoint", "delete", "--name", "east"], "it is kubectl's --dry-run=client: the cluster is read and what would "
                                               "be deleted is said, no delete is sent"),
    (["waypoint", "apply", "-n", "team"], "it is kubectl's --dry-run=server: the API server checks every object, "
                                          "nothing is applied; the objects are printed"),
], ids=lambda value: " ".join(value) if isinstance(value, list) and value[0] != "it" else "")
@pytest.mark.parametrize("value", [["--dry-run=client"], ["--dry-run", "client"], ["--dry-run", "server"]],
                         ids=" ".join)
def test_kubectls_dry_run_values_describe_the_commands_own_dry_run(words: list[str], does: str, value: list[str],
                                                                   stubbed, capsys, offline) -> None:  # noqa: F811
    line = _line(capsys, *words, *value)
    assert f"write --dry-run ({does})" in line and "nothing is changed" not in line, line  # install's words
    assert _pasted(line) == [["kmeshctl", *words, "--dry-run"]], line
    _assert_pastable(capsys, line)


def test_uninstall_dry_run_is_no_objects_printed(stubbed, capsys, offline) -> None:  # noqa: F811
    line = _line(capsys, "uninstall", "--dry-run=client")
    assert "prints the objects" not in line and "lists every object unchecked" in line, line


def test_install_keeps_its_offline_form(stubbed, capsys, offline) -> None:  # noqa: F811
    line = _line(capsys, "install", "--cluster-id", "c1", "--dry-run=client")
    assert "it is kubectl's --dry-run=server" in line and "the offline (client) form is `kmeshctl render" in line, line


# ------------------------------------------------------------------ 4. --timeout on sandbox commands


@pytest.mark.parametrize("words,said,command", [
    (["--timeout", "5m", "sandbox", "up", "--name", "f273b"], "sandbox up has no --timeout (kubectl's and helm's): "
     "it waits until the sandbox is ready by itself", ["sandbox", "up", "--name", "f273b"]),
    (["sandbox", "up", "--timeout=5m"], "sandbox up has no --timeout", ["sandbox", "up"]),
    (["sandbox", "list", "--timeout", "5m"], "sandbox list has no --timeout (kubectl's and helm's): it reads this "
     "machine's sandbox records once and waits for nothing", ["sandbox", "list"]),
    (["sandbox", "status", "--timeout", "5s", "--name", SANDBOX], "sandbox status has no --timeout",
     ["sandbox", "status", "--name", SANDBOX]),
    (["sandbox", "down", "--name", SANDBOX, "--timeout", "5s"], "sandbox down has no --timeout",
     ["sandbox", "down", "--name", SANDBOX]),
    (["sandbox", "exec", "web", "--timeout", "5s", "--", "true"], "it waits for the command it runs to end",
     ["sandbox", "exec", "web", "--", "true"]),
    (["help", "status", "--timeout", "5s"], "help has no --timeout", ["help", "status"]),
], ids=lambda value: " ".join(value) if isinstance(value, list) else "")
def test_a_timeout_on_a_sandbox_command_says_what_it_does(words: list[str], said: str, command: list[str], state_root,
                                                         stubbed, capsys, offline) -> None:  # noqa: F811
    _record(SANDBOX)
    line = _line(capsys, *words)
    assert said in line, line
    assert _pasted(line) == [["kmeshctl", *command]], line
    _assert_pastable(capsys, line)


def test_a_timeout_on_a_command_that_runs_until_stopped_says_so(stubbed, capsys, offline) -> None:  # noqa: F811
    line = _line(capsys, "waypoint", "controller", "--timeout", "5m")
    assert "did you mean --request-timeout (how long one API request may take; waypoint controller runs in the " \
           "foreground until it is stopped)?" in line, line
