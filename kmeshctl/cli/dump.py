"""`kmeshctl dump ...`: show data-path state. `dump maps` reads the pinned BPF maps of this
node (or of a local sandbox) directly; run it on the node, as root."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from kmeshctl import config_dump, sandboxes
from kmeshctl import dump as dumper
from kmeshctl.config_dump import AGENT_NAMESPACE
from kmeshctl.cli.common import OutputFormat, OutputOption, app, is_data, print_data
from kmeshctl.errors import UsageError
from kmeshctl.maps import DEFAULT_BPF_FS, MAP_NAMES

dump_app = typer.Typer(
    help="Show data-path state (BPF maps, agent config).\n\n"
         "Examples:\n\n"
         "  sudo kmeshctl dump maps                 # this node's maps (or the only sandbox's)\n"
         "  sudo kmeshctl dump maps --sandbox demo --map km_backend -o wide\n"
         "  kmeshctl dump config --pod kmesh-5jnht -n kmesh-system",
    no_args_is_help=True)
app.add_typer(dump_app, name="dump")

ADMIN_PORT = 15200
WIDE_WIDTH = 10_000

BpfFsOption = Annotated[
    Optional[Path], typer.Option("--bpf-fs", metavar="DIR", help=f"bpffs directory holding the pinned maps "
                                 f"(default: {DEFAULT_BPF_FS}, or the only sandbox's when that has none).")
]
SandboxOption = Annotated[
    Optional[str], typer.Option("--sandbox", metavar="NAME", help="A local sandbox (see `kmeshctl sandbox list`).")
]
PodOption = Annotated[
    Optional[str], typer.Option("--pod", metavar="NAME", help="Node agent pod to ask (port-forward).")
]
NamespaceOption = Annotated[str, typer.Option("-n", "--namespace", help="Namespace of the agent pod.")]
AdminPortOption = Annotated[
    Optional[int], typer.Option("--admin-port", min=1, max=65535, metavar="PORT",
                                help=f"The agent's admin port (default: {ADMIN_PORT}, or the sandbox agent's).")
]


def _note(line: str) -> None:
    typer.echo(line, err=True)


def _local_bpf_fs(bpf_fs: Optional[Path], sandbox: Optional[str]) -> Path:
    """--bpf-fs, else --sandbox's, else the node's default when it has maps, else the only sandbox's."""
    if bpf_fs is not None and sandbox is not None:
        raise UsageError("give --bpf-fs DIR or --sandbox NAME, not both")
    if sandbox is not None:
        return sandboxes.require(sandbox).bpffs
    if bpf_fs is not None:
        return bpf_fs
    if not DEFAULT_BPF_FS.exists():
        only = sandboxes.only_one()
        if only is not None:
            _note(f"Using the maps of sandbox {only.name} ({only.bpffs}); pass --bpf-fs or --sandbox to choose")
            return only.bpffs
        if sandboxes.names():
            raise UsageError(f"no maps at {DEFAULT_BPF_FS} and several sandboxes ({sandboxes.known_text()}): "
                             "pass --sandbox NAME")
    return DEFAULT_BPF_FS


def _local_admin_port(admin_port: Optional[int], sandbox: Optional[str]) -> int:
    """--admin-port, else --sandbox's agent, else the only sandbox's agent, else 15200."""
    if admin_port is not None and sandbox is not None:
        raise UsageError("give --admin-port PORT or --sandbox NAME, not both")
    if sandbox is not None:
        return sandboxes.admin_port(sandboxes.require(sandbox))
    if admin_port is not None:
        return admin_port
    only = sandboxes.only_one()
    if only is not None and only.agent.get("admin"):
        _note(f"Asking the node agent of sandbox {only.name} ({only.agent['admin']}); "
              "pass --admin-port or --sandbox to choose")
        return sandboxes.admin_port(only)
    return ADMIN_PORT


def _console(output: OutputFormat) -> Console:
    return Console(width=WIDE_WIDTH) if output is OutputFormat.wide else Console()


