"""Pass-23 new-user findings on unknown and mistyped options (in-process, kmeshctl.cli.main;
sandbox records in a temporary state root; nothing is made or removed):

- 1: a 3-letter word inside a flag's name is no prefix guess (`--for` is no
  --force-conflicts), a flag that forces, removes or silences is never a guess, and
  istioctl's `waypoint apply --for service` says what kmeshctl's waypoint takes instead;
- 2: Go's single-dash long flag (`-name`) is `did you mean --name?`, with the line to
  paste, not -n's glued value "ame";
- 3: one option given two different values (`--name a --sandbox b`, `--map x --map y`,
  `-n a -n b`) is refused before anything runs; the same value twice, repeatable options
  and on/off flags are not.
"""

from __future__ import annotations

import re
import shlex

import pytest

from kmeshctl import sandboxes
from kmeshctl.cli import sandbox as sandbox_cli
from kmeshctl.cli.option_hints import option_suggestions
from test_cli_kinds import _record, cli, no_env, state_root  # noqa: F401
from test_cli_p21_conventions import _line

BACKTICKED = re.compile(r"`([^`]*)`")
DESTRUCTIVE = ("--force", "--force-conflicts", "--all", "--ignore-not-found", "--overwrite")  # badinput.NEVER_GUESSED


def _error(capsys, *args: str) -> str:
    code, _, err = cli(capsys, *args)
    return _line(code, err)


# ------------------------------------------------------------------ 1. guesses for an unknown flag


@pytest.mark.parametrize("args", [["waypoint", "apply", "--dry-run", "--for", "service"], ["install", "--for"]])
def test_for_is_no_prefix_of_force_conflicts(args, capsys, no_env) -> None:
    line = _error(capsys, *args)
    assert line.startswith("Error: No such option: --for"), line
    assert "--force" not in line and "did you mean" not in line, line


def test_no_destructive_flag_is_ever_a_guess() -> None:
    from kmeshctl.cli.common import app
    from kmeshctl.cli.cmdline import walk
    import typer

    root = typer.main.get_command(app)
    for command in walk(root):
        for param in command.params:
            for opt in (*getattr(param, "opts", ()), *getattr(param, "secondary_opts", ())):
                if opt in DESTRUCTIVE:
                    for typed in (opt[:5], opt[:-1], opt + "s", opt.replace("o", "0", 1)):
                        assert opt not in option_suggestions(typed, command), (typed, command.name)


def test_prefix_guesses_kept_at_a_word_end_or_four_letters() -> None:
    from kmeshctl.cli.common import app
    import typer

    root = typer.main.get_command(app)
    waypoint_apply = root.commands["waypoint"].commands["apply"]
    assert option_suggestions("--repl", waypoint_apply) == ["--replicas"]
    assert option_suggestions("--forc", waypoint_apply) == []  # only --force-conflicts starts so
    exec_ = root.commands["sandbox"].commands["exec"]
    assert "--name" in option_suggestions("--nam", exec_)


def test_waypoint_apply_for_says_what_kmeshctls_waypoint_takes(capsys, no_env) -> None:
    line = _error(capsys, "waypoint", "apply", "--dry-run", "-n", "shop", "--for", "workload", "--name", "wp")
    assert "did you mean" not in line, line
    assert "always takes Service traffic" in line and "istio.io/waypoint-for: service" in line, line
    assert "istio.io/use-waypoint=wp" in line, line
    (fixed,) = BACKTICKED.findall(line)
    assert shlex.split(fixed) == ["kmeshctl", "waypoint", "apply", "--dry-run", "-n", "shop", "--name", "wp"]
    line = _error(capsys, "waypoint", "apply", "--for=all")
    assert "`kmeshctl waypoint apply`" in line and "istio.io/use-waypoint=waypoint" in line, line


# ------------------------------------------------------------------ 2. Go's -name


