"""Issue 14, fifth new-user pass: numbers are plain ASCII digits in every flag. typer's
pydantic coercion also takes `8_0`, `+80`, `' 80'` and `80.0` for an integer (and `1_0`
for a duration); kmeshctl.asciinum's one rule now holds for every int and float option of
every command, --weights, and the port of --xds-address. --weights has a bound on its
phases. The real command tree through kmeshctl.cli.main, in-process; nothing is started
(each case is refused before any work)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from kmeshctl import demo
from kmeshctl.asciinum import is_integer_text, is_number_text, parse_int, parse_number
from kmeshctl.errors import UsageError
from test_cli_kinds import REQUIRED_ARGS, cli, leaf_commands, no_env  # noqa: F401

INTEGER_TRICKS = ["8_0", "+80", " 80", "80 ", "80.0", "1e2", "0x50", "٨٠", "８０", "-", ""]
NUMBER_TRICKS = ["1_0", "+10", " 10", "10 ", ".5", "5.", "0x10", "١٠", "1,5", "10s"]


def _number_options() -> list[tuple[list[str], Any, type]]:
    found = []
    for words, command in leaf_commands():
        for param in command.params:
            annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
            kinds = (annotation, *getattr(annotation, "__args__", ()))
            kind = int if int in kinds else float if float in kinds else None
            if kind is not None and param.param_type_name == "option":
                found.append((words, param, kind))
    return found


NUMBER_OPTIONS = _number_options()


def test_the_rule() -> None:
    for text in INTEGER_TRICKS:
        assert not is_integer_text(text, signed=True), text
        with pytest.raises(ValueError):
            parse_int(text, signed=True)
    for text in NUMBER_TRICKS:
        assert not is_number_text(text), text
        with pytest.raises(ValueError):
            parse_number(text)
    assert parse_int("-5", signed=True) == -5 and parse_int("0080") == 80
    assert [parse_number(t) for t in ("1.5", "10", "1e3")] == [1.5, 10.0, 1000.0]
    assert is_number_text("inf") and is_number_text("nan")  # numbers, refused by name by the range checks


def test_every_number_option_is_found() -> None:
    flags = {max(p.opts, key=len) for _, p, _ in NUMBER_OPTIONS}
    assert {"--admin-port", "--timeout", "--replicas", "--requests"} <= flags, flags


@pytest.mark.parametrize("words,param,kind", NUMBER_OPTIONS,
                         ids=[" ".join(w) + " " + max(p.opts, key=len) for w, p, _ in NUMBER_OPTIONS])
def test_every_number_flag_takes_plain_ascii_digits_only(words, param, kind, capsys, no_env) -> None:
    flag = max(param.opts, key=len)
    word = "an integer" if kind is int else "a number"
    for value in INTEGER_TRICKS if kind is int else NUMBER_TRICKS:
        if value == "" or (value == "10s" and param.metavar == "DURATION"):
            continue  # an empty value has its own message (test_cli_newuser); a duration takes `10s` (pass 6)
        code, out, err = cli(capsys, *words, *REQUIRED_ARGS.get(tuple(words), []), f"{flag}={value}")
        assert code == 2 and not out and len(err.strip().splitlines()) == 1, (flag, value, err)
        problem = "not an integer" if kind is int else "not a number"
        if param.metavar == "DURATION":  # pass 6: durations take `5m` too, and say so
            problem, word = "(not a duration|not an integer)", "a duration"
        if value == "80.0" and "did you mean" in err:  # pass 48: the integer it spells, when taken, with its line
            meant = re.escape(flag)
            assert re.match(rf"Error: {meant} 80.0: {problem}; did you mean {meant} 80\? `kmeshctl ", err), err
            continue
        assert re.match(rf"Error: {re.escape(flag)} (\S+|'[^']*'): {problem}; use {word} from ", err), (value, err)


def test_a_value_with_spaces_is_quoted_and_the_short_flag_named(capsys, no_env) -> None:
    code, _, err = cli(capsys, "demo", "traffic-shift", "-c", " 80")
    assert code == 2 and err.startswith("Error: -c ' 80': not an integer; use an integer from 1 to 100000"), err


def test_a_decimal_duration_is_still_taken(capsys, no_env, tmp_path) -> None:
    """`--timeout 1.5` passes the number check: what fails next is the missing kubeconfig."""
    code, _, err = cli(capsys, "--kubeconfig", str(tmp_path / "none"), "enable-ns", "default", "--timeout", "1.5")
    assert code == 2 and "--timeout" not in err and f"--kubeconfig {tmp_path / 'none'}: does not exist" in err, err


def test_an_overlong_integer_is_out_of_range_in_a_bounded_line(capsys, no_env) -> None:
    code, _, err = cli(capsys, "dump", "config", "--admin-port", "9" * 10_000)
    assert code == 2 and len(err) < 300 and "(10000 characters): out of range; use an integer from 1 to 65535" \
        in err, err


@pytest.mark.parametrize("weights", ["+90/10", "90/+10", "9_0/10", "90/10.0", "90/1e1"])
def test_weights_take_plain_digits(weights: str, capsys, no_env) -> None:
    code, out, err = cli(capsys, "demo", "traffic-shift", "--weights", weights)
    assert code == 2 and not out and err.startswith("Error: --weights ") and "weights must be whole numbers" in err, err


def test_weights_have_a_bounded_number_of_phases(capsys, no_env) -> None:
    _, subject = demo.fortio_demo()
    assert len(demo.parse_weight_sets(",".join(["90/10"] * demo.MAX_WEIGHT_SETS), subject)) == demo.MAX_WEIGHT_SETS
    with pytest.raises(UsageError, match=f"21 weight sets; use at most {demo.MAX_WEIGHT_SETS}"):
        demo.parse_weight_sets(",".join(["90/10"] * 21), subject)
    code, _, err = cli(capsys, "demo", "traffic-shift", "--weights", ",".join(["50/50"] * 5000))
    assert code == 2 and len(err) < 300 and "5000 weight sets; use at most 20" in err, err


@pytest.mark.parametrize("address", ["istiod:+15012", "istiod:1_5012", "istiod: 15012", "istiod:15012.0"])
def test_the_xds_port_takes_plain_digits(address: str, capsys, no_env) -> None:
    code, _, err = cli(capsys, "render", "--cluster-id", "c1", "--xds-address", address)
    assert code == 2 and "--xds-address" in err and ("not an integer" in err or "spaces" in err), err
