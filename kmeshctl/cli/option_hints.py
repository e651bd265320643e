"""The lines for a bad or unknown option, or stray values: a flag without its value, an
on/off flag given one (kubectl's `--wait=false`, `--dry-run client`), values typed where
the command takes them only as flags, and an option the command does not have (a typo,
another tool's spelling, -A on a command with no all-namespaces form)."""

from __future__ import annotations

import itertools
import os
import re
import shlex
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

from typer import _click

from kmeshctl.cli import cmdline
from kmeshctl.cli.badinput import (NEVER_GUESSED, command_habit_hint, guessable, takes_value, typed_target,
                                   typed_value, with_dashes)
from kmeshctl.cli.cmdline import (ALL_NAMESPACES_FLAGS, GLOBAL_FLAGS, HELP_FLAGS, HELP_OPTION_NAMES, OUTPUT_FLAGS,
                                  command_words, leading_flag, next_command_word, option_below, option_spelled,
                                  options_by_kind, resolve, spelled, separator_at, typed_command_path,
                                  value_is_command, walk_words, with_help_pointer)
from kmeshctl.cli.command_hints import (carry_typed_globals, changes_in_words, changing_command, commands_with,
                                       own_examples, run_with, typed_line)
from kmeshctl.cli.suggestions import LOCAL_GROUPS, SUGGEST_CLOSENESS, SYSTEM_NAMESPACE_COMMANDS, flag_meaning, \
    kubectl_line, paste_ready
from kmeshctl.errors import KmeshctlError, spoken_list


def _param_of(ctx: Optional[_click.Context], flag: str) -> Optional[_click.Parameter]:
    """The option spelled ``flag`` of the context's command, else of the root (a global flag)."""
    for each in (ctx, ctx.find_root() if ctx is not None else None):
        found = option_spelled(each.command, flag) if each is not None else None
        if found is not None:
            return found
    return None


def flag_example(param: Optional[_click.Parameter], ctx: Optional[_click.Context] = None) -> str:
    """A value ``param`` takes, for an example: its default when it has one, the first
    choice, a name its rule accepts, else (given the ``ctx`` it is typed in) the value a
    help example gives it (_help_examples_value); empty when none can be given (a
    kubeconfig path)."""
    found = _own_example(param)
    return found or (_help_examples_value(param, ctx) if param is not None and ctx is not None and
                     param.name not in KUBECONFIG_EXAMPLES else "")


def _own_example(param: Optional[_click.Parameter]) -> str:
    from kmeshctl.cli.names import example_name

    if param is None:
        return ""
    if param.name in KUBECONFIG_EXAMPLES:
        return KUBECONFIG_EXAMPLES[param.name]()
    default = param.default
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None and descriptor.is_choice and descriptor.choices:
        first = descriptor.choices[0]
        return str(getattr(first, "value", first))
    named = example_name(param)
    if named:
        return named
    if isinstance(default, bool) or default is None or default == "":
        return _help_example(param)
    if isinstance(default, (int, float)):
        return f"{default:g}"
    return str(getattr(default, "value", default))


def _help_examples_value(param: _click.Parameter, ctx: _click.Context) -> str:
    """The value an example line of a help gives ``param``'s flag: the command's own help
    first (`dump maps --map km_manage`, `bench cleanup --run-id 3f9a1c`), else another
    command's whose option of that name is spelled the same (`node cleanup --bpf-fs
    /sys/fs/bpf/kmesh` for dump maps' --bpf-fs); "" when no example gives it one."""
    root = ctx.find_root()
    for command, path in [(ctx.command, ctx.command_path), *_commands_below(root.command, root.info_name or "")]:
        same = option_spelled(command, param.opts[0])
        if same is None or same.name != param.name:
            continue
        for line in own_examples(command, path):
            try:
                value = typed_value(shlex.split(line), *param.opts)
            except ValueError:
                continue
            if value and not value.startswith(("-", "$")) and not value.isupper():  # a value, no placeholder
                return value
    return ""


def _commands_below(group: _click.Command, path: str) -> Iterable[tuple[_click.Command, str]]:
    """(command, its path) of each command below ``group`` (spelled ``path``), depth first."""
    for name, command in sorted(getattr(group, "commands", {}).items()):
        yield command, f"{path} {name}"
        yield from _commands_below(command, f"{path} {name}")


# The first value of a help's `e.g. 90/10,50/50` (to a comma, a space, `;` or `)`).
_HELP_EXAMPLE = re.compile(r"\be\.g\. ([^\s,;()]+)")


def _help_example(param: _click.Parameter) -> str:
    """The value a flag's help gives as its example (--weights: `e.g. 90/10,50/50` -> 90/10), else ""."""
    found = _HELP_EXAMPLE.search(str(getattr(param, "help", "") or ""))
    return found.group(1) if found else ""


def _context_example() -> str:
    """None: a context in a line offered would be one the user did not choose (the
    kubeconfig's first); lines say --context NAME, the contexts listed (values_known)."""
    return ""


def _kubeconfig_example() -> str:
    """$KUBECONFIG's first file that exists, else ~/.kube/config spelled out (a quoted ~ is
    no home) when it exists; "" when none does (a path that is not there would not paste)."""
    from kmeshctl.kube import DEFAULT_KUBECONFIG

    candidates = [f for f in os.environ.get("KUBECONFIG", "").split(os.pathsep) if f]
    return next((f for f in candidates or [os.path.expanduser(DEFAULT_KUBECONFIG)] if os.path.isfile(f)), "")


# Global flags whose example is read from this machine: (parameter name) -> the example.
KUBECONFIG_EXAMPLES: dict[str, Callable[[], str]] = {"context": _context_example, "kubeconfig": _kubeconfig_example}


def typed_contexts() -> tuple[str, list[str]]:
    """(the kubeconfig the typed line names, its context names; none when it cannot be read)."""
    path, contexts = _kubeconfig_contexts(cmdline.ARGS)
    return path, [str(c["name"]) for c in contexts]


def values_known(param: Optional[_click.Parameter]) -> str:
    """` (contexts in ~/.kube/config: a, b)` for --context, as its unknown-context error
    lists them (or the kubeconfig that is missing); ` (one of a, b)` for a flag of
    LISTED_VALUES; "" for another flag, or a kubeconfig that cannot be read."""
    listed = LISTED_VALUES.get(param.name or "") if param is not None else None
    if listed is not None:
        return f" (one of {', '.join(listed())})"
    if param is None or param.name != "context":
        return ""
    path, names = typed_contexts()
    if not names and not any(os.path.exists(os.path.expanduser(f)) for f in path.split(os.pathsep) if f):
        return f" (no kubeconfig to look one up in: {shlex.quote(os.path.expanduser(path))} does not exist; " \
            "pass --kubeconfig PATH of the file that has it)"
    return f" (contexts in {path}: {', '.join(map(shlex.quote, names))})" if names else ""


def _map_names() -> tuple[str, ...]:
    from kmeshctl.maps import MAP_NAMES

    return tuple(MAP_NAMES)


# Free-text flags that take one of a fixed list (completed from it, not a click choice): (parameter name) -> the list.
LISTED_VALUES: dict[str, Callable[[], tuple[str, ...]]] = {"map_name": _map_names}


def value_needed_line(flag: str, ctx: Optional[_click.Context]) -> str:
    """`-n needs a value: -n NAMESPACE, e.g. -n kmesh-system`."""
    param = _param_of(ctx, flag)
    metavar = ((getattr(param, "metavar", None) or "VALUE") if param is not None else "VALUE").strip()
    example = flag_example(param, ctx)
    return f"{flag} needs a value: {flag} {metavar}{values_known(param)}" + \
        (f", e.g. {flag} {shlex.quote(example)}" if example else "") + (
            _dashed_context_line(flag, param) or fitting_context_line(flag, param))


def fitting_context_line(flag: str, param: Optional[_click.Parameter]) -> str:
    """`; prod is its current context: `kmeshctl status --context prod -o json``: the line
    typed with the context that fits given to the bare --context (the only one, else the
    current-context the kubeconfig sets); "" when none fits or the line would not work."""
    from kmeshctl.cli.badinput import line_works

    if param is None or param.name != "context" or not cmdline.INVOKED:
        return ""
    args = list(cmdline.ARGS)
    end = cmdline.separator_at(args)
    at = next((i for i, word in enumerate(args[:end]) if word == f"{flag}=" or word == flag and
               (i + 1 >= end or args[i + 1] == "" or args[i + 1].startswith("-") and args[i + 1] != "-")), None)
    name, which = fitting_context(args)
    if at is None or not name:
        return ""
    empty = args[at] == flag and at + 1 < end and args[at + 1] == ""  # `--context ''`: its value goes too
    line = ["kmeshctl", *args[:at], flag, name, *args[at + 1 + empty:]]
    if not line_works(line, cmdline.INVOKED[0].command):
        return ""
    return f"; {shlex.quote(name)} is {which}: `{shlex.join(line)}`"


def fitting_context(args: list[str]) -> tuple[str, str]:
    """(the context of the kubeconfig ``args`` name that a bare --context may be given: its
    only one, else its current-context; which of the two it is), ("", "") for none."""
    from kmeshctl.cli.badinput import typed_value
    from kmeshctl.kube import current_context_name

    with cmdline.args_as(args):
        _, names = typed_contexts()
    if len(names) == 1:
        return names[0], "its only context"
    current = current_context_name(typed_value(args, "--kubeconfig")) if names else ""
    return (current, "its current context") if current in names else ("", "")


def _dashed_context_line(flag: str, param: Optional[_click.Parameter]) -> str:
    """`; -dash is a context: a name starting with '-' goes after =, `kmeshctl --context=-dash
    status``, when the word after --context is a context of the kubeconfig; "" otherwise."""
    if param is None or param.name != "context":
        return ""
    args = list(cmdline.ARGS)
    end = cmdline.separator_at(args)
    for i, word in enumerate(args[:end - 1]):
        if word == flag and args[i + 1] in typed_contexts()[1]:
            line = shlex.join(["kmeshctl", *args[:i], f"{flag}={args[i + 1]}", *args[i + 2:]])
            return f"; {shlex.quote(args[i + 1])} is a context: a name starting with '-' goes after =, `{line}`"
    return ""


def value_missing_text(group: _click.Command, path: str, args: list[str], at: int) -> str:
    """`kmeshctl sandbox -o: -o needs a value (-o table|wide|json|yaml) and a command: e.g.
    `kmeshctl sandbox list -o table``: the flag at ``args[at]`` (given to ``group``,
    spelled ``path``) has no value; the example is the command typed after it, if any."""
    flag, equals, _ = args[at].partition("=")
    following = [] if equals else args[at + 1:at + 2]  # `--output=`: an empty value
    after = command_words(args[at + 1:]) if following and following[0] not in ("--", *HELP_FLAGS) else []
    target, used = resolve(group, after) if after else (None, 0)
    named = target is not None and not hasattr(target, "commands")  # `sandbox -o list`: list is the command
    candidates: list[tuple[list[str], _click.Command]] = []
    if named and option_spelled(target, flag) is not None:  # type: ignore[arg-type]
        candidates.append(([*path.split(), *after[:used]], target))  # type: ignore[arg-type]
    place, place_path = (target, " ".join([*path.split(), *after[:used]])) if target is not None and hasattr(
        target, "commands") else (group, path)
    found, needing = commands_with(place, place_path, [flag])
    candidates += [(shlex.split(line)[:-1], sub) for line, sub in found]  # the line without the flag
    param = option_spelled(candidates[0][1], flag) if candidates else option_below(group, flag)
    metavar = _metavar(param) if param is not None else "VALUE"
    line = f"{typed_line(args[:at + 1])}: {flag} needs a value ({flag} {metavar})" + \
        ("" if named else " and a command")
    example = flag_example(param)
    if named and candidates and example and candidates[0][1] is target:  # the whole line typed after it, kept
        rest = args[at + 1:]
        cut = separator_at(rest)
        line += f": e.g. `{shlex.join([*path.split(), *rest[:cut], flag, example, *rest[cut:]])}`"
    elif candidates and example:  # a command the group has that only reads (`bench -o`: none, said in words)
        offered = [run_with(command, words, [flag, example]) for words, command in candidates]
        safe = [each for each in offered if not changing_command(each)]
        line += f": e.g. `{safe[0]}`" if safe else \
            f"; {changes_in_words([changing_command(each) for each in offered], [flag], [])}"
    elif needing:
        line += f"; {'; '.join(needing)}"
    return carry_typed_globals(line, args)


def command_as_value_line(root: _click.Command, args: list[str]) -> str:
    """`--kubeconfig needs a value (--kubeconfig PATH), not the command status: e.g.
    `kmeshctl status --kubeconfig /root/.kube/config`` (`kmeshctl -n: -n needs ...` for a
    command's flag given before it, as value_missing_text says it): the first
    valued flag given before the command that took a command as its value
    (cmdline.value_is_command), the line meant (that command, or the one typed after it)
    with the flag after it, or left out where that command takes none; "" for none. A flag
    whose values are choices has value_missing_text's line."""
    i = 0
    while i < separator_at(args) and args[i].startswith("-") and args[i] != "-":
        entry = leading_flag(args[i])
        valued = args[i] in GLOBAL_FLAGS or (entry is not None and entry[1] and "=" not in args[i])
        if not valued:
            i += 1
            continue
        if value_is_command(root, args, i):
            option = option_spelled(root, args[i]) or option_below(root, args[i])
            if option is not None and not _choices_of(option):
                return _command_as_value_text(root, args, i, option)
        i += 2
    return ""


def split_context_line(args: list[str], root: Optional[_click.Command] = None) -> str:
    """`--context my ctx` unquoted: the shell split a context name at its space, so --context
    got `my` and `ctx` became a word of the line. When the words from the value on join
    into a context of the kubeconfig the line names (and the value alone is none), the
    line with that name quoted: `--context my: no such context; 'my ctx' is one (...):
    quote it, `kmeshctl status --context 'my ctx'``; "" otherwise."""
    end = separator_at(args)
    for i, word in enumerate(args[:end]):
        flag, equals, value = word.partition("=")
        if flag != "--context" or not equals and i + 1 >= end:
            continue
        if not equals and args[i + 1].startswith("-") and args[i + 1] != "-":
            return ""  # `--context -o json`: no value given (conventions' "needs a value"), not a name split
        first = i + 1 if equals else i + 2  # the words after the value
        value = value if equals else args[i + 1]
        path, names = typed_contexts()
        if not names or value in names:
            return ""
        from kmeshctl.cli.suggestions import context_meant

        for last in range(first, end):
            if args[last].startswith("-"):
                break
            typed = " ".join([value, *args[first:last + 1]])
            name = typed if typed in names else context_meant(typed, names)  # `my ctx` for 'My Ctx' too
            if name is not None:
                line = shlex.join(["kmeshctl", *args[:i], "--context", name, *args[last + 1:]])
                return (f"--context {shlex.quote(value)}: no such context; {shlex.quote(name)} is one (the shell "
                        f"split its name at the space): quote it, `{line}`")
        commands = {c.name for c in cmdline.walk(root)} if root is not None else set()
        strays = list(itertools.takewhile(lambda w: not w.startswith("-") and w not in commands, args[first:end]))
        return _unknown_context(value, path, names, strays) if strays else ""
    return ""


def _unknown_context(value: str, path: str, names: list[str], strays: list[str]) -> str:
    """`--context my ctx`, where neither `my` nor `my ctx` is a context: the context first
    (as the cluster commands say it), never a line that keeps it; the ``strays`` words after
    it may be the rest of a name the shell split (every one of them: `nope extra words`)."""
    from kmeshctl.cli.suggestions import CONTEXT_FIX, context_fix_line

    read = f"{shlex.join(strays)} after it {'was' if len(strays) == 1 else 'were'} read as " \
           f"{'an argument' if len(strays) == 1 else 'arguments'}"
    split = f" ({read}: a name with a space is quoted, --context {shlex.quote(' '.join([value, *strays]))})"
    line = (f"--context {shlex.quote(value)}: no such context in {shlex.quote(path)} (contexts: "
            f"{', '.join(map(shlex.quote, names))}); {CONTEXT_FIX}{split}")
    return context_fix_line(line)


def command_as_equals_value(root: _click.Command, args: list[str]) -> str:
    """`kmeshctl --context=status -o yaml`, `kmeshctl --output=status`: a valued flag given
    before the command whose `=` value is a command, with no command after it, is that
    flag typed without its value: command_as_value_line's line for `FLAG VALUE` (a flag of
    choices: value_missing_text's); "" for none."""
    i, end = 0, separator_at(args)
    while i < end and args[i].startswith("-") and args[i] != "-":
        flag, equals, value = args[i].partition("=")
        entry = leading_flag(flag)
        valued = flag in GLOBAL_FLAGS or (entry is not None and entry[1])
        spaced = [*args[:i], flag, value, *args[i + 1:]]
        if equals and valued and value_is_command(root, spaced, i):
            option = option_spelled(root, flag) or option_below(root, flag)
            if option is not None and _choices_of(option):
                return value_missing_text(root, "kmeshctl", spaced, i)
            return command_as_value_line(root, spaced)
        i += 2 if valued and not equals else 1
    return ""


def _choices_of(param: _click.Parameter) -> bool:
    descriptor = getattr(param, "type_descriptor", None)
    return bool(descriptor is not None and descriptor.is_choice and descriptor.choices)


def _command_as_value_text(root: _click.Command, args: list[str], at: int, option: _click.Parameter) -> str:
    """command_as_value_line's line for the flag ``args[at]`` (``option``) whose value
    ``args[at + 1]`` is a command: the line meant is the words after that value when they
    name a command, else the value (the command) and those words."""
    flag, value, rest = args[at], args[at + 1], args[at + 2:]
    meant = rest if next_command_word(rest) in root.commands else [value, *rest]  # type: ignore[attr-defined]
    positions = [i for i in walk_words(meant[:separator_at(meant)], leading_values=True)
                 if not meant[i].startswith("-")]
    command, used = resolve(root, [meant[i] for i in positions])
    if command is not None and option_spelled(command, flag) is not None:
        option = option_spelled(command, flag)  # type: ignore[assignment]
    where = "" if flag in GLOBAL_FLAGS else f"{typed_line(args[:at + 1])}: "  # no `kmeshctl: ` alone
    known = values_known(option).removeprefix(" (").removesuffix(")")
    head = f"{where}{flag} needs a value ({flag} {_metavar(option)}{f'; {known}' if known else ''}), " \
        f"not the command {value}"
    if command is None:
        return head
    path = ["kmeshctl", *(meant[i] for i in positions[:used])]
    if hasattr(command, "commands"):  # `kmeshctl -n dump`: the commands below it that take the flag
        return carry_typed_globals(head + _group_taking(command, path, flag, option), args[:at] + rest)
    line = ["kmeshctl", *args[:at], *meant]
    if len(positions) == used and any(p.param_type_name == "argument" and p.required for p in command.params):
        example = next(iter(own_examples(command, " ".join(path))), "")  # `enable-ns`: its NAMESPACE too
        end = 1 + at + positions[used - 1] + 1
        line[end:end] = shlex.split(example)[len(path):]
    value, which = flag_example(option), ""
    if not value and option.name == "context":
        value, which = fitting_context([*args[:at], *rest])
    if flag not in GLOBAL_FLAGS and option_spelled(command, flag) is None:
        fix = f"; {' '.join(path[1:])} takes no {flag}: `{shlex.join(line)}`"
    elif value:
        line += [flag, value]
        fix = f"{f'; {shlex.quote(value)} is {which}' if which else ''}: e.g. `{shlex.join(line)}`"
    else:  # a placeholder is no line to paste: what to fill in, in words
        fix = f"; give it after the command with {_metavar(option)} filled in: {shlex.join(line)} {flag} " \
              f"{_metavar(option)}"
    return carry_typed_globals(head + fix, args[:at] + rest)


