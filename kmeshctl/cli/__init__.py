"""The kmeshctl command line. Each sub-module registers the commands of one area;
commands only parse flags, call the module that does the work, and print."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
from enum import Enum
from typing import Annotated, Iterator, Optional

import typer

from kmeshctl import __version__
from kmeshctl.cli.common import OutputFormat, OutputOption, app, check_namespace_flags, is_data, print_data
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


@app.command()
def version(
    client: Annotated[bool, typer.Option("--client", help="Only this client's version; do not ask a cluster.")] = False,
    namespace: Annotated[str, typer.Option("-n", "--namespace", help="Namespace of the node agents.")] = "kmesh-system",
    output: OutputOption = OutputFormat.table,
) -> None:
    """Print the kmeshctl version and, when a cluster answers, each node agent's version.

    Examples:

      kmeshctl version
      kmeshctl version --client
      kmeshctl --context prod version -o json
    """
    from kmeshctl import config_dump
    from kmeshctl.kube import connect_reachable
    from kmeshctl.cli.common import fix_hint
    from kmeshctl.params import INSTALL_HINT
    from kmeshctl.versions import exit_code, version_report

    if not client:
        check_namespace_flags()
    # A kubeconfig that does not load is bad input, raised before anything is printed (as
    # kubectl); a cluster that does not answer is reported after the client's version.
    report = version_report(namespace, None if client else connect_reachable, config_dump.fetch_from_pod)
    if is_data(output):
        print_data(report, output)
        raise typer.Exit(exit_code(report))
    typer.echo(f"Client: {report['client']['version']}")
    if exit_code(report):  # the client's version is printed; the cluster named could not be asked
        raise KmeshctlError(report["clusterError"])
    if report["clusterError"]:
        typer.echo(f"Cluster: could not reach one ({report['clusterError']})", err=True)
    elif report["cluster"] is not None:
        cluster = report["cluster"]
        typer.echo(f"Cluster: {cluster['server']}")
        if not cluster["agents"]:
            typer.echo(fix_hint(f"Agents: none in namespace {namespace} ({INSTALL_HINT})"))
        for agent in cluster["agents"]:
            seen = agent["version"] or f"unknown ({agent['error']})"
            typer.echo(f"Agent on {agent['node'] or '-'}: {seen} (pod {agent['pod']}"
                       + (f", image {agent['image']})" if output is OutputFormat.wide else ")"))


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
    for word in words or ():
        sub = getattr(command, "commands", {}).get(word)
        if sub is None or sub.hidden:
            raise UsageError(f"help: no command '{ctx.command_path} {word}'; the commands are listed by "
                             f"`{ctx.command_path} --help`")
        ctx = sub.make_context(word, [], parent=ctx, resilient_parsing=True)
        command = sub
    typer.echo(command.get_help(ctx))


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def _shell(value: str) -> Shell:
    try:
        return Shell(value)
    except ValueError:
        raise UsageError(f"completion: {value or repr(value)} is not a supported shell; use bash, zsh or fish") \
            from None


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
    reader has gone): not an OSError, so no command's own `except OSError` mistakes it
    for its work failing, and click's own EPIPE handling never sees it either."""

    def __init__(self, stream: str, strerror: str, closed_pipe: bool = False) -> None:
        super().__init__(f"cannot write the output to {stream}: {strerror}")
        self.stream = stream
        self.closed_pipe = closed_pipe


class _NamedStream:
    """sys.stdout / sys.stderr, raising OutputUnwritable when a write or flush fails
    (a closed pipe, EPIPE, too: marked, so `| head` stays quiet); a closed descriptor
    (the stream is None) fails on its first write only, so a command that prints
    nothing there still runs."""

    def __init__(self, name: str, stream: object) -> None:
        self._name = name
        self._stream = stream

    def _call(self, method: str, *args: object) -> object:
        if self._stream is None:
            raise OutputUnwritable(self._name, os.strerror(errno.EBADF) + " (it is closed)")
        try:
            return getattr(self._stream, method)(*args)
        except BrokenPipeError as err:
            raise OutputUnwritable(self._name, err.strerror or "Broken pipe", closed_pipe=True) from None
        except OSError as err:
            raise OutputUnwritable(self._name, err.strerror or str(err)) from None

    def write(self, text: str) -> object:
        return self._call("write", text)

    def flush(self) -> object:
        return None if self._stream is None else self._call("flush")

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        if self._stream is None:
            raise AttributeError(name)
        return getattr(self._stream, name)


@contextlib.contextmanager
def _output_failures_named() -> Iterator[None]:
    """Every write to stdout/stderr goes through _NamedStream while the command runs."""
    saved = sys.stdout, sys.stderr
    sys.stdout = _NamedStream("stdout", saved[0])  # type: ignore[assignment]
    sys.stderr = _NamedStream("stderr", saved[1])  # type: ignore[assignment]
    try:
        yield
        sys.stdout.flush()
    finally:
        # click puts its own wrapper around a closed pipe's streams: keep that one
        if isinstance(sys.stdout, _NamedStream):
            sys.stdout = saved[0]  # type: ignore[assignment]
        if isinstance(sys.stderr, _NamedStream):
            sys.stderr = saved[1]  # type: ignore[assignment]


def _report_unwritable(err: OutputUnwritable) -> None:
    """Exit 1 on every command: one line on stderr, except when stderr is the stream
    that failed or stdout is a pipe its reader closed (`| head`: nothing went wrong
    that the user needs told; the reader chose to stop)."""
    if err.closed_pipe:
        _silence_closed_stream(err.stream)
    elif err.stream != "stderr" and sys.stderr is not None:
        with contextlib.suppress(OSError):
            sys.stderr.write(f"Error: {err}\n")
            sys.stderr.flush()
    sys.exit(1)


def _silence_closed_stream(stream: str) -> None:
    """Point the closed pipe's descriptor at /dev/null: what Python still holds in its
    buffer is dropped at exit instead of a second "Broken pipe" (and exit 120)."""
    target = sys.__stdout__ if stream == "stdout" else sys.__stderr__
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, target.fileno())
        os.close(devnull)


def _terminate_cleanly(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Run the CLI; every failure ends as one line on stderr and a script-friendly exit code."""
    from typer.completion import completion_init

    completion_init()
    from kmeshctl.cli.completion import install as install_path_completion

    install_path_completion()  # paths complete as files / directories (before the global-flag wrapper)
    complete_global_flags_anywhere()
    # SIGTERM (timeout, a CI runner, kill) unwinds like Ctrl-C, so every command's
    # cleanup runs (a half-made sandbox is removed, demo weights restored)
    signal.signal(signal.SIGTERM, _terminate_cleanly)
    command = typer.main.get_command(app)
    try:
        with _output_failures_named(), _tables_not_cut_when_piped():
            command.main(prog_name="kmeshctl", complete_var=COMPLETE_VAR)
    except OutputUnwritable as err:
        _report_unwritable(err)


__all__ = ["app", "main", "__version__"]
