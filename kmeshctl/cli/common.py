"""The root typer app, global options (--kubeconfig / --context) and output helpers
shared by every command module."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any, Optional

import typer
import yaml

from kmeshctl.kube import TARGET

app = typer.Typer(
    name="kmeshctl",
    help="Deploy and run a Kmesh-style dual-engine eBPF service mesh with Istio / ASM.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# The kube layer holds the cluster target; this name is kept for callers of the CLI module.
GLOBAL = TARGET


@app.callback()
def _global_options(
    kubeconfig: Optional[str] = typer.Option(
        None, "--kubeconfig", envvar="KUBECONFIG", help="Path to the kubeconfig file."
    ),
    context: Optional[str] = typer.Option(None, "--context", help="Kubeconfig context to use."),
) -> None:
    TARGET.kubeconfig = kubeconfig
    TARGET.context = context


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    yaml = "yaml"


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def print_yaml_documents(objects: list[dict]) -> None:
    typer.echo(yaml.safe_dump_all(objects, sort_keys=False), nl=False)
