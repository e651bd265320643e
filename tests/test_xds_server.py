"""The ADS server, driven by a raw gRPC stub over loopback and a unix socket."""

from __future__ import annotations

import queue
import subprocess
from pathlib import Path
from typing import Iterator, Optional

import grpc
import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from google.rpc import status_pb2

from kmeshctl.xds.server import TlsFiles, XdsServer

CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"


def cluster(name: str, timeout_s: int = 1) -> cluster_pb2.Cluster:
    c = cluster_pb2.Cluster(name=name)
    c.connect_timeout.seconds = timeout_s
    return c


class RawStream:
    """A hand-driven ADS stream: send requests, read responses with a timeout."""

    def __init__(self, channel: grpc.Channel, delta: bool = True) -> None:
        self._requests: "queue.Queue[Optional[object]]" = queue.Queue()
        self._responses: "queue.Queue[object]" = queue.Queue()
        stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel)
        method = stub.DeltaAggregatedResources if delta else stub.StreamAggregatedResources
        self._call = method(self._iter_requests())
        self._reader = __import__("threading").Thread(target=self._read, daemon=True)
        self._reader.start()

    def _iter_requests(self) -> Iterator:
        while (req := self._requests.get()) is not None:
            yield req

    def _read(self) -> None:
        try:
            for resp in self._call:
                self._responses.put(resp)
        except grpc.RpcError as err:
            self._responses.put(err)

    def send(self, request: object) -> None:
        self._requests.put(request)

    def recv(self, timeout: float = 5.0):
        item = self._responses.get(timeout=timeout)
        if isinstance(item, grpc.RpcError):
            raise item
        return item

    def no_response(self, wait: float = 0.3) -> bool:
        try:
            self._responses.get(timeout=wait)
        except queue.Empty:
            return True
        return False

    def ack(self, response) -> None:
        self.send(discovery_pb2.DeltaDiscoveryRequest(type_url=response.type_url,
                                                      response_nonce=response.nonce))

    def close(self) -> None:
        self._requests.put(None)
        self._call.cancel()


@pytest.fixture
def server():
    srv = XdsServer()
    srv.add_listener("127.0.0.1:0")
    with srv:
        yield srv


@pytest.fixture
def channel(server: XdsServer):
    with grpc.insecure_channel(server.addresses[0]) as ch:
        yield ch


def names(response) -> list[str]:
    return sorted(r.name for r in response.resources)


def test_wildcard_initial_sync_then_exact_changes(server: XdsServer, channel: grpc.Channel) -> None:
    server.set_resources(CLUSTER, {"a": cluster("a"), "b": cluster("b")})
    stream = RawStream(channel)
    stream.send(discovery_pb2.DeltaDiscoveryRequest(
        type_url=CLUSTER, node=base_pb2.Node(id="test-node")))
    first = stream.recv()
    assert names(first) == ["a", "b"] and not first.removed_resources
    stream.ack(first)
    assert server.wait_acked(CLUSTER)
    assert server.streams()[0].node.id == "test-node"

    server.set_resources(CLUSTER, {"a": cluster("a"), "c": cluster("c")})  # a unchanged
    added = stream.recv()
    assert names(added) == ["c"]
    stream.ack(added)

    server.set_resources(CLUSTER, {"b": cluster("b", timeout_s=7)})
    updated = stream.recv()
    assert names(updated) == ["b"]
    decoded = cluster_pb2.Cluster()
    updated.resources[0].resource.Unpack(decoded)
    assert decoded.connect_timeout.seconds == 7
    stream.ack(updated)

    server.remove_resources(CLUSTER, ["a", "missing"])
    removed = stream.recv()
    assert list(removed.removed_resources) == ["a"] and not removed.resources
    stream.ack(removed)
    assert server.wait_acked(CLUSTER)
    assert len(server.streams()[0].acks(CLUSTER)) == 4
    stream.close()


def test_nack_is_recorded_with_detail(server: XdsServer, channel: grpc.Channel) -> None:
    server.set_resources(CLUSTER, {"a": cluster("a")})
    stream = RawStream(channel)
    stream.send(discovery_pb2.DeltaDiscoveryRequest(type_url=CLUSTER))
    first = stream.recv()
    stream.send(discovery_pb2.DeltaDiscoveryRequest(
        type_url=CLUSTER, response_nonce=first.nonce,
        error_detail=status_pb2.Status(code=3, message="a: bad timeout")))
    nack = server.wait_nacked(CLUSTER)
    assert nack is not None and nack.nonce == first.nonce
    assert nack.error_code == 3 and nack.error_message == "a: bad timeout"
    assert server.streams()[0].acks() == []
    stream.close()


