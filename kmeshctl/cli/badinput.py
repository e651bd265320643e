"""Bad flag input as kubectl reports it: one line naming the flag as typed (or the
environment variable the value came from) and what would be accepted, instead of
click's and pydantic's own texts ("Value error, 'xml' is not one of ...", "Input should
be a valid integer ...") or "No such option" for a global flag left without its value.
"""

from __future__ import annotations

import os
import re
from enum import Enum
from typing import TYPE_CHECKING, Any, Optional, Sequence

from typer import _click
from typer._click.core import ParameterSource

from kmeshctl.asciinum import DURATION_EXAMPLES, duration_words, is_duration_text, is_integer_text, is_number_text, \
    parse_duration
from kmeshctl.errors import spoken_list
from kmeshctl.params import (DEFAULT_IMAGE, DEFAULT_ISTIO_NAMESPACE, NOT_A_NUMBER, NOT_ACCEPTED, NOT_AN_INTEGER,
                             OUT_OF_RANGE, bounded, given_text)

if TYPE_CHECKING:
    from kmeshctl.errors import UsageError
    from kmeshctl.kube import KubeTarget

NOT_A_DURATION = "not a duration"

_WORD = {int: "an integer", float: "a number"}


def typed_flag(param: _click.Parameter, args: Sequence[str]) -> str:
    """The spelling of ``param`` the user typed (`-o` or `--output`); its longest name
    when none was typed; an argument's metavar (`NAMESPACE...`)."""
    if param.param_type_name == "argument":
        return param.metavar or (param.name or "").upper()
    for arg in args:
        if arg == "--":
            break
        for opt in param.opts:
            if arg == opt or arg.startswith(opt + "=") or (len(opt) == 2 and arg.startswith(opt) and
                                                            not arg.startswith("--")):
                return opt
    return max(param.opts, key=len)


