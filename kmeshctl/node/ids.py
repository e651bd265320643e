"""Stable 32-bit ids for services and backends, persisted in the pinned ``km_idreg`` map.

An id is the FNV-1a 32-bit hash of the name (``namespace/hostname`` for a service, the
workload uid for a backend), with linear probing on collision. Services and backends
share one id space, because ``km_frontend`` values may name either. Id 0 is never used
(it means "none" in map slots). Every allocation is written to ``km_idreg`` before the call
that made it returns, so a restarted agent gets the same ids back and ``kmeshctl dump maps``
can show names. ``allocate`` gives ids to many names at once: they are chosen in memory and
persisted with batched map writes (one syscall per 4,096), which is what a big first sync
needs.
"""

from __future__ import annotations

import hashlib
from typing import Iterable

from fnv_hash_fast import fnv1a_32  # C: a first sync hashes 100,000 names

from kmeshctl.errors import KmeshctlError
from kmeshctl.maps import ID_NAME_LEN, DataplaneMaps, IdKind, IdRegKey, IdRegValue, MapError, TypedMap

FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193
_U32 = 0xFFFFFFFF


_DIGEST_CHARS = 32  # 128 bits of SHA-256, in hex
PERSIST_CHUNK = 4096  # new entries written per batch


def registry_name(name: str) -> str:
    """The name as ``km_idreg`` stores it: unchanged when it fits the slot
    (``ID_NAME_LEN`` bytes), else its head, ``~`` and 128 bits of its SHA-256 in hex.
    Kubernetes names are legal up to 253 bytes, so a ``namespace/hostname`` or a workload
    uid can be longer than the slot; the stored form is unique (collisions would need a
    SHA-256 collision) and idempotent (a stored form fits, so it maps to itself)."""
    if len(name) * 4 <= ID_NAME_LEN:  # fits whatever its characters (UTF-8: <= 4 bytes each)
        return name
    raw = name.encode()
    if len(raw) <= ID_NAME_LEN:
        return name
    head = raw[:ID_NAME_LEN - _DIGEST_CHARS - 1].decode(errors="ignore")
    return f"{head}~{hashlib.sha256(raw).hexdigest()[:_DIGEST_CHARS]}"


def fnv1a_32_reference(data: bytes) -> int:
    """FNV-1a 32-bit in Python (the definition; tests check ``fnv1a_32`` against it)."""
    value = FNV_OFFSET
    for byte in data:
        value = ((value ^ byte) * FNV_PRIME) & _U32
    return value