def test_reconnect_with_initial_versions_gets_only_differences(
        server: XdsServer, channel: grpc.Channel) -> None:
    server.set_resources(CLUSTER, {"same": cluster("same"), "changed": cluster("changed")})
    held = {"same": server.version(CLUSTER, "same"), "changed": "old-version",
            "gone": "some-version"}
    stream = RawStream(channel)
    stream.send(discovery_pb2.DeltaDiscoveryRequest(type_url=CLUSTER,
                                                    initial_resource_versions=held))
    first = stream.recv()
    assert names(first) == ["changed"]
    assert list(first.removed_resources) == ["gone"]
    stream.close()


def test_initial_sync_with_nothing_to_send_still_answers(server: XdsServer, channel: grpc.Channel) -> None:
    stream = RawStream(channel)
    stream.send(discovery_pb2.DeltaDiscoveryRequest(type_url=CLUSTER))
    first = stream.recv()
    assert not first.resources and not first.removed_resources and first.nonce
    stream.close()


def test_explicit_subscription_and_absent_names(server: XdsServer, channel: grpc.Channel) -> None:
    server.set_resources(CLUSTER, {"a": cluster("a"), "b": cluster("b")})
    stream = RawStream(channel)
    stream.send(discovery_pb2.DeltaDiscoveryRequest(
        type_url=CLUSTER, resource_names_subscribe=["a", "nope"]))
    first = stream.recv()
    assert names(first) == ["a"] and list(first.removed_resources) == ["nope"]
    stream.ack(first)

    server.set_resources(CLUSTER, {"b": cluster("b", 9)})  # not subscribed
    assert stream.no_response()
    server.set_resources(CLUSTER, {"nope": cluster("nope")})  # now exists
    assert names(stream.recv()) == ["nope"]

    stream.send(discovery_pb2.DeltaDiscoveryRequest(type_url=CLUSTER, resource_names_subscribe=["b"]))
    assert names(stream.recv()) == ["b"]
    stream.send(discovery_pb2.DeltaDiscoveryRequest(type_url=CLUSTER, resource_names_unsubscribe=["a"]))
    assert server.wait_until(lambda: server.streams()[0].requests_received == 4)
    server.set_resources(CLUSTER, {"a": cluster("a", 5)})
    assert stream.no_response()
    stream.close()


def test_two_streams_both_get_pushes(server: XdsServer, channel: grpc.Channel) -> None:
    one, two = RawStream(channel), RawStream(channel)
    for s in (one, two):
        s.send(discovery_pb2.DeltaDiscoveryRequest(type_url=CLUSTER))
        s.recv()
    server.set_resources(CLUSTER, {"x": cluster("x")})
    assert names(one.recv()) == ["x"] and names(two.recv()) == ["x"]
    one.close()
    assert server.wait_until(lambda: len(server.streams()) == 1)
    two.close()


def test_state_of_the_world_stream(server: XdsServer, channel: grpc.Channel) -> None:
    server.set_resources(CLUSTER, {"a": cluster("a")})
    stream = RawStream(channel, delta=False)
    stream.send(discovery_pb2.DiscoveryRequest(type_url=CLUSTER))
    first = stream.recv()
    assert len(first.resources) == 1
    stream.send(discovery_pb2.DiscoveryRequest(type_url=CLUSTER, version_info=first.version_info,
                                               response_nonce=first.nonce))
    assert server.wait_acked(CLUSTER)
    server.set_resources(CLUSTER, {"b": cluster("b")})
    second = stream.recv()
    assert len(second.resources) == 2 and second.version_info != first.version_info
    stream.close()


def first_push_names(channel: grpc.Channel) -> list[str]:
    """Open a delta stream for clusters and return the names in the server's first push."""
    stream = RawStream(channel)
    stream.send(discovery_pb2.DeltaDiscoveryRequest(type_url=CLUSTER))
    try:
        return names(stream.recv())
    finally:
        stream.close()


