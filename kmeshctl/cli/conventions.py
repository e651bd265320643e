"""The command-line conventions kubectl users expect, applied to every command at once
(so a command added later gets them too):

- `-h` as well as `--help` (set on the root context; every sub-context inherits it);
- the global `--kubeconfig` / `--context` accepted after the subcommand as well;
- help without Python type names: each option shows a word (TEXT, INTEGER, PATH, the
  choices) instead of typer's `<str>` / `<list[Path]>`;
- suggested fixes that work when pasted: a `kmeshctl ...` command quoted in backticks in a
  message gets the flags the user gave (`--name`, `--namespace`, `--bpf-fs`, ...) when the
  suggested command has them too (kmeshctl.cli.suggestions);
- every failure as one line (run_reporting_errors), with the hint of
  kmeshctl.cli.command_hints or kmeshctl.cli.option_hints.
"""

from __future__ import annotations

import inspect
import re
import shlex
import sys
from typing import Any, Callable, Optional

import typer

from typer import _click
from typer._click import _textwrap as _click_textwrap
from typer._click.core import ParameterSource
from typer.core import TyperGroup
from typer.exceptions import Abort, Exit, TyperException

from kmeshctl.cli.badinput import (bad_value_line, bounded_line, check_values_present, empty_value, strict_numbers,
                                   takes_value, is_value_of)
from kmeshctl.cli.badinput import every_bad_value, one_value_per_flag, single_dash_long_flags, working_lines
from kmeshctl.cli import cmdline
from kmeshctl.cli.cmdline import (ALL_NAMESPACES_FLAGS, GLOBAL_FLAGS, HELP_FLAGS, HELP_ONLY_COMMANDS, HELP_OPTION_NAMES,
                                  LEADING_FLAGS, NAMESPACE_FLAGS, QUIET_FLAGS, command_words, leading_flag,
                                  option_below, option_spelled, options_by_kind, resolve, walk, with_help_pointer,
                                  separator_at, with_running_help_pointer, word_positions)
from kmeshctl.cli.command_hints import (carry_typed_globals, missing_argument_line, missing_command_line,
                                        missing_command_text, no_such_command_line, words_around)
from kmeshctl.cli.option_hints import (NUMERIC_VALUE_FLAGS, all_namespaces_hint, command_as_equals_value,
                                       command_as_value_line, dry_run_value_hint, flag_value_hint, log_level_hint,
                                       no_such_option_line, on_off_hint, others_values_hidden, positional_name_hint,
                                       spaced_dry_run_value, spaced_on_off_line, split_context_line,
                                       takes_namespace_arguments, typed_level,
                                       value_missing_text, value_needed_line)
from kmeshctl.cli.option_hints import DRY_RUN_VALUES
from kmeshctl.cli.suggestions import as_the_user_reads, flag_as_typed, paste_ready, parseable
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

_TYPE_WORDS = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "path": "PATH", "Path": "PATH",
               "file": "PATH", "directory": "DIR", "int range": "INTEGER", "float range": "NUMBER"}


class _TrimmedFormatter(_click.formatting.HelpFormatter):
    """click's help with no line ending in whitespace: its usage line keeps a space after
    the command's path when the arguments go on the next line (a narrow terminal)."""

    def getvalue(self) -> str:
        return "\n".join(line.rstrip() for line in super().getvalue().split("\n"))


class _RecordingContext(_click.Context):
    formatter_class = _TrimmedFormatter

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.parent is None:
            cmdline.INVOKED.clear()
        cmdline.INVOKED.append(self)


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
            every_bad_value(command)  # several bad values: one error names them all
            if command is not self:
                _global_flags_named(command)
                _values_required(command)
                _ineffective_flags_warned(command)  # once every check passed: the command runs
                _cluster_flags_checked(command)  # innermost check: a bad name or value is reported first
                names_checked(command, lambda: cmdline.ARGS)
                _conflicts_checked(command)

    def make_context(self, *args: Any, **kwargs: Any) -> _click.Context:
        with stopping.past_click():  # a stop while click parses: kmeshctl.stopping's exit, not typer's 130
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: _click.Context) -> Any:
        with stopping.past_click():
            return super().invoke(ctx)

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
        if ctx.parent is None:
            cmdline.TYPED[:] = args
            # the words typed, for an error refuse_flag_values raises (its lines carry the flags typed)
            cmdline.ARGS[:] = args
            if not ctx.resilient_parsing:
                refuse_flag_values(args, self)
                _refuse_single_dash_long_flags(args, self)  # `-name`: --name, before -n's glued value
            args = split_short_equals(split_glued_shorts(args, self), self)
            args = server_dry_run_as_flag(args)
            cmdline.ARGS[:] = args
            if not ctx.resilient_parsing:  # shell completion parses half-typed lines
                # `kmeshctl --kubeconfig status`, `kmeshctl --context=status -o yaml`: no value given
                taken = command_as_value_line(self, args) or command_as_equals_value(self, args) or \
                    split_context_line(args, self)  # `--context my ctx` unquoted
                if taken:
                    raise _click.exceptions.UsageError(taken, ctx=ctx)
                _global_values_present(ctx, args)
            args = hoist_global_flags(args)
            args = gather_quiet_flag(self, args)  # `-q` in any place: the root's, and the command's own
            if not ctx.resilient_parsing:
                refuse_leading_command_flags(self, args)  # `kmeshctl --dry-run install`
            args = lower_group_flags(self, ctx, args)  # `kmeshctl sandbox -o json list`, `kmeshctl -q ...`
            args = lower_namespace_flag(self, ctx, args)  # first: `-o json` is no command word
            args = lower_help_flag(self, help_word_as_flag(self, args))
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