def _group_taking(group: _click.Command, path: list[str], flag: str, option: _click.Parameter) -> str:
    """`: e.g. `kmeshctl dump maps -n NAME`` for a group given as a flag's value, or
    `; kmeshctl dump maps and kmeshctl dump config take -n only with --pod POD`; "" for none."""
    if flag in GLOBAL_FLAGS:  # every command takes it: the group's first reading command
        if path[1] in LOCAL_GROUPS:  # `kmeshctl --kubeconfig sandbox`: no cluster flag to show there
            return ""
        found, _ = commands_with(group, " ".join(path), [])
        value = flag_example(option) or _metavar(option)
        return f": e.g. `{shlex.join([*shlex.split(found[0][0]), flag, value])}`" if found else ""
    found, notes = commands_with(group, " ".join(path), [flag])
    if found:  # with the value that command's own flag takes (waypoint list -n: its default, not install's)
        sub = found[0][1]
        own = option_spelled(sub, flag) or option
        lines, _ = commands_with(group, " ".join(path), [flag, flag_example(own) or _metavar(own)])
        line = next((line for line, command in lines if command is sub), found[0][0])
        if changing_command(line):  # `kmeshctl -n demo`: the demo run is no guess to paste
            return f"; {changes_in_words([changing_command(each) for each, _ in found], [flag], [])}"
        return f": e.g. `{line}`"
    return f"; {'; '.join(notes)}" if notes else ""


DRY_RUN_VALUES = ("client", "server", "none")


def spaced_dry_run_value(message: str, ctx: Optional[_click.Context]) -> str:
    """kubectl's old `--dry-run client` (a separate word): the same line as `--dry-run=client`."""
    found = _EXTRA_ARGUMENTS.match(message)
    if found is None or ctx is None or option_spelled(ctx.command, "--dry-run") is None:
        return ""
    extras = found.group(1).split()
    args = cmdline.ARGS
    spaced = any(args[i] == "--dry-run" and args[i + 1] in DRY_RUN_VALUES and args[i + 1] in extras
                 for i in range(len(args) - 1))
    if not spaced:
        return ""
    return "Option '--dry-run' does not take a value" + dry_run_value_hint(
        ctx.command, ctx.command_path.partition(" ")[2], args, cmdline.INVOKED[0].command)


_TAKES_NO_VALUE = re.compile(r"^Option '(--[\w-]+)' does not take a value\.$")


def flag_value_hint(message: str) -> str:
    """kubectl's `--ignore-not-found=true` / `--wait=false` / `--dry-run=server` typed for
    an on/off flag: how kmeshctl spells on and off (empty for any other error)."""
    found = _TAKES_NO_VALUE.match(message)
    if found is None or not cmdline.INVOKED:
        return ""
    flag = found.group(1)
    if flag == "--help":  # click's own help option, in no command's params
        return "; write --help (or -h) alone"
    option = option_spelled(cmdline.INVOKED[-1].command, flag)
    if option is not None and flag == "--dry-run":  # kubectl's --dry-run=client|server|none
        ctx = cmdline.INVOKED[-1]
        return dry_run_value_hint(ctx.command, ctx.command_path.partition(" ")[2], cmdline.ARGS,
                                  cmdline.INVOKED[0].command)
    return "" if option is None else on_off_hint(option, flag)


# What a command's --dry-run does, for kubectl's --dry-run=client|server typed on it: (what
# it does, what it does with no cluster configured); a command not named is install's kind
# (render.dry_run_value_hint: the API server checks every object, render its offline form).
DRY_RUN_DOES = {
    "waypoint apply": ("it is kubectl's --dry-run=server: the API server checks every object, nothing is applied; "
                       "the objects are printed", "--dry-run=client is not offered: there is no offline (client) "
                       "form: with no cluster configured at all, --dry-run prints the objects unchecked"),
    "uninstall": ("it is kubectl's --dry-run=server: each delete is sent with dryRun=All, so the API server answers "
                  "for every object, and nothing is deleted; what would go is listed in order", "--dry-run=client is "
                  "not offered: there is no offline (client) form: with no cluster configured at all, --dry-run "
                  "lists every object unchecked"),
    "waypoint delete": ("it is kubectl's --dry-run=client: the cluster is read and what would be deleted is said, "
                        "no delete is sent", "the spelling --dry-run=client is not taken, though: the cluster must "
                        "answer (what exists decides what would go)"),
}
# What every --dry-run takes besides itself (kmeshctl.cli.conventions.server_dry_run_as_flag).
DRY_RUN_SPELLINGS = "--dry-run=server is taken too, as the same"


def dry_run_value_hint(command: _click.Command, name: str, args: list[str], root: _click.Command) -> str:
    """kubectl's `--dry-run=client|server|none` typed (``args``: the words of the line) on
    ``command`` (its words ``name``: `waypoint delete`), whose --dry-run is an on/off flag:
    what this command's --dry-run does (DRY_RUN_DOES) and the line with it, `kmeshctl
    uninstall --dry-run`; install's own words (its offline form) and `none` (no dry run)
    as render.dry_run_value_hint says them (``root``: the kmeshctl group)."""
    from kmeshctl.cli.render import _dry_run_value, _without_dry_run
    from kmeshctl.cli.render import dry_run_value_hint as installs

    value = _dry_run_value(args)
    option = option_spelled(command, "--dry-run")
    if option is not None and value.lower() in _BOOL_WORDS:  # `--dry-run=false`: off, never the flag
        return on_off_hint(option, "--dry-run", args)
    if name not in DRY_RUN_DOES or value == "none":
        said = installs(command, args, root)
        return said if "`kmeshctl " in said else f"{said}, {_dry_run_line(command, name, args)}"
    does, offline = DRY_RUN_DOES[name]
    words = _without_dry_run(args)
    end = separator_at(words)
    line = shlex.join(["kmeshctl", *words[:end], "--dry-run", *words[end:]])
    if value not in ("client", "server"):
        return (f"; {shlex.quote(value) if value else 'an empty value'} is no dry-run mode (kubectl's are client, "
                f"server and none); on/off flags take no value here: write --dry-run ({does}), `{line}`; "
                f"{DRY_RUN_SPELLINGS}")
    return f"; on/off flags take no value here: write --dry-run ({does}), `{line}`; {DRY_RUN_SPELLINGS}; {offline}"


def _dry_run_line(command: _click.Command, name: str, args: list[str]) -> str:
    """`kmeshctl install ... --dry-run` backticked: ``args`` with --dry-run given alone,
    with each flag the dry run cannot go without (its value when known, else named after)."""
    from kmeshctl.cli.render import _without_dry_run

    words = _without_dry_run(args)
    end = separator_at(words)
    own = [*words[:end], "--dry-run"]
    also = []
    for flag, metavar, what, known in needed_flags_of(command, tuple(name.split()), own):
        if known:
            own += [flag, known]
        else:
            also.append(f"{flag} {metavar}, {what}")
    needs = f" ({name} also needs {'; and '.join(also)})" if also else ""
    return f"`{shlex.join(['kmeshctl', *own, *words[end:]])}`{needs}"


def on_off_hint(option: _click.Parameter, flag: str, args: Optional[list[str]] = None,
                root: Optional[_click.Command] = None) -> str:
    """`; on/off flags take no value here: write -A to turn it on, leave it out for off,
    `kmeshctl waypoint list -A``: ``flag`` (the spelling typed) given a value in ``args`` (the
    words typed; cmdline.ARGS when None); a flag with an off form names both. The line is the
    one typed with `FLAG=VALUE` spelled as the value says (`--wait=false` -> --no-wait, or left
    out when there is no off form), after the command's words; for a value that is no
    true/false word, the lines with the flag on and off that work (``root``: the kmeshctl
    group; cmdline.INVOKED's when None)."""
    if option.secondary_opts:
        on = flag if flag in option.opts else option.opts[0]
        hint = f"; on/off flags take no value here: write {on} or {option.secondary_opts[0]}"
    elif getattr(option, "is_eager", False) and option.name == "version":  # nothing to turn on: it prints
        on = flag
        hint = "; it prints kmeshctl's version"
    elif flag.startswith("--no-"):  # `--no-mount`: it turns something off; said by what it does
        on = flag
        hint = f"; on/off flags take no value here: write {flag} to turn {flag[5:]} off, leave it out to keep it on"
    else:
        on = flag
        hint = f"; on/off flags take no value here: write {flag} to turn it on, leave it out for off"
    words = list(cmdline.ARGS if args is None else args)
    value = next((w.partition("=")[2].lower() for w in reversed(words[:separator_at(words)])
                  if w.startswith(f"{flag}=")), "")
    both = _both_states_typed(option, words)
    if both:  # `--client=false --client`: neither is picked quietly
        root = root or (cmdline.INVOKED[0].command if cmdline.INVOKED else None)
        rest = words
        for spelling in (*option.opts, *option.secondary_opts):
            rest = _typed_less(spelling, False, rest)
        lines = _either_state_lines(option, option.opts[0], rest, root) if root else ""
        return f"{hint}; {both[0]} and {both[1]} both given (an on/off flag takes one state): give one{lines}"
    if value not in _BOOL_WORDS:
        root = root or (cmdline.INVOKED[0].command if cmdline.INVOKED else None)
        return hint + (_either_state_lines(option, on, _typed_less(flag, False, words), root) if root else "")
    wanted = (value not in _FALSE_WORDS) == (flag in option.opts)  # `--no-wait=true` is off
    spelled = [on] if wanted else option.secondary_opts[:1]
    words = _typed_less(flag, False, words)
    end = separator_at(words)
    return f"{hint}, `{shlex.join(['kmeshctl', *words[:end], *spelled, *words[end:]])}`"


def _both_states_typed(option: _click.Parameter, words: list[str]) -> Optional[tuple[str, str]]:
    """(the first word typed for ``option`` that turns it on, for off, in the order typed), or
    None when the line gives it one state (or a value that is no true/false word)."""
    states: dict[bool, str] = {}
    for word in words[:separator_at(words)]:
        flag, equals, value = word.partition("=")
        if flag not in (*option.opts, *option.secondary_opts) or equals and value.lower() not in _BOOL_WORDS:
            continue
        state = (not equals or value.lower() not in _FALSE_WORDS) == (flag in option.opts)
        states.setdefault(state, word)
    if len(states) < 2:
        return None
    first, second = sorted(states.values(), key=words.index)
    return first, second


def _either_state_lines(option: _click.Parameter, on: str, words: list[str], root: _click.Command) -> str:
    """`, `kmeshctl ... --wait` or `kmeshctl ... --no-wait``: ``words`` (the line typed without
    the flag) with the flag on and off, those that work when pasted; "" when none does."""
    from kmeshctl.cli.badinput import working_lines

    end = separator_at(words)
    lines = [["kmeshctl", *words[:end], *spelled, *words[end:]] for spelled in ([on], option.secondary_opts[:1])]
    return working_lines(lines, root)


def _on_off_option(chain: list[_click.Command], flag: str) -> Optional[_click.Parameter]:
    """The on/off option (no count such as -v) spelled ``flag`` of the innermost command of
    ``chain`` that has one, or None."""
    if flag in HELP_FLAGS or not flag.startswith("-"):
        return None
    option = next((o for c in reversed(chain) if (o := option_spelled(c, flag)) is not None), None)
    if option is None or not getattr(option, "is_flag", False) or getattr(option, "count", False):
        return None
    return option


def _on_off_values(args: list[str], chain: list[_click.Command]) -> list[tuple[int, int, _click.Parameter, str]]:
    """Each on/off flag of ``args`` given a true/false word (kubectl's and helm's `--wait
    false`, `--wait=false`, `--dry-run=true`), before `--`: (its first word, the words it
    takes, the option, the word)."""
    end = separator_at(args)
    found = []
    for i in range(end):
        if i and args[i - 1] in GLOBAL_FLAGS:  # `--context --wait` is a (bad) value
            continue
        flag, equals, value = args[i].partition("=")
        if not equals:
            value = args[i + 1] if i + 1 < end else ""
        option = _on_off_option(chain, flag) if value.lower() in _BOOL_WORDS else None
        if option is not None and not (flag == "-v" and value.isdigit()):  # kubectl's `-v 0`: a log level
            found.append((i, 1 if equals else 2, option, value))
    return found


def _on_off_spelled(option: _click.Parameter, flag: str, value: str) -> list[str]:
    """How kmeshctl says ``flag`` given ``value`` (a true/false word): the flag (`--wait`),
    its off form (`--no-wait`), or nothing (an on/off flag with no off form, turned off)."""
    on = (value.lower() not in _FALSE_WORDS) == (flag in option.opts)  # `--no-wait false` is on
    if on:
        return [flag if flag in option.opts else option.opts[0]]
    return [flag] if flag in option.secondary_opts else list(option.secondary_opts[:1])


def spaced_on_off_line(args: list[str], chain: list[_click.Command]) -> str:
    """kubectl's and helm's `--wait false` (`--dry-run true`, `--ignore-not-found yes`, also
    `--wait=false`) typed for on/off flags (the commands ``chain`` names, root first):
    one line saying how each is spelled here, with the whole line typed so spelled
    (`on/off flags take no value here: --wait false is --no-wait: `kmeshctl install ...``)
    and what the command still needs; "" when no on/off flag is given a true/false word
    as a word of its own.
    The word is never read as a name, a namespace or a cluster id (`--cluster-id true`)."""
    pairs = _on_off_values(args, chain)
    if not pairs or len(pairs) == 1 and pairs[0][1] == 1:  # `--wait=false` alone: refuse_flag_values' line says it
        return ""
    words = list(args)
    said = []
    for at, size, option, value in reversed(pairs):
        flag = args[at].partition("=")[0]
        spelled = _on_off_spelled(option, flag, value)
        words[at:at + size] = spelled
        typed = " ".join(args[at:at + size])
        said.insert(0, f"{typed} is written {spelled[0]}" if spelled else f"for {typed} leave {flag} out")
    end = separator_at(words)
    own = words[:end]
    path = tuple(c.name for c in chain[1:] if c.name)
    also = []
    for flag, metavar, what, known in needed_flags_of(chain[-1], path, own) if len(chain) > 1 else ():
        if known:
            own += [flag, known]
        else:
            also.append(f"{flag} {metavar}, {what}")
    line = shlex.join(["kmeshctl", *own, *words[end:]])
    needs = f" ({' '.join(path)} also needs {'; and '.join(also)})" if also else ""
    return f"on/off flags take no value here: {', '.join(said)}: `{line}`{needs}"


_EXTRA_ARGUMENTS = re.compile(r"^Got unexpected extra arguments? ?(?:\(s\))? \((.*)\)$")


# The flag a value typed as a positional argument most likely belongs to, on a command that
# takes no positional argument (istioctl's `waypoint delete NAME`, `dump maps km_backend`,
# `dump config POD`), first found wins: (flag, what it names).
POSITIONAL_AS_FLAG = (("--name", "name"), ("--map", "map"), ("--pod", "pod"), ("--sandbox", "name"),
                      ("--run-id", "run id"), ("--cluster-id", "cluster id"), ("--namespace", "namespace"),
                      ("--bpf-fs", "bpffs directory"))
# Commands where a stray word is another flag's than that order says: precheck's --cluster-id
# is an extra check; a word after precheck is a namespace, as after status.
POSITIONAL_FIRST = {("precheck",): "--namespace"}


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
JOINED_FLAGS = {"--weights": ",", "--paths": ",", "--loads": ","}
# (command words..., parameter) -> the check a command applies to that flag's value when it
# differs from kmeshctl.cli.names.flag_value_check's (`node cleanup --bpf-fs` must exist).
POSITIONAL_CHECKS: dict[tuple[str, ...], Callable[[str, str], None]] = {}


# (group, command) -> what the stray words most likely mean on this machine (a hint, or ""
# for POSITIONAL_AS_FLAG's): `dump config WORD` without a cluster is no --pod (kmeshctl.cli.dump).
POSITIONAL_READERS: dict[tuple[str, ...], Callable[[list[str], list[str]], str]] = {}
# Commands whose line works pasted only once it names where to read (dump's, with several
# sandboxes up and no data path of the node's own): path -> (a line, less `kmeshctl`) ->
# the lines to offer, each naming a place (the line itself when it needs none).
PLACED_LINES: dict[tuple[str, ...], Callable[[list[str]], list[list[str]]]] = {}


