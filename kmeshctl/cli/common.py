"""The root typer app, global options (--kubeconfig / --context / --version) and output
helpers shared by every command module."""

from __future__ import annotations

import json
from enum import Enum
from typing import Annotated, Any, Optional

import typer
import yaml
from typer._click.core import ParameterSource
from typer._click.globals import get_current_context
from typer.core import TyperCommand

from kmeshctl import __version__
from kmeshctl.cli.cmdline import HELP_OPTION_NAMES
from kmeshctl.cli.conventions import KmeshctlGroup
from kmeshctl.cli.suggestions import as_the_user_reads, flag_as_typed, paste_ready, with_sandbox_name
from kmeshctl.errors import KmeshctlError, spoken_list
from kmeshctl.kube import KubeTarget, kubeconfig_from_env, read_quiet_with
from kmeshctl.params import DEFAULT_REQUEST_TIMEOUT_S

_VERSION_ASKED = "kmeshctl.version_asked"


class _RootGroup(KmeshctlGroup):
    """`kmeshctl --version` prints the version once the line is parsed: alone, as click
    refuses any word it does not expect (`kmeshctl --version extra`: exit 2)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        if ctx.meta.get(_VERSION_ASKED) and not ctx.resilient_parsing:
            _print_version_alone([*ctx._protected_args, *rest])  # the command word, then its arguments
        return rest


app = typer.Typer(
    name="kmeshctl",
    help="Deploy and run a Kmesh-style dual-engine eBPF service mesh with Istio / ASM.\n\n"
         "Examples:\n\n"
         "  # Is the cluster ready? Install the node agents and the waypoint filters\n"
         "  kmeshctl precheck\n"
         "  kmeshctl install --cluster-id c1\n"
         "  # Enroll a namespace; the agents per node and their istiod link\n"
         "  kmeshctl enable-ns default --wait\n"
         "  kmeshctl status -o wide\n"
         "  # The fortio 90/10 demo (cluster, else a local sandbox: root)\n"
         "  kmeshctl demo traffic-shift\n"
         "  kmeshctl sandbox up\n\n"
         "Every command takes -h/--help, and --kubeconfig/--context before or after it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_RootGroup,
    context_settings={"help_option_names": HELP_OPTION_NAMES},
)


def complete_sandbox_names(incomplete: str) -> list[str]:
    """Shell completion of --name / --sandbox: the sandboxes on this machine."""
    from kmeshctl import sandboxes

    try:
        return [n for n in sandboxes.names() if n.startswith(incomplete)]
    except OSError:
        return []


def sandboxes_up_pointer(shown: str) -> str:
    """`sandbox t26a is up: SHOWN `kmeshctl sandbox status --name t26a`` (several: `sandboxes
    a, b are up: ...`), ``shown`` saying what that command shows (`a sandbox's waypoints are
    shown by`): where a command about a cluster points when none is configured; "" when no
    sandbox is up."""
    import shlex

    from kmeshctl import sandboxes

    found = sandboxes.names()
    if not found:
        return ""
    line, _ = with_sandbox_name(["kmeshctl", "sandbox", "status"], found[0] if len(found) == 1 else None)
    up = f"sandbox {found[0]} is up" if len(found) == 1 else f"sandboxes {', '.join(found)} are up"
    return f"{up}: {shown} `{shlex.join(line)}`"


def pointing_at_sandboxes(err: KmeshctlError, shown: str) -> KmeshctlError:
    """``err`` (no cluster configured) pointing at the sandboxes up too (sandboxes_up_pointer:
    ``shown`` says what `sandbox status` shows); ``err`` itself when none is up."""
    pointer = sandboxes_up_pointer(shown)
    return err.pointing_at(pointer) if pointer else err


def complete_contexts(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of --context: the contexts of the kubeconfig in use, the one typed
    on the line (--kubeconfig FILE, before or after the subcommand) first of all."""
    from kmeshctl.kube import context_names

    names = [n for n in context_names(ctx.find_root().params.get("kubeconfig")) if n.startswith(incomplete)]
    # a name starting with `-` is read as a flag when it is a word of its own: only `--context=-dash` takes it
    return names if _completing_glued("--context") else [n for n in names if not n.startswith("-")]


def _completing_glued(flag: str) -> bool:
    """The word being completed is `FLAG=...` (bash's completion passes the words typed in
    $COMP_WORDS, one a line, and the word's index in $COMP_CWORD)."""
    import os

    words = os.environ.get("COMP_WORDS", "").split("\n")
    try:
        word = words[int(os.environ.get("COMP_CWORD", ""))]
    except (ValueError, IndexError):
        return False
    return word.startswith(f"{flag}=")


def completer(values: "list[str] | tuple[str, ...]"):  # type: ignore[no-untyped-def]
    """Shell completion of a free-text option from a fixed list (e.g. --map)."""
    return lambda incomplete: [v for v in values if v.startswith(incomplete)]


