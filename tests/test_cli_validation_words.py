"""Issue 14, seventh new-user pass: one test per kind of fault it found, each across every
command it applies to (the real typer command tree through kmeshctl.cli.main in-process;
a kubeconfig whose API server address refuses connections, 127.0.0.1:1, where a cluster
must not answer; a real exec credential plugin script that prints non-JSON).

1 a configured cluster that does not answer fails a dry run (exit 1), offline only with no
cluster configured; 2 a positional NAME points at --name; 3 -n on a command whose
arguments are namespaces; 4 no Python-shaped text (click's ranges, json's decode error,
--weights' sets); 5 every `kmeshctl ...` command named in the docs exists; 6 precheck's FIX
column readable in 80 columns."""

from __future__ import annotations

import io
import re
import shlex
from pathlib import Path

import pytest
from rich.console import Console

from kmeshctl.cli import cluster as cluster_cli
from test_cli_kinds import ROOT, _dead_kubeconfig, _record, cli, commands, no_env, state_root  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
DRY_RUN = ["install", "--cluster-id", "c1", "--dry-run"]
XDS = ["--xds-address", "istiod.istio-system.svc:15012"]


def _no_cluster_home(tmp_path: Path, monkeypatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return home


# ------------------------------------------------------------------ 1. configured but unreachable


@pytest.mark.parametrize("how", ["--kubeconfig", "--context", "$KUBECONFIG", "~/.kube/config"])
@pytest.mark.parametrize("address", [XDS, []], ids=["xds-address", "no-xds-address"])
def test_a_dry_run_against_a_configured_cluster_that_does_not_answer_fails(how: str, address: list[str],
                                                                           tmp_path: Path, capsys, monkeypatch,
                                                                           no_env) -> None:
    home = _no_cluster_home(tmp_path, monkeypatch)
    dead = _dead_kubeconfig(tmp_path / "kc-refused.yaml")
    flags: list[str] = []
    if how == "--kubeconfig":
        flags = ["--kubeconfig", str(dead)]
    elif how == "--context":
        (home / ".kube").mkdir()
        (home / ".kube" / "config").write_text(dead.read_text())
        flags = ["--context", "dead"]
    elif how == "$KUBECONFIG":
        monkeypatch.setenv("KUBECONFIG", str(dead))
    else:
        (home / ".kube").mkdir()
        (home / ".kube" / "config").write_text(dead.read_text())
    code, out, err = cli(capsys, *DRY_RUN, *address, *flags)
    assert code == 1 and not out, (code, err)
    assert err.startswith("Error: cannot reach the Kubernetes API at https://127.0.0.1:1"), err
    assert "validating offline" not in err and "`kmeshctl render" in err and len(err.strip().splitlines()) == 1


def test_with_no_cluster_configured_a_dry_run_is_offline_and_needs_the_address(tmp_path: Path, capsys,
                                                                               monkeypatch, no_env) -> None:
    _no_cluster_home(tmp_path, monkeypatch)
    code, out, err = cli(capsys, *DRY_RUN, *XDS)
    assert code == 0 and "kind: DaemonSet" in out, err
    assert "No reachable cluster (no cluster configured:" in err and "validating offline" in err
    code, out, err = cli(capsys, *DRY_RUN)
    assert code == 2 and not out, err  # a required flag left out: bad input, as --cluster-id
    assert err.startswith("Error: --xds-address is required (with no cluster configured, --dry-run validates "
                          "offline)") and "e.g. `kmeshctl install --cluster-id c1 --dry-run --xds-address " in err, err


@pytest.mark.parametrize("words", [["uninstall"], ["precheck"], ["status"], ["enable-ns", "default"],
                                   ["install", "--cluster-id", "c1", *XDS]])
def test_every_cluster_command_fails_with_exit_1_on_an_unreachable_cluster(words: list[str], tmp_path: Path,
                                                                          capsys, no_env) -> None:
    dead = _dead_kubeconfig(tmp_path / "kc")
    code, out, err = cli(capsys, "--kubeconfig", str(dead), *words)
    shown = out if words == ["precheck"] else err  # precheck: its first check fails, in the table
    assert code == 1 and "cannot reach the Kubernetes API at https://127.0.0.1:1" in shown, (out, err)


# ------------------------------------------------------------------ 2. positional NAME


def _named_commands() -> list[list[str]]:
    """Every command with a --name option and no positional argument."""
    return [words for words, command in commands() if not hasattr(command, "commands")
            and any(getattr(p, "opts", ())[:1] == ["--name"] for p in command.params)
            and not any(p.param_type_name == "argument" for p in command.params)]


def test_the_named_commands_are_the_ones_istioctl_users_type_a_name_for() -> None:
    named = {" ".join(w) for w in _named_commands()}
    assert {"waypoint apply", "waypoint status", "waypoint delete", "sandbox up", "sandbox down",
            "sandbox status"} <= named, named


@pytest.mark.parametrize("words", _named_commands(), ids=" ".join)
def test_a_positional_name_points_at_the_name_flag_with_the_command_to_paste(words: list[str], capsys,
                                                                            no_env, state_root) -> None:
    if words[0] == "sandbox" and words[1] != "up":
        _record("wp")  # --name is offered only for a sandbox that exists (pass 22)
    code, out, err = cli(capsys, *words, "-n", "demo", "wp") if words[0] == "waypoint" else \
        cli(capsys, *words, "wp")
    assert code == 2 and not out and len(err.strip().splitlines()) == 1, err
    hint = re.search(r"give the name with --name: `([^`]*)`", err)
    assert hint, err
    pasted = shlex.split(hint.group(1))
    assert pasted[:1 + len(words)] == ["kmeshctl", *words] and pasted[-2:] == ["--name", "wp"], pasted
    code, _, err = cli(capsys, *words, "a", "b")
    assert code == 2 and "give one name with --name NAME" in err, err


def test_a_positional_word_on_a_command_without_name_keeps_click_s_words(capsys, no_env) -> None:
    code, _, err = cli(capsys, "status", "extra")
    # no --name there: the flag the value would belong to (issue 14 eighth pass: every such command)
    assert code == 2 and "Got unexpected extra argument(s) (extra)" in err and "--name " not in err, err
    # f34e: the line without the word first (status takes none), the word as kmesh's namespace said as such
    assert "this command takes no positional arguments" in err and "`kmeshctl status`, or for an install in namespace extra: " \
        "`kmeshctl status --namespace extra`" in err, err


# ------------------------------------------------------------------ 3. -n on namespace arguments


@pytest.mark.parametrize("command", ["enable-ns", "disable-ns"])
@pytest.mark.parametrize("spelling,expected", [(["-n", "foo"], "foo"), (["--namespace", "foo", "bar"], "foo bar"),
                                               (["-nfoo"], "foo"), (["--namespace=foo"], "foo")])
def test_a_namespace_flag_on_a_namespaces_command_says_to_give_them_as_arguments(command: str, spelling: list[str],
                                                                               expected: str, capsys,
                                                                               no_env) -> None:
    code, out, err = cli(capsys, command, *spelling)
    assert code == 2 and not out, err
    assert f"give the namespaces as arguments: `kmeshctl {command} {expected}`" in err, err
    assert "takes no namespace" not in err


def test_a_command_without_namespaces_still_says_it_takes_none(capsys, no_env) -> None:
    code, _, err = cli(capsys, "completion", "bash", "-n", "x")
    assert code == 2 and "this command takes no namespace" in err, err


# ------------------------------------------------------------------ 4. no Python-shaped text


CLICK_RANGE = re.compile(r"\bx\b\s*[<>]=|[<>]=\s*x\b")


@pytest.mark.parametrize("words", [w for w, _ in commands()], ids=lambda w: " ".join(w) or "kmeshctl")
def test_help_shows_ranges_in_words_without_click_s_x(words: list[str], capsys, monkeypatch, no_env) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = cli(capsys, *words, "--help")
    assert code == 0 and not CLICK_RANGE.search(out), out


def test_range_words_for_durations_ports_and_counts(capsys, monkeypatch, no_env) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    shown = {" ".join(w): " ".join(cli(capsys, *w, "--help")[1].split()) for w in (["install"], ["dump", "maps"], ["node", "run"],
                                                                 ["demo", "traffic-shift"])}
    assert "[default: 300s (5m); 0s to 24h]" in shown["install"]  # 0: no limit (h49)
    assert "[default: 15200; 1-65535]" in shown["node run"]
    assert "1-65535" in shown["dump maps"]
    assert "[default: 20; 1-100000]" in shown["demo traffic-shift"]


def test_an_exec_plugin_that_prints_no_json_is_named_in_kubectl_s_words(tmp_path: Path, capsys, no_env) -> None:
    plugin = tmp_path / "plugin.sh"
    plugin.write_text("#!/bin/sh\necho 'hello, not json'\n")
    plugin.chmod(0o755)
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        f"users: [{{name: u, user: {{exec: {{apiVersion: client.authentication.k8s.io/v1beta1, command: {plugin}, "
        "interactiveMode: Never}}}]\ncontexts: [{name: ctx, context: {cluster: c, user: u}}]\ncurrent-context: ctx\n")
    code, _, err = cli(capsys, "--kubeconfig", str(kubeconfig), "status")
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert f"exec plugin {plugin} of user u" in err and "printed something that is not JSON ('hello, not json';" \
        in err and "an ExecCredential JSON object" in err, err
    assert "client.authentication.k8s.io/v1beta1" in err  # the version the kubeconfig asks for
    assert "Expecting value" not in err and "char 0" not in err and "decode" not in err, err


