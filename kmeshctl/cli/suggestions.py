"""Suggested fixes that work when pasted: a `kmeshctl ...` (or `kubectl ...`) command
quoted in backticks in a message gets the flags the user gave (--name, --namespace,
--kubeconfig, ...) when it takes them too; a message names each flag as the user typed
it, and a value that came from an environment variable as that variable."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

from typer import _click
from typer._click.core import ParameterSource

from kmeshctl import kube
from kmeshctl.cli import cmdline
from kmeshctl.cli.badinput import name_typed_flags, source_name, typed_flag, typed_value
from kmeshctl.cli.cmdline import resolve, spelled
from kmeshctl.errors import KmeshctlError, UsageError, spoken_list

# Flags that choose *what* a command acts on: a suggested command keeps them.
CARRIED_FLAGS = ("kubeconfig", "context", "request_timeout", "name", "sandbox", "namespace", "istio_namespace",
                 "bpf_fs")
CLUSTER_FLAGS = ("kubeconfig", "context", "request_timeout")  # which cluster and how long to wait for it

SUGGESTED = re.compile(r"`((?:kmeshctl|kubectl)(?: [^`]*)?)`")


def given_flags() -> dict[str, tuple[str, str]]:
    """{param name: (long flag, value)} of the carried flags the user typed on the
    command being run (command line only: an environment variable still applies when the
    suggestion is pasted into the same shell)."""
    found: dict[str, tuple[str, str]] = {}
    for ctx in cmdline.INVOKED:
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
    for ctx in reversed(cmdline.INVOKED):
        for param in ctx.command.params:
            if param.name == param_name:
                return typed_flag(param, cmdline.ARGS)
    return "--" + param_name.replace("_", "-")


def given_as(param_name: str) -> str:
    """How the value of ``param_name`` was given on the command being run, for a message
    about it: `$XDS_ADDRESS` when it came from that variable, else the flag as typed."""
    for ctx in reversed(cmdline.INVOKED):
        for param in ctx.command.params:
            if param.name == param_name:
                return source_name(ctx, param, cmdline.ARGS)
    return flag_as_typed(param_name)


def given_on_command_line(param_name: str) -> bool:
    """The user gave ``param_name`` (flag or environment), rather than leaving the default."""
    for ctx in reversed(cmdline.INVOKED):
        if param_name in ctx.params:
            source = ctx.get_parameter_source(param_name)
            return source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    return False


def name_env_sources(message: str) -> str:
    """`--name x: ...` -> `$KMESHCTL_SANDBOX_NAME=x: ...` when x came from that variable:
    the user did not type --name, so a message naming it would send them looking for it."""
    for ctx in cmdline.INVOKED:
        for param in ctx.command.params:
            envvar = param.envvar if isinstance(param.envvar, str) else next(iter(param.envvar or ()), None)
            value = _env_value(ctx, param, envvar)
            if envvar and value is not None:
                from kmeshctl.params import shown

                for opt in param.opts:
                    message = _outside_backticks(message, f"{opt} {shown(value)}", f"${envvar}={shown(value)}")
                    message = _outside_backticks(message, f"{opt} {value}", f"${envvar}={value}")
                if f"${envvar}" not in message:
                    message = _mark_source(message, str(value), envvar, param.opts)
    return message


def _env_value(ctx: _click.Context, param: _click.Parameter, envvar: Optional[str]) -> Any:
    """The value ``param`` of ``ctx`` took from ``envvar``; None when it took none. A line
    refused before ``ctx`` read its flags (`status -q=1`: the root's check of the whole
    line) reads it as it would: the variable's, when no spelling of the flag is typed."""
    if not param.name or not envvar:
        return None
    source = ctx.get_parameter_source(param.name)
    if source is not None:
        return ctx.params.get(param.name) if source == ParameterSource.ENVIRONMENT else None
    typed = any(typed_value(cmdline.ARGS, opt) is not None for opt in param.opts)
    return os.environ.get(envvar) or None if not typed and not getattr(param, "is_flag", False) else None


_FLAG_BEFORE = re.compile(r"(?:^|\s)(-{1,2}[A-Za-z][\w-]*)[ =]$")


def _mark_source(message: str, value: str, envvar: str, opts: Any = ()) -> str:
    """`cannot load kubeconfig: /x does not exist` -> `... /x (from $KUBECONFIG) does not
    exist`: the first mention of the value (or of one entry of a path list) in the prose
    that is this parameter's: never the same text given to another flag (`--crd-file /x`)."""
    import os

    if f"${envvar}" in message:  # it names the variable itself (`none of the $KUBECONFIG files exist`)
        return message
    from kmeshctl.params import shown

    entries = [e for e in value.split(os.pathsep) if e]
    # quoted first (`'/a b'`, as messages show a value: kmeshctl.params.shown): the mark goes after the quote
    for word in dict.fromkeys([shown(value), value, ", ".join(map(shown, entries)), ", ".join(entries),
                               *map(shown, entries), *entries]):
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
    command, used = resolve(root, words)
    if command is None:
        return suggestion
    accepted = {p.name: p for p in command.params}
    global_part: list[str] = []
    local_part: list[str] = []
    for name, (flag, value) in given_flags().items():
        spellings = {flag, *(accepted[name].opts if name in accepted else ())}
        if any(spelled(w, spellings) for w in words):
            continue  # the suggestion names it already (-n, --namespace, -nX, --namespace=X)
        if name == "namespace" and any(w in ("-A", "--all-namespaces") for w in words):
            continue  # every namespace already: -n with -A is refused
        if name in ("bpf_fs", "admin_port") and any(spelled(w, {"--sandbox", "--name"}) for w in words):
            continue  # --sandbox names the place itself: with --bpf-fs or --admin-port it is refused
        if name == "namespace" and namespace_meaning(words[:used]) != namespace_meaning(_running_path()):
            continue  # kmesh's own namespace (install, status) is not the namespace of a waypoint
        if name in ("name", "sandbox") and _target_of(words) == "cluster":
            continue  # the demo on a cluster: a sandbox flag beside it is refused
        if words[:1] == ["dump"] and _dump_refuses(name, words):
            continue
        if name in CLUSTER_FLAGS:
            if words and words[0] in LOCAL_GROUPS or _target_of(words) == "local":
                continue  # a local command: a cluster flag would only be noise (or a bad context)
            global_part += [flag, value]
        elif name in accepted:
            local_part += [flag, value]
    if not global_part and not local_part:
        return suggestion
    return shlex.join(["kmeshctl", *global_part, *words[:used], *local_part, *words[used:]])


def _dump_refuses(name: str, words: list[str]) -> bool:
    """Whether the dump line ``words`` refuses flag ``name`` given to it: --pod asks a
    cluster's agent, with no local place beside it; -n is only the namespace of --pod's."""
    pod = any(spelled(w, {"--pod"}) for w in words[:cmdline.separator_at(words)])
    return name in ("name", "sandbox", "bpf_fs") and pod or name == "namespace" and not pod


def _target_of(words: list[str]) -> str:
    """The --target a line names (`--target local`: it runs on this machine, so it carries
    no cluster flag; `cluster`: no sandbox flag); "" when none."""
    return typed_value(words[:cmdline.separator_at(words)], "--target") or ""


def existing_kubeconfig(missing: Sequence[str] = ()) -> str:
    """A kubeconfig file on this machine a line may name instead of one that does not load:
    $KUBECONFIG's first file that exists, else ~/.kube/config when it does; never one of
    ``missing``; "" when there is none (a path that is not there would not paste)."""
    from kmeshctl.kube import DEFAULT_KUBECONFIG

    candidates = [*(f for f in os.environ.get("KUBECONFIG", "").split(os.pathsep) if f),
                  os.path.expanduser(DEFAULT_KUBECONFIG)]
    return next((f for f in candidates if f not in missing and os.path.isfile(f)), "")


