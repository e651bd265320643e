"""Bad flag input as kubectl reports it: one line naming the flag as typed (or the
environment variable the value came from) and what would be accepted, instead of
click's and pydantic's own texts ("Value error, 'xml' is not one of ...", "Input should
be a valid integer ...") or "No such option" for a global flag left without its value.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Optional, Sequence

from typer import _click
from typer._click.core import ParameterSource

from kmeshctl.params import NOT_A_NUMBER, NOT_ACCEPTED, OUT_OF_RANGE

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
    if low is not None and high is not None:
        return f"{_WORD[kind]} from {low:g} to {high:g}"
    if low is not None:
        return f"{_WORD[kind]} >= {low:g}"
    if high is not None:
        return f"{_WORD[kind]} <= {high:g}"
    return _WORD[kind]


def _number_kind(annotation: Any) -> Optional[type]:
    for kind in (int, float):
        if annotation is kind or kind in getattr(annotation, "__args__", ()):
            return kind
    return None


def _given_value(err: _click.exceptions.BadParameter) -> Optional[str]:
    """The value as typed, from pydantic's error when typer's coercion raised it."""
    cause = err.__cause__
    errors = getattr(cause, "errors", None)
    if callable(errors):
        found = errors()
        if found and "input" in found[0]:
            return str(found[0]["input"])
    return None


def _problem(err: _click.exceptions.BadParameter, param: _click.Parameter) -> str:
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
    shown = f"{name}={value}" if name.startswith("$") and value is not None else \
        f"{name} {value}" if value is not None else name
    want = accepted(param)
    return f"{shown}: {_problem(err, param)}" + (f"; use {want}" if want else "")


# ------------------------------------------------------------------ missing values


def takes_value(param: _click.Parameter) -> bool:
    return param.param_type_name == "option" and not getattr(param, "is_flag", False) and \
        not getattr(param, "count", False)


def check_values_present(command: _click.Command, ctx: _click.Context, args: Sequence[str],
                         extra_names: Sequence[str] = ()) -> None:
    """Raise click's own "Option '--x' requires an argument." when an option that takes a
    value is followed by nothing, or by another option of ``command`` (`status -n -o json`
    would otherwise make "-o" the namespace). Nothing after `--` is looked at."""
    options = [p for p in command.params if p.param_type_name == "option"]
    value_params = {opt: p for p in options if takes_value(p) for opt in p.opts}
    known = {opt for p in options for opt in (*p.opts, *p.secondary_opts)} | set(extra_names)
    for i, arg in enumerate(args):
        if arg == "--":
            return
        flag, equals, inline = arg.partition("=")
        if equals and flag in value_params and not inline:
            raise empty_value(flag, value_params[flag], ctx)
        if arg not in value_params:
            continue
        following = args[i + 1] if i + 1 < len(args) else None
        if following is None or following in known or following.split("=", 1)[0] in known:
            raise _click.exceptions.BadOptionUsage(arg, f"Option '{arg}' requires an argument.", ctx=ctx)
        if following == "":
            raise empty_value(arg, value_params[arg], ctx)


def empty_value(flag: str, param: Optional[_click.Parameter], ctx: Optional[_click.Context]
                ) -> _click.exceptions.BadOptionUsage:
    """`--name ''`: an empty name or value is bad input, never "use the default"."""
    metavar = (getattr(param, "metavar", None) or "").strip() if param is not None else ""
    want = f"one of {', '.join(metavar.split('|'))}" if "|" in metavar else (metavar or "a value")
    return _click.exceptions.BadOptionUsage(flag, f"{flag} '': empty value; give {want}", ctx=ctx)
