"""Thin wrappers over the bpf(2) syscall (via ctypes): open pinned objects, pin, map
element and batch operations, object info, cgroup attach / detach / query.

Only what kmeshctl needs; no dependency on bcc, so reading pinned maps works wherever the
kernel does. Every failure raises ``BpfError`` carrying the errno.
"""

from __future__ import annotations

import ctypes
import errno as errno_mod
import os
import platform
import struct
from dataclasses import dataclass
from pathlib import Path

_SYSCALL_NR = {"x86_64": 321, "aarch64": 280, "armv7l": 386, "ppc64le": 361, "s390x": 351}

# bpf(2) commands
MAP_LOOKUP_ELEM = 1
MAP_UPDATE_ELEM = 2
MAP_DELETE_ELEM = 3
MAP_GET_NEXT_KEY = 4
OBJ_PIN = 6
OBJ_GET = 7
PROG_ATTACH = 8
PROG_DETACH = 9
OBJ_GET_INFO_BY_FD = 15
PROG_QUERY = 16
MAP_UPDATE_BATCH = 26

# update flags
BPF_ANY = 0
BPF_NOEXIST = 1
BPF_EXIST = 2

# attach flags
BPF_F_ALLOW_MULTI = 1 << 1
BPF_F_REPLACE = 1 << 2

# attach types (uapi enum bpf_attach_type)
CGROUP_SOCK_OPS = 3
SK_MSG_VERDICT = 7
CGROUP_INET4_CONNECT = 10
CGROUP_INET6_CONNECT = 11

# map types (uapi enum bpf_map_type)
MAP_TYPE_HASH = 1
MAP_TYPE_SOCKHASH = 18
MAP_TYPE_SK_STORAGE = 24

_ATTR_SIZE = 128

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class BpfError(OSError):
    """A bpf(2) call failed; ``errno`` says why."""


def _syscall_nr() -> int:
    machine = platform.machine()
    if machine not in _SYSCALL_NR:
        raise BpfError(errno_mod.ENOSYS, f"bpf(2) syscall number unknown for {machine}")
    return _SYSCALL_NR[machine]


def bpf(cmd: int, attr: ctypes.Array, what: str) -> int:
    """Run one bpf(2) command on a prepared attr buffer; the syscall's return value."""
    ret = _libc.syscall(_syscall_nr(), cmd, ctypes.byref(attr), ctypes.sizeof(attr))
    if ret < 0:
        err = ctypes.get_errno()
        raise BpfError(err, f"{what}: {os.strerror(err)}")
    return ret


def _attr(*fields: tuple[int, str, int]) -> ctypes.Array:
    """An attr buffer with (offset, struct format, value) fields set, the rest zero."""
    buf = ctypes.create_string_buffer(_ATTR_SIZE)
    for offset, fmt, value in fields:
        struct.pack_into(fmt, buf, offset, value)
    return buf


def _addr(obj: ctypes.Array | ctypes.Structure | None) -> int:
    return 0 if obj is None else ctypes.addressof(obj)


def obj_get(path: Path | str) -> int:
    """File descriptor of the object pinned at ``path``."""
    cpath = ctypes.create_string_buffer(os.fsencode(str(path)))
    return bpf(OBJ_GET, _attr((0, "Q", _addr(cpath))), f"open pinned {path}")


def obj_pin(fd: int, path: Path | str) -> None:
    cpath = ctypes.create_string_buffer(os.fsencode(str(path)))
    bpf(OBJ_PIN, _attr((0, "Q", _addr(cpath)), (8, "I", fd)), f"pin {path}")


def _found(cmd: int, attr: ctypes.Array, what: str) -> bool:
    """Run a map command; False when the kernel answers ENOENT (no such key, no next key)."""
    try:
        bpf(cmd, attr, what)
    except BpfError as err:
        if err.errno == errno_mod.ENOENT:
            return False
        raise
    return True


def map_lookup(fd: int, key: ctypes.Array, value: ctypes.Array) -> bool:
    """Fill ``value`` for ``key``; False when the key is absent."""
    attr = _attr((0, "I", fd), (8, "Q", _addr(key)), (16, "Q", _addr(value)))
    return _found(MAP_LOOKUP_ELEM, attr, "map lookup")


