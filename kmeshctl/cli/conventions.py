"""The command-line conventions kubectl users expect, applied to every command at once
(so a command added later gets them too):

- `-h` as well as `--help` (set on the root context; every sub-context inherits it);
- the global `--kubeconfig` / `--context` accepted after the subcommand as well;
- help without Python type names: each option shows a word (TEXT, INTEGER, PATH, the
  choices) instead of typer's `<str>` / `<list[Path]>`;
- suggested fixes that work when pasted: a `kmeshctl ...` command quoted in backticks in a
  message gets the flags the user gave (`--name`, `--namespace`, `--bpf-fs`, ...) when the
  suggested command has them too.
"""

from __future__ import annotations

import inspect
import re
import shlex
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import typer

from typer import _click
from typer._click import _textwrap as _click_textwrap
from typer._click.core import ParameterSource
from typer.core import TyperGroup
from typer.exceptions import Abort, Exit, TyperException

from kmeshctl.cli.badinput import (bad_value_line, bounded_line, check_values_present, command_habit_hint,
                                   empty_value, name_typed_flags, source_name, strict_numbers, takes_value, typed_flag,
                                   command_synonyms, is_value_of, with_dashes)
from kmeshctl.cli.badinput import NEVER_GUESSED, guessable, one_value_per_flag, single_dash_long_flags
from kmeshctl import stopping
from kmeshctl.asciinum import duration_words
from kmeshctl.cli.names import names_checked
from kmeshctl.cli.tables import WholeWordsWrapper
from kmeshctl.errors import EXIT_USAGE, KmeshctlError
from kmeshctl.errors import UsageError as KmeshctlUsageError

class _WholeWords(WholeWordsWrapper, _click_textwrap.TextWrapper):
    """Help wraps between words only: `--cni-conf-dir` or `read-only` never split at a '-',
    a backticked command kept whole on a line when it fits one (help stays within its width:
    a longer one, in an option's narrow column, starts a line and wraps at its spaces)."""

    def _handle_long_word(self, reversed_chunks: list[str], cur_line: list[str], cur_len: int,
                          width: int) -> None:
        words = re.findall(r"\s+|\S+", reversed_chunks[-1])
        if len(words) > 1:  # a backticked span: its words, from the next line on
            reversed_chunks[-1:] = reversed(words)
            return
        super()._handle_long_word(reversed_chunks, cur_line, cur_len, width)


# click's help formatter builds its wrapper from this name each time it wraps.
_click_textwrap.TextWrapper = _WholeWords  # type: ignore[misc]

HELP_OPTION_NAMES = ["-h", "--help"]
GLOBAL_FLAGS = ("--kubeconfig", "--context", "--request-timeout")
# Flags that choose *what* a command acts on: a suggested command keeps them.
CARRIED_FLAGS = ("kubeconfig", "context", "request_timeout", "name", "sandbox", "namespace", "istio_namespace",
                 "bpf_fs")
CLUSTER_FLAGS = ("kubeconfig", "context", "request_timeout")  # which cluster and how long to wait for it

_TYPE_WORDS = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "path": "PATH", "Path": "PATH",
               "file": "PATH", "directory": "DIR", "int range": "INTEGER", "float range": "NUMBER"}
_SUGGESTED = re.compile(r"`((?:kmeshctl|kubectl)(?: [^`]*)?)`")

# Contexts of the command being run, root first (reset for each run): where the flags the
# user gave are looked up when a message suggests another command.
_INVOKED: list[_click.Context] = []
# The words of the command line being run: how the user spelled a flag (-o or --output).
_ARGS: list[str] = []
# The same words as typed, before combined short flags were spelled apart (`-qx`).
_TYPED: list[str] = []


class _RecordingContext(_click.Context):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.parent is None:
            _INVOKED.clear()
        _INVOKED.append(self)