# The accepted range of every duration, timeout and count flag (one line naming the flag
# and the range, exit 2, for anything outside: `--timeout inf`, `--duration 1e9`).
MAX_TIMEOUT_S = 86_400  # a day: any wait longer than that is a mistake, not a plan
MAX_RUN_S = 3_600  # one benchmark run, or a warm-up
MAX_REPEATS = 100
PORT_MIN, PORT_MAX = 1, 65_535


class SandboxFlagCommand(TyperCommand):
    """A command that picks a sandbox: its flag takes both spellings (kmeshctl.sandboxes.
    SANDBOX_FLAGS, one parameter, so the sandbox names complete after either); help shows
    only the spelling declared first, the command's own, and its text names the other."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from kmeshctl.sandboxes import SANDBOX_FLAGS

        super().__init__(*args, **kwargs)
        for param in self.params:
            if sorted(getattr(param, "opts", ())) == sorted(SANDBOX_FLAGS):
                _first_spelling_in_help(param)


def _first_spelling_in_help(option: Any) -> None:
    """Help's row of ``option`` names its first spelling alone (`--sandbox NAME`)."""
    record = option.get_help_record

    def first_only(ctx: Any) -> Optional[tuple[str, str]]:
        found = record(ctx)
        return None if found is None else (f"{option.opts[0]} {option.metavar}", found[1])

    option.get_help_record = first_only


def _print_version(ctx: typer.Context, value: bool) -> None:
    if value:
        ctx.meta[_VERSION_ASKED] = True  # printed once the rest of the line is known (_RootGroup)


def _print_version_alone(rest: list[str]) -> None:
    from kmeshctl.errors import UsageError
    from kmeshctl.params import shown

    if rest:
        raise UsageError(f"--version takes no command or argument, got {' '.join(shown(w) for w in rest)}; "
                         "run `kmeshctl --version` alone, or `kmeshctl version` for the agents' versions too")
    typer.echo(__version__)
    raise typer.Exit(0)


@app.callback()
def _global_options(
    ctx: typer.Context,
    kubeconfig: Optional[str] = typer.Option(
        None, "--kubeconfig", envvar="KUBECONFIG", metavar="PATH", help="Path to the kubeconfig file."
    ),
    context: Optional[str] = typer.Option(None, "--context", metavar="NAME", help="Kubeconfig context to use.",
                                          autocompletion=complete_contexts),
    request_timeout: Annotated[float, typer.Option(
        "--request-timeout", metavar="DURATION", min=0, max=MAX_TIMEOUT_S,
        help="How long one Kubernetes API request may take before it is given up (as kubectl's; e.g. 10s, "
             "1m; 0: no limit).")] = DEFAULT_REQUEST_TIMEOUT_S,
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                          help="Print the kmeshctl version and exit.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No line on stderr but errors and the warnings "
                                        "that need a fix (no progress, no `Using sandbox ...` notes); before "
                                        "or after any command.")] = False,
) -> None:
    if ctx.get_parameter_source("kubeconfig") == ParameterSource.ENVIRONMENT:
        kubeconfig = kubeconfig_from_env(kubeconfig)  # `KUBECONFIG=:`: as unset
    ctx.obj = KubeTarget(kubeconfig, context, request_timeout, quiet)


def run_options(ctx: Optional[typer.Context] = None) -> KubeTarget:
    """The global flags of this run (--kubeconfig, --context, --request-timeout, -q), as
    the root callback put them on the context (``ctx``, else the current one): commands
    pass it to kmeshctl.kube and take -q from it. Outside a run (the root callback has
    not run: shell completion), the defaults."""
    ctx = ctx if ctx is not None else get_current_context(silent=True)
    found = ctx.find_root().obj if ctx is not None else None
    return found if isinstance(found, KubeTarget) else KubeTarget()


read_quiet_with(lambda: run_options().quiet)  # a hint's look-up (istiod.ask_quickly) honours -q too


class OutputFormat(str, Enum):
    """-o of every command that prints data: table (default), wide (the table plus its
    detail columns, where it has them, never cut), json, yaml."""

    table = "table"
    wide = "wide"
    json = "json"
    yaml = "yaml"


def output_help(wide: str | tuple[str, ...] | None = "") -> str:
    """-o's help, naming what -o wide adds to this command's table: ``wide``, its own
    detail columns (headers, or words: `the pods' PIDS and LOG columns`), None when it
    has none, "" for the generic words."""
    if isinstance(wide, tuple):
        wide = f"the {spoken_list(wide)} column{'s' if len(wide) > 1 else ''}"
    empty = "its columns empty in every row too"  # the table leaves those out (tables.drop_empty_columns)
    adds = (f"the same table, {empty}: it has no detail columns" if wide is None else f"the table plus {wide}, "
            f"and {empty}" if wide else f"the table plus its detail columns, where it has them, and {empty}")
    return f"Output format: table, wide ({adds}; never cut), json or yaml."


