"""Compile, load, pin and attach the data path (``bpf/kmesh.c``) with bcc; replace it in
place on restart; remove it all on cleanup.

- Maps are pinned under ``bpf_fs`` (default /sys/fs/bpf/kmesh) by bcc's pinned tables and
  reused with their contents when they already exist.
- Programs are pinned next to them (``km_connect4``, ``km_connect6``, ``km_sockops``,
  ``km_sk_msg``). A reload attaches each new cgroup program with
  ``BPF_F_ALLOW_MULTI | BPF_F_REPLACE`` in place of the pinned old one: one atomic swap
  per hook, so there is no moment without a program and never two of ours in a row.
- Attachments made with BPF_PROG_ATTACH outlive the loading process; ``cleanup`` detaches
  them (found by the ids of the pinned programs) and unpins everything.
- ``km_authz`` (sk_lookup, inbound authorization) is not attached here: the agent links it
  to each enrolled pod's network namespace (``kmeshctl.node.authzlink``, links pinned under
  ``km_authz_links/``); a reload swaps the program inside every pinned link
  (BPF_LINK_UPDATE, atomic), ``cleanup`` unpins the links, which detaches them.

Public API: ``load(bpf_fs, cgroup2_path, enable_bpf_log) -> Dataplane``,
``cleanup(bpf_fs, cgroup2_path) -> list[str]``, ``attached_at(bpf_fs)``, ``is_loaded(bpf_fs)``,
``flatten_source(bpf_dir)``.
"""

from __future__ import annotations

import errno
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from kmeshctl import bpfsys, nodecheck
from kmeshctl.node import authzlink
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.maps import (ALL_PINNED_MAPS, DEFAULT_BPF_FS, MAP_SPECS, SOCKET, DataplaneMaps,
                           LogEvent, MapError, check_layout)
from kmeshctl.paths import bpf_dir

MAIN_SOURCE = "kmesh.c"
LOG_MAP = "km_log"


@dataclass(frozen=True)
class ProgramSpec:
    name: str  # C function name = pin name
    prog_type: str  # bcc.BPF attribute (or a key of _PROG_TYPES)
    attach_type: int  # bpfsys attach type
    on_cgroup: bool  # False: attached to the km_socket sockhash, or (sk_lookup) per netns

    @property
    def per_netns(self) -> bool:
        return self.prog_type == "SK_LOOKUP"


# program types bcc has no name for (uapi enum bpf_prog_type)
_PROG_TYPES = {"SK_LOOKUP": authzlink.PROG_TYPE_SK_LOOKUP}
# program types whose expected attach type must be given at load time
_LOAD_ATTACH_TYPE = ("CGROUP_SOCK_ADDR", "SK_LOOKUP")


# Attach order: the sk_msg / sockops side first, so that a socket the connect hook sends
# to a waypoint always finds the header writer in place.
PROGRAMS: tuple[ProgramSpec, ...] = (
    ProgramSpec("km_sk_msg", "SK_MSG", bpfsys.SK_MSG_VERDICT, on_cgroup=False),
    ProgramSpec("km_sockops", "SOCK_OPS", bpfsys.CGROUP_SOCK_OPS, on_cgroup=True),
    ProgramSpec("km_connect6", "CGROUP_SOCK_ADDR", bpfsys.CGROUP_INET6_CONNECT, on_cgroup=True),
    ProgramSpec("km_connect4", "CGROUP_SOCK_ADDR", bpfsys.CGROUP_INET4_CONNECT, on_cgroup=True),
    ProgramSpec("km_authz", "SK_LOOKUP", authzlink.ATTACH_SK_LOOKUP, on_cgroup=False),
)
PROGRAM_NAMES = tuple(p.name for p in PROGRAMS)


class LoaderError(KmeshctlError):
    """Compiling, loading or attaching the data path failed."""


# ---------------------------------------------------------------- source


