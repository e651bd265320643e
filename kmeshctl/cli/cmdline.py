"""The command line being run and how its words are read: the contexts click parsed
(INVOKED) and the words typed (ARGS, TYPED), recorded for each run by
kmeshctl.cli.conventions and read here by every message about the line; the flags every
command shares; which words are flags, flag values or command words, and which command
they name."""

from __future__ import annotations

import contextlib
import os
import re
from typing import Any, Iterable, Iterator, Optional, Sequence

from typer import _click

from kmeshctl.cli.badinput import takes_value

HELP_OPTION_NAMES = ["-h", "--help"]
HELP_FLAGS = tuple(HELP_OPTION_NAMES)
GLOBAL_FLAGS = ("--kubeconfig", "--context", "--request-timeout")
QUIET_FLAGS = ("-q", "--quiet")
NAMESPACE_FLAGS = ("-n", "--namespace")
# The command's own flags kubectl users also type before the command (`kubectl -n foo get
# pods`, `kubectl -o json get pods`, `kubectl -A get pods`): (spellings, takes a value).
OUTPUT_FLAGS = ("-o", "--output")
LEADING_FLAGS = ((NAMESPACE_FLAGS, True), (OUTPUT_FLAGS, True), (("-A", "--all-namespaces"), False))
ALL_NAMESPACES_FLAGS = ("-A", "--all-namespaces")
# The words kubectl's and helm's users give an on/off flag (`--wait false`): its value, never a
# name; click's own boolean words, so `--wait=off` and `--wait off` are read alike.
FALSE_WORDS = ("false", "0", "f", "no", "n", "off")
TRUE_FALSE_WORDS = (*FALSE_WORDS, "true", "1", "t", "yes", "y", "on")

# Commands that only print help: a wrong cluster flag is reported when a command runs.
HELP_ONLY_COMMANDS = frozenset({"help"})

# Contexts of the command being run, root first (reset for each run): where the flags the
# user gave are looked up when a message suggests another command.
INVOKED: list[_click.Context] = []
# The words of the command line being run: how the user spelled a flag (-o or --output).
ARGS: list[str] = []
# The same words as typed, before combined short flags were spelled apart (`-qx`).
TYPED: list[str] = []


@contextlib.contextmanager
def args_as(words: Sequence[str]) -> Iterator[None]:
    """ARGS read as ``words`` inside the block (a hint reading a line other than the one
    typed, or typed words not yet in ARGS), then as it was, whatever the block raised."""
    saved = list(ARGS)
    ARGS[:] = words
    try:
        yield
    finally:
        ARGS[:] = saved


@contextlib.contextmanager
def state_kept() -> Iterator[None]:
    """INVOKED, ARGS and TYPED as they are now again after the block, whatever it raised
    (a line parsed to check it, which sets them as a run would)."""
    saved = (list(INVOKED), list(ARGS), list(TYPED))
    try:
        yield
    finally:
        INVOKED[:], ARGS[:], TYPED[:] = saved


def walk(command: _click.Command) -> Iterable[_click.Command]:
    """The command and every command below it."""
    yield command
    for sub in getattr(command, "commands", {}).values():
        yield from walk(sub)


def option_spelled(command: _click.Command, flag: str) -> Optional[_click.Parameter]:
    """The option of ``command`` that ``flag`` is a spelling of, or None."""
    return next((p for p in command.params
                 if p.param_type_name == "option" and flag in (*p.opts, *p.secondary_opts)), None)


def option_below(command: _click.Command, flag: str) -> Optional[_click.Parameter]:
    """An option spelled ``flag`` of ``command`` or of a command below it (first found)."""
    for sub in walk(command):
        found = option_spelled(sub, flag)
        if found is not None:
            return found
    return None


def options_by_kind(root: _click.Command) -> tuple[set[str], set[str]]:
    """(the options that take a value in every command, those that never do)."""
    kinds: dict[str, set[bool]] = {}
    for command in walk(root):
        for p in command.params:
            for opt in (*p.opts, *p.secondary_opts) if p.param_type_name == "option" else ():
                kinds.setdefault(opt, set()).add(takes_value(p))
    return {o for o, k in kinds.items() if k == {True}}, {o for o, k in kinds.items() if k == {False}}


