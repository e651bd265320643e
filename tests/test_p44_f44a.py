"""Pass-44 fixer f44a (t43b 1, 2, 5, 7, 8, 11): the lines offered for bad input.

- a --dry-run typed (any form, after `--` too) never gets a line that changes things
  without it (suggestions.no_real_run_offered): the command's own "has no dry run" instead;
- install --dry-run=client's render line carries `--enable-bypass=yes` as --enable-bypass;
- a bare --context before another flag "needs a value", with the current context's line;
- a placeholder (`--context NAME`, `--kubeconfig PATH`) is never inside a line to paste;
- a --plot .png meant that exists: a free name, never an added --force;
- on/off polish: lower case after "also", both states typed offered both ways, --no-X worded.

In-process through kmeshctl.cli.main, every command's own work stubbed (no cluster configured).
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
import typer

from kmeshctl.cli import app
from kmeshctl.cli.badinput import line_works
from test_cli_kinds import cli, no_env  # noqa: F401
from test_p23_command_hints import _line, _pasted_lines, stubbed  # noqa: F401
from test_p29_tier_hints import offline  # noqa: F401

ROOT = typer.main.get_command(app)
KUBECONFIG = """apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: c
  cluster: {server: 'https://127.0.0.1:1'}
users:
- name: u
  user: {token: x}
contexts:
- name: prod
  context: {cluster: c, user: u}
- name: dev
  context: {cluster: c, user: u, namespace: kube-system}
"""


@pytest.fixture
def here(tmp_path: Path, monkeypatch, offline) -> Path:  # noqa: F811
    """A scratch directory as the working directory, with kc.yaml (contexts prod, dev; prod current)."""
    work = tmp_path / f"f44a-{os.getpid()}"
    work.mkdir()
    (work / "kc.yaml").write_text(KUBECONFIG)
    monkeypatch.chdir(work)
    return work


def _offered(capsys, *words: str) -> tuple[str, list[list[str]]]:
    """The error line of ``words`` and the kmeshctl lines it offers, each one that works."""
    line = _line(capsys, *words)
    offered = _pasted_lines(line)
    for each in offered:
        assert line_works(each, ROOT), (each, line)
    return line, offered


# ------------------------------------------------------------------ 1. a --dry-run the command does not take


@pytest.mark.parametrize("words,said,lines", [
    (["node", "cleanup", "--dry-run", "--ignore-not-found=yes"],
     "node cleanup has no dry run (kubectl's --dry-run): `kmeshctl node cleanup --help` says what it changes",
     [["kmeshctl", "node", "cleanup", "--help"]]),
    (["bench", "cleanup", "--run-id", "abcdef", "--dry-run", "--ignore-not-found=1"],
     "bench cleanup has no dry run (kubectl's --dry-run)", [["kmeshctl", "bench", "cleanup", "--help"]]),
    (["sandbox", "down", "--name", "t44a", "--dry-run", "--ignore-not-found=1"],
     "sandbox down has no dry run (kubectl's --dry-run): it changes only this machine; "
     "`kmeshctl sandbox status --name t44a` shows what it would remove",
     [["kmeshctl", "sandbox", "status", "--name", "t44a"]]),
    (["enable-ns", "default", "--wait=yes", "--dry-run"], "enable-ns has no dry run (kubectl's --dry-run)",
     [["kmeshctl", "status"]]),
    (["disable-ns", "default", "--dry-run", "-q=1"], "disable-ns has no dry run", [["kmeshctl", "status"]]),
    (["disable-ns", "-n", "a", "--dry-run"], "give the namespaces as arguments; disable-ns has no dry run",
     [["kmeshctl", "status"]]),
    (["enable-ns", "default", "-n", "other", "--dry-run=client"], "enable-ns has no dry run",
     [["kmeshctl", "status"]]),
    (["sandbox", "up", "--dry-run", "--name", "t44a"], "sandbox up has no dry run",
     [["kmeshctl", "sandbox", "status", "--name", "t44a"]]),
], ids=lambda v: " ".join(v) if isinstance(v, list) and v and isinstance(v[0], str) else None)
def test_a_dry_run_not_taken_never_gets_a_line_that_changes_things(words, said, lines, capsys, stubbed,
                                                                    here) -> None:  # noqa: F811
    line, offered = _offered(capsys, *words)
    assert said in line, line
    assert offered == lines, line
    assert "every value mended" not in line and "No such option: --dry-run;" not in line.partition("; ")[2], line


def test_a_dry_run_after_the_separator(capsys, here) -> None:
    """Said by enable-ns's own body (no stub): the word after `--` is a namespace it refuses."""
    line, offered = _offered(capsys, "enable-ns", "default", "--", "--dry-run")
    assert "enable-ns has no dry run" in line and offered == [["kmeshctl", "status"]], line
    assert "without it" not in line, line