def output_option(wide: str | tuple[str, ...] | None = "") -> Any:
    """The -o option of a command whose -o wide adds ``wide`` (see output_help)."""
    return Annotated[OutputFormat, typer.Option("-o", "--output", metavar="table|wide|json|yaml",
                                                help=output_help(wide))]


OUTPUT_HELP = output_help()
OutputOption = output_option()


def is_data(output: OutputFormat) -> bool:
    return output in (OutputFormat.json, OutputFormat.yaml)


def print_data(data: Any, output: OutputFormat) -> None:
    """JSON or YAML of ``data`` on stdout (a hint in it pastes as the text form's does)."""
    data = _hints_pasteable(json.loads(json.dumps(data, default=str)))
    if output is OutputFormat.yaml:
        typer.echo(yaml.safe_dump(json.loads(json.dumps(data, default=str)), sort_keys=False), nl=False)
    else:
        print_json(data)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def print_yaml_documents(objects: list[dict]) -> None:
    typer.echo(yaml.safe_dump_all(objects, sort_keys=False), nl=False)


def suggest(command: str) -> str:
    """``command`` (a `kmeshctl ...` line to print as a hint) with the flags the user gave
    that it takes too (see kmeshctl.cli.suggestions)."""
    root = get_current_context().find_root().command
    return paste_ready(f"`{command}`", root).strip("`")


def ignore_not_found_fix(words: "list[str] | tuple[str, ...]") -> str:
    """"`kmeshctl sandbox down --name x --ignore-not-found` makes this exit 0": the command
    being run (``words``) with the flags typed, pasteable, for a not-found error."""
    from kmeshctl.cli.render import same_work_command

    return f"`{same_work_command(list(words), ['--ignore-not-found'])}` makes this exit 0"


def fix_hint(message: str) -> str:
    """``message`` as the user reads it: each backticked `kmeshctl ...` / `kubectl ...`
    command made paste-ready (the user's --kubeconfig / --context with it), a value from
    a variable named so (suggestions.as_the_user_reads, as every error line)."""
    ctx = get_current_context(silent=True)
    return as_the_user_reads(message, ctx.find_root().command) if ctx is not None and message else message


def _hints_pasteable(data: Any) -> Any:
    """Every string of ``data`` with its suggested commands made paste-ready."""
    if isinstance(data, str):
        return fix_hint(data) if "`" in data else data
    if isinstance(data, dict):
        return {k: _hints_pasteable(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_hints_pasteable(v) for v in data]
    return data


def check_namespace_flags(*names: str) -> None:
    """The running command's namespace flags (-n/--namespace, --istio-namespace; or the
    parameters ``names``) checked by the RFC 1123 rule, named as typed, before anything
    connects (kmeshctl.namespaces.check_names)."""
    from kmeshctl.namespaces import check_names

    ctx = get_current_context()
    defaults = {p.name: p.default for p in ctx.command.params}
    for name in names or ("namespace", "istio_namespace"):
        if ctx.params.get(name) is not None:
            # the example is one this flag takes: its own default (kmesh-system for kmesh's namespace)
            example = defaults.get(name)
            check_names(flag_as_typed(name), [ctx.params[name]],
                        **({"example": example} if isinstance(example, str) and example else {}))


def with_namespace_line(namespace: str) -> str:
    """`: `kmeshctl ... -n NAMESPACE``: the line typed with its -n/--namespace set to
    ``namespace`` (added when none was typed); "" when that line would not work pasted
    (badinput.line_works)."""
    import shlex

    from kmeshctl.cli import cmdline
    from kmeshctl.cli.badinput import line_works

    args = list(cmdline.ARGS)
    end = cmdline.separator_at(args)
    at = next((i for i, w in enumerate(args[:end]) if cmdline.spelled(w, {"-n", "--namespace"})), None)
    if at is None:
        words = [*args[:end], "-n", namespace, *args[end:]]
    elif args[at] in ("-n", "--namespace") and at + 1 < end:
        words = [*args[:at + 1], namespace, *args[at + 2:]]
    else:  # -n=x, --namespace=x, -nx: the same spelling
        flag = args[at].partition("=")[0] if "=" in args[at] else "-n"
        words = [*args[:at], f"{flag}={namespace}" if "=" in args[at] else f"-n{namespace}", *args[at + 1:]]
    line = ["kmeshctl", *words]
    root = get_current_context().find_root().command
    return f": `{shlex.join(line)}`" if line_works(line, root) else ""


def require_root_with_line(doer: str, what: str) -> None:
    """errors.require_root, its fix the line typed, to run as root: `run it as root:
    `kmeshctl node cleanup --ignore-not-found`` (kmeshctl is on root's PATH too)."""
    import shlex

    from kmeshctl.cli import cmdline
    from kmeshctl.errors import require_root

    try:
        require_root(doer, what)
    except KmeshctlError as err:
        if not cmdline.ARGS:
            raise
        raise KmeshctlError(f"{err.problem}: `{shlex.join(['kmeshctl', *cmdline.ARGS])}`") from None
