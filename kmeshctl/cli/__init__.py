"""The kmeshctl command line. Each sub-module registers the commands of one area;
commands only parse flags, call the module that does the work, and print."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from enum import Enum
from typing import Annotated, Iterator

import typer

from kmeshctl import __version__
from kmeshctl.cli.common import OutputFormat, OutputOption, app, check_namespace_flags, is_data, print_data
from kmeshctl.cli.conventions import COMPLETE_VAR, complete_global_flags_anywhere
from kmeshctl.errors import UsageError

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
    from kmeshctl.versions import version_report

    if not client:
        check_namespace_flags()
    report = version_report(namespace, None if client else connect_reachable, config_dump.fetch_from_pod)
    if is_data(output):
        print_data(report, output)
        return
    typer.echo(f"Client: {report['client']['version']}")
    if report["clusterError"]:
        typer.echo(f"Cluster: could not reach one ({report['clusterError']})", err=True)
    elif report["cluster"] is not None:
        cluster = report["cluster"]
        typer.echo(f"Cluster: {cluster['server']}")
        if not cluster["agents"]:
            typer.echo(f"Agents: none in namespace {namespace} (run `kmeshctl install`)")
        for agent in cluster["agents"]:
            seen = agent["version"] or f"unknown ({agent['error']})"
            typer.echo(f"Agent on {agent['node'] or '-'}: {seen} (pod {agent['pod']}"
                       + (f", image {agent['image']})" if output is OutputFormat.wide else ")"))


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
    from typer._completion_shared import get_completion_script

    chosen = _shell(shell)
    typer.echo(get_completion_script(prog_name="kmeshctl", complete_var=COMPLETE_VAR, shell=chosen.value))


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


def _terminate_cleanly(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Run the CLI; every failure ends as one line on stderr and a script-friendly exit code."""
    from typer.completion import completion_init

    completion_init()
    complete_global_flags_anywhere()
    # SIGTERM (timeout, a CI runner, kill) unwinds like Ctrl-C, so every command's
    # cleanup runs (a half-made sandbox is removed, demo weights restored)
    signal.signal(signal.SIGTERM, _terminate_cleanly)
    command = typer.main.get_command(app)
    with _tables_not_cut_when_piped():
        command.main(prog_name="kmeshctl", complete_var=COMPLETE_VAR)


__all__ = ["app", "main", "__version__"]
