"""The workload API protos: field numbers as istiod sends them (facts section 3), and the
committed generated modules are what `scripts/gen_protos.sh` makes of the .proto files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import grpc_tools
from google.protobuf import descriptor_pb2

from kmeshctl.xds.protos import authorization_pb2, workload_pb2

REPO = Path(__file__).resolve().parent.parent

# message -> field -> number, as on the wire from istiod (a wrong number silently drops data)
FIELD_NUMBERS = {
    workload_pb2.Address: {"workload": 1, "service": 2},
    workload_pb2.Service: {"name": 1, "namespace": 2, "hostname": 3, "addresses": 4, "ports": 5,
                           "subject_alt_names": 6, "waypoint": 7, "load_balancing": 8, "ip_families": 9,
                           "extensions": 10, "canonical": 11, "ingress_use_waypoint": 12,
                           "weighted_waypoints": 13, "visibility": 14},
    workload_pb2.Workload: {"uid": 20, "name": 1, "namespace": 2, "addresses": 3, "hostname": 21,
                            "network": 4, "tunnel_protocol": 5, "trust_domain": 6, "service_account": 7,
                            "waypoint": 8, "network_gateway": 19, "node": 9, "canonical_name": 10,
                            "canonical_revision": 11, "workload_type": 12, "workload_name": 13,
                            "native_tunnel": 14, "application_tunnel": 23, "services": 22,
                            "authorization_policies": 16, "status": 17, "cluster_id": 18, "locality": 24,
                            "network_mode": 25, "extensions": 26, "capacity": 27},
    workload_pb2.ApplicationTunnel: {"protocol": 1, "port": 2},
    workload_pb2.Locality: {"region": 1, "zone": 2, "subzone": 3},
    workload_pb2.PortList: {"ports": 1},
    workload_pb2.Port: {"service_port": 1, "target_port": 2, "app_protocol": 3},
    workload_pb2.NetworkAddress: {"network": 1, "address": 2, "length": 3},
    workload_pb2.NamespacedHostname: {"namespace": 1, "hostname": 2},
    workload_pb2.GatewayAddress: {"hostname": 1, "address": 2, "hbone_mtls_port": 3},
    workload_pb2.LoadBalancing: {"routing_preference": 1, "mode": 2, "health_policy": 3},
    workload_pb2.WeightedGatewayAddress: {"destination": 1, "weight": 2},
    authorization_pb2.Authorization: {"name": 1, "namespace": 2, "scope": 3, "action": 4, "rules": 5,
                                      "dry_run": 6},
}


def test_field_numbers_match_the_workload_api() -> None:
    for message, expected in FIELD_NUMBERS.items():
        actual = {f.name: f.number for f in message.DESCRIPTOR.fields}
        assert actual == expected, message.DESCRIPTOR.full_name
    assert workload_pb2.Address.DESCRIPTOR.full_name == "istio.workload.Address"
    assert authorization_pb2.Authorization.DESCRIPTOR.full_name == "istio.security.Authorization"


def test_enum_values_match_the_workload_api() -> None:
    lb = workload_pb2.LoadBalancing
    assert [v.name for v in lb.Scope.DESCRIPTOR.values] == [
        "UNSPECIFIED_SCOPE", "REGION", "ZONE", "SUBZONE", "NODE", "CLUSTER", "NETWORK"]
    assert [v.name for v in lb.Mode.DESCRIPTOR.values] == ["UNSPECIFIED_MODE", "STRICT", "FAILOVER", "PASSTHROUGH"]
    assert workload_pb2.ApplicationTunnel.PROXY == 1 and workload_pb2.UNHEALTHY == 1
    assert workload_pb2.HOST_NETWORK == 1 and workload_pb2.LEGACY_ISTIO_MTLS == 2


def test_committed_modules_are_generated_from_the_protos(tmp_path: Path) -> None:
    """A .proto edited without running scripts/gen_protos.sh would ship stale modules."""
    protos = sorted(str(p.relative_to(REPO)) for p in (REPO / "kmeshctl/xds/protos").glob("*.proto"))
    out = tmp_path / "set.pb"
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", ".", "-I", well_known,
                    f"--descriptor_set_out={out}", *protos], cwd=REPO, check=True, capture_output=True)
    fresh = {f.name: f for f in descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file}
    for file in fresh.values():
        _drop_json_names(file.message_type)  # a descriptor set has them, generated modules do not
    for module in (workload_pb2, authorization_pb2):
        committed = descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb)
        assert committed == fresh[committed.name], f"{committed.name}: run scripts/gen_protos.sh"
    assert set(fresh) == {"kmeshctl/xds/protos/workload.proto", "kmeshctl/xds/protos/authorization.proto"}


def _drop_json_names(messages) -> None:
    for message in messages:
        for field in message.field:
            field.ClearField("json_name")
        _drop_json_names(message.nested_type)
