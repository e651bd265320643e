"""Stable 32-bit ids for services and backends, persisted in the pinned ``km_idreg`` map.

An id is the FNV-1a 32-bit hash of the name (``namespace/hostname`` for a service, the
workload uid for a backend), with linear probing on collision. Services and backends
share one id space, because ``km_frontend`` values may name either. Id 0 is never used
(it means "none" in map slots). Every allocation is written to ``km_idreg`` at once, so a
restarted agent gets the same ids back and ``kmeshctl dump maps`` can show names.
"""

from __future__ import annotations

from kmeshctl.errors import KmeshctlError
from kmeshctl.maps import DataplaneMaps, IdKind, IdRegKey, IdRegValue, TypedMap

FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193
_U32 = 0xFFFFFFFF


def fnv1a_32(data: bytes) -> int:
    value = FNV_OFFSET
    for byte in data:
        value = ((value ^ byte) * FNV_PRIME) & _U32
    return value


class IdRegistry:
    """Name <-> id registry backed by ``km_idreg``.

    ``IdRegistry(maps)`` loads every entry of the pinned registry; ``service_id(name)`` and
    ``backend_id(uid)`` return the existing id or allocate and persist a new one;
    ``release(name)`` frees it; ``name_of(id)`` / ``kind_of(id)`` resolve an id.
    """

    def __init__(self, maps: DataplaneMaps | TypedMap[IdRegKey, IdRegValue]) -> None:
        self._map: TypedMap[IdRegKey, IdRegValue] = (
            maps.idreg if isinstance(maps, DataplaneMaps) else maps)
        self._by_id: dict[int, IdRegValue] = {}
        self._by_name: dict[tuple[IdKind, str], int] = {}
        self.reload()

    def reload(self) -> None:
        """Re-read the pinned registry."""
        self._by_id = {key.id: value for key, value in self._map.items()}
        self._by_name = {(value.kind, value.name): id_ for id_, value in self._by_id.items()}

    def service_id(self, name: str) -> int:
        """Id of the service ``namespace/hostname``, allocated on first use."""
        return self._id_for(IdKind.SERVICE, name)

    def backend_id(self, uid: str) -> int:
        """Id (``backend_uid``) of the workload with this uid, allocated on first use."""
        return self._id_for(IdKind.BACKEND, uid)

    def lookup(self, kind: IdKind, name: str) -> int | None:
        """The id of a name if it has one (never allocates)."""
        return self._by_name.get((kind, name))

    def name_of(self, id_: int) -> str | None:
        entry = self._by_id.get(id_)
        return entry.name if entry else None

    def kind_of(self, id_: int) -> IdKind | None:
        entry = self._by_id.get(id_)
        return entry.kind if entry else None

    def release(self, name: str, kind: IdKind | None = None) -> bool:
        """Free the id of ``name`` (of ``kind``, or of whichever kind has it)."""
        kinds = [kind] if kind is not None else list(IdKind)
        for each in kinds:
            id_ = self._by_name.pop((each, name), None)
            if id_ is not None:
                del self._by_id[id_]
                self._map.delete(IdRegKey(id_))
                return True
        return False

    def items(self) -> list[tuple[int, IdKind, str]]:
        return [(id_, v.kind, v.name) for id_, v in sorted(self._by_id.items())]

    def __len__(self) -> int:
        return len(self._by_id)

    def _id_for(self, kind: IdKind, name: str) -> int:
        existing = self._by_name.get((kind, name))
        if existing is not None:
            return existing
        entry = IdRegValue(kind, name)  # validates the name before anything is written
        id_ = self._free_slot(fnv1a_32(name.encode()))
        self._map.update(IdRegKey(id_), entry)
        self._by_id[id_] = entry
        self._by_name[(kind, name)] = id_
        return id_

    def _free_slot(self, start: int) -> int:
        id_ = start or 1
        for _ in range(len(self._by_id) + 1):
            if id_ not in self._by_id:
                return id_
            id_ = (id_ + 1) & _U32 or 1
        raise KmeshctlError("id registry has no free id: release unused names")
