"""Issue 14, kind "a flag's help says what this command does with it": -n of status
reads kmesh's namespace, uninstall deletes it, precheck checks install could create it,
install creates it, render puts the manifests in it; and no help gives a default twice
in two different words (demo traffic-shift -n)."""

from __future__ import annotations

import re

import pytest

from test_cli_kinds import cli, no_env  # noqa: F401

SAYS = {"status": "reads", "uninstall": "deletes", "precheck": "would create", "install": "creates",
        "render": "manifests put"}


def _option_help(out: str, flag: str) -> str:
    """The help text of ``flag``, lines joined."""
    found = re.search(rf"^\s+{flag}\b.*?(?=^\s+-|\Z)", out, re.M | re.S)
    assert found, out
    return " ".join(found.group(0).split())


@pytest.mark.parametrize("command", sorted(SAYS))
def test_namespace_help_names_what_the_command_does(command, capsys, monkeypatch, no_env) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = cli(capsys, command, "--help")
    text = _option_help(out, "-n, --namespace")
    assert code == 0 and SAYS[command] in text, text
    wrong = [verb for verb in ("reads", "deletes") if verb != SAYS[command]]
    assert not any(f" {verb} " in f" {text} " for verb in wrong) and "kmeshctl creates" not in text, text


def test_demo_namespace_help_gives_its_default_once(capsys, monkeypatch, no_env) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = cli(capsys, "demo", "traffic-shift", "--help")
    text = _option_help(out, "-n, --namespace")
    assert code == 0 and text.count("default") == 2 and "(default: default," in text, text
    assert "[default:" not in text and "manifests' own" not in text, text
