"""`kmeshctl render`: print the validated install manifests, offline.

The option declarations here are shared with `install` (kmeshctl/cli/cluster.py): use
the `...Option` aliases in its signature; `kmeshctl.params.install_params` checks them.
"""

from __future__ import annotations

import json
import re
import shlex
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Callable, Optional, Sequence

import typer

from kmeshctl.cli.badinput import typed_target, typed_value
from kmeshctl.cli.cmdline import QUIET_FLAGS
from kmeshctl.cli.common import app, check_namespace_flags, print_yaml_documents, run_options
from kmeshctl.cli.suggestions import flag_as_typed
from kmeshctl.cli.outpaths import FILE_OR_PIPE, check_input_path
from kmeshctl.errors import UsageError
from kmeshctl.params import (
    BadXdsAddress,
    DEFAULT_IMAGE,
    DEFAULT_ISTIO_NAMESPACE,
    DEFAULT_KUBERNETES_VERSION,
    DEFAULT_NAMESPACE,
    XDS_ADDRESS_EXAMPLE,
    InstallParams,
    install_params,
    normalize_kubernetes_version,
)
from kmeshctl.render import POD_PATCH_POLICY_SINCE, left_out, parse_manifests, render_yaml
from kmeshctl.sandboxes import Typed, read_typed_with
from kmeshctl.validate import crd_schemas_from_files, validate_offline


class ManifestFormat(str, Enum):
    yaml = "yaml"
    json = "json"


REQUIRED = "(required)"  # in help, as kubectl's and cilium's: a flag the command cannot run without
_XDS_HELP = f"istiod's xDS Service, e.g. {XDS_ADDRESS_EXAMPLE} (ASM: the istiod-<revision> Service)"
XdsAddressOption = Annotated[  # install: found in --istio-namespace when left out
    Optional[str],
    typer.Option(
        "--xds-address",
        metavar="HOST:PORT",
        help=f"{_XDS_HELP}; default: found in --istio-namespace (required with --dry-run when no cluster "
             "is configured).",
    ),
]
RenderXdsAddressOption = Annotated[
    Optional[str], typer.Option("--xds-address", metavar="HOST:PORT", help=f"{_XDS_HELP}. {REQUIRED}"),
]
ClusterIdOption = Annotated[
    Optional[str],
    typer.Option("--cluster-id", metavar="ID",
                 help=f"Id of this cluster as istiod knows it (ACK: the cluster id). {REQUIRED}"),
]
ImageOption = Annotated[str, typer.Option("--image", help="Node agent image.")]
NamespaceOption = Annotated[str, typer.Option("-n", "--namespace", help="Namespace install creates for the node agent.")]
RenderNamespaceOption = Annotated[str, typer.Option(
    "-n", "--namespace", help="Namespace the manifests put the node agent in (install creates it).")]
ModeOption = Annotated[str, typer.Option("--mode", metavar="dual-engine", help="Data-plane mode (only dual-engine).",
                                         autocompletion=lambda incomplete: ["dual-engine"])]
EnableBypassOption = Annotated[
    bool,
    typer.Option("--enable-bypass/--no-enable-bypass", help="Never redirect pods labelled kmesh.net/bypass=enabled."),
]
EnableBpfLogOption = Annotated[
    bool, typer.Option("--enable-bpf-log/--no-enable-bpf-log", help="Let the BPF programs write debug logs.")
]
IstioNamespaceOption = Annotated[
    str, typer.Option("--istio-namespace", help="Istio root namespace (istiod, the waypoint EnvoyFilters).")
]
_KUBERNETES_VERSION_HELP = (
    "The cluster's Kubernetes version: the schemas validated against, and what is rendered (before 1.30 the "
    "ValidatingAdmissionPolicy that lets the agent patch only pods on its own node is left out, with a warning)")
KubernetesVersionOption = Annotated[
    str, typer.Option("--kubernetes-version", metavar="MAJOR.MINOR", help=_KUBERNETES_VERSION_HELP + ".")
]
# install: not typed (None) is the cluster's own version, as helm's and istioctl's
ClusterKubernetesVersionOption = Annotated[
    Optional[str], typer.Option("--kubernetes-version", metavar="MAJOR.MINOR", show_default=False, help=(
        _KUBERNETES_VERSION_HELP + f"; default: the cluster's (offline {DEFAULT_KUBERNETES_VERSION})."))
]
NetworkOption = Annotated[
    str, typer.Option("--network", metavar="NAME", help="The nodes' network (Istio's NETWORK: for the "
                      "NETWORK routing preference and multi-network meshes; default: the default network).")
]
CrdFileOption = Annotated[
    Optional[list[Path]],
    typer.Option(
        "--crd-file",
        metavar="PATH",
        help="YAML file of CRDs to validate Istio kinds against (repeatable; offline).",
    ),
]
OutputOption = Annotated[ManifestFormat, typer.Option("-o", "--output", help="Manifest format: yaml or json.")]
# install's -o does a different thing in each mode: its help says both (no "[default: yaml]":
# without -o and --dry-run install prints one line per object).
InstallOutputOption = Annotated[ManifestFormat, typer.Option(
    "-o", "--output", metavar="yaml|json", show_default=False,
    help="With --dry-run: the manifests' format (default yaml). Otherwise: print the result of each apply "
         "as one YAML / JSON document (applied, changed; after a failure also notApplied, error) instead "
         "of the default one line per object.")]