# A flag that does something only with an on/off flag on (`waypoint apply --timeout 5`
# bounds only --wait's wait): typed with it off, a warning on stderr, not a silent no-op; the
# command runs (kubectl warns too). With --dry-run nothing waits either way: the warning says
# so instead (`install --dry-run --timeout 60`, `uninstall --dry-run --timeout 60`, which has
# no --wait).
NEEDS_ON = (("timeout", "wait"),)


def _ineffective_flags_warned(command: _click.Command) -> None:
    """Wrap ``command``'s callback: a NEEDS_ON flag typed while its on/off flag is off gets
    `Warning: --timeout has effect only with --wait` (-q keeps it: the flag typed is unused);
    a command without the on/off flag (uninstall) only the --dry-run one."""
    callback = command.callback
    names = {p.name for p in command.params}
    pairs = [pair for pair in NEEDS_ON if pair[0] in names and (pair[1] in names or "dry_run" in names)]
    if callback is None or not pairs:
        return

    def warned(*positional: Any, **values: Any) -> Any:
        from typer._click.globals import get_current_context

        ctx = get_current_context()
        for flag, needed in pairs:
            if ctx.get_parameter_source(flag) != ParameterSource.COMMANDLINE:
                continue
            if values.get("dry_run"):
                typer.echo(f"Warning: {flag_as_typed(flag)} has no effect with {flag_as_typed('dry_run')} "
                           f"(nothing is changed, so nothing is waited for)", err=True)
            elif needed in values and not values[needed]:
                typer.echo(f"Warning: {flag_as_typed(flag)} has effect only with {flag_as_typed(needed)} "
                           f"({ctx.command_path.partition(' ')[2]} does not wait without it)", err=True)
        return callback(*positional, **values)

    command.callback = warned


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
        for first, second, why in typed_conflicts(ctx, values):
            one, other = flag_as_typed(first), flag_as_typed(second)
            lines = [shlex.split(line.strip("`")) for line in (_line_without(other), _line_without(one))]
            offered = working_lines(lines, ctx.find_root().command, required_said=True)
            raise KmeshctlUsageError(f"{one} and {other} do not go together ({why}): give one of them{offered}")
        return callback(*positional, **values)

    command.callback = checked


