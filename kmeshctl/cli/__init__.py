"""The kmeshctl command line. Each sub-module registers the commands of one area;
commands only parse flags, call the module that does the work, and print."""

from __future__ import annotations

import os
import sys

from kmeshctl import stopping


def _launched_as_kmeshctl() -> bool:
    """This process is the kmeshctl program (its console script, `python -m kmeshctl`),
    not a program that imports the CLI (tests): only then may the import set signal handlers."""
    main_file = str(getattr(sys.modules.get("__main__"), "__file__", None) or "")
    parts = main_file.replace(os.sep, "/").split("/")
    return parts[-1] == "kmeshctl" or parts[-2:] == ["kmeshctl", "__main__.py"] or _a_checkout_wrapper()


def _a_checkout_wrapper() -> bool:
    """`python -c '...from kmeshctl.cli import main...main()'`: a wrapper that runs a
    checkout as the program (main only says so once the commands are loaded: a signal
    before that ended it with 128+N and no line)."""
    argv = list(getattr(sys, "orig_argv", ()))
    code = argv[argv.index("-c") + 1] if "-c" in argv[:-1] else ""
    return "from kmeshctl.cli import main" in code and "main()" in code


if _launched_as_kmeshctl():  # first: a signal while Python loads the commands is a stop like any other
    stopping.own_process()


def _stopped_while_loading(stop: stopping.Stopped) -> None:
    """A signal while Python still loads the commands (their first second): what a stop
    during a command prints, one line and 128 + the signal, never a traceback."""
    stop = stopping.first_of_run() or stop
    stopping.stop_at_once()  # a second signal: the same exit, the line said once
    if not stopping.said():
        stopping.say(_loading_stop_text(stop))
    stopping.exiting(stop.exit_code)
    raise SystemExit(stop.exit_code)


def _loading_stop_text(stop: stopping.Stopped) -> str:
    """The stop's line; for a command whose own stop line says what it applied (install,
    waypoint apply: nothing yet, no command has run), that line, with the command as typed
    to run again."""
    args = sys.argv[1:]
    # the words that are no flag nor a `--flag VALUE`'s value (unsure: the plain line)
    words = [w for i, w in enumerate(args) if not w.startswith("-")
             and not (i and args[i - 1].startswith("--") and "=" not in args[i - 1])]
    command = "waypoint apply" if words[:2] == ["waypoint", "apply"] else words[0] if words else ""
    if command not in _APPLIED_NOTHING or {"-h", "--help"} & set(args):
        return stopping.stop_text(stop)
    if any(w.partition("=")[0] == "--dry-run" for w in args):  # as the command's own stop line says it
        return f"{command} --dry-run stopped by {stop.how}; nothing was applied (a dry run applies nothing)"
    import shlex

    again = shlex.join(["kmeshctl", *args])
    return f"{command} stopped by {stop.how} before anything was applied; re-run `{again}` {_APPLIED_NOTHING[command]}"


_APPLIED_NOTHING = {"install": "to install", "waypoint apply": "to apply it"}


try:  # every heavy import: a KeyboardInterrupt in any of them is the user's Ctrl-C
    import contextlib
    import errno
    import io
    import stat
    import threading
    from enum import Enum
    from typing import Annotated, Iterator, Optional

    import typer

    from kmeshctl import __version__
    from kmeshctl.cli.common import OutputFormat, app, check_namespace_flags, is_data, output_option, print_data
    from kmeshctl.cli.conventions import COMPLETE_VAR, complete_global_flags_anywhere
    from kmeshctl.errors import KmeshctlError, UsageError

    # Importing a command module registers its commands on `app`.
    from kmeshctl.cli import cluster as _cluster  # noqa: F401,E402
    from kmeshctl.cli import dump as _dump  # noqa: F401,E402
    from kmeshctl.cli import node as _node  # noqa: F401,E402
    from kmeshctl.cli import render as _render  # noqa: F401,E402
    from kmeshctl.cli import sandbox as _sandbox  # noqa: F401,E402
    from kmeshctl.cli import demo as _demo  # noqa: F401,E402
    from kmeshctl.cli import bench as _bench  # noqa: F401,E402
    from kmeshctl.cli import waypoint as _waypoint  # noqa: F401,E402
except BaseException as err:  # noqa: B036 (only a stop is turned into its exit code)
    _stop = stopping.stop_in(err)
    if _stop is None:
        raise
    _stopped_while_loading(_stop)


# -o wide adds each agent's image to its line
VersionOutputOption = output_option("each agent's image on its line")