@pytest.mark.parametrize("args,fixed", [
    (["dump", "maps", "-name", "t23a"], ["dump", "maps", "--name", "t23a"]),
    (["demo", "traffic-shift", "-name", "t23a", "-c", "12"], ["demo", "traffic-shift", "--name", "t23a", "-c", "12"]),
    (["waypoint", "apply", "--dry-run", "-name", "wp"], ["waypoint", "apply", "--dry-run", "--name", "wp"]),
    (["sandbox", "exec", "netutils-0", "-name", "t23a", "--", "true"],
     ["sandbox", "exec", "netutils-0", "--name", "t23a", "--", "true"]),
    (["waypoint", "list", "-namespace=shop", "-output", "json"],
     ["waypoint", "list", "--namespace=shop", "--output", "json"]),
])
def test_single_dash_long_flag_is_did_you_mean_the_long_flag(args, fixed, state_root, capsys, no_env) -> None:
    line = _error(capsys, *args)
    typed = [w.partition("=")[0] for w in args if w.startswith("-") and not w.startswith("--") and len(w) > 2]
    assert f"did you mean {' and '.join('-' + t for t in typed)}?" in line, line
    assert " -n ame" not in line and "for a namespace" not in line, line
    (command,) = BACKTICKED.findall(line)
    assert shlex.split(command) == ["kmeshctl", *fixed], line
    assert line.endswith(f"(see 'kmeshctl {' '.join(args[:2])} --help')"), line


def test_single_dash_words_that_are_no_long_flag_keep_their_meaning(state_root, capsys, no_env) -> None:
    # -nfoo is -n's glued value; the words of the command exec runs are not kmeshctl's
    _, _, err = cli(capsys, "sandbox", "exec", "netutils-0", "find", "/", "-name", "x")
    assert "did you mean" not in err and "one dash" not in err, err
    code, _, err = cli(capsys, "waypoint", "list", "-nkube-system", "-o", "json")
    assert "did you mean" not in err and "No such option" not in err, err


# ------------------------------------------------------------------ 3. two values of one flag


@pytest.mark.parametrize("command", ["status", "down", "exec"])
def test_name_and_sandbox_naming_two_sandboxes_are_refused_before_anything(command, state_root, capsys, no_env,
                                                                           monkeypatch) -> None:
    _record("t23a")
    _record("t23b")
    monkeypatch.setattr(sandbox_cli, "_remove", lambda *a, **k: pytest.fail("a sandbox was removed"))
    extra = ["netutils-0", "--", "true"] if command == "exec" else []
    line = _error(capsys, "sandbox", command, "--name", "t23a", "--sandbox", "t23b", *extra)
    # with the line for each (f38d: `down` removes both, one after the other)
    typed = " ".join(extra[:1] + ["--name {}"] + extra[1:])
    each = [f"kmeshctl sandbox {command} {typed.format(n)}" for n in ("t23a", "t23b")]
    lines = f"; to remove both: `{' && '.join(each)}`" if command == "down" else \
        f", e.g. `{each[0]}` or `{each[1]}`"
    assert line == (f"Error: --name t23a and --sandbox t23b name two sandboxes; give one{lines} "
                    f"(see 'kmeshctl sandbox {command} --help')"), line
    assert {"t23a", "t23b"} <= set(sandboxes.names())


@pytest.mark.parametrize("args,first,second,long", [
    (["dump", "maps", "--map", "km_backend", "--map", "km_service"], "--map km_backend", "--map km_service", "--map"),
    (["waypoint", "list", "-n", "a", "-n", "b"], "-n a", "-n b", "--namespace"),
    (["waypoint", "list", "-na", "--namespace=b"], "-n a", "--namespace b", "--namespace"),
    (["--context", "a", "status", "--context", "b"], "--context a", "--context b", "--context"),
])
def test_two_values_of_a_one_value_flag_are_refused(args, first, second, long, state_root, capsys, no_env) -> None:
    line = _error(capsys, *args)
    if long == "--context":  # t42b 8 (f43a): no kubeconfig has context a or b, so no line would work pasted
        assert line.startswith(f"Error: {first} and {second}: {long} takes one value; give one; also {first}: "
                               "no kubeconfig to look it up in"), line  # each value's own problem too (p46_f46d)
        assert "`kmeshctl" not in line, line
        return
    # t39b 4: a whole line for each value, not "give one" alone
    assert line.startswith(f"Error: {first} and {second}: {long} takes one value; give one, `kmeshctl "), line
    assert line.count("`kmeshctl ") == 2 and "` or `kmeshctl " in line, line


def test_same_value_twice_repeatable_options_and_flags_are_accepted(state_root, capsys, no_env) -> None:
    for args in (["dump", "maps", "--map", "km_backend", "--map", "km_backend"],
                 ["sandbox", "status", "--name", "t23a", "--sandbox", "t23a"],
                 ["render", "--crd-file", "/nonexistent/e24a", "--crd-file", "/nonexistent/e24b"],
                 ["waypoint", "apply", "--dry-run", "--wait", "--no-wait", "-q", "-q"]):
        _, _, err = cli(capsys, *args)
        assert "takes one value" not in err and "two sandboxes" not in err, (args, err)