def kubeconfig_fix_line(message: str) -> str:
    """``message`` with kube.KUBECONFIG_FIX (`pass --kubeconfig PATH of an existing
    kubeconfig file`) made a line to paste: the command run, every word typed kept,
    with --kubeconfig of an existing kubeconfig (existing_kubeconfig) in place of the one
    typed (or given by $KUBECONFIG); as it is when this machine has none."""
    from kmeshctl.kube import KUBECONFIG_FIX

    if KUBECONFIG_FIX not in message or not cmdline.ARGS or f"{KUBECONFIG_FIX}: `" in message:
        return message
    from kmeshctl.kube import comma_list

    typed = typed_value(cmdline.ARGS, "--kubeconfig")
    listed = typed if typed and os.pathsep in typed and all(  # `--kubeconfig a:b`: $KUBECONFIG's list
        os.path.isfile(os.path.expanduser(f)) for f in typed.split(os.pathsep)) else ""
    found = comma_list(typed or "") or listed or \
        existing_kubeconfig([typed or "", *os.environ.get("KUBECONFIG", "").split(os.pathsep)])
    if not found:
        return message
    words = list(cmdline.ARGS)
    if typed is not None and os.pathsep in found:  # a list is $KUBECONFIG's: --kubeconfig takes one file
        rest = cmdline.without_flag(words, "--kubeconfig")
        line = f"KUBECONFIG={shlex.quote(found)} {shlex.join(['kmeshctl', *rest])}"
        return message.replace(KUBECONFIG_FIX, f"{KUBECONFIG_FIX}, or list them in $KUBECONFIG: `{line}`", 1)
    words = cmdline.with_flag_value(words, "--kubeconfig", found) if typed is not None else ["--kubeconfig", found, *words]
    return message.replace(KUBECONFIG_FIX, f"{KUBECONFIG_FIX}, e.g. `{shlex.join(['kmeshctl', *words])}`", 1)


# `--weights 90,10: ...; did you mean --weights 90/10?` or `-n 10: ..., e.g. -c 10` (the value
# typed, for another flag): a value (and its flag) a message offers with no line.
_GIVEN = r"^(?P<flag>--?[\w-]+)[ =](?P<value>'[^']*'|\S+?): "  # a value with a space is shown quoted
_MEANT_VALUE = (re.compile(_GIVEN + r".*?did you mean (?P<to>--?[\w-]+)[ =](?P<meant>[^\s?`]+)\?(?! ?`)"),
                re.compile(_GIVEN + r".*?, e\.g\. (?P<to>--?[\w-]+) (?P<meant>[^\s`();,]+)(?=[\s();,]|$)"),
                # `-n kube-system: reserved ...; use a dedicated one (default kmesh-system)`: the default's line
                re.compile(_GIVEN + r".*?; use a dedicated one \(default (?P<meant>[\w.-]+)\)"))


def meant_value_line(message: str, root: Optional[_click.Command] = None) -> str:
    """``message`` (`FLAG VALUE: ...`) with the value it offers for FLAG (`did you mean
    --weights 90/10?`, `e.g. -c 10` for `-n 10`) followed by the whole line typed so
    mended, every other word kept, when that line parses; as it is otherwise (a line
    offered already, a value not typed on the line, an example value that is no fix)."""
    from kmeshctl.cli.badinput import line_works

    if root is None and cmdline.INVOKED:
        root = cmdline.INVOKED[0].command
    for pattern in _MEANT_VALUE:
        found = pattern.search(message)
        if found is None or root is None or "`kmeshctl " in message:
            continue
        if pattern is _MEANT_VALUE[1] and (found["to"] == found["flag"] or found["meant"] != found["value"]
                                           and not _count_raised(found["value"], found["meant"])):
            continue  # an example value (`e.g. --weights 90/10` for 90,20), no fix: only the value typed, moved
        to = found.groupdict().get("to") or found["flag"]
        value = found["value"][1:-1] if found["value"][:1] == "'" else found["value"]  # as typed, unquoted
        words = _given_as(list(cmdline.ARGS), found["flag"], value, to, found["meant"])
        if words is None or not line_works(["kmeshctl", *words], root):
            continue
        at = found.end()
        joint = " " if message[at - 1] == "?" else ": "
        return f"{message[:at]}{joint}`{shlex.join(['kmeshctl', *words])}`{message[at:]}"
    return message


def _count_raised(value: str, meant: str) -> bool:
    """`-n 10` offered as `-c 12`: the count typed, raised to the least that works."""
    return value.isdigit() and meant.isdigit() and int(meant) > int(value)


def _given_as(words: list[str], flag: str, value: str, to: str, meant: str) -> Optional[list[str]]:
    """``words`` with ``flag`` ``value`` (as typed: `FLAG V`, `FLAG=V`) given as ``to``
    ``meant`` instead; None when the line does not give it so."""
    end = cmdline.separator_at(words)
    for i, word in enumerate(words[:end]):
        if word == flag and i + 1 < end and words[i + 1] == value:
            return [*words[:i], to, meant, *words[i + 2:]]
        if word == f"{flag}={value}":
            return [*words[:i], f"{to}={meant}" if to == flag else to, *([] if to == flag else [meant]),
                    *words[i + 1:]]
    return None


# `pass -n team-a, or ...`: a namespace a message offers (kube's for a context's bad namespace) with no line
_PASS_NAMESPACE = re.compile(r"\bpass -n (?P<value>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?=[,;)]|$)")


def namespace_fix_line(message: str, root: Optional[_click.Command]) -> str:
    """``message`` with its `pass -n team-a` followed by the line typed with that -n added
    (`pass -n team-a: `kmeshctl waypoint list --context 'My Ctx' -n team-a``), when the
    line typed gives no -n and so mended parses; as it is otherwise."""
    from kmeshctl.cli.badinput import line_works

    found = _PASS_NAMESPACE.search(message)
    args = list(cmdline.ARGS)
    end = cmdline.separator_at(args)
    if found is None or root is None or not args or any(spelled(w, {"-n", "--namespace"}) for w in args[:end]):
        return message
    words = ["kmeshctl", *args[:end], "-n", found["value"], *args[end:]]
    if not line_works(words, root):
        return message
    return f"{message[:found.end()]}: `{shlex.join(words)}`{message[found.end():]}"


CONTEXT_FIX = kube.CONTEXT_FIX  # kube's unknown-context fix


def context_meant(value: str, names: Sequence[str]) -> Optional[str]:
    """The one context of ``names`` ``value`` is a slip of (kube.context_meant: case, spaces)."""
    return kube.context_meant(value, names)


def context_fix_line(message: str) -> str:
    """``message`` with CONTEXT_FIX made a did-you-mean and the line to paste (the words
    typed, --context the context the one typed is a slip of; none typed: the kubeconfig's
    current-context is, and --context is added): `--context CTX1: no such context ...
    (contexts: ctx1, ctx2); did you mean ctx1? `kmeshctl version --context ctx1``; as it
    is when no context is that close."""
    from kmeshctl.cli.option_hints import typed_contexts

    if CONTEXT_FIX not in message or f"{CONTEXT_FIX}: `" in message:
        return message
    typed = typed_value(cmdline.ARGS, "--context")
    slipped = typed or kube.current_context_name(typed_value(cmdline.ARGS, "--kubeconfig"))
    names = typed_contexts()[1]
    meant = context_meant(slipped, names) if slipped else names[0] if len(names) == 1 else None  # none current
    if meant is None:
        return message
    words = (cmdline.with_flag_value(list(cmdline.ARGS), "--context", meant) if typed
             else _with_context(list(cmdline.ARGS), meant))
    said = f"did you mean {shlex.quote(meant)}?" if slipped else f"pass --context {shlex.quote(meant)}:"
    return message.replace(CONTEXT_FIX, f"{said} `{shlex.join(['kmeshctl', *words])}`", 1)


# the most contexts given a line each when none is meant (a kubeconfig may hold dozens)
_CONTEXT_CHOICES = 4


def context_choice_lines(message: str, root: _click.Command) -> str:
    """``message`` with CONTEXT_FIX, when no context was typed and none is meant (no
    current-context, or one close to none of the contexts), followed by the line typed
    with each context of its kubeconfig that works (its other bad values mended): `pass
    --context with one of them: `kmeshctl --context a status` or `kmeshctl --context b
    status``. A line that changes things gets none: which cluster is the user's to pick."""
    from kmeshctl.cli.badinput import line_works, mended_lines
    from kmeshctl.cli.option_hints import typed_contexts

    if CONTEXT_FIX not in message or f"{CONTEXT_FIX}: `" in message or \
            typed_value(cmdline.ARGS, "--context") is not None or \
            _changing_command(["kmeshctl", *cmdline.ARGS], root) is not None:
        return message
    names = typed_contexts()[1]
    lines = []
    for name in names[:_CONTEXT_CHOICES]:
        words = ["kmeshctl", *_with_context(list(cmdline.ARGS), name)]
        works = [words] if line_works(words, root) else mended_lines(words, root)
        lines += [f"`{shlex.join(works[0])}`"] if len(works) == 1 else []
    if len(lines) < min(len(names), _CONTEXT_CHOICES):
        return message  # a context whose line does not work: the one typed has what no check mends
    more = " (or the same with another of them)" if len(names) > _CONTEXT_CHOICES else ""
    return message.replace(CONTEXT_FIX, f"{CONTEXT_FIX}: {spoken_list(lines, 'or')}{more}", 1)