def _flag_words(param: Any, value: Any) -> list[str]:
    """``value`` of ``param`` as words of a command line (`--crd-file a --crd-file b`,
    `--no-enable-bypass`, `-o json`), the flag as the user typed it."""
    if isinstance(value, bool):
        if value:
            return [param.opts[0]]
        return [param.secondary_opts[0]] if param.secondary_opts else []
    flag = flag_as_typed(param.name)
    values = value if isinstance(value, (list, tuple)) else [value]
    return [word for item in values for word in (flag, _value_word(param, item))]


def _value_word(param: Any, item: Any) -> str:
    """A value as typed: a duration as `8s` (not `8.0`), an enum by its value."""
    if isinstance(item, float) and param.metavar == "DURATION":
        from kmeshctl.asciinum import duration_words

        return duration_words(item)
    if _PIPE_PATH.fullmatch(str(item)):  # `<(...)` was read once: a new shell has no such fd
        return str(param.metavar or "PATH")
    return str(getattr(item, "value", item))


# A path the shell made for `<(...)` (bash /dev/fd/63; zsh /proc/self/fd/12).
_PIPE_PATH = re.compile(r"/(dev|proc/self)/fd/\d+")


def typed_flags_for(words: Sequence[str]) -> list[str]:
    """Every flag typed on the command being run that the command ``words`` (`["render"]`)
    also takes, as words, in that command's order: a suggested form of the same work
    (install -> render) keeps all of them, not only the flags that choose a target."""
    from typer._click.core import ParameterSource
    from typer._click.globals import get_current_context

    ctx = get_current_context()
    target = ctx.find_root().command
    for word in words:
        target = target.commands[word]  # type: ignore[attr-defined]
    running = {p.name for p in ctx.command.params}
    found: list[str] = []
    for param in target.params:
        if param.param_type_name != "option" or param.name not in running or \
                ctx.get_parameter_source(param.name) != ParameterSource.COMMANDLINE:
            continue
        value = ctx.params.get(param.name)
        found += _flag_words(param, value) if value is not None else _as_typed(param)
    return found


def _as_typed(param: Any) -> list[str]:
    """``param``'s flag and value as typed on the line being run: a value click refused is
    None in ctx.params (badinput reads on past it), and a line kept whole keeps it as typed."""
    from kmeshctl.cli import cmdline

    words = list(cmdline.ARGS[:cmdline.separator_at(cmdline.ARGS)])
    for i, word in enumerate(words):
        if word.partition("=")[0] in param.opts:
            return [word] if "=" in word or i + 1 == len(words) else words[i:i + 2]
    return []


def same_work_command(words: Sequence[str], extra: Sequence[str] = ()) -> str:
    """`kmeshctl WORDS FLAGS... EXTRA...`: another command for the work being run, with
    every flag the user typed that it takes (typed_flags_for), ready to paste (an
    ``extra`` flag typed already is not added again). A line ``extra`` makes a dry run
    leaves out what a dry run warns of or refuses (--timeout, --wait: conventions.NEEDS_ON)."""
    typed = typed_flags_for(words)
    if "--dry-run" in extra:
        typed = _without_dry_run_idle(words, typed)
    typed += [] if any(w in QUIET_FLAGS for w in typed) else _quiet_typed()
    return shlex.join(with_required(["kmeshctl", *words, *typed, *_not_typed(extra, typed)]))


def _quiet_typed() -> list[str]:
    """[`-q`] when the line being run has the root's -q/--quiet (every command takes it),
    as typed; a pasted line that dropped it would print what the user silenced."""
    from kmeshctl.cli import cmdline

    args = cmdline.ARGS[:cmdline.separator_at(cmdline.ARGS)]
    return [w for i, w in enumerate(args) if w in QUIET_FLAGS and not (i and args[i - 1] in cmdline.GLOBAL_FLAGS)][:1]


