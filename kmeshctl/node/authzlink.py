"""The inbound authorization program (``km_authz``, sk_lookup) linked into each enrolled
pod's network namespace.

sk_lookup programs attach to a network namespace, not a cgroup, through a BPF link
(BPF_LINK_CREATE with the netns fd). Each link is pinned at
``<bpf_fs>/km_authz_links/<netns cookie>`` so that it outlives the agent (a restart keeps
enforcement) and can be found again: ``update_all`` swaps a new program into every link
(BPF_LINK_UPDATE, atomic), ``detach`` / ``remove_all`` unpin, which releases the link and
detaches it. A link whose namespace is gone reports netns inode 0 and is pruned.

``AuthzEnroller`` is the agent's ``NetnsEnroller`` that also links the program whenever
it enrolls a namespace (and unlinks on release).
"""

from __future__ import annotations

import fcntl
import logging
import os
import stat
import struct
from pathlib import Path
from typing import Iterable, Optional

from kmeshctl import bpfsys
from kmeshctl.errors import KmeshctlError

log = logging.getLogger("kmeshctl.authz")

PROG_NAME = "km_authz"
LINKS_DIR = "km_authz_links"
PROG_TYPE_SK_LOOKUP = 30  # uapi enum bpf_prog_type
ATTACH_SK_LOOKUP = 36  # uapi enum bpf_attach_type
LINK_CREATE = 28  # bpf(2) commands
LINK_UPDATE = 29


class AuthzLinkError(KmeshctlError):
    """The authorization program could not be linked into a network namespace."""


def _attr(*fields: tuple[int, str, int]) -> "bytearray":
    import ctypes

    buf = ctypes.create_string_buffer(128)
    for offset, fmt, value in fields:
        struct.pack_into(fmt, buf, offset, value)
    return buf  # type: ignore[return-value]


def link_create(prog_fd: int, netns_fd: int) -> int:
    """A new sk_lookup link of ``prog_fd`` in the namespace of ``netns_fd``; its fd."""
    attr = _attr((0, "I", prog_fd), (4, "I", netns_fd), (8, "I", ATTACH_SK_LOOKUP))
    return bpfsys.bpf(LINK_CREATE, attr, "link sk_lookup program")  # type: ignore[arg-type]


def link_update(link_fd: int, prog_fd: int) -> None:
    attr = _attr((0, "I", link_fd), (4, "I", prog_fd))
    bpfsys.bpf(LINK_UPDATE, attr, "update sk_lookup link")  # type: ignore[arg-type]


def link_netns_ino(link_fd: int) -> int:
    """The inode of the link's network namespace; 0 once the namespace is gone."""
    import ctypes

    info = ctypes.create_string_buffer(64)
    bpfsys.bpf(bpfsys.OBJ_GET_INFO_BY_FD,
               _attr((0, "I", link_fd), (4, "I", 64), (8, "Q", ctypes.addressof(info))),  # type: ignore[arg-type]
               "link info")
    # struct bpf_link_info: type, id, prog_id, then the netns union {netns_ino, attach_type}
    return struct.unpack_from("I", info, 16)[0]


def links_dir(bpf_fs: Path) -> Path:
    return Path(bpf_fs) / LINKS_DIR


def link_path(bpf_fs: Path, cookie: int) -> Path:
    return links_dir(bpf_fs) / str(cookie)


def _alive(path: Path) -> bool:
    try:
        fd = bpfsys.obj_get(path)
    except bpfsys.BpfError:
        return False
    try:
        return link_netns_ino(fd) != 0
    finally:
        os.close(fd)


def attach(bpf_fs: Path, netns_fd: int, cookie: int) -> bool:
    """Link the pinned ``km_authz`` into the namespace of ``netns_fd`` (cookie ``cookie``)
    unless a live link is pinned for it already. True when a link was made."""
    path = link_path(bpf_fs, cookie)
    if path.exists():
        if _alive(path):
            return False
        path.unlink()
    links_dir(bpf_fs).mkdir(exist_ok=True)
    try:
        prog_fd = bpfsys.obj_get(Path(bpf_fs) / PROG_NAME)
    except bpfsys.BpfError as err:
        raise AuthzLinkError(f"no pinned {PROG_NAME} under {bpf_fs}: load the data path first "
                             f"({err.strerror})") from err
    try:
        link_fd = link_create(prog_fd, netns_fd)
    except bpfsys.BpfError as err:
        raise AuthzLinkError(f"linking {PROG_NAME} into netns {cookie} failed: {err.strerror} "
                             "(sk_lookup needs kernel >= 5.9)") from err
    finally:
        os.close(prog_fd)
    try:
        bpfsys.obj_pin(link_fd, path)
    finally:
        os.close(link_fd)
    return True


def attach_path(bpf_fs: Path, netns: Path, cookie: int) -> bool:
    fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return attach(bpf_fs, fd, cookie)
    finally:
        os.close(fd)


def detach(bpf_fs: Path, cookie: int) -> bool:
    """Unpin (and so detach) the link of one namespace; False when there was none."""
    try:
        link_path(bpf_fs, cookie).unlink()
        return True
    except FileNotFoundError:
        return False


