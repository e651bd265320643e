"""Who is using a sandbox right now: one lock per sandbox, /run/kmeshctl/lock-NAME, held
by a `demo traffic-shift` while it sends traffic and by a `sandbox down` while it removes
the sandbox. It names its holder (pid, /proc start time, command), so a second user is
refused with the pid to wait for, and a lock whose holder died (SIGKILL, power lost) is
stale: the next user takes it over. It lives beside the sandbox's record, not in it,
because `down` removes the record."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from kmeshctl.errors import KmeshctlError
from kmeshctl.sandbox import state as state_mod

DEMO = "demo"
DOWN = "down"


@dataclass(frozen=True)
class Holder:
    pid: int
    started: str  # /proc/<pid>/stat start time: tells the holder from a reused pid
    command: str  # DEMO | DOWN

    def alive(self) -> bool:
        return state_mod.same_process(self.pid, self.started)

    @property
    def ours(self) -> bool:
        return self.pid == os.getpid()


class InUse(KmeshctlError):
    """The sandbox is held by another live command (exit 1)."""

    def __init__(self, message: str, holder: Holder) -> None:
        super().__init__(message)
        self.holder = holder


def lock_path(name: str) -> Path:
    return state_mod.STATE_ROOT / f"lock-{name}"


def holder(name: str) -> Optional[Holder]:
    """The live holder of sandbox ``name``'s lock, or None (free, or its holder died)."""
    try:
        raw = json.loads(lock_path(name).read_text())
        found = Holder(int(raw["pid"]), str(raw["started"]), str(raw["command"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return found if found.alive() else None


def removed_by(name: str) -> Optional[Holder]:
    """The `sandbox down` (not this process) removing sandbox ``name`` now, or None."""
    found = holder(name)
    return found if found is not None and found.command == DOWN and not found.ours else None


def in_use_text(name: str, found: Holder, for_down: bool = False, flag: str = "--sandbox", other: str = "",
                new: str = "") -> str:
    """Why sandbox ``name`` cannot be used now, with what to do. A demo refused (another
    holds it) is told to pass ``flag`` (the sandbox flag as the user typed it: the demo's
    own --sandbox by default) of another sandbox, e.g. ``other`` (the demo on one that
    fits, naming it with that same flag) when given; with ``new`` (the demo in a new
    sandbox: no other fits), that line instead."""
    if found.command == DOWN:
        return (f"sandbox {name} is being removed by pid {found.pid}: wait for that `kmeshctl sandbox down` "
                f"to finish")
    if for_down:
        return (f"sandbox {name} is in use by demo pid {found.pid}: wait for it, or remove it anyway (the demo "
                f"then fails): `kmeshctl sandbox down --name {name} --force`")
    if new:
        return f"sandbox {name} is in use by demo pid {found.pid}; wait for it or run the demo in a new sandbox, `{new}`"
    example = f", e.g. `{other}`" if other else ""
    return f"sandbox {name} is in use by demo pid {found.pid}; wait for it or pass {flag} of another sandbox{example}"


def acquire(name: str, command: str, force: bool = False) -> bool:
    """Take sandbox ``name``'s lock for ``command``; True when taken now, False when this
    process holds it already (it must not release it then). InUse when another live
    command holds it, unless ``force`` (`sandbox down --force` takes it from a demo)."""
    path = lock_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    mine = Holder(os.getpid(), state_mod.process_start_time(os.getpid()), command)
    found = holder(name)
    if found is not None and found.ours:
        return False
    if found is not None and not (force and found.command == DEMO):
        raise InUse(in_use_text(name, found, for_down=command == DOWN), found)
    tmp = path.with_name(f"{path.name}.{mine.pid}.tmp")
    tmp.write_text(json.dumps(asdict(mine)))
    if found is None:
        try:
            os.link(tmp, path)  # fails when another command took it meanwhile
        except FileExistsError:
            if holder(name) is not None:
                tmp.unlink(missing_ok=True)
                return acquire(name, command, force)
            tmp.replace(path)  # the one there was stale
            return True
        tmp.unlink(missing_ok=True)
        return True
    tmp.replace(path)  # forced: a demo's lock taken over
    return True


def release(name: str) -> None:
    """Drop sandbox ``name``'s lock when this process holds it."""
    try:
        raw = json.loads(lock_path(name).read_text())
    except (OSError, ValueError):
        return
    if isinstance(raw, dict) and raw.get("pid") == os.getpid():
        lock_path(name).unlink(missing_ok=True)