def typed_conflicts(ctx: _click.Context, values: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The CONFLICTS pairs both typed on ``ctx``'s line, with both on in ``values``."""
    return [(first, second, why) for first, second, why in CONFLICTS
            if all(values.get(n) and ctx.get_parameter_source(n) == ParameterSource.COMMANDLINE
                   for n in (first, second))]


def _line_without(flag: str) -> str:
    """`kmeshctl ...` backticked: the line typed without the on/off ``flag``."""
    return f"`{shlex.join(['kmeshctl', *cmdline.without_flag(cmdline.ARGS, flag, valued=False)])}`"


# Commands that check the cluster flags themselves (check_typed_cluster_flags), after
# output that comes first whatever the flags are (`version` prints the client's version),
# or with their other flags (`demo traffic-shift`: a sandbox named beside a cluster); and
# the offline ones that never read a kubeconfig (as kubectl's completion ignores it).
SELF_CHECKED_COMMANDS = frozenset({"version", "traffic-shift", "completion", "render"})


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


def _global_values_present(ctx: _click.Context, args: list[str]) -> None:
    """`status --context` (nothing after it, or another flag): click's "requires an
    argument", not "No such option" from the subcommand the flag was not hoisted past."""
    for i, arg in enumerate(args):
        if arg == "--":
            return
        flag, equals, inline = arg.partition("=")
        if equals and flag in GLOBAL_FLAGS and not inline:
            raise _global_empty(ctx, flag)
        if arg not in GLOBAL_FLAGS:
            continue
        following = args[i + 1] if i + 1 < len(args) else None
        if following is None or (following.startswith("-") and following != "-" and
                                  not is_value_of(_global_param(ctx, arg), following)):
            raise _click.exceptions.BadOptionUsage(arg, f"Option '{arg}' requires an argument.", ctx=ctx)
        if following == "":
            raise _global_empty(ctx, arg)


def _global_empty(ctx: _click.Context, flag: str) -> Exception:
    """`--request-timeout ''`: said alone, or with every bad value of the command line it
    comes with (badinput.all_said), as a root's bad value is."""
    from kmeshctl.cli.badinput import _VERIFYING, all_said, with_command_problems

    param = _global_param(ctx, flag)
    empty = empty_value(flag, param, ctx)
    if param is None or _VERIFYING:
        return empty
    try:
        lines = with_command_problems(ctx.command, empty.format_message(), param)
    except Exception:  # noqa: BLE001 - the others could not be told: the empty value alone
        return empty
    # bad values only: not flags left out, nor the help a bare `kmeshctl` prints
    lines = [line for line in lines if " is required (" not in line and "\n" not in line]
    return all_said(lines) if len(lines) >= 2 else empty


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


def _valued_short_options(root: _click.Command) -> set[str]:
    """Every short option that takes a value (`-o`, `-n`, `-c`, `-f`, ...) in any command."""
    return {opt for command in walk(root) for p in command.params if p.param_type_name == "option"
            and not getattr(p, "is_flag", False) for opt in p.opts
            if len(opt) == 2 and opt[0] == "-" and opt[1] != "-"}


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
    valued, flags = options_by_kind(root)
    shorts = {o for o in valued if len(o) == 2}, {o for o in flags if len(o) == 2}
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            return out + args[i:]
        out += [arg] if i and args[i - 1] in valued | set(GLOBAL_FLAGS) else _unglued(arg, *shorts)
    return out


def split_short_equals(args: list[str], root: _click.Command) -> list[str]:
    """`-o=json` -> `-o json`, as kubectl (pflag) reads a short flag with `=`; click would
    take "=json" as the value. Nothing after `--` changes. A short flag that takes no value
    in any command (`-A=1`) stays whole: its value is no word of its own (no namespace 1)."""
    shorts = _valued_short_options(root)
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
    spaced = spaced_on_off_line(args, chain)  # `--wait false`, `--dry-run=true`: every one in one line
    if spaced:
        line = re.search(r"`(kmeshctl [^`]*)`", spaced)
        gathered = _with_other_values(spaced.partition(": `")[0] if line else spaced,
                                      [shlex.split(line.group(1))] if line else [], root)
        raise KmeshctlUsageError(f"{gathered or spaced} (see '{path} --help')")
    for i, arg in enumerate(args):
        if arg == "--":
            return
        flag, equals, _ = arg.partition("=")
        if not equals and arg[:2] in NUMERIC_VALUE_FLAGS and arg[2:].isdigit():  # kubectl's `-v6`: its -v=6
            flag, equals = arg[:2], "="
        if not equals or not _is_flag_word(flag) or arg == "--dry-run=server" or flag in HELP_FLAGS or \
                (i and args[i - 1] in GLOBAL_FLAGS):  # `--context --quiet=x` is a (bad) value
            continue
        option = next((o for c in reversed(chain) if (o := option_spelled(c, flag)) is not None), None)
        if option is not None and getattr(option, "is_flag", False) and not getattr(option, "count", False):
            if _command_mistyped(root, args, i):
                return  # `sandbx status -q=1`: the typo's own lines (no_such_command_line) mend the value too
            _refuse_later_typo(root, args)  # `-q=1 statsu`: the same lines as `statsu -q=1`
            hint = _value_hint(option, flag, chain, args)
            said = f"Option '{flag}' does not take a value{hint}"
            value = arg.partition("=")[2].lower()
            if flag not in NUMERIC_VALUE_FLAGS and (flag != "--dry-run" or value not in DRY_RUN_VALUES) or \
                    value in cmdline.TRUE_FALSE_WORDS:  # kubectl's -v=6 and --dry-run=client: their own hint
                said = _with_other_values(re.sub(r",? ?`[^`]*`(?: or `[^`]*`)*", "", said),
                                          _either_state(args, i, option, flag, root), root) or said
            raise KmeshctlUsageError(f"{said} (see '{path} --help')")


def _either_state(args: list[str], at: int, option: _click.Parameter, flag: str, root: _click.Command
                  ) -> list[list[str]]:
    """The line typed (``args``) with its on/off `FLAG=VALUE` (word ``at``) written as kmeshctl
    spells it: as the value says (a true/false word), else each way (on; off or left out)."""
    value = args[at].partition("=")[2].lower()
    on = [flag if flag in option.opts else option.opts[0]]
    off = list(option.secondary_opts[:1]) if flag in option.opts else [flag]
    from kmeshctl.cli.option_hints import _both_states_typed

    words = [*args[:at], *args[at + 1:]]
    if _both_states_typed(option, args):  # `--client=false --client`: each state, neither kept twice
        end = cmdline.separator_at(words)
        spellings = (*option.opts, *option.secondary_opts)
        gone = [i for i, w in enumerate(words[:end]) if w.partition("=")[0] in spellings]
        at = gone[0] if gone and gone[0] < at else at
        words = [w for i, w in enumerate(words) if i not in gone]
        states = [on, off]
    elif value in cmdline.TRUE_FALSE_WORDS:
        states = [on if (value not in cmdline.FALSE_WORDS) == (flag in option.opts) else off]
    else:
        states = [on, off]
    named = len(_commands_named(root, words)) - 1
    # in its place, unless typed before the command's words (a group's flag is no subcommand's): after them
    place = max(at, _position_after_words(words, named)) if named else at
    return [["kmeshctl", *words[:place], *state, *words[place:]] for state in states]


def _given_after_too(command: _click.Command, path: str, kept: list[str], words: list[str], rest: list[str]) -> None:
    """`node --bpf-fs '' cleanup --bpf-fs /x`: a subcommand's valued flag (``words``, typed
    before it) given after it too (in ``rest``): one value each, the lines keeping each that
    work (the same value twice: the line once); nothing when it is given once."""
    from kmeshctl.cli.badinput import typed_value, working_lines

    option = option_spelled(command, words[0].partition("=")[0])
    if option is None or getattr(option, "is_flag", False):
        return
    later = typed_value(rest, *option.opts)
    if later is None:
        return
    first = words[0].partition("=")[2] if "=" in words[0] else words[1] if len(words) > 1 else ""
    if first == later:
        raise KmeshctlUsageError(f"{words[0].partition('=')[0]} {shlex.quote(first)} is given twice: once is enough, "
                                 f"`{shlex.join(['kmeshctl', *kept, *rest])}` (see '{path} --help')")
    flag = words[0].partition("=")[0]
    lines = [["kmeshctl", *kept, *rest],
             ["kmeshctl", *kept, *words, *cmdline.without_flag(rest, option.opts[0], valued=True)]]
    root = cmdline.INVOKED[0].command if cmdline.INVOKED else None
    raise KmeshctlUsageError(
        f"{flag} is given twice, {shlex.quote(first)} before {path.rpartition(' ')[2]} and {shlex.quote(later)} after "
        f"it: {flag} takes one value, give one{working_lines(lines, root) if root else ''} (see '{path} --help')")


def _with_other_values(said: str, candidates: list[list[str]], root: _click.Command) -> Optional[str]:
    """badinput.either_lines: ``said`` with the line's other bad values and the lines that work."""
    from kmeshctl.cli.badinput import either_lines

    try:
        return either_lines(said.rstrip(" ,:;"), candidates, root) if candidates else None
    except Exception:  # noqa: BLE001 - the others could not be told: the on/off mistake alone
        return None


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
    for word in command_words(args):
        subs = getattr(chain[-1], "commands", None)
        if subs is None:
            break
        if word in subs:
            chain.append(subs[word])
    return chain


def _command_mistyped(root: _click.Command, args: list[str], at: int) -> bool:
    """A group's command word of ``args`` (`waypoint lst`, `sandbx status`) is none of its
    commands, and typed before word ``at`` (`-q=1 statsu`: the root refuses -q=1 first)."""
    args = others_values_hidden(root, args)
    words, mistyped = cmdline.commands_typed(root, args)
    if not mistyped:
        return False
    positions = [i for i in cmdline.walk_words(args[:cmdline.separator_at(args)], leading_values=True)
                 if not args[i].startswith("-") or args[i] == "-"]
    return positions[len(words)] < at  # the word after those that name commands


def _refuse_later_typo(root: _click.Command, args: list[str]) -> None:
    """A group's command word of ``args`` that is none of its commands (typed after an on/off
    flag given a value, `-q=1 statsu`, `--quiet=true waypoint lst`): the error click gives for
    that word alone, so its lines (no_such_command_line) mend the value as they do for
    `statsu -q=1`; nothing when every command word is one."""
    words, mistyped = cmdline.commands_typed(root, others_values_hidden(root, args))
    if not mistyped:
        return
    positions = [i for i in cmdline.walk_words(args[:cmdline.separator_at(args)], leading_values=True)
                 if not args[i].startswith("-") or args[i] == "-"]
    ctx = _click.Context(root, info_name="kmeshctl", resilient_parsing=True)
    for word in words:
        ctx = _click.Context(ctx.command.commands[word], info_name=word, parent=ctx,  # type: ignore[attr-defined]
                             resilient_parsing=True)
    raise _click.exceptions.UsageError(f"No such command {args[positions[len(words)]]!r}.", ctx=ctx)


def _value_hint(option: _click.Parameter, flag: str, chain: list[_click.Command], args: list[str]) -> str:
    """How kmeshctl spells ``flag`` on and off; for --dry-run, what it is (kubectl's
    --dry-run=client|server|none); for kubectl's log level (`-v=6`), that -v takes none."""
    if flag in NUMERIC_VALUE_FLAGS and typed_level(flag, args):
        return log_level_hint(chain[-1], " ".join(c.name for c in chain[1:] if c.name), flag, args)
    if flag != "--dry-run":
        return on_off_hint(option, flag, args, chain[0])
    return dry_run_value_hint(chain[-1], " ".join(c.name for c in chain[1:] if c.name), args, chain[0])


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
        entry = leading_flag(arg)
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


def _position_after_words(args: list[str], count: int) -> int:
    """The index just after the ``count``-th command word of ``args``."""
    return word_positions(args)[count - 1] + 1


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
    words = command_words(rest)
    command, used = resolve(root, words)
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
            missing_command_text(command or root, path, shown.split(), args, first_only=command is None), ctx=ctx)
    for flag_words in taken:
        flag = flag_words[0].partition("=")[0]
        spellings = leading_flag(flag)[0]  # type: ignore[index]
        if not any(opt in p.opts for p in command.params for opt in spellings) and not ctx.resilient_parsing:
            if spellings == ALL_NAMESPACES_FLAGS:
                raise KmeshctlUsageError(f"{flag}{all_namespaces_hint(command, path)} (see '{path} --help')")
            hint = _leading_namespace_as_argument(command, flag_words, rest, used) \
                if spellings == NAMESPACE_FLAGS else ""
            raise _click.exceptions.UsageError(f"{path} takes no {'/'.join(spellings)}{hint} (see '{path} --help')")
    last = _position_after_words(rest, used)
    return rest[:last] + [w for flag_words in taken for w in flag_words] + rest[last:]