def positional_name_hint(message: str, err: Any) -> str:
    """A value typed where the command takes it only as a flag: the command as it would be
    accepted ("; give the map with --map: `kmeshctl dump maps --map km_backend`"), on
    every command with no positional argument; empty for any other error."""
    ctx = getattr(err, "ctx", None)
    found = _EXTRA_ARGUMENTS.match(message)
    if ctx is None or found is None:
        return ""
    params = ctx.command.params
    arguments = [p for p in params if p.param_type_name == "argument"]
    typed = _without_separator(list(cmdline.ARGS))
    if arguments:  # `completion bash --request-timeout 5 s`: the unit, no second shell
        return _split_value_hint(ctx, typed, found.group(1).split()) or \
            _too_many_arguments(ctx, arguments, found.group(1).split())
    at = separator_at(cmdline.ARGS)
    after = cmdline.ARGS[at + 1:]
    took = option_spelled(ctx.command, cmdline.ARGS[at - 1]) if 0 < at < len(cmdline.ARGS) else None
    if after and took is not None and takes_value(took):  # `--name -- x`: x is no second name, -- was the first
        return f"; {cmdline.ARGS[at - 1]} took the `--` after it as its value, so {shlex.join(after)} was read as " \
               f"an argument: without the `--`, {_with_needed(ctx, typed)}"
    if after and any(w.startswith("-") and w != "-" for w in after):  # `status -- -n foo`
        unknown = [w.partition("=")[0] for w in after if w.startswith("-") and w != "-" and w.partition("=")[0]
                   not in GLOBAL_FLAGS and option_spelled(ctx.command, w.partition("=")[0]) is None]
        # `sandbox up -- --dry-run`: no such flag either way, said as it is without the `--`
        name = " ".join(ctx.command_path.split()[1:])
        fix = f", `{shlex.join(['kmeshctl', *typed])}`" if not unknown else " they are read as flags" + (
            other_tools_flag_hint(unknown[0], ctx.command, ctx.command_path) or f", and {name} has no {unknown[0]}")
        return f"; {shlex.join(after)} came after `--`, which makes the words after it arguments, not flags, and " \
               f"this command takes none: without the `--`{fix}"
    spaced = _spaced_path_hint(ctx, typed, found.group(1).split())
    if spaced:  # `--plot /tmp/my plot.png`: one path the shell split at its space
        return spaced
    split = _split_value_hint(ctx, typed, found.group(1).split())
    if split:  # `--xds-address istiod.istio-system.svc 15012`: the port, never a namespace
        return split
    level = _spaced_level_hint(ctx, list(cmdline.ARGS))
    if level:  # kubectl's `-v 6`: the level, not a name
        return level
    reader = POSITIONAL_READERS.get(tuple(ctx.command_path.split()[-2:]))
    read = reader(found.group(1).split(), typed) if reader else ""
    extras = found.group(1).split()
    if read:  # the command's own reading of the word (a sandbox's name, no cluster for --pod)
        return read
    shapes = {_shaped_flag(params, word) for word in extras}
    if len(shapes) == 1 and None not in shapes:
        return _shaped_hint(ctx, typed, extras, *shapes.pop())
    if shapes != {None}:  # words of different shapes: no one flag takes them all
        return "; this command takes no positional arguments"
    if any(_looks_like_file(word) for word in extras):
        return "; this command takes no positional arguments and reads no file: give its settings as flags"
    halves = _value_halves(ctx, typed, extras)
    if halves:  # `--network net 1`: the rest of net-1, no on/off value and no name of its own
        return halves
    if all(word.lower() in _BOOL_WORDS for word in extras):  # `render true`: never --cluster-id true
        return (f"; this command takes no positional arguments, and {shlex.join(extras)} is no name: on/off "
                f"flags are given alone (--wait) or in their off form (--no-wait): "
                f"{_with_needed(ctx, _line_without(ctx, typed, extras))}")
    option = _ordered_flag(params, tuple(ctx.command_path.split()[1:]), cmdline.ARGS if len(extras) == 1 else ())
    if option is None:
        return "; this command takes no positional arguments"
    param, what, flag = option
    if any(spelled(w, set(param.opts)) for w in cmdline.ARGS):
        return _extra_beside_given(ctx, typed, extras, param, flag, what)
    if len(extras) != 1:
        return _one_per_run(ctx, typed, extras, param, flag, what)
    return _offered(ctx, param, flag, what, [extras[0]], _flagged_line(ctx, typed, extras, flag),
                    _line_without(ctx, typed, extras))


def _path_params(ctx: Optional[_click.Context]) -> dict[str, _click.Parameter]:
    """The options that take a path (a Path value, or a PATH like --kubeconfig), of
    ``ctx``'s command and the groups above it, by each spelling."""
    found: dict[str, _click.Parameter] = {}
    while ctx is not None:
        for p in ctx.command.params:
            descriptor = getattr(p, "type_descriptor", None)
            if takes_value(p) and (getattr(descriptor, "is_path", False) or _metavar(p) == "PATH"):
                found.update({o: p for o in p.opts})
        ctx = ctx.parent
    return found


def _spaced_path_hint(ctx: _click.Context, typed: list[str], extras: list[str]) -> str:
    """`--plot /tmp/my plot.png` typed unquoted: when each stray word follows a path flag's
    value and, joined to it by a space, makes the path meant (outpaths.spaced_path_meant),
    `; quote the path: --plot '/tmp/my plot.png': `kmeshctl ...``, the line with it
    quoted; "" else."""
    from kmeshctl.cli.outpaths import spaced_path_meant

    strays = set(_stray_positions(ctx, typed, extras))
    paths = _path_params(ctx)
    joined: dict[int, tuple[int, str, str]] = {}  # first word -> (last word, flag, path)
    for first, last, owner, value in _typed_words(ctx, typed):
        if owner not in paths:
            continue
        run = 0
        while last + run + 1 in strays:
            run += 1
        meant = next((k for k in range(run, 0, -1)
                      if spaced_path_meant(paths[owner].name or "", " ".join([value, *typed[last + 1:last + 1 + k]]))),
                     0)
        if meant:
            joined[first] = (last + meant, owner, " ".join([value, *typed[last + 1:last + 1 + meant]]))
    if not strays or strays - {i for first, (last, *_) in joined.items() for i in range(first + 1, last + 1)}:
        return ""
    line: list[str] = []
    i = 0
    while i < len(typed):
        if i in joined:
            last, owner, path = joined[i]
            line += [owner, path]
            i = last + 1
            continue
        line.append(typed[i])
        i += 1
    quoted = ", ".join(f"{owner} {shlex.quote(path)}" for _, owner, path in joined.values())
    return f"; quote the path{'s' if len(joined) > 1 else ''}: {quoted}: {_with_needed(ctx, line)}"


def _split_value_hint(ctx: _click.Context, typed: list[str], extras: list[str]) -> str:
    """Stray words typed right after a value the shell split at a space (splitvalues):
    `; 15012 read as the port of --xds-address (typed after a space): --xds-address
    istiod.istio-system.svc:15012: `kmeshctl ...``, the line with each value joined; when
    one joins into no value its flag takes, or other stray words are left, why, and no
    line: such a word read as a name (-n, --name) would act elsewhere. "" for no such word."""
    from kmeshctl.cli.splitvalues import chain_params, line_joined, splits

    places = _stray_positions(ctx, typed, extras)
    found = splits(chain_params(ctx), typed, set(places))
    if not found:
        return ""
    others = [typed[i] for i in places if i not in {split.word_at for split in found}]
    whole = not others and all(split.joined is not None for split in found)
    said = "; ".join(split.said(not whole) for split in found)
    name = " ".join(ctx.command_path.split()[1:])
    if others:
        said += f"; and {name} takes no positional arguments ({shlex.join(others)})"
    if not whole:
        why = _no_line_if_changing(typed)
        flags = list(dict.fromkeys(split.flag for split in found if split.joined is None))
        return f"; {said}" + (f"; give {spoken_list(flags)} one value it takes{why}" if flags else why)
    return f"; {said}: {_with_needed(ctx, line_joined(typed, found))}"


def _no_line_if_changing(typed: list[str]) -> str:
    """` (no line is offered: install changes the cluster)` when the line ``typed`` (less
    `kmeshctl`) changes things; "" for a read-only one."""
    from kmeshctl.cli.command_hints import CHANGES

    changing = changing_command(shlex.join(["kmeshctl", *typed]))
    return f" (no line is offered: {changing} changes {CHANGES[changing]})" if changing else ""


def _value_halves(ctx: _click.Context, typed: list[str], extras: list[str]) -> str:
    """One stray number typed right after a name's value (`--network net 1`: the rest of
    net-1, no on/off value): `; 1, typed right after --network net, is no argument ...:
    give --network one word, e.g. --network net-1`, and no line (net-1 or net1 is the
    user's to tell). "" for any other stray words."""
    from kmeshctl.cli.splitvalues import chain_params, name_halves

    places = _stray_positions(ctx, typed, extras)
    owned = [half for half in name_halves(chain_params(ctx), typed) if half[2] in places]
    if len(extras) != 1 or len(places) != 1 or not owned:
        return ""
    (flag, value, _), word = owned[0], extras[0]
    param = _param_of(ctx, flag)
    if param is None:
        return ""
    example = f"{value}-{word}"
    shown = f", e.g. {flag} {shlex.quote(example)}" if _refused_as(ctx, param, flag, example) == "" else ""
    why = _no_line_if_changing(typed)
    return f"; {shlex.quote(word)}, typed right after {flag} {shlex.quote(value)}, is no argument (nor an on/off " \
           f"value) but likely part of that value, which has no spaces: give {flag} one word{shown}{why}"


def _too_many_arguments(ctx: _click.Context, arguments: list[_click.Parameter], extras: list[str]) -> str:
    """More words than a command of fixed arguments takes (`completion bash zsh`): `; give
    one shell (bash, zsh or fish): e.g. `kmeshctl completion bash``, the line with the
    first words typed that the argument takes (of its `a|b|c` choices, as it spells them;
    none typed: its first); empty for a command whose last argument takes any number of
    words, or an argument of no choices short of words."""
    if any(p.nargs < 1 for p in arguments):
        return ""
    typed = _without_separator(list(cmdline.ARGS))
    words = [typed[i] for i in sorted(set(range(len(typed))) - set(_stray_positions(ctx, typed, extras)))]
    places = [first for first, _, owner, _ in _typed_words(ctx, words) if owner is None][
        len(ctx.command_path.split()) - 1:]  # the arguments typed, after the command's words
    given = [words[i] for i in places]
    chosen: list[str] = []
    for param in arguments:
        choices = {c.lower(): c for c in _metavar(param).split("|")} if "|" in _metavar(param) else {}
        for _ in range(param.nargs):
            pick = next((w for w in [*given, *extras] if not choices or w.lower() in choices), None)
            if pick is None and not choices:
                return ""
            if pick is None:  # none typed is one of them: its first, e.g.
                chosen.append(next(iter(choices.values())))
                continue
            (given if pick in given else extras).remove(pick)
            chosen.append(choices.get(pick.lower(), pick))
    what = " ".join((str(getattr(arguments[0], "help", "") or "").rstrip(".").split()[-1:])) or _metavar(arguments[0])
    count = "one" if sum(p.nargs for p in arguments) == 1 else str(sum(p.nargs for p in arguments))
    at = places[0] if places else len(words)
    kept = [w for i, w in enumerate(words) if i not in places]
    line = ["kmeshctl", *kept[:at], *chosen, *kept[at:]]
    listed = " or ".join(", ".join(_metavar(arguments[0]).split("|")).rsplit(", ", 1)) if len(arguments) == 1 \
        and "|" in _metavar(arguments[0]) else ""
    return f"; give {count} {what.lower()}{f' ({listed})' if listed else ''}: e.g. `{shlex.join(line)}`"


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
        return _offered(ctx, param, flag, several, [value], _joined_line(ctx, typed, extras, param, flag, value),
                        _line_without(ctx, typed, extras))
    if not getattr(param, "multiple", False) and given:
        return _extra_beside_given(ctx, typed, extras, param, flag, one)
    if not getattr(param, "multiple", False) and len(extras) > 1:
        return _one_per_run(ctx, typed, extras, param, flag, one)
    return _offered(ctx, param, flag, several if len(set(extras)) > 1 else one, extras,
                    _flagged_line(ctx, typed, extras, flag, given), _line_without(ctx, typed, extras))


MAX_RUN_LINES = 3  # more names: the first lines, and "and so on"


def _one_per_run(ctx: _click.Context, typed: list[str], extras: list[str], param: _click.Parameter, flag: str,
                 what: str) -> str:
    """Several stray words for a flag that takes one (`waypoint delete wp1 wp2 -n foo`):
    `; ... give one name with --name NAME, one run each: `kmeshctl waypoint delete
    --name wp1 -n foo`, then `...``, each line the one typed with that word as the flag's
    and without the others; the sentence alone when a word is one the flag refuses."""
    head = f"; this command takes no positional arguments: give one {what} with {flag} {_metavar(param)}"
    places = _stray_positions(ctx, typed, extras)
    if flag == "--namespace" and tuple(ctx.command_path.split()[1:]) in SYSTEM_NAMESPACE_COMMANDS:
        return head  # kmesh is installed in one namespace: several are no runs to guess (an uninstall each)
    if len(places) < len(extras) or any(_refused_as(ctx, param, flag, value) != "" for value in extras):
        return head  # a word click split apart, or one the flag would refuse: no line that fails
    firsts = {value: place for place, value in reversed(list(zip(places, extras)))}  # a name twice: one run
    lines = [_with_needed(ctx, [w for i, word in enumerate(typed) if i == place or i not in places
                                for w in ([flag, word] if i == place else [word])])
             for place in sorted(firsts.values())]
    shown = ", then ".join(lines[:MAX_RUN_LINES]) + (", and so on" if len(lines) > MAX_RUN_LINES else "")
    return f"{head}, one run each: {shown}" if len(lines) > 1 else f"{head}: {shown}"


def _extra_beside_given(ctx: _click.Context, typed: list[str], extras: list[str], param: _click.Parameter,
                        flag: str, what: str) -> str:
    """`install --cluster-id a extra`: the flag the stray words would go to is typed
    already, so they are extra: `...; --cluster-id a is given already, so leave out
    extra: `kmeshctl install --cluster-id a``, the line without them."""
    from kmeshctl.cli.command_hints import CHANGES, changing_command

    given = _typed_values(ctx, typed, param)
    shown = shlex.join([given[-1][2] or flag, given[-1][3]]) if given else flag
    without = _line_without(ctx, typed, extras)
    said = (f"; this command takes no positional arguments: give one {what} with {flag} {_metavar(param)}; "
            f"{shown} is given already, so leave out {shlex.join(extras)}")
    changing = changing_command(shlex.join(["kmeshctl", *without]))
    where = _option_named(ctx.command.params, "--namespace")
    if changing and where is not None and not any(spelled(w, set(where.opts)) for w in typed):
        # `install a b --cluster-id c1`: a or b may be the namespace meant; the line without them acts in another
        return f"{said}, or give the namespace meant with --namespace (no line is offered: {changing} changes " \
               f"{CHANGES[changing]}, and a word left out may name where)"
    if where is not None and flag == "--name":  # NAMESPACE/NAME: the object's namespace
        clash = _namespace_clash(ctx, typed, extras, without, where)
        if clash:
            return f"; this command takes no positional arguments: give one {what} with {flag} {_metavar(param)}" \
                   f"{clash}"
    return f"{said}: {_with_needed(ctx, without)}{_also_named(tuple(ctx.command_path.split()[1:]), extras, without)}"


def _namespace_clash(ctx: _click.Context, typed: list[str], extras: list[str], without: list[str],
                     where: _click.Parameter) -> str:
    """`waypoint delete --name wp1 team-b/wp1 -n team-a`: a stray NAMESPACE/NAME naming
    another namespace than the -n typed (or than none typed) is no word to leave out
    quietly: `; team-b/wp1 names namespace team-b, and -n team-a another: give one, `LINE`
    or `LINE``, each line keeping every other flag typed; "" when no stray word does."""
    from kmeshctl.params import DNS1123_LABEL_RE, meant_namespace

    typed_namespace = typed_value(typed, *where.opts)
    for extra in extras:
        head, slash, _ = extra.partition("/")
        namespace = head if DNS1123_LABEL_RE.match(head) else meant_namespace(head)
        if not slash or namespace is None or namespace in (typed_namespace, meant_namespace(typed_namespace or "")):
            continue
        if typed_namespace is None:
            return f"; {extra} names namespace {namespace}, and no -n is given (the context's namespace would be " \
                   f"used): for {namespace}: {_with_needed(ctx, [*without, '-n', namespace])}"
        lines = [_with_needed(ctx, _with_namespace(without, where, value)) for value in (typed_namespace, namespace)]
        spelling = next(w.partition("=")[0] for w in typed if w.partition("=")[0] in where.opts)
        return f"; {extra} names namespace {namespace}, and {spelling} {typed_namespace} another: give one, " \
               f"{lines[0]} or {lines[1]}"
    return ""


def _with_namespace(words: list[str], where: _click.Parameter, namespace: str) -> list[str]:
    """``words`` with the value of their namespace flag (``where``'s) as ``namespace``."""
    found = next((i for i, w in enumerate(words) if w.partition("=")[0] in where.opts), None)
    if found is None:
        return [*words, "-n", namespace]
    if "=" in words[found]:
        return [*words[:found], f"{words[found].partition('=')[0]}={namespace}", *words[found + 1:]]
    return [*words[:found + 1], namespace, *words[found + 2:]]


def _system_namespace_offer(path: tuple[str, ...], values: list[str], words: list[str], without: list[str]) -> str:
    """A namespace typed as a word to a command whose -n is kmesh's own install namespace
    (`kmeshctl status default`): never an app's namespace; one install refuses is said so,
    with the line less the word; another is offered as kmesh's namespace, said as such."""
    from kmeshctl.params import DEFAULT_ISTIO_NAMESPACE, DEFAULT_NAMESPACE
    from kmeshctl.status import install_refusal

    name = " ".join(path)
    refused = next(((value, why) for value in values if (why := install_refusal(value, DEFAULT_ISTIO_NAMESPACE))),
                   None)
    if refused is not None:
        from kmeshctl.cli.command_hints import READING_COMMANDS

        line = shlex.join(["kmeshctl", *without])  # only a command that reads: never an uninstall guessed
        return (f"; {name} takes no namespace argument, and its -n is kmesh's own install namespace (default "
                f"{DEFAULT_NAMESPACE}), which is never {refused[0]} ({refused[1]})"
                + (f": `{line}`" if name in READING_COMMANDS or name == "precheck" else ""))
    if name in INSTALL_READERS and len(values) == 1:
        return _install_reader_offer(name, values[0], words, without)
    return (f"; give the kmesh install namespace with --namespace: `{shlex.join(['kmeshctl', *words])}` ({name}'s "
            "-n is the namespace kmesh is installed in, not an app's)")


# Commands that read an install (its -n: where it is): a stray word (`status pods`, kubectl's
# TYPE) is offered as -n only where an install is.
INSTALL_READERS = ("status", "version")


def _install_reader_offer(name: str, value: str, words: list[str], without: list[str]) -> str:
    """`status pods`: status takes no arguments; the line without the word, or with it as
    --namespace when namespace ``value`` holds kmeshctl's install (the cluster the line
    names, asked within COMPLETION_LOOKUP_TIMEOUT_S); both, each said, when it does not
    answer. ``words``: the line with the word as --namespace; ``without``: less the word."""
    from kmeshctl import istiod
    from kmeshctl.params import COMPLETION_LOOKUP_TIMEOUT_S, DEFAULT_NAMESPACE
    from kmeshctl.status import status_daemonset

    plain, flagged = shlex.join(["kmeshctl", *without]), shlex.join(["kmeshctl", *words])
    said = f"; this command takes no positional arguments ({name}'s -n is the namespace kmesh is installed in, " \
           f"default {DEFAULT_NAMESPACE}"
    if value == DEFAULT_NAMESPACE:
        return f"; this command takes no positional arguments ({value} is already the default of {name}'s -n, the " \
               f"namespace kmesh is installed in): `{plain}`"
    target = typed_target(cmdline.ARGS)
    found, answered = istiod.ask_quickly(target.kubeconfig, target.context, COMPLETION_LOOKUP_TIMEOUT_S,
                                         lambda client: status_daemonset(client, value) is not None,
                                         f"asking whether kmesh is installed in namespace {value}")
    if answered and found:
        return f"{said}), and kmesh is installed in namespace {value}: `{flagged}`"
    if answered:
        return f"{said}), and namespace {value} holds no kmesh install: `{plain}`"
    return f"{said}, not an app's): `{plain}`, or for an install in namespace {value}: `{flagged}`"


