"""`kmeshctl sandbox up | down | list | status | exec`: the local single-node sandbox."""

from __future__ import annotations

import functools
import shlex
from pathlib import Path
from enum import Enum
from typing import Annotated, Any, Callable, List, Optional

import typer
from rich.console import Console
from typer import _click as click
from rich.markup import escape
from rich.table import Table

from kmeshctl.cli.tables import EMPTY, cli_console, count_of as counted, print_or_note, wide_only

from kmeshctl import sandboxes
from kmeshctl.cli.common import (OutputFormat, app, complete_sandbox_names, ignore_not_found_fix, is_data,
                                 output_help, output_option, print_data, suggest)
from kmeshctl.cli.common import SandboxFlagCommand, run_options
from kmeshctl.cli import cmdline
from kmeshctl.cli.badinput import COMMAND_HABITS, REQUIRED_ARGUMENTS, typed_value
from kmeshctl.cli.option_hints import POSITIONAL_READERS, plainly
from kmeshctl.cli.suggestions import flag_as_typed
from kmeshctl.cli.outpaths import FILE_OR_DIRECTORY, check_input_path
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.cli.progress import Progress, note
from kmeshctl.cli.names import check_existing_sandbox
from kmeshctl.params import shown
from kmeshctl.sandbox import sandbox as sandbox_mod
from kmeshctl.sandbox.manifests import STDIN, default_files, is_url, kinds_text, url_refused
from kmeshctl.sandbox.state import (DEFAULT_NAME, NAME_ENV, NAME_RULE, PHASE_NOT_READY, PHASE_READY, check_name,
                                   failed_up_logs)
from kmeshctl.stopping import Stopped, leaves, said, say, sigterm_stops, stop_text, stopped_by

sandbox_app = typer.Typer(
    help="A local single-node mesh: pods as network namespaces, the eBPF data path, "
         "a real Envoy waypoint. Needs root.\n\n"
         "Examples:\n\n"
         "  kmeshctl sandbox up --name demo\n"
         "  kmeshctl sandbox list\n"
         "  kmeshctl sandbox status --name demo\n"
         "  kmeshctl sandbox exec netutils --name demo -- curl -sv fortio:80\n"
         "  kmeshctl sandbox down --name demo",
    no_args_is_help=True,
)
app.add_typer(sandbox_app, name="sandbox")


