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
    workload_pb2.Extension: {"name": 1, "config": 2},
    authorization_pb2.Authorization: {"name": 1, "namespace": 2, "scope": 3, "action": 4, "rules": 5,
                                      "dry_run": 6, "extensions": 7},
    authorization_pb2.Rule: {"clauses": 1},
    authorization_pb2.Clause: {"matches": 2},  # not 1: with 1 every clause decoded empty
    authorization_pb2.Match: {"namespaces": 1, "not_namespaces": 2, "principals": 3, "not_principals": 4,
                              "source_ips": 5, "not_source_ips": 6, "destination_ips": 7,
                              "not_destination_ips": 8, "destination_ports": 9, "not_destination_ports": 10,
                              "service_accounts": 11, "not_service_accounts": 12, "extensions": 13},
    authorization_pb2.ServiceAccountMatch: {"namespace": 1, "serviceAccount": 2},
    authorization_pb2.Address: {"address": 1, "length": 2},
    authorization_pb2.StringMatch: {"exact": 1, "prefix": 2, "suffix": 3, "presence": 4},
}

# enum -> value names in number order (0, 1, 2 ...), as in facts section 3
ENUMS = {
    workload_pb2.IPFamilies: ["AUTOMATIC", "IPV4_ONLY", "IPV6_ONLY", "DUAL"],
    workload_pb2.Service.Visibility: ["PUBLIC", "NAMESPACE"],
    workload_pb2.TunnelProtocol: ["NONE", "HBONE", "LEGACY_ISTIO_MTLS"],
    workload_pb2.WorkloadType: ["DEPLOYMENT", "CRONJOB", "POD", "JOB"],
    workload_pb2.ApplicationTunnel.Protocol: ["NONE", "PROXY"],
    workload_pb2.WorkloadStatus: ["HEALTHY", "UNHEALTHY"],
    workload_pb2.NetworkMode: ["STANDARD", "HOST_NETWORK"],
    workload_pb2.AppProtocol: ["UNKNOWN", "HTTP11", "HTTP2", "GRPC", "TCP", "TLS"],
    workload_pb2.LoadBalancing.Scope: ["UNSPECIFIED_SCOPE", "REGION", "ZONE", "SUBZONE", "NODE", "CLUSTER",
                                       "NETWORK"],
    workload_pb2.LoadBalancing.Mode: ["UNSPECIFIED_MODE", "STRICT", "FAILOVER", "PASSTHROUGH"],
    workload_pb2.LoadBalancing.HealthPolicy: ["ONLY_HEALTHY", "ALLOW_ALL"],
    authorization_pb2.Scope: ["GLOBAL", "NAMESPACE", "WORKLOAD_SELECTOR"],
    authorization_pb2.Action: ["ALLOW", "DENY"],
}


def test_field_numbers_match_the_workload_api() -> None:
    for message, expected in FIELD_NUMBERS.items():
        actual = {f.name: f.number for f in message.DESCRIPTOR.fields}
        assert actual == expected, message.DESCRIPTOR.full_name
    assert workload_pb2.Address.DESCRIPTOR.full_name == "istio.workload.Address"
    assert authorization_pb2.Authorization.DESCRIPTOR.full_name == "istio.security.Authorization"


def test_enum_values_match_the_workload_api() -> None:
    for enum, names in ENUMS.items():
        values = [(v.name, v.number) for v in enum.DESCRIPTOR.values]
        assert values == [(name, number) for number, name in enumerate(names)], enum.DESCRIPTOR.full_name


def test_retired_field_numbers_stay_reserved() -> None:
    """A number upstream left unused is reserved, so nothing here can be put on it."""
    def reserved(message) -> set[int]:
        proto = descriptor_pb2.DescriptorProto()
        message.DESCRIPTOR.CopyToProto(proto)
        return {n for r in proto.reserved_range for n in range(r.start, r.end)}
    assert reserved(workload_pb2.Workload) == {15}
    assert reserved(workload_pb2.GatewayAddress) == {4}
    assert reserved(authorization_pb2.Clause) == {1}


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