def _offered(ctx: _click.Context, param: _click.Parameter, flag: str, what: str, values: list[str],
             words: list[str], without: list[str]) -> str:
    """`; give the WHAT with FLAG: `kmeshctl WORDS`` once every value passes the check FLAG
    applies (with the flags the command also needs); else why the first it refuses would
    not do either, in plain words (the user typed no FLAG: never `FLAG refuses VALUE`), and
    a command that does (a fix refused when pasted helps no one). ``without``: the line
    typed less the stray words."""
    for value in values:
        refused = _refused_as(ctx, param, flag, value)
        if refused is None:
            return "; this command takes no positional arguments"
        if refused:
            meant = _meant_flagged_line(ctx, param, flag, value, refused, words)
            if meant:  # `sandbox status T47a_x`: as `--name T47a_x` is mended, the line with --name t47a-x
                return f"; this command takes no positional arguments, and " \
                       f"{plainly(value, refused).replace(meant[0], f'{meant[0]} {meant[1]}', 1)}"
            instead = "" if "`kmeshctl " in refused else _instead(ctx, param, flag, value, without)  # its own line
            return f"; this command takes no positional arguments, and {plainly(value, refused)}{instead}"
    path = tuple(ctx.command_path.split()[1:])
    if flag == "--namespace" and path in SYSTEM_NAMESPACE_COMMANDS:
        return _system_namespace_offer(path, values, words, without)
    if flag == "--namespace":  # one namespace given: -A (every namespace) would refuse it, as kubectl's
        words = [w for w in words if w.partition("=")[0] not in ALL_NAMESPACES_FLAGS]
    return f"; give the {what} with {flag}: {_with_needed(ctx, words)}{_also_named(path, values, without)}"


def _meant_flagged_line(ctx: _click.Context, param: _click.Parameter, flag: str, value: str, refused: str,
                        words: list[str]) -> Optional[tuple[str, str]]:
    """(`did you mean --name t47a-x?`, `kmeshctl sandbox status --name t47a-x` backticked): the
    refusal's question, and the line ``words`` (the stray word ``value`` given ``flag``) with
    the value it means, when the refusal gives no line of its own, the value meant is one
    the stray word's check takes (sandbox t47a-x is up: else the line that makes it is the
    fix) and the line with `FLAG VALUE` typed is mended to it (never a name `--name T47a_x`
    would not be mended to: `sandbox down` guesses no sandbox to remove); None otherwise."""
    from kmeshctl.cli.badinput import mended_lines

    found = re.search(rf"did you mean (?:{re.escape(flag)} )?([^\s?]+)\?", refused)  # `km_frontend?`: --map's
    if found is None or "`" in refused[found.end():] or typed_value(words, flag) != value or \
            _refused_as(ctx, param, flag, found.group(1)) != "":
        return None
    with cmdline.args_as(words):
        mended = mended_lines(["kmeshctl", *words], ctx.find_root().command)
    if len(mended) != 1 or typed_value(mended[0][1:], flag) != found.group(1):
        return None
    at = next(i for i in range(1, len(words)) if words[i - 1] == flag and words[i] == value)
    line = shlex.join(['kmeshctl', *words[:at], found.group(1), *words[at + 1:]])  # its other values: theirs
    return found.group(0), f"`{line}`"


# Commands whose stray word may name another command's object (kubectl's `get waypoint wp`):
# path -> (that command, its flag, what it names, flags of the path it does not take).
ALSO_NAMED = {("waypoint", "list"): (("waypoint", "status"), "--name", "waypoint", ("-A", "--all-namespaces"))}


def _also_named(path: tuple[str, ...], values: list[str], without: list[str], lead: str = "; or, ") -> str:
    """`; or, for the waypoint named wp: `kmeshctl waypoint status --name wp``: the other
    reading of one stray word (ALSO_NAMED), its line keeping the flags typed that it takes;
    "" for another command or several words. ``lead``: the words before `for`."""
    other = ALSO_NAMED.get(path)
    if other is None or len(values) != 1:
        return ""
    command, flag, what, dropped = other
    at = next((i for i in range(len(without)) if tuple(without[i:i + len(path)]) == path), None)
    if at is None:
        return ""
    rest = [w for w in without[at + len(path):] if w.partition("=")[0] not in dropped]
    line = ["kmeshctl", *without[:at], *command, *rest, flag, values[0]]
    return f"{lead}for the {what} named {values[0]}: `{shlex.join(line)}`"


def _named_by_flag(typed: str, path: str) -> str:
    """`waypoint list --name east` (the flag of the command ALSO_NAMED gives for one): `;
    waypoint list has no --name (it lists every waypoint of a namespace); for the waypoint
    named east: `kmeshctl waypoint status --name east``, a name the rule refuses mended
    (`East`: east), each of a list (`east,west`); "" for any other flag or command."""
    from kmeshctl.cli.names import meant_words
    from kmeshctl.params import DNS1123_LABEL_RE

    words = tuple(path.split()[1:])
    other = ALSO_NAMED.get(words)
    if other is None or typed != other[1]:
        return ""
    said = f"; {' '.join(words)} has no {typed} (it lists every {other[2]} of a namespace)"
    value = typed_value(cmdline.ARGS, typed) or ""
    meant = [value] if DNS1123_LABEL_RE.match(value) else meant_words(value) if value else None
    lines = [_also_named(words, [name], _typed_less(typed, True), "") for name in meant or []]
    if not lines or not all(lines):
        return f"{said}; `kmeshctl {' '.join(other[0])} {typed} NAME` shows one"
    return f"{said}; {', and '.join(lines)}"


_FLAG_EXAMPLE = re.compile(r",? e\.g\. --?[\w-]+[ =]\S+?(?=[;,)]|\Z)")


def plainly(value: str, reason: str) -> str:
    """What a flag's check says of ``value`` (``reason``: its words after `FLAG VALUE: `)
    with the value as its subject, naming no flag: `no sandbox is named x (sandboxes: a)`,
    `/tmp is not on a bpf filesystem`."""
    reason = _FLAG_EXAMPLE.sub("", reason)  # `e.g. --name demo`: a flag the user did not type
    named = re.match(r"no ([\w -]+?) has this name\b", reason)
    if named:
        return f"no {named.group(1)} is named {value}{reason[named.end():]}"
    if reason.startswith(("is ", "does ", "has ", "names ", "cannot ", "must ")):
        return f"{value} {reason}"
    if reason.startswith("not "):
        return f"{value} is {reason}"
    return f"{value}: {reason}"


def _line_without(ctx: _click.Context, typed: list[str], extras: list[str]) -> list[str]:
    """``typed`` (the line less `kmeshctl`) without the stray words ``extras``."""
    gone = set(_stray_positions(ctx, typed, extras))
    return [word for i, word in enumerate(typed) if i not in gone]


def _instead(ctx: _click.Context, param: _click.Parameter, flag: str, value: str, without: list[str]) -> str:
    """A command for ``value`` refused as ``flag``'s. On a command that only reads: the
    line with the value this machine has that is close to it (`did you mean ...?`), else
    with one it has, else without the word; on another (it changes something: never a
    guess of what to remove; the values it takes are listed) a path flag's default (the
    data path's directory) spelled out; with nothing of the kind to use, the command that
    makes one. Empty when none is known."""
    import difflib

    from kmeshctl.cli.command_hints import READING_COMMANDS
    from kmeshctl.cli.names import accepted_values

    words = tuple(ctx.command_path.split()[1:])
    known = accepted_values(param, words)
    values, maker = known if known is not None else ([], "")
    reading = " ".join(words) in (*READING_COMMANDS, "sandbox list")
    close = difflib.get_close_matches(value, values, n=1, cutoff=SUGGEST_CLOSENESS) if reading else []
    if close:
        return f"; did you mean `{shlex.join(['kmeshctl', *without, flag, close[0]])}`?"
    if known is not None and not values:
        return _maker_line(maker, value if words[:1] == ("sandbox",) else "")
    if reading:
        line = [*without, flag, values[0]] if values else without
        placed = PLACED_LINES.get(words, lambda typed: [typed])(line)
        return f"; {'e.g.' if values else 'without it:'} " + " or ".join(
            f"`{shlex.join(['kmeshctl', *each])}`" for each in placed)
    from kmeshctl.cli.names import PATH_FLAGS

    default = param.default  # the data path's directory: never a guess of a name to remove
    if param.name in PATH_FLAGS and isinstance(default, (str, Path)) and str(default) and str(default) != value:
        return f"; with its default: `{shlex.join(['kmeshctl', *without, flag, str(default)])}`"
    return ""


def _maker_line(maker: str, value: str) -> str:
    """`; make one with `kmeshctl sandbox up --name x`` for a sandbox named ``value`` that is
    not there: the name kept when it is one the maker takes ("": a word that need not be a
    sandbox's, the demo's stray word); none when the line typed runs on the cluster
    (`--target cluster`: no sandbox is wanted)."""
    from kmeshctl.cli.badinput import line_works

    if typed_value(cmdline.ARGS, "--target") == "cluster" or not cmdline.INVOKED:
        return ""
    from kmeshctl.params import meant_namespace

    root = cmdline.INVOKED[0].command
    named = next((line for name in (value, meant_namespace(value)) if name
                  for line in [[*shlex.split(maker), "--name", name]] if line_works(line, root)), None) if value \
        else None
    return f"; make one with `{shlex.join(named) if named else maker}`"


def _with_needed(ctx: _click.Context, words: list[str]) -> str:
    """`kmeshctl WORDS` backticked, with each flag the command cannot run without that the
    line lacks: its value when this machine knows it (istiod's address found in the
    cluster), else said after it (`(render also needs --xds-address HOST:PORT, istiod's xDS Service)`):
    a placeholder pasted is refused, an example value pasted is wrong."""
    line = ["kmeshctl", *words]
    needed = _needed_flags(ctx, words)
    missing = []
    for flag, metavar, what, known in needed:
        if known:
            line += [flag, known]
        else:
            missing.append(f"{flag} {metavar}, {what}")
    name = " ".join(ctx.command_path.split()[1:])
    also = f" ({name} also needs {'; and '.join(missing)})" if missing else ""
    return f"`{shlex.join(line)}`{also}"


def _needed_flags(ctx: _click.Context, words: list[str]) -> list[tuple[str, str, str, str]]:
    """(flag, metavar, what it gives, its value when known, else "") for each flag the
    command ``ctx`` runs cannot run without that ``words`` (the line suggested) lacks."""
    return needed_flags_of(ctx.command, tuple(ctx.command_path.split()[1:]), words)


def needed_flags_of(command: _click.Command, path: tuple[str, ...], words: list[str]
                    ) -> list[tuple[str, str, str, str]]:
    """_needed_flags for ``command`` (its words ``path``: `("render",)`), before it is parsed."""
    found = []
    for flag, what in missing_flags(command, path, words):
        param = option_spelled(command, flag)
        metavar = _metavar(param) if param is not None else "VALUE"
        found.append((flag, metavar, what.split(" (")[0], _known_value(flag, words)))
    return found


def missing_flags(command: _click.Command, path: tuple[str, ...], words: list[str]) -> list[tuple[str, str]]:
    """The flags ``command`` (its words ``path``) needs that ``words`` (a line) does not
    give, as (flag, what it is); its callback says so only once the line runs."""
    from kmeshctl.cli.render import REQUIRED_FLAGS

    given = {w.partition("=")[0] for w in words[:separator_at(words)] if w.startswith("-")}
    if path == ("install",):  # install needs --xds-address only for a dry run with no cluster (installer)
        needs = _install_needs(words, given)
    else:
        needs = [(flag, what) for flag, _, what in REQUIRED_FLAGS.get(path, ())]
    missing = []
    for flag, what in needs:
        param = option_spelled(command, flag)
        spellings = {flag, *param.opts, *param.secondary_opts} if param is not None else {flag}
        if not spellings & given:
            missing.append((flag, what))
    return missing


def _install_needs(words: list[str], given: set[str]) -> list[tuple[str, str]]:
    from kmeshctl.cli.render import CLUSTER_ID_NEEDED, XDS_ADDRESS_NEEDED
    from kmeshctl.kube import cluster_configured

    needs = [CLUSTER_ID_NEEDED[::2]]
    if "--dry-run" in given and not cluster_configured(typed_target(words)):
        needs.append(XDS_ADDRESS_NEEDED[::2])
    return needs


def _known_value(flag: str, words: list[str]) -> str:
    """The value of ``flag`` this machine can tell (istiod's one xDS address in the cluster
    the line names), else ""."""
    if flag != "--xds-address":
        return ""
    try:
        from kmeshctl.cli.render import _xds_address_for_hint

        address, note = _xds_address_for_hint([], words)
    except Exception:  # noqa: BLE001 - this runs inside an error message: a lookup gone wrong is no value
        return ""
    return address[1] if address and not note else ""


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


def _ordered_flag(params: list[_click.Parameter], path: tuple[str, ...] = (),
                  given: Sequence[str] = ()) -> Optional[tuple[_click.Parameter, str, str]]:
    """(option, what it names, its flag): the first of POSITIONAL_AS_FLAG the command
    (words ``path``) has, its POSITIONAL_FIRST flag before all; None without any. With
    ``given`` (the words typed) giving --cluster-id already, --namespace when the command
    has it and it is not typed (`install WORD --cluster-id c1`: WORD can only be the
    namespace, where kmesh is installed)."""
    first = POSITIONAL_FIRST.get(path)
    order = sorted(POSITIONAL_AS_FLAG, key=lambda pair: pair[0] != first)
    found = [(p, what, flag) for flag, what in order if (p := _option_named(params, flag)) is not None]
    typed = [one for one in found if any(spelled(w, set(one[0].opts)) for w in given)]
    where = [one for one in found if one[2] == "--namespace" and one not in typed]
    return next(iter(where if where and found[0] in typed and found[0][2] == "--cluster-id" else found), None)


def _refused_as(ctx: _click.Context, param: _click.Parameter, flag: str, value: str) -> Optional[str]:
    """What the check ``flag`` applies on this command says of ``value`` (its own `FLAG VALUE: `
    left off); "" when it takes it, or has no check; None when the check could not tell."""
    return refused_by(tuple(ctx.command_path.split()[1:]), param, flag, value)


def stray_taken(words: tuple[str, ...], param: _click.Parameter, flag: str, value: str) -> bool:
    """Whether ``flag`` of the command ``words`` (`demo traffic-shift`) takes a stray word
    ``value`` (a line offering `--sandbox extra` for `extra` must pass --sandbox's check, as
    positional_name_hint's does)."""
    return refused_by(words, param, flag, value) == ""


def strays_kept(path: tuple[str, ...], dropped: list[str]) -> str:
    """` (then fix extra: demo traffic-shift takes no such word)`: the stray words of
    ``dropped`` a suggested line keeps (left out, the line would act on something else),
    said now, so that the pasted line's refusal is no surprise; "" when none is a stray word."""
    words = [w for w in dropped if not w.startswith("-")]
    if not words:
        return ""
    return f" (then fix {spoken_list([shlex.quote(w) for w in words])}: {' '.join(path)} takes no such " \
           f"word{'s' if len(words) > 1 else ''})"


def refused_by(words: tuple[str, ...], param: _click.Parameter, flag: str, value: str) -> Optional[str]:
    """_refused_as for the command ``words`` (less `kmeshctl`)."""
    from kmeshctl.cli.names import PATH_FLAGS, check_path_flag, flag_value_check

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
        same = spelled_out(typed) == name or typed.lower() == name  # `--istio-ns`, `--MAP`
        ratio = 1.0 if same else difflib.SequenceMatcher(None, word, bare).ratio()
        if name not in NEVER_GUESSED and (ratio >= SUGGEST_CLOSENESS or guessable(word, name)):
            scored.append((-ratio, name))  # never a --force, --all, ... (badinput.NEVER_GUESSED)
    return [name for _, name in sorted(scored)[:MAX_SUGGESTIONS]]


# Words of a flag's name kubectl users shorten (`kubectl get ns`): `--istio-ns` is --istio-namespace.
_SHORT_WORDS = {"ns": "namespace"}


def spelled_out(flag: str) -> str:
    """``flag`` with each shortened word of its name spelled out (`--istio-ns` ->
    `--istio-namespace`); a short flag (`-n`) as it is."""
    if not flag.startswith("--"):
        return flag
    return "--" + "-".join(_SHORT_WORDS.get(part, part) for part in flag[2:].split("-"))


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


def _habit_hint(typed: str, command: _click.Command, path: str = "") -> str:
    """A hint for a flag the user knows from kubectl/fortio that this command (spelled
    ``path``) spells otherwise (`demo traffic-shift -n 10` -> -c/--requests, `enable-ns
    -w` -> --wait); empty when none applies."""
    names = {p.name for p in command.params}
    if typed in ("-n", "--namespace") and path == "kmeshctl help":
        return _help_namespace_hint(typed, command)
    if typed in ("-n", "--namespace") and "namespace" not in names and takes_namespace_arguments(command):
        return _namespaces_as_arguments_hint(typed, command)
    if typed in ("-n", "--namespace") and "namespace" not in names:
        meant = _namespace_flag_of(command)
        if meant is not None:
            return _respelled_hint(typed, meant)
        if path.startswith("kmeshctl sandbox ") and "name" in names and typed_value(cmdline.ARGS, typed):
            return f"; a sandbox has no namespace; did you mean --name?{_respelled_line(typed, '--name', command)}"
    if typed in ("-w", "--watch") and "wait" in names:  # kubectl's wait flag is --wait; -w is its --watch
        words = list(cmdline.ARGS)
        end = separator_at(words)
        if typed not in words[:end]:  # `-w=false`: what was meant is unclear
            return "; did you mean --wait?"
        line = [w for w in words[:end] if w != typed] + ["--wait"] + words[end:]  # after the command: its own
        return f"; did you mean --wait? `{shlex.join(['kmeshctl', *line])}`"
    if typed == "--timeout" and "timeout" not in names and path:
        return _request_timeout_hint(path)
    for flag, param, hint in HABITS:
        if typed == flag and (param in names or not param):
            option = next((p for p in command.params if p.name == param), None) if "did you mean" in hint else None
            long = next((o for o in getattr(option, "opts", ()) if o.startswith("--")), None)
            return hint + (_respelled_line(typed, long, command) if long else "")
    return ""


def _help_namespace_hint(typed: str, command: _click.Command) -> str:
    """`help status -n foo`: help takes no namespace, the command it names does: that line,
    and help's own line for the command."""
    words = cmdline.ARGS[:separator_at(cmdline.ARGS)]
    value = typed_value(words, typed)
    topic = [w for w in cmdline.without_flag(words, typed, valued=value is not None) if not w.startswith("-")]
    topic = topic[topic.index("help") + 1:] if "help" in topic else topic
    root = cmdline.INVOKED[0].command if cmdline.INVOKED else None
    named, _ = resolve(root, topic) if root is not None and topic else (None, 0)
    helped = f"`{shlex.join(['kmeshctl', 'help', *topic])}` shows its help" if named is not None else \
        "kmeshctl help COMMAND shows a command's help"
    if named is None or option_spelled(named, typed) is None:
        return f"; help takes no {typed}: {helped}"
    run = f"`{shlex.join(['kmeshctl', *topic, typed, value])}`" if value else \
        f"kmeshctl {' '.join(topic)} {typed} NAMESPACE"
    return f"; help takes no {typed} ({' '.join(topic)} does: {run}); {helped}"


