"""Pass-48 fixer f48a (t47a 11, 15, "still from t45a"): whole lines that work, no raw parser text.

- an on/off value before a mistyped command (`-q=1 statsu`) gets the typo's lines, as
  `statsu -q=1` does, never click's "does not take a value; also no such command";
- a stray word beside a mistyped command is read as that command reads it: `sandbox stat
  T47a_x -o jsn` -> `--name t47a-x -o json`; a word no reading takes (`dump mpas My_Box`)
  gets no line keeping it but the command's own reason and its lines;
- an unknown flag (kubectl's `--cluster c`) beside an on/off value: both said, the line of
  the context whose cluster it is;
- `--waypoint-name` on waypoint apply is its --name (the flag names its own noun);
- `demo traffc`: did you mean traffic-shift, with the line;
- `help waypoint aply`: `kmeshctl help waypoint apply`;
- `completion fish=1`: `kmeshctl completion fish`;
- `--dry-run install ... --wait`: the dry-run line without --wait, saying why.

In-process through kmeshctl.cli.main; kubeconfigs point at https://127.0.0.1:1 and are only read.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from test_cli_kinds import _record, cli, no_env, state_root  # noqa: F401
from test_p23_command_hints import _line, _pasted_lines, stubbed  # noqa: F401
from test_p29_tier_hints import offline  # noqa: F401
from test_p44_f44a import _offered
from test_p47_f47a import RAW, _lines_said_required, _only_lines

CLICK_WORDS = ("does not take a value; also no such command", "Possible options", "No such command '")


def _said_plainly(said: str) -> None:
    assert not any(raw in said for raw in (*RAW, *CLICK_WORDS)), said


# ------------------------------------------------------------------ 1. an on/off value before a command typo


@pytest.mark.parametrize("words,line", [
    ("-q=1 statsu", "kmeshctl status -q"),
    ("--quiet=true statsu", "kmeshctl status --quiet"),
    ("-q=1 sandbx status", "kmeshctl sandbox status -q"),
    ("-q=1 sandbox stat", "kmeshctl sandbox status -q"),
    ("--quiet=true waypoint lst", "kmeshctl waypoint list --quiet"),
    ("waypoint -q=1 lst", "kmeshctl waypoint list -q"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_an_on_off_value_before_a_typo_gets_the_typos_line(words, line, capsys, stubbed, state_root,  # noqa: F811
                                                          offline) -> None:  # noqa: F811
    said = _only_lines(capsys, words, [line])
    _said_plainly(said)
    assert "has no command" in said and "did you mean" in said, said


# ------------------------------------------------------------------ 2. a stray word beside a command typo


@pytest.mark.parametrize("words,line", [
    ("sandbox stat T47a_x -o jsn", "kmeshctl sandbox status --name t47a-x -o json"),
    ("sandbox stat T47a_x", "kmeshctl sandbox status --name t47a-x"),
    ("sandbox status T47a_x", "kmeshctl sandbox status --name t47a-x"),
    ("demo traffc-shift T47a_x", "kmeshctl demo traffic-shift --sandbox t47a-x"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_stray_name_is_given_its_flag_mended(words, line, capsys, stubbed, state_root,  # noqa: F811
                                               offline) -> None:  # noqa: F811
    """Sandbox t47a-x is up: T47a_x is it, as `--name T47a_x` is mended to it."""
    _record("t47a-x")
    said, offered = _offered(capsys, *shlex.split(words))
    assert offered == [shlex.split(line)], said
    _said_plainly(said)


def test_a_stray_name_of_no_sandbox_gets_the_line_making_it(capsys, stubbed, state_root, offline) -> None:  # noqa
    """No sandbox t47a-x: the typo's line is never `sandbox status T47a_x` with "(then fix ...)" but
    sandbox status' own reason, and its line (as `sandbox status T47a_x` says)."""
    said, offered = _offered(capsys, "sandbox", "stat", "T47a_x", "-o", "jsn")
    assert "did you mean status? sandbox status would refuse T47a_x: it takes no positional arguments, and T47a_x " \
        "is not a sandbox name" in said and "did you mean --name t47a-x?" in said, said
    assert offered == [shlex.split("kmeshctl sandbox up --name t47a-x")], said
    _said_plainly(said)