def flatten_source(source_dir: Path | None = None, main: str = MAIN_SOURCE) -> str:
    """The C program with our local ``#include "..."`` files inlined (each once).

    bcc rewrites map accesses (``km_frontend.lookup(...)``) only in its main file, so the
    headers, split per map family, are handed to it as one text."""
    root = Path(source_dir or bpf_dir())
    seen: set[Path] = set()

    def expand(path: Path) -> str:
        lines = []
        for line in path.read_text().splitlines():
            match = re.match(r'\s*#include\s+"([^"]+)"', line)
            if not match:
                lines.append(line)
                continue
            included = (path.parent / match.group(1)).resolve()
            if included not in seen:
                seen.add(included)
                lines.append(f"/* ---- {match.group(1)} ---- */")
                lines.append(expand(included))
        return "\n".join(lines)

    return expand(root / main)


def cflags(bpf_fs: Path, enable_bpf_log: bool) -> list[str]:
    flags = [f'-DKM_PIN_DIR="{bpf_fs}"']
    if enable_bpf_log:
        flags.append("-DKM_BPF_LOG=1")
    return flags


# ---------------------------------------------------------------- helpers


def _close(fd: int | None) -> None:
    if fd is not None and fd >= 0:
        os.close(fd)


def _open_pinned_prog(path: Path) -> int | None:
    try:
        return bpfsys.obj_get(path)
    except bpfsys.BpfError as err:
        if err.errno == errno.ENOENT:
            return None
        raise LoaderError(f"cannot open pinned program {path}: {err.strerror}") from err


def _open_dir(path: Path) -> int:
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def _check_pinned_maps(bpf_fs: Path) -> None:
    """Refuse to start on pinned maps of another layout (before anything changes)."""
    for spec in MAP_SPECS:
        path = bpf_fs / spec.name
        if not path.exists():
            continue
        fd = bpfsys.obj_get(path)
        try:
            check_layout(spec, fd)
        except MapError as err:
            raise LoaderError(str(err)) from err
        finally:
            os.close(fd)


def _attach_cgroup(cgroup_fd: int, spec: ProgramSpec, new_fd: int, old_fd: int | None) -> bool:
    """Attach ``new_fd``; swap it atomically for ``old_fd`` when that is attached here.
    True when it replaced the old program."""
    flags = bpfsys.BPF_F_ALLOW_MULTI
    if old_fd is not None:
        old_id = bpfsys.prog_info(old_fd).id
        if old_id in bpfsys.prog_query(cgroup_fd, spec.attach_type):
            bpfsys.prog_attach(cgroup_fd, new_fd, spec.attach_type,
                               flags | bpfsys.BPF_F_REPLACE, replace_fd=old_fd)
            return True
    bpfsys.prog_attach(cgroup_fd, new_fd, spec.attach_type, flags)
    return False


def _cgroups_under(root: Path) -> Iterator[Path]:
    yield root
    for dirpath, dirnames, _ in os.walk(root):
        for name in dirnames:
            yield Path(dirpath) / name


def attached_at(bpf_fs: Path | str, root: Path | None = None) -> list[Path]:
    """The cgroups under ``root`` (default: the whole cgroup v2 tree) where a cgroup
    program pinned under ``bpf_fs`` is attached (BPF_PROG_QUERY, by the pinned ids), in
    walk order; [] when nothing is pinned or there is no cgroup v2."""
    root = root or nodecheck.cgroup2_root()
    pinned: list[tuple[int, int]] = []  # (program id, attach type)
    for spec in PROGRAMS:
        prog_fd = _open_pinned_prog(Path(bpf_fs) / spec.name) if spec.on_cgroup else None
        if prog_fd is not None:
            try:
                pinned.append((bpfsys.prog_info(prog_fd).id, spec.attach_type))
            finally:
                os.close(prog_fd)
    if not pinned or root is None:
        return []
    found = []
    for cgroup, cgroup_fd in _each_cgroup_fd(root):
        try:
            if any(prog_id in bpfsys.prog_query(cgroup_fd, kind) for prog_id, kind in pinned):
                found.append(cgroup)
        except bpfsys.BpfError:
            pass  # not a cgroup we may query, or raced with removal
    return found