@pytest.mark.parametrize("weights,expected", [
    ("90/20", "--weights 90/20: weights add up to 110; use weights that add up to 100, e.g. 90/10 (for v1/v2; one weight per subset)"),
    ("90/10,50/60", "--weights 90/10,50/60: set 2 (50/60): adds up to 110; use weights that add up to 100, "
                    "e.g. 90/10,50/50 (for v1/v2; one weight per subset)"),
    ("90", "--weights 90: one weight, 90; use weights that add up to 100, e.g. 90/10 (for v1/v2; one weight per "
           "subset)"),
    ("110/-10", "--weights 110/-10: negative weight -10; use weights >= 0 that add up to 100, e.g. 90/10 (for v1/v2; one weight per subset)"),
    ("90/x", "--weights 90/x: weights must be whole numbers separated by / (sets by ,); e.g. 90/10 (for v1/v2; one weight per subset)"),
    ("90/10,", "--weights 90/10,: set 2 is empty; use whole numbers separated by / (sets by ,), e.g. 90/10,50/50 (for v1/v2; one weight per subset)"),
])
def test_weights_errors_are_the_one_message_form(weights: str, expected: str, capsys, no_env, state_root) -> None:
    code, out, err = cli(capsys, "demo", "traffic-shift", "--weights", weights)
    assert code == 2 and not out and err.strip() == f"Error: {expected} (see 'kmeshctl demo traffic-shift --help')", err


