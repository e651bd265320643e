"""Issue 14, eighth new-user pass: how a bad-input line reads, one test (or a few) per
kind, each across every command the kind reaches (the real typer command tree through
kmeshctl.cli.main, in-process; nothing here needs a cluster or a sandbox: every case is
refused while the command line is parsed or checked):

3  kubectl's `-A=true` / `-q=false` on an on/off short flag says how kmeshctl spells it;
6  a value typed positionally where the command takes it as a flag names the flag, with
   the command as it would be accepted;
7  `kmeshctl -n foo enable-ns bar` keeps the pasteable hint;
8  one quoting rule for every echoed bad value (shell-style, as shlex.quote writes it);
9  `--weights 90,10` says what is wrong and offers `90/10`;
13 every bad-input (exit 2) line ends with `(see 'kmeshctl COMMAND --help')`."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from kmeshctl.cli.cmdline import walk
from test_cli_kinds import REQUIRED_ARGS, ROOT, _record, cli, leaf_commands, no_env, state_root  # noqa: F401

RUNNABLE = [(words, command) for words, command in leaf_commands() if not command.hidden and words != ["help"]]


def _line(words: list[str]) -> list[str]:
    """A command line of ``words`` with the arguments it needs (a pod command after `--`)."""
    return [*words, *REQUIRED_ARGS.get(tuple(words), []), *(["--", "true"] if words[-1] == "exec" else [])]


def _before_dashes(line: list[str], *extra: str) -> list[str]:
    at = line.index("--") if "--" in line else len(line)
    return [*line[:at], *extra, *line[at:]]


def _pointer(words: list[str]) -> str:
    return f" (see 'kmeshctl {' '.join(words)} --help')"


# ------------------------------------------------------------------ 3. -X=value on an on/off flag


def _short_flags(command) -> list[tuple[str, object]]:
    return [(opt, p) for p in command.params if p.param_type_name == "option" and getattr(p, "is_flag", False)
            and not getattr(p, "hidden", False) for opt in p.opts if len(opt) == 2 and opt[1] != "-"]


SHORT_FLAG_CASES = [(words, flag, value) for words, command in RUNNABLE for flag, _ in _short_flags(command)
                    if flag != "-h" for value in ("true", "false")]


def test_some_commands_have_on_off_short_flags() -> None:
    flags = {(tuple(w), f) for w, f, _ in SHORT_FLAG_CASES}
    assert (("waypoint", "list"), "-A") in flags and (("sandbox", "up"), "-q") in flags, flags


@pytest.mark.parametrize("words,flag,value", SHORT_FLAG_CASES, ids=lambda x: " ".join(x) if isinstance(x, list) else x)
def test_a_short_on_off_flag_with_a_value_says_how_kmeshctl_spells_it(words, flag, value, capsys, no_env) -> None:
    code, out, err = cli(capsys, *_before_dashes(_line(words), f"{flag}={value}"))
    assert code == 2 and not out, (code, out, err)
    assert err.startswith(f"Error: Option '{flag}' does not take a value; on/off flags take no value here: "
                          f"write {flag}"), err
    assert err.rstrip("\n").endswith(_pointer(words)) and err.count("\n") == 1, err
    assert "extra argument" not in err, err


def test_a_short_flag_with_a_value_before_the_command_too(capsys, no_env) -> None:
    code, _, err = cli(capsys, "-A=true", "waypoint", "list")
    assert code == 2 and err.strip() == ("Error: Option '-A' does not take a value; on/off flags take no value "
                                         "here: write -A to turn it on, leave it out for off, "
                                         "`kmeshctl waypoint list -A` "
                                         "(see 'kmeshctl waypoint list --help')"), err


def test_a_short_flag_that_takes_a_value_still_takes_it_after_an_equals_sign(capsys, no_env) -> None:
    code, out, err = cli(capsys, "sandbox", "list", "-o=nosuch")
    assert code == 2 and "-o nosuch: not an accepted value" in err, err


# ------------------------------------------------------------------ 6. a flag's value typed positionally

POSITIONAL = [(words, command) for words, command in RUNNABLE
              if not any(p.param_type_name == "argument" for p in command.params)]


@pytest.mark.parametrize("words", [w for w, _ in POSITIONAL], ids=" ".join)
def test_a_value_given_positionally_names_the_flag_that_takes_it(words: list[str], capsys, monkeypatch,
                                                                  no_env) -> None:
    import kmeshctl.cli.dump

    monkeypatch.setattr(kmeshctl.cli.dump, "_cluster_configured", lambda *_: True)  # --pod needs one (h62)
    code, out, err = cli(capsys, *words, "value1")
    assert code == 2 and not out, (code, out, err)
    line = err.strip()
    assert line.startswith("Error: Got unexpected extra argument(s) (value1); ") and line.endswith(_pointer(words))
    suggested = re.search(r"`(kmeshctl [^`]*)`", line)
    # a value its flag refuses is said so (t124 finding 5), plainly (p24: `, and value1 ...`, no `FLAG refuses`)
    if suggested is None or "give the " not in line:
        assert " refuses " not in line, line
        takes_none = "sandbox list takes none" if words == ["sandbox", "list"] else "this command takes no positional"
        assert takes_none in line, line
        return
    flag = re.search(r"give the [\w ]+ with (--[\w-]+):", line).group(1)
    assert shlex.split(suggested.group(1)) == ["kmeshctl", *words, flag, "value1"], line
    command = dict((tuple(w), c) for w, c in POSITIONAL)[tuple(words)]
    assert any(flag in p.opts for p in command.params), (flag, words)


@pytest.mark.parametrize("line,suggestion", [
    (["dump", "maps", "km_backend"], "kmeshctl dump maps --map km_backend"),
    (["dump", "config", "kmesh-5jnht"], "kmeshctl dump config --pod kmesh-5jnht"),
    (["sandbox", "down", "demo"], "kmeshctl sandbox down --name demo"),  # demo exists (records below)
    (["waypoint", "delete", "east", "-n", "team"], "kmeshctl waypoint delete --name east -n team"),
    (["bench", "cleanup", "3f9a1c"], "kmeshctl bench cleanup --run-id 3f9a1c"),
], ids=lambda x: " ".join(x) if isinstance(x, list) else "")
def test_the_reported_positional_cases(line: list[str], suggestion: str, capsys, monkeypatch, no_env,
                                      state_root) -> None:
    import kmeshctl.cli.dump

    _record("demo")  # --name is offered only for a sandbox that exists (pass 22)
    monkeypatch.setattr(kmeshctl.cli.dump, "_cluster_configured", lambda *_: True)  # --pod needs one (h62)
    code, _, err = cli(capsys, *line)
    assert code == 2 and f"`{suggestion}`" in err, err


def test_a_second_value_or_a_flag_given_too_is_not_offered_twice(capsys, no_env) -> None:
    _, _, err = cli(capsys, "dump", "maps", "--map", "km_backend", "km_manage")
    assert "this command takes no positional arguments: give one map with --map NAME" in err, err
    _, _, err = cli(capsys, "waypoint", "delete", "a", "b")
    assert "give one name with --name NAME" in err, err


# ------------------------------------------------------------------ 7. -n before enable-ns / disable-ns


@pytest.mark.parametrize("words", [["enable-ns"], ["disable-ns"]], ids=" ".join)
@pytest.mark.parametrize("flag", [["-n", "foo"], ["--namespace", "foo"], ["--namespace=foo"], ["-n=foo"]],
                         ids=" ".join)
def test_a_namespace_flag_before_a_namespaces_command_keeps_the_pasteable_hint(words, flag, capsys, no_env) -> None:
    code, out, err = cli(capsys, *flag, *words, "bar", "--wait")
    assert code == 2 and not out, err
    assert f"; give the namespaces as arguments: `kmeshctl {words[0]} foo bar --wait`" in err, err
    assert err.strip().endswith(_pointer(words)), err


# ------------------------------------------------------------------ 8. one quoting rule

QUOTING_CASES = [  # (command line, the flag as echoed, the bad value): one of each checker family
    (["sandbox", "status", "--name", "{v}"], "--name"),
    (["dump", "maps", "--sandbox", "{v}"], "--sandbox"),
    (["status", "-n", "{v}"], "-n"),
    (["precheck", "--istio-namespace", "{v}"], "--istio-namespace"),
    (["waypoint", "status", "--name", "{v}", "-n", "default"], "--name"),
    (["render", "--xds-address", "istiod:15012", "--cluster-id", "{v}"], "--cluster-id"),
    (["render", "--xds-address", "istiod:15012", "--cluster-id", "c1", "--image", "{v}"], "--image"),
    (["render", "--xds-address", "istiod:15012", "--cluster-id", "c1", "--network", "{v}"], "--network"),
    (["dump", "maps", "--map", "{v}"], "--map"),
    (["sandbox", "list", "-o", "{v}"], "-o"),
    (["dump", "config", "--pod", "{v}"], "--pod"),
    (["bench", "cleanup", "--run-id", "{v}"], "--run-id"),
    (["demo", "traffic-shift", "--weights", "{v}"], "--weights"),
    (["completion", "{v}"], "completion:"),
]


@pytest.mark.parametrize("line,flag", QUOTING_CASES, ids=lambda x: " ".join(x) if isinstance(x, list) else x)
@pytest.mark.parametrize("value", ["Bad Name", "Bad_NS.", "x'y"])
def test_every_bad_value_is_echoed_as_a_shell_would_need_it_typed(line, flag, value, capsys, no_env) -> None:
    code, _, err = cli(capsys, *[value if w == "{v}" else w for w in line])
    assert code == 2, err
    assert f"{flag} {shlex.quote(value)}" in err, (shlex.quote(value), err)
    if value == "Bad_NS.":
        assert "'Bad_NS.'" not in err, err  # bare: nothing in it a shell would need quoted


def test_a_value_from_the_environment_is_echoed_by_the_same_rule(capsys, no_env, monkeypatch) -> None:
    monkeypatch.setenv("KMESHCTL_SANDBOX_NAME", "Bad Name")
    for words in (["sandbox", "status"], ["dump", "maps"]):
        code, _, err = cli(capsys, *words)
        assert code == 2 and "$KMESHCTL_SANDBOX_NAME='Bad Name': not a sandbox name" in err, err


# ------------------------------------------------------------------ 9. --weights 90,10


def test_weights_written_with_a_comma_offer_the_value_meant(capsys, no_env, state_root) -> None:
    code, _, err = cli(capsys, "demo", "traffic-shift", "--weights", "90,10")
    assert code == 2 and err.strip() == (
        "Error: --weights 90,10: 2 weight sets of 1 weight each (',' separates the sets, '/' the weights of one "
        "set); did you mean --weights 90/10? `kmeshctl demo traffic-shift --weights 90/10` (see 'kmeshctl demo "
        "traffic-shift --help')"), err  # t39b 4: the whole line, not the value alone
    _, _, err = cli(capsys, "demo", "traffic-shift", "--weights", "90,10,50,50")
    assert "did you mean --weights 90/10,50/50?" in err, err
    _, _, err = cli(capsys, "demo", "traffic-shift", "--weights", "90,20")  # no valid regrouping: the form
    assert "(',' separates the sets, '/' the weights of one set); use 2 weights per set that add up to 100, " \
           "e.g. --weights 90/10" in err, err


def test_a_weight_set_is_named_with_a_colon_before_its_problem(capsys, no_env, state_root) -> None:
    for weights, problem in (("90/10,5", "set 2 (5): one weight, 5"),
                             ("90/10,x", "set 2 (x): weights must be whole numbers"),
                             ("90/10,-10/110", "set 2 (-10/110): negative weight -10")):
        _, _, err = cli(capsys, "demo", "traffic-shift", "--weights", weights)
        assert f"--weights {weights}: {problem}" in err, err


# ------------------------------------------------------------------ 13. the (see '... --help') ending

LISTED_FLAGS = [  # the flags the report named, each with a value it refuses
    ["demo", "traffic-shift", "--weights", "90,20"],
    ["bench", "dataplane", "--paths", "nosuch"],
    ["bench", "dataplane", "--loads", "nosuch"],
    ["render", "--xds-address", "http://istiod:15012", "--cluster-id", "c1"],
    ["install", "--xds-address", "http://istiod:15012", "--cluster-id", "c1"],
    ["render", "--xds-address", "istiod:15012", "--cluster-id", "a b"],
    ["install", "--xds-address", "istiod:15012", "--cluster-id", "c1", "--image", "a b"],
    ["dump", "maps", "--map", "nosuch"],
    ["bench", "cleanup", "--run-id", "xyz"],
]


def _command_words(line: list[str]) -> list[str]:
    command, words = ROOT, []
    for word in line:
        sub = getattr(command, "commands", {}).get(word)
        if sub is None:
            break
        command, words = sub, words + [word]
    return words


@pytest.mark.parametrize("line", LISTED_FLAGS, ids=" ".join)
def test_the_listed_validation_errors_end_with_the_help_pointer(line: list[str], capsys, no_env,
                                                                tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no cluster: every refusal is the flag's own
    code, out, err = cli(capsys, *line)
    assert code == 2 and not out and err.count("\n") == 1, (code, err)
    assert err.rstrip("\n").endswith(_pointer(_command_words(line))), err


BAD_INPUTS = {  # a bad input every command refuses, each from another layer
    "unknown option": ["--no-such-flag"],
    "missing kubeconfig": ["--kubeconfig", "/nonexistent/kc"],
    "extra argument": ["extra1"],
    "empty context": ["--context="],  # a global flag: the command's help lists it too
}


BAD_INPUT_CASES = [(words, kind) for words, command in RUNNABLE for kind in sorted(BAD_INPUTS)
                   # a command with arguments takes the extra word (enable-ns NAMESPACE..., sandbox exec POD)
                   if kind != "extra argument" or not any(p.param_type_name == "argument" for p in command.params)
                   # completion reads no kubeconfig (as kubectl's): a missing one is not its bad input
                   if kind != "missing kubeconfig" or words != ["completion"]]


@pytest.mark.parametrize("words,kind", BAD_INPUT_CASES, ids=lambda x: " ".join(x) if isinstance(x, list) else x)
def test_every_bad_input_of_every_command_ends_with_the_help_pointer(words, kind, capsys, no_env) -> None:
    code, out, err = cli(capsys, *_before_dashes(_line(words), *BAD_INPUTS[kind]))
    # `version` prints the client's version before a kubeconfig error, as `kubectl version`
    assert code == 2 and (not out or words == ["version"] and out.startswith("Client: ")), (code, out, err)
    assert err.startswith("Error: ") and err.count("\n") == 1, err
    assert err.rstrip("\n").endswith(_pointer(words)), err


def test_the_walk_reaches_every_command() -> None:
    names = {" ".join(w) for w, _ in RUNNABLE}
    every = {" ".join(w) for w, c in leaf_commands() if not c.hidden and w != ["help"]}
    assert names == every and len(names) >= 25 and all(c.name for c in walk(ROOT)), names