def _each_cgroup_fd(root: Path) -> Iterator[tuple[Path, int]]:
    """(cgroup, an open fd of it) for each cgroup under ``root``, those removed while
    walking left out; each fd is closed when the caller moves on."""
    for cgroup in _cgroups_under(root):
        try:
            cgroup_fd = _open_dir(cgroup)
        except OSError:
            continue  # removed while walking
        try:
            yield cgroup, cgroup_fd
        finally:
            os.close(cgroup_fd)


class AttachedElsewhere(UsageError):
    """cleanup's --cgroup2-path misses where the data path is attached (``cgroups``, none
    below it): unpinning would leave those programs running where nothing finds them."""

    def __init__(self, message: str, cgroups: list[Path]) -> None:
        super().__init__(message)
        self.cgroups = cgroups


def _detach_everywhere(prog_fd: int, attach_type: int, root: Path) -> list[Path]:
    """Detach the program from every cgroup under ``root`` it is attached to."""
    prog_id = bpfsys.prog_info(prog_fd).id
    detached = []
    for cgroup, cgroup_fd in _each_cgroup_fd(root):
        try:
            if prog_id in bpfsys.prog_query(cgroup_fd, attach_type):
                bpfsys.prog_detach(cgroup_fd, prog_fd, attach_type)
                detached.append(cgroup)
        except bpfsys.BpfError:
            pass  # not a cgroup we may query, or raced with removal
    return detached


def _pin_replacing(fd: int, path: Path) -> None:
    """Pin ``fd`` at ``path``, replacing what is there without a moment with no pin."""
    tmp = path.with_name(path.name + "_new")  # bpffs rejects names with dots
    if tmp.exists():
        tmp.unlink()
    bpfsys.obj_pin(fd, tmp)
    os.replace(tmp, path)


# ---------------------------------------------------------------- load


class Dataplane:
    """The loaded data path. Programs stay attached after this object (or the process)
    goes away; ``close()`` only frees the compiler state. ``maps()`` opens the pinned
    maps; with the BPF log compiled in, ``on_log`` + ``poll_log`` deliver decisions."""

    def __init__(self, bpf: Any, bpf_fs: Path, cgroup2_path: Path, enable_bpf_log: bool,
                 replaced: bool) -> None:
        self._bpf = bpf
        self.bpf_fs = bpf_fs
        self.cgroup2_path = cgroup2_path
        self.enable_bpf_log = enable_bpf_log
        self.replaced = replaced  # True when this load swapped out a running data path

    def maps(self) -> DataplaneMaps:
        return DataplaneMaps(self.bpf_fs)

    def on_log(self, callback: Callable[[LogEvent], None]) -> None:
        """Call ``callback`` for each decision event (BPF log compiled in only)."""
        if not self.enable_bpf_log:
            raise LoaderError("the BPF log is compiled out: load with enable_bpf_log=True")

        def handle(_ctx: Any, data: int, _size: int) -> None:
            callback(LogEvent.from_bytes(data))

        self._bpf[LOG_MAP.encode()].open_ring_buffer(handle)

    def poll_log(self, timeout_ms: int = 100) -> None:
        self._bpf.ring_buffer_poll(timeout_ms)

    def close(self) -> None:
        if self._bpf is not None:
            self._bpf.cleanup()
            self._bpf = None


def is_loaded(bpf_fs: Path | str = DEFAULT_BPF_FS) -> bool:
    """Whether a data path is pinned at ``bpf_fs`` (every map and program present)."""
    root = Path(bpf_fs)
    return all((root / name).exists() for name in (*ALL_PINNED_MAPS, *PROGRAM_NAMES))