# Flags kubectl users give anywhere, as kubectl's global ones: (spellings, takes a value).
ANYWHERE_FLAGS = LEADING_FLAGS + ((QUIET_FLAGS, False),)


def gather_quiet_flag(root: _click.Command, args: list[str]) -> list[str]:
    """`-q/--quiet` anywhere before `--` (before the group, between group and subcommand,
    after the subcommand) moves to the front, where the root parses it (every quiet-aware
    line reads it: kmeshctl.cli.progress), and also after the command when that command
    has a -q of its own. Typed twice, it is still one flag."""
    cut = separator_at(args)
    quiet = [i for i, arg in enumerate(args[:cut]) if arg in QUIET_FLAGS and
             not (i and args[i - 1] in GLOBAL_FLAGS)]  # `--context -q` is a (bad) value, not the flag
    if not quiet:
        return args
    rest = [arg for i, arg in enumerate(args) if i not in quiet]
    command, end = root, 0
    for i in word_positions(rest):
        if not hasattr(command, "commands"):
            break
        if rest[i] in command.commands:  # another word is a leading flag's value (`-n foo status`)
            command, end = command.commands[rest[i]], i + 1
    if end and option_spelled(command, "-q") is not None:
        rest = rest[:end] + ["-q"] + rest[end:]
    return ["-q", *rest]


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
            option = option_below(command, flag)
            if option is None:
                return args  # unknown here: click says so
            takes = entry[1] if entry is not None else not getattr(option, "is_flag", False)
            words = args[i:i + (2 if takes and not equals else 1)]
            if entry is not None and takes and not ctx.resilient_parsing and (not equals or not arg.partition("=")[2]) \
                    and _value_missing(option, [] if equals else args[i + 1:i + 2], command):  # `sandbox -o`
                group_path = " ".join(["kmeshctl", *names])
                raise _click.exceptions.UsageError(value_missing_text(command, group_path, args, i), ctx=ctx)
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
    # `sandbox -o json`, `sandbox --name x`: a subcommand's flag and no subcommand
    if moved and hasattr(command, "commands") and not ctx.resilient_parsing \
            and command is not root and not (i < len(args) and args[i] in HELP_FLAGS):
        if i < len(args) and args[i] != "--" and not args[i].startswith("-"):  # `sandbox -o json lsit`: click
            return [*kept, *args[i:]]  # says the word is no command (its hint has the flags: words_around)
        shown = " ".join(w for _, _, words in moved for w in words)
        raise _click.exceptions.UsageError(missing_command_text(command, path, shown.split(), args), ctx=ctx)
    if not moved or hasattr(command, "commands"):
        return args
    rest, after = args[i:], []
    for flag, entry, words in moved:
        if option_spelled(command, flag) is not None:
            if entry is None and not ctx.resilient_parsing:  # the subcommand's own flag
                _given_after_too(command, path, kept, words, rest)
                fixed = shlex.join(["kmeshctl", *kept, *[w for _, _, ws in moved for w in ws], *_once_quiet(kept, rest)])
                raise KmeshctlUsageError(f"put {flag} after the subcommand: `{fixed}` (see '{path} --help')")
            after += words
        elif not ctx.resilient_parsing and flag in ALL_NAMESPACES_FLAGS:
            raise KmeshctlUsageError(f"{flag}{all_namespaces_hint(command, path)} (see '{path} --help')")
        elif not ctx.resilient_parsing:
            raise KmeshctlUsageError(f"{path} takes no {'/'.join(entry[0]) if entry else flag} (see '{path} --help')")
    return kept + after + rest