def linked_cookies(bpf_fs: Path) -> list[int]:
    directory = links_dir(bpf_fs)
    if not directory.is_dir():
        return []
    return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit())


def update_all(bpf_fs: Path, prog_fd: int) -> int:
    """Swap ``prog_fd`` into every pinned link (their namespaces never go unprotected);
    links of namespaces that are gone are unpinned. Returns the links updated."""
    updated = 0
    for cookie in linked_cookies(bpf_fs):
        path = link_path(bpf_fs, cookie)
        try:
            fd = bpfsys.obj_get(path)
        except bpfsys.BpfError:
            continue
        try:
            if link_netns_ino(fd) == 0:
                path.unlink(missing_ok=True)
                continue
            link_update(fd, prog_fd)
            updated += 1
        finally:
            os.close(fd)
    return updated


def prune(bpf_fs: Path, keep: Iterable[int]) -> list[int]:
    """Unpin the links of namespaces that are gone or not in ``keep``; the cookies pruned."""
    wanted = set(keep)
    pruned = []
    for cookie in linked_cookies(bpf_fs):
        if cookie not in wanted or not _alive(link_path(bpf_fs, cookie)):
            detach(bpf_fs, cookie)
            pruned.append(cookie)
    return pruned


def remove_all(bpf_fs: Path) -> list[str]:
    """Unpin every link and remove the links directory; what was done, one line each."""
    directory = links_dir(bpf_fs)
    if not directory.is_dir():
        return []
    done = []
    for entry in sorted(directory.iterdir()):
        entry.unlink()
        done.append(f"unpinned {entry} (detached {PROG_NAME} from that netns)")
    directory.rmdir()
    done.append(f"removed {directory}")
    return done


NS_GET_NSTYPE = 0xB703  # _IO(0xb7, 0x3): the namespace type of an nsfs file
CLONE_NEWNET = 0x40000000


def _is_netns_fd(fd: int, nsfs_dev: int) -> bool:
    # Not by the /proc/self/fd link text: a descriptor opened through a bind-mounted netns
    # file (the CNI plugin's /var/run/netns/cni-...) reads as that path, not "net:[ino]".
    try:
        info = os.fstat(fd)
        if info.st_dev != nsfs_dev or not stat.S_ISREG(info.st_mode):
            return False
        return fcntl.ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET
    except OSError:
        return False


def _netns_fds_of_self() -> list[int]:
    """Open descriptors of this process that are network namespaces (nsfs files)."""
    nsfs_dev = os.stat("/proc/self/ns/net").st_dev  # nsfs is one superblock for all namespaces
    return [int(name) for name in os.listdir("/proc/self/fd") if _is_netns_fd(int(name), nsfs_dev)]


def netns_fd_with_cookie(cookie: int) -> Optional[int]:
    """One of this process's open netns descriptors whose cookie is ``cookie`` (the CNI
    server holds the pod's netns open while it enrolls it)."""
    from kmeshctl.podnet import netns_cookie

    for fd in _netns_fds_of_self():
        try:
            if netns_cookie(Path(f"/proc/self/fd/{fd}")) == cookie:
                return fd
        except KmeshctlError:
            continue
    return None


def make_enroller(maps, bpf_fs: Path):  # type: ignore[no-untyped-def]
    """The agent's enroller: a NetnsEnroller that links ``km_authz`` into every namespace
    it enrolls and unlinks it on release. A namespace that cannot be linked is logged
    (``event=authz_link_failed``) and still enrolled: balancing works, inbound
    authorization for that pod does not (counted in ``link_failures``)."""
    from kmeshctl.node.podwatch import NetnsEnroller

    class AuthzEnroller(NetnsEnroller):
        link_failures = 0

        def enroll_cookie(self, cookie: int, netns: str, pod: str = "", via: str = "watch") -> dict:
            result = super().enroll_cookie(cookie, netns, pod, via)
            self._link(cookie, netns, pod)
            return result

        def _link(self, cookie: int, netns: str, pod: str) -> None:
            try:
                if Path(netns).exists():
                    made = attach_path(bpf_fs, Path(netns), cookie)
                else:
                    fd = netns_fd_with_cookie(cookie)
                    if fd is None:
                        raise AuthzLinkError(f"no open descriptor of netns {cookie} ({netns})")
                    made = attach(bpf_fs, fd, cookie)
            except (OSError, KmeshctlError) as err:
                type(self).link_failures += 1
                log.error("event=authz_link_failed pod=%s cookie=%d error=%r (inbound authorization "
                          "is not enforced for this pod)", pod or "-", cookie, str(err))
                return
            if made:
                log.info("event=authz_linked pod=%s cookie=%d", pod or "-", cookie)

        def release_cookie(self, cookie: int, pod: str = "") -> None:
            super().release_cookie(cookie, pod)
            if detach(bpf_fs, cookie):
                log.info("event=authz_unlinked pod=%s cookie=%d", pod or "-", cookie)

    return AuthzEnroller(maps)