def _compile(bpf_fs: Path, enable_bpf_log: bool) -> Any:
    try:
        import bcc
    except ImportError as err:
        raise LoaderError("bcc not importable: apt-get install python3-bpfcc "
                          "(run `kmeshctl node preflight`)") from err
    nodecheck.select_kernel_headers()  # the host's headers, else the node image's
    try:
        return bcc.BPF(text=flatten_source().encode(), cflags=cflags(bpf_fs, enable_bpf_log))
    except Exception as err:  # bcc reports compile failures as plain Exception
        raise LoaderError(f"compiling the data path failed ({err}): run "
                          "`kmeshctl node preflight` to check kernel headers") from err


def _load_programs(bpf: Any) -> dict[str, int]:
    import bcc

    fds = {}
    for spec in PROGRAMS:
        attach_type = spec.attach_type if spec.prog_type in _LOAD_ATTACH_TYPE else -1
        prog_type = _PROG_TYPES.get(spec.prog_type) or getattr(bcc.BPF, spec.prog_type)
        try:
            fn = bpf.load_func(spec.name.encode(), prog_type, attach_type=attach_type)
        except Exception as err:
            raise LoaderError(f"the kernel rejected {spec.name} ({err}): kernel too old or "
                              "BPF features missing; see `kmeshctl node preflight`") from err
        fds[spec.name] = fn.fd
    return fds


def _install(spec: ProgramSpec, new_fd: int, bpf_fs: Path, cgroup_fd: int,
             cgroup2_path: Path) -> bool:
    """Attach one program (replacing its pinned predecessor) and pin it. True: replaced."""
    pin = bpf_fs / spec.name
    old_fd = _open_pinned_prog(pin)
    try:
        if spec.on_cgroup:
            replaced = _attach_cgroup(cgroup_fd, spec, new_fd, old_fd)
            if old_fd is not None and not replaced:
                # the old program ran at another cgroup: now both run, ours first
                root = nodecheck.cgroup2_root() or cgroup2_path
                _detach_everywhere(old_fd, spec.attach_type, root)
        elif spec.per_netns:
            authzlink.update_all(bpf_fs, new_fd)  # each enrolled pod's link, swapped in place
            replaced = old_fd is not None
        else:
            sockhash_fd = bpfsys.obj_get(bpf_fs / SOCKET.name)
            try:
                bpfsys.prog_attach(sockhash_fd, new_fd, spec.attach_type)  # swaps atomically
            finally:
                os.close(sockhash_fd)
            replaced = old_fd is not None
        _pin_replacing(new_fd, pin)
        return replaced
    except bpfsys.BpfError as err:
        raise LoaderError(f"attaching {spec.name} at {cgroup2_path} failed: {err.strerror}") \
            from err
    finally:
        _close(old_fd)


def load(bpf_fs: Path | str = DEFAULT_BPF_FS, cgroup2_path: Path | str | None = None,
         enable_bpf_log: bool = False) -> Dataplane:
    """Compile and load the data path, pin maps and programs under ``bpf_fs`` and attach
    the cgroup programs at ``cgroup2_path`` (default: the cgroup v2 root). When a data path
    is already pinned there, its maps (and contents) are reused and its programs replaced
    in place."""
    bpf_fs = Path(bpf_fs)
    nodecheck.ensure_bpffs(bpf_fs)
    cgroup = nodecheck.resolve_cgroup2_dir(cgroup2_path) if cgroup2_path else nodecheck.ensure_cgroup2()
    bpf_fs.mkdir(parents=True, exist_ok=True)
    _check_pinned_maps(bpf_fs)

    bpf = _compile(bpf_fs, enable_bpf_log)
    try:
        prog_fds = _load_programs(bpf)
        cgroup_fd = _open_dir(cgroup)
        try:
            replaced = [_install(spec, prog_fds[spec.name], bpf_fs, cgroup_fd, cgroup)
                        for spec in PROGRAMS]
        finally:
            os.close(cgroup_fd)
    except BaseException:
        bpf.cleanup()
        raise
    return Dataplane(bpf, bpf_fs, cgroup, enable_bpf_log, replaced=all(replaced))