def _with_context(args: list[str], context: str) -> list[str]:
    """``args`` with `--context CONTEXT` after the --kubeconfig typed before the command, else first."""
    at = 2 if args[:1] == ["--kubeconfig"] else 1 if args[:1] and args[0].startswith("--kubeconfig=") else 0
    return [*args[:at], "--context", context, *args[at:]]


# Commands whose -n/--namespace is kmesh's own install namespace (default kmesh-system, as
# istioctl's and cilium's system namespace); every other -n is the namespace of the
# objects the command acts on (default: the kubeconfig context's namespace).
SYSTEM_NAMESPACE_COMMANDS = frozenset({("install",), ("uninstall",), ("precheck",), ("status",), ("version",),
                                       ("render",), ("dump", "maps"), ("dump", "config")})


def namespace_meaning(words: "list[str] | tuple[str, ...]") -> str:
    """"system" when -n of the command ``words`` names kmesh's namespace, else "objects"."""
    return "system" if tuple(words) in SYSTEM_NAMESPACE_COMMANDS else "objects"


# Flags of different spellings that name the same thing, (command words, flag) -> that thing;
# any other flag names what only its own spelling does: `status --istio-namespace X` is
# never offered as --namespace X (kmesh's namespace, another target), while node run's
# --pod-namespace (the agent's namespace) is status's --namespace.
SAME_THINGS = {
    (("node", "run"), "--pod-namespace"): "kmesh's namespace",
    (("node", "run"), "--pod-name"): "a node agent pod",
    (("dump", "maps"), "--pod"): "a node agent pod",
    (("dump", "config"), "--pod"): "a node agent pod",
    (("waypoint", "envoy"), "--admin-port"): "Envoy's admin port",
    (("waypoint", "controller"), "--envoy-admin-port"): "Envoy's admin port",
    (("sandbox", "down"), "--all"): "every one",
    (("waypoint", "list"), "--all-namespaces"): "every one",
}


def flag_meaning(words: "list[str] | tuple[str, ...]", flag: str) -> str:
    """What the long ``flag`` of the command ``words`` names: SAME_THINGS' word, kmesh's
    namespace for a system command's --namespace, else the flag itself."""
    if flag == "--namespace" and namespace_meaning(words) == "system":
        return "kmesh's namespace"
    return SAME_THINGS.get((tuple(words), flag), flag)


def _running_path() -> list[str]:
    """The words of the command being run (`waypoint status`)."""
    return [ctx.info_name or "" for ctx in cmdline.INVOKED[1:]]


def _kubectl_with_given_flags(suggestion: str, words: list[str]) -> str:
    """A suggested kubectl command talks to the same cluster: the user's --kubeconfig and
    --context (kubectl spells them alike) go with it (a kubeconfig list: kubectl_line)."""
    extra: list[str] = []
    for name in CLUSTER_FLAGS:
        flag, value = given_flags().get(name, (None, None))
        if flag and not any(w == flag or w.startswith(flag + "=") for w in words):
            extra += [flag, value]
    if not extra:
        return suggestion
    given = dict(zip(extra[::2], extra[1::2]))
    return kubectl_line(words, given.pop("--kubeconfig", None), given.get("--context"),
                        [w for flag, value in given.items() if flag != "--context" for w in (flag, value)])


def kubectl_line(words: list[str], kubeconfig: Optional[str], context: Optional[str], more: Sequence[str] = ()) -> str:
    """`kubectl WORDS --kubeconfig F --context C` for the cluster flags typed (None: not
    typed; ``more``: other flags after them). A kubeconfig list (`a:b`) is no --kubeconfig
    of kubectl's (it takes one file): the line runs with it as $KUBECONFIG, as kubectl merges it."""
    flags = [*(["--kubeconfig", kubeconfig] if kubeconfig and os.pathsep not in kubeconfig else []),
             *(["--context", context] if context else []), *more]
    line = shlex.join(["kubectl", *words, *flags])
    return f"KUBECONFIG={shlex.quote(kubeconfig)} {line}" if kubeconfig and os.pathsep in kubeconfig else line


def paste_ready(message: str, root: _click.Command) -> str:
    """Every backticked `kmeshctl ...` command of ``message`` with the user's flags."""
    return SUGGESTED.sub(lambda m: f"`{with_given_flags(m.group(1), root)}`", message)


def as_the_user_reads(message: str, root: _click.Command) -> str:
    """The one rewrite of every message kmeshctl shows (an error line, a JSON error
    field, a table cell's detail): flags named as typed, a value that came from a
    variable named so (`(from $KUBECONFIG)`), and each suggested kmeshctl / kubectl
    command carrying the user's --kubeconfig / --context and other flags it takes."""
    message = context_choice_lines(context_fix_line(kubeconfig_fix_line(name_env_sources(name_typed_flags(
        message, cmdline.INVOKED, cmdline.ARGS)))), root)
    # the lines added last have every flag typed already
    return namespace_fix_line(meant_value_line(paste_ready(message, root), root), root)


def with_sandbox_name(line: list[str], name: Optional[str] = None) -> tuple[list[str], str]:
    """(``line``, a sandbox command given no --name (`kmeshctl sandbox status -o wide`),
    with `--name NAME` when it needs one to be accepted pasted; the note naming the
    others, ` (sandboxes: a, b)`, or ""). The name is ``name`` (typed) when given; else,
    with several sandboxes up and $KMESHCTL_SANDBOX_NAME naming none, the first ready
    one. One sandbox, or none: the command picks it (or says none is up) by itself."""
    from kmeshctl import sandboxes

    if any(spelled(w, {"--name", "--sandbox"}) for w in line):
        return line, ""
    if name:
        return [*line, "--name", name], ""
    found = sandboxes.names()  # as sandboxes.pick counts them: a failed `up`'s logs are none
    if len(found) < 2 or os.environ.get(sandboxes.NAME_ENV) in found:  # pasted here, it takes that one
        return line, ""
    ready = [n for n, phase in sandboxes.existing().items() if n in found and phase == sandboxes.PHASE_READY]
    return [*line, "--name", (ready or found)[0]], f" (sandboxes: {', '.join(found)})"


SUGGEST_CLOSENESS = 0.75  # difflib ratio of the names without dashes: a typo, not a look-alike


# Words that end the kmeshctl part of a suggested line (`kmeshctl render ... | kubectl apply -f -`).
SHELL_OPERATORS = frozenset({"|", "||", "&&", ";", "&", ">", ">>", "<", "2>&1", "2>/dev/null"})


