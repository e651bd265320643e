"""`kmeshctl dump ...`: show data-path state. `dump maps` reads the pinned BPF maps of this
node directly (run it on the node, as root)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from kmeshctl import config_dump
from kmeshctl import dump as dumper
from kmeshctl.config_dump import AGENT_NAMESPACE
from kmeshctl.cli.common import app, print_json
from kmeshctl.maps import DEFAULT_BPF_FS, MAP_NAMES

dump_app = typer.Typer(help="Show data-path state (BPF maps, agent config).", no_args_is_help=True)
app.add_typer(dump_app, name="dump")


class TableOrJson(str, Enum):
    table = "table"
    json = "json"


BpfFsOption = Annotated[
    Path, typer.Option("--bpf-fs", metavar="DIR", help="bpffs directory holding the pinned maps.")
]
PodOption = Annotated[
    Optional[str], typer.Option("--pod", metavar="NAME", help="Node agent pod to ask (port-forward).")
]
NamespaceOption = Annotated[str, typer.Option("--namespace", "-n", help="Namespace of the agent pod.")]
AdminPortOption = Annotated[int, typer.Option("--admin-port", help="The agent's admin port.")]


@dump_app.command("maps")
def dump_maps(
    map_name: Annotated[
        Optional[str],
        typer.Option("--map", metavar="NAME", help=f"Only this map: {', '.join(MAP_NAMES)}."),
    ] = None,
    output: Annotated[TableOrJson, typer.Option("-o", "--output", help="Output format.")] = TableOrJson.table,
    bpf_fs: BpfFsOption = DEFAULT_BPF_FS,
    pod: PodOption = None,
    namespace: NamespaceOption = AGENT_NAMESPACE,
    admin_port: AdminPortOption = 15200,
) -> None:
    """Decode the pinned data-path maps (no agent needed): ids resolved to names.
    With --pod, ask that node agent pod (port-forward to its admin port)."""
    if pod:
        dumper.check_map_name(map_name)
        data = config_dump.fetch(config_dump.BPF_PATH, pod, namespace, admin_port)
        if output is TableOrJson.json:
            print_json({k: v for k, v in data.items() if map_name in (None, k)})
        else:
            config_dump.print_maps_json_as_tables(data, map_name)
        return
    if output is TableOrJson.json:
        print_json(dumper.dump_json(bpf_fs, map_name))
    else:
        dumper.print_tables(bpf_fs, map_name)


@dump_app.command("config")
def dump_config(
    pod: PodOption = None,
    namespace: NamespaceOption = AGENT_NAMESPACE,
    admin_port: AdminPortOption = 15200,
    output: Annotated[TableOrJson, typer.Option("-o", "--output", help="Output format.")] = TableOrJson.table,
) -> None:
    """Show a node agent's workload cache (services, workloads, policies): the local agent
    (127.0.0.1:--admin-port), or with --pod the agent pod through a port-forward."""
    data = config_dump.fetch(config_dump.CACHE_PATH, pod, namespace, admin_port)
    if output is TableOrJson.json:
        print_json(data)
    else:
        config_dump.print_cache_tables(data)
