"""The flag that picks a sandbox, and a sandbox that does not exist (helper 55).

1 Every command that picks a sandbox takes both spellings, `--sandbox NAME` and `--name
  NAME`, one meaning (and $KMESHCTL_SANDBOX_NAME where it applied); help shows --name in
  the `sandbox` group and --sandbox on demo and dump, naming the other spelling; both
  complete the sandbox names; no "did you mean" hint sends the user to the other one.
2 A sandbox named that does not exist is said in one wording on every command (one
  function, kmeshctl.sandboxes.not_found): the sandboxes that exist and the fix.

Records in a temporary state root (test_cli_kinds' `state_root`): no sandbox runs."""

from __future__ import annotations

import pytest

from kmeshctl import sandboxes
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_cli_newuser import _complete, _record

# (the command's words, the spelling its help shows, the other one)
PICKERS = [
    (["dump", "maps"], "--sandbox", "--name"),
    (["dump", "config"], "--sandbox", "--name"),
    (["demo", "traffic-shift"], "--sandbox", "--name"),
    (["sandbox", "up"], "--name", "--sandbox"),
    (["sandbox", "down"], "--name", "--sandbox"),
    (["sandbox", "status"], "--name", "--sandbox"),
    (["sandbox", "exec"], "--name", "--sandbox"),
]
NOT_FOUND = ("Error: sandbox nope not found (sandboxes: alpha); pass one of them, or make it: "
             "`kmeshctl sandbox up --name nope`")
# the commands that need the sandbox to exist, as each is run on it
USES = {("dump", "maps"): [], ("dump", "config"): [], ("demo", "traffic-shift"): ["--target", "local", "-c", "1"],
        ("sandbox", "status"): [], ("sandbox", "exec"): ["netutils", "--", "true"]}


# ------------------------------------------------------------------ 1. two spellings, one flag


@pytest.mark.parametrize("words,shown,other", PICKERS, ids=lambda x: " ".join(x) if isinstance(x, list) else x)
def test_help_shows_the_commands_own_spelling_and_names_the_other(words, shown, other, capsys, no_env) -> None:
    code, out, _ = cli(capsys, *words, "--help")
    assert code == 0
    rows = [line for line in out.splitlines() if line.lstrip().startswith(("--sandbox", "--name"))]
    assert len(rows) == 1 and rows[0].split()[:2] == [shown, "NAME"], rows
    assert f"also {other} NAME" in " ".join(out.split()), out


@pytest.mark.parametrize("words", list(USES), ids=" ".join)
@pytest.mark.parametrize("flag", ["--sandbox", "--name"])
def test_both_spellings_pick_the_sandbox_on_every_command(words, flag, state_root, capsys, no_env) -> None:
    _record("alpha")
    code, out, err = cli(capsys, *words, flag, "nope", *USES[words])
    # 2: the one wording; the demo's fix then runs the demo there, with the flags typed (h62)
    # the others too (pass 31): the command typed, after the `sandbox up` that makes its sandbox
    again = {("demo", "traffic-shift"): f"demo traffic-shift {flag} nope -c 1 --target local",
             ("sandbox", "exec"): f"sandbox exec netutils {flag} nope -- true"}.get(words, f"{' '.join(words)} {flag} nope")
    rerun = f" && kmeshctl {again}`"
    assert code == 1 and not out and err.strip() == NOT_FOUND[:-1] + rerun, err


@pytest.mark.parametrize("flag", ["--sandbox", "--name"])
def test_down_takes_both_spellings(flag, state_root, capsys, no_env) -> None:
    _record("alpha")
    code, out, err = cli(capsys, "sandbox", "down", flag, "nope")
    assert code == 1 and not out
    assert err.strip() == "Error: sandbox nope not found (sandboxes: alpha); `kmeshctl sandbox down " \
        f"{flag} nope --ignore-not-found` makes this exit 0"
    code, out, err = cli(capsys, "sandbox", "down", flag, "nope", "--ignore-not-found")
    assert code == 0 and not out and not err, err


@pytest.mark.parametrize("words", [["dump", "maps"], ["sandbox", "status"]], ids=" ".join)
def test_the_environment_variable_still_names_the_sandbox(words, state_root, capsys, no_env, monkeypatch) -> None:
    _record("alpha")
    monkeypatch.setenv("KMESHCTL_SANDBOX_NAME", "nope")
    code, _, err = cli(capsys, *words)
    assert code == 1 and "sandbox nope (from $KMESHCTL_SANDBOX_NAME) not found (sandboxes: alpha)" in err, err