def parseable(message: str, root: _click.Command, offered: bool = True) -> str:
    """``message`` with each backticked `kmeshctl COMMAND ...` reduced to a line COMMAND
    accepts (parseable_words): a hint built from the words typed fixes one mistake, and the
    line pasted must not fail on the next. The words left out are named in the prose
    (`leave --force and --grace-period 0 out`), a word given a flag too. ``offered``: less
    the lines that must not be offered (a real run for a dry run typed, an example
    namespace), each real run said so; without it, every line mended (what a hint builds on)."""
    parts = message.split("`")
    for i in range(1, len(parts) - 1, 2):  # a lone backtick (an echoed value) closes no line
        try:
            words = shlex.split(parts[i])
        except ValueError:
            continue
        if words[:1] != ["kmeshctl"]:
            continue
        kept, dropped, flagged = parseable_words(words, root)
        if kept == words:  # f41a: a value the line's own checks refuse (`enable-ns Team-A`), mended when they say how
            mended = _values_mended(words, root)
            parts[i] = mended or parts[i]
            if not mended:  # a bad value no check can mend is said now, not when the line is pasted
                still = _still_needed(words, root, given_only=True)
                parts[i + 1] = (still or required_left(parts[i], root, parts[i + 1])) + parts[i + 1]
            else:
                parts[i], note = _conflicts_noted(words, mended, _context_note(words, mended) +
                                                  required_left(mended, root, parts[i + 1]))
                parts[i + 1] = note + parts[i + 1]
        if kept != words and not _safe_to_drop(dropped, flagged, words):
            read = _strays_read(words, dropped, root)  # `status Kmesh-X`: its own reading, --namespace kmesh-x
            if read is not None:
                parts[i], note = read
                parts[i + 1] = note + required_left(parts[i], root, parts[i + 1]) + parts[i + 1]
                continue
            parts[i + 1] = _strays_kept(words, dropped, root) + parts[i + 1]
        if kept == words or not _safe_to_drop(dropped, flagged, words):
            continue
        parts[i] = " ".join(w if w in SHELL_OPERATORS else shlex.quote(w) for w in kept)
        mended = _values_mended(kept, root)  # a value its checks refuse (`Default`), mended too when they say how
        parts[i] = mended or parts[i]
        if mended:
            parts[i], note = _conflicts_noted(kept, mended, required_left(mended, root, parts[i + 1]))
            parts[i + 1] = note + parts[i + 1]
        path = " ".join(_command_path(root, kept))
        still = "" if mended else _still_needed(kept, root, given_only=True) or \
            required_left(parts[i], root, parts[i + 1])  # what it leaves out, said as required
        flagged = [_as_typed(word, given, kept) for word, given in flagged]
        parts[i - 1], parts[i + 1] = _said_dropped(parts[i - 1], still + parts[i + 1], dropped, flagged, path)
    told = "`".join(parts)
    if not offered:
        return told
    return real_run_said(no_example_namespace_run(no_real_run_offered(idle_left_out(told, root), root), root), root)


def _backticked_words(parts: list[str]) -> Iterator[tuple[int, list[str]]]:
    """(index, words) of each backticked piece of ``parts`` (a message split at "`") that
    splits as shell words; one that does not (an unmatched quote) is skipped."""
    for i in range(1, len(parts) - 1, 2):
        try:
            yield i, shlex.split(parts[i])
        except ValueError:
            continue


def idle_left_out(message: str, root: _click.Command) -> str:
    """``message`` with each `kmeshctl ...` line that keeps --dry-run less the flags that do
    nothing with it (conventions.NEEDS_ON: --timeout bounds a wait a dry run never has; the
    line pasted would warn), each said: `(--timeout 60s left out: no effect with --dry-run)`."""
    from kmeshctl.cli.conventions import NEEDS_ON

    parts = message.split("`")
    for i, words in _backticked_words(parts):
        end = cmdline.separator_at(words)
        if words[:1] != ["kmeshctl"] or not dry_run_typed(words[:end]) or any(w in SHELL_OPERATORS for w in words):
            continue  # a pipeline is left as it is
        command, _ = resolve(root, _command_path(root, words)[1:])
        idle = {pair[0] for pair in NEEDS_ON}
        kept, left, k = [], [], 0
        while k < len(words):
            param = cmdline.option_spelled(command, words[k].partition("=")[0]) \
                if 0 < k < end and words[k].startswith("-") and command is not None else None
            if param is not None and param.name in idle:
                size = 1 if "=" in words[k] or k + 1 >= end else 2
                left.append(shlex.join(words[k:k + size]))
                k += size
                continue
            kept.append(words[k])
            k += 1
        words = kept
        if left:
            parts[i] = shlex.join(words)
            parts[i + 1] = f" ({spoken_list(left)} left out: no effect with --dry-run){parts[i + 1]}"
    return "`".join(parts)


# A --dry-run typed (any form): `--dry-run=none` / `=false` asks for none
_NO_DRY_RUN_VALUES = frozenset({"none", "false", "0", "no", "off", "f", "n"})


def typed_words() -> list[str]:
    """The words typed after `kmeshctl`: as given (cmdline.TYPED, set first: a refusal may come
    before cmdline.ARGS is), else cmdline.ARGS."""
    return list(cmdline.TYPED or cmdline.ARGS)


def dry_run_typed(words: Sequence[str]) -> bool:
    """Whether ``words`` give a dry run: `--dry-run`, `--dry-run=client|server|...`, before or
    after `--` (a word the user meant as the flag all the same)."""
    following = [*words[1:], ""]
    return any(w == "--dry-run" and following[i].lower() not in _NO_DRY_RUN_VALUES or  # `--dry-run none`: none
               w.startswith("--dry-run=") and w.partition("=")[2].lower() not in _NO_DRY_RUN_VALUES
               for i, w in enumerate(words))


def runs_for_real(words: list[str], root: _click.Command) -> bool:
    """Whether the `kmeshctl ...` line ``words``, offered to a user who typed --dry-run,
    would change things: it gives no dry run itself and its command is not one that only
    reads (option_hints.READ_ONLY); a help line, a group or no command only prints."""
    from kmeshctl.cli.option_hints import READ_ONLY

    if not dry_run_typed(typed_words()) or dry_run_typed(words) or \
            any(w in (*cmdline.HELP_FLAGS, "--version") for w in words[:cmdline.separator_at(words)]):
        return False
    path = _command_path(root, words)[1:]
    command, _ = resolve(root, path)
    return command is not None and not hasattr(command, "commands") and " ".join(path) not in READ_ONLY


# What leads to a line left out (`; every value mended: `, `: e.g. `, `without it, `) and the
# notes after it (`(leave --dry-run out too: ...)`), which go with it; the help pointer stays
_LEADING_TO_LINE = re.compile(r"(?:;\s*every value mended[^;`]*|,?\s*\b(?:e\.g\.|without it|or|and))?[\s,:]*$")
_NOTES_OF_LINE = re.compile(r"^(?:\s*\((?!see ')(?:[^()]|\((?:[^()]|\([^()]*\))*\))*\))*(?:\s*or(?=\s))?")
_LAST_OF_LIST = re.compile(r"`, (`kmeshctl [^`]*`)(?!,| or)")
_HELP_POINTER = re.compile(r" \(see '[^']*'\)$")


def no_real_run_offered(message: str, root: _click.Command) -> str:
    """``message`` without the `kmeshctl ...` lines that would change things for a user who
    typed --dry-run (runs_for_real: a hint that drops a --dry-run the command does not take
    runs the real thing), the words leading to them with them; and, when one went, what the
    command typed does instead of a dry run (option_hints.no_dry_run_said)."""
    if not dry_run_typed(typed_words()):
        return message
    head, tail, removed = _lines_left_out(message, lambda words: runs_for_real(words, root))
    if not removed:
        return message
    if "has no dry run" not in head:
        from kmeshctl.cli.option_hints import no_dry_run_said

        head += f"; {_typed_cluster_flags(no_dry_run_said(root), root)}"
    return head + tail


# What a line of a command with a dry run does when given none (`--dry-run=false` asks for that)
REAL_RUN = {"install": "installs", "uninstall": "uninstalls", "waypoint apply": "applies", "waypoint delete": "deletes"}


def real_run_said(message: str, root: _click.Command) -> str:
    """``message`` with ` (this line uninstalls for real)` after each `kmeshctl ...` line
    that changes things, for a user who typed a --dry-run that asks for none
    (`--dry-run=false`, `--dry-run none`): the line is what was asked, said so."""
    typed = typed_words()
    if dry_run_typed(typed) or not any(spelled(w, {"--dry-run"}) for w in typed):
        return message
    from kmeshctl.cli.command_hints import CHANGES

    parts = message.split("`")
    for i, words in _backticked_words(parts):
        name = " ".join(_command_path(root, words)[1:]) if words[:1] == ["kmeshctl"] else ""
        helps = any(w in cmdline.HELP_FLAGS for w in words[:cmdline.separator_at(words)])  # it only prints
        if name in CHANGES and not helps and not dry_run_typed(words) and not parts[i + 1].startswith(" (this line "):
            done = REAL_RUN.get(name, f"changes {CHANGES[name]}")
            parts[i + 1] = f" (this line {done} for real){parts[i + 1]}"
    return "`".join(parts)