def _without_dry_run_idle(words: Sequence[str], typed: list[str]) -> list[str]:
    """``typed`` (flags of the command ``words``) without those of conventions.NEEDS_ON."""
    from typer._click.globals import get_current_context

    from kmeshctl.cli.cmdline import without_flag
    from kmeshctl.cli.conventions import NEEDS_ON

    command = get_current_context().find_root().command
    for word in words:
        command = command.commands[word]  # type: ignore[attr-defined]
    for param in command.params:
        if param.name in {name for pair in NEEDS_ON for name in pair}:
            for flag in [*param.opts, *getattr(param, "secondary_opts", ())]:
                typed = without_flag(typed, flag, not getattr(param, "is_flag", False))
    return typed


def rerun_line(command: str, flag: str, name: str, after: str = "") -> str:
    """The command being run again on sandbox ``name`` (a kmeshctl.sandboxes.Rerun, which
    the CLI passes to the library): `kmeshctl dump maps --sandbox NAME -o json --map
    km_manage`, every argument and flag typed kept (the sandbox flag replaced), `-- COMMAND`
    last; a fix that drops what the user typed would run another command. Outside a run
    of ``command``: the bare line (kmeshctl.sandboxes.rerun_line)."""
    from kmeshctl.sandboxes import rerun_line as bare_line

    typed = _typed_words(command)
    if typed is None:
        return bare_line(command, flag, name, after)
    path, arguments, options, dashed = typed
    return shlex.join(["kmeshctl", *path, *arguments, _spelled_as_typed(flag), name, *options, *dashed])


def _spelled_as_typed(flag: str) -> str:
    """``flag`` as the user spelled its option on the running command (`--name` for the
    demo's --sandbox/--name when --name was typed); ``flag`` itself when not typed."""
    from typer._click.globals import get_current_context

    from kmeshctl.cli import cmdline
    from kmeshctl.cli.badinput import typed_flag

    ctx = get_current_context(silent=True)
    param = next((p for p in ctx.command.params if flag in getattr(p, "opts", ())), None) if ctx else None
    if param is None:
        return flag
    spelled = typed_flag(param, cmdline.ARGS)  # its longest name when not typed
    words = cmdline.ARGS[:cmdline.separator_at(cmdline.ARGS)]
    return spelled if any(w == spelled or w.startswith(spelled + "=") for w in words) else flag


def this_command(extra: Sequence[str] = (), arguments: Optional[Sequence[str]] = None) -> str:
    """The command being run, ready to paste: `kmeshctl WORDS ARGUMENTS FLAGS... EXTRA...`,
    every argument (or ``arguments`` instead) and flag typed kept, ``extra`` added unless
    typed already. A fix that drops what the user typed would run another command."""
    from typer._click.globals import get_current_context

    ctx = get_current_context()
    path: list[str] = []
    walk = ctx
    while walk.parent is not None:
        path.insert(0, walk.info_name or "")
        walk = walk.parent
    found = _typed_words(shlex.join(["kmeshctl", *path]))
    assert found is not None  # the path is the running command's own
    _, typed_arguments, options, dashed = found
    kept = list(typed_arguments if arguments is None else arguments)
    return shlex.join(["kmeshctl", *path, *kept, *options, *_not_typed(extra, options), *dashed])


def _typed_words(command: str) -> Optional[tuple[list[str], list[str], list[str], list[str]]]:
    """(command words, arguments, options but the sandbox flag, `--` and what follows) of
    the command being run, when it is ``command``'s; None otherwise."""
    from typer._click.globals import get_current_context

    ctx = get_current_context(silent=True)
    if ctx is None:
        return None
    path: list[str] = []
    walk = ctx
    while walk is not None and walk.parent is not None:
        path.insert(0, walk.info_name or "")
        walk = walk.parent
    if command.split()[1:1 + len(path)] != path:
        return None
    options = _without_sandbox_flag(typed_flags_for(path))
    arguments: list[str] = []
    dashed: list[str] = []
    for param in ctx.command.params:
        if param.param_type_name != "argument":
            continue
        value = ctx.params.get(param.name or "")
        values = [str(v) for v in (value if isinstance(value, (list, tuple)) else [value]) if v is not None]
        if str(getattr(param, "metavar", "") or "").startswith("-- "):
            dashed = ["--", *values] if values else []
        else:
            arguments += values
    return path, arguments, options, dashed


def _without_sandbox_flag(words: list[str]) -> list[str]:
    from kmeshctl.sandboxes import SANDBOX_FLAGS

    kept, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word.partition("=")[0] in SANDBOX_FLAGS:
            skip = "=" not in word  # its value is the next word
        else:
            kept.append(word)
    return kept


def _not_typed(extra: Sequence[str], typed: Sequence[str]) -> list[str]:
    """``extra`` (flags, each with its value when it takes one) without the flags ``typed``
    gives already, and without their values."""
    kept: list[str] = []
    skipping = False
    for word in extra:
        if word.startswith("-"):
            skipping = word.partition("=")[0] in {t.partition("=")[0] for t in typed if t.startswith("-")}
            if not skipping:
                kept.append(word)
        elif not skipping:
            kept.append(word)
    return kept


