"""Issue 14, new-user pass 14 (h66): a fix offered after `--` pastes without the `--`;
glued and combined short options (`-nfoo`, `-ojson`, `-qo json`) move before the command
as the spaced ones; -q silences the `waiting for the Kubernetes API` line, `sandbox
list`'s empty note and uninstall --dry-run's no-cluster note (said once); install
--dry-run with no cluster and no --xds-address is bad input (exit 2); NO_COLOR/TERM=dumb
turn colour off on error lines; -q/--quiet is named in every help's global flags line and
completed after a subcommand.

Real parts: kmeshctl.cli.main in-process (and as a subprocess for completion); a loopback
HTTP server that answers /version and holds every other request (test_cli_progress_while_waiting)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from test_cli_cluster_errors import kubeconfig, url
from test_cli_kinds import _record, cli, no_env, state_root  # noqa: F401 (fixtures)
from test_cli_progress_while_waiting import silent_api  # noqa: F401 (fixture)


def _no_cluster_home(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "h66-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)


def _suggested(err: str) -> list[str]:
    return shlex.split(err.split("`kmeshctl ", 1)[1].split("`")[0].join(["kmeshctl ", ""]))


# ------------------------------------------------------------------ 1. a fix after `--`


@pytest.mark.parametrize("args,flag", [(["status", "--", "h66ns"], "--namespace"),
                                       (["dump", "maps", "--", "km_backend"], "--map"),
                                       (["sandbox", "status", "--", "h66x"], "--name"),
                                       (["waypoint", "delete", "--", "h66wp"], "--name")])
def test_a_fix_for_a_word_after_dashes_pastes(args, flag, capsys, tmp_path, monkeypatch, no_env,
                                              state_root) -> None:  # noqa: F811
    _no_cluster_home(tmp_path, monkeypatch)
    if args[0] == "sandbox":
        _record(args[-1])  # --name is offered only for a sandbox that exists (pass 22)
    code, _, err = cli(capsys, *args)
    assert code == 2 and "unexpected extra argument" in err, err
    lines = [shlex.split(line) for line in re.findall(r"`(kmeshctl [^`]*)`", err)]
    # f34e: `status WORD` offers `kmeshctl status` first, the word as --namespace after it
    words = next((line for line in lines if line[-2:] == [flag, args[-1]]), _suggested(err))
    assert "--" not in words and words[-2:] == [flag, args[-1]], err
    code, _, pasted = cli(capsys, *words[1:])
    assert "unexpected extra argument" not in pasted, pasted


# ------------------------------------------------------------------ 2. glued short options


@pytest.mark.parametrize("glued,spaced", [
    (["-nh66ns", "status"], ["-n", "h66ns", "status"]),
    (["-ojson", "sandbox", "list"], ["-o", "json", "sandbox", "list"]),
    (["sandbox", "-ojson", "list"], ["sandbox", "-o", "json", "list"]),
    (["-o=json", "sandbox", "list"], ["-o", "json", "sandbox", "list"]),
    (["-oyaml", "version", "--client"], ["-o", "yaml", "version", "--client"]),
    (["-qo", "json", "sandbox", "list"], ["-q", "-o", "json", "sandbox", "list"]),
    (["-qojson", "sandbox", "list"], ["-q", "-o", "json", "sandbox", "list"]),
    (["sandbox", "list", "-qojson"], ["sandbox", "list", "-q", "-o", "json"]),
])
def test_glued_short_options_read_as_spaced_ones(glued, spaced, capsys, tmp_path, monkeypatch, no_env,
                                                 state_root) -> None:  # noqa: F811
    _no_cluster_home(tmp_path, monkeypatch)
    got = cli(capsys, *glued)
    assert "No such option" not in got[2] and "takes no" not in got[2], got
    assert got == cli(capsys, *spaced)


def test_dump_with_a_glued_output_between_group_and_command(capsys, no_env, state_root) -> None:  # noqa: F811
    code, _, err = cli(capsys, "dump", "-ojson", "maps")
    assert "No such option" not in err, err


# ------------------------------------------------------------------ 3. -q silences every note


def test_quiet_silences_the_waiting_line(silent_api, tmp_path, capsys, no_env) -> None:  # noqa: F811
    config = kubeconfig(tmp_path / "h66-silent.yaml", url(silent_api))
    code, _, err = cli(capsys, "-q", "--kubeconfig", str(config), "--request-timeout", "2s", "precheck", "-o", "json")
    assert code == 1 and "waiting for the Kubernetes API" not in err, err


def test_quiet_silences_an_empty_sandbox_list(capsys, no_env, state_root) -> None:  # noqa: F811
    assert cli(capsys, "sandbox", "list")[2].strip() == "No sandboxes. Create one with: kmeshctl sandbox up"
    assert cli(capsys, "sandbox", "list", "-q") == (0, "", "")


def test_uninstall_dry_run_says_no_cluster_once_and_quiet_silences_it(capsys, tmp_path, monkeypatch,
                                                                      no_env) -> None:  # noqa: F811
    _no_cluster_home(tmp_path, monkeypatch)
    code, out, err = cli(capsys, "uninstall", "--dry-run")
    note = err.splitlines()[0]
    assert code == 0 and note.startswith("No cluster configured (") and "listing every object unchecked" in note, err
    assert note.lower().count("no cluster configured") == 1, note
    code, out, err = cli(capsys, "uninstall", "--dry-run", "-q")
    assert code == 0 and "No cluster configured" not in err, err


# ------------------------------------------------------------------ 4. install --dry-run without istiod or cluster


def test_install_dry_run_with_no_cluster_needs_the_address_as_bad_input(capsys, tmp_path, monkeypatch,
                                                                        no_env) -> None:  # noqa: F811
    _no_cluster_home(tmp_path, monkeypatch)
    code, out, err = cli(capsys, "install", "--cluster-id", "c1", "--dry-run", "-o", "json")
    assert code == 2 and not out and err.startswith("Error: --xds-address is required"), err
    code, out, err = cli(capsys, *_suggested(err)[1:])
    assert code == 0 and '"kind": "List"' in out, err


def test_every_install_help_example_runs_offline_or_says_it_needs_a_cluster(capsys, tmp_path, monkeypatch,
                                                                            no_env) -> None:  # noqa: F811
    _no_cluster_home(tmp_path, monkeypatch)
    _, help_text, _ = cli(capsys, "install", "--help")
    dry = [line.split() for line in help_text.splitlines() if line.strip().startswith("kmeshctl install")
           and "--dry-run" in line]
    assert dry, help_text
    for words in dry:
        code, out, err = cli(capsys, *words[1:])
        needs = "--xds-address is required (with no cluster configured, --dry-run validates offline)"
        if code == 2 and needs in err:  # it says so; the example its fix gives runs offline
            [fix] = [c for c in err.split("`")[1::2] if c.startswith("kmeshctl ")]
            code, out, err = cli(capsys, *fix.split()[1:])
        assert code == 0 and out, (words, err)


# ------------------------------------------------------------------ 5. NO_COLOR / TERM=dumb on error lines


@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"TERM": "dumb"}, {}])
def test_error_lines_honour_no_color(env, monkeypatch) -> None:
    import typer

    from kmeshctl.cli import progress

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    seen: list = []
    monkeypatch.setattr(typer, "secho", lambda line, fg=None, err=False: seen.append(("secho", fg)))
    monkeypatch.setattr(typer, "echo", lambda line, err=False: seen.append(("echo", line)))
    progress.echo_coloured("Error: h66", typer.colors.RED)
    # h84: not secho without a colour either: click ends that line with a reset code (\e[0m) on a terminal
    assert seen == [("echo", "Error: h66") if env else ("secho", typer.colors.RED)]


# ------------------------------------------------------------------ 6. -q is discoverable


def test_help_names_quiet_among_the_global_flags(capsys, monkeypatch, no_env) -> None:  # noqa: F811
    monkeypatch.setenv("COLUMNS", "80")
    _, out, _ = cli(capsys, "status", "--help")
    tail = " ".join(out.split("Global flags:", 1)[1].split())
    assert "-q/--quiet" in tail and "--request-timeout" in tail, tail


def _complete(line: str, word: int) -> list[str]:
    env = {**os.environ, "_KMESHCTL_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(word)}
    done = subprocess.run([sys.executable, "-m", "kmeshctl"], env=env, capture_output=True, text=True, timeout=60)
    return done.stdout.split()


def test_completion_offers_quiet_after_a_subcommand_once() -> None:
    assert {"-q", "--quiet"} <= set(_complete("kmeshctl status -", 2))
    assert "--quiet" in _complete("kmeshctl sandbox list --q", 3)
    assert not {"-q", "--quiet"} & set(_complete("kmeshctl status -q -", 3))