def _lines_left_out(message: str, drop: Callable[[list[str]], bool]) -> tuple[str, str, list[list[str]]]:
    """(``message`` without its `kmeshctl ...` lines that ``drop`` is true of, the words
    leading to them with them, up to its help pointer; that pointer; the lines left out)."""
    parts = message.split("`")
    told, removed = parts[0], []
    for i in range(1, len(parts) - 1, 2):
        try:
            words = shlex.split(parts[i])
        except ValueError:
            words = []
        if words[:1] == ["kmeshctl"] and drop(words):
            removed.append(words)
            if i + 2 < len(parts) - 1 and re.fullmatch(r"\s*(?:or|,)?\s*", parts[i + 1]):
                continue  # `A` or `B`: A and its `or` go, B takes its place
            told = _LEADING_TO_LINE.sub("", told) + _NOTES_OF_LINE.sub("", parts[i + 1])
        else:
            told += f"`{parts[i]}`{parts[i + 1]}"
    if len(parts) % 2 == 0:  # a lone backtick: kept as it was
        told += "`" + parts[-1]
    if not removed:
        return message, "", []
    told = _LAST_OF_LIST.sub(r"` or \1", told)  # `A`, `B` or `C` less C: `A` or `B`
    pointer = _HELP_POINTER.search(told)
    head, tail = (told[:pointer.start()], told[pointer.start():]) if pointer else (told, "")
    return head.rstrip(" ,:;"), tail, removed


def example_namespace(words: list[str], root: _click.Command, message: str = "") -> str:
    """The -n of the `kmeshctl ...` line ``words`` when that line changes things for real
    (no dry run, not READ_ONLY) in a namespace the user did not give: neither a word typed
    (nor what it spells: `-n Default`), nor what the command uses without -n (its default,
    else the kubeconfig context's), nor a did-you-mean of ``message``: an example (`e.g.
    -n default` for a refused -n); "" otherwise."""
    from kmeshctl.cli.names import meant_namespace
    from kmeshctl.cli.option_hints import READ_ONLY

    end = cmdline.separator_at(words)
    value = typed_value(words[:end], "-n", "--namespace") or ""
    path = _command_path(root, words)[1:]
    command, _ = resolve(root, path)
    if not value or dry_run_typed(words) or command is None or hasattr(command, "commands") or \
            " ".join(path) in READ_ONLY or re.search(rf"\bdid you mean (?:-n |--namespace )?{re.escape(value)}\?",
                                                     message):
        return ""
    if re.search(rf"(?<!-)\bnamespaces?:? \(?(?:[\w-]+, )*{re.escape(value)}\b", re.sub(r"`[^`]*`", "", message)):
        return ""  # one the message knows is there (`the demo's objects are in namespace team-a`), no example
    typed = typed_words()
    typed = typed[:cmdline.separator_at(typed)]
    if any(value in (word.lower(), meant_namespace(word), *re.split(r"[/=]", word),
                     *(meant_namespace(part) for part in re.split(r"[/=]", word))) for word in typed):
        return ""  # typed, or spelled by a word typed (`-n Default`, `team-a/wp`, `--enroll-namespace=foo`)
    if re.search(r"\bdid you mean (?:-n|--namespace) [^\s?]+\?", message):
        return value  # another namespace is the one meant (`uninstall Kube_System`: kube-system, refused)
    # the -n typed is this line's only on the command typed (dump's -n is no install's); one typed
    # without its value (`-n uninstall`) has none the line could keep
    given = _namespace_typed(root)
    if given is None or given and _command_path(root, ["kmeshctl", *typed]) != ["kmeshctl", *path]:
        from kmeshctl.cli.badinput import _default_namespace

        option = cmdline.option_spelled(command, "-n")
        # the line's own cluster: a context mended (`--context Dev` for dev) is the one it runs on
        used = getattr(option, "default", None) or _default_namespace(words[1:end])
        if used in (value, "NAMESPACE"):  # the one used without -n; a context's that is no name: its own hint
            return ""
    return value


def _namespace_typed(root: _click.Command) -> Optional[str]:
    """The -n typed: None for none, "" for one without its value (`kmeshctl -n uninstall`:
    a command, no namespace; `uninstall -n`)."""
    typed = typed_words()
    typed = typed[:cmdline.separator_at(typed)]
    value = typed_value(typed, "-n", "--namespace")
    if value is None:
        return "" if any(spelled(w, {"-n", "--namespace"}) for w in typed) else None
    return "" if value in getattr(root, "commands", {}) else value


def example_values(words: list[str], root: _click.Command, message: str) -> list[str]:
    """What the `kmeshctl ...` line ``words``, one of a command with a dry run (REAL_RUN)
    given none, was given that the user did not type, each said with what to give instead:
    a name the message gives only as an example (`e.g. --name w-1wp` for 1wp), a value
    typed left out for its default (`--replicas 99` out of range: the line makes 1; a
    wait's bound aside: it changes nothing made). [] for any other line (a dry run, a read,
    a command with no dry run: `demo traffic-shift -c 12`'s count is no target)."""
    from kmeshctl.cli.conventions import NEEDS_ON

    command = _changing_command(words, root)
    if command is None or " ".join(_command_path(root, words)[1:]) not in REAL_RUN:
        return []
    said: list[str] = []
    end = cmdline.separator_at(words)
    typed = typed_words()
    typed = typed[:cmdline.separator_at(typed)]
    examples = re.findall(r"\be\.g\. (--?[\w-]+) ([^\s;:,`()]+)", re.sub(r"`[^`]*`", "", message))
    name, typed_name = typed_value(words[:end], "--name"), typed_value(typed, "--name")
    if name and not _spelled_by_typed(name, typed) and typed_name is not None and \
            not _NAME_LABEL.fullmatch(typed_name):  # made up for a name refused (`w-1a` for 1a), said or not;
        examples.append(("--name", name))  # a free name in place of a taken one is the line's point
    for flag, value in dict.fromkeys(examples):
        if flag in ("-n", "--namespace") or typed_value(words[:end], flag) != value or \
                any(value == word.lower() for word in typed):
            continue  # -n: example_namespace's; one the line does not have, or that the user typed
        what = "name" if flag in ("--name", "--sandbox", "--pod") else "value"
        said.append(f"{flag} {value} is only an example; give {flag} the {what} you mean")
    left = re.search(r"\bevery value mended, (.+?) left out \(the defaults?\)", message)
    idle = {pair[0] for pair in NEEDS_ON}
    for given in re.split(r", | and ", left.group(1)) if left else []:
        flag, _, value = given.partition(" ")
        param = cmdline.option_spelled(command, flag)
        if param is None or param.name in idle or value in ("''", ""):
            continue  # an empty value picks nothing; a wait's bound changes nothing made
        unset = param.default is None or param.default == "" or param.default == ()  # no value to name
        default = f"leave {flag} unset (its default)" if unset else \
            f"give the default ({getattr(param.default, 'value', param.default)})"  # an Enum's as typed
        said.append(f"{given} left out would {default}; give {flag} a value it takes")
    return said


_NAME_LABEL = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")  # a waypoint name (an RFC 1035 label)


def _spelled_by_typed(value: str, typed: list[str]) -> bool:
    """``value`` is a word typed, or what one spells (`Wp_1` for wp-1, the NAME of `Team-A/wp1`,
    one of a list `east,west`)."""
    from kmeshctl.cli.names import meant_namespace

    parts = [part for word in typed for part in (word, *re.split(r"[/=,]", word))]
    return any(value in (part.lower(), meant_namespace(part)) for part in parts)


def _changing_command(words: list[str], root: _click.Command) -> Optional[_click.Command]:
    """The command of the `kmeshctl ...` line ``words`` when it changes things for real
    (no dry run, no group, not option_hints.READ_ONLY); None otherwise."""
    from kmeshctl.cli.option_hints import READ_ONLY

    path = _command_path(root, words)[1:]
    command, _ = resolve(root, path)
    if dry_run_typed(words) or command is None or hasattr(command, "commands") or " ".join(path) in READ_ONLY:
        return None
    return command


