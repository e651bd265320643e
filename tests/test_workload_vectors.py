"""Workload-API messages encoded by upstream's schema (shared/vectors/workload-api, see its
README.md) decode here with no unknown field anywhere in the message tree, hold what the
README says, and are accepted by the agent's checks.

The vectors live outside the repository (only on the project's machines and in CI):
without them the tests that read them are skipped; they are never copied in.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.unknown_fields import UnknownFieldSet

from kmeshctl.xds.protos import authorization_pb2, workload_pb2
from kmeshctl.xds.validation import address_problems, authorization_problems

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "workload-api"

needs_vectors = pytest.mark.skipif(
    not VECTORS.is_dir(),
    reason=f"{VECTORS} is absent: shared/ exists only on the project's machines and in CI")


def message_type(path: Path) -> type[Message]:
    """README: `authz-*` files are Authorization, all others Address."""
    return authorization_pb2.Authorization if path.name.startswith("authz-") else workload_pb2.Address


def load(name: str) -> Message:
    path = VECTORS / f"{name}.bin"
    return message_type(path).FromString(path.read_bytes())


def unknown_fields(message: Message, where: str = "") -> list[str]:
    """``where: field N`` for every unknown field of ``message`` and of every message
    below it (repeated fields and map values included)."""
    here = where or message.DESCRIPTOR.name
    found = [f"{here}: field {f.field_number}" for f in UnknownFieldSet(message)]
    for field, value in message.ListFields():
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        for label, child in _children(field, value):
            found += unknown_fields(child, f"{here}.{field.name}{label}")
    return found


def _children(field: FieldDescriptor, value: object) -> list[tuple[str, Message]]:
    if field.message_type.GetOptions().map_entry:
        if field.message_type.fields_by_name["value"].type != FieldDescriptor.TYPE_MESSAGE:
            return []
        return [(f"[{key!r}]", item) for key, item in value.items()]  # type: ignore[attr-defined]
    if field.is_repeated:
        return [(f"[{i}]", item) for i, item in enumerate(value)]  # type: ignore[arg-type]
    return [("", value)]  # type: ignore[list-item]


def ip(raw: bytes) -> str:
    return str(ipaddress.ip_address(raw))


def pairs(ports) -> list[tuple[int, int]]:
    return [(p.service_port, p.target_port) for p in ports]


# ----------------------------------------------------------------- the decoder itself


def test_the_walk_finds_an_unknown_field_deep_in_the_tree() -> None:
    """A clause carrying field 1 (where the matches were wrongly expected) is reported,
    though the top-level message has no unknown field: the walk must go down."""
    clause = authorization_pb2.Clause.FromString(b"\x0a\x00")  # field 1, empty bytes
    policy = authorization_pb2.Authorization(name="p", rules=[authorization_pb2.Rule(clauses=[clause])])
    again = authorization_pb2.Authorization.FromString(policy.SerializeToString())
    assert len(UnknownFieldSet(again)) == 0
    assert unknown_fields(again) == ["Authorization.rules[0].clauses[0]: field 1"]
    port_list = workload_pb2.PortList.FromString(b"\x10\x01")  # field 2 of PortList: unknown
    wl = workload_pb2.Workload(uid="u", services={"ns/h": port_list})
    assert unknown_fields(workload_pb2.Workload.FromString(wl.SerializeToString())) == [
        "Workload.services['ns/h']: field 2"]


@needs_vectors
def test_every_vector_decodes_with_no_unknown_field() -> None:
    files = sorted(VECTORS.glob("*.bin"))
    assert files, f"no *.bin in {VECTORS}"
    for path in files:
        message = message_type(path).FromString(path.read_bytes())
        assert unknown_fields(message) == [], path.name
        assert message.ByteSize() == path.stat().st_size, path.name  # nothing dropped either


@needs_vectors
def test_every_vector_has_its_expectations_here() -> None:
    assert {p.stem for p in VECTORS.glob("*.bin")} == set(EXPECTATIONS)


@needs_vectors
def test_every_vector_is_accepted_by_the_agent_s_checks() -> None:
    """No NACK for any of them (the waypoint's hostname taken as known)."""
    for name in EXPECTATIONS:
        message = load(name)
        if isinstance(message, authorization_pb2.Authorization):
            assert authorization_problems(f"{message.namespace}/{message.name}", message) == [], name
        elif message.WhichOneof("type") == "service":
            svc = message.service
            assert address_problems(f"{svc.namespace}/{svc.hostname}", message, lambda ns, h: True) == [], name
        else:
            assert address_problems(message.workload.uid, message, lambda ns, h: True) == [], name


# ----------------------------------------------------------------- what each one holds


def check_service_11_ports(address: workload_pb2.Address) -> None:
    svc = address.service
    assert (svc.name, svc.namespace, svc.hostname) == ("wide", "default", "wide.default.svc.cluster.local")
    assert [ip(a.address) for a in svc.addresses] == ["10.96.0.11"]
    assert pairs(svc.ports) == [(80 + i, 8080 + i) for i in range(11)]


def check_service_hostname_waypoint(address: workload_pb2.Address) -> None:
    svc = address.service
    assert (svc.name, svc.namespace, svc.hostname) == ("fortio", "default", "fortio.default.svc.cluster.local")
    assert [ip(a.address) for a in svc.addresses] == ["10.96.0.10"]
    assert pairs(svc.ports) == [(80, 8080)] and svc.ports[0].app_protocol == workload_pb2.HTTP11
    assert svc.waypoint.WhichOneof("destination") == "hostname"
    assert (svc.waypoint.hostname.namespace, svc.waypoint.hostname.hostname) == \
        ("default", "waypoint.default.svc.cluster.local")
    assert svc.waypoint.hbone_mtls_port == 15008


def check_service_passthrough_dual(address: workload_pb2.Address) -> None:
    svc = address.service
    assert (svc.name, svc.namespace, svc.hostname) == ("ext", "default", "ext.example.com")
    assert [ip(a.address) for a in svc.addresses] == ["10.96.0.30", "fd00:96::30"]
    assert pairs(svc.ports) == [(443, 0)]  # target 0: the same as the service port
    assert svc.load_balancing.mode == workload_pb2.LoadBalancing.PASSTHROUGH
    assert svc.ip_families == workload_pb2.DUAL


def check_workload_named_port(address: workload_pb2.Address) -> None:
    wl = address.workload
    assert wl.uid == "Kubernetes//Pod/default/named-b-0"
    assert [ip(a) for a in wl.addresses] == ["10.244.0.9"]
    assert (wl.service_account, wl.node, wl.workload_name) == ("default", "node-1", "named-b")
    assert (wl.canonical_name, wl.canonical_revision) == ("named", "b")
    assert wl.status == workload_pb2.HEALTHY and wl.workload_type == workload_pb2.POD
    # this pod's own number for the Service's named target port
    assert {k: pairs(v.ports) for k, v in wl.services.items()} == {
        "default/named.default.svc.cluster.local": [(80, 9090)]}


def check_workload_dual_stack(address: workload_pb2.Address) -> None:
    wl = address.workload
    assert wl.uid == "Kubernetes//Pod/default/ds-0"
    assert [ip(a) for a in wl.addresses] == ["10.244.0.7", "fd00:10:244::7"]
    assert wl.network == "net-a"
    assert (wl.locality.region, wl.locality.zone, wl.locality.subzone) == ("r1", "z1", "s1")
    assert {k: pairs(v.ports) for k, v in wl.services.items()} == {
        "default/ds.default.svc.cluster.local": [(80, 8080)]}


def check_authz_deny_ns_sa_port(policy: authorization_pb2.Authorization) -> None:
    assert (policy.name, policy.namespace) == ("deny-from-test", "default")
    assert policy.scope == authorization_pb2.WORKLOAD_SELECTOR and policy.action == authorization_pb2.DENY
    assert len(policy.rules) == 1
    first, second = policy.rules[0].clauses  # exactly two clauses
    assert len(first.matches) == 1 and len(second.matches) == 1
    who, port = first.matches[0], second.matches[0]
    assert set_kinds(who) == {"namespaces", "service_accounts"}
    assert [n.exact for n in who.namespaces] == ["test"]
    assert [(s.namespace, s.serviceAccount) for s in who.service_accounts] == [("test", "client")]
    assert set_kinds(port) == {"destination_ports"} and list(port.destination_ports) == [8080]
    # its meaning: deny connections to port 8080 from service account test/client in namespace test
    assert applies(policy, Connection("test", "client", 8080))
    assert not applies(policy, Connection("test", "client", 9090))  # clauses AND-ed
    assert not applies(policy, Connection("test", "other", 8080))  # kinds of a match AND-ed
    assert not applies(policy, Connection("prod", "client", 8080))


EXPECTATIONS: dict[str, Callable] = {
    "service-11-ports": check_service_11_ports,
    "service-hostname-waypoint": check_service_hostname_waypoint,
    "service-passthrough-dual": check_service_passthrough_dual,
    "workload-named-port": check_workload_named_port,
    "workload-dual-stack": check_workload_dual_stack,
    "authz-deny-ns-sa-port": check_authz_deny_ns_sa_port,
}


@needs_vectors
@pytest.mark.parametrize("name", sorted(EXPECTATIONS))
def test_vector_holds_what_the_readme_says(name: str) -> None:
    EXPECTATIONS[name](load(name))


# ----------------------------------------------------------------- the policy's meaning


@dataclass(frozen=True)
class Connection:
    """What a policy is evaluated against (only the kinds the vectors use)."""

    namespace: str
    service_account: str
    port: int


EVALUATED_KINDS = {"namespaces", "not_namespaces", "service_accounts", "not_service_accounts",
                   "destination_ports", "not_destination_ports"}


def set_kinds(match: authorization_pb2.Match) -> set[str]:
    return {field.name for field, _ in match.ListFields()}


def applies(policy: authorization_pb2.Authorization, conn: Connection) -> bool:
    """Upstream's semantics: rules OR-ed, the clauses of a rule AND-ed, the matches of a
    clause OR-ed (a clause without matches matches everything)."""
    return any(all(not clause.matches or any(match_holds(m, conn) for m in clause.matches)
                   for clause in rule.clauses)
               for rule in policy.rules)


def match_holds(match: authorization_pb2.Match, conn: Connection) -> bool:
    """Every kind set must hold (AND); a kind holds when any of its values does (OR), a
    not_ kind when none does."""
    assert set_kinds(match) <= EVALUATED_KINDS, set_kinds(match)
    namespace = any(_string_matches(s, conn.namespace) for s in match.namespaces)
    not_namespace = any(_string_matches(s, conn.namespace) for s in match.not_namespaces)
    account = any(_account_matches(s, conn) for s in match.service_accounts)
    not_account = any(_account_matches(s, conn) for s in match.not_service_accounts)
    return ((not match.namespaces or namespace) and not not_namespace
            and (not match.service_accounts or account) and not not_account
            and (not match.destination_ports or conn.port in match.destination_ports)
            and conn.port not in match.not_destination_ports)


def _account_matches(sa: authorization_pb2.ServiceAccountMatch, conn: Connection) -> bool:
    return (sa.namespace, sa.serviceAccount) == (conn.namespace, conn.service_account)


def _string_matches(match: authorization_pb2.StringMatch, value: str) -> bool:
    kind = match.WhichOneof("match_type")
    if kind == "exact":
        return value == match.exact
    if kind == "prefix":
        return value.startswith(match.prefix)
    if kind == "suffix":
        return value.endswith(match.suffix)
    return kind == "presence" and bool(value)


def test_the_semantics_on_hand_built_policies() -> None:
    """The reading used above, where it differs from a naive one: matches of a clause
    OR-ed, an empty clause matching everything, rules OR-ed."""
    ns = lambda name: authorization_pb2.StringMatch(exact=name)  # noqa: E731
    either = authorization_pb2.Clause(matches=[authorization_pb2.Match(namespaces=[ns("a")]),
                                               authorization_pb2.Match(namespaces=[ns("b")])])
    policy = authorization_pb2.Authorization(rules=[authorization_pb2.Rule(clauses=[either])])
    assert applies(policy, Connection("a", "x", 1)) and applies(policy, Connection("b", "x", 1))
    assert not applies(policy, Connection("c", "x", 1))
    anything = authorization_pb2.Authorization(rules=[authorization_pb2.Rule(clauses=[authorization_pb2.Clause()])])
    assert applies(anything, Connection("c", "x", 1))
    two_rules = authorization_pb2.Authorization(rules=[
        authorization_pb2.Rule(clauses=[either]),
        authorization_pb2.Rule(clauses=[authorization_pb2.Clause(matches=[
            authorization_pb2.Match(destination_ports=[22])])])])
    assert applies(two_rules, Connection("c", "x", 22)) and not applies(two_rules, Connection("c", "x", 23))
