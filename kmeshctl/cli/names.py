"""Kubernetes names given as flags, checked on every command before it does anything:
a namespace flag (-n/--namespace, --istio-namespace, --pod-namespace) is an RFC 1123
label, a pod, node or service-account name an RFC 1123 subdomain, the cluster id and
network what istiod accepts. One line naming the flag as typed (or the environment
variable the value came from) and the rule; exit 2 (a UsageError)."""

from __future__ import annotations

import functools
import re
import shlex
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from typer import _click

from kmeshctl.cli import cmdline
from kmeshctl.cli.badinput import source_name, typed_value
from kmeshctl.cli.cmdline import with_value_replaced
from kmeshctl.errors import UsageError
from kmeshctl.namespaces import DNS1123_RULE
from kmeshctl.params import DEFAULT_ISTIO_NAMESPACE, DNS1123_LABEL_RE, given_text, meant_namespace, shown

_SUBDOMAIN = re.compile(r"^(?=.{1,253}\Z)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
SUBDOMAIN_RULE = ("an RFC 1123 subdomain: at most 253 lower-case letters, digits, '-' or '.', starting and "
                  "ending with a letter or digit")

NAMESPACE_KIND = "namespace name"
POD_NAME_EXAMPLE = "kmesh-5jnht"  # an agent pod's name as its DaemonSet makes them (kmesh-<5 characters>)

# parameter name -> (what it names, pattern, rule, example)
_RULES: dict[str, tuple[str, re.Pattern[str], str, str]] = {
    "namespace": (NAMESPACE_KIND, DNS1123_LABEL_RE, DNS1123_RULE, "default"),
    "istio_namespace": (NAMESPACE_KIND, DNS1123_LABEL_RE, DNS1123_RULE, "istio-system"),
    "pod_namespace": (NAMESPACE_KIND, DNS1123_LABEL_RE, DNS1123_RULE, "kmesh-system"),
    "pod_name": ("pod name", _SUBDOMAIN, SUBDOMAIN_RULE, POD_NAME_EXAMPLE),
    "pod": ("pod name", _SUBDOMAIN, SUBDOMAIN_RULE, POD_NAME_EXAMPLE),
    "node_name": ("node name", _SUBDOMAIN, SUBDOMAIN_RULE, "node-1"),
    "service_account": ("service account name", _SUBDOMAIN, SUBDOMAIN_RULE, "kmesh"),
}


def _other_checks() -> dict[str, Callable[[str], None]]:
    """Flags with their own rule in kmeshctl.params (the same check install applies)."""
    from kmeshctl.params import check_cluster_id, check_network

    return {"cluster_id": check_cluster_id, "network": check_network}


def check_name_flags(ctx: _click.Context, values: Mapping[str, Any], args: list[str]) -> None:
    """Raise UsageError for the name flags of ``ctx``'s command whose value (from
    ``values``, the command's parameters) is not a valid Kubernetes name: each one said in
    one line (`...; also ...`), with a bad --xds-address too, so one paste mends them all.
    Unset ("" or None) values are left to the command (they mean "the default")."""
    problems: list[UsageError] = []
    for check in _name_flag_checks(ctx, values, args):
        try:
            check()
        except UsageError as err:
            problems.append(err)
    others = _other_value_problems(ctx, values, args)
    if problems or len(others) > 1:  # one alone: the command's own check says it, with its line to paste
        problems += others
    elif any(isinstance(other, WithLine) for other in others):  # the command's check gives no line
        problems = others
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise UsageError("; also ".join(str(problem) for problem in problems))


def line_namespace(typed: "str | None") -> str:
    """The --istio-namespace a suggested line carries for ``typed``: itself when valid, the
    name a namespace typed wrong means (`Bad_NS` -> bad-ns, as its own fix mends it), else
    the default."""
    if not typed:
        return DEFAULT_ISTIO_NAMESPACE
    return typed if DNS1123_LABEL_RE.match(typed) else meant_namespace(typed) or DEFAULT_ISTIO_NAMESPACE


def line_value(name: str, value: str) -> str:
    """The value a suggested line gives the flag of parameter ``name`` for ``value``, so the
    pasted line does not fail on it next: ``value`` when its check passes or its meaning is
    not clear and the flag cannot go (a namespace, a name, --cluster-id: what it acts on);
    the value meant (`Bad_NS` -> bad-ns, a repository's capitals lower-cased, the only
    --mode); "" to leave the flag out, its default taken (--image, --network)."""
    from kmeshctl.params import SUPPORTED_MODES, check_image, check_network, image_meant

    if name == "mode":
        return value if value in SUPPORTED_MODES else SUPPORTED_MODES[0]
    checks: dict[str, Callable[[str], None]] = {"image": check_image, "network": check_network}
    if name in checks:
        try:
            checks[name](value)
        except UsageError:
            return image_meant(value) or "" if name == "image" else ""
        return value
    rule = _RULES.get(name)
    if rule is None or rule[1].match(value):
        return value
    meant = meant_namespace(value) if rule[0] == NAMESPACE_KIND else meant_object_name(value, rule[1])
    return meant or value


def _other_value_problems(ctx: _click.Context, values: Mapping[str, Any], args: list[str]) -> list[UsageError]:
    """The bad --xds-address, --image and --mode given (each as its command refuses it),
    to be said beside the other bad values of the line."""
    found: list[UsageError] = []
    if isinstance(values.get("xds_address"), str) and values["xds_address"]:
        found += _xds_address_problem(ctx, values["xds_address"])
    if isinstance(values.get("image"), str) and values["image"]:
        found += _image_problem(ctx, values["image"], args)
    if isinstance(values.get("mode"), str):
        found += _mode_problem(ctx, values["mode"], args)
    return found


class WithLine(UsageError):
    """One bad value said with the whole line typed, the value mended (a did-you-mean
    `--mode Dual-Engine`, a bracketed IPv6 --xds-address): said before the command's own
    check, which gives only the value."""


class MeantMode(WithLine):
    """A --mode typed as a slip of a mode (`Dual-Engine`): its did-you-mean and line."""


# Kmesh's modes kmeshctl does not run (typed, its help's words for them): said as such, not as a typo
KMESH_OTHER_MODES = {"kernel-native": "kernel-native", "ads": "kernel-native (ads)"}


def _mode_problem(ctx: _click.Context, value: str, args: list[str]) -> list[UsageError]:
    """[a bad --mode ``value`` as params.check_mode refuses it, its flag as given], or [] (good)."""
    from kmeshctl.params import NOT_ACCEPTED, SUPPORTED_MODES, bad_value, one_of

    if value in SUPPORTED_MODES:
        return []
    import difflib

    from kmeshctl.cli.badinput import CHOICE_CLOSENESS, meant_lines

    param = next(p for p in ctx.command.params if p.name == "mode")
    flag = source_name(ctx, param, args)
    close = difflib.get_close_matches(value.lower(), SUPPORTED_MODES, n=2, cutoff=CHOICE_CLOSENESS)
    if value.lower().replace("_", "-") in KMESH_OTHER_MODES:  # Kmesh's own other mode: the one run here instead
        return [MeantMode(f"{given_text(flag, value)}: Kmesh's {KMESH_OTHER_MODES[value.lower().replace('_', '-')]} "
                          f"mode, which kmeshctl does not run (it runs {', '.join(SUPPORTED_MODES)} only); did you "
                          f"mean {SUPPORTED_MODES[0]}?{meant_lines(value, SUPPORTED_MODES[:1])}")]
    if close:  # `Dual-Engine`, `dual_engine`: as `-o JSON` is said, the line with the mode meant
        return [MeantMode(f"{given_text(flag, value)}: {NOT_ACCEPTED}; did you mean {' or '.join(close)}?"
                           f"{meant_lines(value, close)} (use {one_of(SUPPORTED_MODES)})")]
    return [bad_value(flag, value, NOT_ACCEPTED, one_of(SUPPORTED_MODES))]


def _image_problem(ctx: _click.Context, value: str, args: list[str]) -> list[UsageError]:
    """[a bad --image ``value`` as its command would refuse it], or [] (good): said beside the
    other bad values of the line, so one paste mends them all."""
    from kmeshctl.params import DEFAULT_IMAGE, check_image

    param = next(p for p in ctx.command.params if p.name == "image")
    example = param.default if isinstance(param.default, str) and param.default else DEFAULT_IMAGE
    try:
        check_image(value, source_name(ctx, param, args), example)
    except UsageError as err:
        return [err]
    return []


def _xds_address_problem(ctx: _click.Context, value: str) -> list[UsageError]:
    """[the bad --xds-address ``value`` as a problem with the address meant], or [] (good)."""
    from kmeshctl.cli.suggestions import flag_as_typed
    from kmeshctl.istiod import settled_address
    from kmeshctl.params import BadXdsAddress, check_xds_address

    flag = flag_as_typed("xds_address") or "--xds-address"
    try:
        check_xds_address(value, flag, allow_unix=ctx.command_path.endswith("node run"))
    except BadXdsAddress as err:
        meant, why = settled_with_reason(err.meant, line_namespace(ctx.params.get("istio_namespace")), flag)
        given = f"{flag}={shlex.quote(meant)}" if flag.startswith("$") else f"{flag} {shlex.quote(meant)}"
        return [UsageError(f"{err.problem}{why} (use {given})")]
    except UsageError as err:
        return [_address_line(ctx, flag, value, err)]
    return []


def settled_with_reason(meant: str, istio_namespace: str, flag: str = "--xds-address") -> tuple[str, str]:
    """(the address to offer for ``meant``, the correction of a bad form, as
    istiod.settled_address; why ``meant`` itself is not offered when another host is,
    `, but [fe80::1]:15012 is refused too: fe80::1 is a link-local address ...`, else "")."""
    from kmeshctl.istiod import XdsAddressRefused, check_xds_address_offline

    try:
        check_xds_address_offline(meant, istio_namespace, flag)
    except XdsAddressRefused as refused:
        found = refused.found[0] if refused.found else meant
        host = meant.rpartition(":")[0].strip("[]")
        if found.rpartition(":")[0] == host or found.startswith(f"{host}."):  # `istiod:` -> istiod.NS.svc: the same
            return found, ""
        reason = refused.problem.removeprefix(f"{flag} {meant}: ").removeprefix(f"{flag} {shlex.quote(meant)}: ")
        return found, f", but {shown(meant)} is refused too: {reason}"
    return meant, ""


_PORT_PROBLEM = re.compile(r": port \S+ is (?:not an integer|out of range)")


def _address_line(ctx: _click.Context, flag: str, value: str, err: UsageError) -> UsageError:
    """``err`` (a bad --xds-address ``value`` whose check gives an example) with the whole
    line typed instead, the address meant in it: an IPv6 host bracketed, the host typed
    with istiod's port for a bad port, else istiod's Service (params.guessed_address, as
    a line for an unclear address gives); ``err`` as it is when that address is refused too."""
    from kmeshctl.istiod import settled_address
    from kmeshctl.params import XDS_PORT_EXAMPLE, check_xds_address, guessed_address

    message = str(err)
    host, _, port = value.rpartition(":")
    namespace = line_namespace(ctx.params.get("istio_namespace"))
    if "in brackets" in message and host:
        meant = f"[{host}]:{port}"
    elif _PORT_PROBLEM.search(message) and host:
        meant = f"{host}:{XDS_PORT_EXAMPLE}"
    else:
        meant = guessed_address(value, namespace)
    try:
        check_xds_address(meant, flag, allow_unix=ctx.command_path.endswith("node run"))
        meant = settled_address(meant, namespace)
    except UsageError:
        return err
    if flag.startswith("$") or not cmdline.ARGS:
        return err
    words = cmdline.with_flag_value(list(cmdline.ARGS), flag, meant)
    if words == list(cmdline.ARGS):
        return err
    head = message.rpartition(", e.g. ")[0] or message.rpartition(" (")[0] or message
    return WithLine(f"{head}, e.g. `{shlex.join(['kmeshctl', *words])}`")


def _name_flag_checks(ctx: _click.Context, values: Mapping[str, Any], args: list[str]) -> Iterator[Callable[[], None]]:
    """The check of each name flag of ``ctx``'s command given (check_name_flags), to call."""
    for param in ctx.command.params:
        value = values.get(param.name or "")
        if param.name in PATH_FLAGS and isinstance(value, Path):
            yield functools.partial(check_path_flag, source_name(ctx, param, args), value)
        if param.param_type_name != "option" or not isinstance(value, str) or not value:
            continue
        rule = _RULES.get(param.name or "")
        if param.name == "sandbox":
            source = source_name(ctx, param, args)
            if not source.startswith("$"):  # from the environment: checked where a sandbox is used
                yield functools.partial(_check_sandbox, source, value)
        elif rule is not None:
            known = (lambda: _sandbox_namespaces(ctx, values)) if param.name == "namespace" else None
            yield functools.partial(_check, source_name(ctx, param, args), value, *rule[:3], _example(param, rule),
                                    known)
        elif param.name in ("cluster_id", "network"):
            yield functools.partial(_check_other, ctx, param, value, args)


def _example(param: _click.Parameter, rule: tuple[str, re.Pattern[str], str, str]) -> str:
    """An example this flag takes: its own default when it is a valid name (kmesh-system
    for kmesh's namespace, which refuses `default`), else the rule's."""
    default = param.default
    return default if isinstance(default, str) and rule[1].match(default) else rule[3]


def _check_sandbox(flag: str, value: str) -> None:
    """--sandbox NAME (dump maps / config): the sandbox name rule, naming --sandbox (the
    sandbox module's own check names --name, the flag of the sandbox commands)."""
    from kmeshctl import sandboxes
    from kmeshctl.sandbox.state import check_name

    try:
        check_name(value)
    except UsageError:
        from kmeshctl.sandbox.state import NAME_RULE

        meant = sandboxes.meant_name(value)
        if meant is not None:  # t32a-b typed T32A-B
            raise UsageError(f"{given_text(flag, value)}: {sandboxes.not_a_name_text(meant, flag)} "
                             f"{meant_line(value, meant)}") from None
        refusal = fitted_sandbox_refusal(flag, value)
        if refusal is not None:
            raise refusal from None
        raise UsageError(f"{given_text(flag, value)}: not a sandbox name; use {NAME_RULE}, "
                         f"e.g. {given_text(flag, 'demo')}") from None


def fitted_sandbox_refusal(flag: str, value: str) -> UsageError | None:
    """`--sandbox Demo_1: not a sandbox name; ...; did you mean --sandbox demo-1?` (the line is
    added from the did-you-mean): the name fitted to the rule (as the demo's and --pod's),
    on every command naming a sandbox; None when nothing fits, or the fitted name would be
    cut short (another sandbox's name, maybe)."""
    from kmeshctl import sandboxes
    from kmeshctl.sandbox.state import NAME_MAX, NAME_RULE

    fitted = sandboxes.fitted_name(value)
    if fitted is None or len(value.strip()) > NAME_MAX:
        return None
    return UsageError(f"{given_text(flag, value)}: not a sandbox name; use {NAME_RULE} "
                      f"({sandboxes.broken_name_rule(value)}); did you mean {given_text(flag, fitted)}?")


# Path flags a command follows before it checks anything else (owner_of_bpffs resolves
# --bpf-fs): what no lookup can take is refused first, whatever the command does with it.
PATH_FLAGS = ("bpf_fs",)


def check_path_flag(flag: str, value: Path | str) -> None:
    """UsageError for a path no lookup can take: a name longer than Linux allows, a symlink loop."""
    from kmeshctl.cli.outpaths import check_name_length
    from kmeshctl.nodecheck import check_followable

    check_name_length(flag, Path(value))
    check_followable(Path(value), flag)


def _check(flag: str, value: str, kind: str, pattern: re.Pattern[str], rule: str, example: str,
           known: Callable[[], tuple[str, list[str], bool] | None] | None = None) -> None:
    """UsageError unless ``value`` of ``flag`` matches ``pattern``; a namespace name offers
    the one it most likely means (meant_namespace). ``known``: (the sandbox the command
    works on, the namespaces it can work in there, whether they are the demo's), or None
    when none is known: a meant
    name the sandbox lacks is not offered, one it has is (see _not_in_sandbox)."""
    if pattern.match(value):
        return
    if kind != NAMESPACE_KIND and not flag.startswith("$"):
        refusal = namespaced_refusal(flag, value, f"{given_text(flag, value)}: not a valid {kind} ({rule})", pattern)
        if refusal is not None:
            raise refusal
    meant = meant_namespace(value) if kind == NAMESPACE_KIND else meant_object_name(value, pattern)
    if meant is None:
        raise UsageError(f"{given_text(flag, value)}: not a valid {kind} ({rule}), e.g. {example}")
    sandbox = known() if known is not None else None
    if sandbox is not None and sandbox[1] and meant not in sandbox[1]:
        meant, lacks = sandbox[1][0], _not_in_sandbox(*sandbox, meant)
    else:
        lacks = ""
    if flag.startswith("$"):  # from the environment: the variable set again (as $KMESHCTL_SANDBOX_NAME's)
        raise UsageError(f"{given_text(flag, value)}: not a valid {kind} ({rule}){lacks}; did you mean "
                         f"{given_text(flag, meant)}? `export {flag[1:]}={shlex.quote(meant)}`")
    said = given_text(flag, meant) if flag.startswith("-") else meant
    refused = _meant_refused(flag, value, meant) if kind == NAMESPACE_KIND and not lacks else None
    if refused is not None:  # `-n Kube-System`: kube-system is no namespace this command takes either
        instead = given_text(flag, example) if flag.startswith("-") else example
        raise UsageError(f"{given_text(flag, value)}: not a valid {kind} ({rule}); {said}, the name it spells, "
                         f"is refused too ({refused}), e.g. {instead}{_working_line(value, example)}")
    raise UsageError(f"{given_text(flag, value)}: not a valid {kind} ({rule}){lacks}; did you mean {said}? "
                     f"{meant_line(value, meant)}")


def _working_line(value: str, meant: str) -> str:
    """`: `kmeshctl ...``, the line typed with ``value`` given as ``meant``, when it works
    pasted (badinput.line_works); "" otherwise."""
    from kmeshctl.cli.badinput import line_works

    words = ["kmeshctl", *with_value_replaced(cmdline.ARGS, value, meant)]
    return f": `{shlex.join(words)}`" if cmdline.INVOKED and line_works(words, cmdline.INVOKED[0].command) else ""


def _meant_refused(flag: str, value: str, meant: str) -> str | None:
    """Why the line typed with ``value`` given as ``meant`` is refused for ``meant`` itself
    (`-n kube-system: reserved for Kubernetes ...`, `namespace kube-system is Kubernetes'
    own`), by the checks a pasted line meets (badinput.line_problems); None when it is not
    (or no line is checked: one being checked, a value not typed on the line)."""
    from kmeshctl.cli.badinput import _VERIFYING, line_problems

    if _VERIFYING or not cmdline.INVOKED or not typed_on_line(value):
        return None
    words = ["kmeshctl", *with_value_replaced(cmdline.ARGS, value, meant)]
    heads = (f"{given_text(flag, meant)}: ", f"namespace {meant} ", f"namespace {meant}: ")
    found = line_problems(words, cmdline.INVOKED[0].command)
    for problem in (one for each in found for one in each.split("; also ")):
        if problem.startswith(heads):
            reason = problem[len(next(h for h in heads if problem.startswith(h))):]
            reason = re.split(r"; |: ", reason, maxsplit=1)[0].rstrip(".")
            return f"it {reason}" if reason.startswith("is ") else reason  # `(it is Kubernetes' own)`
    return None


def _not_in_sandbox(sandbox: str, namespaces: list[str], demo: bool, meant: str) -> str:
    """`, and sandbox S has no namespace team-a (its namespaces: default, b)`; the demo's
    words where it is the demo's -n (`the demo's objects are in namespace default`)."""
    listed = ", ".join(namespaces)
    where = (f"the demo's objects are in namespace{'s' if len(namespaces) > 1 else ''} {listed}" if demo else
             f"its namespace{'s' if len(namespaces) > 1 else ''}: {listed}")
    return f", and sandbox {sandbox} has no namespace {meant} ({where})"


def _sandbox_namespaces(ctx: _click.Context, values: Mapping[str, Any]) -> tuple[str, list[str], bool] | None:
    """(the sandbox ``ctx``'s command works on, the namespaces it can work in there,
    sandboxes.namespaces_for, whether it is the demo) when the command works on a sandbox that exists: named by
    --sandbox (--name on the `sandbox` commands) or $KMESHCTL_SANDBOX_NAME, or the only
    one; None else (a name flag's check needs no sandbox)."""
    import os

    from kmeshctl import sandboxes

    words = ctx.command_path.split()
    if words[1:2] != ["sandbox"] and words[1:3] != ["demo", "traffic-shift"]:
        return None  # -n is no namespace of a sandbox (dump's is the agent pod's, in a cluster)
    flag = next((p for p in ctx.command.params if {"--sandbox", "--name"} & set(p.opts)), None)
    typed = values.get(flag.name or "") if flag is not None else None
    name = typed or os.environ.get(sandboxes.NAME_ENV)
    target = values.get("target")
    target = str(getattr(target, "value", target) or "")
    if words[1:2] == ["demo"] and (target == "cluster" or (not name and target != "local")):
        return None  # the demo may run on a cluster: its namespaces are not the sandbox's
    if not name:
        found = sandboxes.names()
        name = found[0] if len(found) == 1 else None
    namespaces = sandboxes.namespaces_for(ctx.command_path, name) if isinstance(name, str) else None
    return (name, namespaces, words[1:2] == ["demo"]) if namespaces is not None else None


def check_namespace_words(what: str, names: Iterable[str]) -> None:
    """Namespace names given as words (`enable-ns NAME...`): a UsageError naming those
    that are no RFC 1123 label, offering the names they most likely mean (`ns/foo` ->
    foo, `a,b` -> a b: meant_words) with the line to paste, every one of them mended;
    one that means nothing is named alone, with an example (the line would fail pasted)."""
    names = list(names)
    bad = list(dict.fromkeys(name for name in names if not DNS1123_LABEL_RE.match(name)))
    _flags_after_separator(what, bad)
    meant = {name: meant_words(name) for name in bad}
    # `enable-ns '' default`: an empty word beside names is left out of the line (it names none)
    blank = [name for name in bad if not name.strip() and any(other.strip() for other in names)]
    meant.update({name: [] for name in blank})
    hopeless = [name for name in bad if meant[name] is None]
    if hopeless:
        _check(what, hopeless[0], NAMESPACE_KIND, DNS1123_LABEL_RE, DNS1123_RULE, "default")
    if not bad:
        return
    # `Kube-System`: the name it spells is refused too (enable-ns kube-system): said, and left out of the line
    refused = {name: why for name in bad if len(meant[name] or ()) == 1 and
               (why := _meant_refused(what, name, (meant[name] or [""])[0])) is not None}
    rest = [name for name in bad if name not in refused and name not in blank]
    line = _words_replaced(cmdline.ARGS, {name: [] if name in refused else meant[name] or [] for name in bad}, True)
    line = _each_name_once(line, {*names, *(w for name in rest for w in meant[name] or ())})
    left = [word for word in line if word != "--" and word in names or  # `enable-ns -- NAME`: after it too
            any(word in (meant[name] or ()) for name in rest)]
    pasted = f" `{shlex.join(['kmeshctl', *line])}`" if left else ""
    rule = f"not {'a valid namespace name' if len(bad) == 1 else 'valid namespace names'} ({DNS1123_RULE})"
    told = [f"{(meant[name] or [''])[0]}, the name {shown(name) + ' ' if len(bad) > 1 else 'it '}spells, is refused "
            f"too ({why}): leave it out" for name, why in refused.items()]
    told += [f"{shown(name)} names no namespace: leave it out" for name in blank]
    if rest:
        told.append(f"did you mean {' and '.join(dict.fromkeys(' '.join(meant[name] or ()) for name in rest))}?")
    raise UsageError(f"{what}{'s' if len(bad) > 1 else ''} {' and '.join(shown(n) for n in bad)}: {rule}; "
                     f"{'; '.join(told)}{':' if pasted and not rest else ''}{pasted}")


def _each_name_once(line: list[str], names: set[str]) -> list[str]:
    """``line`` (the words typed after `kmeshctl`) with a name of ``names`` given again left
    out (`enable-ns default Default` mended: `enable-ns default`, not `default default`); a
    flag's value is no name."""
    from kmeshctl.cli.badinput import takes_value

    root = cmdline.INVOKED[0].command if cmdline.INVOKED else None
    kept: list[str] = []
    seen: set[str] = set()
    value_next = False
    for word in line:
        if value_next:
            value_next = False
        elif word.startswith("-") and word not in ("-", "--") and "=" not in word:
            option = cmdline.option_below(root, word) if root is not None else None
            value_next = word in cmdline.GLOBAL_FLAGS or (option is not None and takes_value(option))
        elif word in names and word in seen:
            continue
        else:
            seen.add(word)
        kept.append(word)
    return kept


def _flags_after_separator(what: str, bad: list[str]) -> None:
    """`enable-ns -- -n foo`: a flag typed after `--` was read as a name; a UsageError
    saying so, with the line without the `--` (kubectl's -n foo as the name foo)."""
    from kmeshctl.cli.option_hints import names_without_separator

    args = list(cmdline.ARGS)
    at = cmdline.separator_at(args)
    flags = [name for name in bad if name.startswith("-") and name in args[at + 1:]]
    if not flags:
        return
    raise UsageError(f"{flags[0]} came after `--`, so it was read as a {what} name, not a flag (every word after "
                     f"`--` is one), and it is none{names_without_separator(args)}")


def meant_words(value: str) -> list[str] | None:
    """The namespace names ``value`` most likely means (meant_namespace), a list separated
    by commas or spaces (`a,b`, a quoted `'a b'`: the arguments are words) as one name
    each; None when some part means none."""
    parts = [part for part in re.split(r"[,\s]+", value) if part] if re.search(r"[,\s]", value) else [value]
    if not parts:
        return None
    found = [part if DNS1123_LABEL_RE.match(part) else meant_namespace(part) for part in parts]
    return None if any(name is None for name in found) else list(dict.fromkeys(found))  # type: ignore[arg-type]


def _words_replaced(args: list[str], meant: dict[str, list[str]], after_separator: bool = False) -> list[str]:
    """``args`` with each word before `--` (``after_separator``: after it too, where the
    names are the arguments: `enable-ns -- NAME`) that is a key of ``meant`` given as its
    words instead: the line a user meant, every name mended at once."""
    end = len(args) if after_separator else cmdline.separator_at(args)
    kept: list[str] = []
    for word in args[:end]:
        kept += meant[word] if word in meant else [word]
    return kept + list(args[end:])


def meant_line(value: str, meant: str) -> str:
    """`kmeshctl ...`: the line as typed with ``value`` given as ``meant``."""
    return f"`{shlex.join(['kmeshctl', *with_value_replaced(cmdline.ARGS, value, meant)])}`"


def _check_other(ctx: _click.Context, param: _click.Parameter, value: str, args: list[str]) -> None:
    try:
        _other_checks()[param.name or ""](value)
    except UsageError as err:
        typed = source_name(ctx, param, args)
        long = "--" + (param.name or "").replace("_", "-")
        message = str(err)
        raise UsageError(typed + message[len(long):] if message.startswith(long) else message) from None


# (command words...) -> a better error for a name flag its check refused, read where the
# command knows more (`status -n Kmesh`: where kmesh is installed, kmeshctl.cli.cluster).
NAME_ERROR_READERS: dict[tuple[str, ...], Callable[[UsageError, Mapping[str, Any]], UsageError]] = {}


def names_checked(command: _click.Command, args: Callable[[], list[str]]) -> None:
    """Wrap ``command``'s callback: its name flags are checked before it runs."""
    callback = command.callback
    if callback is None or getattr(callback, "_names_checked", False):
        return

    def checked(*positional: Any, **values: Any) -> Any:
        from typer._click.globals import get_current_context

        ctx = get_current_context()
        try:
            check_name_flags(ctx, values, args())
        except UsageError as error:
            reread = NAME_ERROR_READERS.get(tuple(ctx.command_path.split()[1:]))
            raise (error if reread is None else reread(error, values)) from None
        return callback(*positional, **values)

    checked._names_checked = True  # type: ignore[attr-defined]
    command.callback = checked



def example_name(param: _click.Parameter) -> str:
    """A name ``param`` (a name flag) accepts, for an example; empty for other flags."""
    from kmeshctl.sandbox.state import NAME_ENV

    rule = _RULES.get(param.name or "")
    if rule is not None:
        return _example(param, rule)
    if param.name == "sandbox" or getattr(param, "envvar", None) == NAME_ENV:
        return "demo"
    return {"cluster_id": "c1"}.get(param.name or "", "")


# ------------------------------------------------------------------ kubectl exec's TYPE/NAME

POD_TYPES = ("pod", "pods", "po")
DEPLOYMENT_TYPES = ("deploy", "deployment", "deployments", "deployment.apps", "deployments.apps")
# what kubectl exec also takes (it picks one of their pods) and the sandbox has not
OTHER_TYPES = ("svc", "service", "services", "sts", "statefulset", "statefulsets", "ds", "daemonset",
               "daemonsets", "rs", "replicaset", "replicasets", "job", "jobs")


def split_exec_target(word: str) -> tuple[str, str]:
    """kubectl exec's `TYPE/NAME` read: ("pod", NAME) for pod/NAME, ("deploy", NAME) for
    deploy/NAME or deployment/NAME, ("other", TYPE) for another kind, ("namespace", NS)
    for NS/NAME (kubectl takes no namespace there: -n NS NAME); ("", word) for a bare name."""
    head, slash, name = word.partition("/")
    if not slash:
        return "", word
    kind = head.lower()
    if kind in POD_TYPES:
        return "pod", name
    if kind in DEPLOYMENT_TYPES:
        return "deploy", name
    if kind in OTHER_TYPES:
        return "other", head
    return "namespace", head


# ------------------------------------------------------------------ a positional word as a flag's value

RUN_ID = re.compile(r"[0-9a-fA-F]{6}\Z")  # bench cleanup --run-id: the ids bench prints


def flag_value_check(param: _click.Parameter, command_words: tuple[str, ...]) -> Callable[[str, str], None] | None:
    """The check option ``param`` of the command ``command_words`` (`waypoint delete`)
    applies to its value, as check(flag, value) raising UsageError; None for a flag
    without one. A value typed as a positional argument passes it before a fix offers the
    flag with it (a fix that is refused when pasted helps no one)."""
    name = param.name or ""
    rule = _RULES.get(name)
    if rule is not None:
        return lambda flag, value: _check(flag, value, *rule[:3], _example(param, rule))
    if name == "name" and command_words[:1] == ("waypoint",):
        return check_waypoint_name
    if next((o for o in param.opts if o.startswith("--")), "") == "--sandbox":  # a sandbox to use, not to make
        return check_existing_sandbox
    if name == "name" and command_words[:1] == ("sandbox",) and command_words[1:2] != ("up",):
        return _check_sandbox_to_remove if command_words[1:2] == ("down",) else check_existing_sandbox
    return _VALUE_CHECKS.get(name)


def check_waypoint_name(flag: str, value: str, example: str = "waypoint") -> None:
    """A waypoint's --name (its Gateway's, Service's, Deployment's name): `waypoint` commands' one check
    (demo traffic-shift's --waypoint too, ``example`` its own). The name meant, as a line to
    paste: kubectl's `gateway/east` (TYPE/NAME) offers east, `East` east; a list
    (`east,west`) is one name per run: the line for each."""
    from kmeshctl.params import DNS1123_LABEL_RE

    typed = typed_on_line(value)

    def line(name: str) -> str:  # the line typed with ``name``; none for a value not typed on it
        return f" {meant_line(value, name)}" if typed else ""

    if DNS1123_LABEL_RE.match(value):
        if not value[0].isdigit():
            return  # the waypoint's Service has its name too: an RFC 1035 label starts with a letter
        mended = line(_lettered(value))
        raise UsageError(f"{given_text(flag, value)}: not a valid waypoint name (its Service's name too: "
                         f"{WAYPOINT_RULE}); e.g. {given_text(flag, _lettered(value))}"
                         f"{':' if mended else ''}{mended}")
    said = f"{given_text(flag, value)}: not a valid waypoint name ({WAYPOINT_RULE})"
    refusal = namespaced_refusal(flag, value, said, _WAYPOINT_RE)
    if refusal is not None:
        raise refusal
    meant = meant_object_name(value, DNS1123_LABEL_RE)
    if meant is not None:
        meant = _lettered(meant)
        raise UsageError(f"{said}; did you mean {given_text(flag, meant)} (kubectl's TYPE/NAME, the name alone)?"
                         f"{line(meant)}")
    found = [_lettered(name) for name in meant_words(value) or []]
    if len(found) > 1:  # never the default waypoint as an example: another target
        lines = ", then ".join(line(name).strip() or given_text(flag, name) for name in found)
        raise UsageError(f"{given_text(flag, value)}: names several waypoints ({flag} takes one per run): {lines}")
    if found:
        raise UsageError(f"{said}; did you mean {given_text(flag, found[0])}?{line(found[0])}")
    raise UsageError(f"{said}, e.g. {flag} {example}")


# a waypoint's name is its Service's too: an RFC 1035 label (a letter first)
_WAYPOINT_RE = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?\Z")
WAYPOINT_RULE = ("an RFC 1035 label: at most 63 lower-case letters, digits or '-', starting with a letter and "
                 "ending with a letter or digit")


def _lettered(name: str) -> str:
    """``name`` (an RFC 1123 label) made a waypoint name: `1abc` -> w-1abc (63 at most)."""
    return name if not name[0].isdigit() else f"w-{name}"[:63].rstrip("-")


def meant_spelling(value: str, pattern: re.Pattern[str]) -> str | None:
    """The name ``value`` most likely means when it is none (`Netutils` -> netutils,
    `kmesh_l4` -> kmesh-l4): lower-cased, '_' as '-', when ``pattern`` takes that; else None."""
    meant = value.strip().lower().replace("_", "-")
    return meant if meant != value and pattern.match(meant) else None


def meant_value_hint(flag: str, value: str, meant: str) -> str:
    """`; did you mean --pod kmesh-5jnht? `kmeshctl ...``: ``value`` of ``flag`` given as
    ``meant`` (an argument's metavar, `POD`, says the value alone); the line only when
    ``value`` was typed on it."""
    said = given_text(flag, meant) if flag.startswith("-") else meant
    return f"; did you mean {said}?" + (f" {meant_line(value, meant)}" if typed_on_line(value) else "")


def check_pod_word(what: str, value: str, typed: str = "") -> None:
    """A pod name (params.check_pod_name), the one meant offered with its line (`Netutils`);
    ``typed``: the word it came from (kubectl's `pod/Netutils`), said and mended whole."""
    from kmeshctl.params import check_pod_name

    try:
        check_pod_name(what, value)
    except UsageError as err:
        meant = meant_spelling(value, _SUBDOMAIN)
        prefix = typed[:-len(value)] if typed.endswith(value) and value else ""
        said = str(err).replace(f"{what} {shown(value)}:", f"{what} {shown(prefix + value)}:", 1)
        if meant is None:
            raise UsageError(said) from None
        raise UsageError(f"{said}{meant_value_hint(what, prefix + value, prefix + meant)}") from None


def check_choice_list(flag: str, value: str, known: Iterable[str]) -> tuple[str, ...]:
    """params.check_choices, an item spelled in another case or with '_' for '-'
    (`--paths kmesh_l4`) offered as the name meant, with the line (every item mended)."""
    from kmeshctl.params import check_choices

    known = tuple(known)
    try:
        return check_choices(flag, value, known)
    except UsageError as err:
        items = [item.strip() for item in value.split(",") if item.strip()]
        meant = [_meant_choice(item, known) for item in items]
        mended = list(dict.fromkeys(m for m in meant if m))  # each once, in the order typed
        if not all(meant) or mended == items:  # a name meaning none of them: no line guesses it away
            raise
        said = str(err) if " is given twice; " in str(err) else str(err).partition("; use ")[0]
        raise UsageError(said + meant_value_hint(flag, value, ",".join(mended))) from None


def _meant_choice(item: str, known: tuple[str, ...]) -> str | None:
    """The name of ``known`` list item ``item`` most likely means: itself; spelled in another
    case or with '_' for '-' (`kmesh_l4`); without its '-' (`paced1k`); one letter off
    (`diect`); else None."""
    import difflib

    if item in known:
        return item
    folded = item.lower().replace("_", "-")
    for name in known:
        if folded in (name, name.replace("-", "")) or folded.replace("-", "") == name.replace("-", ""):
            return name
    close = difflib.get_close_matches(folded, known, n=1, cutoff=0.8)
    return close[0] if close else None


def typed_on_line(value: str) -> bool:
    """Whether ``value`` was typed on this command line (a line to paste can replace it)."""
    return bool(value) and with_value_replaced(cmdline.ARGS, value, "") != list(cmdline.ARGS)


# kubectl's TYPE/NAME (`gateway/east`, `pod/kmesh-5jnht`, `gateways.gateway.networking.k8s.io/east`)
_TYPED_NAME = re.compile(r"\A(?P<type>[A-Za-z][\w.-]*)/(?P<name>[^/]+)\Z")
# the TYPE words of the kinds kmeshctl's name flags name (a RESOURCE.GROUP is one too); any
# other word before the `/` is a namespace (`default/east`: istioctl's and kubectl get's NS/NAME)
KIND_WORDS = frozenset({"gateway", "gateways", "gtw", "node", "nodes", "no", "serviceaccount",
                        "serviceaccounts", "sa", *POD_TYPES, *DEPLOYMENT_TYPES, *OTHER_TYPES})


def meant_object_name(value: str, pattern: re.Pattern[str]) -> str | None:
    """The NAME of kubectl's TYPE/NAME ``value`` when ``pattern`` takes it (lower-cased);
    None for a value of no such form, a NAME that is no name either, or NAMESPACE/NAME
    (namespaced_name: the name alone would be looked up in another namespace)."""
    found = _TYPED_NAME.match(value.strip())
    if found is None or namespaced_name(value, pattern) is not None:
        return None
    kind = found.group("type").lower()
    if "." not in kind and kind not in KIND_WORDS:  # `Team_A/wp1`: a namespace misspelled, no TYPE: the
        return None  # name alone would be looked up in the default namespace
    name = found.group("name").lower()
    return name if pattern.match(name) else None


def namespaced_name(value: str, pattern: re.Pattern[str]) -> tuple[str, str] | None:
    """(NAMESPACE, NAME) of ``value`` written NAMESPACE/NAME (`default/east`: the word before
    the `/` no kind's TYPE), both valid (lower-cased, a namespace mended as meant_namespace
    mends it: `Team_A` -> team-a); else None."""
    from kmeshctl.params import DNS1123_LABEL_RE, meant_namespace

    found = _TYPED_NAME.match(value.strip())
    if found is None or "." in found.group("type") or found.group("type").lower() in KIND_WORDS:
        return None
    namespace, name = found.group("type").lower(), found.group("name").lower()
    if not DNS1123_LABEL_RE.match(namespace):  # `Team_A/wp1`: the namespace it spells
        namespace = meant_namespace(namespace) or namespace
    return (namespace, name) if DNS1123_LABEL_RE.match(namespace) and pattern.match(name) else None


def namespaced_line(value: str, namespace: str, name: str) -> str:
    """`kmeshctl ...`: the line as typed with ``value`` given as ``name`` and -n ``namespace``
    (where a -n/--namespace was typed, else added)."""
    from kmeshctl.rollout import set_flag

    words = with_value_replaced(cmdline.ARGS, value, name)
    spelled = "--namespace" if any(w == "--namespace" or w.startswith("--namespace=") for w in words) else "-n"
    return f"`{shlex.join(['kmeshctl', *set_flag(words, spelled, namespace)])}`"


def namespaced_refusal(flag: str, value: str, said: str, pattern: re.Pattern[str]) -> UsageError | None:
    """The refusal of ``value`` written NAMESPACE/NAME, with the line that gives the name alone
    and the namespace with -n (a line with the name alone would act in another namespace);
    with a -n typed that names another namespace, both lines (the tool picks neither: a
    delete must not act in a namespace the user did not mean). `ns/NAME` is kubectl's
    TYPE/NAME of a namespace: -n NAME."""
    namespace_type = _namespace_typed(value)
    if namespace_type is not None:
        return _namespace_given_as_name(flag, value, said, namespace_type)
    split = namespaced_name(value, pattern)
    if split is None:
        return None
    namespace, name = split
    typed_namespace = typed_value(cmdline.ARGS, "-n", "--namespace")
    if typed_namespace not in (None, namespace) and typed_on_line(value):
        spelled = "--namespace" if _namespace_spelled_long() else "-n"
        return UsageError(f"{said}; {value} and {spelled} {typed_namespace} name two namespaces; "
                          f"give one: {namespaced_line(value, namespace, name)} or "
                          f"{namespaced_line(value, typed_namespace, name)}")
    line = f" {namespaced_line(value, namespace, name)}" if typed_on_line(value) else ""
    return UsageError(f"{said}; {flag} takes the name alone and -n the namespace (NAMESPACE/NAME): did you mean "
                      f"{given_text(flag, name)} -n {namespace}?{line}")


_NAMESPACE_TYPES = frozenset({"ns", "namespace", "namespaces"})


def _namespace_typed(value: str) -> str | None:
    """NAME of kubectl's `ns/NAME` (`namespace/NAME`) when it is a namespace name; else None."""
    from kmeshctl.params import DNS1123_LABEL_RE

    found = _TYPED_NAME.match(value.strip())
    if found is None or found.group("type").lower() not in _NAMESPACE_TYPES:
        return None
    name = found.group("name")
    return name if DNS1123_LABEL_RE.match(name) else None


def _namespace_spelled_long() -> bool:
    return any(w == "--namespace" or w.startswith("--namespace=") for w in cmdline.ARGS)


def _namespace_given_as_name(flag: str, value: str, said: str, namespace: str) -> UsageError:
    """`ns/default` given where a name goes: a namespace (kubectl's TYPE/NAME), not a name;
    for a stray word, the line without it, with -n NAME (when -n names no other namespace);
    given as FLAG's value, the name is still to give (no line: none is known)."""
    typed_namespace = typed_value(cmdline.ARGS, "-n", "--namespace")
    spelled = "--namespace" if _namespace_spelled_long() else "-n"
    hint = f"{said}; {value} is kubectl's TYPE/NAME of namespace {namespace}, and the namespace goes with {spelled}"
    words = _without_stray(list(cmdline.ARGS), value, flag)
    if words is None:
        return UsageError(f"{hint}: did you mean {spelled} {namespace} and {flag} with the name alone?")
    if typed_namespace not in (None, namespace):
        return UsageError(f"{hint}, and {spelled} {typed_namespace} names another; give one: "
                          f"`{shlex.join(['kmeshctl', *_set_flag(words, spelled, namespace)])}` or "
                          f"`{shlex.join(['kmeshctl', *words])}`")
    return UsageError(f"{hint}: did you mean {spelled} {namespace}? "
                      f"`{shlex.join(['kmeshctl', *_set_flag(words, spelled, namespace)])}`")


def _set_flag(words: list[str], flag: str, value: str) -> list[str]:
    from kmeshctl.rollout import set_flag

    return set_flag(words, flag, value)


def _without_stray(words: list[str], value: str, flag: str) -> list[str] | None:
    """``words`` without ``value`` typed as a stray word (not as ``flag``'s value); None when
    it is ``flag``'s value."""
    end = cmdline.separator_at(words)
    at = next((i for i in range(end) if words[i] == value and (i == 0 or words[i - 1] != flag)), None)
    return None if at is None else [*words[:at], *words[at + 1:]]


def _check_sandbox_name(flag: str, value: str) -> None:
    from kmeshctl.sandboxes import checked_name

    try:
        checked_name(value, flag)
    except UsageError as err:
        refusal = fitted_sandbox_refusal(flag, value) if str(err).endswith(f"e.g. {flag} demo") else None
        raise (refusal or err) from None


def check_existing_sandbox(flag: str, value: str) -> None:
    """--sandbox names a sandbox to use: one that exists, or whose failed `up` left its logs
    (the command then says it failed, with the line that makes it again); a stray word is
    offered as one only then."""
    from kmeshctl import sandboxes

    _check_sandbox_name(flag, value)
    if value not in sandboxes.names() and value not in sandboxes.failed_up_names():
        raise UsageError(f"{flag} {value}: no sandbox has this name ({sandboxes.known_text()})")


def _check_sandbox_to_remove(flag: str, value: str) -> None:
    """`sandbox down`'s --name: a sandbox, or the logs a failed `up` left (down removes those too)."""
    from kmeshctl import sandboxes

    _check_sandbox_name(flag, value)
    if value not in sandboxes.failed_up_names():
        check_existing_sandbox(flag, value)


def _check_files(flag: str, value: str) -> None:
    """-f/--filename of `sandbox up`: a YAML file or a directory of them, or - (stdin)."""
    from kmeshctl.cli.outpaths import FILE_OR_DIRECTORY, check_input_path
    from kmeshctl.sandbox.manifests import STDIN

    if value != STDIN:
        check_input_path(flag, Path(value), FILE_OR_DIRECTORY, "give a Kubernetes YAML file or a directory of them "
                                                               "(or - for stdin)")


def _check_cluster_id(flag: str, value: str) -> None:
    from kmeshctl.params import check_cluster_id

    check_cluster_id(value, flag)


def _check_map(flag: str, value: str) -> None:
    from kmeshctl.dump import check_map_name

    check_map_name(value)


def check_run_id(flag: str, value: str) -> None:
    """bench cleanup's --run-id: the 6 hex digits bench prints (the one check of it)."""
    from kmeshctl.params import bad_value

    if not RUN_ID.match(value):
        raise bad_value(flag, value, "not a run id", "the 6 hex digits of the id in the bench output, e.g. 3f9a1c")


def _check_weights(flag: str, value: str) -> None:
    """What holds for --weights whatever the target's subsets (whole numbers adding up to 100)."""
    from kmeshctl import demo

    demo.parse_weight_sets(value, demo.fortio_demo()[1], check_count=False)


def _check_bpffs(flag: str, value: str) -> None:
    from kmeshctl.nodecheck import check_bpffs_dir

    check_bpffs_dir(Path(value), flag)


_VALUE_CHECKS: dict[str, Callable[[str, str], None]] = {
    "name": _check_sandbox_name, "sandbox": _check_sandbox_name, "cluster_id": _check_cluster_id,
    "map_name": _check_map, "run_id": check_run_id, "weights": _check_weights, "bpf_fs": _check_bpffs,
    "files": _check_files,
}


def accepted_values(param: _click.Parameter, command_words: tuple[str, ...]) -> tuple[list[str], str] | None:
    """(the values on this machine ``param`` of the command ``command_words`` takes, the
    command that makes one when there is none) for a flag that names something existing
    (a sandbox); None for any other flag (its values are not listed)."""
    from kmeshctl import sandboxes

    check = flag_value_check(param, command_words)
    if check is check_existing_sandbox:
        return sandboxes.names(), "kmeshctl sandbox up"
    if check is _check_sandbox_to_remove:
        return sorted({*sandboxes.names(), *sandboxes.failed_up_names()}), "kmeshctl sandbox up"
    return None