def no_example_namespace_run(message: str, root: _click.Command) -> str:
    """``message`` without the `kmeshctl ...` lines that would change things for real in a
    namespace given only as an example (example_namespace: `e.g. -n default` for a refused
    -n), or with another value the user did not give (example_values: an example name, a
    default for a value refused), said in words instead."""
    head, tail, removed = _lines_left_out(message, lambda words: bool(example_namespace(words, root, message) or
                                                                        example_values(words, root, message)))
    if not removed:
        return message
    from kmeshctl.cli.command_hints import CHANGES

    name = " ".join(_command_path(root, removed[0])[1:])
    told: list[str] = []
    namespace = example_namespace(removed[0], root, message)
    if namespace:
        given = _namespace_typed(root)
        instead = f" in place of -n {given}" if given else ""
        head += _context_namespace_refused(removed[0], message) if given is None else ""
        refused = _context_namespace(removed[0]) if given is None else None
        told += [f"the namespace it would use, {refused[0]} ({refused[1]}), is refused"] if refused else []
        told.append(f"-n {namespace}{instead} is only an example; give -n the namespace you mean")
    told += example_values(removed[0], root, message)
    return f"{head}; no line is offered: {name} changes {CHANGES.get(name, 'things')}, and {'; '.join(told)}{tail}"


def _context_namespace_refused(words: list[str], message: str) -> str:
    """`; namespace kube-system (from context dev) is Kubernetes' own`: why the line ``words``
    (no -n typed) was given an example -n, when its context's namespace is one refused and
    ``message`` does not say so (the hint was about the context's name: `--context Dev`)."""
    found = _context_namespace(words)
    if found is None or re.search(rf"\bnamespace {re.escape(found[0])}\b", message):
        return ""
    return f"; namespace {found[0]} ({found[1]}) {found[2]}"


def _context_namespace(words: list[str]) -> Optional[tuple[str, str, str]]:
    """(the namespace the line ``words`` uses with no -n, where it comes from (`from context
    dev`), why it is refused) when it is one refused (kube-system); None otherwise."""
    from kmeshctl.cli.badinput import _default_namespace
    from kmeshctl.namespaces import system_namespaces

    end = cmdline.separator_at(words)
    used = _default_namespace(words[1:end])
    reason = system_namespaces().get(used)
    if reason is None:
        return None
    context = typed_value(words[:end], "--context")
    return used, f"from context {context}" if context else "from the kubeconfig context", reason


def _strays_kept(words: list[str], dropped: list[str], root: _click.Command) -> str:
    """option_hints.strays_kept for the line ``words`` (kept with its stray words)."""
    from kmeshctl.cli.option_hints import strays_kept

    return strays_kept(tuple(_command_path(root, words)[1:]), dropped)


def _strays_read(words: list[str], dropped: list[str], root: _click.Command) -> Optional[tuple[str, str]]:
    """(the line ``words`` mended as its command reads its stray words, ``dropped``: `kmeshctl
    status --namespace kmesh-x` for `kmeshctl status Kmesh-X`, the note ` (Kmesh-X given as
    --namespace kmesh-x)`) when each line mended keeps every word typed (none left out for
    good: a line without the word acts on another thing); None otherwise."""
    from kmeshctl.cli.badinput import _keeps_names

    mended = _values_mended(words, root)
    lines = [shlex.split(line) for line in mended.split("` or `")] if mended else []
    if not lines or not all(_keeps_names(words, line, root, set()) for line in lines):
        return None
    said = []
    for word in (w for w in dropped if not w.startswith("-")):
        parts = word.lower().replace("_", "-").split("/")
        given = [lines[0][k:k + 2] for k in range(1, len(lines[0]) - 1) if lines[0][k].startswith("-")
                 and lines[0][k] not in words and lines[0][k + 1] in parts]
        if given:  # `Team-A/wp1` as `--name wp1 -n team-a`
            said.append(f"{word} given as {' '.join(shlex.join(pair) for pair in given)}")
    return mended, (f" ({'; '.join(said)})" if said else "") + _context_note(words, mended)


def _values_mended(words: list[str], root: _click.Command) -> str:
    """``words`` with every bad value its checks mend (badinput.mended_line), as a line; ""
    when none is refused or cannot be mended (a shell pipeline is left as it is)."""
    from kmeshctl.cli.badinput import mended_lines

    if any(w in SHELL_OPERATORS or w in (*cmdline.HELP_FLAGS, "--version") for w in words):
        return ""  # a help or version line only prints (its parse exits)
    mended = [line for line in mended_lines(words, root) if line != words]
    context = _context_mended(words, root) if not mended else words
    if context != words:  # `--context Dev` for dev: the line with the context meant, its other values mended too
        mended = mended_lines(context, root)
    # two flags that cannot go together: a line keeping each (inside the backticks of the one line offered)
    return "` or `".join(shlex.join(line) for line in mended)


def _context_mended(words: list[str], root: _click.Command) -> list[str]:
    """``words`` (a `kmeshctl ...` line) with the context its kubeconfig problem means
    (context_fix_line, read as that line: `--context Dev` for dev, a missing current-context's
    look-alike added); as they are when none is meant."""
    from kmeshctl.cli.badinput import line_problems

    with cmdline.args_as(words[1:]):
        for problem in line_problems(words, root):
            found = SUGGESTED.search(context_fix_line(problem)) if CONTEXT_FIX in problem else None
            if found is not None and found.group(1).startswith("kmeshctl "):
                return shlex.split(found.group(1))
    return words


def _context_note(words: list[str], mended: str) -> str:
    """` (--context Dev given as dev)` when the line ``mended`` (from ``words``) gives the
    --context typed as the context it means; "" otherwise."""
    typed = typed_value(words, "--context")
    given = typed_value(shlex.split(mended.split("` or `")[0]), "--context")
    return f" (--context {shlex.quote(typed)} given as {shlex.quote(given)})" if typed and given and typed != given \
        else ""


def _conflicts_noted(words: list[str], mended: str, first: str = "") -> tuple[str, str]:
    """(``mended`` (lines joined by "` or `", from the line ``words``) with the notes of each
    line but the last after it: ``first`` (the notes of the first line) and, for a line that
    leaves out a flag of a CONFLICTS pair ``words`` gives, _conflict_note: `A` (--wait left
    out: ...) or `B`, so that a line left out later goes with its own notes; the last line's
    notes, to follow the closing backtick)."""
    lines = mended.split("` or `")
    notes = [_conflict_note(words, line) + (first if at == 0 else "") for at, line in enumerate(lines)]
    inside = "".join(f"{line}`{note} or `" for line, note in zip(lines[:-1], notes))
    return inside + lines[-1], notes[-1]


def _conflict_note(words: list[str], mended: str) -> str:
    """` (--wait left out: --dry-run and --wait do not go together (...))` when the line
    ``mended`` (from ``words``) leaves out a flag of a CONFLICTS pair ``words`` gives both
    of; "" otherwise."""
    from kmeshctl.cli.conventions import CONFLICTS

    line = shlex.split(mended)
    end = cmdline.separator_at(words)
    for first, second, why in CONFLICTS:
        flags = [f"--{name.replace('_', '-')}" for name in (first, second)]
        if all(any(spelled(w, {f}) for w in words[:end]) for f in flags):
            gone = [f for f in flags if not any(spelled(w, {f}) for w in line[:cmdline.separator_at(line)])]
            if len(gone) == 1:
                return f" ({gone[0]} left out: {flags[0]} and {flags[1]} do not go together ({why}))"
    return ""


def _typed_cluster_flags(said: str, root: _click.Command) -> str:
    """``said`` with each `kmeshctl ...` line carrying the --kubeconfig / --context /
    --request-timeout typed that it does not give (the line's flags cannot carry them when
    the error came before the command parsed), the context a slip means (_context_mended)."""
    typed = typed_words()

    def carried(found: re.Match[str]) -> str:
        words = shlex.split(found.group(1))
        if words[:1] != ["kmeshctl"]:
            return found.group()
        given: list[str] = []
        for flag in GLOBAL_FLAG_ORDER:
            value = typed_value(typed, flag)
            given += [flag, value] if value is not None and typed_value(words, flag) is None else []
        added = ["kmeshctl", *given, *words[1:]]
        return f"`{shlex.join(_context_mended(added, root) if given else added)}`"

    return SUGGESTED.sub(carried, said)


GLOBAL_FLAG_ORDER = ("--kubeconfig", "--context", "--request-timeout")


