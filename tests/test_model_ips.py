"""The model's addresses hash once and behave as the standard library's (issue 10: the
first sync looks each address up about ten times), and the id hash is FNV-1a."""

from __future__ import annotations

import copy
import ipaddress
import pickle

import pytest

from kmeshctl.node.ids import fnv1a_32, fnv1a_32_reference
from kmeshctl.node.model import ip_of


@pytest.mark.parametrize("text", ["10.0.0.1", "0.0.0.0", "255.255.255.255", "fd00:10:244::7", "::"])
def test_a_model_address_is_interchangeable_with_the_standard_one(text: str) -> None:
    plain = ipaddress.ip_address(text)
    ours = ip_of(plain.packed)
    assert ours == plain and plain == ours and hash(ours) == hash(plain)
    assert {plain: "x"}[ours] == "x" and {ours: "y"}[plain] == "y"
    assert str(ours) == text and repr(ours) == repr(plain) and ours.version == plain.version
    assert pickle.loads(pickle.dumps(ours)) == plain and copy.deepcopy(ours) == plain
    assert sorted([ours, plain]) == [plain, plain]


@pytest.mark.parametrize("name", ["", "a", "default/web.default.svc.cluster.local",
                                  "Kubernetes//Pod/ns/" + "x" * 240, "名前/ü"])
def test_the_id_hash_is_fnv1a_32(name: str) -> None:
    assert fnv1a_32(name.encode()) == fnv1a_32_reference(name.encode())


def test_shared_values_hand_out_one_object_per_key_up_to_their_limit() -> None:
    from kmeshctl.node.model import SharedValues

    built: list[tuple[int, ...]] = []

    def build(key: tuple[int, ...]) -> list[int]:
        built.append(key)
        return list(key)

    shared: SharedValues[tuple[int, ...], list[int]] = SharedValues(limit=2)
    first = shared.get((1, 2), build)
    assert shared.get((1, 2), build) is first and built == [(1, 2)]
    assert shared.get((3,), build) == [3] and len(shared) == 2
    # past the limit: still the right value, built each time, never kept
    assert shared.get((4,), build) == [4] and shared.get((4,), build) is not shared.get((4,), build)
    assert len(shared) == 2
    key = (7, 8)
    assert SharedValues().get(key) is key  # without build, the key is its own value