def _once_quiet(kept: list[str], rest: list[str]) -> list[str]:
    """``rest`` without the -q gather_quiet_flag put after the command when ``kept`` (the
    line's front) has it: the user typed -q once, the line shows it once."""
    if "-q" not in kept or "-q" not in rest:
        return rest
    at = rest.index("-q")
    return rest[:at] + rest[at + 1:]


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
        entry = leading_flag(arg)
        if entry is not None and entry[1] and ("=" not in arg or arg.endswith("=")):
            option = option_below(root, arg.partition("=")[0])
            if option is not None and _value_missing(option, [] if "=" in arg else args[i + 1:i + 2], root):
                raise _click.exceptions.UsageError(value_missing_text(root, "kmeshctl", args, i), ctx=ctx)
            i += 2
            continue
        i += 1


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
    words = command_words(args[at:])
    command, used = resolve(root, words)
    if command is None or hasattr(command, "commands"):
        return
    for i, arg in enumerate(leading):
        flag = arg.partition("=")[0]
        if not arg.startswith("-") or flag in root_flags or flag in anywhere:
            continue
        option = option_spelled(command, flag)
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
    if not takes_namespace_arguments(command):
        return ""
    value = flag_words[1] if len(flag_words) > 1 else flag_words[0].partition("=")[2]
    last = _position_after_words(rest, used)
    given = [value] if value not in rest[last:] else []  # `-n foo enable-ns foo`: foo once
    from kmeshctl.cli.option_hints import _namespace_arguments, added_namespaces_said

    others = given and _namespace_arguments([command.name, *rest[last:]], command)
    note = f" ({added_namespaces_said(given, command)})" if others else ""
    return f"; give the namespaces as arguments: `{shlex.join(['kmeshctl', *rest[:last], *given, *rest[last:]])}`" \
           f"{note}"