@app.command()
def version(
    client: Annotated[bool, typer.Option("--client", help="Only this client's version; do not ask a cluster.")] = False,
    namespace: Annotated[str, typer.Option("-n", "--namespace", help="Namespace of the node agents.")] = "kmesh-system",
    output: VersionOutputOption = OutputFormat.table,
) -> None:
    """Print the kmeshctl version and, when a cluster answers, each node agent's version.

    Examples:

      kmeshctl version
      kmeshctl version --client
      kmeshctl --context prod version -o json
    """
    import functools

    from kmeshctl import config_dump
    from kmeshctl.kube import connect_reachable
    from kmeshctl.cli.common import fix_hint, run_options
    from kmeshctl.cli.conventions import check_typed_cluster_flags
    from kmeshctl.cli.cluster import istiods_cluster_id_quickly
    from kmeshctl.cli.render import same_work_command
    from kmeshctl.params import DEFAULT_ISTIO_NAMESPACE, TABLE_EMPTY, install_hint
    from kmeshctl.uninstall import InstalledElsewhere
    from kmeshctl.versions import client_report, exit_code

    if not client:  # --client reads no kubeconfig (as kubectl's): a wrong --kubeconfig/--context is not used
        check_namespace_flags()
    target = run_options()
    report = client_report(target)
    if not is_data(output):  # as kubectl: the client's version first, before the cluster is asked
        typer.echo(f"Client: {report['client']['version']}")
    report, failure = _version_report(report, output, namespace, None if client else lambda: connect_reachable(target),
                                      functools.partial(config_dump.fetch_from_pod, target=target),
                                      None if client else check_typed_cluster_flags, target=target)
    if isinstance(failure, InstalledElsewhere):  # as status: the install's -n, with the command to paste
        from kmeshctl.cli.cluster import elsewhere_line

        failure = UsageError(elsewhere_line(failure, ["version"]))
        report["clusterError"] = str(failure)
    if report["clusterError"]:
        report["clusterError"] = fix_hint(report["clusterError"])  # as the error line words it
    if is_data(output):
        print_data(report, output)
        if exit_code(report, failure):  # the `Error:` line on stderr too, as every other command's -o json
            raise failure or KmeshctlError(report["clusterError"])
        raise typer.Exit(0)
    if report["cluster"] is not None:  # GET /version answered, whatever the later calls did
        typer.echo(f"Server Version: {report['cluster']['serverVersion']}")
    if exit_code(report, failure):  # the client's version is printed; the cluster named could not be asked
        raise failure or KmeshctlError(report["clusterError"])
    if report["clusterError"]:  # exit 0: no cluster is configured at all, so none was asked
        why = report["clusterError"].removeprefix("no cluster configured: ")  # the line says it once
        if not target.quiet:  # -q: no line on stderr but errors
            typer.echo(f"Cluster: none configured ({why})", err=True)
    elif report["cluster"] is not None:
        cluster = report["cluster"]
        typer.echo(f"Cluster: {cluster['server']}")
        if cluster["namespace"] != namespace:  # versions.agents_where_installed: the install's namespace
            typer.echo(f"Agents: in namespace {cluster['namespace']} (kmesh is installed there, not in {namespace})")
        if not cluster["agents"] and cluster["installed"]:  # its DaemonSet wants no pod, or none made yet
            typer.echo(f"Agents: none in namespace {cluster['namespace']} (installed, but the DaemonSet has no pods: "
                       f"`{_status_line(cluster['namespace'], namespace)}` says why)")
        elif not cluster["agents"]:
            cluster_id = istiods_cluster_id_quickly(DEFAULT_ISTIO_NAMESPACE)
            typer.echo(fix_hint(f"Agents: none in namespace {namespace} ({install_hint(cluster_id)})"))
        for agent in cluster["agents"]:
            found = agent["version"] or f"unknown ({fix_hint(agent['error'])})"
            typer.echo(f"Agent on {agent['node'] or TABLE_EMPTY}: {found} (pod {agent['pod']}"
                       + (f", image {agent['image']})" if output is OutputFormat.wide else ")"))


def _status_line(installed_in: str, asked: str) -> str:
    """`kmeshctl status ...` for the namespace the agents were read in (the install's, when
    version followed it from the default it was asked about)."""
    from kmeshctl.cli.render import same_work_command

    return same_work_command(["status"], ["-n", installed_in] if installed_in != asked else [])


