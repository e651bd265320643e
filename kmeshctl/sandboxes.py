"""Which local sandboxes exist, for the tools that work on this machine (`sandbox list`,
`dump maps`, `dump config`, `demo traffic-shift`): find one by name, or the only one up,
and say which exist when a name is wrong."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

from kmeshctl.errors import UsageError
from kmeshctl.sandbox.state import STATE_ROOT, SandboxState, check_name


def names() -> list[str]:
    """Names of the sandboxes with a record on this machine (up, or half-made), sorted."""
    if not STATE_ROOT.is_dir():
        return []
    return sorted(d.name[len("sandbox-"):] for d in STATE_ROOT.glob("sandbox-*")
                  if (d / "state.json").exists())


def known_text() -> str:
    """`sandboxes: a, b` or `no sandbox exists`, for error messages."""
    found = names()
    return f"sandboxes: {', '.join(found)}" if found else "no sandbox exists (`kmeshctl sandbox up` makes one)"


def require(name: str) -> SandboxState:
    """The record of sandbox ``name``; a UsageError listing the existing ones otherwise."""
    state = SandboxState.load(check_name(name))
    if state is None:
        raise UsageError(f"--sandbox {name}: no such sandbox ({known_text()})")
    return state


def only_one() -> Optional[SandboxState]:
    """The sandbox when exactly one exists, else None."""
    found = names()
    return SandboxState.load(found[0]) if len(found) == 1 else None


def summary(state: SandboxState) -> dict:
    """One row of `sandbox list`."""
    return {
        "name": state.name,
        "phase": state.phase,
        "pods": len([p for p in state.pods if not p.waypoint]),
        "waypoints": len(state.waypoints),
        "agentAdmin": state.agent.get("admin"),
        "bpffs": str(state.bpffs),
        "age": _age(state.created_at),
    }


def list_all() -> list[dict]:
    return [summary(s) for s in (SandboxState.load(n) for n in names()) if s is not None]


def admin_port(state: SandboxState) -> int:
    """The sandbox agent's admin port (it listens on 127.0.0.1)."""
    address = state.agent.get("admin") or ""
    if not address.rpartition(":")[2].isdigit():
        raise UsageError(f"sandbox {state.name} has no node agent admin address yet: wait for "
                         f"`kmeshctl sandbox up --name {state.name}` to finish")
    return int(address.rpartition(":")[2])


def bpffs_of(state: SandboxState) -> Path:
    return state.bpffs


def _age(created_at: float) -> str:
    if not created_at:
        return "-"
    seconds = int(time.time() - created_at)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
