"""Enrollment rules (facts section 5), one test per rule."""

from __future__ import annotations

import pytest
from kubernetes.client import V1Container, V1ObjectMeta, V1Pod, V1PodSpec, V1PodStatus

from kmeshctl.enrollment import PodView, decide

KMESH_NS = {"istio.io/dataplane-mode": "Kmesh"}


def pod(labels=None, annotations=None, containers=("app",), host_network=False) -> PodView:
    return PodView(name="p", namespace="ns", labels=labels or {}, annotations=annotations or {},
                   containers=tuple(containers), host_network=host_network)


@pytest.mark.parametrize("value", ["Kmesh", "kmesh", "KMESH", "kMeSh"])
def test_pod_label_is_case_insensitive(value: str) -> None:
    assert decide(pod({"istio.io/dataplane-mode": value}), {}, False).enroll


@pytest.mark.parametrize("value", ["Kmesh", "kmesh"])
def test_namespace_label_enrolls_its_pods(value: str) -> None:
    assert decide(pod(), {"istio.io/dataplane-mode": value}, False).enroll


def test_unlabelled_pod_in_unlabelled_namespace_is_not_enrolled() -> None:
    assert not decide(pod(), {}, False).enroll
    assert not decide(pod(), {"istio.io/dataplane-mode": "ambient"}, False).enroll


@pytest.mark.parametrize("value", ["none", "None", "NONE"])
def test_pod_label_none_opts_out_of_a_kmesh_namespace(value: str) -> None:
    decision = decide(pod({"istio.io/dataplane-mode": value}), KMESH_NS, False)
    assert not decision.enroll and "opted out" in decision.reason


def test_pod_label_for_another_data_plane_wins_over_namespace() -> None:
    assert not decide(pod({"istio.io/dataplane-mode": "ambient"}), KMESH_NS, False).enroll


def test_sidecar_annotation_is_never_enrolled() -> None:
    sidecar = pod({"istio.io/dataplane-mode": "Kmesh"}, {"sidecar.istio.io/status": "{}"})
    decision = decide(sidecar, KMESH_NS, False)
    assert not decision.enroll and "sidecar" in decision.reason


def test_istio_proxy_container_is_never_enrolled() -> None:
    assert not decide(pod(containers=("app", "istio-proxy")), KMESH_NS, False).enroll


def test_host_network_pod_is_never_enrolled() -> None:
    decision = decide(pod({"istio.io/dataplane-mode": "Kmesh"}, host_network=True), KMESH_NS, False)
    assert not decision.enroll and "hostNetwork" in decision.reason


def test_waypoint_pod_is_never_enrolled() -> None:
    waypoint = pod({"gateway.istio.io/managed": "istio.io-mesh-controller"})
    assert not decide(waypoint, KMESH_NS, False).enroll
    other_gateway = pod({"gateway.istio.io/managed": "something-else"})
    assert decide(other_gateway, KMESH_NS, False).enroll


def test_bypass_label_only_with_enable_bypass() -> None:
    bypassed = pod({"kmesh.net/bypass": "enabled"})
    assert not decide(bypassed, KMESH_NS, True).enroll
    assert decide(bypassed, KMESH_NS, False).enroll


def test_view_from_api_json_and_from_client_objects() -> None:
    raw = {"metadata": {"name": "a", "namespace": "ns", "labels": {"x": "y"}, "uid": "u1"},
           "spec": {"nodeName": "n1", "hostNetwork": True,
                    "containers": [{"name": "app"}], "initContainers": [{"name": "istio-proxy"}]},
           "status": {"phase": "Running", "podIP": "10.0.0.7"}}
    view = PodView.from_k8s(raw)
    assert view.host_network and view.node_name == "n1" and "istio-proxy" in view.containers
    assert view.pod_ip == "10.0.0.7" and view.uid == "u1"
    obj = V1Pod(metadata=V1ObjectMeta(name="a", namespace="ns", labels={"x": "y"}),
                spec=V1PodSpec(containers=[V1Container(name="app")], node_name="n1"),
                status=V1PodStatus(phase="Running", pod_ip="10.0.0.8"))
    view = PodView.from_k8s(obj)
    assert view.containers == ("app",) and view.pod_ip == "10.0.0.8" and not view.host_network