def _version_report(report: dict, output: OutputFormat, namespace: str, connect: object, fetch: object,
                    check: object, target: object) -> tuple:
    """versions.version_report filling ``report`` (``check`` None: nothing to check); a stop
    while the cluster is asked prints, with -o json|yaml, the report as far as it got (the
    client's version, `cluster` null or without its agents, `clusterError` naming the
    stop), then stops as every command does."""
    from typer._click.core import ParameterSource
    from typer._click.globals import get_current_context

    from kmeshctl.versions import version_report

    try:
        typed = get_current_context().get_parameter_source("namespace") is not ParameterSource.DEFAULT
        return version_report(namespace, connect, fetch, check or (lambda: None),  # type: ignore[arg-type]
                              target=target, report=report, follow_install=not typed)  # type: ignore[arg-type]
    except KeyboardInterrupt as err:
        if is_data(output):
            report["clusterError"] = stopping.stop_text(stopping.stopped_by(err))
            print_data(report, output)
        raise


def _complete_command_words(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of `help WORD...`: the subcommands at the words typed so far."""
    group: object = ctx.find_root().command
    for word in ctx.params.get("words") or ():
        group = getattr(group, "commands", {}).get(word)
    return [name for name, sub in sorted(getattr(group, "commands", {}).items())
            if name.startswith(incomplete) and not sub.hidden]


@app.command("help")
def help_command(words: Annotated[Optional[list[str]], typer.Argument(
        metavar="[COMMAND...]", help="The command to describe.", autocompletion=_complete_command_words)] = None,
                 ) -> None:
    """Print the help of kmeshctl or of a command (the same as COMMAND --help).

    Examples:

      kmeshctl help
      kmeshctl help status
      kmeshctl help sandbox up
    """
    from typer._click.globals import get_current_context

    ctx = get_current_context().find_root()
    command = ctx.command
    for at, word in enumerate(words or ()):
        if not hasattr(command, "commands"):  # `help sandbox up extra`: no list of none to offer
            raise UsageError(f"help: {ctx.command_path} has no subcommands")
        sub = getattr(command, "commands", {}).get(word)
        if sub is None or sub.hidden:  # `help sandox`: the closest commands, as `kmeshctl sandox`
            from kmeshctl.cli.command_hints import no_such_command_line

            raise UsageError(f"help: {no_such_command_line(word, ctx, asked=(list(words or ())[:at], list(words or ())[at + 1:]))}")
        ctx = sub.make_context(word, [], parent=ctx, resilient_parsing=True)
        command = sub
    typer.echo(command.get_help(ctx))


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def _shell(value: str) -> Shell:
    from kmeshctl.params import shown

    try:
        return Shell(value)
    except ValueError:
        shell = _shell_meant(value)
        meant = f": `kmeshctl completion {shell}`" if shell else ""
        raise UsageError(f"completion: {shown(value)} is not a supported shell; use bash, zsh or fish{meant}") \
            from None


def _shell_meant(value: str) -> Optional[str]:
    """The shell ``value`` names (`Bash`, `fish=1`, `--zsh`, `/bin/bash`, `fsh`); None for none."""
    import difflib

    shells = [s.value for s in Shell]
    word = value.lower().partition("=")[0].lstrip("-").rpartition("/")[2]
    close = difflib.get_close_matches(word, shells, n=1, cutoff=0.75)
    return word if word in shells else close[0] if close else None


@app.command()
def completion(shell: Annotated[str, typer.Argument(
        metavar="bash|zsh|fish", help="The shell.",
        autocompletion=lambda incomplete: [s.value for s in Shell if s.value.startswith(incomplete)])]) -> None:
    """Print the shell completion script of kmeshctl.

    Examples:

      source <(kmeshctl completion bash)
      kmeshctl completion zsh > "${fpath[1]}/_kmeshctl"
      kmeshctl completion fish > ~/.config/fish/completions/kmeshctl.fish
    """
    from kmeshctl.cli.completion import script

    chosen = _shell(shell)
    typer.echo(script(chosen.value, COMPLETE_VAR))


PIPED_TABLE_WIDTH = "220"


@contextlib.contextmanager
def _tables_not_cut_when_piped() -> Iterator[None]:
    """rich wraps tables at 80 columns when stdout is not a terminal, which cuts names and
    addresses in `dump maps > file`; every Console reads COLUMNS, so set it for the command.
    Help is not a table: click's formatter keeps it within 80 columns (never padded)."""
    widen = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    if widen:
        os.environ["COLUMNS"] = PIPED_TABLE_WIDTH
    try:
        yield
    finally:
        if widen:
            os.environ.pop("COLUMNS", None)


class OutputUnwritable(Exception):
    """stdout or stderr cannot be written (a full disk, a closed descriptor, a pipe whose
    reader has gone): reported once the command has finished, never raised into it."""

    def __init__(self, stream: str, strerror: str, closed_pipe: bool = False) -> None:
        super().__init__(f"cannot write the output to {stream}: {strerror}")
        self.stream = stream
        self.closed_pipe = closed_pipe


PIPE_HOLD_BYTES = 64 * 1024  # a Linux pipe's capacity: output up to it is one write


class _NamedStream:
    """sys.stdout / sys.stderr while a command runs. A write that fails (a closed pipe,
    a full disk, a closed descriptor) never interrupts the command: it would stop work
    that changes state halfway (a sandbox half-removed, demo weights not restored). The
    first failure is recorded, the stream is silenced (later writes dropped) and the
    command runs to its end; main() then exits 1. Piped stdout is held and written in
    one piece (before any stderr line, at the end, or at a pipe's capacity), so whether
    `| head -1` sees the reader go depends on the output's size only, on every command."""

    failures: list[OutputUnwritable] = []

    def __init__(self, name: str, stream: object, hold: bool = False, before_write: object = None) -> None:
        self._name = name
        self._stream = stream
        self._hold = hold
        self._held: list[str] = []
        self._held_size = 0
        self._before_write = before_write
        self._dead = False
        self._lock = threading.RLock()

    def _fail(self, error: OutputUnwritable) -> None:
        self._dead = True
        self._held.clear()
        _NamedStream.failures.append(error)
        _silence(self._stream)

    def _call(self, method: str, *args: object) -> object:
        if self._dead:
            return len(args[0]) if method == "write" else None  # type: ignore[arg-type]
        if self._stream is None:
            self._fail(OutputUnwritable(self._name, os.strerror(errno.EBADF) + " (it is closed)"))
            return None
        try:
            return getattr(self._stream, method)(*args)
        except BrokenPipeError as err:
            self._fail(OutputUnwritable(self._name, err.strerror or "Broken pipe", closed_pipe=True))
        except OSError as err:
            self._fail(OutputUnwritable(self._name, err.strerror or str(err)))
        except ValueError:  # "I/O operation on closed file": the stream object itself was closed
            if not getattr(self._stream, "closed", False):
                raise
            self._fail(OutputUnwritable(self._name, os.strerror(errno.EBADF) + " (it is closed)"))
        return len(args[0]) if method == "write" else None  # type: ignore[arg-type]

    def write(self, text: str) -> object:
        if not isinstance(text, str) and self._stream is not None:  # click probes with b"": TypeError
            return self._stream.write(text)  # type: ignore[attr-defined]
        with self._lock:
            if self._before_write is not None:
                self._before_write()  # type: ignore[operator]
            if not self._hold or self._dead:
                return self._call("write", text)
            self._held.append(text)
            self._held_size += len(text)
            if self._held_size >= PIPE_HOLD_BYTES:
                self.release()
            return len(text)

    def release(self) -> None:
        """Write what is held, then flush."""
        with self._lock:
            text, self._held, self._held_size = "".join(self._held), [], 0
            if text:
                self._call("write", text)
            if self._stream is not None:
                self._call("flush")

    def flush(self) -> object:
        if self._hold:
            return None  # released at the end, before stderr, or at the pipe's capacity
        return None if self._stream is None else self._call("flush")

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()  # type: ignore[attr-defined]

    @property
    def encoding(self) -> str:
        """What rich draws for (it reads this): ASCII table borders under LANG=C."""
        from kmeshctl.cli.tables import drawing_encoding

        return drawing_encoding(self._stream)

    def __getattr__(self, name: str) -> object:
        if self._stream is None:
            raise AttributeError(name)
        return getattr(self._stream, name)


def _silence(stream: object) -> None:
    """Point a failed stream's descriptor at /dev/null: what Python still holds in its
    buffer is dropped at exit instead of a second error (and exit 120)."""
    with contextlib.suppress(OSError, ValueError, AttributeError, io.UnsupportedOperation):
        fd = stream.fileno()  # type: ignore[attr-defined]
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)