class IdRegistry:
    """Name <-> id registry backed by ``km_idreg``.

    ``IdRegistry(maps)`` loads every entry of the pinned registry; ``service_id(name)`` and
    ``backend_id(uid)`` return the existing id or allocate and persist a new one;
    ``allocate(kind, names)`` does the same for many names with batched writes;
    ``release(name)`` frees it; ``name_of(id)`` / ``kind_of(id)`` resolve an id. Names of
    any length are accepted; one longer than the slot is kept as ``registry_name(name)``,
    which is also what ``name_of`` and ``items`` return for it.

    In memory only plain ``str``/``int`` dicts: the garbage collector does not track
    them, so 100,000 names cost it nothing while the agent builds its maps.
    """

    def __init__(self, maps: DataplaneMaps | TypedMap[IdRegKey, IdRegValue]) -> None:
        self._map: TypedMap[IdRegKey, IdRegValue] = (
            maps.idreg if isinstance(maps, DataplaneMaps) else maps)
        self._names: dict[int, str] = {}  # id -> name (its kind: the _ids dict holding it)
        self._ids: dict[IdKind, dict[str, int]] = {kind: {} for kind in IdKind}  # name -> id
        self.reload()

    def reload(self) -> None:
        """Re-read the pinned registry."""
        self._names.clear()
        for ids in self._ids.values():
            ids.clear()
        for key, value in self._map.items():
            self._remember(key.id, value.kind, value.name)

    def service_id(self, name: str) -> int:
        """Id of the service ``namespace/hostname``, allocated on first use."""
        return self._id_for(IdKind.SERVICE, name)

    def backend_id(self, uid: str) -> int:
        """Id (``backend_uid``) of the workload with this uid, allocated on first use."""
        return self._id_for(IdKind.BACKEND, uid)

    def allocate(self, kind: IdKind, names: Iterable[str]) -> list[int]:
        """Ids of ``names`` (one kind), in order. Names without an id get one, written to
        ``km_idreg`` in batches of ``PERSIST_CHUNK`` as they are chosen (a first sync's
        100,000 entries are never all held as objects), all before this returns. A bad
        name raises ``BadEntryError`` with nothing allocated; a failed write raises
        ``MapError`` and the registry keeps exactly what reached the map."""
        kind = IdKind(kind)
        known = self._ids[kind]
        stored = [registry_name(n) for n in names]
        for name in stored:
            if name not in known:
                IdRegValue(kind, name)  # validates the name: raises before anything is allocated
        ids: list[int] = []
        new: list[tuple[IdRegKey, IdRegValue]] = []
        try:
            for name in stored:
                id_ = known.get(name)
                if id_ is None:
                    id_ = self._free_slot(fnv1a_32(name.encode()))
                    self._remember(id_, kind, name)
                    new.append((IdRegKey(id_), IdRegValue(kind, name)))
                    if len(new) >= PERSIST_CHUNK:
                        self._persist(new)
                        new = []
                ids.append(id_)
            self._persist(new)
        except MapError:
            raise  # _persist reloaded: the registry is what the map holds
        except BaseException:
            for key, _ in new:  # chosen, not written yet
                self._forget(key.id)
            raise
        return ids

    def lookup(self, kind: IdKind, name: str) -> int | None:
        """The id of a name if it has one (never allocates)."""
        return self._ids[kind].get(registry_name(name))

    def name_of(self, id_: int) -> str | None:
        return self._names.get(id_)

    def kind_of(self, id_: int) -> IdKind | None:
        name = self._names.get(id_)
        if name is None:
            return None
        return next(kind for kind, ids in self._ids.items() if ids.get(name) == id_)

    def release(self, name: str, kind: IdKind | None = None) -> bool:
        """Free the id of ``name`` (of ``kind``, or of whichever kind has it)."""
        kinds = [kind] if kind is not None else list(IdKind)
        name = registry_name(name)
        for each in kinds:
            id_ = self._ids[each].get(name)
            if id_ is not None:
                self._forget(id_)
                self._map.delete(IdRegKey(id_))
                return True
        return False

    def items(self) -> list[tuple[int, IdKind, str]]:
        return [(id_, self.kind_of(id_), name) for id_, name in sorted(self._names.items())]

    def __len__(self) -> int:
        return len(self._names)

    def free_ids(self) -> int:
        """How many more ids the pinned registry can hold."""
        return self._map.spec.max_entries - len(self._names)

    def _id_for(self, kind: IdKind, name: str) -> int:
        existing = self._ids[kind].get(registry_name(name))
        if existing is not None:
            return existing
        return self.allocate(kind, (name,))[0]

    def _remember(self, id_: int, kind: IdKind, name: str) -> None:
        self._names[id_] = name
        self._ids[kind][name] = id_

    def _forget(self, id_: int) -> None:
        kind = self.kind_of(id_)
        name = self._names.pop(id_, None)
        if name is not None and kind is not None:
            self._ids[kind].pop(name, None)

    def _persist(self, new: list[tuple[IdRegKey, IdRegValue]]) -> None:
        if not new:
            return
        try:
            if len(new) == 1:
                self._map.update(*new[0])
            else:
                self._map.update_batch(new)
        except MapError:
            self.reload()  # a batch can stop half way: keep what the map really holds
            raise

    def _free_slot(self, start: int) -> int:
        id_ = start or 1
        for _ in range(len(self._names) + 1):
            if id_ not in self._names:
                return id_
            id_ = (id_ + 1) & _U32 or 1
        raise KmeshctlError("id registry has no free id: release unused names")