def _sigterm_exits_143(command: Callable[..., None]) -> Callable[..., None]:
    """SIGTERM stops the sandbox command as Ctrl-C does (the same cleanup: kmeshctl.stopping)
    and it exits 143 (Ctrl-C 130) with one line in one wording, `stopped by SIGTERM`; typer
    would turn any KeyboardInterrupt into Ctrl-C's 130 and a bare `Aborted.`."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            with sigterm_stops():
                command(*args, **kwargs)
        except KeyboardInterrupt as err:
            stop = stopped_by(err)
            if not said():  # a signal after the command's own line (up, down): that line stands
                say(stopped_text(stop))
            raise typer.Exit(stop.exit_code) from None

    return run


def stopped_text(stop: Stopped, what: str = "") -> str:
    """The one wording of a sandbox command stopped by a signal, Ctrl-C or SIGTERM alike:
    `stopped by SIGTERM: WHAT` (no ``what``: what the run said it leaves, if anything)."""
    return f"stopped by {stop.how}: {what}" if what else stop_text(stop)

_NAME_HELP = (f"The sandbox (also --sandbox NAME; see `kmeshctl sandbox list`); default: ${NAME_ENV}, else the "
              "only sandbox up (none: an error saying no sandbox is up; several: an error listing them). A name "
              f"is {NAME_RULE}.")
_DOWN_NAME_HELP = (f"The sandbox to remove (also --sandbox NAME); default: ${NAME_ENV}, else the only sandbox up "
                   "or failed `up` on this machine, said on stderr (none: an error, or nothing with "
                   "--ignore-not-found; several: an error listing them). A name is "
                   f"{NAME_RULE}.")
_NEW_NAME_HELP = (f"Name of the new sandbox (also --sandbox NAME; several can coexist): {NAME_RULE}, e.g. demo or "
                  f"team-a; default: '{DEFAULT_NAME}'.")
# --name, and --sandbox as demo and dump spell it (kmeshctl.sandboxes.SANDBOX_FLAGS)
_SPELLINGS = ("--name", "--sandbox")
# From the environment too; an error about a value from there names the variable.
NameOption = typer.Option(None, *_SPELLINGS, metavar="NAME", envvar=NAME_ENV, help=_NAME_HELP,
                          autocompletion=complete_sandbox_names)


def _complete_down_names(incomplete: str) -> list[str]:
    """`sandbox down --name <TAB>`: every sandbox, and the names whose failed `up` left logs."""
    try:
        found = sorted({*sandboxes.names(), *sandboxes.failed_up_names()})
    except OSError:
        return []
    return [n for n in found if n.startswith(incomplete)]


DownNameOption = typer.Option(None, *_SPELLINGS, metavar="NAME", envvar=NAME_ENV, help=_DOWN_NAME_HELP,
                              autocompletion=_complete_down_names)


# `up --name` completes nothing: every sandbox that exists would be refused as already up.
NewNameOption = typer.Option(None, *_SPELLINGS, metavar="NAME", envvar=NAME_ENV, help=_NEW_NAME_HELP,
                             autocompletion=lambda incomplete: [])


def _name(name: Optional[str], other_version_ok: bool = False) -> str:
    """The sandbox name (--name or $KMESHCTL_SANDBOX_NAME, checked); a record another
    kmeshctl version wrote is refused, except where it is removed (``other_version_ok``)."""
    chosen = _checked_name(name) if name else DEFAULT_NAME
    if not other_version_ok:
        sandboxes.check_version(chosen)
    return chosen


def _checked_name(name: str) -> str:
    """--name (or --sandbox) checked, naming the flag as typed; from $KMESHCTL_SANDBOX_NAME,
    in the one wording naming the variable."""
    from kmeshctl.cli.names import fitted_sandbox_refusal
    from kmeshctl.cli.suggestions import given_as

    source = given_as("name")
    try:
        return sandboxes.checked_env_name(name) if source == f"${NAME_ENV}" else sandboxes.checked_name(name, source)
    except UsageError as err:  # the example alone (`e.g. --name demo`): the name fitted to the rule when one is
        fitted = sandboxes.fitted_name(name)  # (the variable's: sandboxes.checked_env_name)
        if source == f"${NAME_ENV}" or not str(err).endswith(f"e.g. {source} demo"):
            raise
        if _removes_what_is_not_there(fitted):  # the name meant, said; a line of it would fail pasted
            if fitted_sandbox_refusal(source, name) is None:
                raise
            raise UsageError(f"{str(err)[:-len(f', e.g. {source} demo')]}; it would be {source} {fitted}, and no "
                             f"sandbox is named {fitted} ({sandboxes.known_text()}): there is nothing to take down") \
                from None
        raise fitted_sandbox_refusal(source, name) or err from None


def _removes_what_is_not_there(name: Optional[str]) -> bool:
    """`sandbox down --name NAME` of no sandbox NAME (and no --ignore-not-found): a line to
    paste would fail, so no name is offered."""
    from typer._click.globals import get_current_context

    ctx = get_current_context(silent=True)
    return ctx is not None and ctx.command.name == "down" and not ctx.params.get("ignore_not_found") and \
        name not in sandboxes.names() and name not in sandboxes.failed_up_names()


def _existing_name(name: Optional[str], other_version_ok: bool = False,
                   command: str = "kmeshctl sandbox status", after: str = "",
                   has: Optional[Callable[[str], bool]] = None, what: str = "") -> str:
    """For the commands that work on a sandbox that exists (status, down, exec): the one
    named; else the only one there is, a failed one included (said on stderr when it is
    not the default); with several and none named, a UsageError listing them with a line
    of ``command`` to paste (kmeshctl.sandboxes.pick decides)."""
    if name:
        return _name(name, other_version_ok)
    from kmeshctl.cli.render import rerun_line

    only = sandboxes.pick(command, after, has, what, rerun_line)
    if only is None:
        raise sandboxes.none_up()  # not `sandbox kmesh not found`: the user named no sandbox
    left = sandboxes.failed_note(only)
    if only != DEFAULT_NAME or left or command == "kmeshctl sandbox down":
        from kmeshctl.cli.progress import note

        why = f"the only one that {what.replace('have ', 'has ', 1)}" if has is not None and len(sandboxes.names()) > 1 else "the only one up"
        note(f"Using sandbox {only} ({why}; --name NAME chooses){left}", run_options().quiet)  # silenced by -q
    return _name(only, other_version_ok)


def _existing_state(name: Optional[str], command: str = "kmeshctl sandbox status", after: str = "",
                    has: Optional[Callable[[str], bool]] = None, what: str = "") -> sandboxes.SandboxState:
    """The record of the sandbox a command works on (see _existing_name); a sandbox that
    does not exist is NotFound (exit 1, as kubectl's), the existing ones listed; one whose
    `up` failed says so."""
    chosen = _existing_name(name, command=command, after=after, has=has, what=what)
    state = sandboxes.load(chosen)
    if state is None:
        raise sandboxes.not_found(chosen)
    return state


def _default_dir() -> str:
    """Where the default manifests of `up` really are (the installed package's copy)."""
    found = default_files()
    return f"{found[0].parent}/" if found else "examples/fortio/ (not installed)"


UP_HELP = f"""Create the sandbox from Kubernetes YAML ({kinds_text()}).

    Progress goes to stderr; the node agent's start includes bcc compiling the eBPF
    programs (tens of seconds). `-f -` reads the YAML from stdin, as kubectl does.

    Examples:

      kmeshctl sandbox up
      kmeshctl sandbox up --name team-a -f examples/fortio/
      kubectl kustomize overlay/ | kmeshctl sandbox up --name b -f -
    """


@sandbox_app.command("up", help=UP_HELP, cls=SandboxFlagCommand)
@_sigterm_exits_143
def up(
    files: Optional[List[Path]] = typer.Option(
        None, "-f", "--filename", metavar="PATH", help="Kubernetes YAML file or directory (repeatable; - reads "
                                                       f"stdin); default: the fortio demo, {_default_dir()}"),
    name: Optional[str] = NewNameOption,
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress lines, only the result."),
) -> None:
    sandbox_name = _name(name)
    flag = flag_as_typed("files")
    files = _comma_split(files)
    for path in files or ():
        if is_url(str(path)):
            raise UsageError(f"{flag} {url_refused(_typed_url(path))}")
        if str(path) != STDIN:
            check_input_path(flag, path, FILE_OR_DIRECTORY, "give a Kubernetes YAML file or a directory of them "
                                                            "(or - for stdin)")
    chosen = files or default_files()
    try:
        plan = sandbox_mod.check_up(sandbox_name, chosen)  # every refusal before "Creating"
    except UsageError as err:
        raise _about_typed_files(err, flag, files or []) from None
    except KmeshctlError as err:  # its fix runs `up` again: this one, as typed
        raise _with_typed_up(err, sandbox_name, chosen) from None
    try:
        with Progress(quiet=quiet) as progress:
            if not quiet:
                typer.echo(f"Creating sandbox {sandbox_name}...", err=True)
            try:
                state = sandbox_mod.up(sandbox_name, chosen, progress, plan)
            except sandbox_mod.NameTaken as err:  # another `up` of the name started at the same time
                raise _with_typed_up(err, sandbox_name, chosen) from None
        leaves(_is_up_text(sandbox_name))  # a stop from here on, up to the exit, says so
        _say_up(sandbox_name, state, plan, quiet)
    except KeyboardInterrupt as err:  # one line even under -q
        stop = stopped_by(err)
        if not said():  # up said why (a `sandbox down` removed it): that line stands
            say(stopped_text(stop, _what_a_stopped_up_left(sandbox_name)))
        raise typer.Exit(stop.exit_code) from None


def _with_typed_up(err: KmeshctlError, name: str, files: List[Path]) -> KmeshctlError:
    """``err`` with the `up` its fix runs again (the library's, the files given) as typed
    here: -f as typed, -q and every other flag kept, sandbox ``name`` named (from
    $KMESHCTL_SANDBOX_NAME too)."""
    from kmeshctl.cli.render import rerun_line

    typed = rerun_line("kmeshctl sandbox up", "--name", name)
    line, text = sandbox_mod.up_line(name, files), str(err)
    for before in ("&& ", "pipe the manifests to `"):  # the fix's own `up`, not a running one it names
        text = text.replace(f"{before}{line}`", f"{before}{typed}`")
    err.args = (text, *err.args[1:])
    return err


def _say_up(name: str, state: sandboxes.SandboxState, plan: Any, quiet: bool) -> None:
    """The warnings and `Sandbox NAME is up. Try: ...`. -q (up's own or the run's) keeps
    the manifests' warnings, which carry a fix (requests that fail until it is made), and
    silences the unenrolled-pods note (how Kmesh works, nothing to fix)."""
    unenrolled = sandbox_mod.unenrolled_note(state)
    if unenrolled:  # a warning, not an error
        note(f"Warning: {unenrolled}", quiet or run_options().quiet)
    for warning in manifest_warnings(getattr(plan, "manifests", None), name):  # accepted, as Kubernetes accepts them
        note(f"Warning: {warning}", False)
    typer.echo(up_hint(name, state))


def _is_up_text(name: str) -> str:
    return f"sandbox {name} is up; remove it with `kmeshctl sandbox down --name {name}`"


def _what_a_stopped_up_left(name: str) -> str:
    """What a stop of `sandbox up` leaves, read from the machine, not from how far the code
    got: a stop before `up` returned has it removed (sandbox_mod.up: `was not created`),
    unless a further signal cut that short (half-created); one after (the signal can
    land between its return and the next line) leaves it up."""
    state = sandboxes.SandboxState.load(name)
    if state is not None and state.phase == PHASE_READY:
        return _is_up_text(name)
    return sandbox_mod.half_made_text(name) or f"sandbox {name} was not created{_logs_kept_text(name)}"


def _logs_kept_text(name: str) -> str:
    """The logs of what a stopped `up` had started, kept as a failed one's (`sandbox list`
    shows NAME failed): where they are and the command that removes them ('' when none)."""
    logs = failed_up_logs(name)
    if not logs.is_dir():
        return ""
    return f"; its logs are kept in {logs} (remove them with `kmeshctl sandbox down --name {name}`)"


def manifest_warnings(manifests: Any, name: Optional[str] = None) -> list[str]:
    """What the manifests leave without a pod to answer (a subset or Service selecting
    none, a targetPort naming no container port) or the demo cannot tell apart: said by
    `up` and `status` alike (``name``: the sandbox, for the lines they offer)."""
    from kmeshctl.sandbox.manifests import Manifests, warnings

    return warnings(manifests, name) if isinstance(manifests, Manifests) else []


def _comma_split(files: Optional[List[Path]]) -> Optional[List[Path]]:
    """kubectl's -f takes a comma-separated list too (`-f a.yaml,b.yaml`): each path given
    with commas that is no file or directory itself read as its parts (a URL as it is:
    refused whole)."""
    if files is None:
        return None
    split: List[Path] = []
    for path in files:
        text = str(path)
        parts = [part for part in text.split(",") if part]
        whole = text == STDIN or "," not in text or path.exists() or is_url(text)
        split += [path] if whole or not parts else [Path(part) for part in parts]
    return split


def _typed_url(path: Path) -> str:
    """The URL as typed: a Path keeps one slash of `https://` (`https:/host/x.yaml`)."""
    from kmeshctl.cli import cmdline

    text = str(path)
    for word in cmdline.ARGS:
        for value in (word, word.partition("=")[2], word[2:] if word.startswith("-f") else ""):
            if value and is_url(value) and str(Path(value)) == text:
                return value
    return text.replace(":/", "://", 1)


def _about_typed_files(err: UsageError, flag: str, files: List[Path]) -> UsageError:
    """A manifest error starts with the file it is about: put the flag before it (`-f
    x.yaml: document 1: ...`), as every other bad value names its flag first."""
    from kmeshctl.cli import cmdline

    message = str(err)
    typed = [str(p) for p in files]
    for path in typed:  # the library writes a directory `DIR/`: as typed when typed without the slash
        slashed = f"{path}/"
        about_it = message.startswith(slashed) and message[len(slashed):len(slashed) + 1] in (":", " ", "")
        if about_it and not any(w == slashed or w.endswith(f"={slashed}") or w == f"-f{slashed}" for w in cmdline.ARGS):
            message = path + message[len(slashed):]
    # the whole path (`-` does not start `--filename -: ...`)
    if any(message.startswith(path) and message[len(path):len(path) + 1] in (":", " ", "/") for path in typed):
        return UsageError(f"{flag} {message}")
    return err


def up_hint(name: str, state: Optional[sandboxes.SandboxState] = None) -> str:
    """`Sandbox NAME is up. Try: ...`: commands that act on sandbox ``name`` when pasted
    (with --name NAME whenever the bare command would pick another one or refuse as
    ambiguous), carrying the flags the user gave; the demo only when ``state`` (the
    sandbox made) has what it needs (in any namespace: `-n NS` when the demo needs it),
    else `dump maps` of the sandbox."""
    from typer._click.globals import get_current_context

    from kmeshctl.cli.suggestions import given_flags

    namespace = _demo_namespace_of(state)
    note = ""
    commands = [sandboxes.for_sandbox("kmeshctl sandbox status", name)]
    demo = sandboxes.for_sandbox("kmeshctl demo traffic-shift", name)
    if get_current_context(silent=True) is not None and "name" in given_flags() and demo.split()[-2:-1] != \
            ["--sandbox"]:
        demo += f" --sandbox {name}"  # named in the demo's own spelling, not carried as the --name typed here
    if namespace:
        demo += f" -n {namespace}"
    if namespace is not None and not _demo_refuses(state):
        from kmeshctl.sandbox.demo_target import judged_again

        commands.append(judged_again(demo, name))  # with the -c its weights need (80/20: 24)
        note = _denied_note(state)
    else:
        commands.append(sandboxes.for_sandbox("kmeshctl dump maps", name, "--sandbox"))
    if get_current_context(silent=True) is not None:
        commands = [suggest(c) for c in commands]
    return f"Sandbox {name} is up. Try: {'; '.join(commands)}{note}"


def one_sandbox_each(command_path: str, names: list[str]) -> str:
    """After `--name a and --name b name two sandboxes; give one`: for `sandbox down`, the
    one line that removes each (`; to remove both: `kmeshctl sandbox down --name a &&
    kmeshctl sandbox down --name b``), else the line typed for each (`, e.g. `...
    --name a` or `... --name b``), every other word typed kept; '' when a name is
    no sandbox's name (its run would be refused)."""
    from kmeshctl.sandbox.state import check_name

    try:
        for name in names:
            check_name(name)
    except UsageError:
        return ""
    words = list(cmdline.ARGS)
    typed = [w.partition("=")[0] for w in words[:cmdline.separator_at(words)]]
    flag = next((w for w in typed if w in sandboxes.SANDBOX_FLAGS), "--name")
    for each in sandboxes.SANDBOX_FLAGS:
        words = cmdline.without_flag(words, each)
    at = cmdline.separator_at(words)
    lines = [shlex.join(["kmeshctl", *words[:at], flag, name, *words[at:]]) for name in dict.fromkeys(names)]
    if command_path.split()[1:3] == ["sandbox", "down"]:
        return f"; to remove both: `{' && '.join(lines)}`"
    return ", e.g. " + " or ".join(f"`{line}`" for line in lines)


def _demo_refuses(state: Optional[sandboxes.SandboxState]) -> bool:
    """Whether a bare `demo traffic-shift --sandbox NAME` refuses sandbox ``state`` before
    its first request, by its own checks (a VirtualService it cannot measure, a subset with
    weight but no pod). Its manifests are read once; False when they cannot be (the demo
    says why)."""
    from kmeshctl import demo

    try:
        subject = _demo_subject_of(state)
        if subject is not None and state is not None:
            demo.check_pods(subject, demo.parse_weight_sets(None, subject), f"sandbox {state.name}")
    except (KmeshctlError, UsageError):
        return True
    except OSError:
        return False
    return False


def _denied_note(state: Optional[sandboxes.SandboxState]) -> str:
    """` (the demo fails while AuthorizationPolicy default/deny-v2 on subset v2 denies its requests)`:
    the sandbox's DENY policies on the pods the demo measures (demo.denying_policies); ''."""
    from kmeshctl import demo
    from kmeshctl.sandbox.manifests import load

    try:
        subject = _demo_subject_of(state)
        denied = demo.denying_policies(load([state.manifests_file]), subject) if subject and state else []
    except (KmeshctlError, UsageError, OSError):
        return ""
    return f" (the demo fails while {' and '.join(denied)} denies its requests)" if denied else ""


def _demo_subject_of(state: Optional[sandboxes.SandboxState]) -> Any:
    """What a bare `demo traffic-shift` measures on sandbox ``state`` (a demo.DemoSubject, in
    the namespace it picks), None without a manifests record to read it from (the demo then
    uses its own). Raises what the demo raises on it: UsageError/KmeshctlError (OSError)."""
    from kmeshctl.sandbox.demo_target import demo_namespaces, sandbox_subject

    if state is None or not state.manifests_file.exists():
        return None
    measured = (demo_namespaces(state) or [None])[0]  # the demo's own choice (see _demo_namespace_of)
    return sandbox_subject(state, measured)


def _demo_namespace_of(state: Optional[sandboxes.SandboxState]) -> Optional[str]:
    """The -n the demo needs on sandbox ``state`` ('' when it picks the namespace by itself,
    as with no ``state``: the default manifests); None when no namespace of it has the
    demo's objects (custom manifests without them)."""
    from kmeshctl.sandbox.demo_target import demo_missing, demo_namespaces

    if state is None or not demo_missing(state):
        return ""
    found = demo_namespaces(state)
    if not found:
        return None
    return "" if len(found) == 1 else found[0]  # several: the first, as the demo's own fix (demo_namespace)


@sandbox_app.command("down", cls=SandboxFlagCommand)
@_sigterm_exits_143
def down(name: Optional[str] = DownNameOption,
         quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress lines."),
         ignore_not_found: bool = typer.Option(False, "--ignore-not-found",
                                               help="Exit 0 when the sandbox does not exist (for scripts)."),
         force: bool = typer.Option(False, "--force", help="Remove the sandbox even while a `demo traffic-shift` "
                                                           "uses it (the demo then fails)."),
         every: bool = typer.Option(False, "--all", help="Remove every sandbox on this machine (as `kind delete "
                                                         "clusters --all`), one line each.")) -> None:
    """Remove every namespace, link, cgroup, pinned object and process of the sandbox.

    A sandbox that does not exist is an error (exit 1, the existing ones listed), as with
    `kubectl delete`; --ignore-not-found makes it a quiet success. Interrupted, it says
    which sandbox is half-removed and how to finish (exit 130; 143 for SIGTERM).

    A sandbox a `demo traffic-shift` is using is refused (exit 1, naming the demo's pid)
    unless --force; another `sandbox down` of it running is refused with its pid. A
    `sandbox up` still creating it gets SIGTERM (it removes what it made and says so),
    SIGKILL only after a grace period; the pods' processes (`sandbox exec` commands)
    get SIGTERM before SIGKILL too.

    Examples:

      kmeshctl sandbox down --name demo
      kmeshctl sandbox down --name demo --ignore-not-found
      kmeshctl sandbox down --name demo --force
      kmeshctl sandbox down --all
    """
    if every:
        _down_all(name, quiet, force)
        return
    try:
        if not name and not sandboxes.existing():
            if ignore_not_found:
                return
            raise sandboxes.NotFound(f"no sandbox is up: nothing to remove; "
                                     f"{ignore_not_found_fix(['sandbox', 'down'])}")
        chosen = _existing_name(name, other_version_ok=True, command="kmeshctl sandbox down")
        if force and not name:
            _refuse_forced_guess(chosen)
    except KeyboardInterrupt as err:  # while choosing: nothing was touched
        stop = stopped_by(err)
        say(stopped_text(stop, "nothing was removed"))
        raise typer.Exit(stop.exit_code) from None
    _remove(chosen, quiet, force, ignore_not_found)


def _forced_down_typed(err: KmeshctlError, name: str) -> KmeshctlError:
    """InUse with its `sandbox down --force` fix as typed here (-q and every other flag kept)."""
    from kmeshctl.cli.render import rerun_line

    bare = f"kmeshctl sandbox down --name {name} --force"
    typed = rerun_line("kmeshctl sandbox down", "--name", name)
    typed += "" if " --force" in f"{typed} " else " --force"
    err.args = (str(err).replace(bare, typed), *err.args[1:])
    return err


def _refuse_forced_guess(chosen: str) -> None:
    """`sandbox down --force` given no name: --force removes a sandbox a demo is using, so
    that sandbox must be named, not guessed."""
    holder = sandbox_mod.lock_mod.holder(chosen)
    if holder is not None and holder.command == sandbox_mod.lock_mod.DEMO and not holder.ours:
        raise UsageError(f"sandbox {chosen} is in use by a `demo traffic-shift` (pid {holder.pid}): --force removes it "
                         f"only when named: `kmeshctl sandbox down --name {chosen} --force`")


def _down_all(name: Optional[str], quiet: bool, force: bool) -> None:
    """`sandbox down --all`: every sandbox (and failed `up`'s leftovers), one line each;
    none is a success (nothing to remove), as `kind delete clusters --all`."""
    from kmeshctl.cli.suggestions import given_as

    if name and not given_as("name").startswith("$"):  # $KMESHCTL_SANDBOX_NAME is no choice made here
        raise UsageError(f"--all removes every sandbox; give --all or {given_as('name')} {shown(name)}, not both")
    found = sorted(sandboxes.existing())
    if not found:
        note("No sandboxes: nothing to remove.", quiet or run_options().quiet)
        return
    failed: list[str] = []
    for sandbox_name in found:
        try:
            _remove(sandbox_name, quiet, force, ignore_not_found=True)
        except KmeshctlError as err:  # the others are still removed; exit 1 names what was left
            typer.echo(f"Error: sandbox {sandbox_name}: {err}", err=True)
            failed.append(sandbox_name)
    if failed:
        raise KmeshctlError(f"{len(failed)} of {len(found)} sandboxes not removed ({', '.join(failed)}); "
                            "see the lines above")


def _remove(sandbox_name: str, quiet: bool, force: bool, ignore_not_found: bool) -> None:
    logs = failed_up_logs(sandbox_name)
    had_logs = logs.is_dir()
    existed, said_removed = bool(sandbox_mod.leftovers(sandbox_name)), False
    try:
        try:
            removed = sandbox_mod.down(sandbox_name, Progress(quiet=quiet), force=force)
        except sandbox_mod.lock_mod.InUse as err:
            raise _forced_down_typed(err, sandbox_name) from None
        if removed:
            leaves(f"sandbox {sandbox_name} was removed")  # a stop from here on, up to the exit, says so
            typer.echo(f"Sandbox {sandbox_name} removed.")
            said_removed = True
    except KeyboardInterrupt as err:
        stop = stopped_by(err)
        if existed and not sandbox_mod.leftovers(sandbox_name):  # the stop came once the work was done
            if not said_removed:
                typer.echo(f"Sandbox {sandbox_name} removed.")
            say(stopped_text(stop, f"sandbox {sandbox_name} was removed"))
            raise typer.Exit(stop.exit_code) from None
        half = (f"sandbox {sandbox_name} is half-removed; run `kmeshctl sandbox down --name {sandbox_name}` "
                "to finish")
        if _untouched(sandbox_name):  # stopped before its removal began (it marks the record first)
            half = f"nothing was removed (sandbox {sandbox_name} is still up)"
        say(stopped_text(stop, half))
        raise typer.Exit(stop.exit_code) from None
    if removed:
        return
    if had_logs:
        typer.echo(f"Sandbox {sandbox_name} did not exist; removed the logs its failed `sandbox up` left in {logs}.")
    elif not ignore_not_found:
        raise sandboxes.not_found(sandbox_name, _down_ignoring_fix(sandbox_name))


def _untouched(name: str) -> bool:
    """Whether sandbox ``name`` is still ready: a `down` marks it removing before it
    removes anything, so a stop before that removed nothing."""
    try:
        state = sandboxes.load(name)
    except KmeshctlError:
        return False
    return state is not None and state.phase == PHASE_READY


def _down_ignoring_fix(name: str) -> str:
    """`` `kmeshctl sandbox down --name x --ignore-not-found` makes this exit 0``: the `down`
    being run with every flag typed, naming sandbox ``name`` whenever the line alone would
    act on another one (a name from $KMESHCTL_SANDBOX_NAME is not on the line)."""
    fix = ignore_not_found_fix(["sandbox", "down"])
    line, rest = fix[1:].split("`", 1)
    return f"`{sandboxes.for_sandbox(line, name)}`{rest}"


WIDE_LIST_COLUMNS = ("AGENT ADMIN", "BPFFS")  # -o wide only: where to reach each sandbox's agent and maps
WIDE_POD_COLUMNS = ("PIDS", "LOG")  # -o wide only: the detail `-o json` has too
# -o's help names what -o wide adds to each command's own table


class ListFormat(str, Enum):
    """sandbox list's -o: OutputFormat's, and name (kubectl's -o name: the names alone, one a line)."""

    table = "table"
    wide = "wide"
    json = "json"
    yaml = "yaml"
    name = "name"


ListOutputOption = Annotated[ListFormat, typer.Option(
    "-o", "--output", metavar="|".join(f.value for f in ListFormat),
    help=output_help(WIDE_LIST_COLUMNS).removesuffix(" or yaml.") + ", yaml or name (the sandbox names alone, one a "
    "line, as kubectl's -o name).")]
NoHeadersOption = Annotated[bool, typer.Option(
    "--no-headers", help="Print the table without its header line (as kubectl's --no-headers; for scripts).")]
StatusOutputOption = output_option(f"the pods' {' and '.join(WIDE_POD_COLUMNS)} columns, and the logs of the "
                                   "waypoint, control plane and agent")


@sandbox_app.command("list")
@_sigterm_exits_143
def list_(output: ListOutputOption = ListFormat.table, no_headers: NoHeadersOption = False) -> None:
    """List the sandboxes on this machine.

    Examples:

      kmeshctl sandbox list
      kmeshctl sandbox list -o json
      kmeshctl sandbox list -o name
    """
    rows = sandboxes.list_all()
    if output is ListFormat.name:  # as kubectl's -o name: nothing on stdout for none
        _damaged_notes(rows)
        for row in rows:
            typer.echo(row["name"])
        return
    shown_as = OutputFormat(output.value)
    if is_data(shown_as):
        print_data(rows, shown_as)
        return
    if not rows:
        note("No sandboxes. Create one with: kmeshctl sandbox up", run_options().quiet)  # stdout stays empty (kubectl)
        return
    _damaged_notes(rows)
    wide = shown_as is OutputFormat.wide
    columns = ["NAME", "PHASE", "PODS", "AGE"] + (list(WIDE_LIST_COLUMNS) if wide else [])
    table = Table(*columns, show_edge=False, pad_edge=False, show_header=not no_headers)
    for row in rows:
        age = EMPTY if row["age"] in (None, "", "-") else row["age"]
        cells = [row["name"], row["phase"], str(row["pods"]), age]
        if wide:
            cells += [row["agentAdmin"] or EMPTY, row["bpffs"] or EMPTY]
        table.add_row(*cells)
    _console(shown_as).print(table)


def _damaged_notes(rows: list[dict[str, Any]]) -> None:
    """One stderr line per damaged record: what is wrong and the `sandbox down` that removes it;
    one for the sandboxes this command cannot see (another mount or pid namespace), with the fix."""
    for line in sandboxes.list_warnings(rows):
        note(f"Warning: {line}", run_options().quiet)


def _list_word(words: list[str], args: list[str]) -> str:
    """`sandbox list t70a` (as `kind get nodes --name`, `kubectl get pod NAME`): one
    sandbox's state is `sandbox status --name NAME`, the line typed made so."""
    if len(words) != 1 or "list" not in args:
        return "; sandbox list takes none (it lists every sandbox): one sandbox's state is " \
            "`kmeshctl sandbox status --name NAME`"
    return _one_sandbox_hint("takes none", "--name", words[0], [w for w in args if w != words[0]])


def _list_flag(flag: str, args: list[str]) -> str:
    """`sandbox list --name t70a` (--name or --sandbox, ``flag``): as `sandbox list t70a`,
    the typed line with `status` for `list` and the name typed (NAME when none is)."""
    value = typed_value(args, flag)
    if not value or "list" not in args:
        return f"; sandbox list lists every sandbox; for one: `kmeshctl sandbox status {flag} NAME`"
    return _one_sandbox_hint(f"has no {flag}", flag, value, cmdline.without_flag(args, flag))


def _one_sandbox_hint(refused: str, flag: str, name: str, rest: list[str]) -> str:
    """`; sandbox list <refused> (it lists every sandbox); did you mean `kmeshctl sandbox
    status --name NAME`?`: ``rest`` (the line typed less the name) run as sandbox status
    for ``name``; a name that is none of this machine's is said so, with ``rest`` to run."""
    try:
        check_name(name)
        check_existing_sandbox("--name", name)
    except UsageError as err:  # said of the word: sandbox list has no --name
        return (f"; sandbox list {refused} (it lists every sandbox), and {plainly(name, str(err).split(': ', 1)[1])}"
                f"; without it: `{shlex.join(['kmeshctl', *rest])}`")
    typed = list(rest)
    typed[typed.index("list")] = "status"
    return (f"; sandbox list {refused} (it lists every sandbox); did you mean "
            f"`{shlex.join(['kmeshctl', *typed, flag, name])}`?")


POSITIONAL_READERS[("sandbox", "list")] = _list_word
for _flag in _SPELLINGS:  # `sandbox list --name x`: the command for one sandbox
    COMMAND_HABITS[("sandbox list", _flag)] = _list_flag
# `sandbox exec -c NAME` (kubectl's container): the command runs in the pod's network
# namespace and cgroup, which its containers share, on the host's filesystem
for _flag in ("-c", "--container"):
    COMMAND_HABITS[("sandbox exec", _flag)] = (
        "; sandbox exec cannot choose a container: the command runs in the pod's network namespace and cgroup, "
        "which all its containers share, with the host's files (no container image); leave out {flag}, `{without}`")


@sandbox_app.command("status", cls=SandboxFlagCommand)
@_sigterm_exits_143
def status(output: StatusOutputOption = OutputFormat.table, name: Optional[str] = NameOption) -> None:
    """Pods, Services, the waypoint, the control plane and the agent.

    Exit 1 when the sandbox is not ready: a pod's process or a daemon (control plane,
    node agent, a waypoint's Envoy) ended or does not answer; each is named, with its
    exit status and the last lines of its log.

    Examples:

      kmeshctl sandbox status --name demo
      kmeshctl sandbox status -o yaml
    """
    chosen = _existing_name(name, command="kmeshctl sandbox status")
    if chosen not in sandboxes.names() and chosen in sandboxes.failed_up_names():
        report = sandboxes.failed_up_status(chosen)  # only a failed `up`'s logs: its phase and the fix
    else:
        from kmeshctl.sandbox.demo_target import weights_note

        state = _existing_state(chosen)
        report = sandbox_mod.status(state.name)
        if not sandbox_mod.half_made(report["phase"]):  # else its Fix (finish the down) is all to do
            report["notes"] += [note] if (note := weights_note(state)) else []  # a demo's weights in force
            if state.manifests_file.exists():  # what `up` warned of, still true: a subset with no pod...
                report["notes"] += manifest_warnings(state.topology().manifests, state.name)
    if is_data(output):
        print_data(report, output)
    else:
        _print_status(report, output)
    if not report["ready"]:
        raise typer.Exit(1)


def _console(output: OutputFormat) -> Console:
    return cli_console(wide=output is OutputFormat.wide)


def _print_status(report: dict[str, Any], output: OutputFormat) -> None:
    console = _console(output)
    verdict = "ready" if report["ready"] else "[red]NOT READY[/red]" + (
        "" if report["phase"] in (PHASE_READY, PHASE_NOT_READY) else f" (phase {report['phase']})")
    console.print(f"Sandbox [bold]{escape(report['name'])}[/bold]: {verdict}")
    for problem in report["problems"]:
        console.print(f"  [red]-[/red] {escape(problem)}")
    fix = report.get("fix")
    if fix and not any(fix in problem for problem in report["problems"]):  # not said twice
        console.print(f"Fix: `{escape(fix)}`", soft_wrap=True)
    for noted in report.get("notes") or []:
        console.print(f"Note: {escape(noted)}")
    from kmeshctl.dump import print_section

    wide = output is OutputFormat.wide
    pods = Table("NAMESPACE", "POD", "IP", "STATE", "ENROLLED", *WIDE_POD_COLUMNS)
    for pod in report["pods"]:
        enrolled = EMPTY if pod["enrolled"] is None else ("yes" if pod["enrolled"] else "no")
        if pod.get("enrolledBy"):
            enrolled += f" (by {pod['enrolledBy']})"
        if pod["waypoint"]:
            enrolled = "no (waypoint)"
        pods.add_row(pod["namespace"], pod["name"], pod["ip"] or EMPTY, pod["state"], enrolled, *_process_cells(pod))
    wide_only(pods, WIDE_POD_COLUMNS, wide)
    # pod and Service names are never cut (fortio-v1-0 and fortio-v2-0 both `fortio-v…`)
    print_or_note(console, f"No pods in sandbox {shown(report['name'])}.", pods,
                  lambda: print_section(console, "Pods", pods, ("NAMESPACE", "POD", "IP"), wide))
    services = Table("NAMESPACE", "SERVICE", "VIP", "PORTS", "WAYPOINT")
    for svc in report["services"]:
        services.add_row(svc["namespace"], svc["name"], svc["vip"], ", ".join(svc["ports"]),
                         svc["waypoint"] or EMPTY)
    print_or_note(console, f"No services in sandbox {shown(report['name'])}.", services,
                  lambda: print_section(console, "Services", services, ("NAMESPACE", "SERVICE", "VIP"), wide))
    for waypoint in report["waypoints"]:
        health = "ready" if waypoint["ready"] else "NOT READY"
        if (waypoint.get("process") or {}).get("stopped"):
            health += " (its Envoy is stopped: SIGSTOP)"
        extra = (f", {counted(waypoint['listeners'], 'listener')}, {counted(waypoint['clusters'], 'cluster')}"
                 if "listeners" in waypoint else "")
        envoy = waypoint.get("process") or {}
        detail = f"; pid {envoy['pid']}, log {envoy.get('log') or EMPTY}" if wide and "pid" in envoy else ""
        console.print(f"Waypoint {waypoint['name']} (pod {waypoint['pod']}, {waypoint['address']}): "
                      f"{health}{extra}; admin {waypoint['admin']}{escape(detail)}")
    for role in ("controlplane", "agent"):
        daemon = report[role]
        log = f"; log {escape(daemon['log'])}" if wide and daemon.get("log") else ""
        console.print(f"{'Control plane' if role == 'controlplane' else 'Node agent'}: {_daemon_text(daemon)}{log}")
    for process in _ended(report):
        console.print(f"\nLast lines of {escape(process['log'])} ({escape(process['component'])}):")
        for line in process.get("logTail") or ["(empty)"]:
            console.print(f"  | {escape(line)}", highlight=False, soft_wrap=True)


def _process_cells(pod: dict[str, Any]) -> tuple[str, str]:
    """A pod's processes' pids and their log (one per pod; several joined)."""
    processes = pod.get("processes") or []
    pids = ",".join(str(p["pid"]) for p in processes if "pid" in p)
    logs = ", ".join(dict.fromkeys(str(p["log"]) for p in processes if p.get("log")))
    return pids or EMPTY, logs or EMPTY


def _daemon_text(daemon: dict[str, Any]) -> str:
    if "pid" not in daemon:
        return "not started"
    if daemon.get("removed"):  # its sandbox is being removed: no failure
        return f"pid {daemon['pid']} {escape(daemon['reason'])}"
    if not daemon["running"]:
        return f"[red]FAILED[/red]: pid {daemon['pid']} {escape(daemon['reason'])}"
    if daemon.get("stopped"):
        return f"[red]stopped[/red] (pid {daemon['pid']}, SIGSTOP): resume it with `kill -CONT {daemon['pid']}`"
    if daemon.get("notPushed"):
        return f"running (pid {daemon['pid']}), [red]not pushing changes[/red]"
    return f"running (pid {daemon['pid']})" + ("" if daemon["ready"] else ", [red]not ready[/red]")


def _ended(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every process of the sandbox that ended, daemons first; not those a `sandbox down`
    stopped (their logs tell nothing)."""
    processes = [report["controlplane"], report["agent"]]
    processes += [p for pod in report["pods"] for p in pod["processes"]]
    return [p for p in processes if "pid" in p and not p["running"] and not p.get("removed")]


POD_MISSING = "kmeshctl.pod_missing"
POD_WORDS = "kmeshctl.exec.pod_words"


class _ExecCommand(SandboxFlagCommand):
    """Its usage line as `kubectl exec` writes it: `POD -- COMMAND [args...]`; a line
    with no POD before `--` is marked (click would take the command's first word for it)."""

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return [self.options_metavar or "[OPTIONS]", "POD", "--", "COMMAND", "[args...]"]

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" not in args:
            _refuse_own_flag_in_command(self, ctx, args)
        if not ctx.resilient_parsing:  # completion reads a line being typed
            _refuse_separator_as_value(self, args)
        words = _words_before_dashes(self, args)
        ctx.meta[POD_MISSING] = not words
        ctx.meta[POD_WORDS] = words  # completion's: click leaves POD unset when the line ends in `-n`
        ctx.meta[WORDS_BEFORE_DASHES] = words if "--" in args else []
        return super().parse_args(ctx, args)


WORDS_BEFORE_DASHES = "kmeshctl.exec.words_before_dashes"


def _exec_arguments_left(ctx: click.Context) -> list[tuple[str, str]]:
    """The POD and `-- COMMAND` a parsed `sandbox exec` line leaves out (its body refuses it)."""
    missing = bool(ctx.meta.get(POD_MISSING))  # then click took the command's first word for POD
    left = [("POD", "the pod to run in, before --")] if missing else []
    ran = ctx.params.get("command") or missing and ctx.params.get("pod")
    return left + ([] if ran else [("COMMAND", "the command to run, after --")])


REQUIRED_ARGUMENTS[("sandbox", "exec")] = _exec_arguments_left


def _refuse_own_flag_in_command(command: click.Command, ctx: click.Context, args: list[str]) -> None:
    """`sandbox exec netutils printf -n x` (no `--`): a flag of sandbox exec's typed after
    the command's first word would be taken from the command (`-n x` as the namespace, `-i`
    as stdin) and the command run without it: refused (exit 2) with the line that keeps
    every word of the command after `--`. A flag after the POD and before the command
    (`exec netutils --name s1 hostname`) stays exec's own."""
    from kmeshctl.cli import cmdline
    from kmeshctl.cli.badinput import with_dashes

    # -h/--help is exec's too (click's eager help); -q/--quiet the root's, moved out of
    # ``args`` before this parse (gather_quiet_flag): looked for in the words as typed.
    options = {opt: p for p in command.get_params(ctx) if p.param_type_name == "option"
               for opt in (*p.opts, *p.secondary_opts)}
    roots = {opt: p for p in ctx.find_root().command.params if p.param_type_name == "option"
             for opt in (*p.opts, *p.secondary_opts)}
    typed = cmdline.ARGS[cmdline.ARGS.index("exec") + 1:] if "exec" in cmdline.ARGS else []
    for words, known in ((args, options), (typed, {**roots, **options})):
        found = _own_flag_after_command(words, known)
        if found is None:
            continue
        arg, first = found
        fixed = with_dashes(ctx, cmdline.ARGS, arg)
        if not fixed:
            return
        whose = "sandbox exec's own" if arg.partition("=")[0] in options else "kmeshctl's own"
        meaning = max(known[arg.partition("=")[0]].opts, key=len)
        raise UsageError(f"{arg} after the command's first word ({first}) would be {whose} "
                         f"({meaning}), not {first}'s; the command to run goes after `--`: `{fixed}`")


def _own_flag_after_command(args: list[str], options: dict[str, Any]) -> Optional[tuple[str, str]]:
    """(the first of ``options`` typed after the command's first word, that word), or None."""
    valued = {opt for opt, p in options.items() if not getattr(p, "is_flag", False) and not getattr(p, "count", False)}
    i, positional = 0, []
    while i < len(args):
        arg = args[i]
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
        elif len(positional) >= 2 and arg.partition("=")[0] in options:
            return arg, positional[1]
        elif len(positional) >= 2:
            pass  # the command's own (`ping -c 2`): click's No such option names it, with the same line
        else:
            i += 1 if arg in valued else 0
        i += 1
    return None


def _valued_options(command: click.Command) -> dict[str, click.Parameter]:
    """The spellings of ``command``'s options that take a value, each with its option."""
    return {opt: p for p in command.params if p.param_type_name == "option" and not getattr(p, "is_flag", False)
            and not getattr(p, "count", False) for opt in (*p.opts, *p.secondary_opts)}


def _refuse_separator_as_value(command: click.Command, args: list[str]) -> None:
    """`exec netutils --name -- ls`: --name took the `--` as its value (its own value was
    forgotten), so the command would be read as a second POD: refused, as the flag before
    `--` is on any command (option_hints._separator_as_value), with the line that gives
    the flag a value: a sandbox that has the POD (--name), the POD's namespace (-n)."""
    valued = _valued_options(command)
    i = 0
    while i < len(args) and args[i] != "--":
        if args[i] in valued and args[i + 1:i + 2] == ["--"]:
            break
        i += 2 if args[i] in valued else 1
    else:
        return
    flag, after = args[i], args[i + 2:]
    pods = _words_before_dashes(command, args[:i])
    read = f"so {shlex.join(after)} was read as {'a second POD' if pods else 'the POD'}, not as the command" \
        if after else "so no command is left after it"
    value, note = _value_for(valued[flag].name or "", pods[0] if pods else "", args[:i])
    said = f"{flag} took the `--` after it as its value, {read}; give {flag} a value before the `--`"
    words = ["kmeshctl", "sandbox", "exec", *(args[:i + 1] if pods else ["POD", *args[:i + 1]])]
    command_words = shlex.join(after or (["sh"] if pods else ["COMMAND"]))
    if pods and value:
        raise UsageError(f"{said}: `{shlex.join([*words, value, '--'])} {command_words}`{note}")
    placeholder = "NAMESPACE" if valued[flag].name == "namespace" else "NAME"
    raise UsageError(f"{said}: {shlex.join(words)} {value or placeholder} -- {command_words}{note}")


def _value_for(param: str, pod: str, before: list[str]) -> tuple[str, str]:
    """(exec's --name (``param``: its option's name) or -n for a line running in ``pod``,
    "" when no sandbox has ``pod``; a note saying where it is, or why there is none)."""
    namespace = typed_value(before, "-n", "--namespace")
    holding = [n for n in sandboxes.names() if _has_pod(n, pod, namespace)] if pod else []
    if not holding:
        up = sandboxes.names()
        why = f"no sandbox has pod {pod}; sandboxes: {', '.join(up)}" if up and pod else \
            "the sandboxes: `kmeshctl sandbox list`" if up else "no sandbox is up: kmeshctl sandbox up makes one"
        return "", f" ({why})"
    if param != "namespace":
        return holding[0], f" (sandboxes with pod {pod}: {', '.join(holding)})" if len(holding) > 1 else ""
    state = sandboxes.load(holding[0])
    found = [p.namespace for p in (state.pods if state else []) if pod in (p.name, p.deployment)]
    return (found[0], f" (pod {pod} is in namespace {found[0]} of sandbox {holding[0]})") if found else ("", "")


def _words_before_dashes(command: click.Command, args: list[str]) -> list[str]:
    """The words of ``args`` before `--` that are no option or option value."""
    valued = _valued_options(command)
    i, words = 0, []
    while i < len(args):
        arg = args[i]
        if arg == "--":
            break
        if not arg.startswith("-") or arg == "-":
            words.append(arg)
        i += 2 if arg in valued else 1
    return words


def _has_pod(sandbox: str, pod: str, namespace: Optional[str]) -> bool:
    """Sandbox ``sandbox`` has ``pod`` (a pod or a Deployment's, see find_pod): given no
    --name, `sandbox exec` works on the one that has it."""
    try:
        state = sandboxes.load(sandbox)
        if state is None:
            return False
        sandbox_mod.find_pod_record(state, pod, namespace)  # before its CNI ADD too: it has the pod
    except (KmeshctlError, OSError):
        return False
    return True


def _refuse_pod_in_no_sandbox(pod: str, namespace: Optional[str], kind: str = "pod", typed: str = "",
                              command: Optional[List[str]] = None) -> None:
    """Given no --name, with several sandboxes up and none that has ``pod`` (in ``namespace``):
    NotFound (exit 1, as `kubectl exec`) naming each sandbox looked in with its pods, not
    "several sandboxes exist" and a line to paste that fails the same way; when only one
    namespace of one sandbox has it, with the line for it (POD as ``typed``, flags kept)."""
    up = [n for n, phase in sandboxes.existing().items() if phase != sandboxes.PHASE_FAILED]
    if len(up) < 2 or any(_has_pod(n, pod, namespace) for n in up):
        return
    where = f"namespace {namespace} of any sandbox" if namespace else "any sandbox"
    looked = "; ".join(_pods_text(n, namespace, kind) for n in up)
    found = [(n, ns) for n in up for ns in _pod_namespaces(n, pod, kind == "Deployment")] if namespace else []
    words = _typed_exec_line(found[0][1], typed or pod) if len(found) == 1 else []
    if words:
        line = suggest(shlex.join(words + ["--name", found[0][0], "--", *(command or [])]))
        raise sandboxes.NotFound(f"no {kind} {pod} in {where} ({looked}); sandbox {found[0][0]} has it in namespace "
                                 f"{found[0][1]}: `{line}`")
    raise sandboxes.NotFound(f"no {kind} {pod} in {where} ({looked}): pass a {kind} one of them has")


def _pod_namespaces(sandbox: str, pod: str, deployment: bool) -> list[str]:
    """The namespaces of sandbox ``sandbox`` with pod ``pod`` (or a Deployment ``pod``'s
    pods; ``deployment``: only that), by name; [] when its record cannot be read."""
    try:
        state = sandboxes.load(sandbox)
    except KmeshctlError:
        state = None
    return [] if state is None else sorted({p.namespace for p in state.pods if (
        p.deployment == pod and not p.waypoint) or (not deployment and p.name == pod)})


def _pods_text(sandbox: str, namespace: Optional[str], kind: str = "pod") -> str:
    """`a: netutils-0, web-0` (with ``namespace``: `a: default/netutils-0`, where they are;
    ``kind`` Deployment: their Deployments)."""
    try:
        state = sandboxes.load(sandbox)
    except KmeshctlError:
        state = None
    if state is None:
        return f"{sandbox}: unreadable, see `kmeshctl sandbox status --name {sandbox}`"
    names = [(p.namespace, p.deployment if kind == "Deployment" else p.name) for p in state.pods
             if kind != "Deployment" or not p.waypoint]  # the waypoint pod takes an exec too
    shown_names = dict.fromkeys(f"{ns}/{n}" if namespace else n for ns, n in names)
    return f"{sandbox}: {', '.join(shown_names) or f'no {kind}s'}"


def _pod_required(name: Optional[str], first: Optional[str], rest: List[str], namespace: Optional[str]) -> UsageError:
    """`POD is required`: for `exec -- POD COMMAND...` (``first``, ``rest``: the words after
    `--`, ``first`` a pod of the sandbox) with the line to type; else with the pods of the
    sandbox to choose from. Said before any `Using sandbox` note: nothing ran."""
    usage = "POD is required before `--` (kmeshctl sandbox exec POD -- COMMAND...)"
    if not name and not sandboxes.names():
        return UsageError(f"{usage}; no sandbox is up: `kmeshctl sandbox up` makes one")
    holds = (lambda n: _has_pod(n, first, namespace)) if first else None
    try:
        chosen = _name(name) if name else sandboxes.pick("kmeshctl sandbox exec", has=holds, what=f"have pod {first}")
        state = sandboxes.load(chosen) if chosen else None
    except KmeshctlError as err:
        return UsageError(f"{usage}; {err}")
    if state is None and chosen and first and chosen not in sandboxes.failed_up_names():
        return UsageError(f"{usage}; {sandboxes.not_found(chosen, _make_then_exec(chosen, first, rest))}")
    if state is None:
        return UsageError(f"{usage}; {sandboxes.not_found(chosen) if chosen else sandboxes.none_up()}")
    if first and rest and _has_pod(state.name, first, namespace):
        from kmeshctl.cli.suggestions import given_as

        typed = given_as("name") if name else ""
        named = [typed, name] if name and not typed.startswith("$") else _env_named(name)
        words = ["kmeshctl", "sandbox", "exec", first, *(["-n", namespace] if namespace else []), *named, "--", *rest]
        return UsageError(f"{usage}: `{suggest(shlex.join(words))}`")
    return UsageError(f"{usage}; the pods of sandbox {state.name}: {', '.join(p.name for p in state.pods)}")


def _make_then_exec(name: str, first: str, rest: Optional[List[str]]) -> str:
    """`make it: `kmeshctl sandbox up --name NAME && kmeshctl sandbox exec -n default
    netutils-0 --name NAME -- curl x``: for `exec --name NAME -- curl x` (``first``, ``rest``:
    the words after `--`, a command, not a pod) with no sandbox NAME: the new sandbox's
    client pod (its default manifests') runs it, every flag typed kept."""
    from kmeshctl.sandbox.manifests import default_files, load
    from kmeshctl.sandbox.pods import plan_pods

    pods = [p for p in plan_pods(load(default_files())) if not p.waypoint]
    pod = next((p for p in pods if p.deployment == "netutils"), pods[0] if pods else None)
    words = _typed_exec_line(pod.namespace, pod.name) if pod is not None else []
    if not words:
        return ""
    if not any(w.partition("=")[0] in ("--name", "--sandbox") for w in words):
        words += ["--name", name]  # from $KMESHCTL_SANDBOX_NAME: the line names it
    make = f"`kmeshctl sandbox up --name {name} && {shlex.join([*words, '--', first, *(rest or [])])}`"
    return f"pass one of them, or make it: {make}" if sandboxes.names() else f"make it: {make}"


def _env_named(name: Optional[str]) -> list[str]:
    """`--name NAME` for a fix when sandbox ``name`` came from $KMESHCTL_SANDBOX_NAME (not on
    the line) and the line alone would act on another sandbox; [] otherwise."""
    from kmeshctl.cli.suggestions import given_as

    if not name or not given_as("name").startswith("$") or sandboxes.picks_alone(name):
        return []
    return ["--name", name]


def _exec_target(word: str, namespace: Optional[str], name: Optional[str], command: List[str]) -> str:
    """The pod (or Deployment) of kubectl's `pod/NAME` and `deploy/NAME`, as `kubectl exec`
    takes them (a Deployment: its first pod); any other TYPE/NAME or NS/NAME refused with
    the line to type instead."""
    from kmeshctl.cli.names import split_exec_target

    kind, found = split_exec_target(word)
    rest = word.partition("/")[2]
    if kind in ("pod", "deploy"):
        return found
    if kind == "other":
        raise UsageError(f"POD {shown(word)}: sandbox exec runs in a pod, not a {found}; give pod/NAME, "
                         f"deploy/NAME or NAME (the pods: `{suggest('kmeshctl sandbox status')}`)")
    words = _typed_exec_line(found, rest)
    words = words + _env_named(name) if words else (["kmeshctl", "sandbox", "exec", "-n", found, rest] +
                                                     (["--name", name] if name else []))
    fixed = suggest(shlex.join(words + ["--", *(command or ["sh"])]))
    given = f" (not -n {namespace})" if namespace and namespace != found else ""
    raise UsageError(f"POD {shown(word)}: NAMESPACE/NAME is not a pod name (kubectl exec takes none either); "
                     f"give the namespace with -n{given}: `{fixed}`")


def _typed_exec_line(namespace: str, pod: str) -> list[str]:
    """`kmeshctl [typed before] sandbox exec -n NAMESPACE POD [every option typed]` (the
    typed -n left out, the command after `--` not included): a fix keeps every flag the
    user gave (-q, -it, --name). Empty outside a run of `sandbox exec`."""
    from typer._click.globals import get_current_context

    from kmeshctl.cli import cmdline

    head = list(cmdline.ARGS)
    head = head[:cmdline.separator_at(head)]
    ctx = get_current_context(silent=True)
    if ctx is None or "sandbox" not in head or "exec" not in head[head.index("sandbox"):]:
        return []
    start = head.index("exec", head.index("sandbox")) + 1
    valued = {o for p in ctx.command.params if p.param_type_name == "option" and not getattr(p, "is_flag", False)
              for o in p.opts} | set(cmdline.GLOBAL_FLAGS)
    options, i = [], start
    while i < len(head):
        word, taken = head[i], 1
        if word.startswith("-") and word != "-":
            taken = 2 if word in valued else 1
            if word.partition("=")[0] not in ("-n", "--namespace"):
                options += head[i:i + taken]
        i += taken  # a positional word (the POD, a command typed without `--`) is left out
    return ["kmeshctl", *head[:start], "-n", namespace, pod, *options]


def _in_other_namespace(state: sandboxes.SandboxState, pod: str, namespace: Optional[str], deployment: bool,
                        typed: str, name: Optional[str], command: List[str]) -> str:
    """For a pod (``deployment``: a Deployment) not in -n ``namespace`` of sandbox ``state``
    but in other namespaces of it: `; it is in namespace team-a: `kmeshctl sandbox exec -n
    team-a netutils --name s -- true`` (POD as ``typed``, every flag typed kept; several:
    the first as the example); '' when it is in none, or outside a run of `sandbox exec`."""
    if namespace is None:
        return ""
    found = [ns for ns in _pod_namespaces(state.name, pod, deployment) if ns != namespace]
    words = _typed_exec_line(found[0], typed) if found else []
    if not words:
        return ""
    line = suggest(shlex.join(words + _env_named(name) + ["--", *command]))
    where = f"namespace {found[0]}" if len(found) == 1 else f"namespaces {', '.join(found)}"
    return f"; it is in {where}: `{line}`" if len(found) == 1 else f"; it is in {where}: pass -n of one, e.g. `{line}`"


def _no_deployment(state: sandboxes.SandboxState, name: str, namespace: Optional[str]) -> str:
    """`deploy/NAME` naming no Deployment: said as a Deployment, with the ones there are."""
    where = f"namespace {namespace} of sandbox {state.name}" if namespace else f"sandbox {state.name}"
    known = dict.fromkeys(f"{p.namespace}/{p.deployment}" for p in state.pods
                          if not p.waypoint and (namespace is None or p.namespace == namespace))
    return f"no Deployment {name} in {where} (Deployments: {', '.join(known) or 'none'})"


def _complete_pods(ctx: click.Context, incomplete: str) -> list[str]:
    """`sandbox exec <TAB>`: the pods of the sandbox (--name or $KMESHCTL_SANDBOX_NAME), else
    of every sandbox (exec runs in the one that has the pod), and their Deployments; only
    those of -n when it is typed."""
    from kmeshctl.cli.completion import sandbox_exec_states

    namespace = ctx.params.get("namespace")
    pods = [p for state in sandbox_exec_states(ctx) for p in state.pods if namespace in (None, p.namespace)]
    words = [p.name for p in pods] + sorted({p.deployment for p in pods if not p.waypoint})
    return [w for w in dict.fromkeys(words) if w.startswith(incomplete)]


# Options before `--` are kmeshctl's (an unknown one is an error, as with kubectl exec);
# everything after it is the command.
@sandbox_app.command("exec", cls=_ExecCommand)
@_sigterm_exits_143
def exec_(
    pod: Optional[str] = typer.Argument(None, metavar="POD", autocompletion=_complete_pods, show_default=False,
                                        help="Pod name, or a Deployment name for its first pod."),
    command: List[str] = typer.Argument(None, metavar="-- COMMAND...", help="The command, after `--`."),
    name: Optional[str] = NameOption,
    namespace: Optional[str] = typer.Option(None, "-n", "--namespace", metavar="NAMESPACE",
                                            help="Namespace of the pod (default: any)."),
    stdin: bool = typer.Option(False, "-i", "--stdin", help="Pass stdin to the command (always done: accepted "
                                                            "as kubectl exec takes it)."),
    tty: bool = typer.Option(False, "-t", "--tty", help="Keep the terminal (always done: the command runs on "
                                                        "kmeshctl's own terminal)."),
) -> None:
    """Run a command inside a pod (its netns and cgroup), like `kubectl exec`.

    Options go before `--`, the command after it. The command runs in the pod's network
    namespace and cgroup, which all its containers share, with the host's files, so there
    is no -c; it always gets kmeshctl's stdin and terminal (-i, -t and -it are accepted).

    Examples:

      kmeshctl sandbox exec netutils -- curl -sv 10.96.0.10:80
      kmeshctl sandbox exec netutils -n default -- curl -sv fortio:80
      kmeshctl sandbox exec -it netutils -- sh
      kmeshctl sandbox exec fortio-v1 --name demo -- ip addr
    """
    from typer._click.globals import get_current_context

    meta = get_current_context().meta
    if meta.get(POD_MISSING):
        raise _pod_required(name, pod, command, namespace)
    extra = meta.get(WORDS_BEFORE_DASHES, [])
    if len(extra) > 1:
        raise UsageError(f"sandbox exec takes one POD before --; got {' '.join(shown(w) for w in extra)} "
                         f"(for a namespace use -n {shown(extra[1])})")
    from kmeshctl.cli.names import check_pod_word, split_exec_target

    deployment = bool(pod) and split_exec_target(pod)[0] == "deploy"  # deploy/NAME: said as a Deployment
    typed_pod = pod or ""
    if pod and "/" in pod:  # kubectl's pod/NAME, deploy/NAME; NS/NAME
        pod = _exec_target(pod, namespace, name, command)
    if pod:
        check_pod_word("POD", pod, typed_pod)
    if not pod:
        status = sandboxes.for_sandbox("kmeshctl sandbox status", name) if name else "kmeshctl sandbox status"
        raise UsageError(f"POD '': empty value; give a pod name, e.g. netutils (see `{status}`)")
    if not command:  # refused before any sandbox is looked up or anything runs
        example = suggest(shlex.join(["kmeshctl", "sandbox", "exec", pod, "--", "sh"]))
        raise UsageError(f"COMMAND is required after `--` (kmeshctl sandbox exec POD -- COMMAND...): "
                         f"e.g. `{example}`")
    if not name:
        _refuse_pod_in_no_sandbox(pod, namespace, "Deployment" if deployment else "pod", typed_pod, command)
    state = _existing_state(name, f"kmeshctl sandbox exec {shlex.quote(pod)}", "-- " + shlex.join(command),
                            has=lambda n: _has_pod(n, pod, namespace),
                            what=f"have pod {namespace}/{pod}" if namespace else f"have pod {pod}")
    if state.phase != PHASE_READY or sandbox_mod.lock_mod.removed_by(state.name):  # half-made or being removed
        from kmeshctl.cli.render import rerun_line

        again = rerun_line(f"kmeshctl sandbox exec {shlex.quote(pod)}", "--name", state.name,
                           "-- " + shlex.join(command))
        raise KmeshctlError(sandbox_mod.unfinished(state, again))
    try:
        sandbox_mod.find_pod_record(state, pod, namespace)
    except UsageError as err:  # a pod that does not exist: NotFound, as `kubectl exec`
        missing = _no_deployment(state, pod, namespace) if deployment else str(err)
        raise sandboxes.NotFound(missing + _in_other_namespace(state, pod, namespace, deployment, typed_pod, name,
                                                               command)) from None
    code = sandbox_mod.exec_in_pod(state.name, pod, command or [], namespace)
    raise typer.Exit(code)
