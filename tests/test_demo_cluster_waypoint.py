"""The cluster demo's check that a kmeshctl waypoint applies new weights: it reads the
controller's /status (the routes as Envoy's own config dump shows them)."""

from __future__ import annotations

from kmeshctl.demo_cluster import _applies

HOST = "|fortio.default.svc.cluster.local"
ROUTE = f"inbound-vip|80|http{HOST}"


def _status(weights: dict[str, int]) -> dict:
    return {"routes": {ROUTE: {f"outbound|80|{subset}{HOST}": w for subset, w in weights.items()},
                       "inbound-vip|80|http|other.default.svc.cluster.local": {"outbound|80||other": 100}}}


def test_the_new_weights_are_applied_only_when_envoy_has_them() -> None:
    assert _applies(_status({"v1": 50, "v2": 50}), HOST, {"v1": 50, "v2": 50})
    assert not _applies(_status({"v1": 90, "v2": 10}), HOST, {"v1": 50, "v2": 50})


def test_a_single_live_subset_is_one_direct_cluster() -> None:
    # 0/100: Envoy routes straight to v2's cluster, which the status reports as weight 100.
    assert _applies(_status({"v2": 100}), HOST, {"v2": 100})
    assert not _applies(_status({"v1": 100}), HOST, {"v2": 100})


def test_no_route_for_the_service_is_not_applied() -> None:
    assert not _applies({"routes": {}}, HOST, {"v1": 90, "v2": 10})
    assert not _applies({}, HOST, {"v1": 90, "v2": 10})