def test_a_dry_run_kept_where_the_command_takes_it(capsys, stubbed, here) -> None:  # noqa: F811
    """install --dry-run --wait -o yml: the line keeping --dry-run only; never the one keeping --wait."""
    line, offered = _offered(capsys, "install", "--dry-run", "--cluster-id", "c1", "--xds-address", "x:1", "--wait",
                             "-o", "yml")
    assert offered == [shlex.split("kmeshctl install --dry-run --cluster-id c1 --xds-address x:1 -o yaml")], line
    assert "no line without --dry-run is offered (install would change things without it)" in line, line


# ------------------------------------------------------------------ 2. install --dry-run=client's render line


@pytest.mark.parametrize("extra,kept,said", [
    (["--enable-bypass=yes", "-o", "yml"], ["--enable-bypass", "-o", "yaml"],
     "(-o yml given as -o yaml; --enable-bypass=yes given as --enable-bypass)"),
    (["--enable-bpf-log=1", "--network", "n1"], ["--enable-bpf-log", "--network", "n1"],
     "(--enable-bpf-log=1 given as --enable-bpf-log)"),
    (["--enable-bypass=yes", "--enable-bpf-log"], ["--enable-bypass", "--enable-bpf-log"],
     "(--enable-bypass=yes given as --enable-bypass)"),
    (["--enable-bypass=no"], ["--no-enable-bypass"], "(--enable-bypass=no given as --no-enable-bypass)"),
])
def test_client_dry_run_render_line_keeps_on_off_flags(extra, kept, said, capsys, stubbed, here) -> None:  # noqa: F811
    line, offered = _offered(capsys, "install", "--cluster-id", "c1", "--xds-address", "x:1", "--dry-run=client",
                             *extra)
    assert offered == [["kmeshctl", "render", "--cluster-id", "c1", "--xds-address", "x:1", *kept]], line
    assert said in line, line


# ------------------------------------------------------------------ 5. --context before another flag


@pytest.mark.parametrize("words,line_words", [
    (["--kubeconfig", "kc.yaml", "status", "--context", "-o", "json"],
     "--kubeconfig kc.yaml status --context prod -o json"),
    (["--kubeconfig", "kc.yaml", "--context", "-n", "default", "status"],
     "--kubeconfig kc.yaml --context prod -n default status"),
    (["--kubeconfig", "kc.yaml", "status", "--context", "--request-timeout", "5s"],
     "--kubeconfig kc.yaml status --context prod --request-timeout 5s"),
    (["--context", "--kubeconfig", "kc.yaml", "status"], "--context prod --kubeconfig kc.yaml status"),
])
def test_a_bare_context_before_a_flag_needs_a_value(words, line_words, capsys, stubbed, here) -> None:  # noqa: F811
    line, offered = _offered(capsys, *words)
    assert line.startswith("Error: --context needs a value: --context NAME (contexts in kc.yaml: prod, dev); "
                           "prod is its current context: `"), line
    assert offered == [["kmeshctl", *shlex.split(line_words)]], line
    assert "quoted" not in line, line


# ------------------------------------------------------------------ 7. placeholders and lines mended


def test_a_command_taken_as_context_gets_the_current_context(capsys, stubbed, here) -> None:  # noqa: F811
    line, offered = _offered(capsys, "--kubeconfig", "kc.yaml", "--context", "status", "-o", "yaml")
    assert offered == [shlex.split("kmeshctl --kubeconfig kc.yaml status -o yaml --context prod")], line
    assert "then fix" not in line and "NAME`" not in line, line


