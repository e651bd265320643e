"""Issue 14, kind "completion of a flag's value before the command": `kmeshctl -o <TAB>`
(the -o kubectl users give before the command) completes table, wide, json, yaml, never
the command names; likewise every global flag with a value (-o, -n, --context,
--kubeconfig), before the command, between a group and its subcommand, and as
`-o=<TAB>`, in the real bash, zsh and fish running `kmeshctl completion SHELL`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import shell_pty

KMESHCTL = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "kmeshctl"
FORMATS = ["table", "wide", "json", "yaml"]
# before a command: the values of -o the commands below share (never sandbox list's own name:
# the others refuse it; f34e)
BELOW = FORMATS
COMMANDS = {"render", "install", "status", "sandbox", "dump"}  # a few of them: none may be offered for a value


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "COLUMNS")}
    return {**env, "PATH": f"{KMESHCTL.parent}:{env['PATH']}", "TERM": "dumb", "HOME": str(home)}


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    (tmp_path / "home").mkdir()
    (tmp_path / "kc.yaml").write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
        "contexts:\n- name: prod\n  context: {cluster: c, user: u}\n- name: staging\n  context: {cluster: c, user: u}\n"
        "current-context: prod\nusers:\n- name: u\n  user: {token: x}\n")
    (tmp_path / "kmesh-notes.txt").write_text("")  # a file a fallback to file names would offer
    return tmp_path


def bash(words: list[str], cwd: Path) -> list[str]:
    """COMPREPLY of the real bash for COMP_WORDS as bash splits the line (`-o=` is
    `-o` `=` ``), through `kmeshctl completion bash`'s function."""
    script = ("source <(kmeshctl completion bash); COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); "
              "_kmeshctl_completion kmeshctl; printf '%s\\n' \"${COMPREPLY[@]}\"")
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash", *words], cwd=cwd, text=True,
                          capture_output=True, env=_env(cwd / "home"), timeout=60)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


def fish(line: str, cwd: Path) -> list[str]:
    done = subprocess.run(["fish", "--no-config", "-c", f"kmeshctl completion fish | source; complete -C '{line}'"],
                          cwd=cwd, text=True, capture_output=True, env=_env(cwd / "home"), timeout=60)
    assert done.returncode == 0, done.stderr
    return [w.split("\t")[0] for w in done.stdout.splitlines()]


def type_tab(argv: list[str], setup: list[str], line: str, cwd: Path) -> str:
    return shell_pty.type_tab(argv, setup, line, cwd, _env(cwd / "home"), tabs=2)


def test_bash_completes_the_value_of_a_flag_before_the_command(tree: Path) -> None:
    assert bash(["kmeshctl", "-o", ""], tree) == BELOW
    assert bash(["kmeshctl", "--output", "j"], tree) == ["json"]
    assert bash(["kmeshctl", "-o", "=", ""], tree) == BELOW  # bash splits `-o=` at the `=`
    assert bash(["kmeshctl", "sandbox", "-o", ""], tree) == BELOW  # between a group and its subcommand
    # no kubeconfig: nothing (a leading -n is the cluster's, never a sandbox's, even with sandboxes up here)
    assert bash(["kmeshctl", "-n", ""], tree) == []
    assert bash(["kmeshctl", "--namespace", ""], tree) == []
    assert bash(["kmeshctl", "--kubeconfig", "kc.yaml", "--context", ""], tree) == ["prod", "staging"]
    assert bash(["kmeshctl", "--kubeconfig", "kc"], tree) == ["kc.yaml"]
    assert bash(["kmeshctl", "--context", ""], tree) == []  # no kubeconfig: no contexts, and no file names
    # the value given, the command names come next, as before
    assert COMMANDS <= set(bash(["kmeshctl", "-o", "json", ""], tree))
    assert bash(["kmeshctl", "status", "-o", ""], tree) == FORMATS
    assert bash(["kmeshctl", "render", "-o", ""], tree) == ["yaml", "json"]


def test_bash_interactive_tab_after_a_leading_flag(tree: Path) -> None:
    setup = ["source <(kmeshctl completion bash)"]
    shown = type_tab(["bash", "--norc", "--noprofile", "-i"], setup, "kmeshctl -o ", tree)
    assert all(f in shown for f in FORMATS) and "render" not in shown and "sandbox" not in shown, shown
    shown = type_tab(["bash", "--norc", "--noprofile", "-i"], setup, "kmeshctl -n ", tree)
    assert "kmesh-notes.txt" not in shown and "render" not in shown, shown


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_interactive_tab_after_a_leading_flag(tree: Path) -> None:
    setup = ["autoload -U compinit && compinit -u", "source <(kmeshctl completion zsh)"]
    shown = type_tab(["zsh", "-f", "-i"], setup, "kmeshctl -o ", tree)
    assert all(f in shown for f in FORMATS) and "render" not in shown and "sandbox" not in shown, shown
    shown = type_tab(["zsh", "-f", "-i"], setup, "kmeshctl -n ", tree)
    assert "kmesh-notes.txt" not in shown and "render" not in shown, shown
    shown = type_tab(["zsh", "-f", "-i"], setup, "kmeshctl --kubeconfig kc.yaml --context ", tree)
    assert "prod" in shown and "staging" in shown and "kmesh-notes.txt" not in shown, shown
    shown = type_tab(["zsh", "-f", "-i"], setup, "kmeshctl --kubeconfig kc.y", tree)
    assert "kc.yaml" in shown, shown


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_the_value_of_a_flag_before_the_command(tree: Path) -> None:
    assert sorted(fish("kmeshctl -o ", tree)) == sorted(BELOW)
    assert sorted(fish("kmeshctl -o=", tree)) == sorted(f"-o={f}" for f in BELOW)
    assert fish("kmeshctl --output=j", tree) == ["--output=json"]
    assert sorted(fish("kmeshctl dump -o ", tree)) == sorted(FORMATS)
    assert fish("kmeshctl -n ", tree) == []
    assert sorted(fish("kmeshctl --kubeconfig kc.yaml --context ", tree)) == ["prod", "staging"]
    assert fish("kmeshctl --kubeconfig kc.y", tree) == ["kc.yaml"]
    assert COMMANDS <= set(fish("kmeshctl -o json ", tree))