@pytest.mark.parametrize("words", [["sandbox", "status"], ["dump", "maps"], ["demo", "traffic-shift"]],
                         ids=" ".join)
@pytest.mark.parametrize("flag", ["--sandbox", "--name"])
def test_a_bad_name_is_named_by_the_flag_as_typed(words, flag, state_root, capsys, no_env) -> None:
    code, out, err = cli(capsys, *words, flag, "Bad_Name")
    assert code == 2 and not out and err.startswith(f"Error: {flag} Bad_Name: not a sandbox name"), err
    if words[0] in ("demo", "dump") or words[1:] == ["status"]:  # the name fitted, its line (the demo makes
        # it with no sandbox up; dump and sandbox status mend as the demo does, t42b 10, t43b 9)
        assert f"did you mean {flag} bad-name? `kmeshctl {' '.join(words)} {flag} bad-name`" in err, err
    else:
        assert f"e.g. {flag} demo" in err or f"did you mean {flag} bad-name?" in err, err


@pytest.mark.parametrize("line", ["kmeshctl dump maps --name ", "kmeshctl dump config --sandbox ",
                                  "kmeshctl demo traffic-shift --sandbox ", "kmeshctl demo traffic-shift --name ",
                                  "kmeshctl sandbox status --sandbox ", "kmeshctl sandbox exec --sandbox ",
                                  "kmeshctl sandbox down --sandbox ", "kmeshctl sandbox status --name "])
def test_both_spellings_complete_the_sandbox_names(line, state_root, capsys, monkeypatch, no_env) -> None:
    _record("alpha")
    _record("beta")
    code, words, err = _complete(capsys, monkeypatch, line)
    assert code == 0 and not err and words == ["alpha", "beta"], (words, err)


def test_no_hint_sends_a_user_to_the_other_spelling(capsys, no_env) -> None:
    code, _, err = cli(capsys, "waypoint", "status", "--sandbox", "x")  # --name there is a waypoint's
    assert code == 2 and "No such option: --sandbox" in err and "did you mean --name" not in err, err


def test_suggested_commands_use_each_commands_own_spelling(state_root, no_env) -> None:
    _record("alpha")
    assert sandboxes.for_sandbox("kmeshctl sandbox status", "b") == "kmeshctl sandbox status --name b"
    assert sandboxes.for_sandbox("kmeshctl demo traffic-shift", "b") == "kmeshctl demo traffic-shift --sandbox b"
    assert sandboxes.for_sandbox("kmeshctl dump maps", "alpha") == "kmeshctl dump maps --sandbox alpha"
    assert sandboxes.for_sandbox("kmeshctl demo traffic-shift --name b", "b") == "kmeshctl demo traffic-shift --name b"


# ------------------------------------------------------------------ 2. one wording


def test_not_found_is_one_wording_with_the_list_and_the_fix(state_root, no_env) -> None:
    assert str(sandboxes.not_found("nope")) == ("sandbox nope not found (no sandbox exists); make it: "
                                                "`kmeshctl sandbox up --name nope`")
    _record("alpha")
    _record("beta")
    assert str(sandboxes.not_found("nope")) == ("sandbox nope not found (sandboxes: alpha, beta); pass one of them, "
                                                "or make it: `kmeshctl sandbox up --name nope`")


@pytest.mark.parametrize("words,flag,word", [(["demo", "traffic-shift"], "--sandbox", "demo"),
                                             (["sandbox", "status"], "--name", "demo"),
                                             (["dump", "maps"], "--map", "km_backend")],
                         ids=lambda x: " ".join(x) if isinstance(x, list) else x)
def test_a_positional_name_gets_the_commands_own_spelling(words, flag, word, state_root, capsys,  # noqa: F811
                                                          no_env) -> None:
    if flag == "--sandbox" or words[0] == "sandbox":
        _record(word)  # --sandbox WORD is offered only for a sandbox that exists (p21 finding 6)
    code, out, err = cli(capsys, *words, word)  # a word --map refuses is named as refused (t124 finding 5)
    assert code == 2 and not out and f"with {flag}: `kmeshctl {' '.join(words)} {flag} {word}`" in err, err