def unattached(bpf_fs: Path | str, cgroup: Path | str) -> list[str]:
    """The cgroup programs pinned under ``bpf_fs`` that are not attached at ``cgroup``
    (BPF_PROG_QUERY of the cgroup, by the pinned programs' ids): its pods' connections
    bypass the data path. [] when nothing is pinned; BpfError or OSError when the kernel
    cannot be asked (not root, the cgroup gone)."""
    bpf_fs = Path(bpf_fs)
    missing = []
    cgroup_fd = _open_dir(Path(cgroup))
    try:
        for spec in PROGRAMS:
            prog_fd = _open_pinned_prog(bpf_fs / spec.name) if spec.on_cgroup else None
            if prog_fd is None:
                continue
            try:
                if bpfsys.prog_info(prog_fd).id not in bpfsys.prog_query(cgroup_fd, spec.attach_type):
                    missing.append(spec.name)
            finally:
                os.close(prog_fd)
    finally:
        os.close(cgroup_fd)
    return missing


# ---------------------------------------------------------------- cleanup


def _detach_sk_msg(bpf_fs: Path, prog_fd: int) -> None:
    try:
        sockhash_fd = bpfsys.obj_get(bpf_fs / SOCKET.name)
    except bpfsys.BpfError:
        return
    try:
        bpfsys.prog_detach(sockhash_fd, prog_fd, bpfsys.SK_MSG_VERDICT)
    except bpfsys.BpfError:
        pass  # already detached
    finally:
        os.close(sockhash_fd)


def holds_our_pins(directory: Path) -> bool:
    """Whether ``directory`` (an existing one) holds a pin of kmeshctl's data path."""
    return bool(_our_pins(directory))


def _our_pins(directory: Path) -> list[str]:
    names = {*PROGRAM_NAMES, *ALL_PINNED_MAPS, authzlink.LINKS_DIR}
    names |= {f"{name}_new" for name in names}
    return sorted(entry.name for entry in directory.iterdir() if entry.name in names)


def cleanup_dir(bpf_fs: Path | str) -> Path:
    """``bpf_fs`` resolved (``..`` and symlinks), checked to be what cleanup may act on: a
    directory on a bpf filesystem that holds our pins (or does not exist, or is empty:
    nothing to do). Raises UsageError for anything else, before anything is touched."""
    resolved = Path(os.path.realpath(bpf_fs))
    if not resolved.exists():
        return resolved
    where = f" (it resolves to {resolved})" if str(resolved) != str(bpf_fs).rstrip("/") else ""
    if not resolved.is_dir():
        raise UsageError(f"--bpf-fs {bpf_fs}: is not a directory{where}; use the directory of the pinned "
                         f"data path{default_note(bpf_fs)}")
    if not nodecheck.bpffs_mounted(resolved):
        raise UsageError(f"--bpf-fs {bpf_fs}: is not on a bpf filesystem{where}; use the bpffs "
                         f"directory of the pinned data path{default_note(bpf_fs)}")
    if not _our_pins(resolved) and any(resolved.iterdir()):
        raise UsageError(f"--bpf-fs {bpf_fs}: holds no pin of kmeshctl's data path{where} "
                         f"({', '.join(PROGRAM_NAMES[:2])}, ...), so it is left alone; use the directory "
                         f"`node run --bpf-fs` used{default_note(bpf_fs)}")
    return resolved