HELP_WORD = "help"


def help_word_as_flag(root: _click.Command, args: list[str]) -> list[str]:
    """`help` typed below the root as kubectl users type it (`kmeshctl sandbox help up`,
    `kmeshctl demo help`, `kmeshctl status help`): the help of the command named, as
    `kmeshctl help sandbox up` prints it, never a guess that runs a command or takes `help`
    as a name. A group's own `help` command, an option's value (`--name help`) and the
    words of a command that takes arguments (`sandbox exec web help`, `enable-ns help`: a
    namespace may be named help) are left as typed, unless `help` alone could be none of
    them (`completion help`, `sandbox exec help`)."""
    positions = word_positions(args)
    words = [args[i] for i in positions]
    command, used = resolve(root, words)
    if command is None:
        return args
    if hasattr(command, "commands"):
        if used < len(words) and words[used] == HELP_WORD and HELP_WORD not in command.commands:
            return args[:positions[used]] + ["--help"] + args[positions[used] + 1:]
        return args
    stray = _stray_help_word(command, args, positions[used - 1] + 1)
    return args if stray is None else args[:stray] + ["--help"] + args[stray + 1:]


def _stray_help_word(command: _click.Command, args: list[str], start: int) -> Optional[int]:
    """Where `help` stands as a stray word after ``command``'s name (from ``start``): on a
    command that takes no arguments, any such word; on one that does, `help` as the only
    word when no argument can be it (see _arguments_refuse_help). None when it is an
    option's value, follows `--`, or is not there."""
    positional = _positional_words(command, args, start)
    if not any(p.param_type_name == "argument" for p in command.params):
        return next((i for i in positional if args[i] == HELP_WORD), None)
    alone = len(positional) == 1 and args[positional[0]] == HELP_WORD and "--" not in args[start:]
    return positional[0] if alone and _arguments_refuse_help(command) else None