def _respelled_line(typed: str, meant: str, command: _click.Command) -> str:
    """` `kmeshctl demo traffic-shift --requests 12``: the line typed with the flag ``typed``
    spelled ``meant`` (a flag of ``command``), every other word kept; "" when ``meant``
    takes a value and none was typed with it (the line would be refused)."""
    words = _respelled(typed, meant)
    option = option_spelled(command, meant)
    valued = option is None or not takes_value(option) or any(
        w.startswith(meant + "=") or w == meant and i + 1 < len(words) and not words[i + 1].startswith("-")
        for i, w in enumerate(words[:separator_at(words)]))
    return f" `{shlex.join(['kmeshctl', *words])}`" if valued and words != list(cmdline.ARGS) else ""


def _namespace_flag_of(command: _click.Command) -> Optional[str]:
    """The long flag of ``command``'s one option that names a namespace under another name
    (node run's --pod-namespace, the agent pod's), None when it has none or several."""
    found = [next(o for o in p.opts if o.startswith("--")) for p in command.params
             if p.param_type_name == "option" and (p.name or "").endswith("_namespace") and takes_value(p)
             and any(o.startswith("--") for o in p.opts)]
    return found[0] if len(found) == 1 else None


def _respelled_hint(typed: str, meant: str) -> str:
    """`; did you mean --pod-namespace? `kmeshctl node run --pod-namespace kmesh-system``
    (the line only when a value was typed with the flag)."""
    words = _respelled(typed, meant)
    valued = any(w.startswith(meant + "=") or w == meant and i + 1 < len(words) and not words[i + 1].startswith("-")
                 for i, w in enumerate(words[:separator_at(words)]))
    line = f" `{shlex.join(['kmeshctl', *words])}`" if valued else ""
    return f"; did you mean {meant}?{line}"


def _respelled(typed: str, meant: str) -> list[str]:
    """The words typed (before `--`) with the flag ``typed`` spelled ``meant`` where it is
    (`--timeout=5s` -> `--request-timeout=5s`; a short flag's glued value, `-nfoo`, too)."""
    words = list(cmdline.ARGS)
    end = separator_at(words)
    for i, word in enumerate(words[:end]):
        if word == typed or word.startswith(typed + "="):
            words[i] = meant + word[len(typed):]
        elif len(typed) == 2 and word.startswith(typed) and len(word) > 2:
            words[i:i + 1] = [meant, word[2:]]
            return words
    return words


def _request_timeout_hint(path: str) -> str:
    """`status --timeout 5s`: the command waits for nothing; kubectl's --request-timeout
    bounds each API request (`kmeshctl --request-timeout 5s status`, when the value typed
    is a duration). Empty for a local command (it asks no API server)."""
    from kmeshctl.asciinum import is_duration_text
    from kmeshctl.cli.suggestions import LOCAL_GROUPS

    words = path.split()[1:]
    if words and words[0] in (*LOCAL_GROUPS, "help"):
        return ""
    value = typed_value(cmdline.ARGS, "--timeout")
    line = f" `{shlex.join(['kmeshctl', *_respelled('--timeout', '--request-timeout')])}`" if value is not None \
        and is_duration_text(value) else ""
    name = " ".join(words)
    does = _waits_text(name, None) if name in WAITS else "waits for nothing else"
    return f"; did you mean --request-timeout (how long one API request may take; {name} {does})?{line}"


def takes_namespace_arguments(command: _click.Command) -> bool:
    """A command whose positional arguments are namespaces (enable-ns NAMESPACE...)."""
    return any(p.param_type_name == "argument" and str(getattr(p, "metavar", "") or "").startswith("NAMESPACE")
               for p in command.params)


def _namespaces_as_arguments_hint(typed: str, command: _click.Command) -> str:
    """`enable-ns -n foo` -> `kmeshctl enable-ns foo`: the namespaces are its arguments.
    Beside namespaces given as arguments, kubectl's -n (where a command runs) names one
    more to change: said so; one enable-ns refuses (kube-system) is left out, said so."""
    from kmeshctl.namespaces import system_namespaces

    line = namespaces_as_arguments(cmdline.ARGS)
    flagless = _typed_less("--namespace", True, _typed_less("-n", True))
    named = [word for word in line[:separator_at(line)] if word not in flagless]
    if not named or not _namespace_arguments(flagless, command):
        return f"; give the namespaces as arguments: `{shlex.join(['kmeshctl', *line])}`"
    refused = system_namespaces() if command.name == "enable-ns" else {}
    left = [name for name in named if name in refused]
    line = [word for word in line if word not in left or word not in named]
    added = [name for name in named if name not in left]
    notes = [added_namespaces_said(added, command)] if added else []
    notes += [f"{typed} {name} left out: namespace {name} {refused[name]}" for name in left]
    return f"; give the namespaces as arguments: `{shlex.join(['kmeshctl', *line])}` ({'; '.join(notes)})"


def added_namespaces_said(added: list[str], command: _click.Command) -> str:
    """`foo added as a namespace to enroll: ...`: kubectl's -n foo beside the namespaces
    given as arguments of enable-ns / disable-ns, made one more of them."""
    verb = "enroll" if command.name == "enable-ns" else "release"
    return f"{spoken_list(added)} added as {'a namespace' if len(added) == 1 else 'namespaces'} to {verb}: " \
           f"{command.name} changes each namespace named, -n is not where it runs"


def _namespace_arguments(words: list[str], command: _click.Command) -> list[str]:
    """The positional words (namespaces) of ``words``, an enable-ns / disable-ns line, after
    the command's name (the values of its flags passed over)."""
    at = next((i for i, word in enumerate(words) if word == command.name), len(words))
    found, i = [], at + 1
    while i < separator_at(words):
        option = option_spelled(command, words[i].partition("=")[0]) if words[i].startswith("-") else None
        if not words[i].startswith("-"):
            found.append(words[i])
        i += 2 if option is not None and takes_value(option) and "=" not in words[i] else 1
    return found


def namespaces_as_arguments(args: "list[str] | tuple[str, ...]") -> list[str]:
    """``args`` (words of an enable-ns / disable-ns line) with each kubectl-style namespace
    flag typed (`-n foo`, `--namespace=foo`, `-nfoo`, kubectl's `-n a,b`) made the
    namespace arguments it names, where it was (a name typed twice: once); the words
    after `--` as they are. A flag without its value is left as it is."""
    words = list(args)
    end = separator_at(words)
    i = 0
    while i < end:
        flag, equals, value = words[i].partition("=")
        glued = words[i][2:] if words[i].startswith("-n") and len(words[i]) > 2 and not words[i].startswith("--") \
            else ""
        if equals and flag in ("-n", "--namespace") or glued:
            named = value if equals else glued
            taken = 1
        elif words[i] in ("-n", "--namespace") and i + 1 < end:
            named, taken = words[i + 1], 2
        else:
            i += 1
            continue
        parts = [part for part in named.split(",") if part] or [named]
        others = words[:i] + words[i + taken:]
        kept = [name for name in dict.fromkeys(parts) if name not in others]
        words[i:i + taken] = kept
        end += len(kept) - taken
        i += len(kept)
    return words


def _other_tools_value(flag: str, following: Optional[str]) -> bool:
    """``following`` is the value of ``flag``, a flag kmeshctl's command lacks that takes one
    in the tool it comes from (kubectl's `-v 6`, `--v=6`: a number)."""
    if following is None or following.startswith("-") or "=" in flag:
        return False
    valued = next((taken for spellings, taken, _, _ in OTHER_TOOLS_FLAGS if flag in spellings), False)
    return valued and (flag not in NUMERIC_VALUE_FLAGS or following.isdigit())


def names_without_separator(args: "list[str] | tuple[str, ...]") -> str:
    """`; without the `--`: `LINE``: the fix for flags typed after `--` on an enable-ns /
    disable-ns line (read as namespace names): LINE names the namespaces (kubectl's `-n foo`
    as the name foo); a word that is no flag of the command, or a flag left without its
    value, is left out and said; a line then naming no namespace would be refused, so an
    example line naming one is offered instead, said as such."""
    from typer._click.globals import get_current_context

    words = list(args)
    at = separator_at(words)
    line = namespaces_as_arguments([*words[:at], *words[at + 1:]])
    ctx = get_current_context()
    start = next((i + 1 for i in walk_words(line, leading_values=True) if line[i] == ctx.info_name), len(line))
    kept, names, unknown, bare, values = line[:start], [], [], [], []
    i = start
    while i < len(line):
        word = line[i]
        param = option_spelled(ctx.command, word.partition("=")[0]) if word.startswith("-") and word != "-" else None
        if word.startswith("-") and word != "-" and param is None:
            unknown.append(word)
            if _other_tools_value(word, line[i + 1] if i + 1 < len(line) else None):
                values.append(f"{word} {line[i + 1]}")  # kubectl's `-v 6`: 6 is its level, no namespace
                i += 1
        elif param is not None and takes_value(param) and "=" not in word:
            if i + 1 < len(line) and not line[i + 1].startswith("-"):
                kept += line[i:i + 2]
                i += 1
            else:
                bare.append(word)
        else:
            kept.append(word)
            names += [] if param is not None else [word]
        i += 1
    command = ctx.info_name
    valued = f"; {spoken_list(values)} left out whole" if values else ""
    said = [f"{command} has no flag {spoken_list(unknown)} (its namespaces are its arguments{valued})"] if unknown \
        else []
    said += [f"{spoken_list(bare)} {'is' if len(bare) == 1 else 'are'} given no value (left out)"] if bare else []
    left_out = "; ".join(said)
    if names:
        return f"; {left_out}: without {'it' if len(unknown + bare) == 1 else 'them'}, " \
               f"`{shlex.join(['kmeshctl', *kept])}`" if left_out else \
            f"; without the `--`: `{shlex.join(['kmeshctl', *kept])}`"
    example = shlex.join(["kmeshctl", *kept[:start], "default", *kept[start:]])
    return f"; {left_out + ', and ' if left_out else 'without the `--` '}no namespace is named: name one, e.g. " \
           f"`{example}`"


# ------------------------------------------------------------------ other tools' flags

# Commands that change nothing: they read and print.
READ_ONLY = frozenset({"status", "version", "precheck", "render", "help", "completion", "dump maps", "dump config",
                       "node preflight", "sandbox list", "sandbox status", "waypoint list", "waypoint status"})
# Commands READ_ONLY only with a flag: (that flag, what they change without it).
READS_WITH = {
    "node preflight": ("--no-mount", "it mounts what is missing (bpffs, cgroup2) unless --no-mount, which only "
                                     "reports it"),
}
# What a command does about waiting, for a flag that waits, watches or bounds a wait (-w,
# --wait, --watch, --timeout) it does not have; a command not named: _waits_text.
WAITS = {
    "sandbox up": "waits until the sandbox is ready by itself (the node agent within {agent}s, each pod within "
                  "{pod}s; a step that does not make it fails, saying why)",
    "sandbox down": "waits until every process of the sandbox has ended (SIGTERM, then SIGKILL after {grace}s)",
    "sandbox exec": "waits for the command it runs to end (give that command its own limit: timeout 5m COMMAND)",
    "sandbox list": "reads this machine's sandbox records once and waits for nothing",
    "sandbox status": "shows the sandbox's state once, it does not wait or watch",
    "waypoint delete": "waits for each object to go by itself (--timeout DURATION bounds the wait)",
    "uninstall": "waits for each object to go by itself, each node's agent cleaning up as it stops (--timeout "
                 "DURATION bounds the wait)",
    "node run": "runs the node agent in the foreground until it is stopped",
    "waypoint envoy": "runs Envoy in the foreground until it is stopped, once the controller's socket is there "
                      "(--socket-wait bounds that wait)",
    "waypoint controller": "runs in the foreground until it is stopped",
    "demo traffic-shift": "runs every phase to the end, then prints what it saw",
    "bench dataplane": "runs every phase to the end (--duration sets how long each one runs)",
    "render": "prints the manifests once and waits for nothing",
    "completion": "prints the script once and waits for nothing",
    "help": "prints the help once and waits for nothing",
}
# A command with no dry run that changes something: (what it changes, the command that shows
# it, what that shows); a command not named: its help says what it changes.
_ONE_LABEL = ("it changes only the label istio.io/dataplane-mode of the namespaces named (none of them when one is "
              "refused)", ("status",), "shows the namespaces enrolled now")
DRY_RUN_INSTEAD = {
    "enable-ns": _ONE_LABEL,
    "disable-ns": _ONE_LABEL,
    "sandbox up": ("it changes only this machine, and sandbox down removes everything it makes", ("sandbox", "status"),
                   "shows whether it is up already"),
    "sandbox down": ("it changes only this machine", ("sandbox", "status"), "shows what it would remove"),
}


def _typed_less(flag: str, valued: bool, typed: Optional[list[str]] = None) -> list[str]:
    """The words typed (cmdline.ARGS, else ``typed``) without ``flag`` (`FLAG`, `FLAG=VALUE`, a
    short FLAG with its value attached, and when ``valued`` the word after a bare FLAG that is
    no flag); nothing after `--` is touched."""
    words = list(cmdline.ARGS if typed is None else typed)
    end = separator_at(words)
    kept: list[str] = []
    i = 0
    while i < end:
        word = words[i]
        i += 1
        if word == flag:  # its value: a word that is no flag (`-f -` is stdin); kubectl's `--dry-run client`
            i += 1 if i < end and (_value_of(flag, valued, words[i]) or _on_off_word(valued, words[i])) else 0
        elif not word.startswith(flag + "=") and not _attached_short_value(flag, valued, word):
            kept.append(word)
    return kept + words[end:]


def _on_off_word(valued: bool, word: str) -> bool:
    """``word`` is the true/false word kubectl's and helm's users type after an on/off flag
    (`-w false`): it goes with the flag, never read as a name or a namespace."""
    return not valued and word.lower() in _BOOL_WORDS


def _attached_short_value(flag: str, valued: bool, word: str) -> bool:
    """``word`` is the short ``flag`` with its value attached, as pflag reads `-lapp=x`, `-v3`."""
    if len(flag) != 2 or flag.startswith("--") or len(word) <= 2 or not word.startswith(flag):
        return False
    return _value_of(flag, valued, word[2:])


# kubectl's log level flags take a number: `kmeshctl -v sandbox list` is -v before the command
NUMERIC_VALUE_FLAGS = ("-v", "--v")


def _value_of(flag: str, valued: bool, word: str) -> bool:
    """``word``, typed after the unknown ``flag``, is that flag's value (as its tool reads it)."""
    if flag in NUMERIC_VALUE_FLAGS:
        return word.isdigit()
    if flag == "--dry-run":
        return word in ("client", "server", "none")
    return valued and (word == "-" or not word.startswith("-"))


def _waits_text(name: str, command: Optional[_click.Command]) -> str:
    """What the command ``name`` does about waiting (WAITS, with the sandbox's own limits)."""
    from kmeshctl.sandbox import agent, sandbox

    text = WAITS.get(name)
    if text is None and command is not None and option_spelled(command, "--timeout") is not None:
        text = "waits for its work by itself (--timeout DURATION bounds the wait)"
    if text is None:
        text = "shows the state once and waits for nothing" if name in READ_ONLY else "returns once its work is done"
    return text.format(agent=f"{agent.READY_TIMEOUT_S:g}", pod=f"{sandbox.READY_TIMEOUT_S:g}",
                       grace=f"{sandbox.POD_STOP_GRACE_S:g}")


def _line_of(words: tuple[str, ...], command: _click.Command) -> str:
    """`kmeshctl WORDS FLAGS`: the command ``words`` with the flags typed for ``command`` it takes too."""
    from kmeshctl.cli.render import _typed_words_for

    target = cmdline.INVOKED[0].command if cmdline.INVOKED else None
    for word in words:
        target = getattr(target, "commands", {}).get(word)
    flags = _typed_words_for(command, target, cmdline.ARGS) if target is not None else []
    return shlex.join(["kmeshctl", *words, *flags])


def _asks(name: str, command: _click.Command, flag: str, whose: str, without: str) -> str:
    return f"; {name} does not ask ({whose} {flag}): leave {flag} out, `{without}`"


def _revision(name: str, command: _click.Command, flag: str, whose: str, without: str) -> str:
    from kmeshctl.cli.badinput import _DNS_LABEL
    from kmeshctl.params import DEFAULT_ISTIO_NAMESPACE

    if name.startswith("waypoint "):  # `waypoint apply` has -r/--revision: the others act on any revision's
        return (f"; {name} takes no {flag}: it covers waypoints of any istiod revision (only "
                f"`waypoint apply` takes {flag}): leave {flag} out, `{without}`")
    said = f"; kmesh has no revisions of its own ({whose} {flag})"
    if option_spelled(command, "--xds-address") is None or typed_value(cmdline.ARGS, "--xds-address") is not None:
        return f"{said}: leave {flag} out, `{without}`"
    revision = typed_value(cmdline.ARGS, flag) or ""
    namespace = typed_value(cmdline.ARGS, "--istio-namespace") or DEFAULT_ISTIO_NAMESPACE
    follow = f"{said}: its agents follow the istiod --xds-address names"
    found, answered = _revision_addresses(revision, namespace)
    if answered:
        return follow + _found_revision_text(revision, found, without)
    if not _DNS_LABEL.fullmatch(revision):
        return f"{follow} (ASM: the istiod-<revision> Service)"
    from kmeshctl.istiod import DEFAULT_REVISION

    default = revision == DEFAULT_REVISION
    service = "istiod" if default else f"istiod-{revision}"
    which = "the default revision's Service is istiod" if default else "ASM: the istiod-<revision> Service"
    from kmeshctl.cli.render import _why_not_looked_up  # no cluster, or one that did not answer: said so

    return f"{follow} ({which}; {_why_not_looked_up(cmdline.ARGS)}), " \
           f"`{without} --xds-address {service}.{namespace}.svc:15012`"




def _revision_addresses(revision: str, namespace: str) -> tuple[tuple[list[str], list[str]], bool]:
    """((the addresses of the istiod Services of ``revision``, of every istiod Service),
    whether the cluster the typed line names answered within the hint's time): a Service
    of revision R is labelled istio.io/rev=R, or (unlabelled) named as Istio names it
    (`istiod` for the default revision, `istiod-R` else); those in ``namespace`` first."""
    from kmeshctl import istiod
    from kmeshctl.params import COMPLETION_LOOKUP_TIMEOUT_S

    target = typed_target(cmdline.ARGS)
    services, answered = istiod.ask_quickly(target.kubeconfig, target.context, COMPLETION_LOOKUP_TIMEOUT_S,
                                            istiod.istiod_services, "asking for istiod's Services")
    if not answered:
        return ([], []), False
    ordered = sorted(services or [], key=lambda svc: (svc["metadata"].get("namespace") != namespace,
                                                     istiod.istiod_address_of(svc, istiod.XDS_PORT)))
    addresses = [istiod.istiod_address_of(svc, istiod.XDS_PORT) for svc in ordered]
    matching = [address for svc, address in zip(ordered, addresses) if istiod.service_revision(svc) == revision]
    return (matching, addresses), True


