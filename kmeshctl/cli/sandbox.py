"""`kmeshctl sandbox up | down | status | exec`: the local single-node sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.console import Console
from rich.table import Table

from kmeshctl.cli.common import OutputFormat, app, print_json
from kmeshctl.errors import UsageError
from kmeshctl.sandbox import sandbox as sandbox_mod
from kmeshctl.sandbox.manifests import default_files
from kmeshctl.sandbox.state import check_name, default_name

sandbox_app = typer.Typer(
    help="A local single-node mesh: pods as network namespaces, the eBPF data path, "
         "a real Envoy waypoint. Needs root.",
    no_args_is_help=True,
)
app.add_typer(sandbox_app, name="sandbox")

_NAME_HELP = "Sandbox name (several can coexist); default from $KMESHCTL_SANDBOX_NAME or 'kmesh'."


def _name(name: Optional[str]) -> str:
    return check_name(name) if name else default_name()


def _progress(line: str) -> None:
    typer.echo(f"  {line}", err=True)


@sandbox_app.command("up")
def up(
    files: Optional[List[Path]] = typer.Option(
        None, "-f", "--filename", help="Kubernetes YAML file or directory (repeatable); "
                                       "default: examples/fortio/"),
    name: Optional[str] = typer.Option(None, "--name", help=_NAME_HELP),
) -> None:
    """Create the sandbox from Kubernetes YAML (Namespace, Service, Deployment,
    VirtualService, DestinationRule)."""
    sandbox_name = _name(name)
    typer.echo(f"Creating sandbox {sandbox_name}...", err=True)
    sandbox_mod.up(sandbox_name, files or default_files(), _progress)
    typer.echo(f"Sandbox {sandbox_name} is up. Try: kmeshctl sandbox status; "
               "kmeshctl demo traffic-shift")


@sandbox_app.command("down")
def down(name: Optional[str] = typer.Option(None, "--name", help=_NAME_HELP)) -> None:
    """Remove every namespace, link, cgroup, pinned object and process of the sandbox."""
    sandbox_name = _name(name)
    if sandbox_mod.down(sandbox_name, _progress):
        typer.echo(f"Sandbox {sandbox_name} removed.")
    else:
        typer.echo(f"Sandbox {sandbox_name} is not up; nothing to remove.")


@sandbox_app.command("status")
def status(
    output: OutputFormat = typer.Option(OutputFormat.table, "-o", "--output"),
    name: Optional[str] = typer.Option(None, "--name", help=_NAME_HELP),
) -> None:
    """Pods, Services, the waypoint and the agent."""
    if output == OutputFormat.yaml:
        raise UsageError("-o yaml is not supported here: use -o table or -o json")
    report = sandbox_mod.status(_name(name))
    if output == OutputFormat.json:
        print_json(report)
    else:
        _print_status(report)


def _print_status(report: dict[str, Any]) -> None:
    console = Console()
    console.print(f"Sandbox [bold]{report['name']}[/bold]: {report['phase']}")
    pods = Table("NAMESPACE", "POD", "IP", "STATE", "ENROLLED", title="Pods", title_justify="left")
    for pod in report["pods"]:
        enrolled = "-" if pod["enrolled"] is None else ("yes" if pod["enrolled"] else "no")
        if pod["waypoint"]:
            enrolled = "no (waypoint)"
        pods.add_row(pod["namespace"], pod["name"], pod["ip"], pod["state"], enrolled)
    console.print(pods)
    services = Table("NAMESPACE", "SERVICE", "VIP", "PORTS", "WAYPOINT", title="Services",
                     title_justify="left")
    for svc in report["services"]:
        services.add_row(svc["namespace"], svc["name"], svc["vip"], ", ".join(svc["ports"]),
                         svc["waypoint"] or "-")
    console.print(services)
    for waypoint in report["waypoints"]:
        health = "ready" if waypoint["ready"] else "NOT READY"
        extra = (f", {waypoint['listeners']} listener(s), {waypoint['clusters']} cluster(s)"
                 if waypoint["ready"] else "")
        console.print(f"Waypoint {waypoint['name']} (pod {waypoint['pod']}, {waypoint['address']}): "
                      f"{health}{extra}; admin {waypoint['admin']}")
    for role in ("controlplane", "agent"):
        if role in report:
            daemon = report[role]
            state = f"running (pid {daemon['pid']})" if daemon.get("running") else "not running"
            console.print(f"{'Control plane' if role == 'controlplane' else 'Node agent'}: {state}")


@sandbox_app.command(
    "exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def exec_(
    pod: str = typer.Argument(..., help="Pod name, or a Deployment name for its first pod."),
    command: List[str] = typer.Argument(None, help="The command, after `--`."),
    name: Optional[str] = typer.Option(None, "--name", help=_NAME_HELP),
) -> None:
    """Run a command inside a pod (its netns and cgroup), like `kubectl exec`."""
    code = sandbox_mod.exec_in_pod(_name(name), pod, command or [])
    raise typer.Exit(code)
