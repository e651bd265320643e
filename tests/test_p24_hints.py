"""Pass-24 new-user findings on the hint lines (fixer F4), each as a kind across every
command it can reach (the real command tree through kmeshctl.cli.main, in-process; sandbox
records in a temporary state root, never /run/kmeshctl; no cluster configured):

- A: a stray word the flag it looks like would refuse: the plain reason, never `--X
  refuses VALUE` (a flag the user did not type, or the command does not have), and a
  command that works;
- B: more words than a command of fixed arguments takes (`completion bash zsh`): give one;
- C: a suggested command lacking a flag its command cannot run without says so (or
  carries its value when this machine knows it): never a line refused when pasted;
- D: kubectl/istioctl habits: --wait/--watch/-w on a command that shows the state once, a
  stray word before a real command, `get pods` (a kind of kubectl's);
- E: a terminal table never splits an address (IPv4, IPv6, :port) and no line ends in blanks.
"""

from __future__ import annotations

import io
import re
import shlex
from pathlib import Path

import pytest
import typer
from rich.table import Table
from rich.text import Text

from kmeshctl.cli import app
from kmeshctl.cli.badinput import ONCE_COMMANDS
from kmeshctl.cli.cmdline import GLOBAL_FLAGS, HELP_FLAGS, QUIET_FLAGS, option_spelled, resolve, walk
from kmeshctl.cli.render import REQUIRED_FLAGS
from kmeshctl.cli.tables import cli_console
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_cli_p21_conventions import _line

ROOT = typer.main.get_command(app)
BACKTICKED = re.compile(r"`([^`]*)`")
FLAG = re.compile(r"(?<![\w/`-])(--?[A-Za-z][\w-]*)")