def test_unix_socket_listener(tmp_path: Path) -> None:
    sock = tmp_path / "xds.sock"
    srv = XdsServer()
    srv.add_listener(f"unix:{sock}")
    with srv:
        srv.set_resources(CLUSTER, {"a": cluster("a")})
        with grpc.insecure_channel(f"unix:{sock}") as ch:
            assert first_push_names(ch) == ["a"]
    assert not sock.exists()


def test_authenticator_refuses_stream_without_token() -> None:
    srv = XdsServer(authenticate=lambda md: None if md.get("authorization") == "Bearer t"
                    else "missing bearer token")
    address = srv.add_listener("127.0.0.1:0")
    with srv, grpc.insecure_channel(address) as ch:
        with pytest.raises(grpc.RpcError) as err:
            first_push_names(ch)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def make_self_signed(directory: Path) -> tuple[Path, Path]:
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return key, cert


def test_tls_listener(tmp_path: Path) -> None:
    key, cert = make_self_signed(tmp_path)
    srv = XdsServer()
    address = srv.add_listener("127.0.0.1:0", TlsFiles(cert_chain=cert, private_key=key))
    with srv:
        srv.set_resources(CLUSTER, {"a": cluster("a")})
        port = address.rsplit(":", 1)[1]
        creds = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        with grpc.secure_channel(f"localhost:{port}", creds) as ch:
            assert first_push_names(ch) == ["a"]


def test_wrong_message_type_is_refused(server: XdsServer) -> None:
    with pytest.raises(ValueError, match="given for type"):
        server.set_resources("type.googleapis.com/istio.workload.Address", {"a": cluster("a")})


# The busiest pinging of an idle stream a gRPC client does: a keepalive ping every second
# (its floor) and no cap on pings between data frames.
EAGER_PINGS = [("grpc.keepalive_time_ms", 1000), ("grpc.keepalive_timeout_ms", 5000),
               ("grpc.keepalive_permit_without_calls", 1), ("grpc.http2.max_pings_without_data", 0)]


def idle_stream_outcome(server: XdsServer, seconds: float) -> Optional[grpc.RpcError]:
    """Open a delta stream with EAGER_PINGS, ACK the first response, then wait idle:
    None if the stream was still open after ``seconds``, else the error that ended it."""
    with grpc.insecure_channel(server.addresses[0], options=EAGER_PINGS) as ch:
        stream = RawStream(ch)
        try:
            stream.send(discovery_pb2.DeltaDiscoveryRequest(type_url=CLUSTER, resource_names_subscribe=["*"]))
            stream.ack(stream.recv())
            stream.recv(timeout=seconds)  # nothing is pushed: only the stream's end can arrive
            raise AssertionError("unexpected response on an idle stream")
        except queue.Empty:
            assert [s.open for s in server.streams()] == [True]
            return None
        except grpc.RpcError as err:
            return err
        finally:
            stream.close()


def test_an_idle_stream_is_kept_for_a_client_pinging_every_second(server: XdsServer) -> None:
    """Issue 10 item 11: the agent pings every 30 s; the sandbox's stream was reset with
    "too many pings". Here a client pings 30 times as often and keeps its stream."""
    assert idle_stream_outcome(server, 5.5) is None  # the default policy cuts it at about 4 s
    assert server.streams(include_closed=True)[-1].replies[-1].acked


def test_grpc_s_default_ping_policy_would_cut_that_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    """The control: the same client against gRPC's default server policy is cut, so the
    test above really exercises the pings."""
    from kmeshctl.xds import server as server_module

    monkeypatch.setattr(server_module, "PING_POLICY", ())
    default_policy = XdsServer()
    default_policy.add_listener("127.0.0.1:0")
    with default_policy:
        error = idle_stream_outcome(default_policy, 8.0)  # returns when cut, about 4 s
    assert error is not None and error.code() == grpc.StatusCode.UNAVAILABLE
    assert "too many pings" in error.details().lower()


def test_ping_policy_fits_the_agent_s_keepalive() -> None:
    from kmeshctl.xds import KEEPALIVE_TIME_MS
    from kmeshctl.xds.server import MIN_PING_INTERVAL_MS, PING_POLICY

    policy = dict(PING_POLICY)
    assert policy["grpc.keepalive_permit_without_calls"] == 1
    assert policy["grpc.http2.min_ping_interval_without_data_ms"] == MIN_PING_INTERVAL_MS
    assert MIN_PING_INTERVAL_MS <= min(1000, KEEPALIVE_TIME_MS) // 2  # below any client's floor, with margin
