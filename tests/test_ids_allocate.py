"""The id registry's batched allocation (``IdRegistry.allocate``) on a real loaded data
path: same ids as one-by-one allocation, persisted before it returns, probing on
collision, and nothing half-done on a bad name or a full map."""

from __future__ import annotations

from typing import Iterator

import pytest

from bpf_testlib import LoadedEnv, loaded_dataplane
from kmeshctl.node import ids
from kmeshctl.node.ids import IdRegistry, fnv1a_32
from kmeshctl.maps import MAX_IDS, BadEntryError, IdKind, IdRegKey, IdRegValue, MapFullError

pytestmark = pytest.mark.root

NAMES = [f"Kubernetes//Pod/ids/pod-{i}" for i in range(300)]


@pytest.fixture(scope="module")
def dp(run_id: str) -> Iterator[LoadedEnv]:
    yield from loaded_dataplane(run_id, "ids")


@pytest.fixture(autouse=True, params=[ids.PERSIST_CHUNK, 7], ids=["one-batch", "batches-of-7"])
def persist_chunk(request, monkeypatch) -> int:
    """Every rule holds whether the new entries go out in one batch or in many."""
    monkeypatch.setattr(ids, "PERSIST_CHUNK", request.param)
    return request.param


@pytest.fixture
def registry(dp: LoadedEnv) -> Iterator[IdRegistry]:
    dp.maps.idreg.clear()
    yield IdRegistry(dp.maps)
    dp.maps.idreg.clear()


def test_batch_gives_the_ids_of_one_by_one_allocation_and_persists_them(dp: LoadedEnv,
                                                                        registry: IdRegistry) -> None:
    batch = registry.allocate(IdKind.BACKEND, NAMES)
    assert batch == [fnv1a_32(n.encode()) for n in NAMES]  # no collision among these names
    again = IdRegistry(dp.maps)  # a restarted agent reads them back
    assert [again.backend_id(n) for n in NAMES] == batch
    assert len(dp.maps.idreg) == len(NAMES)
    assert registry.allocate(IdKind.BACKEND, NAMES[:5]) == batch[:5]  # existing: nothing new
    assert len(dp.maps.idreg) == len(NAMES)


def test_batch_probes_past_taken_ids_and_duplicates_share_one(dp: LoadedEnv, registry: IdRegistry) -> None:
    name = "ids/collide.ids.svc.cluster.local"
    slot = fnv1a_32(name.encode())
    dp.maps.idreg.update(IdRegKey(slot), IdRegValue(IdKind.BACKEND, "someone-else"))
    registry.reload()
    ids = registry.allocate(IdKind.SERVICE, [name, "ids/other.ids.svc.cluster.local", name])
    assert ids[0] == ids[2] == slot + 1
    assert IdRegistry(dp.maps).name_of(slot + 1) == name
    assert IdRegistry(dp.maps).kind_of(slot + 1) == IdKind.SERVICE


def test_bad_name_allocates_nothing(dp: LoadedEnv, registry: IdRegistry) -> None:
    with pytest.raises(BadEntryError, match="id name"):
        registry.allocate(IdKind.BACKEND, ["good-1", "bad\0name", "good-2"])
    with pytest.raises(BadEntryError, match="id name"):
        registry.allocate(IdKind.BACKEND, NAMES[:20] + ["bad\0name"])  # after whole batches
    assert len(registry) == 0 and registry.lookup(IdKind.BACKEND, "good-1") is None
    assert len(dp.maps.idreg) == 0


def test_full_map_keeps_memory_equal_to_the_map(dp: LoadedEnv, registry: IdRegistry) -> None:
    room = 5
    filler = [(IdRegKey(10_000_000 + i), IdRegValue(IdKind.BACKEND, f"filler-{i}")) for i in range(MAX_IDS - room)]
    dp.maps.idreg.update_batch(filler)
    registry.reload()
    with pytest.raises(MapFullError, match="km_idreg is full"):
        registry.allocate(IdKind.BACKEND, NAMES[:20])
    stored = IdRegistry(dp.maps)
    assert registry.items() == stored.items()
    assert len(stored) == MAX_IDS
    assert sum(registry.lookup(IdKind.BACKEND, n) is not None for n in NAMES[:20]) == room