@pytest.fixture
def offline(tmp_path: Path, monkeypatch, no_env, state_root) -> None:  # noqa: F811
    """No cluster configured: no ~/.kube/config, no $KUBECONFIG (a hint never asks one); no
    sandbox but the test's own (the machine's sandboxes change the kubectl-word hints)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def _leaves() -> list[list[str]]:
    found: list[list[str]] = []

    def visit(command, words: list[str]) -> None:
        if not hasattr(command, "commands"):
            found.append(words)
        for name, sub in getattr(command, "commands", {}).items():
            if not sub.hidden and name != "help":
                visit(sub, [*words, name])

    visit(ROOT, [])
    return found


LEAVES = _leaves()
NO_ARGUMENTS = [w for w in LEAVES if not any(p.param_type_name == "argument" for p in resolve(ROOT, w)[0].params)]


def _record(name: str) -> None:
    state_mod.SandboxState(name=name, phase=state_mod.PHASE_READY, agent={"admin": "127.0.0.1:1"}).save()


def _known(command, flag: str) -> bool:
    return flag in (*GLOBAL_FLAGS, *QUIET_FLAGS, *HELP_FLAGS) or option_spelled(command, flag) is not None or \
        option_spelled(ROOT, flag) is not None


def _flags_named_are_the_commands(line: str, words: list[str]) -> None:
    """Every flag the line names is one of the command's (outside backticks) or of the
    command a backticked line runs."""
    command = resolve(ROOT, words)[0]
    outside = BACKTICKED.sub("", line.partition(" (see '")[0])
    for flag in FLAG.findall(outside):
        assert _known(command, flag), (flag, line)
    for suggested in BACKTICKED.findall(line):
        said = shlex.split(suggested)
        if said[0] != "kmeshctl":
            continue
        target = resolve(ROOT, [w for w in said[1:] if not w.startswith("-")])[0] or ROOT
        for word in said[1:]:
            if word.startswith("-") and word != "-":
                assert _known(target, word.partition("=")[0]), (word, suggested, line)


# ------------------------------------------------------------------ A. a stray word a flag would refuse


@pytest.mark.parametrize("words", NO_ARGUMENTS, ids=" ".join)
@pytest.mark.parametrize("stray", ["f4-nosuch", "/tmp"])
def test_a_refused_stray_word_is_said_plainly_naming_only_the_commands_flags(words, stray, state_root, capsys,
                                                                               offline) -> None:  # noqa: F811
    _record("f4a")
    line = _line(*cli(capsys, *words, stray)[::2])
    assert line.startswith(f"Error: Got unexpected extra argument(s) ({stray})"), line
    assert " refuses " not in line, line
    _flags_named_are_the_commands(line, words)


def test_sandbox_list_names_no_name_flag_and_offers_itself(state_root, capsys, offline) -> None:  # noqa: F811
    _record("f4a")
    for args in (["sandbox", "list", "nosuch"], ["sandbox", "list", "--", "nosuch"]):
        line = _line(*cli(capsys, *args)[::2])
        assert "--name" not in line and "no sandbox is named nosuch (sandboxes: f4a)" in line, line
        assert BACKTICKED.findall(line) == ["kmeshctl sandbox list"], line
    assert cli(capsys, "sandbox", "list")[0] == 0  # the line offered works


def test_sandbox_status_offers_a_sandbox_that_exists(state_root, capsys, offline) -> None:  # noqa: F811
    _record("f4a")
    _record("f4b")
    line = _line(*cli(capsys, "sandbox", "status", "nosuch")[::2])
    assert line.startswith("Error: Got unexpected extra argument(s) (nosuch); this command takes no positional "
                           "arguments, and no sandbox is named nosuch (sandboxes: f4a, f4b); e.g. "
                           "`kmeshctl sandbox status --name f4a`"), line
    assert cli(capsys, "sandbox", "status", "--name", "f4a")[0] != 2  # accepted (the agent does not answer)
    # a command that removes is never offered a guess: the names are listed
    line = _line(*cli(capsys, "sandbox", "down", "f4")[::2])
    assert "no sandbox is named f4 (sandboxes: f4a, f4b)" in line and not BACKTICKED.findall(line), line


def test_no_sandbox_at_all_offers_up(state_root, capsys, offline) -> None:  # noqa: F811
    line = _line(*cli(capsys, "sandbox", "status", "nosuch")[::2])
    # p47 f47b (t47a 12): the sandbox made is the one named
    assert "no sandbox is named nosuch (no sandbox exists); make one with " \
           "`kmeshctl sandbox up --name nosuch`" in line, line


def test_node_cleanup_path_is_said_plainly_with_the_data_paths_line(state_root, capsys, offline) -> None:  # noqa: F811
    line = _line(*cli(capsys, "node", "cleanup", "/tmp")[::2])
    assert "--bpf-fs refuses" not in line and ", and /tmp is not on a bpf filesystem" in line, line
    assert not BACKTICKED.findall(line), line  # no default-path line where the default holds nothing (p26)


# ------------------------------------------------------------------ B. too many arguments


FIXED_ARGUMENTS = [w for w in LEAVES if (args := [p for p in resolve(ROOT, w)[0].params
                                                  if p.param_type_name == "argument"]) and
                   all(p.nargs >= 1 for p in args)]


def test_completion_is_the_command_of_fixed_arguments() -> None:
    assert FIXED_ARGUMENTS == [["completion"]]


@pytest.mark.parametrize("args,offered", [(["bash", "zsh"], "bash"), (["zsh", "bash", "fish"], "zsh"),
                                          (["BASH", "zsh"], "bash"), (["pwsh", "fish"], "fish"),
                                          (["foo", "bar"], "bash"), (["bash", "--", "zsh"], "bash")])
def test_completion_given_two_shells_says_give_one(args, offered, capsys, offline) -> None:
    line = _line(*cli(capsys, "completion", *args)[::2])
    assert f"; give one shell (bash, zsh or fish): e.g. `kmeshctl completion {offered}`" in line, line
    assert cli(capsys, "completion", offered)[0] == 0


# ------------------------------------------------------------------ C. the flags a command cannot run without


@pytest.mark.parametrize("words", [list(w) for w in REQUIRED_FLAGS], ids=" ".join)
def test_a_suggested_command_names_the_required_flags_it_lacks(words, capsys, offline) -> None:
    line = _line(*cli(capsys, *words, "tier-9ddaa4")[::2])
    suggested = BACKTICKED.findall(line)
    assert len(suggested) == 1, line
    after = line.partition(f"`{suggested[0]}`")[2]
    for flag, _, _ in REQUIRED_FLAGS[tuple(words)]:
        assert flag in shlex.split(suggested[0]) or f"also needs {flag} " in after, (flag, line)
    assert "ISTIOD_HOST" not in line and "istiod-1-22-6" not in line, line  # no placeholder, no example's value


def test_render_cluster_id_line(capsys, offline) -> None:
    line = _line(*cli(capsys, "render", "tier-9ddaa4")[::2])
    assert line == ("Error: Got unexpected extra argument(s) (tier-9ddaa4); give the cluster id with --cluster-id: "
                    "`kmeshctl render --cluster-id tier-9ddaa4` (render also needs --xds-address HOST:PORT, "
                    "istiod's xDS Service) (see 'kmeshctl render --help')")
    line = _line(*cli(capsys, "render", "--xds-address", "istiod:15012", "tier-9ddaa4")[::2])
    # the bare Service name is mended too (f36a): render refuses `istiod:15012` offline
    assert "`kmeshctl render --xds-address istiod.istio-system.svc:15012 --cluster-id tier-9ddaa4` (" in line, line


def test_render_carries_istiods_address_when_the_cluster_has_one(capsys, offline, monkeypatch, tmp_path) -> None:
    from kmeshctl import istiod

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setattr(istiod, "istiod_address_quickly", lambda *a, **k: (["istiod.istio-system.svc:15012"], True))
    line = _line(*cli(capsys, "render", "tier-9ddaa4")[::2])
    [suggested] = BACKTICKED.findall(line)
    assert suggested == "kmeshctl render --cluster-id tier-9ddaa4 --xds-address istiod.istio-system.svc:15012", line
    assert "also needs" not in line, line
    assert cli(capsys, *shlex.split(suggested)[1:])[0] == 0  # pasted, it renders


def test_install_dry_run_without_a_cluster_names_xds_address(capsys, offline) -> None:
    line = _line(*cli(capsys, "install", "--dry-run", "tier-9ddaa4")[::2])
    assert "`kmeshctl install --dry-run --cluster-id tier-9ddaa4` (install also needs --xds-address HOST:PORT" in line


# ------------------------------------------------------------------ D. kubectl / istioctl habits


@pytest.mark.parametrize("words", [c.split() for c in ONCE_COMMANDS], ids=" ".join)
@pytest.mark.parametrize("flag", ["-w", "--watch", "--wait"])
def test_watching_a_command_that_shows_the_state_once(words, flag, capsys, offline) -> None:
    line = _line(*cli(capsys, *words, flag)[::2])
    assert f"; {' '.join(words)} shows the state once, " in line and f"leave {flag} out and re-run it" in line, line


def test_status_wait_and_w_get_the_same_hint(capsys, offline) -> None:
    long = _line(*cli(capsys, "status", "--wait")[::2])
    short = _line(*cli(capsys, "status", "-w")[::2])
    assert long.startswith("Error: No such option: --wait; status shows the state once") and \
        short.startswith("Error: No such option: -w; status shows the state once"), (long, short)


@pytest.mark.parametrize("words", LEAVES, ids=" ".join)
def test_a_stray_word_before_a_command_offers_the_command_without_it(words, capsys, offline) -> None:
    for at in range(len(words)):  # before each word of the command (`x sandbox list`, `sandbox x list`)
        typed = [*words[:at], "f4x", *words[at:]]
        line = _line(*cli(capsys, *typed)[::2])
        assert f"has no command f4x; did you mean `{shlex.join(['kmeshctl', *words])}`?" in line, line


def test_a_stray_word_keeps_the_flags_typed(capsys, offline) -> None:
    line = _line(*cli(capsys, "--context", "c", "x", "sandbox", "list", "-o", "json")[::2])
    # the line keeps --context c; with no kubeconfig to find it in, it says that this still needs fixing
    assert "did you mean `kmeshctl --context c sandbox list -o json` (then fix --context c: no kubeconfig" in line, line
    line = _line(*cli(capsys, "sandbx", "status")[::2])  # a typo of a group before its command: the group's line
    assert "has no command sandbx; did you mean sandbox? `kmeshctl sandbox status`" in line, line


@pytest.mark.parametrize("args", [["get", "pods"], ["get", "pods", "-A"], ["-n", "foo", "get", "po"],
                                  ["describe", "svc/web"], ["delete", "pod", "web"], ["get", "deploy.apps"],
                                  ["get", "nodes", "-o", "wide"], ["get", "gateways", "-n", "x"]],
                         ids=" ".join)
def test_a_kubectl_kind_points_at_kubectl_and_status(args, capsys, offline) -> None:
    line = _line(*cli(capsys, *args)[::2])
    verb = next(a for a in args if a in ("get", "describe", "delete"))
    assert "did you mean" not in line and f"kmeshctl has no command {verb}; none for " in line, line
    kubectl = [s for s in BACKTICKED.findall(line) if s.startswith("kubectl ")]
    assert kubectl == [shlex.join(["kubectl", *args])], line
    assert "kmesh's own state: `kmeshctl status`" in line, line


def test_get_of_kmeshctls_own_kinds_is_unchanged(state_root, capsys, offline) -> None:  # noqa: F811
    line = _line(*cli(capsys, "get", "sandboxes")[::2])
    assert "`kmeshctl sandbox list`" in line and "kubectl" not in line, line


# ------------------------------------------------------------------ E. addresses whole, no trailing blanks


ADDRESSES = ["10.96.188.91", "10.96.12.7:15012", "fd00:10:96::be3c", "[fd00:10:96::be3c]:15012",
             "::ffff:10.244.1.17", "192.168.100.200/24"]


def _terminal_table(width: int, colour: bool) -> list[str]:
    out = io.StringIO()
    console = cli_console(file=out, force_terminal=True, width=width, color_system="standard" if colour else None)
    table = Table("NAMESPACE", "NAME", "BY KMESHCTL", "READY", "ISTIOD ADDRESS", "SERVICES")
    table.add_row("default", "waypoint", "yes", "1/1", Text(", ".join(ADDRESSES[:3])), "reviews, ratings")
    table.add_row("bookinfo", "bookinfo-waypoint", "no", "0/1", Text(", ".join(ADDRESSES[3:])), "productpage")
    console.print(table)
    return out.getvalue().split("\n")


@pytest.mark.parametrize("width", [40, 60, 80, 120])
@pytest.mark.parametrize("colour", [False, True])
def test_a_terminal_table_never_splits_an_address_nor_ends_a_line_in_blanks(width, colour) -> None:
    lines = _terminal_table(width, colour)
    plain = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in lines]
    for line in plain:
        assert line == line.rstrip(), repr(line)
    words = {w.rstrip(",") for line in plain for w in line.split()}
    for address in ADDRESSES:
        assert address in words, (address, plain)


def test_waypoint_list_shows_a_bracketed_address_and_reason_as_typed(monkeypatch, capsys, no_env) -> None:  # noqa: F811
    """A waypoint row's cells are the cluster's words: `[fd00::1]:15012` or a Gateway reason
    in brackets is printed as it is, not read as rich markup (F4's note, pass 24)."""
    from types import SimpleNamespace

    from kmeshctl.cli import waypoint as waypoint_cli

    rows = [SimpleNamespace(namespace="default", name="waypoint", managed=True, ready_pods=1, pods=[1],
                            addresses=["[fd00::1]:15012"], services=["a"], gateway_reason=""),
            SimpleNamespace(namespace="default", name="east", managed=True, ready_pods=0, pods=[1],
                            addresses=[], services=[], gateway_reason="[bold]Pending")]
    monkeypatch.setattr(waypoint_cli, "_client", lambda: None)
    monkeypatch.setattr(waypoint_cli.deploy, "list_waypoints", lambda client, where: rows)
    monkeypatch.setattr(waypoint_cli, "_note_leftovers", lambda client: None)
    code, out, err = cli(capsys, "waypoint", "list", "-A")
    assert code == 0, err
    assert "[fd00::1]:15012" in out and "([bold]Pending)" in out, out