def test_a_word_no_reading_takes_gets_no_line_keeping_it(capsys, stubbed, state_root, offline) -> None:  # noqa
    """`dump mpas My_Box`: no map, no sandbox, no cluster for --pod: dump maps' reason and its own line."""
    said, offered = _offered(capsys, "dump", "mpas", "My_Box")
    _said_plainly(said)
    assert "did you mean maps? dump maps would refuse My_Box: My_Box is no map (km_frontend" in said, said
    assert "names no sandbox here" in said, said
    assert offered and all("My_Box" not in line for line in offered), said
    assert ["kmeshctl", "dump", "maps"] in offered, said


def test_a_sandbox_name_typed_otherwise_is_the_sandbox(capsys, stubbed, state_root, offline) -> None:  # noqa
    """`dump maps My_Box` with sandbox my-box up: --sandbox my-box, as `--sandbox My_Box` is mended."""
    _record("my-box")
    for words in ("dump maps My_Box", "dump mpas My_Box", "dump config My_Box"):
        said, offered = _offered(capsys, *shlex.split(words))
        command = "config" if "config" in words else "maps"
        assert offered == [["kmeshctl", "dump", command, "--sandbox", "my-box"]], said


def test_a_map_typo_beside_a_command_typo_gets_both_mended(capsys, stubbed, state_root, offline) -> None:  # noqa
    said, offered = _offered(capsys, "dump", "mpas", "km_frontnd", "-o", "jsn")
    assert offered == [shlex.split("kmeshctl dump maps --map km_frontend -o json")], said
    said, offered = _offered(capsys, "dump", "maps", "km_frontnd")
    assert offered == [shlex.split("kmeshctl dump maps --map km_frontend")], said


# ------------------------------------------------------------------ 3. an unknown flag beside an on/off value


@pytest.fixture
def cluster_kubeconfig(tmp_path: Path, monkeypatch) -> str:
    """kcc.yaml (the working directory): cluster c is context dev's only; prod's is another."""
    (tmp_path / "kcc.yaml").write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: prod\n"
        "clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
        "- name: other\n  cluster: {server: 'https://127.0.0.1:1'}\n"
        "contexts:\n- name: dev\n  context: {cluster: c, user: u}\n- name: prod\n  context: {cluster: other, user: u}\n"
        "users:\n- name: u\n  user: {token: x}\n")
    monkeypatch.chdir(tmp_path)
    return "kcc.yaml"


@pytest.mark.parametrize("words", ["--cluster c status -q=1", "status --cluster c -q=1"])
def test_an_unknown_flag_and_an_on_off_value_are_said_together(words, capsys, stubbed, state_root,  # noqa: F811
                                                               offline) -> None:  # noqa: F811
    said, offered = _offered(capsys, *shlex.split(words))
    assert "Option '-q' does not take a value" in said and "no such option: --cluster; status has no --cluster" \
        in said, said
    assert offered == [], said  # no cluster c anywhere: a line without --cluster would ask another cluster


@pytest.mark.parametrize("words", ["--kubeconfig kcc.yaml --cluster c status -q=1",
                                   "--kubeconfig kcc.yaml status --cluster c -q=1"])
def test_an_unknown_cluster_flag_gets_its_contexts_line(words, cluster_kubeconfig, capsys, stubbed,  # noqa: F811
                                                        state_root, offline) -> None:  # noqa: F811
    said, offered = _offered(capsys, *shlex.split(words))
    assert "Option '-q' does not take a value" in said and "cluster c is context dev's" in said, said
    assert offered == [shlex.split("kmeshctl --kubeconfig kcc.yaml status -q --context dev")], said


def test_an_unknown_flag_before_a_command_typo_names_both(cluster_kubeconfig, capsys, stubbed, state_root,  # noqa
                                                          offline) -> None:  # noqa: F811
    """`--cluster c statsu`: the flag said as for status (its line with status), and the typo."""
    said, offered = _offered(capsys, "--kubeconfig", "kcc.yaml", "--cluster", "c", "statsu", "-q")
    assert "status has no --cluster" in said and "; also kmeshctl has no command statsu; did you mean status?" \
        in said, said
    assert offered == [shlex.split("kmeshctl --kubeconfig kcc.yaml status -q --context dev")], said


def test_a_misspelled_flag_beside_an_on_off_value_is_mended_too(capsys, stubbed, state_root,  # noqa: F811
                                                                offline) -> None:  # noqa: F811
    said = _only_lines(capsys, "status --namspace foo -q=1", ["kmeshctl status --namespace foo -q"])
    assert "no such option: --namspace; did you mean --namespace?" in said, said
    _said_plainly(said)


# ------------------------------------------------------------------ 4. a flag naming its own noun


