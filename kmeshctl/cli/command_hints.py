"""The lines for a missing or unknown command: flags given with no command (the commands
they go with, ready to paste), a required argument left out (the command's own example),
and a command word kmeshctl does not have (a typo, or a kubectl or docker habit: `get
sandbox NAME`, `sandbox run POD -- CMD`)."""

from __future__ import annotations

import inspect
import re
import shlex
from typing import Callable, Optional

from typer import _click

from kmeshctl.cli import cmdline
from kmeshctl.cli.badinput import command_synonyms, takes_value, typed_target, typed_value
from kmeshctl.cli.cmdline import (ALL_NAMESPACES_FLAGS, GLOBAL_FLAGS, HELP_FLAGS, HELP_ONLY_COMMANDS, NAMESPACE_FLAGS,
                                  QUIET_FLAGS, TRUE_FALSE_WORDS, leading_flag, option_below, option_spelled,
                                  separator_at, spelled, walk_words, without_flag)
from kmeshctl.cli.suggestions import LOCAL_GROUPS, SUGGEST_CLOSENESS, SUGGESTED, dry_run_typed, with_sandbox_name
from kmeshctl.errors import KmeshctlError, spoken_list

MAX_LISTED_COMMANDS = 3  # more commands take the flag: the first ones, and where to find the others
# Listed first among the commands a misplaced flag could go with: they only read (a guess
# pasted as is must never install or delete anything).
READING_COMMANDS = ("status", "version", "sandbox status", "sandbox list", "waypoint list", "waypoint status",
                    "dump maps", "dump config")
# Commands that change something when run, and what: a guess of the command for flags given
# with none is never one of them as a line to paste (but a dry run), only named in words.
CHANGES = {"install": "the cluster", "uninstall": "the cluster", "enable-ns": "the cluster",
           "disable-ns": "the cluster", "waypoint apply": "the cluster", "waypoint delete": "the cluster",
           "demo traffic-shift": "the cluster or a sandbox", "node cleanup": "this node", "node run": "this node",
           "sandbox up": "this machine", "sandbox down": "this machine", "bench dataplane": "this machine",
           "bench cleanup": "this machine"}


# A flag a command takes only with another one (alone it is refused): (command words, the
# flag's parameter) -> the other flag. Such a command is no example for the flag alone.
FLAG_NEEDS = {(("dump", "maps"), "namespace"): "--pod POD", (("dump", "config"), "namespace"): "--pod POD"}