def default_note(bpf_fs: Path | str) -> str:
    """` (default /sys/fs/bpf/kmesh)` after the advice to use another directory than
    ``bpf_fs`` when the default holds a data path to clean up; said as absent when it does
    not (named bare it invites a paste that fails the same way); '' for the default itself."""
    if os.path.realpath(bpf_fs) == os.path.realpath(DEFAULT_BPF_FS):
        return ""
    try:
        here = cleanup_dir(DEFAULT_BPF_FS).exists()
    except UsageError:
        here = False
    return f" (default {DEFAULT_BPF_FS})" if here else f" (there is none at the default, {DEFAULT_BPF_FS})"


def cleanup(bpf_fs: Path | str = DEFAULT_BPF_FS,
            cgroup2_path: Path | str | None = None) -> list[str]:
    """Detach every program pinned under ``bpf_fs`` from every cgroup under
    ``cgroup2_path`` (default: the whole cgroup v2 tree) and from the sockhash, then unpin
    programs and maps and remove the directory. Returns what was done, one line each.
    AttachedElsewhere (nothing changed) when a program is attached outside ``cgroup2_path``."""
    bpf_fs = cleanup_dir(bpf_fs)
    root = nodecheck.resolve_cgroup2_dir(cgroup2_path) if cgroup2_path else nodecheck.cgroup2_root()
    done: list[str] = []
    if not bpf_fs.exists() or not _our_pins(bpf_fs):
        return done
    if cgroup2_path and root is not None:
        _check_attached_below(bpf_fs, root, cgroup2_path)
    for spec in PROGRAMS:
        prog_fd = _open_pinned_prog(bpf_fs / spec.name)
        if prog_fd is None:
            continue
        try:
            if spec.on_cgroup and root is not None:
                for cgroup in _detach_everywhere(prog_fd, spec.attach_type, root):
                    done.append(f"detached {spec.name} from {cgroup}")
            elif spec.per_netns:
                pass  # its links go below, pinned or not
            elif not spec.on_cgroup:
                _detach_sk_msg(bpf_fs, prog_fd)
                done.append(f"detached {spec.name} from {SOCKET.name}")
        finally:
            os.close(prog_fd)
    done += authzlink.remove_all(bpf_fs)  # unpinning a pod's link detaches it from the netns
    for name in (*PROGRAM_NAMES, *ALL_PINNED_MAPS):
        for path in (bpf_fs / name, bpf_fs / f"{name}_new"):
            if path.exists():
                path.unlink()
                done.append(f"unpinned {path}")
    try:
        bpf_fs.rmdir()
        done.append(f"removed {bpf_fs}")
    except OSError:
        pass  # something not ours is pinned there
    return done


def _check_attached_below(bpf_fs: Path, root: Path, cgroup2_path: Path | str) -> None:
    """Refuse (AttachedElsewhere, before anything changes) a ``root`` that misses a cgroup
    where the data path under ``bpf_fs`` is attached: only the whole tree is looked at."""
    resolved = Path(os.path.realpath(root))
    outside = [c for c in attached_at(bpf_fs) if not Path(os.path.realpath(c)).is_relative_to(resolved)]
    if outside:
        shown = ", ".join(map(str, outside))
        pass_it = f" or --cgroup2-path {outside[0]}" if len(outside) == 1 else ""
        raise AttachedElsewhere(f"--cgroup2-path {cgroup2_path}: the data path under --bpf-fs {bpf_fs} is "
                                f"attached at {shown}, not below it (cleanup would unpin it and leave it "
                                f"attached); leave out --cgroup2-path{pass_it}", outside)


def child_main() -> None:
    """The loader child of ``kmeshctl.node.agent.load_in_child``: argv is ``BPF_FS
    [CGROUP2_PATH]``; prints "replaced" or "loaded"; an error is one line on stderr and
    exit 1. Imports nothing of the agent beyond this module, so the child's peak is bcc's."""
    bpf_fs, cgroup = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""
    try:
        dataplane = load(Path(bpf_fs), Path(cgroup) if cgroup else None)
    except KmeshctlError as err:
        print(err, file=sys.stderr)
        sys.exit(1)
    print("replaced" if dataplane.replaced else "loaded")
    dataplane.close()
