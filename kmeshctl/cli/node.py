"""`kmeshctl node ...`: commands run on a node (as root) against its kernel data path."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kmeshctl import loader, nodecheck
from kmeshctl.cli.common import app
from kmeshctl.errors import KmeshctlError
from kmeshctl.maps import DEFAULT_BPF_FS

node_app = typer.Typer(help="Node-side commands: the eBPF data path of this machine.",
                       no_args_is_help=True)
app.add_typer(node_app, name="node")

BpfFsOption = Annotated[
    Path, typer.Option("--bpf-fs", metavar="DIR", help="bpffs directory of the pinned maps and programs.")
]
Cgroup2PathOption = Annotated[
    Optional[Path],
    typer.Option("--cgroup2-path", metavar="DIR",
                 help="cgroup v2 directory the programs are attached at (default: the cgroup v2 root)."),
]


@node_app.command("preflight")
def preflight(
    no_mount: Annotated[bool, typer.Option("--no-mount", help="Report missing mounts instead of mounting them.")] = False,
) -> None:
    """Check this node can run the data path (BPF, cgroup v2, bpffs, bcc, kernel headers)."""
    results = nodecheck.run_preflight(mount_missing=not no_mount)
    for result in results:
        mark = typer.style("ok  ", fg=typer.colors.GREEN) if result.ok else typer.style("FAIL", fg=typer.colors.RED)
        typer.echo(f"{mark} {result.name}: {result.detail}")
    failed = [r for r in results if not r.ok]
    if failed:
        raise KmeshctlError(f"{len(failed)} preflight check(s) failed: fix the lines marked FAIL")


@node_app.command("cleanup")
def cleanup(bpf_fs: BpfFsOption = DEFAULT_BPF_FS, cgroup2_path: Cgroup2PathOption = None) -> None:
    """Detach and unpin every program and map the data path created under --bpf-fs."""
    if cgroup2_path is not None and not (cgroup2_path / "cgroup.procs").exists():
        raise KmeshctlError(f"{cgroup2_path} is not a cgroup v2 directory: pass one under "
                            f"{nodecheck.cgroup2_root()}")
    done = loader.cleanup(bpf_fs, cgroup2_path)
    for line in done:
        typer.echo(line)
    if not done:
        typer.echo(f"nothing to clean up under {bpf_fs}")