def _found_revision_text(revision: str, found: tuple[list[str], list[str]], without: str) -> str:
    """What the cluster has for ``revision``: its istiod Service(s) as installs to paste,
    else every istiod Service found, else that there is none."""
    matching, every = found
    if not every:
        return "; no istiod Service was found in the cluster: is Istio installed?"
    lines = " or ".join(f"`{without} --xds-address {address}`" for address in (matching or every))
    if matching:
        return f" (revision {shlex.quote(revision)}: {', '.join(a.partition(':')[0] for a in matching)}), {lines}"
    return f"; no istiod Service of revision {shlex.quote(revision)} was found (istiod Services: " \
           f"{', '.join(every)}): {lines}"


def _dry_run(name: str, command: _click.Command, flag: str, whose: str, without: str) -> str:
    if name == "render":
        return f"; render is install's offline dry run already (it prints the manifests and applies nothing): " \
               f"leave {flag} out, `{without}`"
    if name in READS_WITH:  # it changes things unless told not to: the line that tells it
        words, what = READS_WITH[name]
        line = without if words in without.split() else f"{without} {words}"
        return f"; {name} has no dry run ({whose} {flag}): {what}: `{line}`"
    if name in READ_ONLY:
        return f"; {name} changes nothing, so it has no dry run: leave {flag} out, `{without}`"
    if name not in DRY_RUN_INSTEAD:  # never the line without it: that runs it for real
        return f"; {name} has no dry run ({whose} {flag}): `kmeshctl {name} --help` says what it changes"
    changes, words, shows = DRY_RUN_INSTEAD[name]
    return f"; {name} has no dry run ({whose} {flag}): {changes}; `{_line_of(words, command)}` {shows}"


def _dry_run_misspelled(name: str, command: _click.Command, flag: str, whose: str, without: str) -> str:
    """`--dryrun` where the command has no --dry-run: said as --dry-run is (kubectl's)."""
    if option_spelled(command, "--dry-run") is not None:
        return ""  # its own --dry-run: the did-you-mean
    return _dry_run(name, command, flag, whose, without).replace(f"({whose} {flag})", f"({whose} --dry-run)")


def no_dry_run_said(root: _click.Command) -> str:
    """What the command typed (cmdline.ARGS) does instead of the --dry-run typed with it,
    when no line that changes things may be offered in its place (suggestions.runs_for_real)."""
    from kmeshctl.cli.suggestions import _command_path, typed_words

    path = tuple(_command_path(root, ["kmeshctl", *typed_words()])[1:])
    command, _ = resolve(root, list(path))
    name = " ".join(path)
    if command is None or hasattr(command, "commands"):
        return "no line without --dry-run is offered (it would change things without it)"
    if option_spelled(command, "--dry-run") is not None:
        return f"no line without --dry-run is offered ({name} would change things without it)"
    # a refusal may come before cmdline.ARGS is set (`--wait=yes`): the line is built from the words typed
    with cmdline.args_as(typed_words()):
        return _dry_run(name, command, "--dry-run", "kubectl's", "").removeprefix("; ")


def _waits(name: str, command: _click.Command, flag: str, whose: str, without: str) -> str:
    return f"; {name} has no {flag} ({whose}): it {_waits_text(name, command)}; leave {flag} out, `{without}`"


def _file(name: str, command: _click.Command, flag: str, whose: str, without: str) -> str:
    if name == "sandbox down":
        return f"; sandbox down removes a sandbox by its name, with everything made from its files ({whose} " \
               f"{flag}): leave {flag} out, `{without}`"
    if name in READ_ONLY:
        return f"; {name} reads no file ({whose} {flag}): leave {flag} out, `{without}`"
    return f"; {name} reads no file ({whose} {flag}): each setting is a flag of its own (`kmeshctl {name} --help`)"


def _settings(name: str, command: _click.Command, flag: str, whose: str, without: str) -> str:
    values_file = flag in ("--values", "--helm-values")
    what = f"reads no values file ({whose} {flag})" if values_file else f"has no {flag} ({whose})"
    if name in READ_ONLY and name != "render":
        return f"; {name} {what}: leave {flag} out, `{without}`"
    return f"; {name} {what}: each setting is a flag of its own (`kmeshctl {name} --help`)"


_TAG = re.compile(r"[\w][\w.-]{0,127}")  # an image tag


def _version(name: str, command: _click.Command, flag: str, whose: str, without: str) -> str:
    image = option_spelled(command, "--image")
    if image is None:
        return f"; {name} has no {flag} ({whose} names a chart's version): kmeshctl's own is `kmeshctl version`"
    tag = typed_value(cmdline.ARGS, flag) or ""
    untagged = str(image.default).rpartition(":")[0] or str(image.default)
    if typed_value(cmdline.ARGS, *image.opts) is not None or not _TAG.fullmatch(tag):
        return f"; {name} runs the version its --image tag names ({whose} {flag}): give it as --image IMAGE:TAG"
    return f"; {name} runs the version its --image tag names ({whose} {flag}): `{without} --image {untagged}:{tag}`"


def _grace(name: str, command: _click.Command, flag: str, whose: str, without: str) -> str:
    if name == "sandbox down":
        return f"; sandbox down has no {flag} ({whose}): it {_waits_text(name, command)}; leave {flag} out, " \
               f"`{without}`"
    if option_spelled(command, "--timeout") is not None and name.split()[-1] in ("uninstall", "delete"):
        return f"; {name} has no {flag} ({whose}): each object goes with its own grace period and {name} waits " \
               f"for it (--timeout DURATION bounds the wait); leave {flag} out, `{without}`"
    return f"; {name} deletes no pods, so {flag} ({whose}) means nothing here: leave it out, `{without}`"


def _force(name: str, command: _click.Command, flag: str, whose: str, without: str) -> str:
    if option_spelled(command, "--force-conflicts") is not None:  # never offered to run (badinput.NEVER_GUESSED)
        return f"; {name} has no {flag} ({whose}): the fields another field manager owns are taken back with " \
               "--force-conflicts, as kubectl apply --server-side --force-conflicts does"
    if name in READ_ONLY:
        return f"; {name} changes nothing, so there is nothing to force: leave {flag} out, `{without}`"
    return f"; {name} has no {flag} ({whose}): when it refuses something, its error says why and what to do; " \
           f"leave {flag} out, `{without}`"


def _chart(name: str, command: _click.Command, flag: str, whose: str, without: str) -> str:
    if name != "install":
        return f"; {name} uses no chart ({whose} {flag}): leave {flag} out, `{without}`"
    dry_run = without if "--dry-run" in shlex.split(without) else _with_flags(without, "--dry-run")
    return f"; install uses no chart ({whose} {flag}): its manifests are built in; `{dry_run}` shows them as the " \
           "API server would take them, `kmeshctl render --help` prints them offline to change by hand"


def _wait_duration(name: str, command: _click.Command, flag: str, whose: str, without: str) -> str:
    from kmeshctl.asciinum import is_duration_text

    if option_spelled(command, "--timeout") is None:
        return _waits(name, command, flag, whose, without)
    value = typed_value(cmdline.ARGS, flag)
    kept = spelled_in(shlex.split(without), option_spelled(command, "--timeout"))  # a --timeout typed too: it stays
    words = shlex.split(without)[1:] if kept else _respelled(flag, "--timeout")
    wait = option_spelled(command, "--wait")  # its --timeout bounds only --wait's wait (conventions.NEEDS_ON)
    if wait is not None and not spelled_in(words, wait):  # right after the --timeout given
        at = next((i for i, w in enumerate(words[:separator_at(words)]) if spelled(w, {"--timeout"})), None)
        end = len(words) if at is None else at + (1 if "=" in words[at] else 2)
        words[end:end] = ["--wait"]
    line = f" `{shlex.join(['kmeshctl', *words])}`" if kept or value is not None and is_duration_text(value) else ""
    bounds = f"with --wait it bounds {name}'s wait" if wait is not None else f"it bounds {name}'s wait"
    return f"; did you mean --timeout DURATION ({whose} {flag}; {bounds})?{line}"


def _verbosity(name: str, command: _click.Command, flag: str, whose: str, without: str) -> str:
    """kubectl's -v=N (its log level), --verbose: the command's own -v or --log-level."""
    if option_spelled(command, "-v") is not None:  # the demo's per-request lines
        line = without if spelled_in(shlex.split(without), option_spelled(command, "-v")) else \
            _with_flags(without, "-v")
        return f"; {name}'s -v takes no level ({whose} {flag} sets one): `{line}`"
    level = option_spelled(command, "--log-level")
    if level is not None:
        said = f"; {name}'s log level is --log-level debug|info|warning|error ({whose} {flag})"
        given = typed_value(shlex.split(without), *level.opts)
        if given is not None:  # one --log-level: the line keeps the level typed
            return f"{said}; --log-level {shlex.quote(given)} is given already: leave {flag} out, `{without}`"
        return f"{said}: `{_with_flags(without, '--log-level', 'debug')}`"
    return f"; {name} has no log levels ({whose} {flag}): an error names its cause and the fix in one line; " \
           f"leave {flag} out, `{without}`"


def typed_level(flag: str, args: list[str]) -> str:
    """The last of kubectl's log levels typed for ``flag`` (-v) before `--` (`-v=6`,
    `-v6`: "6"), else ""."""
    levels = [w[len(flag):].removeprefix("=") for w in args[:separator_at(args)] if w.startswith(flag)]
    return next((level for level in reversed(levels) if level.isdigit()), "")


def log_level_hint(command: _click.Command, name: str, flag: str, args: list[str]) -> str:
    """`; demo traffic-shift's -v takes no level (kubectl's -v sets one): `kmeshctl demo
    traffic-shift -v``: kubectl's `-v=6` / `-v6` typed (``args``) for the on/off -v of
    ``command`` (spelled ``name``), as the log level flag is said on a command without one;
    kubectl's default level 0 turns nothing on: the line leaves -v out."""
    end = separator_at(args)
    kept = [w for w in args[:end] if not (w.startswith(flag) and w[len(flag):].removeprefix("=").isdigit())]
    without = shlex.join(["kmeshctl", *kept, *args[end:]])  # a bare -v typed as well stays
    if int(typed_level(flag, args)) == 0:
        return f"; {name}'s -v takes no level (kubectl's {flag}=0 is its default): leave it out, `{without}`"
    return _verbosity(name, command, flag, "kubectl's", without)


def _spaced_level_hint(ctx: _click.Context, args: list[str]) -> str:
    """kubectl's log level given apart (`demo traffic-shift -v 6`), the number read as a
    stray word: log_level_hint's line, as for `-v=6`; "" when no number follows an on/off -v."""
    for flag in NUMERIC_VALUE_FLAGS:
        option = option_spelled(ctx.command, flag)
        if option is None or takes_value(option):
            continue
        end = separator_at(args)
        at = next((i for i in range(end - 1) if args[i] == flag and args[i + 1].isdigit()), None)
        if at is not None:
            joined = [*args[:at], f"{flag}={args[at + 1]}", *args[at + 2:]]
            return log_level_hint(ctx.command, ctx.command_path.partition(" ")[2], flag, joined)
    return ""


def spelled_in(words: list[str], option: Optional[_click.Parameter]) -> bool:
    """Some word of ``words`` before `--` is ``option`` (any spelling, `FLAG=VALUE` too)."""
    spellings = set(option.opts) | set(option.secondary_opts) if option is not None else set()
    return any(spelled(w, spellings) for w in words[:separator_at(words)])


def _no_such_global(name: str, command: _click.Command, flag: str, whose: str, without: str) -> str:
    """kubectl's global flags for its own cache, logs and profiling: kmeshctl has none."""
    return f"; kmeshctl has no {flag} ({whose} global flag): leave it out, `{without}`"


def _with_flags(line: str, *flags: str) -> str:
    """The command ``line`` with ``flags`` added before its `--`, if any."""
    words = shlex.split(line)
    end = separator_at(words)
    return shlex.join([*words[:end], *flags, *words[end:]])


def _owners(flag: str, hidden: bool = False) -> list[str]:
    """The commands (`install`, `sandbox up`) that take ``flag``, in the order help lists them
    (with ``hidden``, the hidden ones too: waypoint controller, run in a waypoint's pod)."""
    if not cmdline.INVOKED:
        return []

    def visit(command: _click.Command, words: list[str]) -> Iterable[str]:
        for word, sub in getattr(command, "commands", {}).items():
            if hidden or not getattr(sub, "hidden", False):
                yield from visit(sub, [*words, word])
        if not hasattr(command, "commands") and option_spelled(command, flag) is not None:
            yield " ".join(words)

    return list(visit(cmdline.INVOKED[0].command, []))


MAX_OWNERS = 3  # commands named as a flag's owners; more: "and others"


def _owned_by(commands: list[str]) -> str:
    """`a flag of install and render`, `a flag of a, b, c and others`."""
    named = commands[:MAX_OWNERS] + (["others"] if len(commands) > MAX_OWNERS else [])
    return "a flag of " + spoken_list(named)


def other_command_flag_hint(typed: str, command: _click.Command, path: str) -> str:
    """`; precheck does not need --xds-address (it is install's and render's): leave it out,
    `kmeshctl precheck``: a flag another kmeshctl command takes, typed on ``command``
    (spelled ``path``) that does not; empty for a flag no command has, or a group."""
    name = " ".join(path.split()[1:])
    meant = typed if _owners(typed, hidden=True) else spelled_out(typed)  # `--istio-ns`: --istio-namespace's
    owners = [c for c in _owners(meant) if c != name]
    hidden = [c for c in _owners(meant, hidden=True) if c != name]  # a pod's own command's: named by none
    if not hidden or not name or hasattr(command, "commands") or option_spelled(command, meant) is not None:
        return ""
    valued = any(takes_value(p) for p in [_param_of_command(c, meant) for c in hidden] if p is not None)
    words = _typed_less(typed, valued)
    notes = [*([f"{typed} is {meant}"] if meant != typed else []), *([_owned_by(owners)] if owners else [])]
    said = f"; {name} does not need {meant}" + (f" ({'; '.join(notes)})" if notes else "")
    if takes_namespace_arguments(command) and not _arguments_given(command, words, path.split()[1:]):
        value = typed_value(cmdline.ARGS, typed) if valued else None
        if not value or not meant.endswith("namespace"):  # the line without it would lack the namespaces
            return f"{said}: leave it out and name the namespaces as arguments"
        # `enable-ns --istio-namespace team-a`: team-a is the namespace meant, its only one
        end = separator_at(words)
        line = shlex.join(["kmeshctl", *words[:end], value, *words[end:]])
        return f"{said}: the namespaces are its arguments, `{line}`"
    return f"{said}: leave it out, `{shlex.join(['kmeshctl', *words])}`"


def _arguments_given(command: _click.Command, words: list[str], path: list[str]) -> bool:
    """Some word of ``words`` (a line typed, `--` and after it included) is a positional
    argument of ``command`` (named by the words ``path``): no flag, no flag's value, no word
    of the path."""
    left = list(path)
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word == "--":
            return i < len(words)
        if left and word == left[0]:
            left.pop(0)
        elif word.startswith("-") and word != "-":
            option = option_spelled(command, word)
            valued = word in GLOBAL_FLAGS or (option is not None and takes_value(option))
            i += 1 if valued and "=" not in word else 0
        else:
            return True
    return False


def _param_of_command(name: str, flag: str) -> Optional[_click.Parameter]:
    command: Any = cmdline.INVOKED[0].command if cmdline.INVOKED else None
    for word in name.split():
        command = getattr(command, "commands", {}).get(word)
    return option_spelled(command, flag) if command is not None else None


def _spelled_here(meant: str) -> Callable[..., str]:
    """The say-function of another tool's spelling of kmeshctl's ``meant`` (istioctl's -i,
    --istioNamespace: --istio-namespace): the line respelled, on a command that has it;
    on one that does not, the commands that do and the line without it."""
    def say(name: str, command: _click.Command, flag: str, whose: str, without: str) -> str:
        if option_spelled(command, meant) is None:
            owners = [c for c in _owners(meant) if c != name]
            owned = f" is {meant} here, {_owned_by(owners)}" if owners else ""
            return f"; {name} does not need {flag} ({whose} {flag}{owned}): leave it out, `{without}`"
        given = typed_value(cmdline.ARGS, *(option_spelled(command, meant).opts))  # type: ignore[union-attr]
        if given is not None:
            return f"; did you mean {meant} ({whose} {flag})? {meant} {shlex.quote(given)} is given already: " \
                   f"leave {flag} out, `{without}`"
        line = f" `{shlex.join(['kmeshctl', *_respelled(flag, meant)])}`" if typed_value(cmdline.ARGS, flag) else ""
        return f"; did you mean {meant} ({whose} {flag})?{line}"
    return say


_FALSE_WORDS = cmdline.FALSE_WORDS
_BOOL_WORDS = cmdline.TRUE_FALSE_WORDS


def _remote(name: str, command: _click.Command, flag: str, whose: str, without: str) -> str:
    """istioctl version's --remote=false: kmeshctl's --client; --remote (true): the default."""
    if option_spelled(command, "--client") is None:
        return ""
    value = typed_value(cmdline.ARGS, flag)
    spaced = value is not None and f"{flag}={value}" not in cmdline.ARGS and value.lower() in _BOOL_WORDS
    words = _typed_less(flag, spaced)
    if value is not None and value.lower() in _FALSE_WORDS:
        line = shlex.join(["kmeshctl", *words])
        line = line if "--client" in words else _with_flags(line, "--client")
        return f"; did you mean --client ({whose} {flag}=false: only this client's version, no cluster asked)? `{line}`"
    return f"; {name} asks the cluster by itself when one answers ({whose} {flag}): leave {flag} out, " \
           f"`{shlex.join(['kmeshctl', *words])}`"


def _selector(name: str, command: _click.Command, flag: str, whose: str, without: str) -> str:
    """kubectl label's -l/--selector on enable-ns/disable-ns: they take namespace names; the
    kubectl line that prints the names a selector picks, to give as arguments (another
    command: _list_flag)."""
    if not takes_namespace_arguments(command):
        return _list_flag(name, command, flag, "kubectl get's", without)
    value = typed_value(cmdline.ARGS, flag)
    kubectl = kubectl_line(["get", "namespaces", "-l", value or "KEY=VALUE", "-o",
                            "jsonpath={.items[*].metadata.name}"],
                           typed_value(cmdline.ARGS, "--kubeconfig"), typed_value(cmdline.ARGS, "--context"))
    return f"; {name} takes namespace names, not a label selector ({whose} {flag}): `{kubectl}` prints " \
           f"the names {shlex.quote(value) if value else 'a selector'} selects, to give {name} as its arguments"


def _container(name: str, command: _click.Command, flag: str, whose: str, without: str) -> str:
    """kubectl's -c/--container on a command that asks a node agent pod (--pod): the pod
    has one container, so the line without the flag is the whole fix; "" elsewhere (a
    count, `-c 200`, is demo traffic-shift's, which other_command_flag_hint names)."""
    if option_spelled(command, "--pod") is None:
        return ""
    return f"; the node agent pod has one container, so {name} needs no {flag} ({whose} container flag): " \
           f"leave it out, `{without}`"


