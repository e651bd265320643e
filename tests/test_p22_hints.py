"""Pass-22 review findings on the paste-able hint lines of bad input (in-process,
kmeshctl.cli.main; sandbox records in a temporary state root, files under tmp_path):

- 1: `sandbox exec -o json POD CMD`: an -o before the POD is exec's own (it takes none),
  not the run command's: no `--` line, which would itself be refused;
- 2: a stray word's place is a word of no option, never an option's value
  (`sandbox up a.yaml -f a.yaml`, `--weights 90/10` after a stray 90/10, `--name b.yaml`);
- 3: weight sets typed as stray words and as --weights are joined in the order typed;
- 4: a stray word is offered as --name of `sandbox status|down|exec` only for a sandbox
  that exists (`up` names a new one).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from kmeshctl.cli import names
from kmeshctl.cli import demo as demo_cli
from kmeshctl.cli import sandbox as sandbox_cli
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_cli_p21_conventions import _line

BACKTICKED = re.compile(r"`([^`]*)`")
EXEC_NO_O = "Error: kmeshctl sandbox exec takes no -o/--output (see 'kmeshctl sandbox exec --help')"


def _hint(capsys, *args: str) -> list[str]:
    """The one backticked line the error for ``args`` offers, split as a shell would."""
    line = _line(*cli(capsys, *args)[::2])
    found = BACKTICKED.findall(line)
    assert len(found) == 1, line
    return shlex.split(found[0])


@pytest.fixture
def parsed(monkeypatch) -> list[tuple[str, ...]]:
    """What `sandbox up` and `demo traffic-shift` were given once click accepted the line
    (each stops there, exit 7: nothing is made)."""
    seen: list[tuple[str, ...]] = []

    def check_up(name: str, files: list[Path]) -> None:
        seen.append((name, *map(str, files)))
        raise typer.Exit(7)

    def check_weights(weights: str, *_: object) -> None:
        seen.append((weights,))
        raise typer.Exit(7)

    monkeypatch.setattr(sandbox_cli.sandbox_mod, "check_up", check_up)
    monkeypatch.setattr(demo_cli, "_check_weights_early", check_weights)
    return seen


def _pasted(capsys, hint: list[str]) -> tuple[int, str]:
    assert hint[0] == "kmeshctl", hint
    code, _, err = cli(capsys, *hint[1:])
    return code, err


# ------------------------------------------------------------------ 1. exec's -o before the POD


@pytest.mark.parametrize("args", [["sandbox", "exec", "-o", "json", "web", "ls"],
                                  ["sandbox", "exec", "--output", "json", "web", "ls"],
                                  ["sandbox", "exec", "--output=json", "web", "ls"],
                                  ["sandbox", "exec", "-o", "json"],
                                  ["sandbox", "-o", "json", "exec", "web", "ls"]], ids=" ".join)
def test_exec_o_before_the_pod_is_no_o_of_its_own(args, state_root, capsys, no_env) -> None:  # noqa: F811
    assert _line(*cli(capsys, *args)[::2]) == EXEC_NO_O


def test_an_unknown_flag_before_the_pod_gets_no_dashes_line(state_root, capsys, no_env) -> None:  # noqa: F811
    line = _line(*cli(capsys, "sandbox", "exec", "-x", "web", "ls")[::2])
    assert line.startswith("Error: No such option: -x") and "`--`" not in line, line


@pytest.mark.parametrize("args", [["sandbox", "exec", "web", "curl", "-o", "/dev/null", "http://x/"],
                                  ["sandbox", "exec", "web", "curl", "-sv", "http://x/"],
                                  ["sandbox", "exec", "--name", "r22a", "web", "curl", "-o", "F", "x"],
                                  ["sandbox", "exec", "web", "-o", "json"]], ids=" ".join)
def test_a_dashes_line_is_accepted_when_pasted(args, state_root, capsys, no_env) -> None:  # noqa: F811
    line = _line(*cli(capsys, *args)[::2])
    fixed = re.search(r"the command to run goes after `--`: (kmeshctl [^)]*)\)", line)
    assert fixed, line
    code, err = _pasted(capsys, shlex.split(fixed.group(1)))
    assert "No such option" not in err and "takes no -o" not in err and "unexpected extra" not in err, err


# ------------------------------------------------------------------ 2. an option's value is no stray word


@pytest.mark.parametrize("given", [["-f", "a.yaml"], ["--filename=a.yaml"], ["-fa.yaml"]], ids=" ".join)
def test_a_stray_file_given_with_f_too_is_given_once(given, tmp_path, state_root, capsys, no_env,  # noqa: F811
                                                     monkeypatch, parsed) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n")
    hint = _hint(capsys, "sandbox", "up", "a.yaml", *given)
    assert hint == ["kmeshctl", "sandbox", "up", "-f", "a.yaml"], hint
    assert _pasted(capsys, hint)[0] == 7 and parsed == [("kmesh", "a.yaml")], parsed


def test_files_given_twice_keep_the_order_typed(tmp_path, state_root, capsys, no_env,  # noqa: F811
                                                monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("a.yaml", "b.yaml"):
        Path(name).write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n")
    hint = _hint(capsys, "sandbox", "up", "a.yaml", "b.yaml", "-f", "a.yaml")
    assert hint == ["kmeshctl", "sandbox", "up", "-f", "a.yaml", "-f", "b.yaml"], hint


@pytest.mark.parametrize("name", [["--name", "b.yaml"], ["--name=b.yaml"], ["--name", "bb"]], ids=" ".join)
def test_a_name_value_that_spells_the_stray_file_stays_the_names(name, tmp_path, state_root, capsys,  # noqa: F811
                                                                 no_env, monkeypatch, parsed) -> None:
    monkeypatch.chdir(tmp_path)
    Path("b.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n")
    hint = _hint(capsys, "sandbox", "up", "b.yaml", *name)
    assert hint == ["kmeshctl", "sandbox", "up", "-f", "b.yaml", *name], hint
    code, err = _pasted(capsys, hint)
    if name[-1] == "bb":
        assert code == 7 and parsed == [("bb", "b.yaml")], (code, err, parsed)
    else:  # the name typed is no sandbox name: said of --name, as typed, not of a stray word
        assert code == 2 and "b.yaml: not a sandbox name" in err and "unexpected extra" not in err, err


def test_a_stray_weight_set_that_repeats_weights_is_pasted_once(state_root, capsys, no_env,  # noqa: F811
                                                                parsed) -> None:
    hint = _hint(capsys, "demo", "traffic-shift", "90/10", "--weights", "90/10")
    assert hint == ["kmeshctl", "demo", "traffic-shift", "--weights", "90/10,90/10"], hint
    assert _pasted(capsys, hint)[0] == 7 and parsed == [("90/10,90/10",)], parsed


# ------------------------------------------------------------------ 3. weight sets in the order typed


@pytest.mark.parametrize("args,weights", [
    (["90/10", "--weights", "50/50"], "90/10,50/50"),
    (["--weights", "50/50", "90/10"], "50/50,90/10"),
    (["90/10", "--weights=50/50", "20/80"], "90/10,50/50,20/80"),
    (["-q", "90/10", "--weights", "50/50", "-c", "10"], "90/10,50/50"),
], ids=lambda x: " ".join(x) if isinstance(x, list) else x)
def test_weight_sets_are_joined_in_the_order_typed(args, weights, state_root, capsys, no_env) -> None:  # noqa: F811
    hint = _hint(capsys, "demo", "traffic-shift", *args)
    assert hint[hint.index("--weights") + 1] == weights and hint.count("--weights") == 1, hint
    assert not [w for w in hint if w.count("/") == 1], hint  # no set left a stray word


# ------------------------------------------------------------------ 4. --name of an existing sandbox


def _record(name: str) -> None:
    state_mod.SandboxState(name=name, phase=state_mod.PHASE_READY, agent={"admin": "127.0.0.1:1"}).save()


@pytest.mark.parametrize("command", ["status", "down"])
def test_name_is_offered_only_for_a_sandbox_that_exists(command, state_root, capsys, no_env) -> None:  # noqa: F811
    _record("r22a")
    line = _line(*cli(capsys, "sandbox", command, "r22b")[::2])
    # p24 (F4): said plainly, naming no flag the user did not type; a command that works
    # only for the command that reads (never a guess of a sandbox to remove)
    assert "no sandbox is named r22b (sandboxes: r22a)" in line and "refuses" not in line, line
    assert BACKTICKED.findall(line) == (["kmeshctl sandbox status --name r22a"] if command == "status" else []), line
    assert _hint(capsys, "sandbox", command, "r22a") == ["kmeshctl", "sandbox", command, "--name", "r22a"]


def test_down_offers_the_name_of_a_failed_up(state_root, capsys, no_env) -> None:  # noqa: F811
    state_mod.failed_up_logs("r22c").mkdir(parents=True)
    assert _hint(capsys, "sandbox", "down", "r22c") == ["kmeshctl", "sandbox", "down", "--name", "r22c"]


def test_up_offers_a_new_name(state_root, capsys, no_env) -> None:  # noqa: F811
    assert _hint(capsys, "sandbox", "up", "r22d") == ["kmeshctl", "sandbox", "up", "--name", "r22d"]


@pytest.mark.parametrize("command", ["status", "down", "exec"])
def test_every_sandbox_command_but_up_checks_its_name_exists(command, state_root, no_env) -> None:  # noqa: F811
    sandbox_app = typer.main.get_command(sandbox_cli.sandbox_app)
    param = next(p for p in sandbox_app.commands[command].params if p.name == "name")
    check = names.flag_value_check(param, ("sandbox", command))
    assert check is not None
    with pytest.raises(Exception, match="no sandbox has this name"):
        check("--name", "r22e")
    _record("r22e")
    check("--name", "r22e")
    up = next(p for p in sandbox_app.commands["up"].params if p.name == "name")
    names.flag_value_check(up, ("sandbox", "up"))("--name", "r22f")  # type: ignore[misc]

