"""The kmeshctl command line. Each sub-module registers the commands of one area;
commands only parse flags, call the module that does the work, and print."""

from __future__ import annotations

import sys

import typer

from kmeshctl import __version__
from kmeshctl.cli.common import app
from kmeshctl.errors import KmeshctlError

# Importing a command module registers its commands on `app`.
from kmeshctl.cli import cluster as _cluster  # noqa: F401,E402
from kmeshctl.cli import dump as _dump  # noqa: F401,E402
from kmeshctl.cli import node as _node  # noqa: F401,E402
from kmeshctl.cli import render as _render  # noqa: F401,E402
from kmeshctl.cli import sandbox as _sandbox  # noqa: F401,E402


@app.command()
def version() -> None:
    """Print the kmeshctl version."""
    typer.echo(__version__)


def main() -> None:
    try:
        app()
    except KmeshctlError as err:
        typer.secho(f"Error: {err}", fg=typer.colors.RED, err=True)
        sys.exit(err.exit_code)