# A command's own way to narrow what it shows (kubectl get's list flags have none here).
OWN_FILTERS = {"waypoint list": "-n NAMESPACE (one namespace's waypoints)",
               "waypoint status": "--name NAME (one waypoint)", "dump maps": "--map NAME (one map)"}
# kubectl get's list flags kmeshctl has nowhere: (flag, whether it takes a value).
LIST_FLAGS = {"--field-selector": True, "--sort-by": True, "--chunk-size": True, "--show-labels": False}


def _list_flag(name: str, command: _click.Command, flag: str, whose: str, without: str) -> str:
    """kubectl get's list flags (-l, --field-selector, --sort-by, --show-labels,
    --chunk-size) on a command without them: its own filter (OWN_FILTERS), and for a
    command with a table, its -o json to select or sort with jq (the line typed less the
    flag and its -o); else the line without the flag."""
    own = OWN_FILTERS.get(name)
    said = f"; {name} has no {flag} ({whose} list flag)" + (f": it narrows with {own}" if own else "")
    output = option_spelled(command, "-o")
    choices = {str(getattr(c, "value", c)) for c in getattr(getattr(output, "type_descriptor", None), "choices",
                                                            None) or ()}
    if not {"table", "json"} <= choices:  # no listing (install, uninstall): the flag means nothing here
        return f"{said}; leave {flag} out, `{without}`"
    words = _typed_less(flag, LIST_FLAGS.get(flag, True))
    words = _typed_less("--output", True, _typed_less("-o", True, words))
    words = [w for w in words if not w.startswith(("-o=", "--output=")) and not (w.startswith("-o") and len(w) > 2
                                                                                and not w.startswith("--"))]
    return f"{said}{'; or' if own else ':'} read its -o json, `{shlex.join(['kmeshctl', *words, '-o', 'json'])}`, " \
           "and select or sort with jq"


def _creates_namespace(name: str, command: _click.Command, flag: str, whose: str, without: str) -> str:
    """helm's --create-namespace on install/render: their manifests hold the Namespace."""
    from kmeshctl.params import DEFAULT_NAMESPACE

    if name not in ("install", "render"):
        return ""
    namespace = typed_value(cmdline.ARGS, "-n", "--namespace") or DEFAULT_NAMESPACE
    does = "creates the namespace {ns} (its -n) itself" if name == "install" else \
        "prints the Namespace {ns} (its -n) first, before what lives in it"
    return f"; {name} {does.format(ns=namespace)} ({whose} {flag}): leave {flag} out, `{without}`"


# `-o json | jq` for the names a command's table lists: (command) -> the jq filter.
NAMES_IN_JSON = {"sandbox status": ".pods[].name", "waypoint list": ".[].name", "waypoint status": ".pods | keys[]"}


def _no_headers(name: str, command: _click.Command, flag: str, whose: str, without: str) -> str:
    """kubectl's --no-headers on a table command that lacks it: its -o json, for scripts."""
    read = json_names_hint(name, command, [flag])
    return f"; {name} has no {flag} ({whose}){read}" if read else ""


def json_names_hint(name: str, command: _click.Command, dropped: list[str]) -> str:
    """`: for scripts, read its -o json, `kmeshctl waypoint list -o json`, piped to `jq -r
    '.[].name'` for the names alone`: the line typed less its -o and the on/off flags
    ``dropped`` (--no-headers), for a command whose -o has json; "" for another."""
    output = option_spelled(command, "-o")
    choices = getattr(getattr(output, "type_descriptor", None), "choices", None) or ()
    if output is None or "json" not in {str(getattr(c, "value", c)) for c in choices}:
        return ""
    words = list(cmdline.ARGS)
    for flag in dropped:
        words = _typed_less(flag, False, words)
    words = _typed_less("--output", True, _typed_less("-o", True, words))
    words = [w for w in words if not w.startswith(("-o=", "--output=")) and not (w.startswith("-o") and len(w) > 2
                                                                                and not w.startswith("--"))]
    line = shlex.join(["kmeshctl", *words, "-o", "json"])
    from kmeshctl import sandboxes

    line = sandboxes.naming_one(line)  # several sandboxes: the one to read, as their refusal offers
    jq = NAMES_IN_JSON.get(name)
    names = f", piped to `jq -r {shlex.quote(jq)}` for the names alone" if jq else ""
    return f": for scripts, read its -o json, `{line}`{names}"


# kubectl's (and helm's) flags for what a kubeconfig context holds: the `kubectl config`
# line that sets it in the kubeconfig ({value}: the value typed; a token is never echoed).
KUBECONFIG_SETTINGS = {
    "--cluster": ("set-context", "NAME", "--cluster={value}", "--user=USER"),
    "--user": ("set-context", "NAME", "--cluster=CLUSTER", "--user={value}"),
    "-s": ("set-cluster", "NAME", "--server={value}"),
    "--server": ("set-cluster", "NAME", "--server={value}"),
    "--kube-apiserver": ("set-cluster", "NAME", "--server={value}"),
    "--insecure-skip-tls-verify": ("set-cluster", "NAME", "--insecure-skip-tls-verify=true"),
    "--kube-insecure-skip-tls-verify": ("set-cluster", "NAME", "--insecure-skip-tls-verify=true"),
    "--certificate-authority": ("set-cluster", "NAME", "--certificate-authority={value}"),
    "--kube-ca-file": ("set-cluster", "NAME", "--certificate-authority={value}"),
    "--token": ("set-credentials", "NAME", "--token=TOKEN"),
    "--kube-token": ("set-credentials", "NAME", "--token=TOKEN"),
    "--client-certificate": ("set-credentials", "NAME", "--client-certificate={value}"),
    "--client-key": ("set-credentials", "NAME", "--client-key={value}"),
    "--username": ("set-credentials", "NAME", "--username={value}"),
    "--password": ("set-credentials", "NAME", "--password=PASSWORD"),
    "--as": ("set", "users.NAME.as", "{value}"),
    "--as-uid": ("set", "users.NAME.as-uid", "{value}"),
    "--tls-server-name": ("set-cluster", "NAME", "--tls-server-name={value}"),
}
# kubeconfig settings `kubectl config` has no flag for (a list): what the user entry holds.
KUBECONFIG_ENTRIES = {"--as-group": "the user's as-groups list ({value})"}
LOCAL_COMMANDS = ("help",)  # besides suggestions.LOCAL_GROUPS: commands that use no cluster


def _uses_no_cluster(name: str) -> bool:
    from kmeshctl.cli.suggestions import LOCAL_GROUPS

    return name.split()[0] in (*LOCAL_GROUPS, *LOCAL_COMMANDS)


def _kubeconfig_contexts(args: list[str]) -> tuple[str, list[dict]]:
    """(the kubeconfig the typed line ``args`` names, as typed or ~/.kube/config, its
    context entries: {name, context: {cluster, user}}, each name once, as kubectl merges
    a $KUBECONFIG list: the first file's entry wins); no entries when it cannot be read."""
    path, found = _kubeconfig_read(args)
    if found is None:
        return path, []
    entries: dict[str, dict] = {}
    for config in found.configs:
        for entry in config.get("contexts") or []:
            if isinstance(entry, dict) and entry.get("name") in found.contexts:
                entries.setdefault(str(entry["name"]), entry)
    return path, list(entries.values())


def _kubeconfig_read(args: list[str]) -> tuple[str, Any]:
    """(the kubeconfig path the typed line ``args`` names, its KubeconfigFiles, None when it cannot be read)."""
    from kmeshctl.kube import DEFAULT_KUBECONFIG, check_kubeconfig

    target = typed_target(args)
    path = target.kubeconfig or DEFAULT_KUBECONFIG
    try:
        return path, check_kubeconfig(os.path.expanduser(path), None, explicit=target.kubeconfig is not None,
                                      current_needed=False)  # its contexts, whatever the current one is
    except Exception:  # noqa: BLE001 - this runs inside an error message: a kubeconfig that does not load lists none
        return path, None


def _kubeconfig_lines() -> list[str]:
    """The `kubectl config` lines that put every kubectl flag of KUBECONFIG_SETTINGS typed
    on the line into a kubeconfig entry, one line per entry (`--username X --password Y`:
    one set-credentials). NAME stays a placeholder: the entry of the context in use would
    be changed for every later kubectl run, where kubectl's flag changes one run."""
    args = list(cmdline.ARGS)
    lines: dict[tuple[str, str], list[str]] = {}
    for flag, setting in KUBECONFIG_SETTINGS.items():
        if not any(spelled(w, {flag}) for w in args[:separator_at(args)]):
            continue
        value = typed_value(args, flag) or "VALUE"
        words = [w.format(value=value) for w in setting]
        key = (words[0], words[1]) if words[0] != "set" else (words[0], f"{words[1]}={value}")
        line = lines.setdefault(key, words[:2])
        for word in words[2:]:  # a value typed wins over another flag's placeholder (`--cluster=CLUSTER`)
            at = next((i for i, held in enumerate(line) if held.partition("=")[0] == word.partition("=")[0]), None)
            if at is None:
                line.append(word)
            elif line[at].partition("=")[2].isupper() and not word.partition("=")[2].isupper():
                line[at] = word
    return [kubectl_line(["config", *words], typed_value(args, "--kubeconfig"), None) for words in lines.values()]


def _context_choice(name: str, command: _click.Command, flag: str, whose: str, without: str) -> str:
    """kubectl's --cluster, --user, --server, --token, ...: kmeshctl takes a kubeconfig
    context; the contexts of the cluster or user typed, as lines to paste, else the
    kubeconfig's contexts and the `kubectl config` lines that put what was typed in one."""
    if _uses_no_cluster(name):
        return f"; {name} uses no cluster ({whose} {flag}): leave {flag} out, `{without}`"
    value = typed_value(cmdline.ARGS, flag) or ""
    path, contexts = _kubeconfig_contexts(cmdline.ARGS)
    listed = f"contexts in {path}: {', '.join(shlex.quote(c['name']) for c in contexts)}; " if contexts else ""
    said = f"; {name} has no {flag} ({whose}): a cluster, its server and the user's credentials are chosen by a " \
           f"kubeconfig context, --context NAME ({listed}--kubeconfig PATH for another file)"
    typed_context = typed_value(cmdline.ARGS, "--context")
    if flag in ("--cluster", "--user") and value and typed_context is None:
        key = flag.lstrip("-")
        meant = [c["name"] for c in contexts if (c.get("context") or {}).get(key) == value]
        if meant:
            lines = " or ".join(f"`{_with_flags(without, '--context', each)}`" for each in meant)
            whose = f"context {shlex.quote(meant[0])}'s" if len(meant) == 1 else \
                f"that of contexts {', '.join(map(shlex.quote, meant))}"
            return f"{said}; {key} {value} is {whose}: {lines}"
    if flag in KUBECONFIG_ENTRIES:
        return f"{said}; {KUBECONFIG_ENTRIES[flag].format(value=value or 'GROUP')} in the context's user entry of " \
               f"{path} puts it in one"
    lines = _kubeconfig_lines()
    return f"{said}; {' and '.join(f'`{line}`' for line in lines)} put{'s' if len(lines) == 1 else ''} " \
           "it in one"


def _kube_context(name: str, command: _click.Command, flag: str, whose: str, without: str) -> str:
    """helm's --kube-context: kmeshctl's --context (the line respelled, when no --context is typed)."""
    given = typed_value(cmdline.ARGS, "--context")
    if given is not None:
        return f"; did you mean --context ({whose} {flag})? --context {shlex.quote(given)} is given already: " \
               f"leave {flag} out, `{without}`"
    line = f" `{shlex.join(['kmeshctl', *_respelled(flag, '--context')])}`" if typed_value(cmdline.ARGS, flag) else ""
    return f"; did you mean --context ({whose} {flag})?{line}"


# Flags of kubectl, istioctl, helm and cilium a kmeshctl command may not have: (spellings,
# whether one takes a value, whose they are, what the command says instead).
OTHER_TOOLS_FLAGS: tuple[tuple[tuple[str, ...], bool, str, Callable[..., str]], ...] = (
    (("-y", "--yes", "--skip-confirmation"), False, "istioctl's", _asks),
    (("-r", "--revision"), True, "istioctl's", _revision),
    (("--dry-run",), False, "kubectl's", _dry_run),
    (("--dryrun", "--dry_run"), False, "kubectl's", _dry_run_misspelled),
    (("-w", "--wait", "--watch"), False, "kubectl's", _waits),
    (("--timeout",), True, "kubectl's and helm's", _waits),
    (("-f", "--filename"), True, "kubectl's", _file),
    (("--values",), True, "helm's and cilium's", _settings),
    (("--set",), True, "istioctl's, helm's and cilium's", _settings),
    (("--set-string", "--set-file"), True, "helm's and cilium's", _settings),
    (("--version",), True, "helm's and cilium's", _version),
    (("--grace-period",), True, "kubectl delete's", _grace),
    (("--now",), False, "kubectl delete's", _grace),
    (("--force",), False, "kubectl's", _force),
    (("--helm-set", "--helm-set-string", "--helm-set-file", "--helm-values"), True, "cilium's", _settings),
    (("--wait-duration",), True, "cilium's", _wait_duration),
    (("--chart-directory",), True, "cilium's", _chart),
    (("-v", "--v"), True, "kubectl's", _verbosity),
    (("--verbose",), False, "kubectl's", _verbosity),
    (("--kube-context",), True, "helm's", _kube_context),
    (("--cluster", "--user", "-s", "--server", "--token", "--certificate-authority", "--client-certificate",
      "--client-key"), True, "kubectl's", _context_choice),
    (("--insecure-skip-tls-verify",), False, "kubectl's", _context_choice),
    (("--as", "--as-group", "--as-uid", "--tls-server-name", "--username", "--password"), True, "kubectl's",
     _context_choice),
    (("--cache-dir", "--log-file", "--profile", "--profile-output", "--log-dir"), True, "kubectl's", _no_such_global),
    (("--disable-compression", "--match-server-version", "--warnings-as-errors", "--log-flush-frequency",
      "--logtostderr", "--alsologtostderr", "--one-output", "--skip-headers", "--skip-log-headers"), False,
     "kubectl's", _no_such_global),
    (("--kube-apiserver", "--kube-token", "--kube-ca-file"), True, "helm's", _context_choice),
    (("--kube-insecure-skip-tls-verify",), False, "helm's", _context_choice),
    (("-i", "--istioNamespace"), True, "istioctl's", _spelled_here("--istio-namespace")),
    (("--clusterID",), True, "istiod's", _spelled_here("--cluster-id")),
    (("--cluster-name",), True, "cilium's", _spelled_here("--cluster-id")),
    (("--discoveryAddress",), True, "istio-agent's", _spelled_here("--xds-address")),
    (("--remote",), False, "istioctl's", _remote),
    (("-l", "--selector"), True, "kubectl label's", _selector),
    (("--no-wait",), False, "kubectl's --wait=false", _waits),
    (("--create-namespace",), False, "helm's", _creates_namespace),
    (("--no-headers",), False, "kubectl's", _no_headers),
    (("-c", "--container"), True, "kubectl's", _container),
    *((((flag,), valued, "kubectl get's", _list_flag)) for flag, valued in LIST_FLAGS.items()),
)


def other_tools_flag_hint(typed: str, command: _click.Command, path: str) -> str:
    """`; sandbox up has no --timeout (kubectl's and helm's): it waits until the sandbox is
    ready by itself (...); leave --timeout out, `kmeshctl sandbox up --name x``: for a flag
    of OTHER_TOOLS_FLAGS that ``command`` (spelled ``path``) lacks, what it does instead,
    and the line typed without the flag where running it is what was asked; empty for
    any other flag, or a group."""
    found = next(((valued, whose, say) for spellings, valued, whose, say in OTHER_TOOLS_FLAGS if typed in spellings),
                 None)
    name = " ".join(path.split()[1:])
    if found is None or not name or hasattr(command, "commands") or option_spelled(command, typed) is not None:
        return ""
    valued, whose, say = found
    return say(name, command, typed, whose, shlex.join(["kmeshctl", *_typed_less(typed, valued)]))


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
    -A, `kmeshctl status``: what the command does instead (kubectl users type -A on every
    command); on a command reading one namespace, the line without -A too, what it reads said."""
    from kmeshctl.cli.command_hints import READING_COMMANDS

    words = tuple(path.split()[1:])
    flag = next((w.partition("=")[0] for w in cmdline.ARGS if w.partition("=")[0] in ALL_NAMESPACES_FLAGS), "-A")
    if takes_namespace_arguments(command):
        example = next(iter(own_examples(command, path)), f"{path} NAMESPACE...")
        hint = f": {path} has no all-namespaces form; give the namespaces by name, e.g. `{example}`"
        named = _with_namespaces_typed(command)
        if named:  # `enable-ns -A -n team-a`: the namespace typed, never an example's
            hint = f": {path} has no all-namespaces form; give the namespaces by name: `{shlex.join(named)}`"
        if words == ("disable-ns",) and not named:
            hint = _enrolled_hint(path) or hint
        # the example keeps --kubeconfig
        return paste_ready(hint, cmdline.INVOKED[0].command) if cmdline.INVOKED else hint
    instead = next((text for prefix, text in ALL_NAMESPACES_INSTEAD if words[:len(prefix)] == prefix), None)
    if instead is None and words in SYSTEM_NAMESPACE_COMMANDS:
        instead = "it covers every namespace already (its -n is kmesh's own namespace, not a filter)"
    if instead is None and option_spelled(command, "-n") is not None:  # the namespace of what it acts on
        instead = "it runs in one namespace: choose it with -n NAMESPACE"
    if instead is None:
        instead = "it works on no Kubernetes namespaces"
    without = f", `{shlex.join(['kmeshctl', *_typed_less(flag, False)])}`" if cmdline.ARGS else ""
    if words[:1] == ("sandbox",) and option_spelled(command, "--name") is not None:
        without = _one_sandbox_to_name(_typed_less(flag, False), path) or without
    also = _also_wrong(_typed_less(flag, False), without) if without else ""
    leave = "" if "-n NAMESPACE" in instead else f"; leave out {flag}{without}{also}"
    if not leave and without and " ".join(words) in READING_COMMANDS:  # reading one namespace changes nothing
        namespace = typed_value(cmdline.ARGS, *cmdline.NAMESPACE_FLAGS)
        where = f"-n {namespace}" if namespace else "its context's namespace (default when it names none)"
        leave = f"; leave out {flag} to read {where}{without}{also}"
    hint = f": {path} has no all-namespaces form: {instead}{leave}"
    return paste_ready(hint, cmdline.INVOKED[0].command) if cmdline.INVOKED else hint  # its commands carry --kubeconfig


def _also_wrong(words: list[str], offered: str) -> str:
    """`; also --name Wp1: ...; did you mean --name wp1?`: the other bad values of the line
    typed (``words``, less the flag refused) that the line ``offered`` mends as it is pasted
    (suggestions.parseable) and does not note as `(-o jsn given as -o json)`, said, each
    without a line of its own; "" when there is none."""
    from kmeshctl.cli.badinput import line_problems
    from kmeshctl.cli.suggestions import parseable

    if not cmdline.INVOKED:
        return ""
    root = cmdline.INVOKED[0].command
    noted = parseable(offered, root, False)
    problems = [re.sub(r":? `kmeshctl [^`]*`", "", one) for problem in line_problems(["kmeshctl", *words], root, True)
                for one in problem.partition("; every value mended")[0].split("; also ")]
    return "".join(f"; also {problem}" for problem in problems if f"{problem.partition(':')[0]} given as" not in noted)