def _positional_words(command: _click.Command, args: list[str], start: int) -> list[int]:
    """The indexes of the words of ``args`` from ``start`` up to `--` that are no option
    and no option's value (`--name help`: a value; `--name=help` is one word)."""
    valued = {o for p in command.params if takes_value(p) for o in p.opts}
    found: list[int] = []
    skip = False
    for i in range(start, len(args)):
        arg = args[i]
        if skip:
            skip = False
        elif arg == "--":
            break
        elif arg.startswith("-"):
            skip = arg in valued or arg in GLOBAL_FLAGS
        else:
            found.append(i)
    return found


def _arguments_refuse_help(command: _click.Command) -> bool:
    """`help` typed alone can be none of ``command``'s arguments: the first takes a closed
    list of values that has no `help` (`completion bash|zsh|fish`), or a later one is the
    command after `--`, which the line has not (`sandbox exec help`: a pod with nothing to
    run in it would be refused)."""
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    choices = str(arguments[0].metavar or "").split("|")
    closed = len(choices) > 1 and HELP_WORD not in choices
    return closed or any(str(p.metavar or "").startswith("-- ") for p in arguments[1:])


def lower_help_flag(root: _click.Command, args: list[str]) -> list[str]:
    """`kmeshctl -h sandbox` (or `kmeshctl --help sandbox up`, `kmeshctl sandbox -h up`)
    prints the help of the command named, as `kmeshctl help sandbox` does; `kmeshctl -h
    nosuch` fails as `kmeshctl nosuch -h` does ("No such command", exit 2), never the
    help of the group the unknown word was given to."""
    positions = word_positions(args)
    words = [args[i] for i in positions]
    command, used = resolve(root, words)
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
                     "(no line on stderr but errors and the warnings that need a fix), before or after the command "
                     "(see 'kmeshctl --help').")


def _global_flags_named(command: _click.Command) -> None:
    """Each command's help ends as kubectl's ("Use 'kubectl options' for a list of global
    command-line options"): the global flags it takes too are named."""
    if not command.epilog:
        command.epilog = GLOBAL_FLAGS_LINE


SHORT_HELP_WIDTH = 62  # a group's list: 80 columns less the indent and a long command name


def _one_line_short_help(command: _click.Command) -> None:
    """A group's command list shows each command in one short line, as kubectl's: the
    first sentence of its help, shortened (short_line); the whole text is its own --help."""
    if command.short_help is None and command.help:
        first = " ".join(command.help.strip().split("\n\n")[0].split())
        command.short_help = short_line(first)


_FIRST_SENTENCE = re.compile(r"(?<=[a-z0-9)])\.(?=\s+[A-Z(])")
_PARENTHETICAL = re.compile(r" \([^()]*\)")
_CLAUSE_END = re.compile(r"[;:] ")


def short_line(text: str, width: int = SHORT_HELP_WIDTH) -> str:
    """``text``'s first sentence, within ``width`` where a cut reads whole: its
    parentheses left out, then what follows its first `;` or `:` (the main clause kept);
    a longer main clause is kept whole (two lines at most, never a list cut halfway)."""
    sentence = _FIRST_SENTENCE.split(text, maxsplit=1)[0].rstrip(".")
    for shorter in (lambda t: _PARENTHETICAL.sub("", t), lambda t: _CLAUSE_END.split(t, maxsplit=1)[0]):
        if len(sentence) > width:
            sentence = shorter(sentence)
    return sentence.rstrip(",;: ") + "."