@dump_app.command("maps")
def dump_maps(
    map_name: Annotated[
        Optional[str],
        typer.Option("--map", metavar="NAME", help=f"Only this map: {', '.join(MAP_NAMES)}."),
    ] = None,
    output: OutputOption = OutputFormat.table,
    bpf_fs: BpfFsOption = None,
    sandbox: SandboxOption = None,
    pod: PodOption = None,
    namespace: NamespaceOption = AGENT_NAMESPACE,
    admin_port: AdminPortOption = None,
) -> None:
    """Decode the pinned data-path maps (no agent needed): ids resolved to names, and
    km_manage's netns cookies to pods when the agent answers. With --pod, ask that node
    agent pod (port-forward to its admin port).

    In a terminal the id and name columns are never cut; -o wide shows every column whole.

    Examples:

      sudo kmeshctl dump maps
      sudo kmeshctl dump maps --sandbox demo --map km_manage
      sudo kmeshctl dump maps -o wide
      kmeshctl dump maps --pod kmesh-5jnht -n kmesh-system -o json
    """
    dumper.check_map_name(map_name)
    if pod:
        if bpf_fs is not None or sandbox is not None:
            raise UsageError("--pod asks a cluster's agent: leave out --bpf-fs and --sandbox")
        port = admin_port or ADMIN_PORT
        data = config_dump.fetch(config_dump.BPF_PATH, pod, namespace, port)
        if is_data(output):
            print_data({k: v for k, v in data.items() if map_name in (None, k)}, output)
        else:
            pods = _pod_names(lambda: config_dump.fetch(config_dump.CACHE_PATH, pod, namespace, port))
            config_dump.print_maps_json_as_tables(data, map_name, _console(output), pods=pods,
                                                  wide=output is OutputFormat.wide)
        return
    path = _local_bpf_fs(bpf_fs, sandbox)
    if is_data(output):
        print_data(dumper.dump_json(path, map_name), output)
        return
    port = admin_port or (sandboxes.admin_port(sandboxes.require(sandbox)) if sandbox else None)
    if port is None:
        only = sandboxes.only_one()
        port = sandboxes.admin_port(only) if only is not None and only.bpffs == path and \
            only.agent.get("admin") else ADMIN_PORT
    pods = _pod_names(lambda: config_dump.fetch_local(config_dump.CACHE_PATH, port)) \
        if map_name in (None, "km_manage") else {}
    dumper.print_tables(path, map_name, _console(output), pods=pods, wide=output is OutputFormat.wide)


def _pod_names(fetch) -> dict[int, str]:
    """netns cookie -> pod, from the agent's cache dump; empty when the agent does not answer
    (the table then says so in its pod column)."""
    try:
        return dumper.pods_by_cookie(fetch())
    except Exception:  # noqa: BLE001 - best effort: the maps are shown either way
        return {}


@dump_app.command("config")
def dump_config(
    pod: PodOption = None,
    namespace: NamespaceOption = AGENT_NAMESPACE,
    admin_port: AdminPortOption = None,
    sandbox: SandboxOption = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Show a node agent's workload cache (services, workloads, policies): the local agent
    (127.0.0.1, --admin-port; a sandbox's agent is found by itself), or with --pod the
    agent pod through a port-forward.

    Examples:

      sudo kmeshctl dump config                    # this node's agent, or the only sandbox's
      kmeshctl dump config --sandbox demo -o json
      kmeshctl dump config --pod kmesh-5jnht -n kmesh-system
    """
    if pod:
        if sandbox is not None:
            raise UsageError("--pod asks a cluster's agent: leave out --sandbox")
        data = config_dump.fetch_from_pod(config_dump.CACHE_PATH, pod, namespace, admin_port or ADMIN_PORT)
    else:
        data = config_dump.fetch_local(config_dump.CACHE_PATH, _local_admin_port(admin_port, sandbox))
    if is_data(output):
        print_data(data, output)
    else:
        config_dump.print_cache_tables(data, _console(output))