def _with_namespaces_typed(command: _click.Command) -> list[str]:
    """The line typed less -A/--all-namespaces/--all, its -n values as arguments, when it
    names a namespace (`enable-ns -A -n team-a` -> `kmeshctl enable-ns team-a`); [] else."""
    words = list(cmdline.ARGS)
    for flag in (*ALL_NAMESPACES_FLAGS, "--all"):
        words = _typed_less(flag, False, words)
    words = namespaces_as_arguments(words)
    root = cmdline.INVOKED[0].command if cmdline.INVOKED else command
    path = [w for w in command_words(words) if w]
    valued = {opt for c in (root, command) for p in c.params if takes_value(p) for opt in p.opts}
    free = [w for i, w in enumerate(words[:separator_at(words)])
            if not w.startswith("-") and not (i and words[i - 1] in valued)]
    _, used = resolve(root, path)
    return ["kmeshctl", *words] if len(free) > used else []


def _enrolled_hint(path: str) -> str:
    """`disable-ns -A`: the namespaces enrolled now, as the line that releases them all
    (the cluster the line names, asked within COMPLETION_LOOKUP_TIMEOUT_S); "" when it does
    not answer (the example stands)."""
    from kmeshctl import istiod
    from kmeshctl.cli.badinput import typed_target
    from kmeshctl.namespaces import enrolled_namespaces
    from kmeshctl.params import COMPLETION_LOOKUP_TIMEOUT_S

    target = typed_target(cmdline.ARGS)
    enrolled, answered = istiod.ask_quickly(target.kubeconfig, target.context, COMPLETION_LOOKUP_TIMEOUT_S,
                                            enrolled_namespaces, "asking which namespaces are enrolled")
    if not answered or enrolled is None:
        return ""
    if not enrolled:
        return f": {path} has no all-namespaces form, and no namespace is enrolled now: nothing to release"
    return f": {path} has no all-namespaces form; give the namespaces by name: the enrolled ones are " \
           f"`{shlex.join([*path.split(), *enrolled])}`"


def _one_sandbox_to_name(words: list[str], path: str) -> str:
    """`sandbox down -A`, `sandbox status -A` with several sandboxes and no --name: the
    line without -A picks none (see sandboxes.pick), so `, naming the one: `... --name a`
    or `... --name b`` (status: `kmeshctl sandbox list` first, kubectl's -A being "all");
    "" otherwise."""
    from kmeshctl import sandboxes

    found = sandboxes.existing()
    if path != "kmeshctl sandbox down":  # as pick: a failed up's leftovers count only for down
        found = {n: phase for n, phase in found.items() if phase != sandboxes.PHASE_FAILED} or found
    names = sandboxes.fitting(found, path)  # as the command with no name offers them
    if len(found) < 2 or not names or any(w.partition("=")[0] == "--name" for w in words):
        return ""
    end = words.index("--") if "--" in words else len(words)  # the command to run stays last
    lines = " or ".join(f"`{shlex.join(['kmeshctl', *words[:end], '--name', name, *words[end:]])}`" for name in names)
    if path == "kmeshctl sandbox down":
        return f", naming the one to remove: {lines}"
    listing = "`kmeshctl sandbox list` shows every sandbox; " if path == "kmeshctl sandbox status" else ""
    return f" and name the sandbox ({listing}several exist): {lines}"


def _default_state_hint(command: _click.Command, typed: str) -> str:
    """For `--no-X` where only `--X` exists (`--no-dry-run`), or `--X` where only `--no-X`
    does (`node preflight --mount`): that the state asked for is the default, with the line
    typed without the flag when it works; "" for any other flag."""
    from kmeshctl.cli.badinput import line_works

    if not typed.startswith("--"):
        return ""
    other = f"--{typed[5:]}" if typed.startswith("--no-") else f"--no-{typed[2:]}"
    option = option_spelled(command, other)
    if option is None or not getattr(option, "is_flag", False) or getattr(option, "secondary_opts", None):
        return ""
    said = f"{other} is off unless given" if typed.startswith("--no-") else f"{typed[2:]} is on unless {other} is given"
    words = ["kmeshctl", *cmdline.without_flag(cmdline.ARGS, typed, valued=False)]
    root = cmdline.INVOKED[0].command if cmdline.INVOKED else None
    shown = f", `{shlex.join(words)}`" if root is not None and line_works(words, root) else ""
    return f"{said}: leave {typed} out{shown}"


def others_values_hidden(root: _click.Command, args: list[str]) -> list[str]:
    """``args`` with the value of another tool's flag typed before the command (kubectl's
    `--cluster c status`) spelled as no command word (`-c`): c is no typo of a command (the
    flag's own error says it, with the line's other mistakes)."""
    valued = {flag for spellings, takes, _, _ in OTHER_TOOLS_FLAGS if takes for flag in spellings}
    out = list(args)
    for i, arg in enumerate(args[:separator_at(args)]):
        if arg in getattr(root, "commands", {}):
            break
        if arg in valued and option_spelled(root, arg) is None and i + 1 < len(args) and \
                not args[i + 1].startswith("-"):
            out[i + 1] = f"-{args[i + 1]}"
    return out


def _beside_command_typo(err: _click.exceptions.NoSuchOption) -> str:
    """An unknown flag the root refuses before a mistyped command (`--cluster c statsu`): the
    flag's error as for the command meant (`status has no --cluster ...`, its line with the
    command mended), then `; also kmeshctl has no command statsu; did you mean status?`; ""
    for another line, or a typo with no one command meant."""
    from kmeshctl.cli.command_hints import no_such_command_line

    ctx = err.ctx
    if ctx is None or ctx.parent is not None:
        return ""
    args = list(cmdline.ARGS)
    hidden = others_values_hidden(ctx.command, args)
    words, mistyped = cmdline.commands_typed(ctx.command, hidden)
    if not mistyped:
        return ""
    at = [i for i in walk_words(hidden[:separator_at(hidden)], leading_values=True)
          if not hidden[i].startswith("-") or hidden[i] == "-"][len(words)]
    group = _click.Context(ctx.command, info_name="kmeshctl", resilient_parsing=True)
    for word in words:
        group = _click.Context(group.command.commands[word], info_name=word, parent=group,  # type: ignore[attr-defined]
                               resilient_parsing=True)
    typo = no_such_command_line(args[at], group)
    meant = re.search(r"; did you mean ([\w-]+)\?$", typo)
    if meant is None:
        return ""
    with cmdline.args_as([*args[:at], meant.group(1), *args[at + 1:]]):
        own = no_such_option_line(err)
    pointer = cmdline.HELP_POINTER.search(own)
    return f"{own[:pointer.start()] if pointer else own}; also {typo}{pointer.group() if pointer else ''}"


def no_such_option_line(err: _click.exceptions.NoSuchOption) -> str:
    """click's "No such option" with only relevant suggestions (click's own difflib
    cut-off lets `--contxt` suggest --output, and never offers the global flags)."""
    beside = _beside_command_typo(err)
    if beside:  # `--cluster c statsu`: the flag said as for status, and the typo too
        return beside
    ctx = err.ctx
    typed = err.option_name.partition("=")[0]
    command, path = _command_typed(ctx) if ctx is not None else (None, "")
    # `enable-ns --all` (kubectl's for every object): the namespaces are named, as for -A
    if command is not None and (typed in ALL_NAMESPACES_FLAGS or typed == "--all" and
                                takes_namespace_arguments(command)):
        return f"Error: {typed}{all_namespaces_hint(command, path)} (see '{path} --help')"
    taken = _separator_as_value(ctx, err.option_name) if ctx is not None else ""
    if taken:  # `--cluster-id -- -c1`
        return with_help_pointer(f"Error: {taken}", err)
    cluster = _unknown_in_cluster(err.option_name, ctx)
    # `curl -sv`
    fixed = with_dashes(ctx, cmdline.ARGS, err.option_name) if cluster and "--" not in cmdline.ARGS else ""
    if fixed:
        return with_help_pointer(f"Error: {cluster.partition(';')[0]} (the command to run goes after `--`: "
                                 f"{fixed})", err)
    if cluster:
        return with_help_pointer(f"Error: {cluster}", err)
    # `sandbox exec POD curl -o F`: curl's -o, not ours; with_dashes finds the line only for a flag after POD
    fixed = with_dashes(ctx, cmdline.ARGS, err.option_name) if ctx is not None and "--" not in cmdline.ARGS else ""
    if ctx is not None and typed in OUTPUT_FLAGS and option_spelled(ctx.command, typed) is None and not fixed:
        return f"Error: {ctx.command_path} takes no {'/'.join(OUTPUT_FLAGS)} (see '{ctx.command_path} --help')"
    line = f"Error: No such option: {err.option_name}"
    default_state = _default_state_hint(command, typed) if command is not None and not fixed else ""
    if default_state:  # `--no-dry-run`: never the opposite flag as the fix
        return with_help_pointer(f"{line}; {default_state}", err)
    if fixed and not (after := shlex.split(fixed))[after.index("--") + 1].startswith("-"):
        return with_help_pointer(f"{line} (the command to run goes after `--`: {fixed})", err)  # `ping -c 2`'s
    if command is not None and hasattr(command, "commands") and ctx is not None and ctx.parent is not None and \
            typed == "--version":  # `kmeshctl sandbox --version`: as `status --version`, kmeshctl's own
        return with_help_pointer(f"{line}; {path} has no --version: kmeshctl's own is "
                                 f"`{shlex.join(['kmeshctl', 'version', *_typed_globals()])}`", err)
    if ctx is not None and ctx.parent is None and command is ctx.command and typed in ("-v", "--v"):
        return with_help_pointer(f"{line}{_root_verbosity(typed)}", err)
    version_line = _version_command_line(typed) if ctx is not None and ctx.parent is None else ""
    if version_line:  # kubectl's `--version --client` habit: the version command's flag
        return with_help_pointer(f"{line}{version_line}", err)
    # cli/badinput.py; `dump -w maps`: the group refused it, the habit is the subcommand's
    own = command_habit_hint(path, err.option_name, cmdline.ARGS) if ctx is not None else ""
    habit = own or (_habit_hint(typed, command, path) if command is not None else "") or _named_by_flag(typed, path)
    # kubectl's, istioctl's, helm's flags: what the command does instead (never with the run command's own flag)
    other = "" if habit or fixed or command is None else other_tools_flag_hint(typed, command, path)
    found = []
    if ctx is not None and not err.option_name.startswith("--") and not own and not other and not habit:
        found = _case_slip(typed, ctx)  # `status -O json`: -o
    if ctx is not None and err.option_name.startswith("--") and not own and not other and \
            "did you mean" not in habit:
        found = _meaning_alike(typed, option_suggestions(typed, ctx.command), path, ctx.command)
    if ctx is not None and not (found or own or other or habit):
        found = _own_noun_dropped(typed, path, ctx.command)  # `waypoint apply --waypoint-name`: --name
    if ctx is not None and found:
        line += f"; did you mean {' or '.join(found) if len(found) <= 2 else ', '.join(found)}?"
        meant = [_respelled_line(typed, flag, ctx.command) for flag in found] if len(found) <= 2 else []
        line += " or".join(meant) if all(meant) else ""
    if not (found or habit or other or fixed) and command is not None:  # another command's flag (install's)
        other = other_command_flag_hint(typed, command, path)
    line += habit or other
    if fixed:
        line += f" (the command to run goes after `--`: {fixed})"
    return with_help_pointer(line, err)


def _root_verbosity(flag: str) -> str:
    """kubectl's -v (or many tools' -v for the version) given to kmeshctl with no command:
    `; kmeshctl has no log levels (kubectl's -v=6): ...; e.g. `kmeshctl status``, or with no
    level, `; did you mean --version? `kmeshctl --version``."""
    words = cmdline.ARGS[:separator_at(cmdline.ARGS)]
    if typed_level(flag, words) or any(w == flag and level.isdigit() for w, level in zip(words, words[1:])):
        line = shlex.join(["kmeshctl", *_typed_less(flag, True), "status"])
        return (f"; kmeshctl has no log levels (kubectl's {flag}): an error names its cause and the fix in one "
                f"line; leave {flag} out and name a command, e.g. `{line}`")
    return f"; did you mean --version? `kmeshctl --version` (kmeshctl has no log levels, kubectl's {flag})"


def _version_command_line(typed: str) -> str:
    """`; --client is the version command's: `kmeshctl version --client``: a flag of the
    version command typed with the root's --version, the line run as that command (every
    other word kept); "" without --version, for a flag it lacks, or a line that fails."""
    from kmeshctl.cli.badinput import line_works

    args = list(cmdline.ARGS[:separator_at(cmdline.ARGS)])
    root = cmdline.INVOKED[0].command if cmdline.INVOKED else None
    version = getattr(root, "commands", {}).get("version")
    if "--version" not in args or version is None or option_spelled(version, typed) is None:
        return ""
    words = ["kmeshctl", "version", *(w for w in args if w != "--version")]
    return f"; {typed} is the version command's: `{shlex.join(words)}`" if line_works(words, root) else ""


def _typed_globals() -> list[str]:
    """The global flags typed on the line, with their values (`--context x`)."""
    words, found = cmdline.ARGS[:separator_at(cmdline.ARGS)], []
    for i, word in enumerate(words):
        if word.partition("=")[0] in GLOBAL_FLAGS:
            found += [word] if "=" in word else words[i:i + 2]
    return found


def _case_slip(typed: str, ctx: _click.Context) -> list[str]:
    """[the short flag ``typed`` is with its letter's case changed (`-O` -> -o, `-N` -> -n,
    `-a` -> -A)] when the command (or kmeshctl, anywhere) has it; [] for any other."""
    if len(typed) != 2 or typed[1] == "-" or not typed[1].isalpha():
        return []
    other = "-" + typed[1].swapcase()
    return [other] if other in _short_flags_of(ctx.command, ctx.find_root().command) else []


def _own_noun_dropped(typed: str, path: str, command: _click.Command) -> list[str]:
    """[the flag of ``command`` (spelled ``path``) that ``typed`` names with a word the line
    says already: `--waypoint-name` on waypoint apply is its --name, `--sandbox-name` on
    sandbox up its --name, `--map-name` on dump maps its --map]; [] for none."""
    if not typed.startswith("--"):
        return []
    nouns = set(path.split()[1:])
    head, _, tail = typed[2:].partition("-")
    meant = [f"--{tail}"] if head in nouns and tail else []
    meant += [typed.removesuffix(suffix) for suffix in ("-name", "-names") if typed.endswith(suffix)]
    return [flag for flag in dict.fromkeys(meant) if flag != typed and option_spelled(command, flag) is not None
            and flag not in NEVER_GUESSED][:1]


def _meaning_alike(typed: str, found: list[str], path: str, command: _click.Command) -> list[str]:
    """The flags of ``found`` (close to ``typed`` in spelling) that may be what it meant on
    ``command`` (spelled ``path``): all for a flag no command has (a typo); for another
    command's (`status --istio-namespace`), only one naming the same thing
    (suggestions.flag_meaning), spelled alike or not (`dump maps --pod-name`: --pod): a near
    spelling with another meaning would act on another target."""
    owners = _owners(typed, hidden=True)
    if not owners:
        return found
    words = path.split()[1:]
    meant = {flag_meaning(owner.split(), typed) for owner in owners} - {typed}
    own = [o for p in command.params if p.param_type_name == "option" and not getattr(p, "hidden", False)
           for o in p.opts if o.startswith("--")]
    return list(dict.fromkeys([*(f for f in found if flag_meaning(words, f) in meant),
                               *(o for o in own if flag_meaning(words, o) in meant)]))


def _separator_as_value(ctx: _click.Context, reported: str) -> str:
    """`--cluster-id -- -c1`: the flag before `--` took it as its value, so the word after
    it (``reported`` is a flag of it) was read as a flag: what happened, and the line with
    that word as the flag's value (`--cluster-id=-c1`), or, when the flag does not take it
    either, with an example value; "" for any other line."""
    args = list(cmdline.ARGS)
    at = separator_at(args)
    option = option_spelled(ctx.command, args[at - 1]) if 0 < at < len(args) - 1 else None
    value = args[at + 1] if option is not None else ""
    if option is None or not takes_value(option) or not value.startswith(reported.partition("=")[0]):
        return ""
    flag, rest = args[at - 1], args[at + 2:]
    said = f"{flag} took the `--` after it as its value, so {value} was read as a flag"
    refused = _refused_as(ctx, option, flag, value)
    if refused == "":
        return f"{said}; a value that starts with '-' goes after '=': " \
               f"`{shlex.join(['kmeshctl', *args[:at - 1], f'{flag}={value}', *rest])}`"
    example = flag_example(option)
    if not example:
        return f"{said}; {flag} takes no {value} ({refused or 'not a value it takes'})"
    why = (refused or "").partition(";")[0].partition(" (")[0] or "not a value it takes"
    return f"{said}; {flag} takes no {value} ({why}), " \
           f"e.g. `{shlex.join(['kmeshctl', *args[:at - 1], flag, example, *rest])}`"


def _command_typed(ctx: _click.Context) -> tuple[_click.Command, str]:
    """(the command the line names, its path): the subcommand typed after the group that
    refused a flag (`sandbox -A list`: sandbox list), else ``ctx``'s own command."""
    words = command_words(cmdline.ARGS)
    if ctx.parent is None:  # the root refused it: its value may be a word (`--timeout 5s status`)
        words = typed_command_path(ctx.command, cmdline.ARGS).split()[1:]
    command, used = resolve(ctx.find_root().command, words)
    if command is not None and hasattr(command, "commands") and words[used + 1:used + 2] and \
            words[used + 1] in command.commands:  # `waypoint -v 6 list`: the refused flag's value passed over
        words = [*words[:used], *words[used + 1:]]
        command, used = resolve(ctx.find_root().command, words)
    if command is None or hasattr(command, "commands"):
        return ctx.command, ctx.command_path
    return command, " ".join(["kmeshctl", *words[:used]])


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
    valued = options_by_kind(ctx.find_root().command)[0]
    words = cmdline.TYPED[:cmdline.TYPED.index("--")] if "--" in cmdline.TYPED else list(cmdline.TYPED)
    for word in words:
        if len(word) < 3 or word[0] != "-" or word[1] == "-" or not word[1:].isalpha() \
                or reported[1] not in word[1:] or known.get(word[:2], word[:2] in valued) \
                or known.get("-" + word[1].swapcase()):
            continue  # no cluster of flags: `-nfoo` is -n's value glued on (here or on another command; `-Ojson`: -o's)
        for letter in word[1:]:
            if f"-{letter}" not in known:
                listed = ", ".join(sorted(known, key=lambda o: (o.lower(), o)))
                return f"No such option: -{letter} in {word}; {ctx.command_path}'s short flags: {listed}"
            if known[f"-{letter}"]:
                break  # the rest is that flag's value
    return ""