def with_required(words: list[str]) -> list[str]:
    """A suggested `kmeshctl WORDS ...` with an example of each flag the command cannot run
    without that it lacks (`render` needs --xds-address and --cluster-id): pasted, it
    passes the command's own checks."""
    needs = REQUIRED_FLAGS.get(tuple(words[1:2]), ())
    given = {w.partition("=")[0] for w in words if w.startswith("-")}
    return words + [w for flag, value, _ in needs if flag not in given for w in (flag, value)]


def required_flags_error(words: Sequence[str], missing: Sequence[tuple[str, str, str]], why: str,
                         xds_address: Optional[str] = None,
                         istio_namespace: str = DEFAULT_ISTIO_NAMESPACE) -> UsageError:
    """All the required flags left out, in one line (never one per run): ``missing`` is
    (flag, example value, what it gives); ``why`` the reason they are needed, if any.
    `--xds-address and --cluster-id are required (render is offline): give istiod's xDS
    Service and this cluster's id; e.g. `kmeshctl render --xds-address ... --cluster-id c1``.
    An ``xds_address`` typed of a bad form is refused first (UsageError, params'), as the
    example would keep it."""
    refused = ""
    if xds_address is not None:
        from kmeshctl.cli.cmdline import with_value_replaced
        from kmeshctl.istiod import XdsAddressRefused, check_xds_address_offline, settled_address
        from kmeshctl.params import check_xds_address

        try:
            check_xds_address(xds_address)
        except BadXdsAddress as err:  # the example gives the address meant, passing the command's own check
            refused, settled = f"; also {err.problem}", settled_address(err.meant, istio_namespace)
        else:
            try:  # the example keeps the address typed only when it passes (one paste runs)
                check_xds_address_offline(xds_address, istio_namespace,
                                          flag_as_typed("xds_address") or "--xds-address")
            except XdsAddressRefused as err:
                refused = f"; also {err}" if err.found else ""
                settled = err.found[0] if err.found else xds_address
    flags = [flag for flag, _, _ in missing]
    names = " and ".join(flags) if len(flags) <= 2 else ", ".join(flags[:-1]) + f" and {flags[-1]}"
    verb = "is" if len(flags) == 1 else "are"
    gives = " and ".join(what for _, _, what in missing)
    example = same_work_command(words, [w for flag, value, _ in missing for w in (flag, value)])
    if refused:
        example = shlex.join(with_value_replaced(shlex.split(example), xds_address or "", settled))
    return UsageError(f"{names} {verb} required{f' ({why})' if why else ''}: give {gives}{refused}; e.g. `{example}`")


# The offline (client-side) form of a command whose --dry-run asks the API server.
OFFLINE_FORMS = {"install": ["render"]}
DRY_RUN_IS_SERVER = "it is kubectl's --dry-run=server: the API server checks every object, nothing is changed"


def dry_run_value_hint(command: Any, args: Sequence[str], root: Any) -> str:
    """kubectl's `--dry-run=client|server|none` typed on a command whose --dry-run is an
    on/off flag: what kmeshctl's --dry-run is, and the offline form to run instead (with
    the flags typed that it takes). ``command``: the click command being parsed;
    ``args``: the words of the command line; ``root``: the kmeshctl group."""
    value = _dry_run_value(args)
    if value == "none":  # kubectl's "no dry run: change the cluster"
        line = shlex.join(["kmeshctl", *_without_dry_run(args)])
        return f"; kubectl's --dry-run=none is no dry run: leave --dry-run out: `{line}`"
    if value not in ("client", "server"):
        return (f"; {shlex.quote(value) if value else 'an empty value'} is no dry-run mode (kubectl's are client, "
                f"server and none); on/off flags take no value here: write --dry-run ({DRY_RUN_IS_SERVER})")
    offline = OFFLINE_FORMS.get(command.name)
    hint = f"; on/off flags take no value here: write --dry-run ({DRY_RUN_IS_SERVER})"
    if offline is None:
        return hint + "; there is no offline (client) form: with no cluster configured at all, --dry-run " \
                      "prints the objects unchecked"
    target = root
    for word in offline:
        target = target.commands[word]
    typed = _typed_words_for(command, target, args)
    address, note = _xds_address_for_hint(typed, args)
    words = with_required(["kmeshctl", *offline, *typed, *address])
    spelled = [f"{given} given as {as_given}" if as_given else f"{given} left out: {why}"
               for given, as_given, why in _switches_spelled(command, args)]
    said = f" ({', '.join(spelled)})" if spelled else ""
    return hint + f"; the offline (client) form is `{shlex.join(words)}`{said}{note}"


