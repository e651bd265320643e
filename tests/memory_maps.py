"""Test double: the pinned BPF maps in memory, for tests of translation and planning that
need no root. A stand-in for the kernel's hash maps, named as such (docs/testing.md).

What it mirrors of the real maps: entries are encoded to their C structs and back on
every write and read (so a value that could not be written to the kernel fails here
too), a map holds at most its ``max_entries`` (a write of one more raises
``MapFullError``), and a batch write stops at the first entry that does not fit, with
the entries before it written. What it does not have: concurrent readers (the BPF
programs), so it says nothing about write ordering; the root tests cover that.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from kmeshctl.maps import (BACKEND, ENDPOINT, FRONTEND, IDREG, MANAGE, PRIO_COUNT, SERVICE, EndpointKey,
                           MapFullError, MapSpec, ServiceKey)


class MemoryMap:
    """One map: the interface of ``kmeshctl.maps.TypedMap`` over a dict of C bytes."""

    def __init__(self, spec: MapSpec) -> None:
        self.spec = spec
        self._entries: dict[bytes, bytes] = {}

    @property
    def name(self) -> str:
        return self.spec.name

    def lookup(self, key: Any) -> Any:
        raw = self._entries.get(bytes(key.to_c()))
        if raw is None:
            return None
        return self.spec.value_type.from_c(self.spec.value_c.from_buffer_copy(raw))

    def update(self, key: Any, value: Any, flags: int = 0) -> None:
        raw_key = bytes(key.to_c())
        if raw_key not in self._entries and len(self._entries) >= self.spec.max_entries:
            raise MapFullError(f"{self.name} is full ({self.spec.max_entries} entries), cannot add {key}")
        self._entries[raw_key] = bytes(value.to_c())

    def update_batch(self, entries: Sequence[tuple[Any, Any]]) -> int:
        for key, value in entries:
            self.update(key, value)
        return len(entries)

    def delete(self, key: Any) -> bool:
        return self._entries.pop(bytes(key.to_c()), None) is not None

    def keys(self) -> Iterator[Any]:
        for raw in list(self._entries):
            yield self.spec.key_type.from_c(self.spec.key_c.from_buffer_copy(raw))

    def items(self) -> Iterator[tuple[Any, Any]]:
        for key in self.keys():
            value = self.lookup(key)
            if value is not None:
                yield key, value

    def clear(self) -> int:
        count = len(self._entries)
        self._entries.clear()
        return count

    def __len__(self) -> int:
        return len(self._entries)


class MemoryMaps:
    """The agent's maps (``DataplaneMaps``' attributes) in memory."""

    def __init__(self) -> None:
        self.frontend = MemoryMap(FRONTEND)
        self.service = MemoryMap(SERVICE)
        self.endpoint = MemoryMap(ENDPOINT)
        self.backend = MemoryMap(BACKEND)
        self.manage = MemoryMap(MANAGE)
        self.idreg = MemoryMap(IDREG)

    def endpoint_groups(self, service_id: int) -> list[list[int]]:
        """Backend uids per priority group, as ``DataplaneMaps.endpoint_groups``."""
        value = self.service.lookup(ServiceKey(service_id))
        if value is None:
            return []
        return [[self.endpoint.lookup(EndpointKey(service_id, prio, i)).backend_uid
                 for i in range(1, value.prio_endpoint_count[prio] + 1)] for prio in range(PRIO_COUNT)]