# ------------------------------------------------------------------ errors

COMPLETE_VAR = "_KMESHCTL_COMPLETE"


def _one_line_usage_error(err: Any) -> str:
    """Click's usage errors as one line, with where to look instead of the usage block."""
    message = " ".join(err.format_message().split())
    own = _own_words(message, err)
    ctx = getattr(err, "ctx", None)
    if own and ctx is not None:
        own = paste_ready(own, ctx.find_root().command)  # its example keeps the user's flags
    if own and ctx is not None and _NO_SUCH_COMMAND.match(message) and _points_elsewhere(own, ctx):
        return f"Error: {own} (see '{ctx.command_path} --help')"  # `sandbx status`: the group's help, not status'
    if own:
        return with_help_pointer(f"Error: {own}", err)
    hint = positional_name_hint(message, err) or flag_value_hint(message)
    if hint.startswith(";"):  # click's sentence goes on with the hint
        message = message.rstrip(".")
    return with_help_pointer(f"Error: {message}{hint}", err)


def _points_elsewhere(said: str, ctx: _click.Context) -> bool:
    """The command the words typed name (`sandbx status`: status, sandbx passed over) is that of
    none of the lines ``said`` offers (`kmeshctl sandbox status`): its help is no pointer."""
    from kmeshctl.cli.suggestions import _command_path

    root = ctx.find_root().command
    typed = cmdline.typed_command_path(root, cmdline.ARGS).split()
    lines = [shlex.split(line) for line in re.findall(r"`(kmeshctl [^`]*)`", said)]
    return bool(lines) and all(_command_path(root, line)[:len(typed)] != typed for line in lines)


_REQUIRES_VALUE = re.compile(r"^Option '([^']+)' requires an argument\.$")
_MISSING_ARGUMENT = re.compile(r"^Missing argument '([^']+)'\.$")
_NO_SUCH_COMMAND = re.compile(r"^No such command '(.*?)'\.")


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
        return missing_argument_line(found.group(1), ctx)
    found = _NO_SUCH_COMMAND.match(message)
    if found and ctx is not None:
        return no_such_command_line(found.group(1), ctx, words_around(found.group(1), ctx))
    if message == "Missing command." and ctx is not None:
        return missing_command_line(ctx)
    return spaced_dry_run_value(message, ctx)


def server_dry_run_as_flag(args: list[str]) -> list[str]:
    """kubectl's `--dry-run=server` is what kmeshctl's --dry-run does (the API server checks
    every object, nothing changes): read as --dry-run (before `--` only)."""
    end = separator_at(args)
    return ["--dry-run" if word == "--dry-run=server" else word for word in args[:end]] + args[end:]


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


def _with_typed_globals(line: str, root: _click.Command) -> str:
    """A line about bad input (click may have refused the line before the root read its
    flags): each suggested kmeshctl command with the --kubeconfig / --context /
    --request-timeout typed, as every other message's (suggestions.paste_ready), and
    without any other mistake of the line typed (suggestions.parseable)."""
    return parseable(carry_typed_globals(line, cmdline.ARGS), root)


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
            _fail(_with_typed_globals(_one_line_usage_error(err), root))
        else:
            _fail(_with_typed_globals(with_help_pointer(f"Error: {bad_value_line(err, cmdline.ARGS)}", err), root))
        return 2
    except _click.exceptions.NoSuchOption as err:
        if err.ctx is not None and err.option_name.partition("=")[0] in ALL_NAMESPACES_FLAGS and \
                {"--help", "-h"} & set(cmdline.ARGS[:cmdline.ARGS.index("--")] if "--" in cmdline.ARGS
                                       else cmdline.ARGS):
            typer.echo(err.ctx.get_help())  # `down -A --help`: the help asked for, which says what to use
            return 0
        _fail(_with_typed_globals(no_such_option_line(err), root))
        return 2
    except TyperException as err:
        _fail(_with_typed_globals(_one_line_usage_error(err), root))
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
        # bad input: its lines to paste are built from the words typed (a failure's may quote another run's)
        _fail(with_running_help_pointer(parseable(line, root)) if err.exit_code == EXIT_USAGE else line)
        return err.exit_code
    except PermissionError as err:
        where = f" ({err.filename})" if err.filename else ""
        _fail(f"Error: {err.strerror or 'permission denied'}{where}: run as root")
        return 1
    return code if isinstance(code, int) else 0