def test_a_placeholder_is_never_inside_backticks(capsys, stubbed, here) -> None:  # noqa: F811
    line, offered = _offered(capsys, "--kubeconfig", "status")
    assert offered == [] and "then fix" not in line, line
    assert "give it after the command with PATH filled in: kmeshctl status --kubeconfig PATH" in line, line


def test_a_subcommand_flag_typed_before_and_after_it(capsys, stubbed, here) -> None:  # noqa: F811
    line, offered = _offered(capsys, "sandbox", "--name", "a", "status", "--name", "b")
    assert "--name is given twice, a before status and b after it: --name takes one value, give one" in line, line
    assert offered == [shlex.split("kmeshctl sandbox status --name b"), shlex.split("kmeshctl sandbox status --name a")]
    line, offered = _offered(capsys, "node", "--bpf-fs", "", "cleanup", "--bpf-fs", "/x")
    assert "--bpf-fs is given twice, '' before cleanup and /x after it" in line and not offered, line


def test_the_same_value_twice_is_mended_in_both_places(capsys, here) -> None:  # noqa: F811
    line, offered = _offered(capsys, "waypoint", "apply", "--name=X", "--name", "X", "-n", "default", "--dry-run")
    assert offered == [shlex.split("kmeshctl waypoint apply --name=x --name x -n default --dry-run")], line
    assert "then fix" not in line, line


# ------------------------------------------------------------------ 8. --plot's .png meant exists


def test_plot_png_meant_that_exists_is_a_free_name(capsys, stubbed, here) -> None:  # noqa: F811
    (here / "a.png").write_bytes(b"")
    line, offered = _offered(capsys, "--kubeconfig", "kc.yaml", "demo", "traffic-shift", "--target", "cluster",
                             "--plot", "a.jpg", "-o", "jsn")
    assert "e.g. --plot a-1.png (a.png exists)" in line, line
    assert offered == [shlex.split("kmeshctl --kubeconfig kc.yaml demo traffic-shift --target cluster --plot a-1.png "
                                   "-o json")], line
    assert "--force" not in line, line


# ------------------------------------------------------------------ 11. polish


def test_click_words_after_also_are_lower_case(capsys, stubbed, here) -> None:  # noqa: F811
    line = _line(capsys, "node", "cleanup", "--dry-run", "--ignore-not-found=yes")
    assert "also no such option: --dry-run" in line and not re.search(r"also [A-Z]", line), line


@pytest.mark.parametrize("words,said,lines", [
    (["version", "--client=false", "--client"], "--client=false and --client both given",
     ["kmeshctl version --client", "kmeshctl version"]),
    (["enable-ns", "default", "--wait=0", "--wait"], "--wait=0 and --wait both given",
     ["kmeshctl enable-ns default --wait", "kmeshctl enable-ns default --no-wait"]),
    (["version", "--client", "--client=no", "-o", "jsn"], "--client and --client=no both given",
     ["kmeshctl version --client -o json", "kmeshctl version -o json"]),
])
def test_both_states_typed_offer_both(words, said, lines, capsys, stubbed, here) -> None:  # noqa: F811
    line, offered = _offered(capsys, *words)
    assert said in line and "--no-wait and --wait" not in line, line
    assert offered == [shlex.split(each) for each in lines], line


def test_no_x_flag_worded_by_what_it_does(capsys, stubbed, here) -> None:  # noqa: F811
    line, offered = _offered(capsys, "node", "preflight", "--no-mount=yes")
    assert "write --no-mount to turn mount off, leave it out to keep it on" in line, line
    assert offered == [shlex.split("kmeshctl node preflight --no-mount")], line


def test_two_notes_after_a_line_are_one_parenthesis(capsys, stubbed, here) -> None:  # noqa: F811
    line, _ = _offered(capsys, "version", "--client", "-o", "jsn", "--short")
    assert "(-o jsn given as -o json; -o json for every field)" in line, line
