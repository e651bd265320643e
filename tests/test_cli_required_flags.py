"""Issue 14, kind "required flags": a command left without several required flags names
all of them in one line (never one per run), with a command to paste, and its help marks
them "(required)" as kubectl's and cilium's do."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from test_cli_kinds import cli, leaf_commands, no_env  # noqa: F401


@pytest.fixture()
def no_cluster(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)


def _required(command) -> list[str]:  # type: ignore[no-untyped-def]
    return [max(p.opts, key=len) for p in command.params
            if p.param_type_name == "option" and "(required)" in (p.help or "")]


def test_required_flags_are_marked_in_help(capsys, no_env) -> None:
    marked = {" ".join(words): _required(command) for words, command in leaf_commands() if _required(command)}
    assert marked == {"render": ["--xds-address", "--cluster-id"], "install": ["--cluster-id"]}
    for words in (["render"], ["install"]):
        code, out, _ = cli(capsys, *words, "--help")
        assert code == 0 and re.search(r"--cluster-id ID\s+Id of this cluster.*\(required\)", " ".join(out.split())), out


@pytest.mark.parametrize("words", [words for words, command in leaf_commands() if _required(command)],
                         ids=" ".join)
def test_a_command_without_its_required_flags_names_them_all_at_once(words: list[str], capsys, no_env,
                                                                     no_cluster) -> None:
    command = dict((tuple(w), c) for w, c in leaf_commands())[tuple(words)]
    code, out, err = cli(capsys, *words)
    assert code == 2 and not out and len(err.strip().splitlines()) == 1, err
    flags = _required(command)
    head = " and ".join(flags) + (" are" if len(flags) > 1 else " is") + " required"
    assert err.startswith(f"Error: {head}"), err
    # the example is a command that passes that check when pasted
    example = shlex.split(re.search(r"e\.g\. `([^`]*)`", err).group(1))
    assert example[:1 + len(words)] == ["kmeshctl", *words] and all(f in example for f in flags), example
    code, _, err = cli(capsys, *example[1:], "--no-wait") if words == ["install"] else cli(capsys, *example[1:])
    assert "required" not in err, err


def test_render_with_nothing_names_both_flags_in_one_line(capsys, no_env) -> None:
    code, out, err = cli(capsys, "render", "--image", "registry.example.com/kmesh/node:1")
    assert code == 2 and not out
    assert err.strip() == ("Error: --xds-address and --cluster-id are required (render is offline): give istiod's "
                           "xDS Service (HOST:PORT) and this cluster's id as istiod knows it (ACK: the cluster id); "
                           "e.g. `kmeshctl render --image registry.example.com/kmesh/node:1 --xds-address "
                           "istiod-1-22-6.istio-system.svc:15012 --cluster-id c1` (see 'kmeshctl render --help')"), err
    example = shlex.split(re.search(r"`([^`]*)`", err).group(1))
    code, out, err = cli(capsys, *example[1:])
    assert code == 0 and "kind: DaemonSet" in out, err


def test_an_offline_install_dry_run_names_both_missing_flags(capsys, no_env, no_cluster) -> None:
    code, out, err = cli(capsys, "install", "--dry-run")
    assert code == 2 and not out
    assert err.startswith("Error: --cluster-id and --xds-address are required (with no cluster configured, "
                          "--dry-run validates offline)"), err
    example = shlex.split(re.search(r"`([^`]*)`", err).group(1))
    code, out, err = cli(capsys, *example[1:])
    assert code == 0 and "kind: DaemonSet" in out, err