class KmeshctlGroup(TyperGroup):
    """The root group: see the module docstring."""

    context_class = _RecordingContext

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for command in walk(self):
            command.context_class = _RecordingContext
            tidy_metavars(command)
            _plain_help_option(command)
            _one_line_short_help(command)
            _reflow_help(command)
            command.rich_markup_mode = None  # plain help, wrapped like kubectl's (see _reflow_help)
            _durations_shown(command)
            strict_numbers(command)  # the root's too: --request-timeout is a duration
            one_value_per_flag(command)  # `--name a --sandbox b`: refused, not the last one taken
            if command is not self:
                _global_flags_named(command)
                _values_required(command)
                _cluster_flags_checked(command)  # innermost: a bad name or value is reported first
                names_checked(command, lambda: _ARGS)
                _conflicts_checked(command)

    def make_context(self, *args: Any, **kwargs: Any) -> _click.Context:
        with stopping.past_click():  # a stop while click parses: kmeshctl.stopping's exit, not typer's 130
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: _click.Context) -> Any:
        with stopping.past_click():
            return super().invoke(ctx)

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
        if ctx.parent is None:
            _TYPED[:] = args
            if not ctx.resilient_parsing:
                refuse_flag_values(args, self)
                _refuse_single_dash_long_flags(args, self)  # `-name`: --name, before -n's glued value
            args = split_short_equals(split_glued_shorts(args, self), self)
            args = server_dry_run_as_flag(args)
            _ARGS[:] = args
            if not ctx.resilient_parsing:  # shell completion parses half-typed lines
                _global_values_present(ctx, args)
            args = hoist_global_flags(args)
            args = gather_quiet_flag(self, args)  # `-q` in any place: the root's, and the command's own
            if not ctx.resilient_parsing:
                refuse_leading_command_flags(self, args)  # `kmeshctl --dry-run install`
            args = lower_group_flags(self, ctx, args)  # `kmeshctl sandbox -o json list`, `kmeshctl -q ...`
            args = lower_namespace_flag(self, ctx, args)  # first: `-o json` is no command word
            args = lower_help_flag(self, args)
        return super().parse_args(ctx, args)

    def main(self, args: Any = None, prog_name: Optional[str] = None, complete_var: Optional[str] = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        """Standalone (the console script, `app()`, a CliRunner): every failure ends as one
        line on stderr and an exit code (2 bad input, 1 failure, 130 interrupted)."""
        run = lambda: super(KmeshctlGroup, self).main(  # noqa: E731
            args, prog_name or "kmeshctl", complete_var or COMPLETE_VAR, standalone_mode=False, **extra)
        if not standalone_mode:
            return run()
        sys.exit(run_reporting_errors(run, self))


DURATION_METAVAR = "DURATION"  # kmeshctl.cli.badinput parses it: 300, 300s, 5m, 1m30s


def duration_text(seconds: float) -> str:
    """A duration as help shows it: `180s (3m)`, `300s (5m)`, `10s`, `0.5s` (the flag
    takes seconds, so the seconds come first; never a float's `180.0`)."""
    value: float | int = int(seconds) if float(seconds).is_integer() else seconds
    text = f"{value}s"
    if isinstance(value, int) and value >= 60 and value % 60 == 0:
        text += f" ({value // 3600}h)" if value % 3600 == 0 else f" ({value // 60}m)"
    return text


def range_text(low: Optional[float], high: Optional[float], duration: bool) -> Optional[str]:
    """A flag's range as help shows it, without click's `1<=x<=65535`: `1-65535`,
    `>= 1`, and for a duration `1s to 24h`; None without bounds."""
    def shown(value: float) -> str:
        return duration_words(value) if duration else f"{value:g}"

    if low is not None and high is not None:
        return f"{shown(low)} to {shown(high)}" if duration else f"{shown(low)}-{shown(high)}"
    if low is not None:
        return f">= {shown(low)}"
    return f"<= {shown(high)}" if high is not None else None


def _ranges_shown(command: _click.Command) -> None:
    """Every number flag's range in help as range_text words it."""
    for param in command.params:
        if hasattr(param, "_get_number_range_help_str") and (getattr(param, "min", None) is not None or
                                                             getattr(param, "max", None) is not None):
            text = range_text(param.min, param.max, param.metavar == DURATION_METAVAR)  # type: ignore[attr-defined]
            param._get_number_range_help_str = lambda _text=text: _text  # type: ignore[attr-defined]


def _durations_shown(command: _click.Command) -> None:
    """Every duration flag (value word DURATION) shows its default as a duration."""
    _ranges_shown(command)
    for param in command.params:
        default = param.default
        if param.metavar != DURATION_METAVAR or isinstance(default, bool) or not isinstance(default, (int, float)):
            continue
        param._get_default_string = lambda *_, _text=duration_text(default), **__: _text  # type: ignore[attr-defined]


# Flags that contradict each other when both are given (`waypoint apply --dry-run --wait`:
# nothing is applied, so there is nothing to wait for): bad input rather than one ignored.
CONFLICTS = (("dry_run", "wait", "nothing is applied, so there is nothing to wait for"),)


def _conflicts_checked(command: _click.Command) -> None:
    """Wrap ``command``'s callback: two CONFLICTS flags typed together are a UsageError."""
    callback = command.callback
    names = {p.name for p in command.params}
    pairs = [pair for pair in CONFLICTS if set(pair[:2]) <= names]
    if callback is None or not pairs:
        return

    def checked(*positional: Any, **values: Any) -> Any:
        from typer._click.globals import get_current_context

        ctx = get_current_context()
        for first, second, why in pairs:
            if all(values.get(n) and ctx.get_parameter_source(n) == ParameterSource.COMMANDLINE
                   for n in (first, second)):
                raise KmeshctlUsageError(f"{flag_as_typed(first)} and {flag_as_typed(second)} do not go together "
                                         f"({why}): give one of them")
        return callback(*positional, **values)

    command.callback = checked


# Commands that only print help: a wrong cluster flag is reported when a command runs.
HELP_ONLY_COMMANDS = frozenset({"help"})
# Commands that check the cluster flags themselves (check_typed_cluster_flags), after
# output that comes first whatever the flags are: `version` prints the client's version.
SELF_CHECKED_COMMANDS = frozenset({"version"})


def check_typed_cluster_flags() -> None:
    """The --kubeconfig / --context typed on the line checked (UsageError when wrong)."""
    from typer._click.globals import get_current_context

    from kmeshctl.cli.common import run_options
    from kmeshctl.kube import check_given_target

    root = get_current_context().find_root()
    check_given_target(run_options(root),
                       *[root.get_parameter_source(name) == ParameterSource.COMMANDLINE for name in GLOBAL_PARAMS])


def _cluster_flags_checked(command: _click.Command) -> None:
    """Wrap a leaf command's callback: the --kubeconfig / --context typed on the line are
    checked before it runs, on every command, local ones too (as kubectl: a cluster flag
    that is wrong is bad input, exit 2, even where the command would not use it)."""
    callback = command.callback
    if callback is None or hasattr(command, "commands") or \
            command.name in HELP_ONLY_COMMANDS | SELF_CHECKED_COMMANDS:
        return

    def checked(*positional: Any, **values: Any) -> Any:
        check_typed_cluster_flags()
        return callback(*positional, **values)

    command.callback = checked


GLOBAL_PARAMS = ("kubeconfig", "context")


def complete_global_flags_anywhere() -> None:
    """Shell completion of `--context <TAB>` / `--kubeconfig <TAB>` after a subcommand too
    (click resolves a value's completion in the subcommand, which does not know the global
    flags: they are hoisted only when the line runs), and of contexts from the
    `--kubeconfig FILE` typed on the line. Wraps each shell's completion class once."""
    from typer._click.shell_completion import _available_shells

    for name, cls in list(_available_shells.items()):
        if getattr(cls, "_globals_anywhere", False):
            continue
        _available_shells[name] = type(cls.__name__, (cls,), {
            "_globals_anywhere": True, "get_completions": _completions_with_globals(cls)})


def _completions_with_globals(base: type) -> Callable[..., Any]:
    def get_completions(self: Any, args: list[str], incomplete: str) -> list[Any]:
        found = complete_global_value(self.cli, self.prog_name, args, incomplete)
        if found is not None:
            return found
        return with_global_flags(base.get_completions(self, args, incomplete), args, incomplete)

    return get_completions


def with_global_flags(items: list[Any], args: list[str], incomplete: str) -> list[Any]:
    """`status --<TAB>`: the command's options and the global ones it takes anywhere on the
    line (--kubeconfig, --context, --request-timeout, -q/--quiet), unless typed already or
    after `--`."""
    from typer._click.shell_completion import CompletionItem

    if not incomplete.startswith("-") or "--" in args:
        return items
    have = {item.value for item in items}
    extra = [CompletionItem(flag) for flag in GLOBAL_FLAGS
             if flag.startswith(incomplete) and flag not in have and flag not in args]
    if not any(flag in have or flag in args for flag in QUIET_FLAGS):  # -q: typed once, in any place
        extra += [CompletionItem(flag) for flag in QUIET_FLAGS if flag.startswith(incomplete)]
    return items + extra


def complete_global_value(root: _click.Command, prog_name: str, args: list[str],
                          incomplete: str) -> Optional[list[Any]]:
    """The completions of a global flag's value being typed anywhere on the line (None:
    the word is not one): the root's own completion of it, with the line's other
    words (and so a typed --kubeconfig) parsed as they will be when it runs."""
    args = list(args)
    if "--" in args:
        return None
    flag, equals, value = incomplete.partition("=")
    if equals and flag in GLOBAL_FLAGS:
        incomplete = value
    elif args and args[-1] in GLOBAL_FLAGS:
        flag = args.pop()
    else:
        return None
    param = next((p for p in root.params if flag in p.opts), None)
    if param is None:
        return None
    with root.make_context(prog_name, args, resilient_parsing=True) as ctx:
        return param.shell_complete(ctx, incomplete)


def walk(command: _click.Command) -> Iterable[_click.Command]:
    """The command and every command below it."""
    yield command
    for sub in getattr(command, "commands", {}).values():
        yield from walk(sub)


def _global_values_present(ctx: _click.Context, args: list[str]) -> None:
    """`status --context` (nothing after it, or another flag): click's "requires an
    argument", not "No such option" from the subcommand the flag was not hoisted past."""
    for i, arg in enumerate(args):
        if arg == "--":
            return
        flag, equals, inline = arg.partition("=")
        if equals and flag in GLOBAL_FLAGS and not inline:
            raise empty_value(flag, _global_param(ctx, flag), ctx)
        if arg not in GLOBAL_FLAGS:
            continue
        following = args[i + 1] if i + 1 < len(args) else None
        if following is None or (following.startswith("-") and following != "-" and
                                  not is_value_of(_global_param(ctx, arg), following)):
            raise _click.exceptions.BadOptionUsage(arg, f"Option '{arg}' requires an argument.", ctx=ctx)
        if following == "":
            raise empty_value(arg, _global_param(ctx, arg), ctx)


def _global_param(ctx: _click.Context, flag: str) -> Optional[_click.Parameter]:
    return next((p for p in ctx.command.params if flag in p.opts), None)


def _values_required(command: _click.Command) -> None:
    """`status -n -o json`: "Option '-n' requires an argument." rather than a namespace
    called "-o" (see kmeshctl.cli.badinput.check_values_present)."""
    parse = command.parse_args

    def parse_args(ctx: _click.Context, args: list[str]) -> list[str]:
        if not ctx.resilient_parsing:  # shell completion parses half-typed lines (`--name <TAB>`)
            check_values_present(command, ctx, args, HELP_OPTION_NAMES)
        return parse(ctx, args)

    command.parse_args = parse_args  # type: ignore[method-assign]


def hoist_global_flags(args: list[str]) -> list[str]:
    """Move `--kubeconfig X` / `--context X` (or `=X`) found after the subcommand to the
    front, where the root group parses them. Nothing after `--` moves."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        if arg in GLOBAL_FLAGS and i + 1 < len(args):
            front.extend(args[i:i + 2])
            i += 2
            continue
        if arg.split("=", 1)[0] in GLOBAL_FLAGS and "=" in arg:
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def _short_options(root: _click.Command) -> set[str]:
    """Every short option (`-o`, `-n`, `-c`, `-f`, ...) of any command."""
    return {opt for command in walk(root) for p in command.params if p.param_type_name == "option"
            for opt in (*p.opts, *p.secondary_opts) if len(opt) == 2 and opt[0] == "-" and opt[1] != "-"}


def _options_by_kind(root: _click.Command) -> tuple[set[str], set[str]]:
    """(the options that take a value in every command, those that never do)."""
    kinds: dict[str, set[bool]] = {}
    for command in walk(root):
        for p in command.params:
            for opt in (*p.opts, *p.secondary_opts) if p.param_type_name == "option" else ():
                kinds.setdefault(opt, set()).add(takes_value(p))
    return {o for o, k in kinds.items() if k == {True}}, {o for o, k in kinds.items() if k == {False}}


def _unglued(arg: str, valued: set[str], flags: set[str]) -> list[str]:
    """`-nfoo` -> `-n foo`, `-qojson` -> `-q -o json`, `-qA` -> `-q -A`; any other word as is."""
    if len(arg) < 3 or arg[0] != "-" or arg[1] == "-" or arg[2] == "=":
        return [arg]
    if arg[:2] in valued:
        return [arg[:2], arg[2:]]
    if arg[:2] in flags and f"-{arg[2]}" in valued | flags:
        return [arg[:2], *_unglued(f"-{arg[2:]}", valued, flags)]
    return [arg]


def split_glued_shorts(args: list[str], root: _click.Command) -> list[str]:
    """Short options as pflag reads them, spelled apart so every step that moves a flag
    (before the command, between group and subcommand, -q anywhere) sees them: a value
    glued on (`-nfoo`, `-ojson`) and on/off flags combined (`-qA`, `-qo json`, `-qojson`).
    Nothing after `--`, and no option's value (`--node-name -n1`), changes."""
    valued, flags = _options_by_kind(root)
    shorts = {o for o in valued if len(o) == 2}, {o for o in flags if len(o) == 2}
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            return out + args[i:]
        out += [arg] if i and args[i - 1] in valued | set(GLOBAL_FLAGS) else _unglued(arg, *shorts)
    return out


def split_short_equals(args: list[str], root: _click.Command) -> list[str]:
    """`-o=json` -> `-o json`, as kubectl (pflag) reads a short flag with `=`; click would
    take "=json" as the value. Nothing after `--` changes."""
    shorts = _short_options(root)
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            return out + args[i:]
        if len(arg) >= 3 and arg[2] == "=" and arg[:2] in shorts:
            out += [arg[:2], arg[3:]]
        else:
            out.append(arg)
    return out


def refuse_flag_values(args: list[str], root: _click.Command) -> None:
    """kubectl's `-A=true`, `--quiet=false`, `--force=true` typed for an on/off flag,
    anywhere before `--` (before the group, between group and subcommand, after the
    subcommand, a global flag such as -q/--quiet too): the one line of `--wait=false`, with
    how kmeshctl spells on and off; never "No such option" for a global flag typed after
    the command, nor "=true" split off as an extra argument. (kubectl's `--dry-run=server`
    is accepted: server_dry_run_as_flag.)"""
    chain = _commands_named(root, args)
    path = " ".join(["kmeshctl", *(c.name for c in chain[1:] if c.name)])
    for i, arg in enumerate(args):
        if arg == "--":
            return
        flag, equals, _ = arg.partition("=")
        if not equals or not _is_flag_word(flag) or arg == "--dry-run=server" or flag in HELP_FLAGS or \
                (i and args[i - 1] in GLOBAL_FLAGS):  # `--context --quiet=x` is a (bad) value
            continue
        option = next((o for c in reversed(chain) if (o := _option_spelled(c, flag)) is not None), None)
        if option is not None and getattr(option, "is_flag", False) and not getattr(option, "count", False):
            raise KmeshctlUsageError(f"Option '{flag}' does not take a value{_value_hint(option, flag, chain, args)} "
                                     f"(see '{path} --help')")


def _refuse_single_dash_long_flags(args: list[str], root: _click.Command) -> None:
    """Go's `-name` for --name (cli/badinput.single_dash_long_flags): `did you mean --name?`
    with the line to paste, before split_glued_shorts reads it as -n's glued value "ame"."""
    line = single_dash_long_flags(args, _commands_named(root, args))
    if line:
        raise KmeshctlUsageError(line)


def _is_flag_word(flag: str) -> bool:
    """`-q`, `--quiet` (no glued short value such as `-nfoo`)."""
    return flag.startswith("--") and len(flag) > 2 or len(flag) == 2 and flag[0] == "-" and flag[1] != "-"


def _commands_named(root: _click.Command, args: list[str]) -> list[_click.Command]:
    """The root and each command ``args`` name below it, before `--` (a word that names
    none, such as a leading flag's value in `-n foo status`, is passed over)."""
    chain = [root]
    for word in _command_words(args):
        subs = getattr(chain[-1], "commands", None)
        if subs is None:
            break
        if word in subs:
            chain.append(subs[word])
    return chain


def _value_hint(option: _click.Parameter, flag: str, chain: list[_click.Command], args: list[str]) -> str:
    """How kmeshctl spells ``flag`` on and off; for --dry-run, what it is (kubectl's
    --dry-run=client|server|none)."""
    if flag != "--dry-run":
        return on_off_hint(option, flag)
    from kmeshctl.cli.render import dry_run_value_hint

    return dry_run_value_hint(chain[-1], args, chain[0])


def _option_spelled(command: _click.Command, flag: str) -> Optional[_click.Parameter]:
    """The option of ``command`` that ``flag`` is a spelling of, or None."""
    return next((p for p in command.params
                 if p.param_type_name == "option" and flag in (*p.opts, *p.secondary_opts)), None)


NAMESPACE_FLAGS = ("-n", "--namespace")
# The command's own flags kubectl users also type before the command (`kubectl -n foo get
# pods`, `kubectl -o json get pods`, `kubectl -A get pods`): (spellings, takes a value).
OUTPUT_FLAGS = ("-o", "--output")
LEADING_FLAGS = ((NAMESPACE_FLAGS, True), (OUTPUT_FLAGS, True), (("-A", "--all-namespaces"), False))
HELP_FLAGS = tuple(HELP_OPTION_NAMES)


def _leading_flag(arg: str) -> Optional[tuple[tuple[str, ...], bool]]:
    """The LEADING_FLAGS entry ``arg`` is (as `-o` or `-o=json`), or None."""
    flag = arg.partition("=")[0]
    return next((entry for entry in LEADING_FLAGS if flag in entry[0]), None)


def _leading_flags(args: list[str]) -> tuple[list[list[str]], list[str]]:
    """(the LEADING_FLAGS given before the first command word, each as its words; the
    other words)."""
    taken: list[list[str]] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--" or not arg.startswith("-"):
            return taken, rest + args[i:]
        entry = _leading_flag(arg)
        if entry is not None and entry[1] and "=" not in arg and i + 1 < len(args):
            taken.append(args[i:i + 2])
            i += 2
            continue
        if entry is not None and (not entry[1] or "=" in arg):
            taken.append([arg])
        else:
            rest.append(arg)
            if arg in GLOBAL_FLAGS and i + 1 < len(args):
                rest.append(args[i + 1])
                i += 1
        i += 1
    return taken, rest


def _leading_namespace(args: list[str]) -> tuple[list[str], list[str]]:
    """(the -n/--namespace words given before the first command word, the other words)."""
    taken, rest = _leading_flags(args)
    return [w for words in taken if words[0].partition("=")[0] in NAMESPACE_FLAGS for w in words], rest


def _word_positions(args: list[str]) -> list[int]:
    """The indexes of the words of ``args`` that are not flags or a global flag's value."""
    found: list[int] = []
    skip = False
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if skip:
            skip = False
        elif arg in GLOBAL_FLAGS:
            skip = True
        elif not arg.startswith("-"):
            found.append(i)
    return found


def _command_words(args: list[str]) -> list[str]:
    return [args[i] for i in _word_positions(args)]


def _position_after_words(args: list[str], count: int) -> int:
    """The index just after the ``count``-th command word of ``args``."""
    return _word_positions(args)[count - 1] + 1


def lower_namespace_flag(root: _click.Command, ctx: _click.Context, args: list[str]) -> list[str]:
    """`kmeshctl -n foo status`, `kmeshctl -o json sandbox list`, `kmeshctl -A waypoint
    list` as kubectl reads them: such a flag given before the command moves after it when
    that command takes it; a command without it gets a one-line hint instead of "No such
    option". (-n/--namespace always means a Kubernetes namespace.) Given with no command
    (`kmeshctl -n foo`), it is said so, with one command the flag makes sense with alone;
    given without its value (`kmeshctl -n`), that is said."""
    if not ctx.resilient_parsing:
        _refuse_leading_flag_without_value(root, ctx, args)
    taken, rest = _leading_flags(args)
    if not taken:
        return args
    words = _command_words(rest)
    command, used = _resolve(root, words)
    first = taken[0][0].partition("=")[0]
    path = " ".join(["kmeshctl", *words[:used]])
    if command is None or hasattr(command, "commands"):
        if ctx.resilient_parsing or used < len(words):
            return rest  # a word that is no command (`-n foo stauts`, `-n foo get waypoint`): click's hint
        shown = " ".join(w for words_ in taken for w in words_)
        if command is None and "--version" in rest:  # the root's --version prints the bare version
            raise _click.exceptions.UsageError(
                f"--version takes no {first}: for the version as data run `kmeshctl version --client {shown}`",
                ctx=ctx)
        raise _click.exceptions.UsageError(
            _missing_command_text(command or root, path, shown.split(), args, first_only=command is None), ctx=ctx)
    for flag_words in taken:
        flag = flag_words[0].partition("=")[0]
        spellings = _leading_flag(flag)[0]  # type: ignore[index]
        if not any(opt in p.opts for p in command.params for opt in spellings) and not ctx.resilient_parsing:
            if spellings == ALL_NAMESPACES_FLAGS:
                raise KmeshctlUsageError(f"{flag}{all_namespaces_hint(command, path)} (see '{path} --help')")
            hint = _leading_namespace_as_argument(command, flag_words, rest, used) \
                if spellings == NAMESPACE_FLAGS else ""
            raise _click.exceptions.UsageError(f"{path} takes no {'/'.join(spellings)}{hint} (see '{path} --help')")
    last = _position_after_words(rest, used)
    return rest[:last] + [w for flag_words in taken for w in flag_words] + rest[last:]


# Flags kubectl users give anywhere, as kubectl's global ones: (spellings, takes a value).
QUIET_FLAGS = ("-q", "--quiet")
ANYWHERE_FLAGS = LEADING_FLAGS + ((QUIET_FLAGS, False),)


def gather_quiet_flag(root: _click.Command, args: list[str]) -> list[str]:
    """`-q/--quiet` anywhere before `--` (before the group, between group and subcommand,
    after the subcommand) moves to the front, where the root parses it (every quiet-aware
    line reads it: kmeshctl.cli.progress), and also after the command when that command
    has a -q of its own. Typed twice, it is still one flag."""
    cut = args.index("--") if "--" in args else len(args)
    quiet = [i for i, arg in enumerate(args[:cut]) if arg in QUIET_FLAGS and
             not (i and args[i - 1] in GLOBAL_FLAGS)]  # `--context -q` is a (bad) value, not the flag
    if not quiet:
        return args
    rest = [arg for i, arg in enumerate(args) if i not in quiet]
    command, end = root, 0
    for i in _word_positions(rest):
        if not hasattr(command, "commands"):
            break
        if rest[i] in command.commands:  # another word is a leading flag's value (`-n foo status`)
            command, end = command.commands[rest[i]], i + 1
    if end and _option_spelled(command, "-q") is not None:
        rest = rest[:end] + ["-q"] + rest[end:]
    return ["-q", *rest]


def _option_below(command: _click.Command, flag: str) -> Optional[_click.Parameter]:
    """An option spelled ``flag`` of ``command`` or of a command below it (first found)."""
    for sub in walk(command):
        found = _option_spelled(sub, flag)
        if found is not None:
            return found
    return None


def lower_group_flags(root: _click.Command, ctx: _click.Context, args: list[str]) -> list[str]:
    """Flags given between a group and its subcommand (`kmeshctl sandbox -o json list`,
    `kmeshctl dump -o json maps`, `kmeshctl waypoint -n foo list`): -o, -n and -A are
    global as in kubectl and move after the command that takes them (-q is the root's
    by now, wherever it was typed: gather_quiet_flag); a flag of the subcommand itself is refused with the line to paste (`put
    --name after the subcommand: kmeshctl sandbox status --name nu9a`). Anything else is
    left to click. Nothing after `--` moves."""
    command, i, kept, moved, names = root, 0, [], [], []  # names: the commands typed
    while i < len(args) and args[i] != "--":
        arg = args[i]
        if arg.startswith("-") and arg != "-":
            flag, equals, _ = arg.partition("=")
            entry = next((e for e in ANYWHERE_FLAGS if flag in e[0]), None)
            if flag in GLOBAL_FLAGS or command is root:
                step = 1 if equals or flag not in GLOBAL_FLAGS else 2  # the root's: the other steps
                kept += args[i:i + step]
                i += step
                continue
            option = _option_below(command, flag)
            if option is None:
                return args  # unknown here: click says so
            takes = entry[1] if entry is not None else not getattr(option, "is_flag", False)
            words = args[i:i + (2 if takes and not equals else 1)]
            if entry is not None and takes and not ctx.resilient_parsing and (not equals or not arg.partition("=")[2]) \
                    and _value_missing(option, [] if equals else args[i + 1:i + 2], command):  # `sandbox -o`
                group_path = " ".join(["kmeshctl", *names])
                raise _click.exceptions.UsageError(_value_missing_text(command, group_path, args, i), ctx=ctx)
            moved.append((flag, entry, words))
            i += len(words)
            continue
        sub = getattr(command, "commands", {}).get(arg)
        if sub is None:
            break
        kept.append(arg)
        names.append(arg)
        command, i = sub, i + 1
        if not hasattr(command, "commands"):
            break
    path = " ".join(["kmeshctl", *names])  # not the global flags' values (a kubeconfig path)
    if moved and hasattr(command, "commands") and moved[0][1] is not None and not ctx.resilient_parsing             and command is not root and not (i < len(args) and args[i] in HELP_FLAGS):
        if i < len(args) and args[i] != "--" and not args[i].startswith("-"):  # `sandbox -o json lsit`: click
            return [*kept, *args[i:]]  # says the word is no command (its hint has the flags: _words_around)
        shown = " ".join(w for _, _, words in moved for w in words)
        raise _click.exceptions.UsageError(_missing_command_text(command, path, shown.split(), args), ctx=ctx)
    if not moved or hasattr(command, "commands"):
        return args
    rest, after = args[i:], []
    for flag, entry, words in moved:
        if _option_spelled(command, flag) is not None:
            if entry is None and not ctx.resilient_parsing:  # the subcommand's own flag
                fixed = shlex.join(["kmeshctl", *kept, *[w for _, _, ws in moved for w in ws], *rest])
                raise KmeshctlUsageError(f"put {flag} after the subcommand: `{fixed}` (see '{path} --help')")
            after += words
        elif not ctx.resilient_parsing and flag in ALL_NAMESPACES_FLAGS:
            raise KmeshctlUsageError(f"{flag}{all_namespaces_hint(command, path)} (see '{path} --help')")
        elif not ctx.resilient_parsing:
            raise KmeshctlUsageError(f"{path} takes no {'/'.join(entry[0]) if entry else flag} (see '{path} --help')")
    return kept + after + rest


MAX_LISTED_COMMANDS = 3  # more commands take the flag: the first ones, and where to find the others
# Listed first among the commands a misplaced flag could go with: they only read (a guess
# pasted as is must never install or delete anything).
READING_COMMANDS = ("status", "version", "sandbox status", "sandbox list", "waypoint list", "waypoint status",
                    "dump maps", "dump config")


# A flag a command takes only with another one (alone it is refused): (command words, the
# flag's parameter) -> the other flag. Such a command is no example for the flag alone.
FLAG_NEEDS = {(("dump", "maps"), "namespace"): "--pod POD", (("dump", "config"), "namespace"): "--pod POD"}


def _commands_with(group: _click.Command, path: str, flag_words: list[str]
                   ) -> tuple[list[tuple[str, _click.Command]], list[str]]:
    """([(`kmeshctl dump maps -o json`, its command)] for each command below ``group``
    (spelled ``path``) that takes every flag of ``flag_words`` alone, reading ones first;
    [`kmeshctl dump maps takes -n only with --pod POD`] for those that take one only with
    another flag not given)."""
    flags = [w.partition("=")[0] for w in flag_words if w.startswith("-") and w != "-"]
    found: list[tuple[str, _click.Command]] = []
    needing: list[tuple[str, str, str]] = []  # (command path, flag, the other flag)

    def visit(command: _click.Command, words: list[str]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            if getattr(sub, "hidden", False) or name in HELP_ONLY_COMMANDS:
                continue
            if hasattr(sub, "commands"):
                visit(sub, [*words, name])
            elif all(_option_spelled(sub, flag) is not None for flag in flags):
                spelled = [*path.split(), *words, name]
                other = next(((f, FLAG_NEEDS[key]) for f in flags if (key := (tuple(spelled[1:]), getattr(
                    _option_spelled(sub, f), "name", None))) in FLAG_NEEDS and not any(
                    _spelled(w, {FLAG_NEEDS[key].split()[0]}) for w in flags)), None)
                if other is not None:
                    needing.append((" ".join(spelled), *other))
                else:
                    found.append((_run_with(sub, spelled, flag_words), sub))

    visit(group, [])
    found.sort(key=lambda item: not any(item[0].startswith(f"kmeshctl {c} ") for c in READING_COMMANDS))
    notes = []
    for pair in dict.fromkeys((f, o) for _, f, o in needing):  # `... dump maps and ... take -n only with --pod POD`
        paths = [p for p, f, o in needing if (f, o) == pair]
        notes.append(f"{' and '.join(paths)} take{'s' if len(paths) == 1 else ''} {pair[0]} only with {pair[1]}")
    return found, notes


def _listed(lines: list[str]) -> str:
    """`a`, `b` or `c` (the first MAX_LISTED_COMMANDS, then "or another command that takes it")."""
    found = [f"`{line}`" for line in lines]
    if len(found) > MAX_LISTED_COMMANDS:
        return f"{', '.join(found[:MAX_LISTED_COMMANDS])} or another command that takes it"
    return found[0] if len(found) == 1 else f"{', '.join(found[:-1])} or {found[-1]}"


def commands_taking(group: _click.Command, path: str, flag_words: list[str]) -> str:
    """`kmeshctl dump maps -o json` or `kmeshctl dump config -o json`: each command below
    ``group`` (spelled ``path``) that takes every flag of ``flag_words`` (alone: no
    command that would refuse it without another flag), with them, ready to paste (never
    a `COMMAND` placeholder)."""
    found, needing = _commands_with(group, path, flag_words)
    if found:
        return _listed([line for line, _ in found])
    flags = [w.partition("=")[0] for w in flag_words if w.startswith("-") and w != "-"]
    return "; ".join(needing) or f"no command of {path} takes {' and '.join(flags)}"


def _typed_line(args: list[str]) -> str:
    """`kmeshctl -n foo`: the line as typed, without the global flags (a kubeconfig path) and -q."""
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in GLOBAL_FLAGS:
            skip = True
        elif arg.partition("=")[0] not in (*GLOBAL_FLAGS, *QUIET_FLAGS):
            kept.append(arg)
    return shlex.join(["kmeshctl", *kept])


def _carry_typed_globals(message: str, args: list[str]) -> str:
    """Each backticked `kmeshctl ...` of ``message`` with the global flags typed in
    ``args`` (the root has not read them yet: given_flags has none), but a local one
    (`kmeshctl sandbox list`: a cluster flag would be noise)."""
    typed: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg in GLOBAL_FLAGS and i + 1 < len(args):
            typed += args[i:i + 2]
        elif arg.partition("=")[0] in GLOBAL_FLAGS and "=" in arg:
            typed.append(arg)

    def carried(match: re.Match[str]) -> str:
        words = shlex.split(match.group(1))
        if not typed or words[0] != "kmeshctl" or words[1:2] and words[1] in LOCAL_GROUPS:
            return match.group(0)
        return f"`{shlex.join([words[0], *typed, *words[1:]])}`"

    return _SUGGESTED.sub(carried, message)


def _missing_command_text(group: _click.Command, path: str, flag_words: list[str], args: list[str],
                          first_only: bool = False) -> str:
    """`kmeshctl -n foo: missing a command; e.g. `kmeshctl status -n foo``: flags given to
    kmeshctl or a group with no command, and commands they make sense with alone (the
    first one only for ``first_only``: kmeshctl's commands read -n in different ways)."""
    found, needing = _commands_with(group, path, flag_words)
    lines = [line for line, _ in found]
    reading = [line for line in lines if any(line.startswith(f"kmeshctl {c} ") for c in READING_COMMANDS)]
    lines = (reading or lines)[:1 if first_only else None]  # a guess pasted as is: one that only reads
    flags = [w.partition("=")[0] for w in flag_words if w.startswith("-") and w != "-"]
    if any(f in ALL_NAMESPACES_FLAGS for f in flags) and any(f in NAMESPACE_FLAGS for f in flags):
        lines = []  # every command refuses the two together
        needing = ["give -n NAMESPACE or -A (--all-namespaces), not both"]
    tail = f"e.g. {_listed(lines)}" if lines else "; ".join(needing) or \
        f"no command of {path} takes {' and '.join(flags)}"
    return _carry_typed_globals(f"{_typed_line(args)}: missing a command; {tail}", args)


def _choices(param: _click.Parameter) -> list[str]:
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None and descriptor.is_choice and descriptor.choices:
        return [str(getattr(c, "value", c)) for c in descriptor.choices]
    return [str(c) for c in getattr(getattr(param, "type", None), "choices", None) or ()]


def _value_missing(option: _click.Parameter, following: list[str], group: _click.Command) -> bool:
    """A valued flag given before the command has no value: it ends the line or `--`
    follows, or the word after it is one of ``group``'s commands and no value it takes
    (`kmeshctl sandbox -o list`)."""
    if not following or following[0] in ("", "--", *HELP_FLAGS):  # `-o=`, `sandbox -o -h`: no -o takes -h
        return True
    choices = _choices(option)
    return bool(choices) and following[0] not in choices and following[0] in getattr(group, "commands", {})


def _value_missing_text(group: _click.Command, path: str, args: list[str], at: int) -> str:
    """`kmeshctl sandbox -o: -o needs a value (-o table|wide|json|yaml) and a command: e.g.
    `kmeshctl sandbox list -o table``: the flag at ``args[at]`` (given to ``group``,
    spelled ``path``) has no value; the example is the command typed after it, if any."""
    flag, equals, _ = args[at].partition("=")
    following = [] if equals else args[at + 1:at + 2]  # `--output=`: an empty value
    after = _command_words(args[at + 1:]) if following and following[0] not in ("--", *HELP_FLAGS) else []
    target, used = _resolve(group, after) if after else (None, 0)
    named = target is not None and not hasattr(target, "commands")  # `sandbox -o list`: list is the command
    candidates: list[tuple[list[str], _click.Command]] = []
    if named and _option_spelled(target, flag) is not None:  # type: ignore[arg-type]
        candidates.append(([*path.split(), *after[:used]], target))  # type: ignore[arg-type]
    place, place_path = (target, " ".join([*path.split(), *after[:used]])) if target is not None and hasattr(
        target, "commands") else (group, path)
    found, needing = _commands_with(place, place_path, [flag])
    candidates += [(shlex.split(line)[:-1], sub) for line, sub in found]  # the line without the flag
    param = _option_spelled(candidates[0][1], flag) if candidates else _option_below(group, flag)
    metavar = _metavar(param) if param is not None else "VALUE"
    line = f"{_typed_line(args[:at + 1])}: {flag} needs a value ({flag} {metavar})" + \
        ("" if named else " and a command")
    example = flag_example(param)
    if candidates and example:
        words, command = candidates[0]
        line += f": e.g. `{_run_with(command, words, [flag, example])}`"
    elif needing:
        line += f"; {'; '.join(needing)}"
    return _carry_typed_globals(line, args)


def _refuse_leading_flag_without_value(root: _click.Command, ctx: _click.Context, args: list[str]) -> None:
    """`kmeshctl -n`, `kmeshctl -o`, `kmeshctl -o status`: a valued flag given before the
    command without its value is named so, never "No such option" or "takes no -o"."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--" or not arg.startswith("-") or arg == "-":
            return
        if arg in GLOBAL_FLAGS:
            i += 2
            continue
        entry = _leading_flag(arg)
        if entry is not None and entry[1] and ("=" not in arg or arg.endswith("=")):
            option = _option_below(root, arg.partition("=")[0])
            if option is not None and _value_missing(option, [] if "=" in arg else args[i + 1:i + 2], root):
                raise _click.exceptions.UsageError(_value_missing_text(root, "kmeshctl", args, i), ctx=ctx)
            i += 2
            continue
        i += 1


def _run_with(command: _click.Command, words: list[str], flag_words: list[str]) -> str:
    """`kmeshctl WORDS FLAGS`; a command taking arguments (`sandbox exec POD -- COMMAND`):
    its own first example, its spelling of these flags replaced by ``flag_words``."""
    examples = own_examples(command, " ".join(words)) if any(
        p.param_type_name == "argument" for p in command.params) else []
    if not examples:
        from kmeshctl.cli.render import with_required

        return shlex.join(with_required([*words, *flag_words]))  # `render`: with --xds-address and --cluster-id
    spellings = {o for w in flag_words if (p := _option_spelled(command, w.partition("=")[0])) is not None
                 for o in (*p.opts, *p.secondary_opts)}
    example, kept, i = shlex.split(examples[0]), [], 0
    while i < len(example):
        word = example[i]
        if word == "--":
            break
        if word.partition("=")[0] in spellings:
            option = _option_spelled(command, word.partition("=")[0])
            i += 1 if "=" in word or getattr(option, "is_flag", False) else 2
            continue
        kept.append(word)
        i += 1
    return shlex.join([*kept, *flag_words, *example[i:]])


def refuse_leading_command_flags(root: _click.Command, args: list[str]) -> None:
    """A command's own flag typed before the command (`kmeshctl --dry-run install ...`):
    one line with the command as it is accepted (the flag after the command), as for a
    flag between a group and its subcommand; never "No such option" from the root."""
    root_flags = {o for p in root.params for o in (*p.opts, *p.secondary_opts)} | set(HELP_FLAGS)
    anywhere = {f for spellings, _ in ANYWHERE_FLAGS for f in spellings}
    at = next((i for i, a in enumerate(args) if a == "--" or (not a.startswith("-") and a in
                                                              getattr(root, "commands", {}))), None)
    if at is None or args[at] == "--":
        return
    leading = args[:at]
    words = _command_words(args[at:])
    command, used = _resolve(root, words)
    if command is None or hasattr(command, "commands"):
        return
    for i, arg in enumerate(leading):
        flag = arg.partition("=")[0]
        if not arg.startswith("-") or flag in root_flags or flag in anywhere:
            continue
        option = _option_spelled(command, flag)
        if option is None:
            return  # not the command's either: click says "No such option"
        takes = takes_value(option) and "=" not in arg and i + 1 < len(leading)
        moved = leading[i:i + 2] if takes else [arg]
        before = leading[:i] + leading[i + len(moved):]
        end = at + _position_after_words(args[at:], used)
        path = " ".join(["kmeshctl", *words[:used]])
        fixed = shlex.join(["kmeshctl", *before, *args[at:end], *moved, *args[end:]])
        raise KmeshctlUsageError(f"{flag} is a flag of {path}: put it after the command, `{fixed}` "
                                 f"(see '{path} --help')")


def _leading_namespace_as_argument(command: _click.Command, flag_words: list[str], rest: list[str],
                                   used: int) -> str:
    """`kmeshctl -n foo enable-ns bar` -> "; give the namespaces as arguments: `kmeshctl
    enable-ns foo bar`" (a command whose arguments are namespaces); else empty."""
    if not _takes_namespace_arguments(command):
        return ""
    value = flag_words[1] if len(flag_words) > 1 else flag_words[0].partition("=")[2]
    last = _position_after_words(rest, used)
    given = [value] if value not in rest[last:] else []  # `-n foo enable-ns foo`: foo once
    return f"; give the namespaces as arguments: `{shlex.join(['kmeshctl', *rest[:last], *given, *rest[last:]])}`"


def lower_help_flag(root: _click.Command, args: list[str]) -> list[str]:
    """`kmeshctl -h sandbox` (or `kmeshctl --help sandbox up`, `kmeshctl sandbox -h up`)
    prints the help of the command named, as `kmeshctl help sandbox` does; `kmeshctl -h
    nosuch` fails as `kmeshctl nosuch -h` does ("No such command", exit 2), never the
    help of the group the unknown word was given to."""
    positions = _word_positions(args)
    words = [args[i] for i in positions]
    command, used = _resolve(root, words)
    naming = used
    if (command is None or hasattr(command, "commands")) and used < len(words):
        naming += 1  # the word a group would refuse: the help flag goes after it, so click refuses it
    if not naming:
        return args
    end = positions[naming - 1] + 1
    helps = [i for i, arg in enumerate(args[:end]) if arg in HELP_FLAGS]
    if not helps or "--" in args[:end]:
        return args
    rest = [arg for i, arg in enumerate(args) if i not in helps]
    last = end - len(helps)
    return rest[:last] + [args[helps[0]]] + rest[last:]


def tidy_metavars(command: _click.Command) -> None:
    """Give every option a help word instead of typer's Python type (`<bool>`, `<str>`)."""
    ctx = _click.Context(command)
    for param in command.params:
        if param.param_type_name == "argument":
            param.display_type_rich = lambda ctx: None  # its metavar already says what it is
            _kubectl_usage_word(param)
        if param.metavar is not None or not hasattr(param, "display_type"):
            continue
        if getattr(param, "is_flag", False):
            param.metavar = ""
            continue
        label = param.display_type(ctx).strip("<>")
        if label.startswith("list[") and label.endswith("]"):
            label = label[5:-1]
        word = label if "|" in label else _TYPE_WORDS.get(label, label.upper())
        param.metavar = _text_word(param.name or "") if word == "TEXT" else word


def _kubectl_usage_word(param: _click.Parameter) -> None:
    """An argument in the usage line as kubectl writes it: `NAMESPACE...`, `POD`,
    `[COMMAND...]`, not typer's `{NAMESPACE...}...` (braces for required, "..." added
    after a metavar that already says it repeats)."""
    metavar = param.metavar
    if not metavar or not hasattr(param, "_usage_display_name"):
        return
    repeats = "" if param.nargs == 1 or "..." in metavar else "..."
    word = metavar + repeats
    shown = word if param.required or word.startswith("[") else f"[{word}]"
    param._usage_display_name = lambda: shown  # type: ignore[attr-defined]


def _text_word(name: str) -> str:
    """What a free-text option holds, from its name: never the bare type word TEXT."""
    if any(part in name for part in ("address", "_ip", "host", "server")):
        return "ADDRESS"
    if any(part in name for part in ("path", "file", "dir", "socket", "cert", "token")):
        return "PATH"
    return "NAME" if any(name.endswith(end) for end in ("name", "namespace", "context", "id", "account",
                                                        "network", "revision", "image")) else "VALUE"


def _plain_help_option(command: _click.Command) -> None:
    """-h/--help is a flag: no type word after it."""
    make = command.get_help_option

    def get_help_option(ctx: _click.Context) -> Optional[_click.Option]:
        option = make(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = get_help_option  # type: ignore[method-assign]


def _reflow_help(command: _click.Command) -> None:
    """Prose paragraphs of a docstring become one line each (the help width wraps them);
    indented paragraphs (examples) keep their lines, one command each, never rewrapped
    (click's `\\b` marker)."""
    if not command.help:
        return
    paragraphs = inspect.cleandoc(command.help).split("\n\n")
    command.help = "\n\n".join("\b\n" + p if p.startswith(" ") else " ".join(p.split()) for p in paragraphs)


GLOBAL_FLAGS_LINE = ("Global flags: --kubeconfig PATH, --context NAME, --request-timeout DURATION, -q/--quiet "
                     "(no line on stderr but errors), before or after the command (see 'kmeshctl --help').")


def _global_flags_named(command: _click.Command) -> None:
    """Each command's help ends as kubectl's ("Use 'kubectl options' for a list of global
    command-line options"): the global flags it takes too are named."""
    if not command.epilog:
        command.epilog = GLOBAL_FLAGS_LINE


def _one_line_short_help(command: _click.Command) -> None:
    """A group's command list shows each command's first paragraph as one line."""
    if command.short_help is None and command.help:
        first = command.help.strip().split("\n\n")[0]
        command.short_help = " ".join(first.split())


# ------------------------------------------------------------------ suggested fixes


def given_flags() -> dict[str, tuple[str, str]]:
    """{param name: (long flag, value)} of the carried flags the user typed on the
    command being run (command line only: an environment variable still applies when the
    suggestion is pasted into the same shell)."""
    found: dict[str, tuple[str, str]] = {}
    for ctx in _INVOKED:
        for param in ctx.command.params:
            if param.name not in CARRIED_FLAGS or ctx.get_parameter_source(param.name) != \
                    ParameterSource.COMMANDLINE:
                continue
            value = ctx.params.get(param.name)
            if value is None or isinstance(value, bool):
                continue
            if not _could_work(param.name, value):
                continue
            long = next((o for o in param.opts if o.startswith("--")), param.opts[0])
            found[param.name] = (long, _flag_text(param.name, value))
    return found


def _flag_text(name: str, value: Any) -> str:
    """A given value as a suggested command spells it (--request-timeout 2.0 -> 2s, as
    kubectl takes it too)."""
    if name == "request_timeout":
        from kmeshctl.asciinum import duration_words

        return duration_words(float(value)) if value else "0"
    return str(value)


def _could_work(name: str, value: Any) -> bool:
    """A given value a suggested command may carry: never one it would refuse (a
    --bpf-fs that is a file or not on a bpf filesystem: `node run --bpf-fs /tmp`)."""
    if name != "bpf_fs":
        return True
    from kmeshctl.nodecheck import check_bpffs_dir

    try:
        check_bpffs_dir(Path(value))
    except KmeshctlError:
        return False
    return True


def flag_as_typed(param_name: str) -> str:
    """How the user spelled the flag of ``param_name`` on the command being run (`-n` or
    `--namespace`; the long name when it was not typed), for messages about its value."""
    for ctx in reversed(_INVOKED):
        for param in ctx.command.params:
            if param.name == param_name:
                return typed_flag(param, _ARGS)
    return "--" + param_name.replace("_", "-")


def given_as(param_name: str) -> str:
    """How the value of ``param_name`` was given on the command being run, for a message
    about it: `$XDS_ADDRESS` when it came from that variable, else the flag as typed."""
    for ctx in reversed(_INVOKED):
        for param in ctx.command.params:
            if param.name == param_name:
                return source_name(ctx, param, _ARGS)
    return flag_as_typed(param_name)


def given_on_command_line(param_name: str) -> bool:
    """The user gave ``param_name`` (flag or environment), rather than leaving the default."""
    for ctx in reversed(_INVOKED):
        if param_name in ctx.params:
            source = ctx.get_parameter_source(param_name)
            return source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    return False


def name_env_sources(message: str) -> str:
    """`--name x: ...` -> `$KMESHCTL_SANDBOX_NAME=x: ...` when x came from that variable:
    the user did not type --name, so a message naming it would send them looking for it."""
    for ctx in _INVOKED:
        for param in ctx.command.params:
            if not param.name or ctx.get_parameter_source(param.name) != ParameterSource.ENVIRONMENT:
                continue
            envvar = param.envvar if isinstance(param.envvar, str) else next(iter(param.envvar or ()), None)
            value = ctx.params.get(param.name)
            if envvar and value is not None:
                from kmeshctl.params import shown

                for opt in param.opts:
                    message = _outside_backticks(message, f"{opt} {shown(value)}", f"${envvar}={shown(value)}")
                    message = _outside_backticks(message, f"{opt} {value}", f"${envvar}={value}")
                if f"${envvar}" not in message:
                    message = _mark_source(message, str(value), envvar, param.opts)
    return message


_FLAG_BEFORE = re.compile(r"(?:^|\s)(-{1,2}[A-Za-z][\w-]*)[ =]$")


def _mark_source(message: str, value: str, envvar: str, opts: Any = ()) -> str:
    """`cannot load kubeconfig: /x does not exist` -> `... /x (from $KUBECONFIG) does not
    exist`: the first mention of the value (or of one entry of a path list) in the prose
    that is this parameter's: never the same text given to another flag (`--crd-file /x`)."""
    import os

    if f"${envvar}" in message:  # it names the variable itself (`none of the $KUBECONFIG files exist`)
        return message
    entries = [e for e in value.split(os.pathsep) if e]
    for word in [value, ", ".join(entries), *entries]:
        if len(word) < 2:
            continue
        parts = message.split("`")
        for i in range(0, len(parts), 2):
            found = next((m for m in re.finditer(rf"(?<![\w/.-]){re.escape(word)}(?![\w/.-])", parts[i])
                          if not _other_flags_value(parts[i][:m.start()], opts)), None)
            if found:
                parts[i] = parts[i][:found.end()] + f" (from ${envvar})" + parts[i][found.end():]
                return "`".join(parts)
    return message


def _other_flags_value(before: str, opts: Any) -> bool:
    """The text right before a mention is another flag than ``opts`` (the value is that flag's)."""
    flag = _FLAG_BEFORE.search(before)
    return flag is not None and flag.group(1) not in opts


def _outside_backticks(message: str, old: str, new: str) -> str:
    """Replace in the prose only: a backticked command keeps its flags (it is pasted)."""
    parts = message.split("`")
    return "`".join(p.replace(old, new) if i % 2 == 0 else p for i, p in enumerate(parts))


def _resolve(root: _click.Command, words: list[str]) -> tuple[Optional[_click.Command], int]:
    """The command a suggested `kmeshctl a b ...` runs, and how many words name it."""
    command, used = root, 0
    while hasattr(command, "commands"):
        if used >= len(words) or words[used] not in command.commands:
            break
        command, used = command.commands[words[used]], used + 1
    return (command if used else None), used


# Commands that never talk to a cluster: a suggestion of one carries no kubeconfig flags.
LOCAL_GROUPS = frozenset({"sandbox", "node", "render", "bench", "completion"})


def with_given_flags(suggestion: str, root: _click.Command) -> str:
    """`kmeshctl sandbox down` -> `kmeshctl sandbox down --name x` when the user ran
    `... --name x`; kubeconfig flags go right after `kmeshctl`."""
    try:
        program, *words = shlex.split(suggestion)
    except ValueError:
        return suggestion
    if program == "kubectl":
        return _kubectl_with_given_flags(suggestion, words)
    command, used = _resolve(root, words)
    if command is None:
        return suggestion
    accepted = {p.name: p for p in command.params}
    global_part: list[str] = []
    local_part: list[str] = []
    for name, (flag, value) in given_flags().items():
        spellings = {flag, *(accepted[name].opts if name in accepted else ())}
        if any(_spelled(w, spellings) for w in words):
            continue  # the suggestion names it already (-n, --namespace, -nX, --namespace=X)
        if name == "namespace" and any(w in ("-A", "--all-namespaces") for w in words):
            continue  # every namespace already: -n with -A is refused
        if name in ("bpf_fs", "admin_port") and any(_spelled(w, {"--sandbox"}) for w in words):
            continue  # --sandbox names the place itself: with --bpf-fs or --admin-port it is refused
        if name == "namespace" and namespace_meaning(words[:used]) != namespace_meaning(_running_path()):
            continue  # kmesh's own namespace (install, status) is not the namespace of a waypoint
        if name in CLUSTER_FLAGS:
            if words and words[0] in LOCAL_GROUPS:
                continue  # a local command: a cluster flag would only be noise (or a bad context)
            global_part += [flag, value]
        elif name in accepted:
            local_part += [flag, value]
    if not global_part and not local_part:
        return suggestion
    return shlex.join(["kmeshctl", *global_part, *words[:used], *local_part, *words[used:]])


def _spelled(word: str, spellings: set[str]) -> bool:
    """``word`` is one of the flag's spellings, with or without its value attached."""
    return any(word == f or word.startswith(f + "=") or (len(f) == 2 and word.startswith(f) and len(word) > 2)
               for f in spellings)


# Commands whose -n/--namespace is kmesh's own install namespace (default kmesh-system, as
# istioctl's and cilium's system namespace); every other -n is the namespace of the
# objects the command acts on (default: the kubeconfig context's namespace).
SYSTEM_NAMESPACE_COMMANDS = frozenset({("install",), ("uninstall",), ("precheck",), ("status",), ("version",),
                                       ("render",), ("dump", "maps"), ("dump", "config")})


def namespace_meaning(words: "list[str] | tuple[str, ...]") -> str:
    """"system" when -n of the command ``words`` names kmesh's namespace, else "objects"."""
    return "system" if tuple(words) in SYSTEM_NAMESPACE_COMMANDS else "objects"


def _running_path() -> list[str]:
    """The words of the command being run (`waypoint status`)."""
    return [ctx.info_name or "" for ctx in _INVOKED[1:]]


def _kubectl_with_given_flags(suggestion: str, words: list[str]) -> str:
    """A suggested kubectl command talks to the same cluster: the user's --kubeconfig and
    --context (kubectl spells them alike) go with it."""
    extra: list[str] = []
    for name in CLUSTER_FLAGS:
        flag, value = given_flags().get(name, (None, None))
        if flag and not any(w == flag or w.startswith(flag + "=") for w in words):
            extra += [flag, value]
    return shlex.join(["kubectl", *words, *extra]) if extra else suggestion


def paste_ready(message: str, root: _click.Command) -> str:
    """Every backticked `kmeshctl ...` command of ``message`` with the user's flags."""
    return _SUGGESTED.sub(lambda m: f"`{with_given_flags(m.group(1), root)}`", message)


def as_the_user_reads(message: str, root: _click.Command) -> str:
    """The one rewrite of every message kmeshctl shows (an error line, a JSON error
    field, a table cell's detail): flags named as typed, a value that came from a
    variable named so (`(from $KUBECONFIG)`), and each suggested kmeshctl / kubectl
    command carrying the user's --kubeconfig / --context and other flags it takes."""
    return paste_ready(name_env_sources(name_typed_flags(message, _INVOKED, _ARGS)), root)


# ------------------------------------------------------------------ errors

COMPLETE_VAR = "_KMESHCTL_COMPLETE"


def _one_line_usage_error(err: Any) -> str:
    """Click's usage errors as one line, with where to look instead of the usage block."""
    message = " ".join(err.format_message().split())
    own = _own_words(message, err)
    ctx = getattr(err, "ctx", None)
    if own and ctx is not None:
        own = paste_ready(own, ctx.find_root().command)  # its example keeps the user's flags
    if own:
        return _with_help_pointer(f"Error: {own}", err)
    hint = _positional_name_hint(message, err) or _flag_value_hint(message)
    if hint.startswith("; on/off"):
        message = message.rstrip(".")
    return _with_help_pointer(f"Error: {message}{hint}", err)


_REQUIRES_VALUE = re.compile(r"^Option '([^']+)' requires an argument\.$")
_MISSING_ARGUMENT = re.compile(r"^Missing argument '([^']+)'\.$")
_NO_SUCH_COMMAND = re.compile(r"^No such command '(.*?)'\.")
DRY_RUN_VALUES = ("client", "server", "none")


def _own_words(message: str, err: Any) -> str:
    """click's own texts ("Option '-n' requires an argument.", "Missing argument 'X'.",
    "No such command 'x'.") in kmeshctl's words: the problem and a valid example; also
    kubectl's old `--dry-run client` (the value as a separate word). Empty for others."""
    ctx = getattr(err, "ctx", None)
    found = _REQUIRES_VALUE.match(message)
    if found:
        return value_needed_line(found.group(1), ctx)
    found = _MISSING_ARGUMENT.match(message)
    if found and ctx is not None:
        return _missing_argument_line(found.group(1), ctx)
    found = _NO_SUCH_COMMAND.match(message)
    if found and ctx is not None:
        return _no_such_command_line(found.group(1), ctx, _words_around(found.group(1), ctx))
    if message == "Missing command." and ctx is not None:
        return _missing_command_line(ctx)
    return _spaced_dry_run_value(message, ctx)


def _param_of(ctx: Optional[_click.Context], flag: str) -> Optional[_click.Parameter]:
    """The option spelled ``flag`` of the context's command, else of the root (a global flag)."""
    for each in (ctx, ctx.find_root() if ctx is not None else None):
        found = _option_spelled(each.command, flag) if each is not None else None
        if found is not None:
            return found
    return None


def flag_example(param: Optional[_click.Parameter]) -> str:
    """A value ``param`` takes, for an example: its default when it has one, the first
    choice, a name its rule accepts; empty when none can be given (a kubeconfig path)."""
    from kmeshctl.cli.names import example_name

    if param is None:
        return ""
    default = param.default
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None and descriptor.is_choice and descriptor.choices:
        first = descriptor.choices[0]
        return str(getattr(first, "value", first))
    named = example_name(param)
    if named:
        return named
    if isinstance(default, bool) or default is None or default == "":
        return ""
    if isinstance(default, (int, float)):
        return f"{default:g}"
    return str(getattr(default, "value", default))


def value_needed_line(flag: str, ctx: Optional[_click.Context]) -> str:
    """`-n needs a value: -n NAMESPACE, e.g. -n kmesh-system`."""
    param = _param_of(ctx, flag)
    metavar = ((getattr(param, "metavar", None) or "VALUE") if param is not None else "VALUE").strip()
    example = flag_example(param)
    return f"{flag} needs a value: {flag} {metavar}" + (f", e.g. {flag} {shlex.quote(example)}" if example else "")


def _missing_argument_line(name: str, ctx: _click.Context) -> str:
    """`NAMESPACE... is required: e.g. `kmeshctl enable-ns default``: the command's own
    first example that gives it."""
    example = next(iter(own_examples(ctx.command, ctx.command_path)), "")
    return f"{name} is required" + (f": e.g. `{example}`" if example else f": {ctx.command_path} {name}")


_EXAMPLE_END = re.compile(r"[)<>|;&]")


def own_examples(command: _click.Command, path: str) -> list[str]:
    """The example lines of ``command``'s help that run it (`kmeshctl enable-ns default`;
    `kmeshctl completion bash` out of `source <(kmeshctl completion bash)`)."""
    found: list[str] = []
    for paragraph in inspect.cleandoc(command.help or "").split("\n\n"):
        for line in paragraph.lstrip("\b\n").splitlines():
            at = line.find(path + " ")
            if at >= 0 and not line.strip().startswith("#"):
                found.append(_EXAMPLE_END.split(line[at:])[0].strip())
    return found


def _missing_command_line(ctx: _click.Context) -> str:
    """`kmeshctl --context prod`: the flags given, and a command to give them to."""
    path = ctx.command_path.split()
    typed = [w for w in _ARGS if w not in path[1:]][:_ARGS.index("--") if "--" in _ARGS else len(_ARGS)]
    first = "status" if "status" in getattr(ctx.command, "commands", {}) else sorted(ctx.command.commands)[0]
    example = shlex.join([*path, *typed, first])
    return f"{ctx.command_path} needs a command after its flags: e.g. `{example}`"


def _no_such_command_line(word: str, ctx: _click.Context, around: Optional[tuple[list[str], list[str]]] = None) -> str:
    """`kmeshctl has no command 'stauts'; did you mean status?`, else the commands it has.
    With ``around`` (the flags typed before the word, the words after it: _words_around),
    kubectl's and docker's habits get the command to paste: `get sandbox NAME` ->
    `kmeshctl sandbox status --name NAME`, `sandbox run POD -- CMD` -> `sandbox exec`."""
    import difflib

    from kmeshctl.params import shown

    head = f"{ctx.command_path} has no command {shown(word) if word else repr(word)}; "
    habit = _command_habit_line(word, ctx, *around) if around is not None else ""
    if habit:
        return head + habit
    names = [n for n, sub in sorted(getattr(ctx.command, "commands", {}).items()) if not sub.hidden]
    close = (_spelled_out(word, names) or command_synonyms(word, names)
             or difflib.get_close_matches(word, names, n=2, cutoff=SUGGEST_CLOSENESS)
             or [n for n in names if len(word) >= 3 and n.startswith(word)][:2])  # `demo traffic`: traffic-shift
    fix = f"did you mean {' or '.join(close)}?" if close else f"its commands: {', '.join(names)}"
    return head + fix


def _spelled_out(word: str, names: list[str]) -> list[str]:
    """`enable-namespace` -> enable-ns: the command whose short word ``word`` spells out."""
    typed = word.lower()
    return [n for n in names if typed in (n.replace("-ns", "-namespace"), n.replace("-ns", "-namespaces"))
            and "-ns" in n]


def _words_around(word: str, ctx: _click.Context) -> Optional[tuple[list[str], list[str]]]:
    """(the -n/-o/-A flags typed before the unknown command ``word``, each with its value;
    the words typed after it), read from the line; None when ``word`` is not where ``ctx``
    (the group that refused it) expects its command."""
    depth = len(ctx.command_path.split()) - 1
    positions: list[int] = []
    before: list[str] = []
    skip = False
    for i, arg in enumerate(_ARGS):
        if arg == "--":
            break
        if skip:
            skip = False
            continue
        entry = _leading_flag(arg)
        valued = arg in GLOBAL_FLAGS or (entry is not None and entry[1] and "=" not in arg)
        skip = valued
        if not arg.startswith("-") or arg == "-":
            positions.append(i)
            if len(positions) > depth:
                break
        elif entry is not None:
            before += _ARGS[i:i + (2 if valued else 1)]
    if len(positions) <= depth or _ARGS[positions[depth]] != word:
        return None
    return before, _ARGS[positions[depth] + 1:]


KUBECTL_VERBS = ("get", "describe", "delete")
KIND_WORDS = {"sandbox": "sandbox", "sandboxes": "sandbox", "waypoint": "waypoint", "waypoints": "waypoint"}
# kubectl's (verb, a NAME given) on a kind -> the subcommand of the kind's group (none: delete needs a NAME)
VERB_SUBCOMMANDS = {("get", False): "list", ("get", True): "status", ("describe", False): "status",
                    ("describe", True): "status", ("delete", True): {"sandbox": "down", "waypoint": "delete"}}


def _command_habit_line(word: str, ctx: _click.Context, before: list[str], after: list[str]) -> str:
    """The fix for a command word of kubectl or docker kmeshctl spells otherwise; empty
    when there is none."""
    path = tuple(ctx.command_path.split()[1:])
    if not path and word.lower() in KUBECTL_VERBS:
        return _kubectl_verb_line(word.lower(), ctx, before, after)
    if path == ("sandbox",) and word.lower() == "run":
        return _run_as_exec_line(after, ctx.command.commands["exec"])
    if path == ("sandbox",) and word.lower() in ("logs", "log", "ps", "top"):
        return _sandbox_status_pointer(word.lower(), ctx, after)
    names = [n for n, sub in getattr(ctx.command, "commands", {}).items() if not sub.hidden]
    spelled = _spelled_out(word, names)
    if spelled and after:  # `enable-namespace foo` -> `kmeshctl enable-ns foo`
        return f"did you mean {spelled[0]}? `{shlex.join([*ctx.command_path.split(), spelled[0], *after])}`"
    return ""


def _split_typed(after: list[str], group: _click.Command) -> tuple[list[str], list[str]]:
    """(the words of ``after`` that are no flag or flag value, the flags with their values;
    the global flags left out: the root read them, a suggestion gets them back)."""
    positional: list[str] = []
    flags: list[str] = []
    i = 0
    while i < len(after):
        arg = after[i]
        if arg.startswith("-") and arg != "-" and arg != "--":
            flag = arg.partition("=")[0]
            option = _option_below(group, flag)
            valued = flag in GLOBAL_FLAGS or (option is not None and takes_value(option))
            words = after[i:i + (2 if valued and "=" not in arg else 1)]
            if flag not in GLOBAL_FLAGS and flag not in QUIET_FLAGS:
                flags += words
            i += len(words)
            continue
        positional.append(arg)
        i += 1
    return positional, flags


def _kubectl_verb_line(verb: str, ctx: _click.Context, before: list[str], after: list[str]) -> str:
    """`get sandbox[es]` -> `kmeshctl sandbox list`, `describe sandbox NAME` -> `kmeshctl
    sandbox status --name NAME`, `delete waypoint NAME` -> `kmeshctl waypoint delete
    --name NAME` (with the flags typed that it takes; the others named); a NAME the
    command would refuse (no such sandbox) is said so instead of offered."""
    from kmeshctl.cli.names import flag_value_check

    root = ctx.find_root().command
    if "--" in after:
        return ""
    positional, flags = _split_typed(after, root)
    if not positional:
        return ""
    kind = KIND_WORDS.get(positional[0].partition("/")[0].lower())
    group = getattr(root, "commands", {}).get(kind or "")
    if group is None:
        return ""
    reader, sub = group, None
    for _ in range(3):  # which words are values depends on the command, the command on whether a NAME is given
        positional, flags = _split_typed(after, reader)
        first = positional[0].partition("/")[2]  # kubectl's `get sandbox/NAME`
        names = ([first] if first else []) + positional[1:]
        sub = VERB_SUBCOMMANDS.get((verb, bool(names)))
        sub = sub.get(kind) if isinstance(sub, dict) else sub
        if sub is None or group.commands[sub] is reader:
            break
        reader = group.commands[sub]
    flags = before + flags
    plural = PLURALS[kind]
    if sub is None:  # `delete sandbox`: kubectl wants a NAME too
        deleting = VERB_SUBCOMMANDS[("delete", True)][kind]  # type: ignore[index]
        lister = shlex.join(["kmeshctl", kind, "list", *_flags_taken(group.commands["list"], flags)])
        return (f"{plural} are {'removed' if deleting == 'down' else 'deleted'} by name: kmeshctl {kind} {deleting} "
                f"--name NAME (their names: `{lister}`)")
    command = group.commands[sub]
    spelled = ["kmeshctl", kind, sub]
    kept = _flags_taken(command, flags)
    dropped = [f for f in dict.fromkeys(w.partition("=")[0] for w in flags if w.startswith("-"))
               if not any(_spelled(k, {f}) for k in kept) and f not in HELP_FLAGS]
    note = f" ({shlex.join(spelled[1:])} takes no {', '.join(dropped)})" if dropped else ""
    if not names:
        doing = f"list {plural}" if sub == "list" else f"show a {kind}"
        return f"to {doing}: `{shlex.join([*spelled, *kept])}`{note}"
    param = _option_spelled(command, "--name")
    check = flag_value_check(param, (kind, sub)) if param is not None else None
    doing, done = {"status": ("show", "shown"), "down": ("remove", "removed"), "delete": ("delete", "deleted")}[sub]
    lines, refused = [], []
    for name in names:
        try:
            if check is not None:
                check("--name", name)
        except KmeshctlError as err:
            refused.append(str(err))
            continue
        lines.append(f"`{shlex.join([*spelled, '--name', name, *kept])}`")
    if not refused:
        return f"to {doing} {kind} {' and '.join(names)}: {' and '.join(lines)}{note}"
    return "; ".join([f"a {kind} is {done} with kmeshctl {kind} {sub} --name NAME", *lines, *refused]) + note


PLURALS = {"sandbox": "sandboxes", "waypoint": "waypoints"}


def _flags_taken(command: _click.Command, flags: list[str]) -> list[str]:
    """The flags (with their values) of ``flags`` that ``command`` takes."""
    kept, i = [], 0
    while i < len(flags):
        option = _option_spelled(command, flags[i].partition("=")[0])
        words = flags[i:i + (2 if option is not None and takes_value(option) and "=" not in flags[i] else 1)]
        if option is not None:
            kept += words
        i += len(words)
    return kept


def _run_as_exec_line(after: list[str], exec_command: _click.Command) -> str:
    """`sandbox run POD -- CMD` (kubectl run, docker run) -> `kmeshctl sandbox exec POD -- CMD`."""
    if not after or after[0].startswith("-"):
        return "did you mean exec (run a command in a pod) or up (make a sandbox)?"
    words, at = list(after), 1
    while "--" not in words and at < len(words):  # `run POD CMD`: exec takes the command after `--`
        option = _option_spelled(exec_command, words[at].partition("=")[0]) if words[at].startswith("-") else None
        if option is None:
            words.insert(at, "--")
            break
        at += 2 if takes_value(option) and "=" not in words[at] else 1  # exec's own (`--name X`) stays before
    return f"did you mean exec? `{shlex.join(['kmeshctl', 'sandbox', 'exec', *words])}`"


def _sandbox_status_pointer(word: str, ctx: _click.Context, after: list[str]) -> str:
    """`sandbox logs` / `sandbox ps`: the pods' log files and processes are columns of
    `sandbox status -o wide` (LOG, PIDS)."""
    status = ctx.command.commands["status"]
    _, flags = _split_typed(after[:after.index("--")] if "--" in after else after, status)
    kept = _flags_taken(status, flags)
    dropped = [f for f in dict.fromkeys(w.partition("=")[0] for w in flags if w.startswith("-"))
               if not any(_spelled(k, {f}) for k in kept) and f not in HELP_FLAGS]
    if not any(_spelled(w, {"-o", "--output"}) for w in kept):
        kept = ["-o", "wide", *kept]
    column = "LOG column has each pod's log file" if word in ("logs", "log") else "PIDS column has each pod's processes"
    note = f" (sandbox status takes no {', '.join(dropped)})" if dropped else ""
    return f"did you mean status? its {column}: `{shlex.join(['kmeshctl', 'sandbox', 'status', *kept])}`{note}"


def server_dry_run_as_flag(args: list[str]) -> list[str]:
    """kubectl's `--dry-run=server` is what kmeshctl's --dry-run does (the API server checks
    every object, nothing changes): read as --dry-run (before `--` only)."""
    end = args.index("--") if "--" in args else len(args)
    return ["--dry-run" if word == "--dry-run=server" else word for word in args[:end]] + args[end:]


def _spaced_dry_run_value(message: str, ctx: Optional[_click.Context]) -> str:
    """kubectl's old `--dry-run client` (a separate word): the same line as `--dry-run=client`."""
    found = _EXTRA_ARGUMENTS.match(message)
    if found is None or ctx is None or _option_spelled(ctx.command, "--dry-run") is None:
        return ""
    extras = found.group(1).split()
    spaced = any(_ARGS[i] == "--dry-run" and _ARGS[i + 1] in DRY_RUN_VALUES and _ARGS[i + 1] in extras
                 for i in range(len(_ARGS) - 1))
    if not spaced:
        return ""
    from kmeshctl.cli.render import dry_run_value_hint

    return "Option '--dry-run' does not take a value" + dry_run_value_hint(ctx.command, _ARGS, _INVOKED[0].command)


_TAKES_NO_VALUE = re.compile(r"^Option '(--[\w-]+)' does not take a value\.$")


def _flag_value_hint(message: str) -> str:
    """kubectl's `--ignore-not-found=true` / `--wait=false` / `--dry-run=server` typed for
    an on/off flag: how kmeshctl spells on and off (empty for any other error)."""
    found = _TAKES_NO_VALUE.match(message)
    if found is None or not _INVOKED:
        return ""
    flag = found.group(1)
    option = _option_spelled(_INVOKED[-1].command, flag)
    if option is not None and flag == "--dry-run":  # kubectl's --dry-run=client|server|none
        from kmeshctl.cli.render import dry_run_value_hint

        return dry_run_value_hint(_INVOKED[-1].command, _ARGS, _INVOKED[0].command)
    return "" if option is None else on_off_hint(option, flag)


def on_off_hint(option: _click.Parameter, flag: str) -> str:
    """`; on/off flags take no value here: write -A to turn it on, leave it out for off`
    (``flag``: the spelling typed; a flag with an off form names both)."""
    if option.secondary_opts:
        on = flag if flag in option.opts else option.opts[0]
        return f"; on/off flags take no value here: write {on} or {option.secondary_opts[0]}"
    return f"; on/off flags take no value here: write {flag} to turn it on, leave it out for off"


_EXTRA_ARGUMENTS = re.compile(r"^Got unexpected extra arguments? ?(?:\(s\))? \((.*)\)$")


# The flag a value typed as a positional argument most likely belongs to, on a command that
# takes no positional argument (istioctl's `waypoint delete NAME`, `dump maps km_backend`,
# `dump config POD`), first found wins: (flag, what it names).
POSITIONAL_AS_FLAG = (("--name", "name"), ("--map", "map"), ("--pod", "pod"), ("--sandbox", "name"),
                      ("--run-id", "run id"), ("--cluster-id", "cluster id"), ("--namespace", "namespace"),
                      ("--bpf-fs", "bpffs directory"))


_FILE_SUFFIX = re.compile(r"\.(ya?ml|json)\Z", re.IGNORECASE)


def _looks_like_file(word: str) -> bool:
    """A word typed as a file: `m.yaml`, `./values.yaml`, `/tmp/objects`, `~/x`."""
    return _FILE_SUFFIX.search(word) is not None or word.startswith(("/", "./", "../", "~"))


def _weights_shape(word: str) -> bool:
    return "/" in word and re.fullmatch(r"[\d/,.+-]+", word) is not None


# Values whose shape names their flag before the order above does: weight sets (`90/10`)
# for --weights, a YAML file for -f, a path for --bpf-fs; (flag, what one names, what
# several name, the shape).
POSITIONAL_BY_SHAPE: tuple[tuple[str, str, str, Callable[[str], bool]], ...] = (
    ("--weights", "weight sets", "weight sets", _weights_shape),
    ("-f", "file", "files", lambda value: _looks_like_file(value) or "/" in value),
    ("--bpf-fs", "bpffs directory", "bpffs directory", lambda value: "/" in value or value.startswith(".")),
)
# Flags whose one value holds several, and what joins them (`--weights 90/10,50/50`).
JOINED_FLAGS = {"--weights": ","}
# (command words..., parameter) -> the check a command applies to that flag's value when it
# differs from kmeshctl.cli.names.flag_value_check's (`node cleanup --bpf-fs` must exist).
POSITIONAL_CHECKS: dict[tuple[str, ...], Callable[[str, str], None]] = {}


# (group, command) -> what the stray words most likely mean on this machine (a hint, or ""
# for POSITIONAL_AS_FLAG's): `dump config WORD` without a cluster is no --pod (kmeshctl.cli.dump).
POSITIONAL_READERS: dict[tuple[str, ...], Callable[[list[str], list[str]], str]] = {}


def _positional_name_hint(message: str, err: Any) -> str:
    """A value typed where the command takes it only as a flag: the command as it would be
    accepted ("; give the map with --map: `kmeshctl dump maps --map km_backend`"), on
    every command with no positional argument; empty for any other error."""
    ctx = getattr(err, "ctx", None)
    found = _EXTRA_ARGUMENTS.match(message)
    if ctx is None or found is None:
        return ""
    params = ctx.command.params
    if any(p.param_type_name == "argument" for p in params):
        return ""
    typed = _without_separator(list(_ARGS))
    reader = POSITIONAL_READERS.get(tuple(ctx.command_path.split()[-2:]))
    read = reader(found.group(1).split(), typed) if reader else ""
    if read:
        return read  # the command's own reading of the word (a sandbox's name, no cluster for --pod)
    extras = found.group(1).split()
    shapes = {_shaped_flag(params, word) for word in extras}
    if len(shapes) == 1 and None not in shapes:
        return _shaped_hint(ctx, typed, extras, *shapes.pop())
    if shapes != {None}:  # words of different shapes: no one flag takes them all
        return "; this command takes no positional arguments"
    if any(_looks_like_file(word) for word in extras):
        return "; this command takes no positional arguments and reads no file: give its settings as flags"
    option = _ordered_flag(params)
    if option is None:
        return "; this command takes no positional arguments"
    param, what, flag = option
    given = any(_spelled(w, set(param.opts)) for w in _ARGS)
    if len(extras) != 1 or given:
        return f"; this command takes no positional arguments: give one {what} with {flag} {_metavar(param)}"
    return _offered(ctx, param, flag, what, [extras[0]], _flagged_line(ctx, typed, extras, flag))


def _metavar(param: _click.Parameter) -> str:
    return (param.metavar or "VALUE").strip()


def _shaped_hint(ctx: _click.Context, typed: list[str], extras: list[str], param: _click.Parameter, one: str,
                 several: str, flag: str) -> str:
    """Stray words of one shape as that shape's flag: joined into one value (--weights),
    the flag repeated (-f), or one value for a flag that takes one."""
    given = _typed_values(ctx, typed, param)
    joiner = JOINED_FLAGS.get(flag)
    if joiner is not None:
        value = joiner.join(_in_typed_order(ctx, typed, extras, given))
        return _offered(ctx, param, flag, several, [value], _joined_line(ctx, typed, extras, param, flag, value))
    if not getattr(param, "multiple", False) and (len(extras) > 1 or given):
        return f"; this command takes no positional arguments: give one {one} with {flag} {_metavar(param)}"
    return _offered(ctx, param, flag, several if len(set(extras)) > 1 else one, extras,
                    _flagged_line(ctx, typed, extras, flag, given))


def _offered(ctx: _click.Context, param: _click.Parameter, flag: str, what: str, values: list[str],
             words: list[str]) -> str:
    """`; give the WHAT with FLAG: `kmeshctl WORDS`` once every value passes the check FLAG
    applies; else what it says of the first it refuses (a fix refused when pasted helps no one)."""
    for value in values:
        refused = _refused_as(ctx, param, flag, value)
        if refused is None:
            return "; this command takes no positional arguments"
        if refused:
            return f"; this command takes no positional arguments, and {flag} refuses {value}: {refused}"
    return f"; give the {what} with {flag}: `{shlex.join(['kmeshctl', *words])}`"


# A value as typed: (its first word, its last word, the option it went to or None for a
# word of no option, the value); `--weights 90/10` is two words, `--weights=90/10` one.
_Typed = tuple[int, int, Optional[str], str]


def _valued_flags(ctx: Optional[_click.Context]) -> set[str]:
    """The spellings of the options that take a value, of ``ctx``'s command and the groups above it."""
    found: set[str] = set()
    while ctx is not None:
        found |= {o for p in ctx.command.params if takes_value(p) for o in (*p.opts, *p.secondary_opts)}
        ctx = ctx.parent
    return found


def _typed_words(ctx: _click.Context, words: list[str]) -> list[_Typed]:
    """The values on the line ``words``: an option's value is no stray word, whatever it
    spells (`sandbox up a.yaml -f a.yaml`: the second a.yaml is -f's)."""
    valued = _valued_flags(ctx)
    found: list[_Typed] = []
    owner: Optional[str] = None
    for i, word in enumerate(words):
        if owner is not None:
            found.append((i - 1, i, owner, word))
            owner = None
        elif word.startswith("--") and "=" in word:
            found.append((i, i, word.partition("=")[0], word.partition("=")[2]))
        elif word.startswith("-") and word != "-":
            owner = word if word in valued else None
        else:
            found.append((i, i, None, word))
    return found


def _typed_values(ctx: _click.Context, words: list[str], param: _click.Parameter) -> list[_Typed]:
    """The values ``param`` was given on the line ``words`` (`--weights 90/10`, `--weights=90/10`)."""
    return [typed for typed in _typed_words(ctx, words) if typed[2] in param.opts]


def _stray_positions(ctx: _click.Context, words: list[str], extras: list[str]) -> list[int]:
    """Where the stray ``extras`` are in ``words``: the last places of words of no option
    that spell them, in order (click leaves over the words after the ones it placed)."""
    free = [first for first, _, owner, _ in _typed_words(ctx, words) if owner is None]
    found: list[int] = []
    for extra in reversed(extras):
        at = next((k for k in range(len(free) - 1, -1, -1) if words[free[k]] == extra), None)
        if at is not None:
            found.append(free[at])
            free = free[:at]
    return found[::-1]


def _in_typed_order(ctx: _click.Context, words: list[str], extras: list[str], given: list[_Typed]) -> list[str]:
    """The stray ``extras`` and the flag's ``given`` values in the order they were typed
    (`90/10 --weights 50/50`: the phases run 90/10 first)."""
    places = _stray_positions(ctx, words, extras)
    if len(places) < len(extras):  # a word click split apart: the typed values first
        return [*(value for *_, value in given), *extras]
    return [value for _, value in sorted([*zip(places, extras), *((first, value) for first, *_, value in given)])]


def _flagged_line(ctx: _click.Context, words: list[str], extras: list[str], flag: str,
                  given: Iterable[_Typed] = ()) -> list[str]:
    """``words`` with ``flag`` before each stray word, each value of the flag once, where
    first typed (`sandbox up a.yaml -f a.yaml`: a file given twice is refused)."""
    places = set(_stray_positions(ctx, words, extras))
    if len(places) < len(extras):  # a word click split apart (`'a b'`): the flags at the end
        return [*words, *(w for extra in extras for w in (flag, extra))]
    seen: set[str] = set()
    gone: set[int] = set()
    typed = [*((i, i, words[i]) for i in places), *((first, last, value) for first, last, _, value in given)]
    for first, last, value in sorted(typed):
        gone |= set(range(first, last + 1)) if value in seen else set()
        seen.add(value)
    line: list[str] = []
    for i, word in enumerate(words):
        line += [] if i in gone else [flag, word] if i in places else [word]
    return line


def _joined_line(ctx: _click.Context, words: list[str], extras: list[str], param: _click.Parameter, flag: str,
                 value: str) -> list[str]:
    """``words`` with the stray words and ``param``'s typed values as one `FLAG VALUE`, where the first of them was."""
    gone = set(_stray_positions(ctx, words, extras))
    for first, last, *_ in _typed_values(ctx, words, param):
        gone |= set(range(first, last + 1))
    at = min(gone, default=len(words))
    kept = [w for i, w in enumerate(words) if i not in gone]
    return [*kept[:at], flag, value, *kept[at:]]


def _option_named(params: list[_click.Parameter], flag: str) -> Optional[_click.Parameter]:
    """The option ``flag`` is the first long spelling of (--name is the sandbox commands' own,
    dump's other one), or, for a short flag (-f), one of the spellings of."""
    return next((p for p in params if p.param_type_name == "option" and
                 (flag in p.opts if len(flag) == 2 else flag == next((o for o in p.opts if o.startswith("--")), ""))),
                None)


def _shaped_flag(params: list[_click.Parameter], word: str) -> Optional[tuple[_click.Parameter, str, str, str]]:
    """(option, what one names, what several name, its flag) the shape of a stray ``word``
    names (POSITIONAL_BY_SHAPE) when the command has that flag; None otherwise."""
    return next(((p, one, several, flag) for flag, one, several, shape in POSITIONAL_BY_SHAPE
                 if shape(word) and (p := _option_named(params, flag)) is not None), None)


def _ordered_flag(params: list[_click.Parameter]) -> Optional[tuple[_click.Parameter, str, str]]:
    """(option, what it names, its flag): the first of POSITIONAL_AS_FLAG the command has; None without any."""
    found = ((_option_named(params, flag), what, flag) for flag, what in POSITIONAL_AS_FLAG)
    return next(((p, what, flag) for p, what, flag in found if p is not None), None)


def _refused_as(ctx: _click.Context, param: _click.Parameter, flag: str, value: str) -> Optional[str]:
    """What the check ``flag`` applies on this command says of ``value`` (its own `FLAG VALUE: `
    left off); "" when it takes it, or has no check; None when the check could not tell."""
    from kmeshctl.cli.names import PATH_FLAGS, check_path_flag, flag_value_check

    words = tuple(ctx.command_path.split()[1:])
    own = POSITIONAL_CHECKS.get((*words, param.name or "")) or flag_value_check(param, words)
    checks = [check_path_flag] if param.name in PATH_FLAGS else []
    for check in [*checks, *([own] if own is not None else [])]:
        try:
            check(flag, value)
        except KmeshctlError as err:
            message = " ".join(str(err).split())
            head, sep, rest = message.partition(": ")
            return rest if sep and head.startswith(flag) else message
        except Exception:  # noqa: BLE001 - this runs inside an error message: a lookup gone wrong is no hint
            return None
    return ""


def _without_separator(args: list[str]) -> list[str]:
    """``args`` without their first `--`: a command that takes no arguments reads nothing
    after it, and the flag the fix adds in the stray word's place must not follow it."""
    return args[:args.index("--")] + args[args.index("--") + 1:] if "--" in args else args


def _with_help_pointer(line: str, err: Any) -> str:
    ctx = getattr(err, "ctx", None)
    if ctx is None:
        return _with_running_help_pointer(line)
    # the root refuses a global flag (`status --context ''`) before the command is parsed:
    # the help of the command typed (it lists the global flags too), not kmeshctl's
    path = typed_command_path(ctx.find_root().command, _ARGS) if ctx.parent is None else ctx.command_path
    return f"{line} (see '{path} --help')"


def typed_command_path(root: _click.Command, args: list[str]) -> str:
    """`kmeshctl sandbox status` for the words ``args`` (flags and their values skipped,
    wherever they are): the command the line names, as far as it names one."""
    command, words = root, ["kmeshctl"]
    for i in _word_positions(args):
        if not hasattr(command, "commands"):
            break
        if args[i] in command.commands:  # another word is a leading flag's value (`-n foo status`)
            command = command.commands[args[i]]
            words.append(args[i])
    return " ".join(words)


HELP_POINTER = re.compile(r" \(see '[^']*--help'\)$")


def _with_running_help_pointer(line: str) -> str:
    """A bad-input line (exit 2) ends as click's do: `(see 'kmeshctl COMMAND --help')`,
    naming the command being run (the innermost one parsed so far)."""
    if HELP_POINTER.search(line) or not _INVOKED:
        return line
    return f"{line} (see '{_INVOKED[-1].command_path} --help')"


SUGGEST_CLOSENESS = 0.75  # difflib ratio of the names without dashes: a typo, not a look-alike
MAX_SUGGESTIONS = 5


def option_suggestions(typed: str, command: _click.Command) -> list[str]:
    """The options of ``command`` (its own, and the global ones it takes anywhere on the
    line) that ``typed`` is a typo or a prefix of, closest first; none when nothing is
    close: `--kubconfig` -> --kubeconfig, `--pod` -> --pod-name, --pod-namespace."""
    import difflib

    names = {o for p in command.params if not getattr(p, "hidden", False) and p.param_type_name == "option"
             for o in (*p.opts, *p.secondary_opts) if o.startswith("--")}
    names |= set(GLOBAL_FLAGS) | {"--help"}
    word = typed.lstrip("-")
    scored = []
    for name in names:
        bare = name.lstrip("-")
        ratio = difflib.SequenceMatcher(None, word, bare).ratio()
        if name not in NEVER_GUESSED and (ratio >= SUGGEST_CLOSENESS or guessable(word, name)):
            scored.append((-ratio, name))  # never a --force, --all, ... (badinput.NEVER_GUESSED)
    return [name for _, name in sorted(scored)[:MAX_SUGGESTIONS]]


# Flags other tools spell differently: (typed, the parameter kmeshctl has for it, its hint).
HABITS = (("-c", "stdin", "; sandbox pods have no containers (a pod is a network namespace and a cgroup): "
                          "leave out -c"),
          ("--container", "stdin", "; sandbox pods have no containers: leave out --container"),
          ("-n", "", "; this command takes no namespace"),
          ("--namespace", "", "; this command takes no namespace"),
          # synonyms of other tools (fortio -n, hey -n, ab -n; kubectl's --sandbox-less names)
          ("--count", "requests", "; did you mean -c/--requests?"),
          ("--num", "requests", "; did you mean -c/--requests?"),
          ("--number", "requests", "; did you mean -c/--requests?"),
          ("--runs", "repeats", "; did you mean --repeats?"),
          ("--iterations", "repeats", "; did you mean --repeats?"),
          ("--time", "duration", "; did you mean --duration?"),
          ("--file", "files", "; did you mean -f/--filename?"))


def _habit_hint(typed: str, command: _click.Command) -> str:
    """A hint for a flag the user knows from kubectl/fortio that this command spells
    otherwise (`demo traffic-shift -n 10` -> -c/--requests); empty when none applies."""
    names = {p.name for p in command.params}
    if typed in ("-n", "--namespace") and "namespace" not in names and _takes_namespace_arguments(command):
        return _namespaces_as_arguments_hint(typed)
    for flag, param, hint in HABITS:
        if typed == flag and (param in names or not param):
            return hint
    return ""


def _takes_namespace_arguments(command: _click.Command) -> bool:
    """A command whose positional arguments are namespaces (enable-ns NAMESPACE...)."""
    return any(p.param_type_name == "argument" and str(getattr(p, "metavar", "") or "").startswith("NAMESPACE")
               for p in command.params)


def _namespaces_as_arguments_hint(typed: str) -> str:
    """`enable-ns -n foo` -> `kmeshctl enable-ns foo`: the namespaces are its arguments."""
    words = list(_ARGS)
    for i, word in enumerate(words):
        if word == typed:
            del words[i]
        elif word.startswith(typed + "=") or (typed == "-n" and word.startswith("-n") and len(word) > 2
                                               and not word.startswith("--")):
            words[i] = word[len(typed) + 1:] if word.startswith(typed + "=") else word[2:]
        else:
            continue
        if i < len(words) and words[i] in words[i + 1:]:  # `enable-ns -n foo foo`: foo once
            del words[i]
        break
    return f"; give the namespaces as arguments: `{shlex.join(['kmeshctl', *words])}`"


ALL_NAMESPACES_FLAGS = ("-A", "--all-namespaces")
# What to do instead of -A on a command without it: (command words, the advice).
ALL_NAMESPACES_INSTEAD = (
    (("sandbox", "list"), "it lists every sandbox on this machine already"),
    (("sandbox", "status"), "it shows the sandbox's pods of every namespace already"),
    (("sandbox", "exec"), "without -n the pod is looked for in every namespace"),
    (("sandbox", "down"), "sandboxes have no namespace; `kmeshctl sandbox down --all` removes every sandbox on this "
                          "machine"),
    (("dump",), "it shows the data path whole, the pods of every namespace already"),
    (("render",), "it renders kmesh's own objects, which live in the namespace of its -n"),
    (("waypoint",), "it acts on one namespace: give it with -n NAMESPACE (`kmeshctl waypoint list -A` lists every "
                    "namespace's waypoints)"),
)


def all_namespaces_hint(command: _click.Command, path: str) -> str:
    """`; status has no all-namespaces form: it covers every namespace already, leave out
    -A`: what the command does instead (kubectl users type -A on every command)."""
    words = tuple(path.split()[1:])
    flag = next((w.partition("=")[0] for w in _ARGS if w.partition("=")[0] in ALL_NAMESPACES_FLAGS), "-A")
    if _takes_namespace_arguments(command):
        example = next(iter(own_examples(command, path)), f"{path} NAMESPACE...")
        hint = f": {path} has no all-namespaces form; give the namespaces by name, e.g. `{example}`"
        return paste_ready(hint, _INVOKED[0].command) if _INVOKED else hint  # the example keeps --kubeconfig
    instead = next((text for prefix, text in ALL_NAMESPACES_INSTEAD if words[:len(prefix)] == prefix), None)
    if instead is None and words in SYSTEM_NAMESPACE_COMMANDS:
        instead = "it covers every namespace already (its -n is kmesh's own namespace, not a filter)"
    if instead is None:
        instead = "it works on no Kubernetes namespaces"
    leave = "" if "-n NAMESPACE" in instead else f"; leave out {flag}"
    hint = f": {path} has no all-namespaces form: {instead}{leave}"
    return paste_ready(hint, _INVOKED[0].command) if _INVOKED else hint  # its commands carry --kubeconfig


def _no_such_option_line(err: _click.exceptions.NoSuchOption) -> str:
    """click's "No such option" with only relevant suggestions (click's own difflib
    cut-off lets `--contxt` suggest --output, and never offers the global flags)."""
    ctx = err.ctx
    typed = err.option_name.partition("=")[0]
    if ctx is not None and typed in ALL_NAMESPACES_FLAGS:
        words = _command_words(_ARGS)
        command, used = _resolve(ctx.find_root().command, words)
        if command is None or hasattr(command, "commands"):
            command, path = ctx.command, ctx.command_path
        else:  # `sandbox -A list`: the group refused it; the advice is the subcommand's
            path = " ".join(["kmeshctl", *words[:used]])
        return f"Error: {typed}{all_namespaces_hint(command, path)} (see '{path} --help')"
    cluster = _unknown_in_cluster(err.option_name, ctx)
    fixed = with_dashes(ctx, _ARGS, err.option_name) if cluster and "--" not in _ARGS else ""  # `curl -sv`
    if fixed:
        return _with_help_pointer(f"Error: {cluster.partition(';')[0]} (the command to run goes after `--`: "
                                  f"{fixed})", err)
    if cluster:
        return _with_help_pointer(f"Error: {cluster}", err)
    # `sandbox exec POD curl -o F`: curl's -o, not ours; with_dashes finds the line only for a flag after POD
    fixed = with_dashes(ctx, _ARGS, err.option_name) if ctx is not None and "--" not in _ARGS else ""
    if ctx is not None and typed in OUTPUT_FLAGS and _option_spelled(ctx.command, typed) is None and not fixed:
        return f"Error: {ctx.command_path} takes no {'/'.join(OUTPUT_FLAGS)} (see '{ctx.command_path} --help')"
    line = f"Error: No such option: {err.option_name}"
    own = command_habit_hint(ctx.command_path, err.option_name, _ARGS) if ctx is not None else ""  # cli/badinput.py
    habit = own or (_habit_hint(err.option_name.partition("=")[0], ctx.command) if ctx is not None else "")
    if ctx is not None and err.option_name.startswith("--") and not own and "did you mean" not in habit:
        found = option_suggestions(err.option_name.partition("=")[0], ctx.command)
        if found:
            line += f"; did you mean {' or '.join(found) if len(found) <= 2 else ', '.join(found)}?"
    line += habit
    if fixed:
        line += f" (the command to run goes after `--`: {fixed})"
    return _with_help_pointer(line, err)


def _short_flags_of(command: _click.Command, root: _click.Command) -> dict[str, bool]:
    """The short flags ``command`` takes (its own, the root's: -q anywhere, -h), each with
    whether it takes a value."""
    found = {opt: takes_value(p) for c in (root, command) for p in c.params if p.param_type_name == "option"
             for opt in (*p.opts, *p.secondary_opts) if len(opt) == 2 and opt[1] != "-"}
    return {**found, **{opt: False for opt in HELP_OPTION_NAMES if len(opt) == 2}}


def _unknown_in_cluster(reported: str, ctx: Optional[_click.Context]) -> str:
    """For short flags typed together (`status -qx`): `No such option: -x in -qx; kmeshctl
    status's short flags: -h, -n, -o, -q`, naming the letter that is none of the
    command's (click names the first letter it could not place, which may be a good one,
    -q, that only the root takes); "" when ``reported`` did not come from such a word."""
    if ctx is None or len(reported) != 2 or reported[1] == "-":
        return ""
    known = _short_flags_of(ctx.command, ctx.find_root().command)
    valued = _options_by_kind(ctx.find_root().command)[0]
    words = _TYPED[:_TYPED.index("--")] if "--" in _TYPED else list(_TYPED)
    for word in words:
        if len(word) < 3 or word[0] != "-" or word[1] == "-" or not word[1:].isalpha() \
                or reported[1] not in word[1:] or known.get(word[:2], word[:2] in valued):
            continue  # no cluster of flags: `-nfoo` is -n's value glued on (here or on another command)
        for letter in word[1:]:
            if f"-{letter}" not in known:
                listed = ", ".join(sorted(known, key=lambda o: (o.lower(), o)))
                return f"No such option: -{letter} in {word}; {ctx.command_path}'s short flags: {listed}"
            if known[f"-{letter}"]:
                break  # the rest is that flag's value
    return ""


_UNDECODED = re.compile(r"[\udc80-\udcff]|\\udc([89a-f][0-9a-f])")


def visible(text: str) -> str:
    """An argument that was not UTF-8 (Python keeps its bytes as lone surrogates, which
    repr() spells `\\udcff`) shown as kubectl would: the byte, `\\xff`."""
    def byte(match: re.Match[str]) -> str:
        return f"\\x{match.group(1)}" if match.group(1) else f"\\x{ord(match.group()) - 0xdc00:02x}"

    return _UNDECODED.sub(byte, text)


def _fail(line: str) -> None:
    from kmeshctl.cli.progress import echo_coloured

    echo_coloured(bounded_line(visible(line)), typer.colors.RED)


def run_reporting_errors(run: Callable[[], Any], root: _click.Command) -> int:
    """Call ``run``; its result or failure as an exit code, each failure one line on stderr
    (the message's suggested commands made paste-ready, no internal class names)."""
    try:
        code = run()
    except _click.exceptions.NoArgsIsHelpError as err:
        typer.echo(err.format_message())  # a group without its subcommand: its help, nothing failed
        return 0
    except Exit as err:
        return err.exit_code
    except _click.exceptions.BadParameter as err:
        if isinstance(err, _click.exceptions.MissingParameter):
            _fail(_one_line_usage_error(err))
        else:
            _fail(_with_help_pointer(f"Error: {bad_value_line(err, _ARGS)}", err))
        return 2
    except _click.exceptions.NoSuchOption as err:
        if err.ctx is not None and err.option_name.partition("=")[0] in ALL_NAMESPACES_FLAGS and \
                {"--help", "-h"} & set(_ARGS[:_ARGS.index("--")] if "--" in _ARGS else _ARGS):
            typer.echo(err.ctx.get_help())  # `down -A --help`: the help asked for, which says what to use
            return 0
        _fail(_no_such_option_line(err))
        return 2
    except TyperException as err:
        _fail(_one_line_usage_error(err))
        return getattr(err, "exit_code", 2)
    except (Abort, KeyboardInterrupt, stopping.LetOut) as err:
        stop = stopping.stop_in(err)  # a signal, or Ctrl-C's KeyboardInterrupt; never click's `Aborted.`
        if stop is None:
            _fail("Aborted.")
            return 130
        stop = stopping.first_of_run() or stop
        stopping.say_once(stop)
        return stop.exit_code
    except KmeshctlError as err:
        line = f"Error: {as_the_user_reads(str(err), root)}"
        _fail(_with_running_help_pointer(line) if err.exit_code == EXIT_USAGE else line)
        return err.exit_code
    except PermissionError as err:
        where = f" ({err.filename})" if err.filename else ""
        _fail(f"Error: {err.strerror or 'permission denied'}{where}: run as root")
        return 1
    return code if isinstance(code, int) else 0
