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


@pytest.mark.parametrize("words,usage", [
    (["sandbox", "help", "up"], "Usage: kmeshctl sandbox up "),
    (["demo", "help"], "Usage: kmeshctl demo "),
    (["waypoint", "help", "apply"], "Usage: kmeshctl waypoint apply "),
    (["dump", "help", "maps"], "Usage: kmeshctl dump maps "),
    (["node", "help", "run"], "Usage: kmeshctl node run "),
    (["sandbox", "up", "help"], "Usage: kmeshctl sandbox up "),
    (["waypoint", "apply", "help"], "Usage: kmeshctl waypoint apply "),
    (["status", "help"], "Usage: kmeshctl status "),
    (["version", "-o", "json", "help"], "Usage: kmeshctl version "),
])
def test_the_word_help_anywhere_prints_that_commands_help(capsys, no_env, words: list[str],  # noqa: F811
                                                          usage: str) -> None:
    """`kmeshctl sandbox help up` suggested `kmeshctl sandbox up` (pasted: it makes a
    sandbox), `sandbox up help` suggested `--name help`: `help` prints the command's help."""
    code, out, err = cli(capsys, *words)
    assert code == 0 and out.startswith(usage) and not err, (out, err)


def test_help_as_an_options_value_or_a_programs_word_is_left_as_typed() -> None:
    import typer

    from kmeshctl.cli import app
    from kmeshctl.cli.conventions import help_word_as_flag

    root = typer.main.get_command(app)
    for args in (["sandbox", "up", "--name", "help"], ["sandbox", "exec", "web", "--", "help"],
                 ["sandbox", "exec", "web", "help"], ["help", "sandbox", "up"], ["status", "-n", "help"],
                 ["--kubeconfig", "help", "status"]):
        assert help_word_as_flag(root, args) == args, args
    assert help_word_as_flag(root, ["sandbox", "help", "up"]) == ["sandbox", "--help", "up"]


@pytest.mark.parametrize("command", ["status", "version", "precheck", "uninstall"])
def test_a_namespace_word_to_a_kmesh_namespace_command_is_never_offered_as_an_apps(capsys, no_env,  # noqa: F811
                                                                                    command: str) -> None:
    """`kmeshctl status default` offered `--namespace default`: status's -n is kmesh's own
    install namespace, which install never makes `default`."""
    code, _, err = cli(capsys, command, "default")
    [line] = err.strip().splitlines()
    assert code == 2 and "--namespace default" not in line, line
    assert (f"{command} takes no namespace argument, and its -n is kmesh's own install namespace (default "
            "kmesh-system), which is never default (reserved for Kubernetes)") in line, line
    assert (f": `kmeshctl {command}`" in line) is (command != "uninstall"), line  # never an uninstall guessed
    code, _, err = cli(capsys, command, "kmesh-prod")
    assert code == 2 and f"`kmeshctl {command} --namespace kmesh-prod`" in err and "not an app's)" in err, err


@pytest.mark.parametrize("words,example", [
    (["install", "--cluster-id", ""], "--cluster-id c1"),
    (["status", "-n", ""], "-n kmesh-system"),
    (["sandbox", "status", "--name", ""], "--name demo"),
])
def test_an_empty_value_gets_an_example_of_a_good_one(capsys, no_env, words: list[str],  # noqa: F811
                                                      example: str) -> None:
    code, _, err = cli(capsys, *words)
    assert code == 2 and f"'': empty value; give " in err and f", e.g. {example} (see " in err, err


def test_a_directory_in_a_kubeconfig_list_is_named_as_an_entry_of_the_variable(capsys, monkeypatch,
                                                                            tmp_path: Path, no_env) -> None:  # noqa: F811
    """`KUBECONFIG=/dir:/ok` said `--kubeconfig /dir (from $KUBECONFIG): is not a file`, a
    flag never typed; now the variable's value and the entry, as a missing list is said."""
    good = tmp_path / "ok"
    good.write_text(CONFIG_HEAD + ONE_CONTEXT.replace("SERVER", "https://127.0.0.1:1")
                    + "users:\n- name: u\n  user: {token: x}\n")
    value = f"{tmp_path}:{good}"
    monkeypatch.setenv("KUBECONFIG", value)
    code, _, err = cli(capsys, "status")
    from kmeshctl.params import shown  # a long value is shown cut in its middle

    assert code == 2 and err.startswith(f"Error: $KUBECONFIG={shown(value)}: {tmp_path} is not a file; "), err
    code, _, err = cli(capsys, "status", "--kubeconfig", value)  # typed, a list is refused: one file (p49 f49c)
    assert code == 2 and err.startswith(f"Error: --kubeconfig {shown(value, whole=True)}: one file, as kubectl's "
                                        "--kubeconfig (no file has that name; a list of kubeconfigs to merge is "
                                        "$KUBECONFIG's)"), err


@pytest.mark.parametrize("typed", [["--dry-run=none"], ["--dry-run", "none"]])
def test_kubectls_dry_run_none_means_leave_the_flag_out(capsys, no_env, typed: list[str]) -> None:  # noqa: F811
    """`install --dry-run=none` was pointed at the offline render (as =client); in kubectl
    none is no dry run: the line without the flag."""
    code, _, err = cli(capsys, "install", "--cluster-id", "c1", *typed)
    assert code == 2 and "kubectl's --dry-run=none is no dry run: leave --dry-run out: " \
        "`kmeshctl install --cluster-id c1`" in err and "render" not in err, err


def test_a_dry_run_mode_kubectl_does_not_have_is_said_so(capsys, no_env) -> None:  # noqa: F811
    code, _, err = cli(capsys, "install", "--cluster-id", "c1", "--dry-run=bogus")
    assert code == 2 and "bogus is no dry-run mode (kubectl's are client, server and none)" in err, err
    assert "render" not in err, err


@pytest.mark.parametrize("words", [["install", "--help=true"], ["--help=1"], ["sandbox", "list", "--help=yes"]])
def test_help_given_a_value_says_to_write_it_alone(capsys, no_env, words: list[str]) -> None:  # noqa: F811
    code, _, err = cli(capsys, *words)
    assert code == 2 and "Option '--help' does not take a value; write --help (or -h) alone (see '" in err, err


@pytest.mark.parametrize("words,hint", [
    (["install", "--cluster-id", "c1", "-f", "values.yaml"], "install reads no values file (istioctl's -f)"),
    (["install", "--set", "foo=bar"], "install has no --set (istioctl's)"),
    (["waypoint", "apply", "-n", "team-a", "--name", "wp", "--enroll-namespace"],
     "`kubectl label namespace team-a istio.io/use-waypoint=wp`"),
    (["waypoint", "delete", "--all"], "`kmeshctl waypoint list -A` lists them"),
    (["uninstall", "--purge"], "uninstall always removes everything kmeshctl installed (istioctl's --purge)"),
])
def test_istioctls_flags_say_what_kmeshctl_does_instead(capsys, no_env, words: list[str],  # noqa: F811
                                                         hint: str) -> None:
    code, _, err = cli(capsys, *words)
    [line] = err.strip().splitlines()
    assert code == 2 and line.startswith("Error: No such option: ") and hint in line, line