def required_left(mended: str, root: _click.Command, after: str = "") -> str:
    """` (then give --cluster-id (...) too: it is required)`: the flags the typed command
    needs that the line mended from it (``mended``, lines joined by "` or `") still leaves
    out, said now: it mends the values typed, and the next run would stop at what was never
    typed. "" for another command's line (a pointer names the command, not a whole run) and
    for a flag the words ``after`` the line name already."""
    from kmeshctl.cli.badinput import required_left_out

    line = shlex.split(mended.split("` or `")[0])
    typed = ["kmeshctl", *cmdline.ARGS]
    if not cmdline.ARGS or not _runs_as_typed(root, _command_path(root, typed), _command_path(root, line)):
        return ""
    left = required_left_out(line, root)
    needed = [problem.replace(" is required ", " ", 1) for problem in (left[0] if left else [])
              if problem.split()[0] not in after]
    if not needed:
        return ""
    return f" (then give {spoken_list(needed)} too: {'they are' if len(needed) > 1 else 'it is'} required)"


def _runs_as_typed(root: _click.Command, typed: list[str], path: list[str]) -> bool:
    """A line of command ``path`` is the run typed (command words ``typed``): the same
    command, or the one meant where the words typed name none (`instal`, `waypoint aply`)."""
    if path == typed:
        return True
    command = resolve(root, typed[1:])[0] if typed[1:] else root
    words = cmdline.command_words(list(cmdline.ARGS[:cmdline.separator_at(cmdline.ARGS)]))
    mistyped = words[len(typed) - 1] if len(words) >= len(typed) else None
    meant = path[len(typed)] if len(path) > len(typed) else None  # `f4x render`: render typed, f4x a stray word
    return path[:len(typed)] == typed and hasattr(command, "commands") and mistyped is not None and \
        meant is not None and meant not in words


def _still_needed(line: list[str], root: _click.Command, given_only: bool = False) -> str:
    """` (then fix --cluster-id 'c 1': not a cluster id; use ...)`: what the line built from
    the words typed still refuses (a bad value typed that no hint can mend), so that it
    is said now, not when the line is pasted; "" when the line works."""
    from kmeshctl.cli.badinput import line_problems

    if "|" in line or any(w in SHELL_OPERATORS for w in line):
        return ""
    from kmeshctl.cli.badinput import _without_lines

    said = [_without_lines(problem.split(";")[0]) if "`" in problem else problem
            for problem in line_problems(line, root, given_only)]
    left = [problem for problem in said if "`" not in problem]  # its own line would be for another line
    return f" (then fix {'; '.join(left)})" if left else ""


# Flags that choose what a command acts on (another tool's spelling included): a line that
# left one out would act on the current context or a default namespace instead.
TARGETING_FLAGS = frozenset({"--kube-context", "--istioNamespace", "-i", "--cluster", "--server", "-s", "--user",
                             "--namespace", "-n", "--all-namespaces", "-A", "--enroll-namespace", "--for"})


def _safe_to_drop(dropped: list[str], flagged: list[tuple[str, str]], words: list[str]) -> bool:
    """Whether the line parseable made acts on what the typed one named: not when a
    positional word (a name: `waypoint delete east west` would become the default
    waypoint) or a flag that chooses a target (TARGETING_FLAGS) is left out, nor when a
    stray word becomes --sandbox beside --target cluster; the line then stays as built (it
    fixes one mistake, and the next hint the one after)."""
    for word in dropped:
        flag = word.split(" ")[0].partition("=")[0]
        if not flag.startswith("-") or flag in TARGETING_FLAGS:
            return False
    cluster = any(w in ("--target=cluster", "cluster") for w in words)  # `--target cluster`: no sandbox
    return not any(given.split(" ")[0] == "--sandbox" and cluster for _, given in flagged)


def _command_path(root: _click.Command, words: list[str]) -> list[str]:
    """`kmeshctl waypoint delete` for a line of it (its flags and their values passed over)."""
    positions = [i for i in cmdline.walk_words(words[1:cmdline.separator_at(words)], leading_values=True)
                 if not words[1 + i].startswith("-")]
    _, used = resolve(root, [words[1 + i] for i in positions])
    return ["kmeshctl", *(words[1 + i] for i in positions[:used])]


_LEAVE = re.compile(r"\bleave (.+?) out\b")


def _as_typed(word: str, given: str, line: list[str]) -> tuple[str, str]:
    """(``word`` as typed, as given): the NAME of a NAMESPACE/NAME typed (`Team-A/wp1`) is
    said as that word, given with the line's -n too (`--name wp1 -n team-a`)."""
    from kmeshctl.params import meant_namespace

    namespace = typed_value(line[:cmdline.separator_at(line)], "-n", "--namespace")
    typed = typed_words()
    if not given or word in typed or namespace is None:
        return word, given
    whole = next((t for t in typed if t.endswith(f"/{word}") and
                  namespace in (t.partition("/")[0], meant_namespace(t.partition("/")[0]))), None)
    return (whole, f"{given} -n {namespace}") if whole else (word, given)


def _said_dropped(before: str, after: str, dropped: list[str], flagged: list[tuple[str, str]],
                  path: str) -> tuple[str, str]:
    """(the prose before a suggested line, after it) naming the words parseable left out of
    it: added to the prose's `leave X out` when it has one, else said after the line; and
    each stray word given its flag (`east as --name east`)."""
    if dropped:
        named = spoken_list(dropped)
        clause = before.rsplit(";", 1)[-1]
        found = list(_LEAVE.finditer(clause))
        if found:
            last = found[-1]
            start = len(before) - len(clause) + last.start()
            listed = spoken_list([last.group(1), *dropped])
            before = f"{before[:start]}leave {listed} out{before[start + last.end() - last.start():]}"
        else:
            after = f" (leave {named} out too: {path} takes no such {'word' if len(dropped) == 1 else 'words'})" \
                    + after
    if flagged:
        said = [f"{word} given as {given}" if given else f"{word} left out, a value it does not take"
                for word, given in flagged]
        # one parenthesis: a note right after joins it (`(-o yml given as -o yaml; --x=yes given as --x)`)
        joined = after.startswith(" (") and not after.startswith(" (see '")
        after = f" ({', '.join(said)}; {after[2:]}" if joined else f" ({', '.join(said)})" + after
    return before, after


