"""New-user pass 25's findings, one test each (the real command tree in-process through
kmeshctl.cli.main; kubeconfig files of the test's own; no cluster answers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_cli_kinds import cli, no_env  # noqa: F401 (fixture)

CONFIG_HEAD = "apiVersion: v1\nkind: Config\n"
ONE_CONTEXT = ("clusters:\n- name: c\n  cluster: {server: SERVER}\ncontexts:\n- name: c\n"
               "  context: {cluster: c, user: u}\ncurrent-context: c\n")


@pytest.mark.parametrize("section,body", [
    ("contexts", "contexts: 5\n"),
    ("clusters", ONE_CONTEXT.replace("clusters:\n- name: c\n  cluster: {server: SERVER}\n", "clusters: 5\n")
     + "users:\n- name: u\n  user: {token: x}\n"),
    ("users", ONE_CONTEXT.replace("SERVER", "https://127.0.0.1:1") + "users: 7\n"),
])
@pytest.mark.parametrize("command", [["status"], ["version"], ["precheck"], ["waypoint", "list"]])
@pytest.mark.parametrize("how", ["flag", "env"])
def test_a_kubeconfig_section_that_is_not_a_list_is_one_line_not_a_traceback(
        capsys, monkeypatch, tmp_path: Path, no_env, section: str, body: str, command: list[str],  # noqa: F811
        how: str) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(CONFIG_HEAD + body)
    args = [*command]
    if how == "flag":
        args += ["--kubeconfig", str(config)]
    else:
        monkeypatch.setenv("KUBECONFIG", str(config))
    code, _, err = cli(capsys, *args)
    assert code == 2 and "Traceback" not in err, err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"Error: cannot load kubeconfig {config}") and f"its {section} is " in line, line
    assert "not a list" in line, line


def test_a_server_that_is_a_number_is_named_without_a_python_type(capsys, tmp_path: Path, no_env) -> None:  # noqa: F811
    config = tmp_path / "kubeconfig"
    config.write_text(CONFIG_HEAD + ONE_CONTEXT.replace("SERVER", "5") + "users:\n- name: u\n  user: {token: x}\n")
    code, _, err = cli(capsys, "status", "--kubeconfig", str(config))
    assert code == 2 and "has server 5: not a URL (a number)" in err and "(a int)" not in err, err
