"""The kmeshctl command line. Each sub-module registers the commands of one area;
commands only parse flags, call the module that does the work, and print."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator

import typer
from typer.exceptions import Abort, TyperException

from kmeshctl import __version__
from kmeshctl.cli.common import app
from kmeshctl.errors import KmeshctlError

# Importing a command module registers its commands on `app`.
from kmeshctl.cli import cluster as _cluster  # noqa: F401,E402
from kmeshctl.cli import dump as _dump  # noqa: F401,E402
from kmeshctl.cli import node as _node  # noqa: F401,E402
from kmeshctl.cli import render as _render  # noqa: F401,E402
from kmeshctl.cli import sandbox as _sandbox  # noqa: F401,E402
from kmeshctl.cli import demo as _demo  # noqa: F401,E402
from kmeshctl.cli import bench as _bench  # noqa: F401,E402


@app.command()
def version() -> None:
    """Print the kmeshctl version."""
    typer.echo(__version__)


def _one_line_usage_error(err: TyperException) -> str:
    """Typer's usage errors as one line, with where to look instead of the usage block."""
    ctx = getattr(err, "ctx", None)
    if ctx is None:
        return f"Error: {err.format_message()}"
    return f"Error: {err.format_message()} (see '{ctx.command_path} --help')"


PIPED_TABLE_WIDTH = "220"


@contextlib.contextmanager
def _tables_not_cut_when_piped() -> Iterator[None]:
    """rich wraps tables at 80 columns when stdout is not a terminal, which cuts names and
    addresses in `dump maps > file`; every Console reads COLUMNS, so set it for the command."""
    widen = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    if widen:
        os.environ["COLUMNS"] = PIPED_TABLE_WIDTH
    try:
        yield
    finally:
        if widen:
            os.environ.pop("COLUMNS", None)


def main() -> None:
    """Run the CLI; every failure ends as one line on stderr and a script-friendly exit code."""
    try:
        with _tables_not_cut_when_piped():
            code = app(standalone_mode=False)
    except TyperException as err:
        typer.secho(_one_line_usage_error(err), fg=typer.colors.RED, err=True)
        sys.exit(err.exit_code)
    except Abort:
        typer.secho("Aborted.", fg=typer.colors.RED, err=True)
        sys.exit(130)
    except KmeshctlError as err:
        typer.secho(f"Error: {err}", fg=typer.colors.RED, err=True)
        sys.exit(err.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