def parseable_words(words: list[str], root: _click.Command) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """(``words``, a `kmeshctl ...` line, with what its command does not take left out, the
    words left out (a flag with its value as one: `--grace-period 0`), the words given
    otherwise [(as typed, as given: `east`, `--name east`; `-o yml`, `-o yaml`; `-o xml`,
    "" when left out)]). A choice typed wrong is the choice it is a typo of, else left
    out; kubectl's `-n NS` on enable-ns / disable-ns is the argument NS. Left out: an
    option the command (nor kmeshctl) has, with the value it was given when it takes one
    (the flag takes one elsewhere in kmeshctl or in the tool it comes from, or the command takes no more positional
    arguments); a positional word past those the command takes; and the `--` of a command
    that takes no arguments (the words after it are read as flags again). One stray word a
    command takes as a flag (POSITIONAL_AS_FLAG: `waypoint delete east`) gets that flag.
    A group, a help line or a line naming no command is kept as it is."""
    from kmeshctl.cli.option_hints import OTHER_TOOLS_FLAGS, _ordered_flag, namespaces_as_arguments, \
        stray_taken, takes_namespace_arguments

    end = next((i for i, w in enumerate(words) if w in SHELL_OPERATORS), len(words))
    own, tail = words[1:end], words[end:]
    path = _command_path(root, ["kmeshctl", *own])
    command, used = resolve(root, path[1:])
    if command is None or hasattr(command, "commands") or any(
            w in cmdline.HELP_FLAGS for w in own[:cmdline.separator_at(own)]):
        return words, [], []
    if takes_namespace_arguments(command) and cmdline.option_spelled(command, "-n") is None:
        own = namespaces_as_arguments(own)  # kubectl's `enable-ns -n team-a`: team-a is what it enrolls
    own, halves = _split_values_joined(root, path[1:], own)
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    slots = sum(p.nargs if p.nargs >= 0 else len(own) for p in arguments)
    valued_elsewhere, never_valued = cmdline.options_by_kind(root)
    others_valued = {flag: valued for spellings, valued, _, _ in OTHER_TOOLS_FLAGS for flag in spellings}
    path_left = list(path[1:])
    kept: list[str] = []
    dropped: list[str] = []
    strays: list[int] = []
    halves_kept: set[int] = set()  # strays typed after a value they make no value of: never a name
    flagged: list[tuple[str, str]] = []
    i = 0
    while i < len(own):
        word = own[i]
        if path_left and word == path_left[0]:
            path_left.pop(0)
            kept.append(word)
        elif word == "--" and arguments:
            kept += own[i:]
            break
        elif word == "--":
            pass  # a command without arguments: what follows is flags and values again
        elif word.startswith("-") and word != "-":
            option = _option_of(command, root, word)
            if option is not None:  # `-o yml`: the closest value it takes (none close: left out)
                given = own[i:i + 1] if option is True else own[i:i + 2]
                fixed = _choice_fixed(command, root, given)
                kept += fixed
                i += len(given) - 1
                if fixed != given:
                    flagged.append((shlex.join(given), shlex.join(fixed)))
            else:
                flag = word.partition("=")[0]
                value = i + 1 < len(own) and "=" not in word and not own[i + 1].startswith("-") and \
                    own[i + 1] not in path_left and flag not in never_valued and \
                    others_valued.get(flag, flag in valued_elsewhere or slots <= 0)
                dropped.append(f"{word} {own[i + 1]}" if value else word)
                i += 1 if value else 0
        elif slots > 0:
            slots -= 1
            kept.append(word)
        else:
            strays.append(len(kept))
            halves_kept |= {len(kept)} if i in halves else set()
            kept.append(word)
        i += 1
    option = _ordered_flag(command.params, tuple(path[1:]), kept) if len(strays) == 1 else None
    if option is not None and strays[0] not in halves_kept and \
            not any(spelled(w, set(option[0].opts)) for w in kept) and \
            stray_taken(tuple(path[1:]), option[0], option[2], kept[strays[0]]):
        flagged.append((kept[strays[0]], f"{option[2]} {kept[strays[0]]}"))
        kept[strays[0]:strays[0] + 1] = [option[2], kept[strays[0]]]
    else:
        dropped += [kept[at] for at in strays]
        kept = [w for at, w in enumerate(kept) if at not in strays]
    return ["kmeshctl", *kept, *tail], dropped, flagged


def _split_values_joined(root: _click.Command, path: list[str], own: list[str]) -> tuple[list[str], set[int]]:
    """(``own`` with each value the shell split that joins into one its flag takes as one
    word (`--timeout 5 m`: 5m), the places of the words typed after a value that join into
    none, or after a name's (`--network net 1`): kmeshctl.cli.splitvalues)."""
    from kmeshctl.cli.splitvalues import line_joined, name_halves, path_params, splits

    params = path_params(root, path)
    found = splits(params, own)
    joined = line_joined(own, found)
    gone = {split.word_at for split in found if split.joined is not None}
    shift = {i: i - sum(1 for g in gone if g < i) for i in range(len(own))}
    halves = {split.word_at for split in found if split.joined is None} | {at for *_, at in name_halves(params, own)}
    return joined, {shift[at] for at in halves}


def _choice_fixed(command: _click.Command, root: _click.Command, given: list[str]) -> list[str]:
    """``given`` (a flag and its value: `-o yml`, `--output=yml`, `--timeout 5x`) as a line
    may keep it: as it is when the flag takes that value (or any); a choice typed wrong as
    the choice it is a typo of (badinput's closeness: `yml` -> yaml); [] for a choice close
    to none, or a number or duration that is none or out of the flag's range."""
    from kmeshctl.cli.badinput import _closest_choices, takes_number
    from kmeshctl.cli.names import line_value

    flag, equals, value = given[0].partition("=")
    param = cmdline.option_spelled(command, flag) or cmdline.option_spelled(root, flag)
    descriptor = getattr(param, "type_descriptor", None)
    value = given[1] if len(given) == 2 else value
    if not (equals or len(given) == 2) or descriptor is None:
        return given
    if param is not None and param.name == "xds_address":  # `istiod` -> istiod.istio-system.svc:15012
        meant = None if PLACEHOLDER.fullmatch(value) else _xds_address_meant(command, value)
        return given if meant is None else [f"{flag}={meant}"] if equals else [flag, meant]
    if takes_number(param):
        return given if _number_taken(param, value) else []  # type: ignore[arg-type]
    if param is not None and not descriptor.is_choice and param.name in LINE_CHECKED and \
            not PLACEHOLDER.fullmatch(value):
        meant = line_value(param.name, value)  # `--mode foo` -> dual-engine, a bad --image left out
        return given if meant == value else [] if not meant else [f"{flag}={meant}"] if equals else [flag, meant]
    if not descriptor.is_choice or value in {str(getattr(c, "value", c)) for c in descriptor.choices}:
        return given
    close = _closest_choices(param, value)  # type: ignore[arg-type]
    if not close:
        return []
    return [f"{flag}={close[0]}"] if equals else [flag, close[0]]


# A value a line names for the user to fill in (`-n NAMESPACE`, `--xds-address HOST:PORT`): never mended.
PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_]*(?:[:/.-][A-Z][A-Z0-9_]*)*")
# The parameters whose value a suggested line mends, or leaves out, by names.line_value.
LINE_CHECKED = frozenset({"mode", "image", "network", "namespace", "istio_namespace", "pod_namespace", "pod_name",
                          "node_name", "service_account"})


def _xds_address_meant(command: _click.Command, value: str) -> Optional[str]:
    """The address an --xds-address ``value`` of a bad form means (params.BadXdsAddress),
    settled as the offline check wants it (the --istio-namespace typed); on render, also
    what that check offers for a good form it refuses (`istiod:15012`); for a value whose
    meaning is not clear (`:15012`), istiod's unrevisioned Service (params.guessed_address),
    as a line built without the flag carries it; None for a value that passes."""
    from kmeshctl.cli.names import line_namespace
    from kmeshctl.istiod import settled_address
    from kmeshctl.params import BadXdsAddress, check_xds_address, guessed_address

    namespace = line_namespace(typed_value(cmdline.ARGS, "--istio-namespace"))
    try:
        check_xds_address(value, allow_unix=command.name == "run")  # node run's agent may use a unix socket
    except BadXdsAddress as err:
        return settled_address(err.meant, namespace)
    except UsageError:
        return guessed_address(value, namespace)
    # install asks the cluster instead, whose agents' namespace may have such a Service
    settled = settled_address(value, namespace) if command.name == "render" else value
    return settled if settled != value else None


def _number_taken(param: _click.Parameter, value: str) -> bool:
    """A number or duration flag takes ``value``: spelled as one, within its range."""
    from kmeshctl.asciinum import is_duration_text, is_integer_text, is_number_text, parse_duration
    from kmeshctl.cli.badinput import _number_kind, is_duration

    whole = _number_kind(param.type_descriptor.annotation) is int  # type: ignore[attr-defined]
    spelled_so = is_duration_text(value) if is_duration(param) else \
        is_integer_text(value, signed=True) if whole else is_number_text(value)
    if not spelled_so:
        return False
    number = parse_duration(value) if is_duration(param) else float(value)
    info = param.type_descriptor.parameter_info  # type: ignore[attr-defined]
    return (info.min is None or number >= info.min) and (info.max is None or number <= info.max)


def _option_of(command: _click.Command, root: _click.Command, word: str) -> "_click.Parameter | bool | None":
    """For a flag word of a line of ``command``: True when it is whole (an on/off flag,
    `--flag=value`, a short flag with its value glued on, short flags together), the
    option when its value is the next word, None when neither the command nor kmeshctl
    takes it."""
    from kmeshctl.cli.badinput import takes_value

    flag = word.partition("=")[0]
    option = cmdline.option_spelled(command, flag) or cmdline.option_spelled(root, flag)
    if option is None and flag in cmdline.HELP_FLAGS:
        return True
    if option is not None:
        return option if takes_value(option) and "=" not in word else True
    if word.startswith("--") or len(word) < 3:
        return None
    first = cmdline.option_spelled(command, word[:2]) or cmdline.option_spelled(root, word[:2])
    if first is not None and takes_value(first):
        return True  # `-nfoo`
    letters = [cmdline.option_spelled(command, f"-{c}") or cmdline.option_spelled(root, f"-{c}") for c in word[1:]]
    return True if all(p is not None for p in letters) else None