def _dry_run_value(args: Sequence[str]) -> str:
    """The value typed for --dry-run (`--dry-run=none`, or kubectl's old `--dry-run none`)."""
    for i, arg in enumerate(args):
        if arg.startswith("--dry-run="):
            return arg.partition("=")[2]
        if arg == "--dry-run" and i + 1 < len(args) and args[i + 1] in ("client", "server", "none"):
            return args[i + 1]
    return ""


def _without_dry_run(args: Sequence[str]) -> list[str]:
    """``args`` less --dry-run and its value, however typed."""
    kept: list[str] = []
    skip = False
    for i, arg in enumerate(args):
        if skip:
            skip = False
        elif arg.startswith("--dry-run="):
            continue
        elif arg == "--dry-run":
            skip = i + 1 < len(args) and args[i + 1] in ("client", "server", "none")
        else:
            kept.append(arg)
    return kept


def _xds_address_for_hint(typed: Sequence[str], args: Sequence[str]) -> tuple[list[str], str]:
    """The --xds-address words a suggested render needs when none was typed: this
    cluster's istiod when it can be found quickly (several: the first), else istiod's
    unrevisioned Service in the --istio-namespace typed (unknown_xds_address), and the
    note that says so."""
    from kmeshctl.istiod import istiod_address_quickly
    from kmeshctl.params import COMPLETION_LOOKUP_TIMEOUT_S

    if any(word.partition("=")[0] == "--xds-address" for word in typed):
        return [], ""
    kubeconfig = typed_value(args, "--kubeconfig")
    found, looked = istiod_address_quickly(kubeconfig, typed_value(args, "--context"),
                                   typed_value(args, "--istio-namespace") or DEFAULT_ISTIO_NAMESPACE,
                                   COMPLETION_LOOKUP_TIMEOUT_S)
    if len(found) == 1:
        return ["--xds-address", found[0]], ""
    istio_namespace = typed_value(args, "--istio-namespace") or DEFAULT_ISTIO_NAMESPACE
    if found:  # several revisions: the first, the note naming the others
        return ["--xds-address", found[0]], (f" (several istiod Services were found, {', '.join(found)}: "
                                             "pick the one meant)")
    return unknown_xds_address("none was found" if looked else _why_not_looked_up(args), istio_namespace)


def _why_not_looked_up(args: Sequence[str]) -> str:
    """Why istiod could not be looked up in the cluster the typed line names: none is
    configured (kmeshctl.kube.cluster_configured); the kubeconfig named (or, for a
    --context alone, ~/.kube/config) does not exist, named as the user gave it
    (--kubeconfig, else $KUBECONFIG); else it did not answer."""
    from kmeshctl.kube import cluster_configured, missing_kubeconfig_files

    target = typed_target(args)
    if not cluster_configured(target):
        return NO_CLUSTER_FOR_ISTIOD
    missing = missing_kubeconfig_files(target)
    if not missing:
        return CLUSTER_UNREACHABLE_FOR_ISTIOD
    if target.kubeconfig is None:  # --context alone, and no ~/.kube/config
        return f"istiod could not be looked up, --context {target.context} has no kubeconfig ({missing[0]} does " \
               "not exist)"
    source = "--kubeconfig" if typed_value(args, "--kubeconfig") is not None else "$KUBECONFIG"
    named = (f"{source} {missing[0]} does not exist" if len(missing) == 1
             else f"none of the {source} files exist ({', '.join(missing)})")
    return f"istiod could not be looked up, {named}"


NO_CLUSTER_FOR_ISTIOD = "no cluster to look istiod up in"
CLUSTER_UNREACHABLE_FOR_ISTIOD = "the cluster could not be reached to look istiod up"  # configured, not answering


def unknown_xds_address(why: str = NO_CLUSTER_FOR_ISTIOD,
                        istio_namespace: str = DEFAULT_ISTIO_NAMESPACE) -> tuple[list[str], str]:
    """The --xds-address words of a suggested render when istiod's address is not known:
    istiod's unrevisioned Service in ``istio_namespace`` (a line that runs as pasted), and
    the note saying ``why`` it is a guess and when to change it."""
    from kmeshctl.istiod import guessed_xds_address, guessed_xds_note

    return ["--xds-address", guessed_xds_address(istio_namespace)], guessed_xds_note(istio_namespace, why)


def offline_render_hint(why: str = NO_CLUSTER_FOR_ISTIOD) -> str:
    """`kmeshctl render ...` for the work being run, backticked, with the flags typed that
    it takes; with no --xds-address typed, unknown_xds_address's guess and its note, saying
    ``why`` istiod's address is
    not known (CLUSTER_UNREACHABLE_FOR_ISTIOD when a cluster is configured but did not answer)."""
    if any(w.partition("=")[0] == "--xds-address" for w in typed_flags_for(["render"])):
        return f"`{same_work_command(['render'])}`"
    address, note = unknown_xds_address(why, typed_value(typed_flags_for(["render"]), "--istio-namespace")
                                        or DEFAULT_ISTIO_NAMESPACE)
    return f"`{same_work_command(['render'], address)}`{note}"