def accepted(param: _click.Parameter) -> str:
    """What the parameter takes, in words: `one of a, b`, `an integer from 1 to 65535`,
    `a number >= 1`; empty when nothing more precise than its type can be said."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None:
        return ""
    if descriptor.is_choice:
        return "one of " + ", ".join(str(c.value if isinstance(c, Enum) else c) for c in descriptor.choices)
    kind = _number_kind(descriptor.annotation)
    if kind is None:
        return ""
    low, high = descriptor.parameter_info.min, descriptor.parameter_info.max
    if is_duration(param):
        return _duration_range(low, high)
    if low is not None and high is not None:
        return f"{_WORD[kind]} from {low:g} to {high:g}"
    if low is not None:
        return f"{_WORD[kind]} >= {low:g}"
    if high is not None:
        return f"{_WORD[kind]} <= {high:g}"
    return _WORD[kind]


DURATION_METAVAR = "DURATION"


def is_duration(param: _click.Parameter) -> bool:
    """A duration flag (metavar DURATION): takes `300`, `300s`, `5m`, `1m30s`, `1h`."""
    return getattr(param, "metavar", None) == DURATION_METAVAR


def _duration_range(low: Optional[float], high: Optional[float]) -> str:
    if low is not None and high is not None:
        span = f"from {duration_words(low)} to {duration_words(high)}"
    elif low is not None:
        span = f">= {duration_words(low)}"
    else:
        span = f"<= {duration_words(high)}" if high is not None else ""
    return f"a duration {span} ({DURATION_EXAMPLES})".replace("duration  (", "duration (")


def _number_kind(annotation: Any) -> Optional[type]:
    for kind in (int, float):
        if annotation is kind or kind in getattr(annotation, "__args__", ()):
            return kind
    return None


def _given_value(err: _click.exceptions.BadParameter) -> Optional[str]:
    """The value as typed, from pydantic's error when typer's coercion raised it."""
    if isinstance(err, NotANumber):
        return err.given
    if err.param is not None and getattr(err.param, "_typed_duration", None) is not None:
        return err.param._typed_duration  # type: ignore[attr-defined]
    cause = err.__cause__
    errors = getattr(cause, "errors", None)
    if callable(errors):
        found = errors()
        if found and "input" in found[0]:
            return str(found[0]["input"])
    return None


def _problem(err: _click.exceptions.BadParameter, param: _click.Parameter) -> str:
    if isinstance(err, NotANumber):
        return err.problem
    cause = err.__cause__
    errors = cause.errors() if callable(getattr(cause, "errors", None)) else []
    kind = errors[0].get("type", "") if errors else ""
    if kind.endswith("_parsing") or kind.endswith("_type"):
        return f"not {_WORD.get(_number_kind(param.type_descriptor.annotation), 'a valid value')}" \
            if hasattr(param, "type_descriptor") else "not a valid value"
    if kind.startswith(("greater_than", "less_than")):
        given = (_given_value(err) or "").strip().lower().lstrip("+-")
        return NOT_A_NUMBER if given == "nan" else OUT_OF_RANGE  # nan is not a number; inf is one, too big
    if kind == "value_error" or kind == "enum":
        return NOT_ACCEPTED
    return " ".join(err.message.split()).rstrip(".")  # click's own text (e.g. a path check)


def source_name(ctx: Optional[_click.Context], param: _click.Parameter, args: Sequence[str]) -> str:
    """How to name where the value came from: the environment variable, else the flag."""
    if ctx is not None and param.name and ctx.get_parameter_source(param.name) == ParameterSource.ENVIRONMENT:
        envvar = param.envvar if isinstance(param.envvar, str) else next(iter(param.envvar or ()), None)
        if envvar:
            return f"${envvar}"
    return typed_flag(param, args)


def bad_value_line(err: _click.exceptions.BadParameter, args: Sequence[str]) -> str:
    """`--output xml: not an accepted value; use one of table, wide, json, yaml`."""
    param = err.param
    if param is None:
        return " ".join(err.format_message().split())
    name = source_name(err.ctx, param, args)
    value = _given_value(err)
    given = given_text(name, value) if value is not None else name
    want = accepted(param)
    close = _closest_choices(param, value)
    if close and want:  # `-o JSON`, `-o jsn`, `--output=yml`: the closest names first, as every closed list
        return f"{given}: {_problem(err, param)}; did you mean {' or '.join(close)}?{meant_lines(value, close)} " \
               f"(use {want})"
    problem = _problem(err, param)
    port = _port_of_address(param, value) if problem == NOT_AN_INTEGER else None
    if port:  # `--admin-port 127.0.0.1:39223`: the port of a loopback address
        return f"{given}: {problem} ({name} takes a port, not an address); did you mean " \
               f"{given_text(name, port)}?{meant_lines(value, [port])}"
    if port is not None:  # another host's: the port alone would be asked of this one
        return f"{given}: {problem} ({name} takes a port, not an address); use {want}"
    whole = _whole_number(param, value) if problem == NOT_AN_INTEGER else None
    if whole is not None:  # `--admin-port 15200.0`: the integer it spells
        return f"{given}: {problem}; did you mean {given_text(name, whole)}?{meant_lines(value, [whole])}"
    meant = (value or "").lower()
    if problem == NOT_A_DURATION and meant != value and is_duration_text(meant):  # `10S`: Go's units are lower-case
        return f"{given}: {problem}; did you mean {given_text(name, meant)}?{meant_lines(value, [meant])}"
    return f"{given}: {problem}" + (f"; use {want}" if want else "") + _names_output(err, value)


_WHOLE_DECIMAL = re.compile(r"\+?([0-9]{1,18})\.0*")  # at most MAX_INT_DIGITS digits


def _whole_number(param: _click.Parameter, value: Optional[str]) -> Optional[str]:
    """The integer a whole-number decimal typed for an integer flag spells (`15200.0` ->
    `15200`) when the flag takes it (its range); None for any other value."""
    found = _WHOLE_DECIMAL.fullmatch(value or "")
    descriptor = getattr(param, "type_descriptor", None)
    if found is None or descriptor is None:
        return None
    number = int(found.group(1))
    low, high = descriptor.parameter_info.min, descriptor.parameter_info.max
    if (low is not None and number < low) or (high is not None and number > high):
        return None
    return str(number)


# HOST:PORT, [V6]:PORT, :PORT, a URL with a port (`http://127.0.0.1:15200/`)
_ADDRESS_PORT = re.compile(r"(?:[a-zA-Z][a-zA-Z0-9+.-]*://)?(\[[^\]]*\]|[^/:\[\]]*):([0-9]{1,5})/?")
_LOOPBACK_HOSTS = ("", "127.0.0.1", "localhost", "[::1]", "0.0.0.0")


def _port_of_address(param: _click.Parameter, value: Optional[str]) -> Optional[str]:
    """The port of an address typed for a PORT flag (`--admin-port 127.0.0.1:39223` ->
    `39223`); '' when the address is not a loopback one (the port alone would ask another
    place); None for any other value."""
    found = _ADDRESS_PORT.fullmatch(value or "") if getattr(param, "metavar", None) == "PORT" else None
    if found is None or not 1 <= int(found.group(2)) <= 65535:
        return None
    return str(int(found.group(2))) if found.group(1).lower() in _LOOPBACK_HOSTS else ""


def meant_lines(value: Optional[str], meant: Sequence[str]) -> str:
    """` `kmeshctl status -o json``: the line typed with the value ``value`` given as each
    of ``meant`` (`... or ...`), every other word kept; "" when ``value`` was not typed on
    the line (it came from the environment: no line to change)."""
    import shlex

    from kmeshctl.cli import cmdline

    from kmeshctl.sandboxes import naming_one

    if not value or cmdline.with_value_replaced(cmdline.ARGS, value, "") == list(cmdline.ARGS):
        return ""
    # several sandboxes and none named: the line names the one their refusal offers (naming_one)
    return " " + " or ".join(
        f"`{naming_one(shlex.join(['kmeshctl', *cmdline.with_value_replaced(cmdline.ARGS, value, m)]))}`"
        for m in meant)


def _names_output(err: _click.exceptions.BadParameter, value: Optional[str]) -> str:
    """kubectl's `-o name` on a command whose -o has no name form: its -o json, for scripts
    (option_hints.json_names_hint); "" for any other value."""
    from kmeshctl.cli.option_hints import json_names_hint

    param, ctx = err.param, err.ctx
    if ctx is None or param is None or "-o" not in param.opts:
        return ""
    if value is not None and value.startswith(("jsonpath", "go-template")):
        return _jq_line(ctx, value)
    if value in ("wide", "table") and param.default is None:  # data formats only: -o left out gives its lines
        return _without_output_line(ctx, value)
    if value != "name":
        return ""
    name = " ".join(ctx.command_path.split()[1:])
    read = json_names_hint(name, ctx.command, [])
    return f"; it has no name form (kubectl's -o name){read}" if read else ""


def _continued(line: str, at: int) -> str:
    """``line`` as the ``at``-th of a list joined by `; also `: click's capitalised `Got
    unexpected ...`, `No such option: ...` read on lower-case after the first."""
    return line[0].lower() + line[1:] if at and line.startswith(_CLICK_OPENINGS) else line


# click's own sentences, capitalised as a message's first words
_CLICK_OPENINGS = ("Got ", "No such ", "Option ", "Missing ", "Invalid ")


def _without_output_line(ctx: _click.Context, value: str) -> str:
    """`; leave -o out for its plain lines (...): `kmeshctl uninstall``, for `-o wide` / `-o table`
    on a command whose -o is yaml or json only; "" when that line would not work."""
    import shlex

    from kmeshctl.cli import cmdline

    flag = next((w.partition("=")[0] for w in cmdline.ARGS if w.partition("=")[0] in ("-o", "--output")), "-o")
    words = ["kmeshctl", *cmdline.without_flag(cmdline.ARGS, flag)]
    if words == ["kmeshctl", *cmdline.ARGS] or not line_works(words, ctx.find_root().command):
        return ""
    return f"; leave {flag} out for its plain lines (it has no {value} form): `{shlex.join(words)}`"


_LISTS_IN_JSON = ("sandbox list", "waypoint list")  # their -o json is a list of objects
_SIMPLE_PATH = re.compile(r"(?:\.[A-Za-z_][A-Za-z0-9_]*|\[\*\]|\[[0-9]+\])*")


def _jq_line(ctx: _click.Context, value: str) -> str:
    """kubectl's `-o jsonpath=...` (or go-template) on a command with -o json: that -o json
    piped to jq, the path said in jq's words when it is a plain one (`{.name}` of a list:
    `.[].name`); "" for a command with no -o json."""
    import shlex

    from kmeshctl.cli.option_hints import json_names_hint

    name = " ".join(ctx.command_path.split()[1:])
    read = json_names_hint(name, ctx.command, [])
    line = re.search(r"`([^`]*)`", read)
    if line is None:
        return ""
    kind, _, path = value.partition("=")
    jq = _jq_of(path.strip("'\""), name in _LISTS_IN_JSON) if kind.startswith("jsonpath") else None
    piped = f"{line.group(1)} | jq -r {shlex.quote(jq or '.')}"
    words = "read its -o json with jq" + ("" if jq else " (write the path in jq's words)")
    return f"; it has no {kind} form (kubectl's -o {kind}): {words}: `{piped}`"


def _jq_of(jsonpath: str, listed: bool) -> Optional[str]:
    """A plain kubectl JSONPath (`{.items[*].name}`, `{.name}`, `{[0].pods}`) as jq's path
    (``listed``: the JSON is a list, each item's field meant); None for anything else."""
    path = jsonpath.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    each = listed
    for prefix in (".items[*]", ".items"):
        if path.startswith(prefix):
            path, each = path[len(prefix):], True
            break
    if path.startswith("["):
        each = False  # the index or [*] typed says it
    if not _SIMPLE_PATH.fullmatch(path) or "{" in path:
        return None
    jq = ("." if path.startswith("[") else "") + path.replace("[*]", "[]")
    return (".[]" + jq if each else jq) or "."


CHOICE_CLOSENESS = 0.7  # difflib ratio, case ignored: `jsn`, `yml`, `JSON`, `tabel`; not `xml` for yaml


def _closest_choices(param: _click.Parameter, value: Optional[str]) -> list[str]:
    """The choices of a closed-list flag that ``value`` is a typo or the wrong case of,
    closest first; none for a value like no choice (kubectl refuses `-o JSON` too)."""
    import difflib

    descriptor = getattr(param, "type_descriptor", None)
    if value is None or descriptor is None or not descriptor.is_choice:
        return []
    names = [str(c.value if isinstance(c, Enum) else c) for c in descriptor.choices]
    by_lower = {name.lower(): name for name in names}
    short = [name for name in names if _numeronym(value.lower(), name.lower())]  # `k8s`: kubernetes
    close = difflib.get_close_matches(value.lower(), list(by_lower), n=2, cutoff=CHOICE_CLOSENESS)
    return list(dict.fromkeys([*short, *(by_lower[name] for name in close)]))[:2]


def _numeronym(value: str, name: str) -> bool:
    """``value`` shortens ``name`` as `k8s` does kubernetes: its first and last letters
    with the count of those between."""
    found = re.fullmatch(r"([a-z])(\d+)([a-z])", value)
    return found is not None and len(name) > 3 and name[0] == found.group(1) and name[-1] == found.group(3) and \
        int(found.group(2)) == len(name) - 2


# ------------------------------------------------------------------ strict numbers


MAX_INT_DIGITS = 18  # more digits than any bounded count or port could need


class NotANumber(_click.exceptions.BadParameter):
    """A number flag's value that is not spelled by kmeshctl.asciinum's rule."""

    def __init__(self, given: str, problem: str, ctx: _click.Context, param: _click.Parameter) -> None:
        super().__init__(f"{given}: {problem}", ctx=ctx, param=param)
        self.given = given
        self.problem = problem


def strict_numbers(command: _click.Command) -> None:
    """Every int / float option of ``command`` takes only what kmeshctl.asciinum spells
    as a number (pydantic's lax parsing, which typer uses, also takes `8_0`, `+80`,
    `' 80'` and `80.0` for an integer): anything else is `FLAG VALUE: not an integer`."""
    for param in command.params:
        descriptor = getattr(param, "type_descriptor", None)
        kind = _number_kind(descriptor.annotation) if descriptor is not None else None
        if kind is None or getattr(param, "_strict_numbers", False):
            continue
        param.process_value = _strict(param, kind, param.process_value)  # type: ignore[method-assign]
        param._strict_numbers = True  # type: ignore[attr-defined]


def _strict(param: _click.Parameter, kind: type, process: Any) -> Any:
    def checked(ctx: _click.Context, value: Any) -> Any:
        if is_duration(param):
            value = _as_seconds(value, kind, ctx, param)
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if isinstance(item, str):
                _check_number_text(item, kind, ctx, param)
        return process(ctx, value)

    return checked


def _as_seconds(value: Any, kind: type, ctx: _click.Context, param: _click.Parameter) -> Any:
    """A duration flag's text (`5m`) as the number of seconds its type takes (`300`)."""
    if isinstance(value, (list, tuple)):
        return type(value)(_as_seconds(v, kind, ctx, param) for v in value)
    if not isinstance(value, str):
        return value
    if not is_duration_text(value):
        raise NotANumber(value, NOT_A_DURATION, ctx, param)
    param._typed_duration = value  # type: ignore[attr-defined]  # a range error shows it as typed
    seconds = parse_duration(value)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return value  # nan / inf: the range check names them
    if kind is int:
        if is_number_text(value) and not is_integer_text(value, signed=True):
            raise NotANumber(value, NOT_AN_INTEGER, ctx, param)  # a plain number stays digits: `80.0` is not one
        if seconds != int(seconds):
            raise NotANumber(value, "not a whole number of seconds", ctx, param)
        return str(int(seconds))
    return repr(seconds)


def _check_number_text(text: str, kind: type, ctx: _click.Context, param: _click.Parameter) -> None:
    if kind is int and not is_integer_text(text, signed=True):
        raise NotANumber(text, NOT_AN_INTEGER, ctx, param)
    if kind is int and len(text.lstrip("-")) > MAX_INT_DIGITS:  # pydantic's own limit says "exceeded maximum size"
        raise NotANumber(text, OUT_OF_RANGE, ctx, param)
    if kind is float and not is_number_text(text):
        raise NotANumber(text, NOT_A_NUMBER, ctx, param)


# ------------------------------------------------------------------ missing values


def takes_value(param: _click.Parameter) -> bool:
    return param.param_type_name == "option" and not getattr(param, "is_flag", False) and \
        not getattr(param, "count", False)


def takes_number(param: Optional[_click.Parameter]) -> bool:
    """An option whose value is a number or a duration (-c, --timeout, --request-timeout)."""
    descriptor = getattr(param, "type_descriptor", None)
    return param is not None and takes_value(param) and (
        is_duration(param) or (descriptor is not None and _number_kind(descriptor.annotation) is not None))


_NEGATIVE = re.compile(r"-(?:\.?\d|inf|nan)", re.IGNORECASE)


def is_value_of(param: Optional[_click.Parameter], word: str) -> bool:
    """``word`` after ``param``'s flag is its value, though it starts with '-': a negative
    number (`-1`, `-0.5`, `-1s`) after a number or duration option, as click reads
    `--flag=-1`; the range check then says `out of range`, not `needs a value`."""
    return takes_number(param) and bool(_NEGATIVE.match(word))


EMPTIES_SAID = "_kmeshctl_empties_said"  # a command whose parse says its empty values (every_bad_value)


def check_values_present(command: _click.Command, ctx: _click.Context, args: Sequence[str],
                         extra_names: Sequence[str] = ()) -> None:
    """Raise click's own "Option '--x' requires an argument." when an option that takes a
    value is followed by nothing, or by another option of ``command`` (`status -n -o json`
    would otherwise make "-o" the namespace). Nothing after `--` is looked at."""
    options = [p for p in command.params if p.param_type_name == "option"]
    value_params = {opt: p for p in options if takes_value(p) for opt in p.opts}
    # an empty value is said by the command's parse, with the line's other bad values (every_bad_value)
    said_later = bool(getattr(command, EMPTIES_SAID, False)) and not ctx.resilient_parsing
    known = {opt for p in options for opt in (*p.opts, *p.secondary_opts)} | set(extra_names)
    for i, arg in enumerate(args):
        if arg == "--":
            return
        flag, equals, inline = arg.partition("=")
        if equals and flag in value_params and not inline and not said_later:
            raise empty_value(flag, value_params[flag], ctx)
        if arg not in value_params:
            continue
        following = args[i + 1] if i + 1 < len(args) else None
        if following is None or ((following in known or following.split("=", 1)[0] in known) and
                                 not is_value_of(value_params[arg], following)):
            raise _click.exceptions.BadOptionUsage(arg, f"Option '{arg}' requires an argument.", ctx=ctx)
        if following == "" and not said_later:
            raise empty_value(arg, value_params[arg], ctx)


def empty_values(command: _click.Command, ctx: _click.Context, args: Sequence[str]) -> list[str]:
    """Each `--flag ''` / `--flag=` of ``args`` (before `--`) said as empty_value says it."""
    value_params = {opt: p for p in command.params if takes_value(p) for opt in p.opts}
    found: list[str] = []
    for i, arg in enumerate(args[:next((i for i, a in enumerate(args) if a == "--"), len(args))]):
        flag, equals, inline = arg.partition("=")
        if equals and flag in value_params and not inline:
            found.append(empty_value(flag, value_params[flag], ctx).format_message())
        elif arg in value_params and i + 1 < len(args) and args[i + 1] == "" and (i == 0 or args[i - 1] not in
                                                                                 value_params):
            found.append(empty_value(arg, value_params[arg], ctx).format_message())
    return found


def empty_value(flag: str, param: Optional[_click.Parameter], ctx: Optional[_click.Context]
                ) -> _click.exceptions.BadOptionUsage:
    """`--name ''`: an empty name or value is bad input, never "use the default"."""
    from kmeshctl.cli.option_hints import fitting_context_line, flag_example, values_known

    metavar = (getattr(param, "metavar", None) or "").strip() if param is not None else ""
    want = f"one of {', '.join(metavar.split('|'))}" if "|" in metavar else (metavar or "a value") + \
        values_known(param)
    example = flag_example(param, ctx) if "|" not in metavar else ""
    shown_example = f", e.g. {flag} {example}" if example and example.strip() else ""
    return _click.exceptions.BadOptionUsage(flag, f"{flag} '': empty value; give {want}{shown_example}"
                                            f"{fitting_context_line(flag, param)}", ctx=ctx)


# ------------------------------------------------------------------ long values

MAX_LINE = 1000  # a longer error line holds an echoed value with spaces: its middle is cut
MAX_WORD = 200  # a longer word of an error line is an echoed value: cut (params.bounded)


def _bounded_word(word: str) -> str:
    """A word cut when overlong, its trailing punctuation (`VALUE:`) kept."""
    if len(word) <= MAX_WORD:
        return word
    body = word.rstrip(":;,.)")
    return bounded(body, MAX_WORD) + word[len(body):]


def bounded_line(line: str) -> str:
    """An error line with each overlong word (an echoed value, however the message was
    formed: ours, click's "No such option: ...") cut to its head and length; a line still
    over MAX_LINE without its commands to paste (in backticks) has its middle cut."""
    line = " ".join(_bounded_word(word) for word in line.split(" "))
    if len(re.sub(r"`[^`]*`", "``", line)) <= MAX_LINE:  # a command to paste, cut, would not run: never counted
        return line
    # A value with spaces: keep the start (flag, value's head) and the end (the fix).
    return f"{line[:MAX_LINE // 2]}... ({len(line) - MAX_LINE * 3 // 4} characters cut) ...{line[-(MAX_LINE // 4):]}"


# ------------------------------------------------------------------ flags as typed


def name_typed_flags(message: str, contexts: Sequence[_click.Context], args: Sequence[str]) -> str:
    """A message that starts with a flag's long name (`--namespace kube-system: ...`, as a
    check outside the CLI words it) names the flag as the user typed it (`-n`)."""
    for ctx in contexts:
        for param in ctx.command.params:
            if param.param_type_name != "option" or not param.name or \
                    ctx.get_parameter_source(param.name) != ParameterSource.COMMANDLINE:
                continue
            long = max(param.opts, key=len)
            typed = typed_flag(param, args)
            if typed != long and message.startswith((f"{long} ", f"{long}=", f"{long}:")):
                return typed + message[len(long):]
    return message


# ------------------------------------------------------------------ kubectl's flags on a command without them

# The other tools' on/off flags among COMMAND_HABITS' (the word after one is no value of it).
ON_OFF_HABITS = frozenset({"-y", "--yes", "--skip-confirmation", "-w", "--watch", "--wait", "--ignore-not-found",
                           "--purge", "--short", "--all", "--overwrite", "--enroll-namespace"})
# (command path words, flag) -> what that command does instead; {flag} is the flag as typed;
# or a function of (the flag, the words typed) that says it from the value typed.
COMMAND_HABITS: dict[tuple[str, str], Any] = {
    ("uninstall", "--ignore-not-found"): "; uninstall is already idempotent (what is not found is skipped, exit 0): "
                                         "leave {flag} out, `{without}`",
    ("uninstall", "--wait"): "; uninstall always waits for each object to go (each node's agent cleans up as it "
                             "stops): leave {flag} out, `{without}`; --timeout DURATION bounds the wait",
}
# kubectl's -w/--watch and a --wait on a command that shows the state once: re-run it.
ONCE_COMMANDS = ("status", "version", "sandbox status", "sandbox list", "waypoint list", "waypoint status",
                 "dump maps", "dump config", "precheck", "node preflight")
_WATCHED = {"-w": "it has no watch mode", "--watch": "it has no watch mode",
            "--wait": "it does not wait or watch"}
for _command in ONCE_COMMANDS:
    for _flag, _does_not in _WATCHED.items():
        COMMAND_HABITS[(_command, _flag)] = f"; {_command} shows the state once, {_does_not}: leave {{flag}} out " \
                                            "and re-run it, `{without}`"


# A flag another command has, typed where it does not exist: the command that does what it
# asks ({value}: the value typed, NAME when none was or it is no sandbox name).
_SANDBOX_DOWN = ("; node cleanup is for the node's own data path (--bpf-fs DIR): a sandbox's goes with the "
                 "sandbox, `kmeshctl sandbox down --name {value}`")
_SANDBOX_UP = "; a sandbox runs its own node agent: `kmeshctl sandbox up --name {value}`"
for _flag in ("--sandbox", "--name"):
    COMMAND_HABITS[("node cleanup", _flag)] = _SANDBOX_DOWN
    COMMAND_HABITS[("node run", _flag)] = lambda flag, args: _sandbox_agent_hint(flag, args)
    COMMAND_HABITS[("status", _flag)] = lambda flag, args: _sandbox_status_hint(
        "status is a cluster's: a sandbox's is", flag, args)
# waypoint commands act on a cluster; a sandbox makes the waypoints its manifests' labels name
# (--name there is the waypoint's own)
for _command in ("waypoint list", "waypoint status"):
    COMMAND_HABITS[(_command, "--sandbox")] = lambda flag, args, said=(
        f"{_command} reads a cluster's waypoints: a sandbox's are shown by"): _sandbox_status_hint(said, flag, args)
for _command in ("waypoint apply", "waypoint delete"):
    COMMAND_HABITS[(_command, "--sandbox")] = (f"; {_command} acts on a cluster: a sandbox has the waypoints its "
                                               "manifests' istio.io/use-waypoint labels name (`kmeshctl sandbox "
                                               "status --name {value}` shows them)")


def command_habit_hint(command_path: str, typed: str, args: Sequence[str] = ()) -> str:
    """`; uninstall does not ask: leave -y out, `kmeshctl uninstall``: for a flag of kubectl's or of another
    command (``typed``, its `=value` left off) that the command (``command_path``,
    `kmeshctl uninstall`) does not take, what it does instead; "" for any other. ``args``:
    the words typed, where the flag's value is found."""
    words = " ".join(command_path.split()[1:])
    flag = typed.partition("=")[0]
    hint = COMMAND_HABITS.get((words, flag), "")
    if callable(hint):
        return hint(flag, list(args))
    if "{without}" in hint:  # the line typed less the flag and its value; {waypoint}: its --name;
        # {kubectl}: `kubectl label` of its -n (else the namespace it would use) with the kubeconfig flags typed;
        # {typed}: the flag's value typed (TAG: none); {revision}: that value as an istiod Service's suffix;
        # {istio_namespace}: --istio-namespace typed, else its default; {image}: the node agent's image, untagged
        import shlex

        from kmeshctl.cli.cmdline import without_flag
        from kmeshctl.cli.suggestions import kubectl_line

        rest = without_flag(args, flag, flag not in ON_OFF_HABITS)
        name = typed_value(rest, "--name") or _name_given(rest) or "waypoint"
        namespace = typed_value(rest, "-n", "--namespace") or _default_namespace(rest) if "{kubectl}" in hint \
            else ""
        from kmeshctl.cli.names import line_value

        # the namespace as the kmeshctl line gives it (`-n Default` as default: suggestions.parseable)
        namespace = line_value("namespace", namespace) if namespace else namespace
        kubectl = kubectl_line(["label", "namespace", namespace, f"istio.io/use-waypoint={name}"],
                               typed_value(rest, "--kubeconfig"), typed_value(rest, "--context"))
        value = typed_value(args, flag) or ""
        return hint.format(flag=flag, without=shlex.join(["kmeshctl", *rest]), waypoint=name, namespace=namespace,
                           kubectl=kubectl, typed=shlex.quote(value or "TAG"),
                           revision=value if _DNS_LABEL.fullmatch(value) else "REVISION",
                           istio_namespace=typed_value(rest, "--istio-namespace") or DEFAULT_ISTIO_NAMESPACE,
                           image=DEFAULT_IMAGE.rpartition(":")[0])
    return hint.format(flag=flag, value=_sandbox_value(typed, args))


def _name_given(args: Sequence[str]) -> Optional[str]:
    """The --name the line to paste gives a stray word (`waypoint apply east`: the
    parse-check makes it `--name east`, suggestions.parseable_words), else None."""
    from kmeshctl.cli import cmdline
    from kmeshctl.cli.suggestions import parseable_words

    if not cmdline.INVOKED:
        return None
    _, _, flagged = parseable_words(["kmeshctl", *args], cmdline.INVOKED[0].command)
    return next((word for word, given in flagged if given == f"--name {word}"), None)


_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?")  # istiod-<revision> stays a Service name


def typed_value(args: Sequence[str], *spellings: str) -> Optional[str]:
    """The value typed for an option spelled one of ``spellings`` (`FLAG VALUE` or
    `FLAG=VALUE`; the last one typed, as click reads it; none after `--`), else None: read
    from a command line that may not have parsed."""
    found = None
    for i, word in enumerate(args):
        if word == "--":
            break
        flag, equals, value = word.partition("=")
        if word in spellings and i + 1 < len(args):
            found = args[i + 1]
        elif equals and flag in spellings:
            found = value
    return found


def _default_namespace(args: Sequence[str]) -> str:
    """The namespace a command of the typed line ``args`` given no -n acts on (the
    kubeconfig context's, else default: kmeshctl.kube.default_namespace); `NAMESPACE`
    when the kubeconfig names one that is no namespace name (the command says so itself)."""
    from kmeshctl.errors import KmeshctlError
    from kmeshctl.kube import default_namespace

    try:
        return default_namespace(typed_target(args))
    except KmeshctlError:
        return "NAMESPACE"


def typed_target(args: Sequence[str]) -> KubeTarget:
    """The cluster a command line names when it did not parse (the root callback, which
    builds run_options' KubeTarget, has not run; a hint needs it): --kubeconfig and
    --context as typed (typed_value), else $KUBECONFIG as the --kubeconfig option reads it
    (unset, empty or separators alone: none)."""
    # the Kubernetes client loads only when a hint needs it
    from kmeshctl.kube import KubeTarget, kubeconfig_from_env  # noqa: F811

    kubeconfig = typed_value(args, "--kubeconfig")
    if kubeconfig is None:
        kubeconfig = kubeconfig_from_env(os.environ.get("KUBECONFIG"))
    return KubeTarget(kubeconfig, typed_value(args, "--context"))


def _sandbox_agent_hint(typed: str, args: Sequence[str]) -> str:
    """`node run --sandbox NAME`: a sandbox runs its own node agent; `sandbox up` makes
    NAME, an existing NAME's agent is shown by `sandbox status` (up would be refused)."""
    from kmeshctl import sandboxes

    name = _sandbox_value(typed, args)
    if name != "NAME" and name in sandboxes.existing():
        return (f"; a sandbox runs its own node agent: sandbox {name} has one, see "
                f"`kmeshctl sandbox status --name {name}`")
    return _SANDBOX_UP.format(value=name)


def _sandbox_status_hint(said: str, typed: str, args: Sequence[str]) -> str:
    """`; SAID `kmeshctl sandbox status --name x -o json -q``: the sandbox named by the
    flag ``typed`` (`status --name x -o json -q`, a cluster's command) is shown by sandbox
    status, with the flags typed in ``args`` that it takes (a cluster flag would be noise;
    the others named: `(sandbox status takes no -n)`)."""
    from kmeshctl.cli import cmdline
    from kmeshctl.cli.command_hints import sandbox_status_line

    if not cmdline.INVOKED:
        return f"; {said} `kmeshctl sandbox status --name {_sandbox_value(typed, args)}`"
    flag, equals, name = typed.partition("=")
    if not equals:
        name = typed_value(args, flag) or ""
    flags = cmdline.without_flag(args, flag)
    for cluster_flag in cmdline.GLOBAL_FLAGS:
        while typed_value(flags, cluster_flag) is not None:
            flags = cmdline.without_flag(flags, cluster_flag)
    return "; " + sandbox_status_line(cmdline.INVOKED[0].command, None if name.startswith("-") else name or None,
                                      flags, said)


def _sandbox_value(typed: str, args: Sequence[str]) -> str:
    """The sandbox name typed with ``typed`` (`--sandbox x`, `--sandbox=x`), NAME when none
    was or it is no sandbox name (the command shown must not be refused when pasted)."""
    from kmeshctl.errors import UsageError
    from kmeshctl.sandbox.state import check_name

    flag, equals, value = typed.partition("=")
    if not equals and flag in args and args.index(flag) + 1 < len(args):
        value = args[args.index(flag) + 1]
    elif not equals:  # click names `--name=x` as --name
        value = next((w.partition("=")[2] for w in args if w.startswith(flag + "=")), "")
    try:
        return check_name(value)
    except UsageError:
        return "NAME"


# ------------------------------------------------------------------ a command's words before `--`


def with_dashes(ctx: _click.Context, args: Sequence[str], option: str) -> str:
    """`sandbox exec netutils --name t70a curl -s fortio` refused for -s: the line as it
    should have been typed, `--` after the POD (before the command's first word), pasteable;
    "" when where the command starts cannot be told, or an unknown flag comes before the POD
    (`sandbox exec -o json web ls`: that -o is one the command refuses, not the run command's)."""
    import shlex

    command, root = ctx.command, ctx.find_root().command
    if not any(str(getattr(p, "metavar", "") or "").startswith("-- ") for p in command.params):
        return ""  # a command that runs no command of the user's
    path = ctx.command_path.split()[1:]  # `sandbox exec`
    valued = {opt for c in (root, command) for p in c.params if takes_value(p)
              for opt in (*p.opts, *p.secondary_opts)}
    known = {opt for c in (root, command) for p in c.params for opt in (*p.opts, *p.secondary_opts)}
    words, index, pod = list(args), 0, None
    while index < len(words):
        word = words[index]
        if word == "--":
            return ""
        if word.startswith("-") and word != "-":
            if word.partition("=")[0] not in known:
                if pod is None:
                    return ""
                break  # the command's own flag (`curl -s`): `--` goes before it
            index += 2 if word in valued else 1
            continue
        if path:
            path = path[1:] if word == path[0] else path
        elif pod is None:
            pod = index
        else:
            break  # the command's first word
        index += 1
    if pod is None or index >= len(words) or path:
        return ""
    return shlex.join([ctx.find_root().info_name or "kmeshctl", *words[:index], "--", *words[index:]])


# ------------------------------------------------------------------ kubectl's, kind's and docker's command words

# a word another tool uses -> the commands of ours that do its work, most likely first
COMMAND_SYNONYMS: dict[str, tuple[str, ...]] = {
    "ls": ("list",), "rm": ("down", "delete"), "delete": ("down",), "del": ("down", "delete"),
    "remove": ("down", "delete"), "stop": ("down",), "destroy": ("down", "delete"),
    "create": ("up",), "start": ("up",), "run": ("up",),
    "get": ("status", "list"), "describe": ("status",), "show": ("status",), "info": ("status",),
}


def command_synonyms(word: str, names: Sequence[str]) -> list[str]:
    """The commands among ``names`` that do what ``word`` does in kubectl, kind or docker
    (`sandbox rm` -> down, `sandbox get` -> status or list); none for any other word."""
    return [name for name in COMMAND_SYNONYMS.get(word.lower(), ()) if name in names]


# ------------------------------------------------------------------ guessed flags

# Flags never offered as a guess for an unknown one (`--for` -> --force-conflicts): they
# take back, remove or silence something, so a guess must not make the user run them.
NEVER_GUESSED = frozenset({"--force", "--force-conflicts", "--all", "--ignore-not-found", "--overwrite"})
MIN_PREFIX = 4  # a shorter typed word counts as a flag's prefix only at a word's end (`--pod` -> --pod-name)


def guessable(typed: str, name: str) -> bool:
    """``name`` (`--pod-name`) may be offered for ``typed`` as its prefix: a whole word of
    it (`--pod`), or at least MIN_PREFIX letters (`--repl` -> --replicas), never 3 letters
    inside a word (`--for` is no --force-conflicts); and never one of NEVER_GUESSED."""
    if name in NEVER_GUESSED:
        return False
    word, bare = typed.lstrip("-"), name.lstrip("-")
    return bare.startswith(word) and (len(word) >= MIN_PREFIX or (len(word) >= 3 and bare[len(word):][:1] == "-"))


def _kustomize_hint(flag: str, args: Sequence[str]) -> str:
    """`sandbox up -k DIR` (kubectl's --kustomize): kmeshctl runs no kustomize; kubectl
    builds the manifests and `-f -` reads them, the other flags typed kept."""
    import shlex

    from kmeshctl.cli.cmdline import without_flag

    directory = typed_value(args, flag) or "-"
    if directory.startswith("-"):  # `-k -q`: no directory typed
        directory = "DIR"
    line = shlex.join(["kmeshctl", *_without_files(without_flag(args, flag, directory != "DIR")), "-f", "-"])
    return f"; sandbox up runs no kustomize: build the manifests with kubectl and pipe them, " \
           f"`kubectl kustomize {shlex.quote(directory)} | {line}`"


def _without_files(args: Sequence[str]) -> list[str]:
    """``args`` without any -f/--filename and its value (`-f x`, `-f=x`, `-fx`, `--filename x`)."""
    from kmeshctl.cli.cmdline import without_flag

    words = list(args)
    for flag in ("-f", "--filename"):
        while typed_value(words, flag) is not None:
            words = without_flag(words, flag)
    end = words.index("--") if "--" in words else len(words)
    return [w for i, w in enumerate(words) if i >= end or not (w.startswith("-f") and not w.startswith("--"))]


def _recursive_hint(flag: str, args: Sequence[str]) -> str:
    """`sandbox up -R -f DIR` (kubectl's --recursive): up reads a directory's *.yaml and
    *.yml, not its subdirectories; the line with each subdirectory that has some as its own -f."""
    import shlex
    from pathlib import Path

    from kmeshctl.cli.cmdline import without_flag

    rest = without_flag(args, flag, valued=False)
    given = [Path(v) for v in _files_typed(rest)]
    subdirectories = [str(sub) for top in given if top.is_dir() for sub in sorted(top.rglob("*"))
                      if sub.is_dir() and any(sub.glob("*.y*ml"))]
    said = "; sandbox up reads the *.yaml and *.yml files of a directory given with -f, not its subdirectories"
    if not subdirectories:
        return f"{said}: leave {flag} out, `{shlex.join(['kmeshctl', *rest])}`"
    more = [w for sub in subdirectories for w in ("-f", sub)]
    return f"{said}: give each with its own -f, `{shlex.join(['kmeshctl', *rest, *more])}`"


def _files_typed(args: Sequence[str]) -> list[str]:
    """Every -f/--filename value typed in ``args`` (before `--`), in order."""
    found: list[str] = []
    for i, word in enumerate(args):
        if word == "--":
            break
        flag, equals, value = word.partition("=")
        if word in ("-f", "--filename") and i + 1 < len(args):
            found.append(args[i + 1])
        elif equals and flag in ("-f", "--filename"):
            found.append(value)
        elif word.startswith("-f") and not word.startswith("--") and len(word) > 2:
            found.append(word[2:])
    return found


for _flag in ("-k", "--kustomize"):
    COMMAND_HABITS[("sandbox up", _flag)] = _kustomize_hint
for _flag in ("-R", "--recursive"):
    COMMAND_HABITS[("sandbox up", _flag)] = _recursive_hint


# istioctl's `waypoint apply --for service|workload|all|none` (the Gateway's
# istio.io/waypoint-for label): kmeshctl's waypoint takes one kind of traffic, always.
def _waypoint_habit_hint(flag: str, args: list[str]) -> str:
    from kmeshctl.cli.command_hints import waypoint_habit_hint

    return waypoint_habit_hint(flag, args)


COMMAND_HABITS[("waypoint apply", "--for")] = _waypoint_habit_hint


# istioctl's flags for what kmeshctl does otherwise (istioctl install -f / --set, waypoint
# apply --enroll-namespace, waypoint delete --all, uninstall --purge).
# (helm's and cilium's: --values, --set-string, --set-file; --version for the chart's.)
_NO_VALUES_FILE = ("; install reads no values file ({tool} {{flag}}): each setting is a flag of its own "
                   "(`kmeshctl install --help`), and `kmeshctl render` prints the manifests to change by hand")
_NO_SET = "; install has no {{flag}} ({tool}): each setting is a flag of its own (`kmeshctl install --help`)"
for _flag, _tool in (("-f", "istioctl's"), ("--filename", "istioctl's"), ("--values", "helm's and cilium's")):
    COMMAND_HABITS[("install", _flag)] = _NO_VALUES_FILE.format(tool=_tool)
for _flag, _tool in (("--set", "istioctl's"), ("--set-string", "helm's and cilium's"),
                     ("--set-file", "helm's and cilium's")):
    COMMAND_HABITS[("install", _flag)] = _NO_SET.format(tool=_tool)
COMMAND_HABITS[("install", "--version")] = (
    "; the node agent's version is its image's tag (helm's and cilium's {flag}): `{without} --image {image}:{typed}` "
    "(`kmeshctl version` shows what runs)")
# istioctl's -y/--skip-confirmation: kmeshctl asks nothing
for _command in ("install", "uninstall"):
    for _flag in ("-y", "--yes", "--skip-confirmation"):
        COMMAND_HABITS[(_command, _flag)] = f"; {_command} does not ask: leave {{flag}} out, `{{without}}`"
COMMAND_HABITS[("version", "--short")] = ("; version's lines are short already (kubectl's and istioctl's {flag}): "
                                          "leave it out, `{without}` (-o json for every field)")
COMMAND_HABITS[("waypoint apply", "--enroll-namespace")] = _waypoint_habit_hint
COMMAND_HABITS[("waypoint delete", "--all")] = (
    "; waypoint delete removes the one waypoint --name names (never all at once): `kmeshctl waypoint list -A` "
    "lists them")
COMMAND_HABITS[("disable-ns", "--overwrite")] = (
    "; disable-ns needs no {flag} (kubectl label's; enable-ns's moves a namespace from another data plane): it "
    "removes only kmesh's label, leaves another data plane's as it is and puts back one enable-ns --overwrite "
    "replaced; leave {flag} out, `{without}`")


def _shell_argument_hint(flag: str, args: list[str]) -> str:
    """`completion --shell bash` (helm's and cilium's flag): the shell is its argument."""
    import shlex

    from kmeshctl.cli.cmdline import without_flag

    value = typed_value(args, flag)
    line = ["kmeshctl", *without_flag(args, flag), *([value] if value else [])]
    return f"; the shell is completion's argument, not a flag: `{shlex.join(line)}`" if value else \
        "; the shell is completion's argument, not a flag: `kmeshctl completion bash` (or zsh, fish)"


COMMAND_HABITS[("completion", "--shell")] = _shell_argument_hint
COMMAND_HABITS[("uninstall", "--purge")] = ("; uninstall always removes everything kmeshctl installed (istioctl's "
                                           "--purge): leave {flag} out, `{without}`")


# ------------------------------------------------------------------ Go's single-dash long flags

def single_dash_long_flags(args: Sequence[str], commands: Sequence[_click.Command]) -> Optional[str]:
    """`dump maps -name t23a` (Go's flag package, and istioctl's users, take `-name` for
    --name; click would read -n with the value "ame"): the line saying `did you mean
    --name?` with the command as it should be typed, for each word `-xyz` that spells
    `--xyz` of ``commands`` (the root, its groups, the command named); None when there is
    none. No option's value, nothing after `--`, and none of the words of the command a
    `-- COMMAND` command runs when `--` was left out (`sandbox exec POD find -name x`)."""
    import shlex

    params = [p for c in commands for p in c.params if p.param_type_name == "option"]
    longs = {o for p in params for o in (*p.opts, *p.secondary_opts) if o.startswith("--")} | {"--help"}
    valued = {o for p in params if takes_value(p) for o in p.opts}
    leaf = commands[-1]
    runs_command = "--" not in args and any(str(getattr(p, "metavar", "") or "").startswith("-- ")
                                            for p in leaf.params)
    path = [c.name for c in commands[1:] if c.name]
    fixed, found, names, positionals = list(args), [], list(path), 0
    for i, word in enumerate(args):
        if word == "--":
            break
        if i and args[i - 1] in valued:
            continue  # a value (`--node-name -nfoo`)
        flag, equals, _ = word.partition("=")
        if word.startswith("-") and not word.startswith("--") and len(flag) >= 3 and f"-{flag}" in longs:
            fixed[i] = f"-{word}"
            found.append((flag, f"-{flag}"))
        elif not word.startswith("-"):
            if names and word == names[0]:
                names.pop(0)
                continue
            positionals += 1
            if runs_command and positionals >= 2:
                break  # the words of the command to run (`find / -name x`)
    if not found:
        return None
    typed = " and ".join(t for t, _ in found)
    meant = " and ".join(m for _, m in found)
    command = " ".join(["kmeshctl", *path])
    return (f"No such option: {typed} (one dash); did you mean {meant}? `{shlex.join(['kmeshctl', *fixed])}` "
            f"(see '{command} --help')")


# ------------------------------------------------------------------ one value per flag

def one_value_per_flag(command: _click.Command) -> None:
    """``command``'s parser refuses an option that takes one value given two different
    ones (`--name a --sandbox b`, `--map x --map y`, `-n a -n b`): click keeps the last
    and drops the other without a word. The same value twice is accepted; options given
    many times (multiple=True, `-f a -f b`), on/off flags and counters are not affected."""
    make_parser = command.make_parser

    def checked_parser(ctx: _click.Context) -> Any:
        parser = make_parser(ctx)
        # click's parser has no public hook per value; typer vendors its click (typer._click),
        # so the method only changes with typer: without it the check is skipped, never the
        # command (tests/test_p23_option_hints.py fails then, naming the change).
        take = getattr(parser, "_get_value_from_state", None)
        if take is None:
            return parser

        def value_checked(option_name: str, option: Any, state: Any) -> Any:
            value = take(option_name, option, state)
            if option.action != "store" or ctx.resilient_parsing:
                return value
            given = state.__dict__.setdefault("kmeshctl_given", {})
            if option.dest in given and given[option.dest][1] != value:
                raise _two_values(ctx, option.obj, given[option.dest], (option_name, value))
            given.setdefault(option.dest, (option_name, value))
            return value

        parser._get_value_from_state = value_checked
        _one_state_per_switch(ctx, parser)
        return parser

    command.make_parser = checked_parser  # type: ignore[method-assign]


def _one_state_per_switch(ctx: _click.Context, parser: Any) -> None:
    """``parser`` refuses an on/off flag given both ways (`--wait --no-wait`): click keeps
    the last without a word, while a valued flag given two values is refused."""
    options = {id(o): o for o in [*parser._long_opt.values(), *parser._short_opt.values()]}.values()
    for option in options:
        if option.action == "store_const" and getattr(option.obj, "secondary_opts", None):
            option.process = _switch_checked(ctx, option, option.process)


def _switch_checked(ctx: _click.Context, option: Any, process: Any) -> Any:
    def checked(value: Any, state: Any) -> None:
        if not ctx.resilient_parsing:
            given = state.__dict__.setdefault("kmeshctl_switched", {})
            first = given.setdefault(option.dest, (_spelling(option), option.const))
            if first[1] != option.const:
                raise _both_ways(ctx, first[0], _spelling(option))
        process(value, state)
    return checked


def _spelling(option: Any) -> str:
    return max([*option._long_opts, *option._short_opts], key=len)


def _both_ways(ctx: _click.Context, first: str, second: str) -> Exception:
    from kmeshctl.cli import cmdline
    from kmeshctl.errors import UsageError

    lines = [["kmeshctl", *cmdline.without_flag(cmdline.ARGS, dropped, valued=False)] for dropped in (second, first)]
    said = f"{first} and {second} both given (an on/off flag takes one state): give one"
    try:  # the line's other bad values with it (a line only checked too: mended_lines reads them)
        gathered = either_lines(said, lines, ctx.find_root().command)
    except Exception:  # noqa: BLE001 - the others could not be told: this mistake alone
        gathered = None
    return UsageError(gathered or f"{said}{working_lines(lines, ctx.find_root().command)}")


def _two_values(ctx: _click.Context, param: _click.Parameter, first: tuple[str, Any], second: tuple[str, Any]
                ) -> Exception:
    from kmeshctl.errors import UsageError
    from kmeshctl.params import shown
    from kmeshctl.sandboxes import SANDBOX_FLAGS

    def text(given: tuple[str, Any]) -> str:
        value = given[1]
        return f"{given[0]} {' '.join(shown(v) for v in value) if isinstance(value, (list, tuple)) else shown(value)}"

    both = f"{text(first)} and {text(second)}"
    if sorted(SANDBOX_FLAGS) == sorted(getattr(param, "opts", ())):
        from kmeshctl.cli.sandbox import one_sandbox_each

        return UsageError(f"{both} name two sandboxes; give one{one_sandbox_each(ctx.command_path, [first[1], second[1]])}")
    long = max(param.opts, key=len)
    joined = _joined_values_line(param)
    if joined is not None:
        flag, value, line = joined
        return UsageError(f"{both}: {long} takes one value; did you mean {flag} {value}? `{line}`")
    import shlex

    kept = [shlex.split(line) for line in _each_kept(param)]
    said = f"{both}: {long} takes one value; give one"
    try:  # the line's other bad values with it, as for an on/off flag given both ways
        gathered = either_lines(said, kept, ctx.find_root().command, param.opts) \
            if len(kept) == 2 and not _VERIFYING else None
    except Exception:  # noqa: BLE001 - the others could not be told: this mistake alone
        gathered = None
    offered = working_lines(kept, ctx.find_root().command) if len(kept) == 2 else ""
    return UsageError(gathered or f"{said}{offered}")


def _each_kept(param: _click.Parameter) -> list[str]:
    """The line typed with one of ``param``'s values kept and the others left out, for
    each value given (`kmeshctl render --xds-address A ...`, `... --xds-address B ...`)."""
    import shlex

    from kmeshctl.cli import cmdline

    words = list(cmdline.ARGS)
    end = cmdline.separator_at(words)
    spellings = set(getattr(param, "opts", ()))
    given: list[tuple[int, int]] = []  # (first word, words) of each value
    i = 0
    while i < end:
        flag = words[i].partition("=")[0]
        if flag in spellings:
            size = 1 if "=" in words[i] else 2
            given.append((i, size))
            i += size
            continue
        i += 1
    lines = []
    for kept in given:
        dropped = {j for at, size in given if (at, size) != kept for j in range(at, at + size)}
        lines.append(shlex.join(["kmeshctl", *(w for j, w in enumerate(words) if j not in dropped)]))
    return lines


def _joined_values_line(param: _click.Parameter) -> Optional[tuple[str, str, str]]:
    """For a flag whose one value holds several (option_hints.JOINED_FLAGS: `--weights
    90/10,50/50`) typed once per value: (the flag as first typed, the values joined in the
    order typed, the line typed with that one value where the first was); None for any
    other flag."""
    import shlex

    from kmeshctl.cli import cmdline
    from kmeshctl.cli.option_hints import JOINED_FLAGS

    joiner = next((JOINED_FLAGS[o] for o in param.opts if o in JOINED_FLAGS), None)
    if joiner is None:
        return None
    words = list(cmdline.ARGS)
    end = next((i for i, w in enumerate(words) if w == "--"), len(words))
    kept: list[str] = []
    values: list[str] = []
    first: Optional[tuple[int, str]] = None
    i = 0
    while i < end:
        flag, equals, inline = words[i].partition("=")
        if flag in param.opts and (equals or i + 1 < end):
            value = inline if equals else words[i + 1]
            first = first or (len(kept), flag)
            values += [value] if value not in values else []
            i += 1 if equals else 2
            continue
        kept.append(words[i])
        i += 1
    if first is None or any(joiner in value for value in values):  # `90,10` and `50/50`: no one value meant
        return None
    value = joiner.join(values)
    line = [*kept[:first[0]], first[1], value, *kept[first[0]:], *words[end:]]
    return first[1], value, shlex.join(["kmeshctl", *line])


# ------------------------------------------------------------------ every bad value of a line at once

BAD_VALUES = "kmeshctl_bad_values"  # ctx.meta key: the problems a command's values were found to have


_VERIFYING: list[bool] = []  # set while a mended line is parsed to see that it works (no message built)


def every_bad_value(command: _click.Command) -> None:
    """``command``'s parsing names every bad value of a line in one error: click stops at
    the first value it refuses (`-o xml`) and a command's body at the first it checks;
    with two or more bad values, each is said (`...; also ...`, in the order typed) and a
    line to paste only when it works with every one of them mended (all_said). One bad
    value alone is left to its own check and message."""
    from kmeshctl.errors import EXIT_USAGE, KmeshctlError

    parse = command.parse_args
    if getattr(parse, "_every_bad_value", False):
        return
    if hasattr(command, "commands"):
        _root_bad_value_with_others(command)
        return

    def parsed(ctx: _click.Context, args: list[str]) -> list[str]:
        if ctx.resilient_parsing:
            return parse(ctx, args)
        typed = list(args)
        empty = empty_values(command, ctx, typed)
        if empty:
            raise _with_empty(ctx, empty, parse, typed)
        try:
            rest = parse(ctx, args)
        except _click.exceptions.BadParameter as first:
            if isinstance(first, _click.exceptions.MissingParameter):
                raise
            try:
                lines = _unique([*_click_problems(command, ctx, typed), *_body_problems(ctx)])
                lines = _not_split(ctx, typed, lines)
            except Exception:  # the others could not be told (a check failed otherwise): the first stands
                raise first from None
            if len(lines) < 2:
                raise
            raise all_said(lines) from None
        except KmeshctlError as first:  # a value's own callback refused it (dump's --pod pod/Bad_Name)
            if first.exit_code != EXIT_USAGE or _VERIFYING:
                raise
            try:
                lines = _unique([*_click_problems(command, ctx, typed), *_body_problems(ctx)])
            except Exception:  # noqa: BLE001 - the others could not be told: the first stands
                raise first from None
            if len(lines) < 2 or str(first) not in lines:
                raise
            raise all_said(lines) from None
        except _click.exceptions.NoSuchOption as unknown:
            try:
                gathered = _unknown_with_others(ctx, unknown)
            except Exception:  # noqa: BLE001 - the others could not be told: click's stands
                gathered = None
            if gathered is None:
                raise
            raise gathered from None
        except _click.exceptions.UsageError as extra:  # click's last check: the params were all taken
            try:
                others = _not_split(ctx, typed, _not_the_separator(ctx, typed, _body_problems(ctx)))
            except Exception:  # noqa: BLE001 - the others could not be told: click's stands
                raise extra from None
            # its hint may ask the cluster (is the word a namespace?): built once, only when said with others
            said = _extra_line(ctx, extra) if others else None
            if said is None or len(lines := _unique([said, *others])) < 2:
                raise
            raise all_said(lines) from None
        lines = _body_problems(ctx)
        ctx.meta[BAD_VALUES] = lines
        if len(lines) >= 2:
            raise all_said(lines)
        whole = _with_whole_line(lines[0]) if lines and not _VERIFYING else None
        if whole is not None:
            raise whole
        return rest

    parsed._every_bad_value = True  # type: ignore[attr-defined]
    command.parse_args = parsed  # type: ignore[method-assign]
    setattr(command, EMPTIES_SAID, True)


def _root_bad_value_with_others(group: _click.Command) -> None:
    """The root's bad value (`--request-timeout abc`, typed anywhere: it is hoisted there)
    said with the bad values of the command line it comes with (`status -o xml`), which
    click never reaches: the root stops the parse first."""
    parse = group.parse_args

    def parsed(ctx: _click.Context, args: list[str]) -> list[str]:
        try:
            return parse(ctx, args)
        except _click.exceptions.BadParameter as first:
            if ctx.parent is not None or ctx.resilient_parsing or _VERIFYING or first.param is None or \
                    isinstance(first, _click.exceptions.MissingParameter):
                raise
            try:
                lines = with_command_problems(group, bad_value_line(first, _args()), first.param)
            except Exception:  # noqa: BLE001 - the others could not be told: the first stands
                raise first from None
            if len(lines) < 2:
                raise
            raise all_said(lines) from None

    parsed._every_bad_value = True  # type: ignore[attr-defined]
    group.parse_args = parsed  # type: ignore[method-assign]


def _args() -> list[str]:
    from kmeshctl.cli import cmdline

    return list(cmdline.ARGS)


def with_command_problems(root: _click.Command, first: str, param: _click.Parameter) -> list[str]:
    """[``first``, each bad value of the line typed without ``param``'s flag (the command's)]."""
    from kmeshctl.cli import cmdline

    return _problems_without(root, first, _positions_without(list(cmdline.ARGS), param))


def _problems_without(root: _click.Command, first: str, kept: list[int], given_only: bool = False) -> list[str]:
    """[``first``, each bad value of the line typed with only the words at ``kept`` (the
    one ``first`` is about left out), each line offered said for the line typed]
    (``given_only``: line_problems')."""
    import shlex

    from kmeshctl.cli import cmdline

    full = list(cmdline.ARGS)
    words = ["kmeshctl", *(full[i] for i in kept)]
    with cmdline.state_kept():
        found = line_problems(words, root, given_only)

    def restored(line: re.Match[str]) -> str:  # a line of the words checked, with the root's flag typed again
        try:
            offered = shlex.split(line.group(1))
        except ValueError:
            return line.group()
        return f" `{shlex.join(_with_removed(offered, words, ['kmeshctl', *full], [0, *(i + 1 for i in kept)]))}`"

    lines = [_LINE.sub(restored, one) for problem in found for one in problem.split("; also ")]
    return _unique([first, *lines])


def _unknown_with_others(ctx: _click.Context, err: _click.exceptions.NoSuchOption) -> Optional[Exception]:
    """A flag the command does not have (`status --server URL -o jsn`, `node run --dry-run
    --admin-port 70000`) said as its own hint says it, with every other bad value of the
    line (click stops at the unknown flag); None when the line has no other."""
    from kmeshctl.cli import cmdline
    from kmeshctl.cli.option_hints import no_such_option_line
    from kmeshctl.errors import UsageError

    full, flag = list(cmdline.ARGS), err.option_name
    at = next((i for i, w in enumerate(full[:cmdline.separator_at(full)]) if w == flag), None)
    if at is None or _VERIFYING:  # `-qx`, `--flag=value`'s value: click's words
        return None
    said = cmdline.HELP_POINTER.sub("", no_such_option_line(err)).removeprefix("Error: ")
    root = ctx.find_root().command
    typed = ["kmeshctl", *full]
    if any(_same_command(typed, words) and "--help" not in words for words in map(_split, _LINE.findall(said))):
        return None  # its own line, mended as it is pasted (suggestions.parseable), says the rest
    if _AFTER_DASHES in said:  # `sandbox exec POD ping -c 2 -W 1`: the rest are the command's words, not flags
        return None
    end = cmdline.separator_at(full)
    dropped, unknown, flags_at = {at, *_its_value_at(full, at, end)}, [], [at]
    for _ in range(_UNKNOWN_DEPTH):  # each flag the command lacks stops the parse of the rest: left out in turn
        lines = _problems_without(root, said, [i for i in range(len(full)) if i not in dropped], True)
        values = [i + 1 for i in flags_at if i + 1 < end and i + 1 not in dropped and not full[i + 1].startswith("-")
                  and any("extra argument" in line and full[i + 1] in line for line in lines)]
        if values:  # their values (`--server URL`): no word of their own
            dropped.update(values)
            continue
        more = next((found.group(1) for line in lines[1:] for found in [_BARE_UNKNOWN.fullmatch(line)] if found), None)
        at = next((i for i, w in enumerate(full[:end]) if w == more and i not in dropped), -1)
        if at < 0:
            break
        dropped.update({at, *_its_value_at(full, at, end)})
        flags_at.append(at)
        unknown.append(f"No such option: {more}")
    lines = _unique([said, *unknown, *lines[1:]])
    if len(lines) < 2:
        return None
    lines = [_unknown_said(ctx, line) for line in lines]
    # no line of the command mends the flag: one mended without it may run for real (`--dryrun`)
    return UsageError(str(all_said(lines)).partition(EVERY_VALUE_MENDED)[0])


def _its_value_at(full: list[str], at: int, end: int) -> list[int]:
    """[the place of the value of the flag at ``at``], a flag the command lacks that takes one
    in the tool it comes from (kubectl's `-l app=x`: app=x is no namespace to read), else []."""
    from kmeshctl.cli.option_hints import _other_tools_value

    following = full[at + 1] if at + 1 < end else None
    return [at + 1] if _other_tools_value(full[at], following) else []


_AFTER_DASHES = "the command to run goes after `--`"  # option_hints' hint for sandbox exec's command words
_UNKNOWN_DEPTH = 4  # flags the command lacks, or their values, left out to read the rest of a line
_BARE_UNKNOWN = re.compile(r"No such option: (-[\w-]+)\.?")  # click's own words, no hint


def _unknown_said(ctx: _click.Context, line: str) -> str:
    """click's bare `No such option: --dry-run` (a second flag the command lacks) as its hint says it."""
    from kmeshctl.cli.cmdline import HELP_POINTER
    from kmeshctl.cli.option_hints import no_such_option_line

    found = _BARE_UNKNOWN.fullmatch(line)
    if found is None:
        return line
    said = no_such_option_line(_click.exceptions.NoSuchOption(found.group(1), ctx=ctx))
    return HELP_POINTER.sub("", said).removeprefix("Error: ")


def _split(line: str) -> list[str]:
    import shlex

    try:
        return shlex.split(line)
    except ValueError:
        return []


def _positions_without(words: list[str], param: _click.Parameter) -> list[int]:
    """The positions of ``words`` (before `--`) that are not ``param``'s flag or its value."""
    from kmeshctl.cli import cmdline

    end, dropped, i = cmdline.separator_at(words), set(), 0
    while i < end:
        flag = words[i].partition("=")[0]
        if flag in param.opts:
            size = 1 if "=" in words[i] else 2
            dropped.update(range(i, i + size))
            i += size
            continue
        i += 1
    return [i for i in range(len(words)) if i not in dropped]


def _with_removed(offered: list[str], checked: list[str], full: list[str], at: list[int]) -> list[str]:
    """``offered`` (a change of ``checked``, ``full`` less some words; ``at`` each checked
    word's position in ``full``) as the same change of ``full``: the words left out of
    ``checked`` put back where they were typed."""
    out: list[str] = []
    following = 0  # the next position of ``full`` not yet passed

    def put_back_until(position: int) -> None:
        nonlocal following
        out.extend(full[j] for j in range(following, position) if j not in at)
        following = max(following, position)

    for tag, i1, i2, j1, j2 in difflib_opcodes(checked, offered):
        if i1 < len(at):
            put_back_until(at[i1])
        if tag == "equal":
            for k in range(i1, i2):
                put_back_until(at[k])
                out.append(full[at[k]])
                following = at[k] + 1
        elif tag in ("replace", "insert"):
            out.extend(offered[j1:j2])
        if i2 > i1:
            following = at[i2 - 1] + 1
    put_back_until(len(full))
    return out


def _with_empty(ctx: _click.Context, empty: list[str], parse: Any, typed: list[str]) -> Exception:
    """The error of a line with an empty value (`--image ''`): that alone as empty_value says
    it, or with every other bad value of the line (all_said)."""
    from kmeshctl.errors import UsageError

    command = ctx.command
    others: list[str] = []
    try:
        try:
            parse(ctx, list(typed))
        except _click.exceptions.BadParameter as first:
            if isinstance(first, _click.exceptions.MissingParameter):
                raise
            others = _click_problems(command, ctx, typed)
        except _click.exceptions.NoSuchOption as unknown:  # `--bpf-fs '' -o jsn`: said as alone, the rest with it
            gathered = None if _VERIFYING else _unknown_with_others(ctx, unknown)
            return gathered or _click.exceptions.BadOptionUsage(empty[0].split(" ", 1)[0], empty[0], ctx=ctx)
        except _click.exceptions.UsageError as extra:
            others = [line for line in [_extra_line(ctx, extra)] if line]
        others += _body_problems(ctx)
    except Exception:  # noqa: BLE001 - the others could not be told: the empty value alone
        others = []
    emptied = {opt for p in command.params if takes_value(p) and set(p.opts) & {e.split(" ", 1)[0] for e in empty}
               for opt in p.opts}
    others = [line for line in others if line.split(" ", 1)[0].partition("=")[0] not in emptied]  # said: empty
    lines = _unique([*empty, *others])
    if len(lines) < 2:
        return _click.exceptions.BadOptionUsage(empty[0].split(" ", 1)[0], empty[0], ctx=ctx)
    return all_said(lines) if not _VERIFYING else UsageError("; also ".join(lines))


def _extra_line(ctx: _click.Context, err: _click.exceptions.UsageError) -> Optional[str]:
    """click's "Got unexpected extra argument (x)" as the error says it (its hint: what the
    words most likely mean, option_hints.positional_name_hint); None for another error."""
    from kmeshctl.cli.option_hints import _EXTRA_ARGUMENTS, positional_name_hint

    from kmeshctl.cli import cmdline

    message = " ".join(err.format_message().split())
    found = _EXTRA_ARGUMENTS.match(message)
    typed = [w.partition("=")[2] if w.startswith("-") and "=" in w else w for w in cmdline.ARGS]
    if found is None or any(typed.count(word) > 1 for word in found.group(1).split()):
        return None  # a stray word typed as another flag's value too: a line built by value would change either
    try:
        hint = positional_name_hint(message, err)
    except Exception:  # noqa: BLE001 - a hint that could not be built: click's words alone
        hint = ""
    if hint.startswith("; quote the path"):
        return None  # the rest of a path the shell split: the value cut short is the same mistake, said there
    return (message.rstrip(".") if hint.startswith(";") else message) + hint


def _not_the_separator(ctx: _click.Context, typed: list[str], lines: list[str]) -> list[str]:
    """``lines`` without the one refusing `--` as a flag's value when words follow it
    (`--name -- x`): the flag took the separator, which click's extra-argument hint says
    with the line that works; calling `--` a bad name beside it would hide that line."""
    from kmeshctl.cli.cmdline import option_spelled, separator_at

    at = separator_at(typed)
    if not 0 < at < len(typed) - 1:
        return lines
    took = option_spelled(ctx.command, typed[at - 1])
    if took is None or not takes_value(took):
        return lines
    return [line for line in lines if not line.startswith(f"{typed[at - 1]} --:")]


def _not_split(ctx: _click.Context, typed: list[str], lines: list[str]) -> list[str]:
    """``lines`` without those refusing a value the word after it completes (`--xds-address
    HOST 15012`: the port; kmeshctl.cli.splitvalues): the extra word's hint mends both."""
    from kmeshctl.cli.splitvalues import chain_params, splits

    flags = [split.flag for split in splits(chain_params(ctx), typed) if split.joined is not None]
    return [line for line in lines if not any(line.startswith((f"{flag} ", f"{flag}=")) for flag in flags)]


def _unique(lines: list[str]) -> list[str]:
    return list(dict.fromkeys(lines))


def _click_problems(command: _click.Command, ctx: _click.Context, args: list[str]) -> list[str]:
    """Each value click refuses on the line (its first stopped the parse), each said as
    bad_value_line says it; the values refused are None in ctx.params."""
    from typer._click.core import iter_params_for_processing

    from kmeshctl.cli import cmdline
    from kmeshctl.errors import KmeshctlError

    opts, rest, order = command.make_parser(ctx).parse_args(args=list(args))
    lines: list[str] = []
    for param in iter_params_for_processing(order, command.get_params(ctx)):
        if param.is_eager:
            continue
        try:
            _, rest = param.handle_parse_result(ctx, opts, rest)
        except _click.exceptions.MissingParameter:
            ctx.params[param.name or ""] = None
        except _click.exceptions.BadParameter as err:
            lines.append(bad_value_line(err, cmdline.ARGS))
            ctx.params[param.name or ""] = None
        except KmeshctlError as err:  # a value's callback (dump's --pod): said when it is bad input
            lines += [str(err)] if err.exit_code == 2 else []
            ctx.params[param.name or ""] = None
    if rest and not ctx.allow_extra_args:  # `node run c1 --admin-port 0`: the word too
        extra = _click.exceptions.UsageError(
            f"Got unexpected extra argument(s) ({' '.join(map(str, rest))})", ctx=ctx)  # click's words
        lines += [line for line in [_extra_line(ctx, extra)] if line]
    return lines


def _body_problems(ctx: _click.Context) -> list[str]:
    """The bad values the command's own checks find: its name flags, --xds-address,
    --image, --mode (kmeshctl.cli.names) and its VALUE_CHECKS, each a line."""
    import functools

    from kmeshctl.cli import cmdline, names
    from kmeshctl.cli.value_checks import VALUE_CHECKS

    values, args = ctx.params, list(cmdline.ARGS)
    path = " ".join(ctx.command_path.split()[1:])
    named = _said_by(lambda: names.check_name_flags(ctx, values, args))
    if not named:  # the name checks raise a bad --xds-address, --image or --mode only beside another
        named = [str(err) for err in names._other_value_problems(ctx, values, args)]
    lines = [*named, *(line for check in VALUE_CHECKS.get(path, ()) for line in _said_by(
        functools.partial(check, values)))]
    return _unique([*_without_moot(lines), *_conflicting(ctx), *_said_by(lambda: _cluster_flags(ctx, args))])


def _without_moot(lines: list[str]) -> list[str]:
    """``lines`` less the other problems of a value one of them says to leave out with its
    flag (dump's `-n Kmesh_System` without --pod): mending that value would not help."""
    gone = {line.split(": ", 1)[0] for line in lines if _leaves_own_flag_out(line)}
    return [line for line in lines if _leaves_own_flag_out(line) or line.split(": ", 1)[0] not in gone]


def _leaves_own_flag_out(line: str) -> bool:
    """``line`` (`-n x: ...`) says to leave out the flag it is about."""
    flag = re.escape(line.split(" ", 1)[0].partition("=")[0])
    return line.startswith("-") and re.search(rf"\bleave (?:out {flag}|{flag}(?: \S+)? out)(?![\w-])", line) \
        is not None


def _cluster_flags(ctx: _click.Context, args: list[str]) -> None:
    """The --kubeconfig / --context typed, checked as every command's callback checks them
    (conventions.check_typed_cluster_flags: the file is read, nothing connects), so that a
    context that is none of the kubeconfig's is said with the other bad values."""
    from kmeshctl.cli.conventions import GLOBAL_PARAMS, SELF_CHECKED_COMMANDS
    from kmeshctl.cli.cmdline import HELP_ONLY_COMMANDS
    from kmeshctl.kube import check_given_target

    root = ctx.find_root()
    if ctx.command.name in HELP_ONLY_COMMANDS | SELF_CHECKED_COMMANDS and not _demo_on_cluster(ctx) or root is ctx:
        return
    typed = [root.get_parameter_source(name) == ParameterSource.COMMANDLINE for name in GLOBAL_PARAMS]
    if any(typed):
        check_given_target(typed_target(args), *typed)
    if ctx.command_path.split()[1] in CONNECTING_COMMANDS:  # what connecting would refuse, said now (read only)
        from kmeshctl.kube import check_target_loads

        check_target_loads(typed_target(args))


def _demo_on_cluster(ctx: _click.Context) -> bool:
    """`demo traffic-shift` that would check the cluster flags as they are (demo._check_target_flags:
    no --target local, no sandbox named beside them, each said its own way)."""
    target = ctx.params.get("target")
    return ctx.command.name == "traffic-shift" and getattr(target, "value", target) != "local" and \
        ctx.get_parameter_source("name") != ParameterSource.COMMANDLINE


# The commands that always load the kubeconfig (read at parse time by _cluster_flags).
CONNECTING_COMMANDS = frozenset({"install", "uninstall", "precheck", "status", "enable-ns", "disable-ns", "waypoint"})


def _conflicting(ctx: _click.Context) -> list[str]:
    """The CONFLICTS pairs typed together on ``ctx``'s line (`--dry-run and --wait do not go
    together (...)`), named with the other bad values (its callback would say it only after)."""
    from kmeshctl.cli.conventions import typed_conflicts

    return [f"--{a.replace('_', '-')} and --{b.replace('_', '-')} do not go together ({why})"
            for a, b, why in typed_conflicts(ctx, ctx.params)]


def _said_by(check: Any) -> list[str]:
    """The bad values ``check`` raises (the name checks join theirs with `; also`); none
    for another failure (a record unreadable...): the command says it when it gets there."""
    from kmeshctl.errors import KmeshctlError, UsageError

    try:
        check()
    except UsageError as err:
        return str(err).split("; also ")
    except KmeshctlError:
        pass
    return []


def all_said(lines: list[str]) -> "UsageError":
    """One UsageError naming every bad value (``lines``, each its problem and a value it
    takes), in the order typed; each line to paste a problem's own check built (it mends
    one value and keeps the others) said as the words it changes; and one whole line with
    every value mended, only when that line parses with no bad value left."""
    import shlex

    from kmeshctl.cli import cmdline
    from kmeshctl.errors import UsageError

    if _VERIFYING:
        return UsageError("; also ".join(lines))
    typed = ["kmeshctl", *cmdline.ARGS]
    ordered = sorted(lines, key=_typed_at)
    said = "; also ".join(_continued(_lines_as_changes(line, typed), i) for i, line in enumerate(ordered))
    mended, left_out = _mended_line(ordered, typed)
    if mended is None:
        return UsageError(said)
    left = f", {spoken_list(left_out)} left out (the default{'s' if len(left_out) > 1 else ''})" if left_out else ""
    offered = spoken_list([f'`{shlex.join(line)}`' for line in mended], 'or')
    return UsageError(f"{said}; every value mended{left}: {offered}{_required_note(mended[0])}")


def _required_note(line: list[str]) -> str:
    """suggestions' "(then give FLAG (...) too: it is required)" for a mended line that
    leaves out a flag the command needs (never typed: the next run would stop there)."""
    import shlex

    from kmeshctl.cli import cmdline
    from kmeshctl.cli.suggestions import required_left

    return required_left(shlex.join(line), cmdline.INVOKED[0].command) if cmdline.INVOKED else ""


def _with_whole_line(line: str) -> "Optional[UsageError]":
    """One bad value whose line ends in the flag and value to use (`...; use a lower-case
    repository: --image upper/case:tag`): that end as the whole line typed with it mended,
    when that line parses with no bad value left; None otherwise (the check says its own)."""
    import shlex

    from kmeshctl.cli import cmdline
    from kmeshctl.errors import UsageError

    head = line.rpartition(": ")[0]
    wanted = _tail_change(line)
    if wanted is None:
        return None
    found, _ = _mended_line([line], ["kmeshctl", *cmdline.ARGS])
    mended = found[0] if found is not None and len(found) == 1 else None
    if mended is None or not any(mended[i:i + 2] == wanted for i in range(len(mended) - 1)):
        return None
    return UsageError(f"{head}: `{shlex.join(mended)}`")


def _tail_change(line: str) -> Optional[list[str]]:
    """[FLAG, VALUE] a problem's line ends in (`...: --metrics-port 15021`), the value to
    give; None when it ends otherwise or offers a line of its own."""
    import shlex

    _, colon, tail = line.rpartition(": ")
    try:
        wanted = shlex.split(tail)
    except ValueError:
        return None
    if "`" in line or not colon or len(wanted) != 2 or not wanted[0].startswith("-"):
        return None
    return wanted


_UNKNOWN_FLAG = re.compile(r"(?:No such option: |kmeshctl [\w -]+ takes no )(-[\w-]+)")  # click's, option_hints'


def _typed_at(line: str) -> int:
    """Where the flag a problem starts with (`-n Bad_NS: ...`) was typed on the line."""
    from kmeshctl.cli import cmdline

    unknown = _UNKNOWN_FLAG.match(line)
    flag = unknown.group(1) if unknown else line.split(" ", 1)[0].partition("=")[0].rstrip(":")
    return next((i for i, word in enumerate(cmdline.ARGS) if word.partition("=")[0] == flag), len(cmdline.ARGS))


_LINE = re.compile(r" ?`(kmeshctl [^`]*)`")
_LEAVE_OUT = re.compile(r"\bleave (?:(?:it|them|the flag) out|out \S)")
_MADE_FIRST = re.compile(r"`(mkdir -p [^`&]*?) && kmeshctl [^`]*`")
_LINES = re.compile(r" ?`kmeshctl [^`]*`(?: or `kmeshctl [^`]*`)*")
# lines with the labels after them in a row (`A` (sandbox x) or `B` (the cluster))
_LINES_LABELLED = re.compile(r" ?`kmeshctl [^`]*`(?: \([^()`]*\))*(?: or `kmeshctl [^`]*`(?: \([^()`]*\))*)*")
_GIVE_ONE_OF = re.compile(r"\bgive one of them,\s*$")  # `give one of them, `A` or `B``


def _lines_as_changes(line: str, typed: list[str]) -> str:
    """``line`` with each `kmeshctl ...` it offers (the line typed with one value mended,
    the others kept: it would fail when pasted) said as the words it changes (`-n bad-ns`),
    or left out when the prose says them already (`did you mean -n bad-ns?`)."""
    def said(found: re.Match[str], start: int) -> str:
        import shlex

        try:
            offered = shlex.split(found.group(1))
        except ValueError:
            return found.group()
        if not _same_command(typed, offered) or "--help" in offered:
            return found.group()  # another command's (`kmeshctl sandbox list`), or help: no line typed, mended
        changes = _changes(typed, offered)
        if _moved(changes, typed):
            return ""  # flags moved (`--pod P -n NS` put last): the words changed say nothing; the mended line does
        before = line[:start + found.start()]
        if all(change in before or (not change.startswith("leave ") and
                                    _word_in(f"mean {change.split(' ')[-1]}", before))
               for change in changes):  # `did you mean -n bad-ns?`, `did you mean json?`
            return ""
        if all(change.startswith("leave ") for change in changes) and \
                _LEAVE_OUT.search(before.rpartition("; ")[2]):  # `leave it out: `: the prose says it
            return ""
        return " " + ", ".join(changes)

    def each(found: re.Match[str]) -> str:  # `A` or `B`: each said, the `or`s of the lines left out with them
        parts = [said(one, found.start()) for one in _LINE.finditer(found.group())]
        if not all(parts) and _GIVE_ONE.search(line[:found.start()]):
            return ""  # a choice with one way unsaid would read as no choice: the mended lines give each
        return " or".join(part for part in parts if part)

    def labelled(found: re.Match[str]) -> str:  # `give one of them, `A` (sandbox x) or `B` (the cluster)`
        if not _GIVE_ONE_OF.search(line[:found.start()]) or \
                all(said(one, found.start()) for one in _LINE.finditer(found.group())):
            return found.group()
        return ""  # as each's choice, its labels too: left alone, they would name no line

    # `mkdir -p DIR && LINE`: LINE, with the other bad values, would fail: the step alone
    told = _LINES.sub(each, _LINES_LABELLED.sub(labelled, _MADE_FIRST.sub(r"`\1`", line)))
    # `did you mean --name wp1?; without it: leave team-a/wp1 out`: the fallback's line is gone, the mend says it
    told = _FALLBACK_SAID.sub(r"\1", told) if told != line else told
    # a line left out leaves the words that led to it (`read its -o json, `) without an end
    if told == line:
        return told
    return re.sub(r"[,:](\s*)(?=\()", r"\1", re.sub(r"[,:]\s*(?=;|$|,)", "", told))  # `--namespace: (why)`


_FALLBACK_SAID = re.compile(r"(\b(?:did you mean [^;`]*\?|give one(?: of them)?)):?;\s*without it: "
                            r"leave [^;`]*? out(?=;|$| \()")


def _moved(changes: list[str], typed: Sequence[str] = ()) -> bool:
    """_changes' words both leave a flag out and give it again (the line moved it), or give
    a flag and value typed already (`-o jsn` put before --plot)."""
    left = {word for change in changes if change.startswith("leave ") for word in change.split()[1:-1]
            if word.startswith("-")}
    given = [change.split() for change in changes if not change.startswith("leave ")]
    return any(word in left for words in given for word in words) or any(
        len(words) == 2 and words[0].startswith("-") and _typed_together(words, typed) for words in given)


def _typed_together(words: list[str], typed: Sequence[str]) -> bool:
    return any(list(typed[i:i + len(words)]) == words for i in range(len(typed)))


def _same_command(typed: list[str], offered: list[str]) -> bool:
    from kmeshctl.cli import cmdline
    from kmeshctl.cli.option_hints import others_values_hidden
    from kmeshctl.cli.suggestions import _command_path

    if not cmdline.INVOKED:
        return False
    root = cmdline.INVOKED[0].command
    typed = typed[:1] + others_values_hidden(root, typed[1:])  # `--cluster c status`: status's
    return _command_path(root, typed) == _command_path(root, offered) and not set(offered) & {"&&", "|", ";"}


def _changes(typed: list[str], words: list[str]) -> list[str]:
    """The words ``words`` (a suggested line) changes from ``typed``: `-n bad-ns` for a
    value replaced (its flag with it), `leave --x y out` for words left out."""
    import shlex

    found: list[str] = []
    for tag, i1, i2, j1, j2 in difflib_opcodes(typed, words):
        if tag in ("replace", "insert"):
            if j1 > 0 and not words[j1].startswith("-") and words[j1 - 1].startswith("-"):
                j1 -= 1  # the flag of the value replaced
            found.append(shlex.join(words[j1:j2]))
        elif tag == "delete":
            found.append(f"leave {shlex.join(typed[i1:i2])} out")
    return found


def _mended_line(lines: list[str], typed: list[str]) -> tuple[Optional[list[list[str]]], list[str]]:
    """The line typed with every bad value mended: each value a problem's own line replaces
    (`Bad_NS` -> bad-ns), then what suggestions.parseable_words mends (a choice's typo, a
    name, --mode, --image, --xds-address) or leaves out (a value with no close choice, a
    number out of range), and the flags left out (`--network 'a b'`); None unless that
    line parses with no bad value left. Two flags that do not go together (CONFLICTS): the
    line keeping each, those that work (mended_lines)."""
    from kmeshctl.cli import cmdline
    from kmeshctl.cli.suggestions import _safe_to_drop, parseable_words

    if not cmdline.INVOKED:
        return None, []
    root = cmdline.INVOKED[0].command
    kept, emptied = _without_empties(_each_line_applied(lines, typed), root)
    mended, dropped, flagged = parseable_words(kept, root)
    if mended == typed or not _safe_to_drop(dropped, flagged, kept):
        ways = _ways_mended(lines, typed, root) if mended != typed else []
        return (ways, []) if ways else (None, [])  # else a name or target typed would be lost
    found = [mended] if line_works(mended, root) else [line for line in mended_lines(mended, root) if line != mended]
    if not found and _only_required_left(mended, root):  # all_said names the flags it still needs
        found = [mended]
    if not found:
        return None, []
    return found, [*emptied, *(given for given, fixed in flagged if not fixed)]


# What an empty value is left out of a mended line for only when it picks no target (`--cluster-id ''`
# on precheck: its default is taken): never a name, a path or a place the command acts on.
_EMPTY_KEPT = frozenset({"name", "sandbox", "bpf_fs", "namespace", "istio_namespace", "pod", "kubeconfig", "context",
                         "run_id", "out", "plot", "target", "map"})


def _without_empties(words: list[str], root: _click.Command) -> tuple[list[str], list[str]]:
    """(``words`` without each optional flag typed with an empty value that picks no target,
    those flags as `FLAG ''`): the line then takes the flag's default."""
    from kmeshctl.cli.cmdline import option_spelled, resolve, separator_at
    from kmeshctl.cli.suggestions import TARGETING_FLAGS, _command_path

    command, _ = resolve(root, _command_path(root, words)[1:])
    if command is None:
        return words, []
    kept, left, i, end = [], [], 0, separator_at(words)
    while i < len(words):
        flag, equals, value = words[i].partition("=")
        param = option_spelled(command, flag) if i < end and flag.startswith("-") else None
        size = 1 if equals else 2
        empty = (value == "") if equals else (i + 1 < end and words[i + 1] == "")
        if param is not None and takes_value(param) and empty and not param.required and \
                param.name not in _EMPTY_KEPT and flag not in TARGETING_FLAGS:
            left.append(f"{flag} ''")
            i += size
            continue
        kept.append(words[i])
        i += 1
    return kept, left


def _ways_mended(lines: list[str], typed: list[str], root: _click.Command) -> list[list[str]]:
    """The lines a problem offers as the user's choice (`give one: `A` or `B``), each with
    every other value mended and the words it gives kept; [] when there is no such
    problem or one way gives no line."""
    ways = next((found for line in lines if _offers_ways(line, typed)
                 for found in [_lines_offered(line, typed, root)] if len(found) > 1), [])
    mended = _each_way(ways, root, _EITHER_DEPTH)
    keeps = all(any(_keeps_names(way, line, root, set()) for line in mended) for way in ways)
    return mended if keeps else []  # one line: every way mends to it (`-n Team_A` beside team-a/wp1)


def _left_out_words(lines: list[str]) -> set[str]:
    """The words problems (``lines``) say to leave out (`leave kube-system out`), lower-cased."""
    return {w.lower() for line in lines for said in re.findall(r"\bleave (.+?) out\b", line) for w in said.split()}


def _keeps_names(typed: list[str], line: list[str], root: _click.Command, left: set[str]) -> bool:
    """``line`` (a mend of ``typed``) still has each positional word ``typed`` gives after
    its command (a sandbox, a path, a namespace, NS/NAME: what the command acts on), as
    typed or lower-cased, alone or as a flag's value, unless a problem says to leave it
    out (``left``, lower-cased)."""
    from kmeshctl.cli.cmdline import option_spelled, resolve
    from kmeshctl.cli.suggestions import _command_path

    path = _command_path(root, typed)
    command, _ = resolve(root, path[1:])
    if command is None:
        return True
    end = len(typed) if "--" not in typed else typed.index("--")
    words = {w.lower() for w in line} | {w.partition("=")[2].lower() for w in line if "=" in w}
    for i in range(len(path), end):
        word, before = typed[i], typed[i - 1]
        param = option_spelled(command, before) or option_spelled(root, before) \
            if before.startswith("-") and "=" not in before else None  # the root's flags typed before the command
        if _others_value(before, param):  # `--cluster c` given as the context of cluster c, else kept
            if typed_value(line[1:], "--context") in (None, typed_value(typed[1:], "--context")):
                return False
            continue
        if word.startswith("-") or (param is not None and takes_value(param)):
            continue
        if word.lower() not in words | left and word.lower().replace("_", "-") not in words and \
                not ("/" in word and all(part.replace("_", "-") in words for part in word.lower().split("/"))):
            return False  # (Team_A as team-a; Team-A/wp1 as -n team-a --name wp1)
    return True


def _others_value(before: str, param: object) -> bool:
    """The word after ``before`` is the value of another tool's flag kmeshctl has not
    (``param`` None: kubectl's `--cluster c`), no name the command acts on (but what it acts
    on all the same: a line without it must choose it otherwise)."""
    from kmeshctl.cli.option_hints import OTHER_TOOLS_FLAGS

    return param is None and "=" not in before and any(
        valued and before in spellings for spellings, valued, _, _ in OTHER_TOOLS_FLAGS)


def required_left_out(words: list[str], root: _click.Command) -> Optional[tuple[list[str], list[str]]]:
    """What the line ``words`` leaves out that its command requires (its `--cluster-id
    (...) is required (...)` problems) and its other problems, when every value it gives
    is taken; None when one is refused (that is the line's problem, not what it lacks)."""
    if line_problems(words, root, given_only=True):
        return None
    problems = line_problems(words, root)
    required = [problem for problem in problems if " is required (" in problem]
    return required, [problem for problem in problems if problem not in required]


def _only_required_left(words: list[str], root: _click.Command) -> bool:
    """The line ``words`` is refused only for flags it leaves out that the command requires
    (the values it gives are all taken): mended, it is the line typed minus its mistakes."""
    left = required_left_out(words, root)
    return left is not None and bool(left[0]) and not left[1]


def _each_line_applied(lines: list[str], typed: list[str]) -> list[str]:
    """``typed`` with what each problem's line (``lines``) changes: a value it replaces
    (`Bad_NS` -> bad-ns), a word alone it leaves out (`leave kube-system out`), the flag and
    value a line ends in (`...: --metrics-port 15021`)."""
    import shlex

    from kmeshctl.cli import cmdline

    words: list[Optional[str]] = list(typed)  # None: a word a problem's line leaves out
    added: dict[int, list[str]] = {}  # words a line puts before the word typed there (`-f` before `b.yaml`)
    tails: list[list[str]] = []
    for line in lines:
        before = (list(words), {k: list(v) for k, v in added.items()})
        if _offers_ways(line, typed):
            continue  # `A`, or `B`: a choice between ways (mended_lines gives each), no value's mend
        for found in _LINE.finditer(line):
            try:
                offered = shlex.split(found.group(1))
            except ValueError:
                continue
            ops = [op for op in difflib_opcodes(typed, offered) if op[0] != "equal"]
            if not _same_command(typed, offered):  # another command's: its values alone
                ops = [op for op in ops if _a_value_replaced(typed, offered, op)]
            if not all(_a_value_replaced(typed, offered, op) or _a_word_left_out(typed, op) or
                       _a_flag_added(offered, op) or _own_flag_left_out(line, typed, op) or
                       _a_word_given_flags(typed, offered, op) or _a_flag_respelled(line, typed, offered, op)
                       for op in ops):
                continue  # a line that changes what no value's mend does (a flag left out): not this one
            for tag, i1, i2, j1, j2 in reversed(ops):  # the last first: `km_frontnd` as `--map km_frontend`
                if tag == "replace":  # moves the words after it, never where an op before it goes
                    words[i1:i2] = offered[j1:j2]
                elif tag == "delete":
                    words[i1:i2] = [None] * (i2 - i1)  # `leave kube-system out`
                elif offered[j1:j2] != added.get(i1, [])[-(j2 - j1):]:
                    added.setdefault(i1, []).extend(offered[j1:j2])  # `b.yaml` given as `-f b.yaml`
            if (words, added) != before:
                break  # `A` or `B`: the first, the closest, is the one mended
        wanted = _tail_change(line)
        if wanted is not None:  # `...: --metrics-port 15021`: the value the flag typed takes instead
            tails.append(wanted)
    kept = [w for i, word in enumerate([*words, None]) for w in [*added.get(i, []), *([word] if word is not None else [])]]
    for wanted in tails:  # a flag not typed (`--admin-port 15020` took metrics' default) is added
        given = cmdline.with_flag_value(kept, *wanted)
        end = cmdline.separator_at(kept)
        kept = given if given != kept or wanted[0] in kept[:end] else [*kept[:end], *wanted, *kept[end:]]
    for line in lines:
        kept = _meant_value_given(line, kept)
    return kept


def _meant_value_given(line: str, words: list[str]) -> list[str]:
    """``words`` with the value a problem offers in prose, with no line of its own (`--weights
    90:10: ...; did you mean --weights 90/10?`, `-n kube-system: reserved ...; use a dedicated
    one (default kmesh-system)`), given in place of the one typed; as they are otherwise."""
    from kmeshctl.cli.suggestions import _MEANT_VALUE, _given_as

    if "`kmeshctl " in line:
        return words
    for pattern in (_MEANT_VALUE[0], _MEANT_VALUE[2]):
        found = pattern.search(line)
        if found is not None:
            value = found["value"][1:-1] if found["value"][:1] == "'" else found["value"]  # `'t48a 1'`: as typed
            given = _given_as(list(words), found["flag"], value, found.groupdict().get("to") or found["flag"],
                              found["meant"])
            return given if given is not None else words
    return words


def _word_in(word: str, text: str) -> bool:
    """``word`` said in ``text`` as words of their own (`mean 1` is not said by `mean 1wp`)."""
    return re.search(rf"(?<![\w.-]){re.escape(word)}(?![\w.-])", text) is not None


def _offers_ways(line: str, typed: list[str]) -> bool:
    """``line`` offers two or more lines of the command typed, one of them leaving out or
    adding a flag: ways to choose between (`without waiting: `A`, or with a pod: `B``),
    not the closest of several values (`did you mean --sandbox a? `A` or `B``)."""
    import shlex

    offered = []
    for found in _LINE.finditer(line):
        try:
            words = shlex.split(found.group(1))
        except ValueError:
            continue
        if _same_command(typed, words):
            offered.append(words)
    before = line[:next(_LINE.finditer(line)).start()] if offered else ""
    if _MEANT_FIRST.search(before):
        return False  # `did you mean --name wp1? `A`; without it: `B``: A is the mend, B a fallback
    if len(offered) > 1 and _GIVE_ONE.search(before):
        return True  # `team-a/wp1 and -n team-b name two namespaces; give one: `A` or `B``: the user's choice
    return len(offered) > 1 and any(not _a_value_replaced(typed, words, op) for words in offered
                                    for op in difflib_opcodes(typed, words) if op[0] != "equal")


_GIVE_ONE = re.compile(r"\bgive one(?: of them)?:\s*$")  # a choice between what the user typed
_MEANT_FIRST = re.compile(r"\bdid you mean [^;`]*\?\s*$")  # the prose before a problem's first line: its mend


def _a_value_replaced(typed: list[str], offered: list[str], op: tuple[str, int, int, int, int]) -> bool:
    """``op`` replaces words typed that are no flags with as many others (`Bad_NS` -> bad-ns)."""
    tag, i1, i2, j1, j2 = op
    return tag == "replace" and i2 - i1 == j2 - j1 and not any(w.startswith("-") for w in typed[i1:i2])


def _a_word_left_out(typed: list[str], op: tuple[str, int, int, int, int]) -> bool:
    """``op`` leaves out words typed alone (`kube-system`), never a flag."""
    tag, i1, i2, _, _ = op
    return tag == "delete" and not any(w.startswith("-") for w in typed[i1:i2])


def _own_flag_left_out(line: str, typed: list[str], op: tuple[str, int, int, int, int]) -> bool:
    """``op`` leaves out the flag problem ``line`` is about, with its value, as the problem
    says to (`-n kmesh-system: ...: leave out -n, `...``)."""
    tag, i1, i2, _, _ = op
    flag, gone = line.split(" ", 1)[0], typed[i1:i2]
    whole = gone[:1] == [flag] and len(gone) == 2 or len(gone) == 1 and gone[0].startswith(f"{flag}=")
    return tag == "delete" and whole and _leaves_own_flag_out(line)


def _a_word_given_flags(typed: list[str], offered: list[str], op: tuple[str, int, int, int, int]) -> bool:
    """``op`` gives one word typed alone as flags (`Team-A/wp1` -> `--name wp1 -n team-a`)."""
    tag, i1, i2, j1, j2 = op
    return tag == "replace" and i2 - i1 == 1 and not typed[i1].startswith("-") and offered[j1].startswith("-") \
        and j2 - j1 >= 2


def _a_flag_respelled(line: str, typed: list[str], offered: list[str], op: tuple[str, int, int, int, int]) -> bool:
    """``op`` gives the flag problem ``line`` names as no such option (with its value) as the
    flag that line offers in its place (`No such option: --namspace; did you mean --namespace?`:
    `--namspace` -> `--namespace`; `--cluster c` -> `--context dev`, the context of cluster c)."""
    tag, i1, i2, j1, j2 = op
    found = re.match(r"No such option: (-[\w-]+)", line)
    if found is None or not 1 <= i2 - i1 <= 2 or typed[i1].partition("=")[0] != found.group(1) or \
            any(w.startswith("-") for w in typed[i1 + 1:i2]):
        return False
    if tag == "delete":  # `--cluster c` left out, `--context dev` added where the line offered puts it
        return True
    return tag == "replace" and 1 <= j2 - j1 <= 2 and offered[j1].startswith("-") and \
        not any(w.startswith("-") for w in offered[j1 + 1:j2])


def _a_flag_added(offered: list[str], op: tuple[str, int, int, int, int]) -> bool:
    """``op`` adds a flag (and its value) before a word typed (`-f` before `b.yaml`)."""
    tag, _, _, j1, _ = op
    return tag == "insert" and offered[j1].startswith("-")


def mended_line(words: list[str], root: _click.Command) -> Optional[list[str]]:
    """A suggested `kmeshctl ...` line ``words`` that its checks refuse (line_problems) with
    every value they offer a mend for mended (a name's case, a reserved namespace left
    out: _each_line_applied), when that line works; None otherwise (nothing to mend, or
    a value no check mends: the caller says it)."""
    found = mended_lines(words, root)
    return found[0] if len(found) == 1 and found[0] != words else None


# `--wait and --no-wait both given`, `--dry-run and --wait do not go together`: two flags,
# either of which the line may keep (each kept is a line of its own)
_EITHER_FLAG = re.compile(r"^(-[\w-]+) and (-[\w-]+) (?:both given|do not go together)")
EVERY_VALUE_MENDED = "; every value mended"  # all_said's and either_lines' end: the lines for the whole line
ON_OFF_SAID = "on/off flags take no value here"  # `--wait=yes`: its lines are the line typed with it spelled
_EITHER_DEPTH = 3  # flags given both ways and in conflict at once: each pair split in turn


def mended_lines(words: list[str], root: _click.Command, depth: int = _EITHER_DEPTH) -> list[list[str]]:
    """The lines that work made of a `kmeshctl ...` line ``words`` its checks refuse: every
    value a check mends mended (_each_line_applied, then suggestions.parseable_words' choices
    and values left out), and for two flags that cannot go together (given both ways, or
    CONFLICTS) one line keeping each; [``words``] when it works as it is, [] when no line
    works (a value no check mends: the caller says it)."""
    from kmeshctl.cli import cmdline

    problems = [one for problem in line_problems(words, root) for one in problem.split("; also ")]
    if not problems:
        return [list(words)]
    problems = [_unknown_read(_stray_read(problem, words, root), words, root) for problem in problems]
    pair = next((found for found in map(_EITHER_FLAG.match, problems) if found), None)
    either = [["kmeshctl", *cmdline.without_flag(words[1:], dropped, valued=False)]
              for dropped in (pair.group(2), pair.group(1))] if pair is not None else \
        next((found for problem in problems for found in [_lines_offered(problem, words, root)]
              if len(found) > 1 or found and ON_OFF_SAID in problem), [])
    if either and all(_keeps_cluster_flags(words, way, problems) for way in either):
        if len(either) == 1 and _only_required_left(either[0], root):
            return either  # `install --dry-run=1`: the on/off value spelled; the caller names the flags required
        return _each_way(either, root, depth)
    fixed = _without_empties(_values_applied(problems, words, root), root)[0]
    if fixed == words:
        return []
    # click stops at its first refusal: the line mended so far may have one the checks said not yet
    return [fixed] if line_works(fixed, root) else mended_lines(fixed, root, depth - 1) if depth > 0 else []


_WITHOUT_IT = re.compile(r"; without it: `[^`]*`")


def extra_words_said(problem: str, words: list[str], root: _click.Command) -> Optional[str]:
    """click's "Got unexpected extra argument(s) (X)" (``problem``) for the `kmeshctl ...` line
    ``words`` as its command says it (_extra_line: what X most likely means, with its lines,
    read as that line); None when it could not be told."""
    return _said_on_line(words, root, lambda ctx: _extra_line(ctx, _click.exceptions.UsageError(problem, ctx=ctx)))


def _unknown_read(problem: str, words: list[str], root: _click.Command) -> str:
    """click's bare `No such option: --namspace` (``problem``) of the line ``words`` as its
    hint says it there (`did you mean --namespace? `LINE``, kubectl's `--cluster c`: the
    context whose cluster it is), so that the line mended from it gets that flag; ``problem``
    for another."""
    from kmeshctl.cli.cmdline import HELP_POINTER
    from kmeshctl.cli.option_hints import no_such_option_line

    found = _BARE_UNKNOWN.fullmatch(problem)
    if found is None or found.group(1) == "--dry-run":  # suggestions.no_real_run_offered says what it does instead
        return problem
    said = _said_on_line(words, root, lambda ctx: no_such_option_line(
        _click.exceptions.NoSuchOption(found.group(1), ctx=ctx)))
    return HELP_POINTER.sub("", said).removeprefix("Error: ") if said else problem


def _said_on_line(words: list[str], root: _click.Command, say: Any) -> Optional[str]:
    """``say``(the context of the command the `kmeshctl ...` line ``words`` names), read as
    that line; None when it could not be told."""
    from kmeshctl.cli import cmdline
    from kmeshctl.cli.option_hints import others_values_hidden

    try:
        with cmdline.state_kept():
            cmdline.ARGS[:] = words[1:]
            hidden = others_values_hidden(root, words[1:])  # parsed without kubectl's `--cluster c` before it
            gone = {k for i, w in enumerate(hidden) if w != words[1 + i] for k in (i - 1, i)}
            ctx = root.make_context("kmeshctl", [w for i, w in enumerate(words[1:]) if i not in gone],
                                    resilient_parsing=True)
            while hasattr(ctx.command, "commands"):
                rest = [*ctx._protected_args, *ctx.args]
                name, command, rest = ctx.command.resolve_command(ctx, rest)  # type: ignore[attr-defined]
                ctx = command.make_context(name, rest, parent=ctx, resilient_parsing=True)
            if gone:  # the parse set the words it read: the hint reads the line with `--cluster c`
                cmdline.ARGS[:] = words[1:]
            return say(ctx)
    except Exception:  # noqa: BLE001 - no reading could be told: click's words stand
        return None


def _stray_read(problem: str, words: list[str], root: _click.Command) -> str:
    """``problem`` as the line's own refusal says it when it is click's bare "Got
    unexpected extra argument(s) (X)": with what X most likely means (`did you mean
    --namespace kmesh-x? `kmeshctl status --namespace kmesh-x``), less the line without X
    (it would act on another thing); ``problem`` for any other."""
    from kmeshctl.cli.option_hints import _EXTRA_ARGUMENTS

    if _EXTRA_ARGUMENTS.match(" ".join(problem.split())) is None:
        return problem
    said = extra_words_said(problem, words, root)
    if not said:
        return problem
    from kmeshctl.cli.suggestions import parseable_words

    def taken(found: re.Match[str]) -> str:  # `waypoint status wp1 -n team-a`: wp1 as the line typed gives it
        import shlex

        try:
            return f" `{shlex.join(parseable_words(shlex.split(found.group(1)), root)[0])}`"
        except ValueError:
            return found.group(0)

    return _LINE.sub(taken, _WITHOUT_IT.sub("", said))


def _each_way(either: list[list[str]], root: _click.Command, depth: int) -> list[list[str]]:
    """The lines that work made of each of ``either`` (the line kept each way a mistake
    allows), none contained in another; [] when one way gives none (a line offered alone
    would drop a flag typed without a word)."""
    if depth <= 0:
        return []
    lines: list[list[str]] = []
    for way in either:
        found = mended_lines(way, root, depth - 1) or ([way] if _only_required_left(way, root) else [])
        if not found:  # (a way refused only for a flag never typed is that way: its caller says the flag)
            return []
        lines += [line for line in found if line not in lines]
    return [line for line in lines if not any(other != line and _within(line, other) for other in lines)]


def _keeps_cluster_flags(words: list[str], way: list[str], problems: Sequence[str] = ()) -> bool:
    """``way`` keeps the --kubeconfig / --context ``words`` give (a line that drops them would
    act on another cluster, or on none: offered in place of the line, it would say nothing),
    unless a problem is about that flag itself (`--sandbox demo names a local sandbox,
    --kubeconfig F a cluster`: the local way leaves it out)."""
    from kmeshctl.cli.cmdline import GLOBAL_FLAGS

    return all(typed_value(way[1:], flag) == typed_value(words[1:], flag) for flag in GLOBAL_FLAGS
               if flag.startswith("--") and not any(re.search(rf"(^|[ ,]){flag}[ =]", p) for p in problems))


def _within(short: list[str], long: list[str]) -> bool:
    """``short``'s words are ``long``'s with some left out (in order)."""
    rest = iter(long)
    return all(word in rest for word in short)


def _lines_offered(problem: str, words: list[str], root: _click.Command) -> list[list[str]]:
    """The whole lines of ``words``' command that ``problem`` offers (`apply it scaled to 0
    without waiting: `A`, or give it a pod and wait: `B``)."""
    import shlex

    from kmeshctl.cli.suggestions import _command_path

    path = _command_path(root, words)
    found = []
    for line in _LINE.finditer(problem):
        try:
            offered = shlex.split(line.group(1))
        except ValueError:
            continue
        if _command_path(root, offered) == path and offered != words:
            found.append(offered)
    return found


def _values_applied(problems: list[str], words: list[str], root: _click.Command) -> list[str]:
    """``words`` with what each of ``problems`` (built from them) changes, then what
    suggestions.parseable_words mends (a choice's typo) or leaves out."""
    from kmeshctl.cli import cmdline
    from kmeshctl.cli.suggestions import parseable_words

    with cmdline.state_kept():  # the problems' lines were built from ``words``: read as the line typed
        cmdline.ARGS[:] = words[1:]
        fixed = _each_line_applied(problems, list(words))
    return parseable_words(fixed, root)[0]


def either_lines(said: str, candidates: list[list[str]], root: _click.Command, own: Sequence[str] = ()
                 ) -> Optional[str]:
    """An on/off mistake (``said``: `--wait and --no-wait both given ...: give one`, `Option
    '--quiet' does not take a value ...`, with no line of its own) said with every other bad
    value of the line, which each of ``candidates`` (the line typed with that mistake
    mended each way it can be) still has, and the lines that work with every value
    mended (`` `A` or `B` ``); None when the candidates have no other bad value (the
    mistake's own message says it). A bad value of a flag in ``own`` (the flag given twice:
    `-n Bad_NS -n b`) is said when one candidate has it, beside the others: its line mends it."""
    import shlex

    from kmeshctl.cli.cmdline import HELP_POINTER

    candidates = [_read_otherwise(line, root) for line in candidates]
    checked = [_unique([HELP_POINTER.sub("", _without_lines(one.partition(EVERY_VALUE_MENDED)[0]))
                        for problem in line_problems(line, root, given_only=True) for one in problem.split("; also ")]
                       + _cluster_problems(line, root)) for line in candidates]
    if not checked:
        return None
    common = [p for p in checked[0] if all(p in others for others in checked[1:])]
    common = _unique([*(p for one in checked for p in one if p.split(" ", 1)[0] in own), *common])
    if not common:
        return None
    lines: list[list[str]] = []
    for line in candidates:
        lines += [one for one in mended_lines(line, root) if one not in lines]
    left = _left_out_words(common)  # the candidates are the line typed, each way the mistake goes
    if not all(_keeps_names(way, one, root, left) for way in candidates for one in lines):
        lines = []  # a name typed would be lost (`sandbox down x -q=1`): the line would act on the default
    left_out = _values_left_out(common, lines)
    left = f", {spoken_list(left_out)} left out (the default{'s' if len(left_out) > 1 else ''})" if left_out else ""
    offered = f"; every value mended{left}: {spoken_list([f'`{shlex.join(one)}`' for one in lines], 'or')}" \
        if lines else ""
    told = (_continued(_context_lines(_unknown_hint(p, candidates[0], root, bool(lines)), candidates), 1)
            for p in common)
    return f"{said}; also {'; also '.join(told)}{offered}"


def _unknown_hint(problem: str, line: list[str], root: _click.Command, mended: bool) -> str:
    """A flag the line lacks said with its hint (_unknown_read), less its line when the whole
    line is mended after it (``mended``)."""
    said = _unknown_read(problem, line, root)
    return _without_lines(said) if mended and said != problem else said


def _cluster_problems(words: list[str], root: _click.Command) -> list[str]:
    """What _cluster_flags finds wrong with the --kubeconfig / --context of the line ``words``,
    read from its words: a line click refuses first (`No such option`) never gets there."""
    from kmeshctl.cli.cmdline import HELP_ONLY_COMMANDS
    from kmeshctl.cli.conventions import SELF_CHECKED_COMMANDS
    from kmeshctl.cli.suggestions import _command_path
    from kmeshctl.kube import check_given_target, check_target_loads

    path = _command_path(root, words)[1:]
    if not path or path[-1] in HELP_ONLY_COMMANDS | SELF_CHECKED_COMMANDS:
        return []  # demo traffic-shift's own check says them (the words alone cannot tell --target local)
    target = typed_target(words[1:])
    typed = [typed_value(words[1:], flag) is not None for flag in ("--kubeconfig", "--context")]
    said = _said_by(lambda: check_given_target(target, *typed)) if any(typed) else []
    return said or (_said_by(lambda: check_target_loads(target)) if path[0] in CONNECTING_COMMANDS else [])


def _context_lines(problem: str, candidates: list[list[str]]) -> str:
    """``problem`` with kube's `pass --context with one of them` made the did-you-mean and the
    line (suggestions.context_fix_line) of each of ``candidates`` (the line typed, its on/off
    mistake mended): said after the error, it would be built from the words typed, mistake
    and all (or from none: it comes before they are read)."""
    from kmeshctl.cli import cmdline
    from kmeshctl.cli.suggestions import CONTEXT_FIX, context_fix_line

    if CONTEXT_FIX not in problem:
        return problem
    said = []
    for line in candidates:
        with cmdline.args_as(line[1:]):
            said.append(context_fix_line(problem))
    lines = _unique([found.group(1) for text in said for found in _LINE.finditer(text)])
    if len(lines) < 2:
        return said[0]
    return said[0].replace(f"`{lines[0]}`", spoken_list([f"`{line}`" for line in lines], "or"), 1)


def _values_left_out(problems: list[str], lines: list[list[str]]) -> list[str]:
    """The `FLAG VALUE`s ``problems`` refuse that none of ``lines`` (their mends) gives
    (`--timeout 5x`: the flag's default is taken), as all_said names them."""
    found = []
    for problem in problems:
        head = problem.partition(":")[0].split(" ")
        flag = head[0].partition("=")[0]
        if len(head) == 2 and re.fullmatch(r"--?[\w-]+", flag) and not any(
                w == flag or w.startswith(flag + "=") for line in lines for w in line):
            found.append(" ".join(head))
    return found


def _read_otherwise(line: list[str], root: _click.Command) -> list[str]:
    """``line`` with kubectl's `enable-ns -n NS` read as suggestions.parseable_words reads
    it (the argument NS), else as it is."""
    from kmeshctl.cli.cmdline import option_spelled, resolve
    from kmeshctl.cli.option_hints import namespaces_as_arguments, takes_namespace_arguments
    from kmeshctl.cli.suggestions import _command_path

    command, _ = resolve(root, _command_path(root, line)[1:])
    if command is None or not takes_namespace_arguments(command) or option_spelled(command, "-n") is not None:
        return line
    return ["kmeshctl", *namespaces_as_arguments(line[1:])]


def _without_lines(problem: str) -> str:
    """``problem`` without the `kmeshctl ...` lines it offers (built for another line) and
    the words that led to them."""
    told = _LINES.sub("", problem)  # `without waiting: `A`, or ...`: the `:` before the `, or` goes too
    return re.sub(r"[,:]\s*(?=[;,]|$)", "", told).rstrip(" ,:") if told != problem else problem


def difflib_opcodes(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    import difflib

    return difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()


def working_lines(lines: list[list[str]], root: _click.Command, required_said: bool = False) -> str:
    """`, `kmeshctl A` or `kmeshctl B``: those of ``lines`` (each the words of a `kmeshctl ...`
    line) that work when pasted (line_works), to end a "give one" sentence; "" when none does.
    ``required_said``: a line refused only for a required flag never typed is one too (the
    suggested lines' "(then give ... too: it is required)" says that flag)."""
    import shlex

    working = [f"`{shlex.join(line)}`" for line in lines
               if line_works(line, root) or required_said and _only_required_left(line, root)]
    return f", {spoken_list(working, 'or')}" if working else ""


# command words -> the arguments a parsed line of it leaves out that its body requires, as
# (ARGUMENT, what it is) (`sandbox exec -n default -- true`: POD), said as missing flags are.
REQUIRED_ARGUMENTS: dict[tuple[str, ...], Any] = {}


def _no_arguments(ctx: _click.Context) -> list[tuple[str, str]]:
    return []


def line_works(words: list[str], root: _click.Command) -> bool:
    """Whether `kmeshctl ...` ``words`` parses, down to its command, with no bad value
    (click's, the names', VALUE_CHECKS'): nothing is run; the line being run is as it was."""
    return _checked_line(words, root) == []


def line_problems(words: list[str], root: _click.Command, given_only: bool = False) -> list[str]:
    """The bad values of `kmeshctl ...` ``words`` as their checks say them (`--cluster-id 'c
    1': not a cluster id; use ...`), each a line; [] when it parses or names no command.
    ``given_only``: what is wrong with what the line gives, not what it leaves out (a
    required flag or argument: a line that points at a command says those itself)."""
    return _checked_line(words, root, given_only) or []


def _checked_line(words: list[str], root: _click.Command, given_only: bool = False) -> Optional[list[str]]:
    """line_works' check: [] when ``words`` parses, its problems when not, None when it names
    no command."""
    from kmeshctl.cli import cmdline

    if any(w in (*cmdline.HELP_FLAGS, "--version") for w in words[:cmdline.separator_at(words)]):
        return []  # a help or version line only prints: parsing it would print it here
    _VERIFYING.append(True)
    try:
        with cmdline.state_kept():
            return _parsed_problems(root, words, given_only)
    finally:
        _VERIFYING.pop()


def _parsed_problems(root: _click.Command, words: list[str], given_only: bool) -> Optional[list[str]]:
    """_checked_line's parse of ``words`` (it sets cmdline's state as a run would)."""
    from kmeshctl.errors import KmeshctlError

    try:
        ctx = root.make_context("kmeshctl", list(words[1:]))
        while hasattr(ctx.command, "commands"):
            rest = [*ctx._protected_args, *ctx.args]
            if not rest:
                return None
            name, command, rest = ctx.command.resolve_command(ctx, rest)  # type: ignore[attr-defined]
            ctx = command.make_context(name, rest, parent=ctx)
        from kmeshctl.cli.conventions import typed_conflicts
        from kmeshctl.cli.option_hints import missing_flags

        together = [f"--{a.replace('_', '-')} and --{b.replace('_', '-')} do not go together ({why})"
                    for a, b, why in typed_conflicts(ctx, ctx.params)]
        path = tuple(ctx.command_path.split()[1:])
        needed = [] if given_only else [f"{flag} is required ({what})"
                                        for flag, what in missing_flags(ctx.command, path, list(words[1:]))] + \
            [f"{argument} is required ({what})" for argument, what in REQUIRED_ARGUMENTS.get(path, _no_arguments)(ctx)]
        return _unique([*(ctx.meta.get(BAD_VALUES) or []), *together, *needed])
    except _click.exceptions.NoArgsIsHelpError:  # a group given no command: its message is its whole help
        return None
    except _click.exceptions.MissingParameter as err:
        return [] if given_only else [err.format_message()]
    except _click.exceptions.BadParameter as err:  # said as the error of the line would say it
        return [bad_value_line(err, list(words[1:]))]
    except _click.exceptions.NoSuchOption as err:  # never click's "(Possible options: ...)": its hint says them
        return [f"No such option: {err.option_name}"]
    except _click.exceptions.ClickException as err:
        return [err.format_message()]
    except KmeshctlError as err:
        return [str(err)]