def _is_pipe(stream: object) -> bool:
    with contextlib.suppress(OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return stat.S_ISFIFO(os.fstat(stream.fileno()).st_mode)  # type: ignore[attr-defined]
    return False


@contextlib.contextmanager
def _output_failures_named() -> Iterator[None]:
    """Every write to stdout/stderr goes through _NamedStream while the command runs."""
    saved = sys.stdout, sys.stderr
    _NamedStream.failures = []
    out = _NamedStream("stdout", saved[0], hold=_is_pipe(saved[0]))
    sys.stdout = out  # type: ignore[assignment]
    sys.stderr = _NamedStream("stderr", saved[1], before_write=out.release)  # type: ignore[assignment]
    try:
        yield
    finally:
        out.release()
        # click puts its own wrapper around a closed pipe's streams: keep that one
        if isinstance(sys.stdout, _NamedStream):
            sys.stdout = saved[0]  # type: ignore[assignment]
        if isinstance(sys.stderr, _NamedStream):
            sys.stderr = saved[1]  # type: ignore[assignment]


def _report_unwritable(err: OutputUnwritable, code: object = 0) -> int:
    """Exit 1 on every command (or the command's own non-zero code: `status` of an
    unhealthy mesh still exits 1, a bad flag 2): one line on stderr whatever the code,
    except when stderr is the stream that failed or stdout is a pipe its reader closed
    (`| head`: nothing went wrong that the user needs told; the reader chose to stop)."""
    failed_streams = {f.stream for f in _NamedStream.failures}
    if not err.closed_pipe and "stderr" not in failed_streams and sys.stderr is not None:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(f"Error: {err}\n")
            sys.stderr.flush()
    return code if isinstance(code, int) and code else 1


def main() -> None:
    """Run the CLI; every failure ends as one line on stderr and a script-friendly exit code.
    A signal, whenever it comes (click's parsing, the command, its cleanup, the exit), ends
    it with 128 + the signal's number (SIGTERM 143, Ctrl-C 130) and one line, the command's
    own (`Error: stopped by SIGTERM: sandbox demo was not created`) or `Error: stopped by SIGTERM`."""
    if not stopping.owns_process() and _launched_by_a_script():
        stopping.own_process()  # a console script under another name: the program all the same
    owned = stopping.owns_process()  # the kmeshctl program, not a program calling main (tests)
    run = stopping.sigterm_stops()  # the caller's handlers back at its end (the program's are its own)
    code: object = 1
    escaped: stopping.Stopped | None = None
    try:
        with run:
            code = _run()
    except BaseException as err:  # noqa: B036 (a stop outside typer's own handling; anything else re-raised)
        escaped = stopping.stop_in(err)
        if escaped is None and run.first() is None:
            raise
        if escaped is None:  # a bug in the cleanup of a stop: its traceback, then the stop's line and code
            import traceback

            traceback.print_exception(err)
    finally:  # from here a signal no longer raises: it says its line (if none was said) and exits
        if owned:
            stopping.stop_at_once()
    code = _exit_code(code, run.first() or escaped)
    stopping.exiting(code)  # the program's exit code, whatever a signal or an atexit call does after
    sys.exit(code)


def _launched_by_a_script() -> bool:
    """The program is a script that imported this main to run it: a console script under
    any name (pip's, a copy, a wrapper named kmeshctl-dev), not only one named kmeshctl
    (_launched_as_kmeshctl), or `python -c 'from kmeshctl.cli import main; main()'` (a
    wrapper script of a checkout). Without this, such a program's main put Python's own
    handlers back once the command returned, and a signal after the result (saying its
    line, or in Python's exit: 100s of ms on a loaded machine) ended it with a traceback,
    or 128+N and no line. A program that calls a main of its own (a test: pytest's) is not
    the program."""
    launcher = sys.modules.get("__main__")
    from_code = bool(getattr(launcher, "__file__", None)) or "-c" in getattr(sys, "orig_argv", ())
    return from_code and getattr(launcher, "main", None) is main


def _exit_code(code: object, stop: stopping.Stopped | None) -> object:
    """The exit code of the run: the first signal's, whatever the command returned (one
    `Error: stopped by` line when the command said none); else the command's own."""
    if stop is not None:
        stopping.say_once(stop)
        return stop.exit_code
    if _NamedStream.failures:  # the command finished (well or not); its output did not
        return _report_unwritable(_NamedStream.failures[0], code)
    return code


def _run() -> object:
    """The command's exit code; a stop it lets out is said and exited with by
    run_reporting_errors (a command that handles its stop says its own line)."""
    from typer.completion import completion_init

    from kmeshctl.errors import silence_library_warnings

    silence_library_warnings()  # a library's warning is its path and source line: never the user's
    completion_init()
    from kmeshctl.cli.completion import install as install_path_completion

    install_path_completion()  # paths complete as files / directories (before the global-flag wrapper)
    complete_global_flags_anywhere()
    command = typer.main.get_command(app)
    swallowed = stopping.first_of_run()  # while loading, where its exception was lost (an import's callback)
    if swallowed is not None:
        raise swallowed
    try:
        with _output_failures_named(), _tables_not_cut_when_piped():
            command.main(prog_name="kmeshctl", complete_var=COMPLETE_VAR)
    except SystemExit as done:
        return done.code
    return 0


__all__ = ["app", "main", "__version__"]