def resolve(root: _click.Command, words: list[str]) -> tuple[Optional[_click.Command], int]:
    """The command a suggested `kmeshctl a b ...` runs, and how many words name it."""
    command, used = root, 0
    while hasattr(command, "commands"):
        if used >= len(words) or words[used] not in command.commands:
            break
        command, used = command.commands[words[used]], used + 1
    return (command if used else None), used


def spelled(word: str, spellings: set[str]) -> bool:
    """``word`` is one of the flag's spellings, with or without its value attached."""
    return any(word == f or word.startswith(f + "=") or (len(f) == 2 and word.startswith(f) and len(word) > 2)
               for f in spellings)


def leading_flag(arg: str) -> Optional[tuple[tuple[str, ...], bool]]:
    """The LEADING_FLAGS entry ``arg`` is (as `-o` or `-o=json`), or None."""
    flag = arg.partition("=")[0]
    return next((entry for entry in LEADING_FLAGS if flag in entry[0]), None)


def walk_words(args: list[str], leading_values: bool = False) -> Iterator[int]:
    """The indexes of the words of ``args`` before `--` that are no flag's value: a global
    flag's value (`--context X`) is passed over, and with ``leading_values`` that of a
    LEADING_FLAGS flag given apart (`-n foo`, `-o json`; not `-o=json`) too."""
    skip = False
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if skip:
            skip = False
            continue
        yield i
        entry = leading_flag(arg) if leading_values else None
        skip = arg in GLOBAL_FLAGS or (entry is not None and entry[1] and "=" not in arg)


def next_command_word(args: list[str]) -> Optional[str]:
    """The first word of ``args`` (before `--`) that is no flag nor a leading flag's value
    (`-n foo status`: status), or None."""
    return next((args[i] for i in walk_words(args[:separator_at(args)], leading_values=True)
                 if not args[i].startswith("-") or args[i] == "-"), None)


def value_is_command(root: _click.Command, args: list[str], at: int) -> bool:
    """The valued flag ``args[at]``, given before the command apart from its value, took a
    command of ``root`` as that value (`kmeshctl --kubeconfig status`, `kmeshctl -n version
    -o json`): its value was left out. So when no command follows (`-n status status` is
    the namespace status), or, for --kubeconfig, no file of that name exists either."""
    value = args[at + 1] if at + 1 < len(args) else None
    if value is None or value not in getattr(root, "commands", {}) or any(
            w in HELP_FLAGS for w in args[:separator_at(args)]):  # a help line: help wins, as click's
        return False
    if args[at] == "--kubeconfig" and not os.path.exists(value):
        return True
    return next_command_word(args[at + 2:]) not in root.commands  # type: ignore[attr-defined]


def separator_at(args: Sequence[str]) -> int:
    """Where the first `--` of ``args`` is (len(args) with none): the words before it are
    kmeshctl's, those from it on the command's own."""
    return args.index("--") if "--" in args else len(args)


def with_value_replaced(args: Sequence[str], old: str, new: str) -> list[str]:
    """``args`` with the first word that gives the value ``old`` (`old`, `--flag=old`,
    `-nold`) giving ``new`` instead: the line a user meant, to paste."""
    words = list(args)
    for i, word in enumerate(words[:separator_at(words)]):
        if word == old:
            words[i] = new
            flag = words[i - 1] if i and words[i - 1].startswith("--") else ""
            return _same_flag_value_replaced(words, flag, old, new, i + 1)
        if word.endswith(old) and (word.startswith("-") and len(word) > len(old)):
            words[i] = word[:len(word) - len(old)] + new
            flag = word[:len(word) - len(old) - 1] if word.endswith(f"={old}") else ""
            return _same_flag_value_replaced(words, flag, old, new, i + 1)
    return words