def _typed_words_for(source: Any, target: Any, args: Sequence[str]) -> list[str]:
    """The option words of ``args`` (a command line that did not parse) that ``target``
    takes too, and -q, as typed: what typed_flags_for gives once a line has parsed."""
    def option(command: Any, flag: str) -> Any:
        return next((p for p in command.params if p.param_type_name == "option"
                     and flag in (*p.opts, *p.secondary_opts)), None)

    kept: list[str] = []
    spelled = {given: as_given for given, as_given, _ in _switches_spelled(source, args)}
    i = 0
    while i < len(args) and args[i] != "--":
        word, i = args[i], i + 1
        if not word.startswith("-") or word == "-":
            continue
        flag, equals, _ = word.partition("=")
        if flag in QUIET_FLAGS and not equals:  # the root's, taken before or after any command
            kept.append(word)
            continue
        param = option(source, flag)
        takes_value = param is not None and not getattr(param, "is_flag", False) and not equals
        value = [args[i]] if takes_value and i < len(args) else []
        i += len(value)
        if param is None or option(target, flag) is None:
            continue
        if getattr(param, "is_flag", False) and equals:  # `--enable-bypass=yes`: the flag as its word says
            kept += [spelled[word]] if spelled.get(word) else []
        else:
            kept += [word, *value]
    return kept


def _switches_spelled(source: Any, args: Sequence[str]) -> list[tuple[str, str, str]]:
    """[(`--enable-bypass=yes`, `--enable-bypass`, "")]: each on/off flag of ``source`` typed
    in ``args`` with a value, as the flag it means (`--no-X` for off), or "" and why it is
    left out (off where the flag has no off form; a value that is no true/false word);
    --dry-run (the form asked about) is not one of them."""
    from kmeshctl.cli.cmdline import FALSE_WORDS, TRUE_FALSE_WORDS

    found: list[tuple[str, str, str]] = []
    for word in args[:args.index("--") if "--" in args else len(args)]:
        flag, equals, value = word.partition("=")
        param = next((p for p in source.params if p.param_type_name == "option" and getattr(p, "is_flag", False)
                      and flag in (*p.opts, *p.secondary_opts)), None)
        if param is None or not equals or flag == "--dry-run":
            continue
        if value.lower() not in TRUE_FALSE_WORDS:
            found.append((word, "", "it is no true/false word"))
            continue
        on = (value.lower() not in FALSE_WORDS) == (flag in param.opts)
        off = param.secondary_opts[0] if param.secondary_opts else ""
        found.append((word, param.opts[0] if on else off, "" if on or off else "off is the default"))
    return found


XDS_ADDRESS_NEEDED = ("--xds-address", XDS_ADDRESS_EXAMPLE, "istiod's xDS Service (HOST:PORT)")
CLUSTER_ID_NEEDED = ("--cluster-id", "c1", "this cluster's id as istiod knows it (ACK: the cluster id)")
# The flags a command cannot run without: a suggestion of it carries an example of each.
REQUIRED_FLAGS = {("render",): (XDS_ADDRESS_NEEDED, CLUSTER_ID_NEEDED)}


def check_crd_files(paths: Optional[list[Path]]) -> None:
    """Each --crd-file an existing file, before anything (render, install)."""
    for path in paths or ():
        check_input_path(flag_as_typed("crd_file"), path, FILE_OR_PIPE, "give a YAML file of CRDs")


def print_manifests(objects: list[dict], output: ManifestFormat, yaml_text: str | None = None) -> None:
    """JSON: one v1 List. YAML: `yaml_text` when given (the rendered templates, with
    their comments; must be the text `objects` were parsed from), else dumped objects."""
    if output is ManifestFormat.json:
        typer.echo(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}, indent=2))
    elif yaml_text is not None:
        typer.echo(yaml_text, nl=False)
    else:
        print_yaml_documents(objects)