@pytest.mark.parametrize("words,meant,line", [
    ("waypoint apply -n team-a --waypoint-name wp1 --dry-run", "--waypoint-name; did you mean --name?",
     "kmeshctl waypoint apply -n team-a --name wp1 --dry-run"),
    ("waypoint status --waypoint-name=wp1", "--waypoint-name; did you mean --name?",
     "kmeshctl waypoint status --name=wp1"),
    ("waypoint apply --waypoint-namespace team-a --name wp --dry-run", "--waypoint-namespace; did you mean --namespace?",
     "kmeshctl waypoint apply --namespace team-a --name wp --dry-run"),
    ("dump maps --map-name km_backend", "--map-name; did you mean --map?", "kmeshctl dump maps --map km_backend"),
], ids=lambda v: v if " " in v and not v.startswith("kmeshctl") and "?" not in v else None)
def test_a_flag_naming_its_commands_noun_is_the_commands_flag(words, meant, line, capsys, stubbed,  # noqa: F811
                                                              state_root, offline) -> None:  # noqa: F811
    said = _only_lines(capsys, words, [line])
    assert f"No such option: {meant} `{line}`" in said, said


# ------------------------------------------------------------------ 5. a typo of a command's first word


@pytest.mark.parametrize("words,line", [
    ("demo traffc --target cluster", "kmeshctl demo traffic-shift --target cluster"),
    ("demo trafic", "kmeshctl demo traffic-shift"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_typo_of_a_commands_first_word_is_that_command(words, line, capsys, stubbed, state_root,  # noqa: F811
                                                         offline) -> None:  # noqa: F811
    said = _only_lines(capsys, words, [line])
    assert "did you mean traffic-shift?" in said and "its commands:" not in said, said


# ------------------------------------------------------------------ 6. help of a mistyped command


@pytest.mark.parametrize("words,line", [
    ("help waypoint aply", "kmeshctl help waypoint apply"),
    ("help sandbx up", "kmeshctl help sandbox up"),
    ("help demo traffc", "kmeshctl help demo traffic-shift"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_help_of_a_typo_offers_the_help_line(words, line, capsys, state_root, offline) -> None:  # noqa: F811
    said = _line(capsys, *shlex.split(words))
    assert _pasted_lines(said) == [shlex.split(line)], said
    code, out, _ = cli(capsys, *shlex.split(line)[1:])
    assert code == 0 and out.startswith("Usage: kmeshctl "), out


# ------------------------------------------------------------------ 7. completion's shell typed otherwise


@pytest.mark.parametrize("typed,shell", [("fish=1", "fish"), ("Bash", "bash"), ("fsh", "fish"),
                                         ("/bin/zsh", "zsh"), ("bash=true", "bash")])
def test_completion_of_a_shell_typed_otherwise_offers_its_line(typed, shell, capsys, state_root,  # noqa: F811
                                                               offline) -> None:  # noqa: F811
    said = _line(capsys, "completion", typed)
    assert _pasted_lines(said) == [["kmeshctl", "completion", shell]], said
    code, out, _ = cli(capsys, "completion", shell)
    assert code == 0 and out, out


def test_completion_of_no_shell_offers_none(capsys, state_root, offline) -> None:  # noqa: F811
    said = _line(capsys, "completion", "powershell")
    assert _pasted_lines(said) == [] and "use bash, zsh or fish" in said, said


# ------------------------------------------------------------------ 8. --dry-run with --wait


@pytest.mark.parametrize("words,line", [
    ("--dry-run install --cluster-id c1 --wait", "kmeshctl install --dry-run --cluster-id c1"),
    ("instal --dry-run --cluster-id c1 --wait", "kmeshctl install --dry-run --cluster-id c1"),
    ("install --dry-run --cluster-id c1 --wait", "kmeshctl install --dry-run --cluster-id c1"),
    ("--dry-run install --cluster-id c1 --xds-address x:1 --wait",
     "kmeshctl install --dry-run --cluster-id c1 --xds-address x:1"),
    ("--dry-run waypoint apply --name wp --wait", "kmeshctl waypoint apply --dry-run --name wp"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_dry_run_with_wait_offers_the_dry_run_without_wait(words, line, capsys, stubbed, state_root,  # noqa
                                                             offline) -> None:  # noqa: F811
    said = _lines_said_required(capsys, words, [line])
    if not words.startswith("install"):  # the line built from the words typed says what it left out
        assert f"`{line}` (--wait left out: --dry-run and --wait do not go together" in said, said
    assert "no line is offered" not in said and "then fix" not in said, said