def _same_flag_value_replaced(words: list[str], flag: str, old: str, new: str, start: int) -> list[str]:
    """``words`` with the value ``old`` of ``flag`` given again after ``start`` (`--name=X
    --name X`: the same value twice is taken as one) ``new`` too: a line mending one of
    them would give the flag two values."""
    if not flag:
        return words
    end = separator_at(words)
    for i in range(start, end):
        if words[i] == f"{flag}={old}":
            words[i] = f"{flag}={new}"
        elif words[i] == old and words[i - 1] == flag:
            words[i] = new
    return words


def with_flag_value(words: Sequence[str], flag: str, value: str) -> list[str]:
    """``words`` with the first value given to ``flag`` (`FLAG V` or `FLAG=V`, before `--`)
    ``value`` instead; unchanged when ``flag`` is not given."""
    end = separator_at(words)
    for i, word in enumerate(words[:end]):
        if word == flag and i + 1 < end:
            return [*words[:i + 1], value, *words[i + 2:]]
        if word.startswith(flag + "="):
            return [*words[:i], f"{flag}={value}", *words[i + 1:]]
    return list(words)


def without_flag(words: Sequence[str], flag: str, valued: bool = True) -> list[str]:
    """``words`` (a command line, or the words typed) without ``flag`` wherever it is
    given before `--`: `FLAG VALUE` (when ``valued``, and the next word is no flag),
    `FLAG=VALUE`, or `FLAG` alone (an on/off flag, not ``valued``: `status -w default`
    keeps its namespace; a true/false word after it goes with it: `status -w false`).
    The one way a hint builds "this line without FLAG"."""
    kept: list[str] = []
    i, end = 0, separator_at(words)
    while i < end:
        word = words[i]
        if word.startswith(flag + "="):
            i += 1
            continue
        if word == flag:
            following = words[i + 1] if i + 1 < end else None
            its_value = following is not None and (not following.startswith("-") if valued
                                                   else following.lower() in TRUE_FALSE_WORDS)
            i += 2 if its_value else 1
            continue
        kept.append(word)
        i += 1
    return kept + list(words[end:])


def word_positions(args: list[str]) -> list[int]:
    """The indexes of the words of ``args`` that are not flags or a global flag's value."""
    return [i for i in walk_words(args) if not args[i].startswith("-")]


def command_words(args: list[str]) -> list[str]:
    return [args[i] for i in word_positions(args)]


def typed_command_path(root: _click.Command, args: list[str]) -> str:
    """`kmeshctl sandbox status` for the words ``args`` (flags and their values skipped,
    wherever they are): the command the line names, as far as it names one."""
    command, words = root, ["kmeshctl"]
    for i in word_positions(args):
        if not hasattr(command, "commands"):
            break
        if args[i] in command.commands:  # another word is a leading flag's value (`-n foo status`)
            command = command.commands[args[i]]
            words.append(args[i])
    return " ".join(words)


def commands_typed(root: _click.Command, args: list[str]) -> tuple[list[str], bool]:
    """(the command words ``args`` name, flags and leading flags' values passed over; whether
    a group's word is none of its commands: `sandbx status` names no status)."""
    command, words = root, []
    for i in walk_words(args[:separator_at(args)], leading_values=True):
        if args[i].startswith("-") and args[i] != "-":
            continue
        if not hasattr(command, "commands"):
            break
        if args[i] not in command.commands:
            return words, True
        command = command.commands[args[i]]
        words.append(args[i])
    return words, False


def with_help_pointer(line: str, err: Any) -> str:
    ctx = getattr(err, "ctx", None)
    if ctx is None:
        return with_running_help_pointer(line)
    # the root refuses a global flag (`status --context ''`) before the command is parsed:
    # the help of the command typed (it lists the global flags too), not kmeshctl's
    path = typed_command_path(ctx.find_root().command, ARGS) if ctx.parent is None else ctx.command_path
    return f"{line} (see '{path} --help')"


HELP_POINTER = re.compile(r" \(see '[^']*--help'\)$")


def with_running_help_pointer(line: str) -> str:
    """A bad-input line (exit 2) ends as click's do: `(see 'kmeshctl COMMAND --help')`,
    naming the command being run (the innermost one parsed so far)."""
    if HELP_POINTER.search(line) or not INVOKED:
        return line
    return f"{line} (see '{INVOKED[-1].command_path} --help')"