@app.command()
def render(
    xds_address: RenderXdsAddressOption = None,
    cluster_id: ClusterIdOption = None,
    image: ImageOption = DEFAULT_IMAGE,
    namespace: RenderNamespaceOption = DEFAULT_NAMESPACE,
    mode: ModeOption = "dual-engine",
    enable_bypass: EnableBypassOption = False,
    enable_bpf_log: EnableBpfLogOption = False,
    istio_namespace: IstioNamespaceOption = DEFAULT_ISTIO_NAMESPACE,
    kubernetes_version: KubernetesVersionOption = DEFAULT_KUBERNETES_VERSION,
    network: NetworkOption = "",
    crd_file: CrdFileOption = None,
    output: OutputOption = ManifestFormat.yaml,
) -> None:
    """Print the install manifests (validated strictly), without a cluster.

    Examples:

      kmeshctl render --xds-address istiod.istio-system.svc:15012 --cluster-id c1
      # as JSON, istiod outside the cluster (ASM) named by its address
      kmeshctl render --xds-address 10.0.0.7:15012 --cluster-id c1 -o json
    """
    check_namespace_flags()
    check_crd_files(crd_file)
    missing = [need for need, value in ((XDS_ADDRESS_NEEDED, xds_address), (CLUSTER_ID_NEEDED, cluster_id))
               if value is None]
    if missing:
        raise required_flags_error(["render"], missing, "render is offline", xds_address, istio_namespace)
    options = dict(image=image, namespace=namespace, mode=mode, enable_bypass=enable_bypass,
                   enable_bpf_log=enable_bpf_log, istio_namespace=istio_namespace,
                   kubernetes_version=kubernetes_version, network=network)
    try:
        params = install_params(xds_address, cluster_id, **options)
    except BadXdsAddress as err:
        raise bad_xds_address_error(["render"], err, istio_namespace,
                                    lambda address: install_params(address, cluster_id, **options)) from None
    check_offline_xds_address(["render"], params.xds_address, params.istio_namespace)
    crds = crd_schemas_from_files(crd_file)
    text = render_yaml(params)
    objects = parse_manifests(text)
    warn_left_out(params, ["render"])
    warn_unvalidated_custom_kinds(validate_offline(objects, params.kubernetes_version, crds), run_options().quiet)
    print_manifests(objects, output, yaml_text=text)


def bad_xds_address_error(command: list[str], error: BadXdsAddress, istio_namespace: str,
                          check: Optional[Callable[[str], Any]] = None) -> UsageError:
    """``error`` as one line with ``command`` to paste: every flag typed kept, --xds-address
    the address meant, settled so the line passes the offline check too (`istiod:15012` is
    istiod.istio-system.svc:15012). When ``check`` (the command's checks of its other
    flags, given that address) refuses another flag as well, both are said and no line is
    offered (it would fail on the other): `--xds-address x: missing port (use --xds-address
    x:15012), and --cluster-id 'a b': not a cluster id; use ...`."""
    from kmeshctl.cli.cluster import command_with
    from kmeshctl.cli.names import settled_with_reason

    flag = flag_as_typed('xds_address') or '--xds-address'
    address, why = settled_with_reason(error.meant, istio_namespace, flag)
    if check is not None:
        try:
            check(address)
        except UsageError as other:
            return UsageError(f"{error.problem}{why} (use {flag} {shlex.quote(address)}), and {other}")
    return UsageError(f"{error.problem}{why}; use `{command_with(command, 'xds_address', address)}`")


def check_offline_xds_address(command: list[str], address: str, istio_namespace: str) -> None:
    """istiod.check_xds_address_offline for a command run without a cluster (render, an
    offline `install --dry-run`): a refusal is one line with ``command`` to paste, every
    flag typed kept and --xds-address set to the address meant (exit 2)."""
    from kmeshctl.cli.cluster import command_with
    from kmeshctl.istiod import XdsAddressRefused, check_xds_address_offline

    try:
        check_xds_address_offline(address, istio_namespace)
    except XdsAddressRefused as error:
        raise UsageError(f"{error}; use `{command_with(command, 'xds_address', error.found[0])}`") from None


def warn_unvalidated_custom_kinds(kinds: list[str], quiet: bool) -> None:
    """One warning line on stderr naming the custom kinds validated without a schema
    (offline, no --crd-file); shared by `render` and offline `install --dry-run`. None
    with -q (``quiet``): a warning is no error."""
    if kinds and not quiet:
        from kmeshctl.cli.common import fix_hint
        from kmeshctl.cli.progress import echo_coloured

        head = f"Warning: {', '.join(kinds)} not schema-validated (no CRD schemas offline); give --crd-file, or run"
        unusable = unusable_cluster_flags()
        if unusable is not None:  # render read none of them: the install line leaves out the ones that fail
            kept, why = unusable
            line = shlex.join(["kmeshctl", *kept, *shlex.split(same_work_command(["install"], ["--dry-run"]))[1:]])
            echo_coloured(f"{head} `{line}` with a reachable cluster ({why})", typer.colors.YELLOW)
            return
        # fix_hint: the pasted install keeps the --kubeconfig / --context typed (the reachable cluster)
        context, note = context_to_choose()
        echo_coloured(fix_hint(f"{head} `{same_work_command(['install'], ['--dry-run', *context])}` "
                               f"with a reachable cluster{note}"), typer.colors.YELLOW)