def commands_with(group: _click.Command, path: str, flag_words: list[str]
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
            elif all(option_spelled(sub, flag) is not None for flag in flags):
                named = [*path.split(), *words, name]
                other = next(((f, FLAG_NEEDS[key]) for f in flags if (key := (tuple(named[1:]), getattr(
                    option_spelled(sub, f), "name", None))) in FLAG_NEEDS and not any(
                    spelled(w, {FLAG_NEEDS[key].split()[0]}) for w in flags)), None)
                if other is not None:
                    needing.append((" ".join(named), *other))
                else:
                    found.append((run_with(sub, named, flag_words), sub))

    visit(group, [])
    found.sort(key=lambda item: not any(f"{item[0]} ".startswith(f"kmeshctl {c} ") for c in READING_COMMANDS))
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
    return spoken_list(found, "or")


def commands_taking(group: _click.Command, path: str, flag_words: list[str]) -> str:
    """`kmeshctl dump maps -o json` or `kmeshctl dump config -o json`: each command below
    ``group`` (spelled ``path``) that takes every flag of ``flag_words`` (alone: no
    command that would refuse it without another flag), with them, ready to paste (never
    a `COMMAND` placeholder)."""
    found, needing = commands_with(group, path, flag_words)
    if found:
        return _listed([line for line, _ in found])
    flags = [w.partition("=")[0] for w in flag_words if w.startswith("-") and w != "-"]
    return "; ".join(needing) or f"no command of {path} takes {' and '.join(flags)}"


def typed_line(args: list[str]) -> str:
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


def typed_globals(args: list[str]) -> list[list[str]]:
    """The global flags typed in ``args`` (before `--`), each as typed: [flag, value] or
    [flag=value]; never one with an empty value (it is refused)."""
    typed: list[list[str]] = []
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg in GLOBAL_FLAGS and i + 1 < len(args) and args[i + 1]:
            typed.append(args[i:i + 2])
        elif arg.partition("=")[0] in GLOBAL_FLAGS and arg.partition("=")[2]:
            typed.append([arg])
    return typed


def carry_typed_globals(message: str, args: list[str]) -> str:
    """Each backticked `kmeshctl ...` of ``message`` with the global flags typed in
    ``args`` that it does not name already (the root may not have read them: given_flags
    may have none), but a local one (`kmeshctl sandbox list`: a cluster flag would be
    noise) and a help line (`kmeshctl install --help` reads no cluster)."""
    typed = typed_globals(args)

    def carried(match: re.Match[str]) -> str:
        try:
            words = shlex.split(match.group(1))
        except ValueError:  # a backtick of a value echoed: no command to carry them
            return match.group(0)
        own = words[:separator_at(words)]
        if words[0] != "kmeshctl" or words[1:2] and words[1] in LOCAL_GROUPS or any(w in HELP_FLAGS for w in own):
            return match.group(0)
        extra = [w for given in typed if not any(spelled(w, {given[0].partition("=")[0]}) for w in own)
                 for w in given]
        return f"`{shlex.join([words[0], *extra, *words[1:]])}`" if extra else match.group(0)

    return SUGGESTED.sub(carried, message)


def missing_command_text(group: _click.Command, path: str, flag_words: list[str], args: list[str],
                         first_only: bool = False) -> str:
    """`kmeshctl -n foo: missing a command; e.g. `kmeshctl status -n foo``: flags given to
    kmeshctl or a group with no command, and commands they make sense with alone (the
    first one only for ``first_only``: kmeshctl's commands read -n in different ways)."""
    found, needing = commands_with(group, path, flag_words)
    lines = [line for line, _ in found]
    reading = [line for line in lines if any(line.startswith(f"kmeshctl {c} ") for c in READING_COMMANDS)]
    changing = [name for line in lines if (name := changing_command(line))]
    lines = reading or [line for line in lines if not changing_command(line)]  # a guess pasted: one that only reads
    lines = lines[:1 if first_only else None]
    flags = [w.partition("=")[0] for w in flag_words if w.startswith("-") and w != "-"]
    if any(f in ALL_NAMESPACES_FLAGS for f in flags) and any(f in NAMESPACE_FLAGS for f in flags):
        lines, changing = [], []  # every command refuses the two together
        needing = ["give -n NAMESPACE or -A (--all-namespaces), not both"]
    tail = f"e.g. {_listed(lines)}" if lines else changes_in_words(changing, flags, flag_words) or \
        "; ".join(needing) or f"no command of {path} takes {' and '.join(flags)}"
    return carry_typed_globals(f"{typed_line(args)}: missing a command; {tail}", args)


def changing_command(line: str) -> str:
    """`node cleanup` for a line that runs a command of CHANGES for real (not a dry run); ""."""
    words = shlex.split(line)[1:]
    name = next((n for n in CHANGES if words[:len(n.split())] == n.split()), "")
    return "" if dry_run_typed(words[:separator_at(words)]) else name


def changes_in_words(names: list[str], flags: list[str], flag_words: list[str]) -> str:
    """`--bpf-fs goes with node cleanup or node run, and each changes this node: type the one
    you mean`: the commands named in words, with no line to paste (each would change
    something); a node flag that a dump command also takes gets that reading line."""
    names = list(dict.fromkeys(name for name in names if name))
    if not names:
        return ""
    changed = spoken_list(list(dict.fromkeys(CHANGES[n] for n in names)), "or")
    one = len(names) == 1
    said = (f"{spoken_list(flags)} go{'es' if len(flags) == 1 else ''} with {spoken_list(names, 'or')}, "
            + (f"which changes {changed}: type it if you mean to run it" if one else
               f"and each changes {changed}: type the one you mean"))
    dump = getattr(cmdline.INVOKED[0].command, "commands", {}).get("dump") if cmdline.INVOKED else None
    reading = commands_with(dump, "kmeshctl dump", flag_words)[0] if all(
        n.startswith("node ") for n in names) and dump is not None else []
    return said + (f"; what this node has is read by {_listed([line for line, _ in reading])}" if reading else "")


def run_with(command: _click.Command, words: list[str], flag_words: list[str]) -> str:
    """`kmeshctl WORDS FLAGS`; a command taking arguments (`sandbox exec POD -- COMMAND`):
    its own first example, its spelling of these flags replaced by ``flag_words``."""
    examples = own_examples(command, " ".join(words)) if any(
        p.param_type_name == "argument" for p in command.params) else []
    if not examples:
        from kmeshctl.cli.render import with_required

        return shlex.join(with_required([*words, *flag_words]))  # `render`: with --xds-address and --cluster-id
    spellings = {o for w in flag_words if (p := option_spelled(command, w.partition("=")[0])) is not None
                 for o in (*p.opts, *p.secondary_opts)}
    example, kept, i = shlex.split(examples[0]), [], 0
    while i < len(example):
        word = example[i]
        if word == "--":
            break
        if word.partition("=")[0] in spellings:
            option = option_spelled(command, word.partition("=")[0])
            i += 1 if "=" in word or getattr(option, "is_flag", False) else 2
            continue
        kept.append(word)
        i += 1
    return shlex.join([*kept, *flag_words, *example[i:]])


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


def missing_argument_line(name: str, ctx: _click.Context) -> str:
    """`NAMESPACE... is required: e.g. `kmeshctl enable-ns default``: the command's own
    first example that gives it."""
    example = next(iter(own_examples(ctx.command, ctx.command_path)), "")
    return f"{name} is required" + (f": e.g. `{example}`" if example else f": {ctx.command_path} {name}")


def missing_command_line(ctx: _click.Context) -> str:
    """`kmeshctl --context prod`: the flags given, and a command to give them to."""
    path = ctx.command_path.split()
    args = cmdline.ARGS
    typed = [w for w in args if w not in path[1:]][:separator_at(args)]
    spaced = _command_after_equals(ctx, args)
    if spaced:
        return spaced
    first = "status" if "status" in getattr(ctx.command, "commands", {}) else sorted(ctx.command.commands)[0]
    example = shlex.join([*path, *typed, first])
    return f"{ctx.command_path} needs a command after its flags: e.g. `{example}`"


def _command_after_equals(ctx: _click.Context, args: list[str]) -> str:
    """`kmeshctl --kubeconfig=status`: the value is a command, so the line is the one for
    `--kubeconfig status` (option_hints.command_as_value_line); "" for none."""
    from kmeshctl.cli.option_hints import command_as_value_line

    root = ctx.find_root().command
    for at, word in enumerate(args[:separator_at(args)]):
        flag, equals, value = word.partition("=")
        if equals and flag.startswith("-") and value in getattr(root, "commands", {}):
            return command_as_value_line(root, [*args[:at], flag, value, *args[at + 1:]])
    return ""


def no_such_command_line(word: str, ctx: _click.Context, around: Optional[tuple[list[str], list[str]]] = None,
                         asked: Optional[tuple[list[str], list[str]]] = None) -> str:
    """`kmeshctl has no command 'stauts'; did you mean status?`, else the commands it has.
    With ``around`` (the flags typed before the word, the words after it: words_around),
    kubectl's and docker's habits get the command to paste: `get sandbox NAME` ->
    `kmeshctl sandbox status --name NAME`, `sandbox run POD -- CMD` -> `sandbox exec`.
    ``asked``: the words of `kmeshctl help WORDS` before ``word`` and after it (its lines are help's)."""
    import difflib

    from kmeshctl.params import shown

    head = f"{ctx.command_path} has no command {shown(word) if word else repr(word)}; "
    # `help logs`: no words around it (nor the kind's verbs: `help sandbox ls` asks for list's help)
    habit = _command_habit_line(word, ctx, *(around or ([], [])), typed=around is not None)
    if habit:
        return head + habit
    names = [n for n, sub in sorted(getattr(ctx.command, "commands", {}).items()) if not sub.hidden]
    close = ([n for n in names if n == word.lower()]  # `sandbox LIST`: commands are lower-case, as kubectl's
             or _spelled_out(word, names) or command_synonyms(word, names) or _joined_words(word, ctx.command)
             or difflib.get_close_matches(word, names, n=2, cutoff=SUGGEST_CLOSENESS)
             or [n for n in names if len(word) >= 3 and n.startswith(word)][:2]  # `demo traffic`: traffic-shift
             or _first_word_close(word, names))  # `demo traffc`: traffic-shift
    stray = _stray_leading_word(word, ctx, close, around[1]) if around is not None else ""
    if stray:
        return head + stray
    if not close:
        return head + f"its commands: {', '.join(names)}"
    close = _readings_keeping_flags(word, ctx, close) if around is not None else close
    if asked is not None:  # `help waypoint aply`: `kmeshctl help waypoint apply`
        return head + f"did you mean {' or '.join(close)}? " + \
            " or ".join(f"`{shlex.join(['kmeshctl', 'help', *_help_words(ctx, *asked, meant)])}`" for meant in close)
    return head + f"did you mean {' or '.join(close)}?" + _command_meant_lines(word, ctx, close, around is not None)


def _joined_words(word: str, group: _click.Command) -> list[str]:
    """[`dump maps`] for `dump-maps` (`node-preflight`, `waypoint-apply`): a group's name and
    one of its commands joined by '-', as other tools spell a command; [] for another word."""
    typed = word.lower()
    for at in (i for i, c in enumerate(typed) if c == "-"):
        sub = getattr(group, "commands", {}).get(typed[:at])
        below = getattr(sub, "commands", {}).get(typed[at + 1:])
        if below is not None and not below.hidden:
            return [f"{typed[:at]} {typed[at + 1:]}"]
    return []


def _help_words(ctx: _click.Context, before: list[str], after: list[str], meant: str) -> list[str]:
    """The words of `kmeshctl help ...` with the command ``meant`` in the typo's place: those
    typed after it kept as far as they name its subcommands (`help sandbx up`: sandbox up)."""
    words, command = [*before, *meant.split()], ctx.command  # `dump maps` for help dump-maps
    for word in meant.split():
        command = command.commands[word]  # type: ignore[attr-defined]
    for word in after:
        command = getattr(command, "commands", {}).get(word)
        if command is None or command.hidden:
            break
        words.append(word)
    return words


def _first_word_close(word: str, names: list[str]) -> list[str]:
    """The commands of ``names`` whose first word (`traffic` of traffic-shift) ``word`` is
    a typo of (`traffc`), at most 2."""
    import difflib

    firsts = {n.partition("-")[0]: n for n in names if "-" in n}
    return [firsts[f] for f in difflib.get_close_matches(word.lower(), list(firsts), n=2, cutoff=SUGGEST_CLOSENESS)]


def _readings_keeping_flags(word: str, ctx: _click.Context, close: list[str]) -> list[str]:
    """Of the commands ``close`` the typo ``word`` may mean, those whose line keeps every flag
    typed (`instal --cluster-id c1`: install, never uninstall, which takes none of them); all
    when none does, less a command that changes something (it would run without them)."""
    from kmeshctl.cli.suggestions import parseable_words

    at = _word_index(word, ctx)
    if at is None or len(close) < 2:
        return close
    root = ctx.find_root().command
    keeping, dropping = [], []
    for meant in close:
        line = ["kmeshctl", *cmdline.ARGS]
        line[at + 1:at + 2] = meant.split()  # `dump maps` for `dump-maps`: two words
        dropped = parseable_words(line, root)[1]
        (dropping if any(w.startswith("-") for w in dropped) else keeping).append((meant, line))
    if keeping:
        return [meant for meant, _ in keeping]
    return [meant for meant, line in dropping if not changing_command(shlex.join(line))] or close


def _command_meant_lines(word: str, ctx: _click.Context, close: list[str], typed: bool) -> str:
    """` `kmeshctl sandbox list -o json``: the line typed with the command word ``word`` as
    each command of ``close`` (every flag kept, as the top level's `sanbox list`); "" when
    ``word`` is not on the line where the group read it (`help WORD`)."""
    at = _word_index(word, ctx) if typed else None
    if at is None:
        return ""
    from kmeshctl import sandboxes

    lines, note = [], ""
    for meant in close:
        line = list(cmdline.ARGS)
        line[at:at + 1] = meant.split()
        refused = _strays_refused(["kmeshctl", *line], ctx.find_root().command)
        if refused:  # `dump mpas My_Box`: no line keeping a word dump maps refuses; why, and its own lines
            lines.append(refused)
            continue
        typed = shlex.join(["kmeshctl", *line])
        named = sandboxes.naming_one(typed)  # several sandboxes up: the one its own refusal offers, the rest said
        if named != typed:
            note = f" (sandboxes: {', '.join(sandboxes.names())}: pick one)"
        lines.append(f"`{named}`")
    return " " + " or ".join(lines) + note


def _strays_refused(line: list[str], root: _click.Command) -> str:
    """`dump maps would refuse My_Box: My_Box is no map (...); on this machine, `kmeshctl dump
    maps``: the stray words of the line ``line`` (a typo's command mended) that no reading
    of its command gives a flag, as that command says it; "" when it has none (or gives
    them one: `sandbox stat T47a_x` -> `--name t47a-x`)."""
    from kmeshctl.cli.badinput import extra_words_said
    from kmeshctl.cli.suggestions import _command_path, _safe_to_drop, _strays_read, parseable_words

    kept, dropped, flagged = parseable_words(line, root)
    strays = [w for w in dropped if not w.startswith("-")]
    if not strays or kept == line or _safe_to_drop(dropped, flagged, line) or \
            _strays_read(line, dropped, root) is not None:
        return ""
    said = extra_words_said(f"Got unexpected extra argument(s) ({' '.join(strays)})", line, root) or ""
    reason = said.partition(f"({' '.join(strays)}); ")[2].replace("this command", "it", 1)
    path = " ".join(_command_path(root, line)[1:])
    return f"{path} would refuse {spoken_list([shlex.quote(w) for w in strays])}: {reason}" if reason else ""


def _next_command_word(after: list[str]) -> Optional[str]:
    """The first word of ``after`` that is no flag or a leading flag's value (`-n foo status`: status)."""
    at = _next_command_at(after)
    return None if at is None else after[at]


def _next_command_at(after: list[str]) -> Optional[int]:
    """Where in ``after`` _next_command_word's word is; None for none."""
    return next((i for i in walk_words(after, leading_values=True)
                 if not after[i].startswith("-") or after[i] == "-"), None)


def _stray_leading_word(word: str, ctx: _click.Context, close: list[str], after: list[str]) -> str:
    """A word typed before a real command (`kmeshctl x precheck`, `kmeshctl sandbox x list`):
    `did you mean `kmeshctl precheck`?`, the line without it; a typo of a group before one
    of its commands (`sandbx status`) is the group's line instead; one before another
    tool's words (istioctl's `x waypoint generate`) their hint (WORD_HABITS). Empty for
    any other."""
    following = _next_command_word(after[:separator_at(after)])
    commands = getattr(ctx.command, "commands", {})
    if following is None:
        return ""
    meant = next((c for c in close if following in getattr(commands.get(c), "commands", {})), None)
    at = _word_index(word, ctx)
    if at is None:
        return ""
    line = list(cmdline.ARGS)
    if meant is not None:  # `sandbx status` -> `kmeshctl sandbox status`
        line[at] = meant
        return f"did you mean {meant}? `{shlex.join(['kmeshctl', *line])}`"
    del line[at]
    further = _habit_further(line, ctx.find_root().command)
    if further or following not in commands or commands[following].hidden:
        return further
    root = ctx.find_root().command
    group_at = at + (_next_command_at(after[:separator_at(after)]) or 0)
    swapped = _group_first_line(word, commands[following], line, group_at, root)
    if swapped:
        return swapped
    moved = _as_argument_line(word, line, group_at, root)
    return _meant_line(moved, root) if moved else f"did you mean `{shlex.join(['kmeshctl', *line])}`?"


def _group_first_line(word: str, group: _click.Command, line: list[str], at: int, root: _click.Command) -> str:
    """A command typed before its group (`traffic-shift demo`, `list sandbox -o json`):
    `did you mean `kmeshctl demo traffic-shift`?`, every flag kept (its synonym or near
    spelling, `ls sandbox`: list), said so when it changes things; `top node`, a word none
    of the group's commands: one line naming them. "" when ``group`` (at ``line[at]``, the
    line without ``word``) is no group, or a command of it follows (`x demo traffic-shift`)."""
    import difflib

    commands = getattr(group, "commands", None)
    if commands is None:
        return ""
    cut = separator_at(line)
    if _next_command_word(line[at + 1:cut]) in commands:
        return ""
    names = [n for n, sub in sorted(commands.items()) if not sub.hidden]
    meant = ([n for n in names if n == word.lower()] or command_synonyms(word, names)
             or difflib.get_close_matches(word.lower(), names, n=1, cutoff=SUGGEST_CLOSENESS))
    if not meant:
        return f"nor is {word} a command of {line[at]}: its commands are {', '.join(names)}"
    return _meant_line([*line[:at + 1], meant[0], *line[at + 1:]], root)


def _meant_line(line: list[str], root: _click.Command) -> str:
    """`did you mean `kmeshctl LINE`?`, said so when the line changes things (CHANGES)."""
    meant = shlex.join(["kmeshctl", *line])
    path = cmdline.typed_command_path(root, line).split()[1:]  # its command, leading flags passed over
    changing = changing_command(shlex.join(["kmeshctl", *path, *line]))
    return f"did you mean `{meant}`?" + (f" (it runs for real: {changing} changes {CHANGES[changing]})"
                                          if changing else "")


def _as_argument_line(word: str, line: list[str], at: int, root: _click.Command) -> list[str]:
    """``line`` (without the stray ``word``) with ``word`` as the argument of the command
    at ``line[at]`` when only that makes it parse (`sandbox netutils exec -- ls`: `sandbox
    exec netutils -- ls`, exec's POD); [] otherwise. Only on a line giving a command to run
    after `--` (then the word can be nothing but where it runs: `f4x enable-ns` is no
    namespace to enroll), and never for a command that changes things."""
    from kmeshctl.cli.badinput import line_works

    moved = [*line[:at + 1], word, *line[at + 1:]]
    if "--" not in line[at + 1:] or changing_command(shlex.join(["kmeshctl", *moved])) or \
            line_works(["kmeshctl", *line], root) or not line_works(["kmeshctl", *moved], root):
        return []
    return moved


def _habit_further(line: list[str], root: _click.Command) -> str:
    """For the first command word of ``line`` (the words after `kmeshctl`) that its group
    lacks (istioctl's `x waypoint generate`, the stray word `x` left out), `nor a command
    waypoint generate: ` and its WORD_HABITS hint, given the line's other words; "" when
    it has none."""
    path: list[int] = []  # where the command's words are
    command = root
    for i in walk_words(line, leading_values=True):
        if line[i].startswith("-") and line[i] != "-":
            continue
        commands = getattr(command, "commands", {})
        if line[i] in commands:
            command = commands[line[i]]
            path.append(i)
            continue
        words = [line[j] for j in path]
        habit = WORD_HABITS.get((tuple(words), line[i].lower()))
        if habit is None:
            return ""
        rest = [w for j, w in enumerate(line) if j not in path and j != i]
        return f"nor a command {' '.join([*words, line[i]])}: {_word_habit_line(habit, root, [], rest)}"
    return ""


def _word_index(word: str, ctx: _click.Context) -> Optional[int]:
    """Where in the line the command word ``word`` that ``ctx``'s group refused is (see words_around)."""
    depth = len(ctx.command_path.split()) - 1
    positions = [i for i in walk_words(cmdline.ARGS, leading_values=True)
                 if not cmdline.ARGS[i].startswith("-") or cmdline.ARGS[i] == "-"]
    return positions[depth] if len(positions) > depth and cmdline.ARGS[positions[depth]] == word else None


def _spelled_out(word: str, names: list[str]) -> list[str]:
    """`enable-namespace` -> enable-ns: the command whose short word ``word`` spells out."""
    typed = word.lower()
    return [n for n in names if typed in (n.replace("-ns", "-namespace"), n.replace("-ns", "-namespaces"))
            and "-ns" in n]


def words_around(word: str, ctx: _click.Context) -> Optional[tuple[list[str], list[str]]]:
    """(the -n/-o/-A flags typed before the unknown command ``word``, each with its value;
    the words typed after it), read from the line; None when ``word`` is not where ``ctx``
    (the group that refused it) expects its command."""
    depth = len(ctx.command_path.split()) - 1
    positions: list[int] = []
    before: list[str] = []
    for i in walk_words(cmdline.ARGS, leading_values=True):
        arg = cmdline.ARGS[i]
        entry = leading_flag(arg)
        if not arg.startswith("-") or arg == "-":
            positions.append(i)
            if len(positions) > depth:
                break
        elif entry is not None:
            before += cmdline.ARGS[i:i + (2 if entry[1] and "=" not in arg else 1)]
    if len(positions) <= depth or cmdline.ARGS[positions[depth]] != word:
        return None
    return before, cmdline.ARGS[positions[depth] + 1:]


KUBECTL_VERBS = ("get", "describe", "delete", "create")
KIND_WORDS = {"sandbox": "sandbox", "sandboxes": "sandbox", "waypoint": "waypoint", "waypoints": "waypoint"}
# kubectl's (verb, a NAME given) on a kind -> the subcommand of the kind's group (none: delete needs a NAME)
_MAKING = {"sandbox": "up", "waypoint": "apply"}
VERB_SUBCOMMANDS = {("get", False): "list", ("get", True): "status", ("describe", False): "status",
                    ("describe", True): "status", ("delete", True): {"sandbox": "down", "waypoint": "delete"},
                    ("create", False): _MAKING, ("create", True): _MAKING}
# The flags that name the sandbox or waypoint a kind's command acts on (typed as kmeshctl
# spells them, `sandbox rm --name NAME`, they are its NAME as a positional word is).
NAME_FLAGS = {"sandbox": ("--name", "--sandbox"), "waypoint": ("--name",)}


# kubectl's, docker's and ls' verbs typed after a kind's group (`sandbox describe NAME`,
# `sandbox rm NAME`, `waypoint ls`, `sandbox start --name NAME`) -> the kubectl verb they
# stand for, read verb first (`describe sandbox NAME`) by _kubectl_verb_line.
GROUP_VERBS = {"describe": "describe", "show": "describe", "info": "describe", "get": "get", "ls": "get",
               "delete": "delete", "rm": "delete", "remove": "delete", "del": "delete", "destroy": "delete",
               "stop": "delete", "create": "create", "start": "create"}

# A kind's command (or GROUP_VERBS' word) typed before the kind (`list sandbox -o json`,
# `down sandbox --name x`) -> the kubectl verb it stands for: read as kubectl's line, it
# names the sandbox or waypoint that a line changing things must name.
KIND_VERBS = {**GROUP_VERBS, "list": "get", "up": "create", "apply": "create", "down": "delete"}


def _kind_first(after: list[str], root: _click.Command) -> bool:
    """The first word of ``after`` that is no flag is a kind (`sandbox`, `waypoints`)."""
    positional, _ = _split_typed(after[:separator_at(after)], root)
    return bool(positional) and positional[0].partition("/")[0].lower() in KIND_WORDS


def _command_habit_line(word: str, ctx: _click.Context, before: list[str], after: list[str],
                        typed: bool = True) -> str:
    """The fix for a command word of kubectl or docker kmeshctl spells otherwise; empty
    when there is none. ``typed``: the word is on the line run (not `help WORD`)."""
    path = tuple(ctx.command_path.split()[1:])
    if not path and word.lower() in KUBECTL_VERBS:
        return _kubectl_verb_line(word.lower(), ctx, before, after)
    if typed and not path and word.lower() in KIND_VERBS and _kind_first(after, ctx.command):
        return _kubectl_verb_line(KIND_VERBS[word.lower()], ctx, before, after)  # `down sandbox`: sandbox down
    if typed and len(path) == 1 and path[0] in PLURALS and word.lower() in GROUP_VERBS:
        names = [n for n, sub in ctx.command.commands.items() if not sub.hidden]
        meant = command_synonyms(word, names)  # `did you mean down?`, then the line that does it
        if meant and any(w in HELP_FLAGS for w in after[:separator_at(after)]):  # as a typo's help line
            return f"did you mean {meant[0]}? `{shlex.join(['kmeshctl', path[0], meant[0], '--help'])}`"
        line = _kubectl_verb_line(GROUP_VERBS[word.lower()], ctx, before, [path[0], *after])
        return f"did you mean {' or '.join(meant)}? {line}" if line and meant else line
    if path == ("sandbox",) and word.lower() == "run":
        return _run_as_exec_line(after, ctx.command.commands["exec"])
    if (not path and word.lower() == "exec" or path == ("sandbox",) and word.lower() in SHELL_WORDS) and typed:
        return _exec_habit_line(word.lower(), after, ctx.find_root().command)
    if not path and word.lower() == "apply" and typed:
        return _kubectl_apply_line()
    if (path, word.lower()) in WORD_HABITS:
        return _word_habit_line(WORD_HABITS[(path, word.lower())], ctx.find_root().command, before, after)
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
            option = option_below(group, flag)
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
        return _status_line(root, before + flags) if verb in ("get", "describe") else ""
    kind = KIND_WORDS.get(positional[0].partition("/")[0].lower())
    group = getattr(root, "commands", {}).get(kind or "")
    if group is None:
        return _kubectl_kind_line(verb, positional[0], root, before + flags)
    if kind == "waypoint" and any(spelled(w, {"--sandbox"}) for w in [*before, *after]):
        return _sandbox_waypoints_line(verb, root, before + flags)
    reader, sub = group, None
    for _ in range(3):  # which words are values depends on the command, the command on whether a NAME is given
        positional, flags = _split_typed(after, reader)
        first = positional[0].partition("/")[2]  # kubectl's `get sandbox/NAME`
        flagged, flags = _named_by_flags(flags, NAME_FLAGS[kind])
        names = ([first] if first else []) + positional[1:] + flagged
        sub = VERB_SUBCOMMANDS.get((verb, bool(names)))
        sub = sub.get(kind) if isinstance(sub, dict) else sub
        if sub is None or group.commands[sub] is reader:
            break
        reader = group.commands[sub]
    flags = before + flags
    plural = PLURALS[kind]
    if sub is None:  # `delete sandbox`: kubectl wants a NAME too
        deleting = VERB_SUBCOMMANDS[("delete", True)][kind]  # type: ignore[index]
        every = _flags_taken(group.commands[deleting], flags)
        if any(spelled(w, {"--all"}) for w in every):  # kubectl's `delete sandboxes --all`, typed: its own line
            return f"to remove every {kind}: `{shlex.join(['kmeshctl', kind, deleting, *every])}`"
        lister = shlex.join(["kmeshctl", kind, "list", *_flags_taken(group.commands["list"], flags)])
        done = "removed" if deleting == "down" else "deleted"
        known = _sandbox_lines(deleting, _flags_taken(group.commands[deleting], flags)) if kind == "sandbox" else ""
        if known:  # the sandboxes of this machine: a line for each
            return f"{plural} are {done} by name: {known}"
        if kind == "waypoint":  # delete's --name has a default: the line deletes that one
            from kmeshctl.waypoint.deploy import DEFAULT_NAME

            line = shlex.join(["kmeshctl", kind, deleting, *_flags_taken(group.commands[deleting], flags)])
            return (f"{plural} are {done} by name (--name, default {DEFAULT_NAME}): `{line}` is for the one named "
                    f"{DEFAULT_NAME}; their names: `{lister}`")
        return f"{plural} are {done} by name: kmeshctl {kind} {deleting} --name NAME (their names: `{lister}`)"
    command = group.commands[sub]
    named = ["kmeshctl", kind, sub]
    kept = _flags_taken(command, flags)
    dropped = [f for f in dict.fromkeys(w.partition("=")[0] for w in flags if w.startswith("-"))
               if not any(spelled(k, {f}) for k in kept) and f not in HELP_FLAGS]
    note = f" ({shlex.join(named[1:])} takes no {', '.join(dropped)})" if dropped else ""
    if not names:
        doing = {"list": f"list {plural}", "status": f"show a {kind}"}.get(sub, f"create a {kind}")
        line, others = with_sandbox_name([*named, *kept]) if (kind, sub) == ("sandbox", "status") else (
            [*named, *kept], "")
        return f"to {doing}: `{shlex.join(line)}`{others}{note}"
    param = option_spelled(command, "--name")
    check = _making_check(kind) if sub == _MAKING[kind] else flag_value_check(param, (kind, sub)) if param else None
    doing, done = {"status": ("show", "shown"), "down": ("remove", "removed"), "delete": ("delete", "deleted")}.get(
        sub, ("create", "created"))
    lines, refused = [], []
    for name in names:
        try:
            if check is not None:
                with cmdline.args_as([kind, sub, "--name", name, *kept]):  # its line: of this command, not the typed
                    check("--name", name)
        except KmeshctlError as err:
            split = _namespaced_line(str(err), root)
            if split:  # `team-a/wp1`: `--name wp1 -n team-a`, never a --name the user did not type said refused
                lines.append(split)
                continue
            refused.append(str(err))
            continue
        lines.append(f"`{shlex.join([*named, '--name', name, *kept])}`")
    if not refused:
        return f"to {doing} {kind} {' and '.join(names)}: {' and '.join(lines)}{note}"
    # never another sandbox's line for a name that does not exist (it would act on that one)
    return "; ".join([f"a {kind} is {done} with kmeshctl {kind} {sub} --name NAME", *lines, *refused]) + note


PLURALS = {"sandbox": "sandboxes", "waypoint": "waypoints"}


def _namespaced_line(refusal: str, root: _click.Command) -> str:
    """The one line of a name's ``refusal`` for NAMESPACE/NAME (`...: did you mean --name wp1
    -n team-a? `kmeshctl waypoint delete --name wp1 -n team-a``), backticked, when it works;
    "" for another refusal."""
    from kmeshctl.cli.badinput import line_works

    found = re.findall(r"`(kmeshctl [^`]*)`", refusal)
    if "(NAMESPACE/NAME)" not in refusal or len(found) != 1:
        return ""
    return f"`{found[0]}`" if line_works(shlex.split(found[0]), root) else ""


def _named_by_flags(flags: list[str], spellings: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(the values of the name flags ``spellings`` in ``flags``: `--name x`, `--sandbox=x`;
    ``flags`` without them, and without such a flag left with no value)."""
    names: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(flags):
        flag, equals, value = flags[i].partition("=")
        if flag not in spellings:
            rest.append(flags[i])
            i += 1
            continue
        if not equals and i + 1 < len(flags) and not flags[i + 1].startswith("-"):
            value, i = flags[i + 1], i + 1
        if value:
            names.append(value)
        i += 1
    return names, rest


def _making_check(kind: str) -> Callable[[str, str], None]:
    """check(flag, value) of the name of a sandbox or waypoint to make (UsageError or
    KmeshctlError, as names.flag_value_check's checks)."""
    from kmeshctl.cli.names import check_waypoint_name

    return check_waypoint_name if kind == "waypoint" else _check_new_sandbox


def _check_new_sandbox(flag: str, value: str) -> None:
    """A valid sandbox name that no sandbox has (`sandbox up` refuses one that exists)."""
    from kmeshctl import sandboxes
    from kmeshctl.sandbox.state import check_name

    check_name(value, flag)
    if value in sandboxes.names():
        raise KmeshctlError(f"sandbox {value} exists already: `kmeshctl sandbox status --name {value}`")


def _status_line(root: _click.Command, flags: list[str]) -> str:
    """kubectl's `get` or `describe` of no kind: `did you mean status? `kmeshctl status``,
    with the flags typed that status takes; empty with no status command."""
    status = getattr(root, "commands", {}).get("status")
    if status is None:
        return ""
    return f"did you mean status? `{shlex.join(['kmeshctl', 'status', *_flags_taken(status, flags)])}`"


# Kinds of Kubernetes and Istio that kubectl gets and kmeshctl has no command for (their
# names, plurals and short names as kubectl takes them).
KUBECTL_KINDS = frozenset((
    "all pod pods po service services svc deployment deployments deploy node nodes no namespace namespaces ns "
    "daemonset daemonsets ds replicaset replicasets rs statefulset statefulsets sts job jobs cronjob cronjobs cj "
    "configmap configmaps cm secret secrets endpoints ep endpointslice endpointslices event events ev "
    "serviceaccount serviceaccounts sa ingress ingresses ing networkpolicy networkpolicies netpol crd crds "
    "customresourcedefinition customresourcedefinitions gateway gateways gtw httproute httproutes "
    "virtualservice virtualservices vs destinationrule destinationrules dr serviceentry serviceentries se "
    "workloadentry workloadentries we authorizationpolicy authorizationpolicies peerauthentication "
    "peerauthentications requestauthentication requestauthentications sidecar sidecars "
    "role roles rolebinding rolebindings clusterrole clusterroles clusterrolebinding clusterrolebindings "
    "pv pvc persistentvolume persistentvolumes persistentvolumeclaim persistentvolumeclaims").split())


def _kubectl_kind_line(verb: str, typed: str, root: _click.Command, flags: list[str]) -> str:
    """`kmeshctl get pods`: a kind of Kubernetes' kmeshctl has no command for (kubectl's
    `get pods`, `describe svc/x`, `get deploy.apps`): kubectl's own line (the words typed,
    -q left out), and the command that shows kmesh's state; with a sandbox named
    (--sandbox, --name: kmeshctl's flags, no kubectl line carries them) or, with no cluster
    configured, sandboxes up, the sandbox's status instead (_sandbox_pods_line). ``flags``:
    the flags typed, with their values. Empty for another word."""
    kind = typed.partition("/")[0].lower()
    if kind not in KUBECTL_KINDS and kind.partition(".")[0] not in KUBECTL_KINDS:
        return ""
    plural = "Kubernetes objects" if kind == "all" else kind
    sandbox = _sandbox_pods_line(root, flags)
    if sandbox:
        return f"none for {plural} either: {sandbox}"
    kubectl = ["kubectl", *(w for w in cmdline.ARGS if w.partition("=")[0] not in QUIET_FLAGS)]
    at = next((i for i, w in enumerate(kubectl) if w.lower() == verb), None)
    if at is not None:
        kubectl[at] = verb
    status = "status" if "status" in getattr(root, "commands", {}) else ""
    mesh = f"; kmesh's own state: `kmeshctl {status}`" if status else ""
    return f"none for {plural} either: use kubectl, `{shlex.join(kubectl)}`{mesh}"


def _kubectl_apply_line() -> str:
    """kubectl's `apply -f FILE` typed to kmeshctl: kubectl's own line (the words typed, -q
    left out), and what kmeshctl applies instead (kmesh's objects, a waypoint)."""
    kubectl = ["kubectl", *(w for w in cmdline.ARGS if w.partition("=")[0] not in QUIET_FLAGS)]
    return (f"kmeshctl applies no manifest files (kubectl's apply): use kubectl, `{shlex.join(kubectl)}`; kmesh "
            "itself is applied by kmeshctl install (kmeshctl render prints its objects), a waypoint by "
            "kmeshctl waypoint apply")


SANDBOX_SHOWS = "a sandbox's pods, Services, waypoint and agent are shown by"


def _sandbox_pods_line(root: _click.Command, flags: list[str]) -> str:
    """`a sandbox's pods ... are shown by `kmeshctl sandbox status --name X``: for
    kubectl's words with a sandbox named in ``flags`` (--sandbox or --name X), or with no
    cluster configured (kubectl and `kmeshctl status` would fail) and sandboxes up (one
    named when several are: with_sandbox_name); "" otherwise."""
    from kmeshctl import sandboxes

    named, rest = _named_by_flags(flags, NAME_FLAGS["sandbox"])
    if not named and not any(spelled(w, set(NAME_FLAGS["sandbox"])) for w in flags) and (
            _cluster_configured() or not sandboxes.names()):
        return ""
    why = "" if named or _cluster_configured() else "no cluster is configured (for kubectl or kmeshctl status); "
    return why + sandbox_status_line(root, named[-1] if named else None, rest, SANDBOX_SHOWS)


def _sandbox_waypoints_line(verb: str, root: _click.Command, flags: list[str]) -> str:
    """kubectl's `get waypoints --sandbox X`: waypoint commands act on a cluster (their
    --name is the waypoint's); the sandbox's are shown by its status, as `waypoint list
    --sandbox X` says (badinput.COMMAND_HABITS)."""
    named, rest = _named_by_flags(flags, ("--sandbox",))
    _, rest = _named_by_flags(rest, ("--name",))  # the waypoint's
    if verb in ("get", "describe"):
        said = "waypoint list and status read a cluster's waypoints: a sandbox's are shown by"
    else:
        said = (f"waypoint {'delete' if verb == 'delete' else 'apply'} acts on a cluster: a sandbox has the "
                "waypoints its manifests' istio.io/use-waypoint labels name, shown by")
    return sandbox_status_line(root, named[-1] if named else None, rest, said)


def sandbox_status_line(root: _click.Command, name: Optional[str], flags: list[str], said: str) -> str:
    """`SAID `kmeshctl sandbox status --name NAME -o wide`` with the flags of ``flags``
    it takes (the others named); a ``name`` it would refuse (no such sandbox) is said so,
    with the sandboxes there are, instead of offered."""
    from kmeshctl.cli.names import flag_value_check

    command = root.commands["sandbox"].commands["status"]
    kept = _flags_taken(command, [w for w in flags if not spelled(w, set(NAME_FLAGS["sandbox"]))])
    kept += [w for w in flags if w in QUIET_FLAGS][:1]  # the root's, taken after any command
    dropped = [f for f in dict.fromkeys(w.partition("=")[0] for w in flags if w.startswith("-"))
               if not any(spelled(k, {f}) for k in kept) and f not in HELP_FLAGS and f not in NAME_FLAGS["sandbox"]]
    note = f" (sandbox status takes no {', '.join(dropped)})" if dropped else ""
    if name is not None:
        check = flag_value_check(option_spelled(command, "--name"), ("sandbox", "status"))
        try:
            if check is not None:
                check("--name", name)
        except KmeshctlError as err:
            return f"{said} kmeshctl sandbox status --name NAME; {err}{note}"
    line, others = with_sandbox_name(["kmeshctl", "sandbox", "status", *kept], name)
    return f"{said} `{shlex.join(line)}`{others}{note}"


MAX_NAMED_LINES = 3  # more sandboxes: the template and the list line


def _sandbox_lines(sub: str, flags: list[str]) -> str:
    """`kmeshctl sandbox down --name a` or ... for each sandbox of this machine (one to
    MAX_NAMED_LINES of them); "" for none or more."""
    from kmeshctl import sandboxes

    names = sandboxes.names()
    if not 0 < len(names) <= MAX_NAMED_LINES:
        return ""
    return " or ".join(f"`{shlex.join(['kmeshctl', 'sandbox', sub, '--name', name, *flags])}`" for name in names)


def _flags_taken(command: _click.Command, flags: list[str]) -> list[str]:
    """The flags (with their values) of ``flags`` that ``command`` takes."""
    kept, i = [], 0
    while i < len(flags):
        option = option_spelled(command, flags[i].partition("=")[0])
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
        option = option_spelled(exec_command, words[at].partition("=")[0]) if words[at].startswith("-") else None
        if option is None:
            words.insert(at, "--")
            break
        at += 2 if takes_value(option) and "=" not in words[at] else 1  # exec's own (`--name X`) stays before
    return f"did you mean exec? `{shlex.join(['kmeshctl', 'sandbox', 'exec', *words])}`"


SHELL_WORDS = ("ssh", "shell", "sh", "attach")  # `sandbox ssh POD`: a shell in the pod, as docker's, vagrant's


def _exec_habit_line(word: str, after: list[str], root: _click.Command) -> str:
    """kubectl's `exec POD -- CMD` (at the top) and `sandbox ssh|shell POD` -> `kmeshctl
    sandbox exec POD -- CMD` (the flags typed that exec takes; `-- sh` when no command is
    given; --name when several sandboxes are up and none is named, see with_sandbox_name)."""
    exec_command = root.commands["sandbox"].commands["exec"]  # type: ignore[attr-defined]
    cut = separator_at(after)
    positional, flags = _split_typed(after[:cut], exec_command)
    kept = _flags_taken(exec_command, flags)
    if word == "exec" and positional[:1] == ["sandbox"]:  # `exec sandbox POD`: the group typed after the verb
        positional = positional[1:]
    if not positional:  # no line to paste without a POD (backticked, POD would be mended as a value: `pod`)
        command = shlex.join(after[cut + 1:]) or ("COMMAND" if word == "exec" else "sh")
        return f"did you mean kmeshctl sandbox exec POD -- {command}? (run a command in a pod of a sandbox)"
    command = after[cut + 1:] or positional[1:] or ["sh"]
    line, _ = with_sandbox_name(["kmeshctl", "sandbox", "exec", positional[0], *kept])
    said = "kubectl's exec is" if word == "exec" else "a shell in a pod is"
    return f"{said} `{shlex.join([*line, '--', *command])}`"


# Command words of istioctl, cilium, bpftool, kubectl and docker that kmeshctl has no
# command for: (group words, word) -> (kmeshctl's command that does that work, the flags it
# gets unless typed, each with its value if it takes one, the hint). In the hint {command}
# is that command, backticked, with the flags typed that it takes (and, for a sandbox's, the
# sandbox it must name), never one that installs or deletes (see READING_COMMANDS) but the
# demo, which cilium's `connectivity test` stands for; {config} and {maps} are `dump config`
# and `dump maps` reading the same agent; {namespace} is kmesh's namespace (-n as typed) and
# {agents} the agent pods' labels. A dump command on a cluster gets --pod (AGENT_COMMANDS).
_LOGS = (("sandbox", "status"), (("-o", "wide"),),
         "the node agents' logs: on a cluster `kubectl logs -n {namespace} -l {agents}`; a sandbox's (its agent, "
         "control plane, waypoint and each pod) are shown by {command}")
_AGENT_CONFIG = (("dump", "config"), (), "a node agent's configuration (its services, workloads and policies) "
                                         "is shown by {command}; the data path it programmed by {maps}")
_MAPS = (("dump", "maps"), (), "kmesh's BPF maps are decoded by {command} (--map NAME for one, -o wide for every "
                               "column)")
_CONFIG_SECTION = (("dump", "config"), (), "did you mean config? it prints the services, workloads and policies "
                                           "sections: {command}")
_SANDBOX_LOGS = (("sandbox", "status"), (("-o", "wide"),), "did you mean status? its LOG column has each pod's log "
                                                          "file: {command}")
_SANDBOX_PS = (("sandbox", "status"), (("-o", "wide"),), "did you mean status? its PIDS column has each pod's "
                                                        "processes: {command}")
_CONNECTIVITY = (("demo", "traffic-shift"), (), "kmeshctl's traffic check (cilium's connectivity test) is {command}: "
                                                "it sends requests through the mesh and checks the split (on a "
                                                "cluster it deploys its demo objects; locally it uses a sandbox)")
_SYSDUMP = (("status",), (), "none gathers a bundle (cilium's sysdump): the install is shown by {command}, a node "
                             "agent's state by {config} and {maps}, the agents' logs by `kubectl logs -n {namespace} "
                             "-l {agents}`")
_BUG_REPORT = (("status",), (("-o", "yaml"),),
               "none gathers a bundle (istioctl's bug-report): the install is shown by {command}, a node agent's "
               "state by {config} and {maps}, the agents' logs by `kubectl logs -n {namespace} -l {agents}`, whether "
               "the cluster suits kmesh by `kmeshctl precheck`")
_DASHBOARD = (("status",), (), "kmeshctl opens no dashboard (istioctl's dashboard; Kiali's and Grafana's are "
                               "Istio's): the install is shown by {command}, a node agent's state by {config}")
# no line to paste: labelling a namespace changes the cluster
_KUBE_INJECT = (("enable-ns",), (), "kmesh injects no sidecar (istioctl's kube-inject): a namespace's pods are put "
                                    "in the mesh by labelling it, kmeshctl enable-ns NAMESPACE; the manifest stays as "
                                    "it is")
_HUBBLE = (("dump", "maps"), (), "kmeshctl observes no flows (cilium's hubble): each node agent counts the "
                                 "connections its authorization policies decide (kmesh_authz_connections_total, "
                                 "its metrics on port 15020, /status/metric); the data path's state is shown by "
                                 "{command}")
_CLUSTERMESH = (("status",), (), "kmesh joins no clusters (cilium's clustermesh): a mesh across clusters is "
                                 "istiod's; this cluster's install is shown by {command}")
_AGENT_SETTINGS = (("dump", "config"), (), "kmeshctl has no config command (cilium's config): the node agents' "
                                           "settings are install's flags (run kmeshctl install again with new ones "
                                           "to change them); what an agent was given by istiod is shown by {command}")
_WAYPOINT_GENERATE = (("waypoint", "apply"), (("--dry-run",), ("-o", "yaml")),
                      "did you mean apply? with --dry-run it prints the waypoint's objects and applies nothing: "
                      "{command}")
Habit = tuple[tuple[str, ...], tuple[tuple[str, ...], ...], str]
WORD_HABITS: dict[tuple[tuple[str, ...], str], Habit] = {
    ((), "logs"): _LOGS, ((), "log"): _LOGS,
    ((), "proxy-config"): _AGENT_CONFIG, ((), "ztunnel-config"): _AGENT_CONFIG,
    ((), "proxy-status"): (("status",), (), "each node agent's istiod connection is shown by {command}"),
    ((), "manifest"): (("render",), (), "the install manifests are printed by {command}"),
    # no line to paste: install with other flags than the user's would change their install
    ((), "upgrade"): (("install",), (), "to upgrade, run kmeshctl install again with your install's flags and the "
                                        "new --image NAME: it applies only what changed (`kmeshctl version` shows "
                                        "what runs)"),
    ((), "analyze"): (("precheck",), (), "none checks Istio's configuration (istioctl analyze does): {command} "
                                         "checks the cluster is ready for kmesh, `kmeshctl status` the install"),
    ((), "verify-install"): (("status",), (), "kmesh's install (istioctl's verify-install) is checked by {command}: "
                                              "its objects and each node's agent; whether the cluster suits kmesh by "
                                              "`kmeshctl precheck`"),
    ((), "bpf"): _MAPS, ((), "map"): _MAPS, ((), "maps"): _MAPS, ((), "bpftool"): _MAPS,
    ((), "connectivity"): _CONNECTIVITY, ((), "sysdump"): _SYSDUMP, ((), "bug-report"): _BUG_REPORT,
    ((), "dashboard"): _DASHBOARD, ((), "kube-inject"): _KUBE_INJECT, ((), "hubble"): _HUBBLE,
    ((), "clustermesh"): _CLUSTERMESH, ((), "config"): _AGENT_SETTINGS,
    (("waypoint",), "generate"): _WAYPOINT_GENERATE,
    **{(("dump",), w): _CONFIG_SECTION for w in ("services", "service", "svc", "workloads", "workload",
                                                  "endpoints", "endpoint", "policies", "policy")},
    **{(("sandbox",), w): _SANDBOX_LOGS for w in ("logs", "log")},
    **{(("sandbox",), w): _SANDBOX_PS for w in ("ps", "top")},
}
# The commands that read one node agent: on a cluster, the agent pod named by --pod.
AGENT_COMMANDS = (("dump", "config"), ("dump", "maps"))


def _word_habit_line(habit: Habit, root: _click.Command, before: list[str], after: list[str]) -> str:
    """WORD_HABITS' hint, its command with the flags typed (``before`` the word, or
    ``after`` it) that the command takes (the others named: `(sandbox status takes no
    -f)`); a local command also names the sandbox a word after names (`sandbox logs
    t26a1`), or, given none while several are up, one of them; a dump command, with a
    cluster configured, the agent pod it reads (_agent_pod)."""
    from kmeshctl import sandboxes
    from kmeshctl.config_dump import AGENT_NAMESPACE, AGENT_POD_LABELS
    from kmeshctl.demo import DEMO_WORDS

    words, defaults, text = habit
    command, _ = cmdline.resolve(root, list(words))
    positional, flags = _split_typed(after[:separator_at(after)], root)
    flags = before + flags
    namespace = typed_value(flags, *NAMESPACE_FLAGS)
    reads_agent = words in AGENT_COMMANDS or "{config}" in text or "{maps}" in text
    pod, listing = _agent_pod(namespace) if reads_agent else ([], "")
    taken = _flags_taken(command, flags)
    if pod:  # its -n is the agent pod's
        taken = _without_namespace(taken)
    kept, needing = _without_needing(words, command, taken)
    dropped = [f for f in dict.fromkeys(w.partition("=")[0] for w in flags if w.startswith("-"))
               if not any(spelled(k, {f}) for k in kept) and f not in HELP_FLAGS and f not in needing
               and not (namespace is not None and f in NAMESPACE_FLAGS and ("{namespace}" in text or pod))]
    for default in reversed(defaults):
        if not any(spelled(w, set(option_spelled(command, default[0]).opts)) for w in kept):  # type: ignore[union-attr]
            kept = [*default, *kept]
    line, others = ["kmeshctl", *words, *kept], ""
    if words[0] == "sandbox" or words == DEMO_WORDS and not _cluster_configured():
        named = next((w for w in positional if w in sandboxes.names()), None)
        made = _sandbox_to_make(habit, positional) if named is None else None
        line, others = with_sandbox_name(line, named or made)
        if made:  # `sandbox logs t47a-x`, no such sandbox: the name typed kept, the line making it first
            given = f"{positional[0]} given as --name {made}; " if positional[0] != made else ""
            others = f" ({given}no sandbox is named {made} ({sandboxes.known_text()}): the line makes it first)"
    path = " ".join(words)
    notes = [f"{path} takes no {', '.join(dropped)}"] if dropped else []
    notes += [f"{path} takes {flag} only with {other}" for flag, other in needing.items()]
    if "{command}" not in text:  # no line of it shown: its flags are no news
        notes = []
    agents = ",".join(f"{k}={v}" for k, v in AGENT_POD_LABELS.items())
    if words == RENDER_WORDS:  # the cluster's istiod and cluster id, not the examples
        found, placeholder = _render_values(line[1 + len(words):])
        line, listing = [*line, *found], placeholder + listing
    own = run_with(command, line[:1 + len(words)], line[1 + len(words):])
    pasted = _pasted(own, pod if words in AGENT_COMMANDS else [])
    if words[0] == "sandbox" and "the line makes it first" in others:
        pasted = f"`{shlex.join(['kmeshctl', 'sandbox', 'up', '--name', typed_value(line, '--name') or ''])} && " \
                 f"{pasted[1:]}"
    shown = {"command": pasted + others,
             "config": _pasted("kmeshctl dump config", pod), "maps": _pasted("kmeshctl dump maps", pod)}
    hint = text.format(**shown, namespace=namespace or AGENT_NAMESPACE, agents=agents)
    return hint + (f" ({'; '.join(notes)})" if notes else "") + listing


RENDER_WORDS = ("render",)


def _sandbox_to_make(habit: Habit, positional: list[str]) -> Optional[str]:
    """The sandbox a word typed after a sandbox command's habit word names that is not there
    (`sandbox logs t47a-x`: t47a-x; `T47a_x` fitted to the rule), None when no word was
    typed, the habit is no sandbox command's own, or the word cannot be a sandbox's name."""
    from kmeshctl import sandboxes

    return sandboxes.name_read(positional[0]) if habit in SANDBOX_HABITS and len(positional) == 1 else None


SANDBOX_HABITS = (_SANDBOX_LOGS, _SANDBOX_PS)  # typed after `sandbox`: a word after them names a sandbox


def _render_values(typed: list[str]) -> tuple[list[str], str]:
    """(the --xds-address and --cluster-id words a suggested `kmeshctl render` lacks
    (``typed``: its flags typed), as the cluster configured has them: its istiod Service,
    else a guess and the note saying why (render._xds_address_for_hint, as
    install's --dry-run=client hint), and istiod's cluster id when its Deployment names it
    (asked only of a cluster that answered); ([], "") with no cluster configured:
    with_required's examples are no cluster's)."""
    from kmeshctl.cli.render import _xds_address_for_hint
    from kmeshctl.istiod import known_cluster_id_quickly
    from kmeshctl.params import COMPLETION_LOOKUP_TIMEOUT_S, DEFAULT_ISTIO_NAMESPACE

    if not _cluster_configured():
        return [], ""
    address, note = _xds_address_for_hint(typed, cmdline.ARGS)
    if typed_value(typed, "--cluster-id") is not None or note:
        return address, note  # typed, or a cluster that did not answer (asked once, not twice)
    target = typed_target(cmdline.ARGS)
    own = known_cluster_id_quickly(target.kubeconfig, target.context, typed_value(
        typed, "--istio-namespace") or DEFAULT_ISTIO_NAMESPACE, COMPLETION_LOOKUP_TIMEOUT_S)
    return [*address, *(["--cluster-id", own] if own else [])], note


def _without_namespace(flags: list[str]) -> list[str]:
    """``flags`` without -n/--namespace and their values."""
    from kmeshctl.cli.cmdline import without_flag

    for spelling in NAMESPACE_FLAGS:
        flags = without_flag(flags, spelling)
    return flags


def _cluster_configured() -> bool:
    """The typed line (or $KUBECONFIG, ~/.kube/config) configures a cluster: kmeshctl.kube.cluster_configured."""
    from kmeshctl import kube

    return kube.cluster_configured(typed_target(cmdline.ARGS))


POD_PLACEHOLDER = "POD"


def _pasted(line: str, pod: list[str]) -> str:
    """``line`` (`kmeshctl dump maps ...`) with ``pod`` (`--pod NAME -n NS`: _agent_pod)
    added, backticked to paste; with the POD placeholder (no agent pod known), which no
    command takes, as prose instead, with the --kubeconfig / --context typed
    (carry_typed_globals gives them to backticked lines only)."""
    words = [*shlex.split(line), *pod]
    if POD_PLACEHOLDER not in pod:
        return f"`{shlex.join(words)}`"
    typed = [w for given in typed_globals(cmdline.ARGS) for w in given]
    return " ".join(shlex.quote(w) if w != POD_PLACEHOLDER else w for w in [words[0], *typed, *words[1:]])


def _agent_pod(namespace: Optional[str]) -> tuple[list[str], str]:
    """(`--pod NAME -n NS`: the first agent pod of the cluster the typed line configures
    (--kubeconfig, --context, $KUBECONFIG), asked for at most COMPLETION_LOOKUP_TIMEOUT_S
    (the line did not parse: a hint, never a hang), with ""; else, when it does not answer
    by then or has none, `--pod POD -n NS` (``namespace`` typed, else kmesh's) with the
    note naming the kubectl line that lists them. ([], "") with no cluster configured: a
    dump command then reads this machine's agent, as it does given no --pod.)"""
    from kmeshctl import config_dump
    from kmeshctl.istiod import ask_quickly
    from kmeshctl.params import COMPLETION_LOOKUP_TIMEOUT_S

    if not _cluster_configured():
        return [], ""
    target = typed_target(cmdline.ARGS)
    agents, _ = ask_quickly(target.kubeconfig, target.context, COMPLETION_LOOKUP_TIMEOUT_S,
                             config_dump.agent_pod_refs, "asking for the kmesh agent pods")
    if agents:
        agent_namespace, _, agent = agents[0].partition("/")
        return ["--pod", agent, "-n", agent_namespace], ""
    namespace = namespace or config_dump.AGENT_NAMESPACE
    return (["--pod", POD_PLACEHOLDER, "-n", namespace],
            f"; POD is a kmesh agent pod of the cluster: `kubectl get pods -n {namespace} -l "
            f"{config_dump.agent_selector()}` lists them")


def _without_needing(words: tuple[str, ...], command: _click.Command, kept: list[str]
                     ) -> tuple[list[str], dict[str, str]]:
    """(``kept``, flags with their values that ``command`` takes, less those it takes only
    with another flag not among them (FLAG_NEEDS: `dump config -n` needs --pod); {each
    flag left out: the flag it needs})."""
    out: list[str] = []
    needing: dict[str, str] = {}
    i = 0
    while i < len(kept):
        flag = kept[i].partition("=")[0]
        option = option_spelled(command, flag)
        count = 2 if option is not None and takes_value(option) and "=" not in kept[i] else 1
        other = FLAG_NEEDS.get((words, getattr(option, "name", None)))
        if other is not None and not any(spelled(k, {other.split()[0]}) for k in kept):
            needing[flag] = other
        else:
            out += kept[i:i + count]
        i += count
    return out, needing


# istioctl's `waypoint apply` flags kmeshctl's waypoint apply does not take: --for (the
# Gateway's istio.io/waypoint-for; kmeshctl's waypoint takes Service traffic, always) and
# --enroll-namespace (it labels the namespace; kmeshctl labels nothing).
WAYPOINT_HABITS = {
    "--for": "kmeshctl's waypoint always takes Service traffic (its Gateway carries istio.io/waypoint-for: "
             "service; no workload, all or none form)",
    "--enroll-namespace": "waypoint apply labels no namespace (istioctl's --enroll-namespace)",
}


def waypoint_habit_hint(flag: str, args: list[str]) -> str:
    """`; waypoint apply labels no namespace (...): leave it out, `kmeshctl waypoint apply
    --name wp`, and opt the namespace in with `kubectl label namespace default
    istio.io/use-waypoint=wp``: every istioctl flag of ``args`` left out at once, and the
    label line built from the values the kmeshctl line ends up with once mended (the
    namespace the waypoint goes in, its mended name)."""
    typed = [habit for habit in WAYPOINT_HABITS if _typed(args, habit)] or [flag]
    rest = _enroll_word_as_namespace(list(args)) if "--enroll-namespace" in typed else list(args)
    for habit in typed:
        rest = without_flag(rest, habit, habit == "--for")
    line = ["kmeshctl", *rest]
    namespace, name, made = _waypoint_made(line)
    reasons = [WAYPOINT_HABITS[flag], *(WAYPOINT_HABITS[h] for h in typed if h != flag)]
    leave = "it" if typed == [flag] else " and ".join(typed)
    said = f"; {'; and '.join(reasons)}: leave {leave} out, `{shlex.join(line)}`"
    from kmeshctl.cli.suggestions import dry_run_typed, example_namespace, example_values, kubectl_line

    if cmdline.INVOKED and example_values(made, cmdline.INVOKED[0].command, said):
        # a name made up for one refused (`w-1a` for 1a): no label (nor line) carries it
        name = "NAME (the --name you give the waypoint)"
    if "--enroll-namespace" not in typed:
        return f"{said}, and opt Services (or their namespace) in with the label istio.io/use-waypoint={name}"
    if cmdline.INVOKED and (example_namespace(made, cmdline.INVOKED[0].command) or name.startswith("NAME ")):
        # no label line for a namespace or a name that is only an example (the kmeshctl line is not offered either)
        return f"{said}, and opt the namespace in with the label istio.io/use-waypoint={name}"

    # a dry run typed: the label's line is one too (kmeshctl's --dry-run is the API server's)
    kubectl = kubectl_line(["label", "namespace", namespace, f"istio.io/use-waypoint={name}"],
                           typed_value(rest, "--kubeconfig"), typed_value(rest, "--context"),
                           ["--dry-run=server"] if dry_run_typed(rest) else [])
    placeholder = " (NAMESPACE: the one the waypoint goes in)" if namespace == "NAMESPACE" else ""
    return f"{said}, and opt the namespace in with `{kubectl}`{placeholder}"


def _typed(args: list[str], flag: str) -> bool:
    end = separator_at(args)
    return any(word == flag or word.startswith(f"{flag}=") for word in args[:end])


def _enroll_word_as_namespace(args: list[str]) -> list[str]:
    """`--enroll-namespace default` (read as istioctl's flag given the namespace): the word
    as `-n default` when no -n is typed, dropped when -n names it already."""
    if "--enroll-namespace" not in args[:separator_at(args)]:
        return args
    at = args.index("--enroll-namespace")
    word = args[at + 1] if at + 1 < separator_at(args) else None
    if word is None or word.startswith("-") or word.lower() in TRUE_FALSE_WORDS:
        return args
    namespace = typed_value(args, "-n", "--namespace")
    if namespace not in (None, word):
        return args
    return [*args[:at + 1], *args[at + 2:], *([] if namespace else ["-n", word])]


def _waypoint_made(line: list[str]) -> tuple[str, str, list[str]]:
    """(namespace, name, the line mended) of the waypoint ``line`` makes once its values
    are mended (suggestions.parseable): its -n, else the namespace the kubeconfig gives
    (`NAMESPACE` when that is no namespace name); its --name, else waypoint."""
    from kmeshctl.cli.badinput import _default_namespace
    from kmeshctl.cli.suggestions import parseable

    words = line
    if cmdline.INVOKED:
        mended = parseable(f"`{shlex.join(line)}`", cmdline.INVOKED[0].command, offered=False).split("`")
        try:
            words = shlex.split(mended[1]) if len(mended) > 2 else line
        except ValueError:
            words = line
    rest = words[1:]
    namespace = typed_value(rest, "-n", "--namespace") or _default_namespace(rest)
    return namespace, typed_value(rest, "--name") or "waypoint", words