def map_update(fd: int, key: ctypes.Array, value: ctypes.Array, flags: int = BPF_ANY) -> None:
    attr = _attr((0, "I", fd), (8, "Q", _addr(key)), (16, "Q", _addr(value)), (24, "Q", flags))
    bpf(MAP_UPDATE_ELEM, attr, "map update")


def map_delete(fd: int, key: ctypes.Array) -> bool:
    """Delete ``key``; False when it was absent."""
    return _found(MAP_DELETE_ELEM, _attr((0, "I", fd), (8, "Q", _addr(key))), "map delete")


def map_next_key(fd: int, key: ctypes.Array | None, next_key: ctypes.Array) -> bool:
    """Fill ``next_key`` with the key after ``key`` (None: the first); False at the end."""
    attr = _attr((0, "I", fd), (8, "Q", _addr(key)), (16, "Q", _addr(next_key)))
    return _found(MAP_GET_NEXT_KEY, attr, "map iterate")


def map_update_batch(fd: int, keys: ctypes.Array, values: ctypes.Array, count: int,
                     flags: int = BPF_ANY) -> int:
    """Write ``count`` packed key/value pairs in one call; how many were written.

    On failure the ``BpfError`` has ``.done`` set to the number written before it."""
    attr = _attr((16, "Q", _addr(keys)), (24, "Q", _addr(values)), (32, "I", count),
                 (36, "I", fd), (40, "Q", flags))
    try:
        bpf(MAP_UPDATE_BATCH, attr, "map batch update")
    except BpfError as err:
        err.done = struct.unpack_from("I", attr, 32)[0]  # type: ignore[attr-defined]
        raise
    return struct.unpack_from("I", attr, 32)[0]


@dataclass(frozen=True)
class MapInfo:
    type: int
    id: int
    key_size: int
    value_size: int
    max_entries: int
    map_flags: int
    name: str


@dataclass(frozen=True)
class ProgInfo:
    type: int
    id: int
    name: str
    run_time_ns: int  # counted only while sysctl kernel.bpf_stats_enabled = 1
    run_cnt: int


def _obj_info(fd: int, size: int) -> ctypes.Array:
    info = ctypes.create_string_buffer(size)
    bpf(OBJ_GET_INFO_BY_FD, _attr((0, "I", fd), (4, "I", size), (8, "Q", _addr(info))),
        "object info")
    return info


def map_info(fd: int) -> MapInfo:
    info = _obj_info(fd, 80)
    type_, id_, key_size, value_size, max_entries, flags = struct.unpack_from("6I", info, 0)
    name = info.raw[24:40].split(b"\0", 1)[0].decode()
    return MapInfo(type_, id_, key_size, value_size, max_entries, flags, name)


def prog_info(fd: int) -> ProgInfo:
    info = _obj_info(fd, 240)
    type_, id_ = struct.unpack_from("2I", info, 0)
    name = info.raw[64:80].split(b"\0", 1)[0].decode()
    run_time_ns, run_cnt = struct.unpack_from("2Q", info, 192)
    return ProgInfo(type_, id_, name, run_time_ns, run_cnt)


def prog_attach(target_fd: int, prog_fd: int, attach_type: int, flags: int = 0,
                replace_fd: int = 0) -> None:
    attr = _attr((0, "I", target_fd), (4, "I", prog_fd), (8, "I", attach_type),
                 (12, "I", flags), (16, "I", replace_fd))
    bpf(PROG_ATTACH, attr, "attach program")


def prog_detach(target_fd: int, prog_fd: int, attach_type: int) -> None:
    attr = _attr((0, "I", target_fd), (4, "I", prog_fd), (8, "I", attach_type))
    bpf(PROG_DETACH, attr, "detach program")


def prog_query(target_fd: int, attach_type: int, max_progs: int = 64) -> list[int]:
    """Ids of the programs attached directly to ``target_fd`` (a cgroup) for the type."""
    ids = (ctypes.c_uint32 * max_progs)()
    attr = _attr((0, "I", target_fd), (4, "I", attach_type), (16, "Q", _addr(ids)),
                 (24, "I", max_progs))
    bpf(PROG_QUERY, attr, "query attached programs")
    count = struct.unpack_from("I", attr, 24)[0]
    return list(ids[:count])