def unusable_cluster_flags() -> Optional[tuple[list[str], str]]:
    """For a command that reads no cluster (render, completion: the typed --kubeconfig /
    --context are not checked before it runs), when those flags fail their check: (the
    ones that work, as words, and why the others are left out: `--context nope left out:
    no such context in kc1.yaml (contexts: ...)`); None when they work or none was typed."""
    from kmeshctl import kube
    from kmeshctl.cli.cmdline import ARGS

    target = run_options()
    typed = {flag: typed_value(ARGS, flag) for flag in ("--kubeconfig", "--context")}
    # the file alone first (a bad one leaves both out), then the context in it
    for kept_flags, context_checked in (((), False), (("--kubeconfig",), True)):
        try:
            kube.check_given_target(target, typed["--kubeconfig"] is not None,
                                    context_checked and typed["--context"] is not None)
        except UsageError as err:
            kept = [w for flag in kept_flags if typed[flag] is not None for w in (flag, typed[flag])]
            left = [f"{flag} {shlex.quote(value)}" for flag, value in typed.items()
                    if value is not None and flag not in kept_flags]
            return kept, f"{' and '.join(left)} left out: {err.problem}"
    return None


def warn_left_out(params: InstallParams, command: list[str], cluster_version: str = "") -> None:
    """One warning line on stderr naming the objects --kubernetes-version leaves out of
    the install (render.left_out) and why, with ``command`` at the version that renders
    them, every flag typed kept; shared by `render` and `install`. ``cluster_version``:
    the version was the cluster's (install without --kubernetes-version), so the fix is
    upgrading the cluster, not a flag. -q keeps it: the manifests lack a guard
    (docs/usage.md, CLI conventions)."""
    left = left_out(params)
    if not left:
        return
    from kmeshctl.cli.cluster import command_with
    from kmeshctl.cli.common import fix_hint
    from kmeshctl.cli.progress import echo_coloured

    since = ".".join(map(str, POD_PATCH_POLICY_SINCE))
    typed = normalize_kubernetes_version(params.kubernetes_version)
    why = f"the cluster is Kubernetes {cluster_version}" if cluster_version else f"--kubernetes-version is {typed}"
    fix = (f"to have it, upgrade the cluster to {since} or later, then re-run `{same_work_command(command)}`"
           if cluster_version else f"for a cluster of {since} or later: "
           f"`{command_with(command, 'kubernetes_version', since)}`")
    echo_coloured(fix_hint(f"Warning: {' and '.join(left)} left out: the guard that the agent may patch only pods "
                           f"on its own node needs Kubernetes {since}'s ValidatingAdmissionPolicy, and {why}, so "
                           f"the agent may patch any pod; {fix}"), typer.colors.YELLOW)


def context_to_choose() -> tuple[list[str], str]:
    """The --context words a suggested cluster command needs when this run (render: no
    cluster asked) typed none and its kubeconfig has no current-context, or one that is
    none of its contexts (connecting would refuse the line pasted): its one context; with
    several a placeholder and the note listing them. ([], "") otherwise, and when the
    kubeconfig does not load (connecting says why)."""
    import os

    from kmeshctl import kube
    from kmeshctl.errors import KmeshctlError

    target = run_options()
    if target.context is not None or not kube.cluster_configured(target) or \
            (not target.named and kube.running_in_cluster()):
        return [], ""
    path = target.kubeconfig or os.path.expanduser(kube.DEFAULT_KUBECONFIG)
    try:
        kube.check_kubeconfig(path, None, explicit=target.kubeconfig is not None)
        return [], ""
    except KmeshctlError:
        names = kube.context_names(target.kubeconfig)
    if len(names) == 1:
        return ["--context", names[0]], ""
    if not names:
        return [], ""
    return ["--context", CONTEXT_TO_CHOOSE], (f" (kubeconfig {path} has no current-context to use: replace "
                                              f"{CONTEXT_TO_CHOOSE} with one of its contexts, {', '.join(names)})")


CONTEXT_TO_CHOOSE = "CONTEXT"


def typed_now() -> Optional[Typed]:
    """What the running command typed, for the library (kmeshctl.sandboxes.typed_now):
    its path, its -n/--namespace when typed, and rerun_line; None outside a command."""
    from typer._click.core import ParameterSource
    from typer._click.globals import get_current_context

    ctx = get_current_context(silent=True)
    if ctx is None:
        return None
    value = ctx.params.get("namespace")
    typed = ctx.get_parameter_source("namespace") not in (None, ParameterSource.DEFAULT)
    from kmeshctl.cli import cmdline

    line = shlex.join(["kmeshctl", *cmdline.ARGS]) if cmdline.ARGS else ""
    return Typed(ctx.command_path, value if typed and isinstance(value, str) and value else None, rerun_line, line)


read_typed_with(typed_now)
