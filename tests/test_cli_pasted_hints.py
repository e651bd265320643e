"""Issue 14, tenth new-user pass, kind "a suggested command works when pasted": every
command a hint offers (`kmeshctl render ...` for an offline dry run, the same line with
the flag moved after the command, `kmeshctl version --client -o json`) passes its own
validation when run as printed; kubectl's old `--dry-run client` (a separate word) gets
the same explanation as `--dry-run=client`."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from test_cli_kinds import _dead_kubeconfig, cli, no_env  # noqa: F401


def _suggested(err: str) -> list[list[str]]:
    """Every backticked `kmeshctl ...` command of an error line, as words."""
    return [shlex.split(found) for found in re.findall(r"`(kmeshctl [^`]*)`", err)]


def _no_cluster_home(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)


def _passes_its_checks(capsys, words: list[str]) -> tuple[int, str, str]:
    """Run a pasted suggestion: never refused as bad input (exit 2)."""
    code, out, err = cli(capsys, *words[1:])
    assert code != 2, (words, err)
    return code, out, err


def _dead_cases(dead: Path) -> list[list[str]]:
    return [["install", "--dry-run", "--cluster-id", "c1", "--kubeconfig", str(dead)],
            ["install", "--dry-run", "--cluster-id", "c1", "-n", "kmesh2", "--kubeconfig", str(dead)],
            ["install", "--dry-run", "--xds-address", "istiod.istio-system.svc:15012", "--cluster-id", "c1",
             "--kubeconfig", str(dead)]]


def test_the_offline_hint_of_a_dry_run_on_a_dead_cluster_renders_when_pasted(tmp_path: Path, capsys,
                                                                            no_env) -> None:
    dead = _dead_kubeconfig(tmp_path / "dead.yaml")
    for line in _dead_cases(dead):
        code, out, err = cli(capsys, *line)
        assert code == 1 and not out, err
        pasted = [w for w in _suggested(err) if w[1] == "render"]
        assert pasted, err
        if "--xds-address" not in line:  # not typed, and no cluster to look istiod up in: its unrevisioned Service
            assert "istiod.istio-system.svc:15012" in pasted[-1] and "without a revision" in err, err
        code, out, err = _passes_its_checks(capsys, pasted[-1])
        assert code == 0 and "kind: DaemonSet" in out, err


@pytest.mark.parametrize("spelling", [["--dry-run=client"], ["--dry-run", "client"], ["--dry-run", "server"]],
                         ids=" ".join)  # --dry-run=server is --dry-run; none: tests/test_p25_fixes.py
@pytest.mark.parametrize("given", [[], ["--cluster-id", "c1"], ["-n", "kmesh2", "--image", "reg.example.com/k:1"]],
                         ids=lambda g: " ".join(g) or "bare")
def test_the_offline_form_named_for_kubectls_dry_run_values_runs_when_pasted(spelling, given, capsys, no_env,
                                                                             tmp_path: Path, monkeypatch) -> None:
    _no_cluster_home(tmp_path, monkeypatch)
    code, out, err = cli(capsys, "install", *given, *spelling)
    assert code == 2 and not out and err.count("\n") == 1, err
    assert err.startswith("Error: Option '--dry-run' does not take a value; on/off flags take no value here"), err
    assert err.rstrip().endswith("(see 'kmeshctl install --help')"), err
    render = [w for w in _suggested(err) if w[1] == "render"]
    assert render and "--xds-address" in render[0] and "--cluster-id" in render[0], err
    # No cluster here: istiod's address cannot be found, so the hint carries istiod's
    # unrevisioned Service (and says when to change it); pasted, it runs.
    assert "istiod.istio-system.svc:15012" in render[0] and "without a revision" in err, err
    code, out, err = _passes_its_checks(capsys, render[0])
    assert code == 0 and "kind: DaemonSet" in out, err


def test_dry_run_with_a_spaced_value_reads_as_the_equals_form(capsys, no_env) -> None:
    for words in (["install", "--cluster-id", "c1"], ["waypoint", "apply"]):
        _, _, equals = cli(capsys, *words, "--dry-run=client")
        code, _, spaced = cli(capsys, *words, "--dry-run", "client")
        assert code == 2 and spaced == equals, (spaced, equals)


@pytest.mark.parametrize("line", [["--dry-run", "install", "--cluster-id", "c1"],
                                  ["--cluster-id", "c1", "install", "--dry-run"],
                                  ["--dry-run", "waypoint", "apply", "-n", "default"],
                                  ["--no-wait", "install", "--cluster-id", "c1", "--dry-run"]], ids=" ".join)
def test_a_commands_flag_before_the_command_names_where_it_goes(line, capsys, no_env, tmp_path: Path,
                                                                monkeypatch) -> None:
    _no_cluster_home(tmp_path, monkeypatch)
    code, out, err = cli(capsys, *line)
    assert code == 2 and not out and err.count("\n") == 1, err
    assert "is a flag of kmeshctl" in err and "put it after the command" in err, err
    assert re.search(r"\(see 'kmeshctl [a-z ]+ --help'\)$", err.strip()), err
    pasted = _suggested(err)[0]
    assert sorted(pasted) == sorted(["kmeshctl", *line]), (pasted, line)
    code, _, err = cli(capsys, *pasted[1:])
    assert "is a flag of" not in err and "No such option" not in err, err


@pytest.mark.parametrize("line", [["--version", "-o", "json"], ["-o", "yaml", "--version"], ["--version", "-o=json"]],
                         ids=" ".join)
def test_version_flag_with_an_output_format_names_the_version_command(line, capsys, no_env) -> None:
    code, out, err = cli(capsys, *line)
    assert code == 2 and not out and err.count("\n") == 1, err
    assert "--version takes no -o" in err and "<" not in err and "COMMAND" not in err, err
    pasted = _suggested(err)[0]
    assert pasted[:3] == ["kmeshctl", "version", "--client"], pasted
    code, out, err = cli(capsys, *pasted[1:])
    assert code == 0 and ('"client"' in out or "client:" in out), (out, err)


def test_sandbox_exec_without_a_command_offers_one_that_parses(capsys, no_env) -> None:
    code, out, err = cli(capsys, "sandbox", "exec", "netutils", "--name", "h45none")
    assert code == 2 and not out and err.count("\n") == 1, err
    pasted = _suggested(err)[-1]
    assert pasted[-2:] == ["--", "sh"] and "netutils" in pasted and "h45none" in pasted, pasted
    code, _, err = cli(capsys, *pasted[1:])
    assert code == 1 and "not found" in err, err  # accepted; the sandbox does not exist
