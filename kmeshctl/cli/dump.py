"""`kmeshctl dump ...`: show data-path state. `dump maps` reads the pinned BPF maps of this
node directly (run it on the node, as root)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from kmeshctl import dump as dumper
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


@dump_app.command("maps")
def dump_maps(
    map_name: Annotated[
        Optional[str],
        typer.Option("--map", metavar="NAME", help=f"Only this map: {', '.join(MAP_NAMES)}."),
    ] = None,
    output: Annotated[TableOrJson, typer.Option("-o", "--output", help="Output format.")] = TableOrJson.table,
    bpf_fs: BpfFsOption = DEFAULT_BPF_FS,
) -> None:
    """Decode the pinned data-path maps (no agent needed): ids resolved to names."""
    if output is TableOrJson.json:
        print_json(dumper.dump_json(bpf_fs, map_name))
    else:
        dumper.print_tables(bpf_fs, map_name)