# ------------------------------------------------------------------ 5. commands named in the docs

DOCUMENTED_TYPOS = {"nosuch", "lst", "LIST", "exec"}  # usage.md shows what a mistyped (or kubectl) command says


def _doc_commands() -> list[tuple[str, int, list[str]]]:
    """`kmeshctl WORDS` in backticks, or a command line of a code block (`$ kmeshctl ...`)."""
    found = []
    for path in [*sorted((REPO / "docs").glob("*.md")), REPO / "README.md"]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for match in re.finditer(r"(?:`|^\s*\$ )kmeshctl((?:[ \t]+[a-z][a-z0-9-]*)+)", line):
                found.append((path.name, number, match.group(1).split()))
    return found


def test_every_command_the_docs_name_exists() -> None:
    documented = _doc_commands()
    assert len(documented) > 50  # the pattern still finds the docs' commands
    missing = []
    for name, number, words in documented:
        command = ROOT
        for i, word in enumerate(words):
            if not hasattr(command, "commands"):
                break  # a leaf: the rest are its arguments
            if word not in command.commands:
                if word not in DOCUMENTED_TYPOS:
                    missing.append(f"{name}:{number}: kmeshctl {' '.join(words[:i + 1])}")
                break
            command = command.commands[word]
    assert not missing, missing


# ------------------------------------------------------------------ 6. precheck's FIX column


def test_precheck_fix_column_keeps_flags_whole_in_80_columns(monkeypatch) -> None:
    buffer = io.StringIO()
    monkeypatch.setattr(cluster_cli, "out", lambda output=None: Console(file=buffer, width=80, highlight=False,
                                                                         soft_wrap=True))
    rows = [{"name": "API reachable", "status": "fail",
             "detail": "cannot reach the Kubernetes API at https://127.0.0.1:1 (connection refused; kubeconfig "
                       "/tmp/kc-refused.yaml, context ctx): check that the cluster is up",
             "fix": "pass --kubeconfig/--context of a reachable cluster (ACK: download its kubeconfig)"},
            {"name": "permission to create what install creates", "status": "warn",
             "detail": "cannot tell without the API", "fix": "run `kmeshctl precheck --kubeconfig PATH`"}]
    cluster_cli.print_checks(rows, cluster_cli.OutputFormat.table)
    text = buffer.getvalue()
    assert "…" not in text, text
    assert all(len(line) <= 80 for line in text.splitlines()), text
    fix_cells = " ".join(line.split("│")[-1].strip() for line in text.splitlines() if "│" in line)
    assert "--kubeconfig/--context" in fix_cells and "--kubeconfig PATH" in fix_cells, text


# ------------------------------------------------------------------ eighth pass: kubectl's `--flag=value` on/off forms


@pytest.mark.parametrize("args,fix", [
    (["waypoint", "delete", "--name", "x", "--ignore-not-found=true"],
     "write --ignore-not-found to turn it on, leave it out for off, "
     "`kmeshctl waypoint delete --name x --ignore-not-found`"),
    (["install", "--cluster-id", "c1", "--wait=false"],
     "write --wait or --no-wait, `kmeshctl install --cluster-id c1 --no-wait`"),
    (["install", "--cluster-id", "c1", "--dry-run=client"],
     "write --dry-run (it is kubectl's --dry-run=server: the API server checks every object, nothing is changed); "
     "the offline (client) form is `kmeshctl render --cluster-id c1 --xds-address "
     "istiod.istio-system.svc:15012` (istiod.istio-system.svc:15012 is istiod's Service without a revision, no "
     "cluster to look istiod up in; with a revisioned istiod, istiod-REVISION.istio-system.svc:15012)"),
    (["enable-ns", "default", "--wait=true"], "write --wait or --no-wait, `kmeshctl enable-ns default --wait`"),
])
def test_an_on_off_flag_given_a_value_says_how_to_spell_it(capsys, no_env, args, fix) -> None:  # noqa: F811
    code, _, err = cli(capsys, *args)
    flag = next(a for a in args if "=" in a).split("=")[0]
    words = " ".join(args[:2] if args[0] == "waypoint" else args[:1])
    assert code == 2 and err.strip() == (f"Error: Option '{flag}' does not take a value; on/off flags take no "
                                         f"value here: {fix} (see 'kmeshctl {words} --help')"), err
