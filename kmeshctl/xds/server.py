"""An aggregated discovery service (ADS) server: incremental (delta) and
state-of-the-world (SotW) streams over one resource store.

The store maps type URL -> resource name -> (version, Any). A resource's version is a
hash of its serialized content, so a restarted server holding the same resources
reports the same versions and a reconnecting client that sends
``initial_resource_versions`` receives only what really differs.

Changing the store pushes exactly the difference to every stream watching that type:
delta streams get the changed resources plus ``removed_resources``; SotW streams get
the full set of the type they watch. Every ACK/NACK a client sends is recorded per
stream (nonce, error detail) so callers can wait for and assert on them.

Thread-safe: ``set_resources``/``remove_resources`` may be called from any thread.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import queue
import stat
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Optional, Union

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from google.protobuf import any_pb2
from google.protobuf.message import Message

from kmeshctl.bounded import DETAIL_LIMIT, clip

log = logging.getLogger("kmeshctl.xds.server")

WILDCARD = "*"
_MAX_MESSAGE_BYTES = 512 * 1024 * 1024
# Clients ping an idle stream: the agent every KEEPALIVE_TIME_MS (30 s, kmeshctl.xds),
# Envoy and others as they are configured, and gRPC clients never more often than once a
# second. gRPC's default server policy (one ping per 5 minutes without data, and a GOAWAY
# "too_many_pings" at the third early one) cut such a stream every few minutes. Accepted
# here: pings at least 500 ms apart, with or without an open call; a peer pinging faster
# than that is misbehaving and is cut at its third early ping, as gRPC does by default.
MIN_PING_INTERVAL_MS = 500
PING_POLICY = (("grpc.keepalive_permit_without_calls", 1),
               ("grpc.http2.min_ping_interval_without_data_ms", MIN_PING_INTERVAL_MS),
               ("grpc.http2.max_ping_strikes", 2))
DiscoveryRequestMessage = Union[discovery_pb2.DiscoveryRequest, discovery_pb2.DeltaDiscoveryRequest]

# authenticate(metadata) returns None to accept the stream, or the reason to refuse it.
Authenticator = Callable[[dict[str, str]], Optional[str]]


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for a TLS listener; ``client_ca`` set means client certs are required."""

    cert_chain: Path
    private_key: Path
    client_ca: Optional[Path] = None

    def credentials(self) -> grpc.ServerCredentials:
        ca = Path(self.client_ca).read_bytes() if self.client_ca else None
        pair = (Path(self.private_key).read_bytes(), Path(self.cert_chain).read_bytes())
        return grpc.ssl_server_credentials([pair], root_certificates=ca,
                                           require_client_auth=ca is not None)


@dataclass(frozen=True)
class Reply:
    """One ACK (``acked``) or NACK a client sent for a response nonce."""

    type_url: str
    nonce: str
    acked: bool
    error_code: int = 0
    error_message: str = ""
    at: float = 0.0


@dataclass
class StreamInfo:
    """What is known about one client stream (read-only for callers)."""

    id: int
    kind: str  # "delta" | "sotw"
    peer: str
    metadata: dict[str, str]
    node: Optional[base_pb2.Node] = None
    replies: list[Reply] = field(default_factory=list)
    last_nonce: dict[str, str] = field(default_factory=dict)  # type URL -> last sent nonce
    responses_sent: int = 0
    requests_received: int = 0
    open: bool = True
    opened_at: float = field(default_factory=time.time)
    # Delta: what the client said it held when the stream opened, per type URL.
    initial_versions: dict[str, dict[str, str]] = field(default_factory=dict)

    def acks(self, type_url: Optional[str] = None) -> list[Reply]:
        return [r for r in self.replies if r.acked and type_url in (None, r.type_url)]

    def nacks(self, type_url: Optional[str] = None) -> list[Reply]:
        return [r for r in self.replies if not r.acked and type_url in (None, r.type_url)]

    def replied_to_last(self, type_url: str) -> Optional[Reply]:
        """The client's reply to the latest response of ``type_url``, if it sent one."""
        nonce = self.last_nonce.get(type_url)
        for reply in reversed(self.replies):
            if reply.type_url == type_url and reply.nonce == nonce:
                return reply
        return None


@dataclass(frozen=True)
class _Stored:
    version: str
    resource: any_pb2.Any


@dataclass
class _DeltaSubscription:
    wildcard: bool = False
    names: set[str] = field(default_factory=set)
    held: dict[str, str] = field(default_factory=dict)  # name -> version the client holds
    told_absent: set[str] = field(default_factory=set)


@dataclass
class _SotwSubscription:
    names: set[str] = field(default_factory=set)

    @property
    def wildcard(self) -> bool:
        return not self.names or WILDCARD in self.names


class _Stream:
    """One open RPC: responses are queued here and yielded by the RPC's generator."""

    def __init__(self, info: StreamInfo) -> None:
        self.info = info
        self.outbox: "queue.SimpleQueue[Optional[Message]]" = queue.SimpleQueue()
        self.delta: dict[str, _DeltaSubscription] = {}
        self.sotw: dict[str, _SotwSubscription] = {}
        self._nonces = itertools.count(1)

    def next_nonce(self) -> str:
        return f"{self.info.id}-{next(self._nonces)}"

    def send(self, type_url: str, response: Message) -> None:
        self.info.last_nonce[type_url] = response.nonce
        self.info.responses_sent += 1
        self.outbox.put(response)

    def close(self) -> None:
        self.outbox.put(None)


def resource_version(resource: any_pb2.Any) -> str:
    """A content hash: equal resources have equal versions across server restarts."""
    digest = hashlib.blake2b(resource.SerializeToString(deterministic=True), digest_size=8)
    return digest.hexdigest()


def pack(type_url: str, message: Message) -> any_pb2.Any:
    if isinstance(message, any_pb2.Any):
        packed = message
    else:
        packed = any_pb2.Any()
        packed.Pack(message)
    if packed.type_url != type_url:
        raise ValueError(f"resource of type {packed.type_url} given for type {type_url}")
    return packed


class XdsServer:
    """ADS server. Add listeners, ``start()``, publish with ``set_resources``."""

    def __init__(self, *, max_streams: int = 64, authenticate: Optional[Authenticator] = None) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._store: dict[str, dict[str, _Stored]] = {}
        self._type_versions: dict[str, int] = {}
        self._streams: dict[int, _Stream] = {}
        self._closed_streams: list[StreamInfo] = []
        self._stream_ids = itertools.count(1)
        self._authenticate = authenticate
        self._unix_paths: list[Path] = []
        self.addresses: list[str] = []
        self._grpc = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_streams, thread_name_prefix="xds-stream"),
            maximum_concurrent_rpcs=max_streams,
            options=[("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
                     ("grpc.max_receive_message_length", 16 * 1024 * 1024), *PING_POLICY],
        )
        ads_pb2_grpc.add_AggregatedDiscoveryServiceServicer_to_server(_Servicer(self), self._grpc)

    # ----- lifecycle -------------------------------------------------------------------

    def add_listener(self, address: str, tls: Optional[TlsFiles] = None) -> str:
        """Listen on ``HOST:PORT`` (port 0 picks one) or ``unix:/path``; returns the
        address actually bound. Call before ``start()``."""
        if address.startswith("unix:"):
            self._prepare_unix_socket(Path(address[len("unix:"):]))
        creds = tls.credentials() if tls else None
        port = (self._grpc.add_secure_port(address, creds) if creds
                else self._grpc.add_insecure_port(address))
        bound = address if address.startswith("unix:") else _with_port(address, port)
        self.addresses.append(bound)
        return bound

    def _prepare_unix_socket(self, path: Path) -> None:
        if path.exists() and stat.S_ISSOCK(path.lstat().st_mode):
            path.unlink()  # a stale socket from a previous server
        path.parent.mkdir(parents=True, exist_ok=True)
        self._unix_paths.append(path)

    def start(self) -> None:
        self._grpc.start()
        log.info("xds server listening on %s", ", ".join(self.addresses))

    def stop(self, grace: float = 0.5) -> None:
        with self._lock:
            for stream in self._streams.values():
                stream.close()
        self._grpc.stop(grace).wait()
        for path in self._unix_paths:
            if path.exists():
                path.unlink()

    def __enter__(self) -> "XdsServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- publishing --------------------------------------------------------------------

    def set_resources(self, type_url: str, resources: Mapping[str, Message]) -> None:
        """Add or update resources; unchanged ones are not pushed again."""
        packed = {name: pack(type_url, msg) for name, msg in resources.items()}
        with self._lock:
            store = self._store.setdefault(type_url, {})
            changed = []
            for name, resource in packed.items():
                version = resource_version(resource)
                current = store.get(name)
                if current is None or current.version != version:
                    store[name] = _Stored(version, resource)
                    changed.append(name)
            self._publish(type_url, changed)

    def remove_resources(self, type_url: str, names: Iterable[str]) -> None:
        with self._lock:
            store = self._store.setdefault(type_url, {})
            removed = [name for name in names if store.pop(name, None) is not None]
            self._publish(type_url, removed)

    def replace_resources(self, type_url: str, resources: Mapping[str, Message]) -> None:
        """Make the set of ``type_url`` exactly ``resources``, in one push."""
        packed = {name: pack(type_url, msg) for name, msg in resources.items()}
        with self._lock:
            store = self._store.setdefault(type_url, {})
            changed = [name for name in store if name not in packed]
            for name in changed:
                del store[name]
            for name, resource in packed.items():
                version = resource_version(resource)
                if name not in store or store[name].version != version:
                    store[name] = _Stored(version, resource)
                    changed.append(name)
            self._publish(type_url, changed)

    def resources(self, type_url: str) -> dict[str, any_pb2.Any]:
        with self._lock:
            return {name: s.resource for name, s in self._store.get(type_url, {}).items()}

    def version(self, type_url: str, name: str) -> Optional[str]:
        with self._lock:
            stored = self._store.get(type_url, {}).get(name)
            return stored.version if stored else None

    def _publish(self, type_url: str, names: list[str]) -> None:
        if not names:
            return
        self._type_versions[type_url] = self._type_versions.get(type_url, 0) + 1
        for stream in self._streams.values():
            if type_url in stream.delta:
                self._push_delta(stream, type_url, names)
            if type_url in stream.sotw:
                self._push_sotw(stream, type_url)
        self._changed.notify_all()

    # ----- observation ------------------------------------------------------------------

    def streams(self, include_closed: bool = False) -> list[StreamInfo]:
        with self._lock:
            infos = [s.info for s in self._streams.values()]
            return infos + list(self._closed_streams) if include_closed else infos

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Wait until ``predicate()`` (evaluated under the server lock) is true."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.2))
            return True

    def wait_for_streams(self, count: int = 1, timeout: float = 10.0) -> bool:
        return self.wait_until(lambda: len(self._streams) >= count, timeout)

    def wait_acked(self, type_url: str, timeout: float = 10.0) -> bool:
        """True once every open stream watching ``type_url`` ACKed its latest response."""
        def all_acked() -> bool:
            watching = [s.info for s in self._streams.values() if type_url in s.info.last_nonce]
            if not watching:
                return False
            replies = [info.replied_to_last(type_url) for info in watching]
            return all(r is not None and r.acked for r in replies)
        return self.wait_until(all_acked, timeout)

    def wait_nacked(self, type_url: str, timeout: float = 10.0) -> Optional[Reply]:
        """The first NACK for the latest response of ``type_url`` on any stream."""
        found: list[Reply] = []

        def nacked() -> bool:
            for stream in self._streams.values():
                reply = stream.info.replied_to_last(type_url)
                if reply is not None and not reply.acked:
                    found.append(reply)
                    return True
            return False
        return found[0] if self.wait_until(nacked, timeout) else None

    # ----- stream handling (called by the servicer) -------------------------------------

    def _open_stream(self, kind: str, context: grpc.ServicerContext) -> _Stream:
        metadata = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        if self._authenticate is not None:
            refusal = self._authenticate(metadata)
            if refusal is not None:
                log.warning("refused %s stream from %s: %s", kind, context.peer(), refusal)
                context.abort(grpc.StatusCode.UNAUTHENTICATED, refusal)
        with self._lock:
            stream = _Stream(StreamInfo(next(self._stream_ids), kind, context.peer(), metadata))
            self._streams[stream.info.id] = stream
            self._changed.notify_all()
        log.info("%s stream %d opened from %s", kind, stream.info.id, context.peer())
        return stream

    def _close_stream(self, stream: _Stream) -> None:
        with self._lock:
            if self._streams.pop(stream.info.id, None) is not None:
                stream.info.open = False
                self._closed_streams.append(stream.info)
                del self._closed_streams[:-64]
                self._changed.notify_all()
        log.info("%s stream %d closed", stream.info.kind, stream.info.id)

    def _record_reply(self, stream: _Stream, type_url: str, nonce: str, error: object) -> None:
        code = getattr(error, "code", 0)
        message = getattr(error, "message", "")
        acked = code == 0 and not message
        stream.info.replies.append(Reply(type_url, nonce, acked, code, message, time.time()))
        del stream.info.replies[:-1000]
        if not acked:
            log.warning("stream %d NACK %s nonce %s: %s", stream.info.id, clip(type_url), clip(nonce),
                        clip(message, DETAIL_LIMIT))

    def _note_request(self, stream: _Stream, request: DiscoveryRequestMessage) -> None:
        """What every request tells, delta or state of the world: the node (first one
        wins) and, with a response nonce, the ACK or NACK of that response."""
        stream.info.requests_received += 1
        if request.HasField("node") and stream.info.node is None:
            stream.info.node = request.node
        if request.response_nonce:
            self._record_reply(stream, request.type_url, request.response_nonce, request.error_detail)

    def _on_delta_request(self, stream: _Stream, request: discovery_pb2.DeltaDiscoveryRequest) -> None:
        with self._lock:
            self._note_request(stream, request)
            sub = stream.delta.get(request.type_url)
            if sub is None:
                self._delta_first_request(stream, request)
            else:
                self._delta_resubscribe(stream, sub, request)
            self._changed.notify_all()

    def _delta_first_request(self, stream: _Stream, request: discovery_pb2.DeltaDiscoveryRequest) -> None:
        type_url = request.type_url
        subscribe = set(request.resource_names_subscribe)
        sub = _DeltaSubscription(wildcard=not subscribe or WILDCARD in subscribe,
                                 names=subscribe - {WILDCARD},
                                 held=dict(request.initial_resource_versions))
        stream.delta[type_url] = sub
        stream.info.initial_versions[type_url] = dict(request.initial_resource_versions)
        candidates = set(sub.held) | sub.names
        if sub.wildcard:
            candidates |= set(self._store.get(type_url, {}))
        self._push_delta(stream, type_url, sorted(candidates), always=True)

    def _delta_resubscribe(self, stream: _Stream, sub: _DeltaSubscription,
                           request: discovery_pb2.DeltaDiscoveryRequest) -> None:
        candidates: set[str] = set()
        for name in request.resource_names_unsubscribe:
            if name == WILDCARD:
                sub.wildcard = False
            else:
                sub.names.discard(name)
                sub.told_absent.discard(name)
            if not sub.wildcard and name not in sub.names:
                sub.held.pop(name, None)
        for name in request.resource_names_subscribe:
            if name == WILDCARD:
                if not sub.wildcard:
                    sub.wildcard = True
                    candidates |= set(self._store.get(request.type_url, {}))
            else:
                sub.names.add(name)
                candidates.add(name)
        if candidates:
            self._push_delta(stream, request.type_url, sorted(candidates))

    def _push_delta(self, stream: _Stream, type_url: str, names: Iterable[str], always: bool = False) -> None:
        sub = stream.delta[type_url]
        store = self._store.get(type_url, {})
        updates: list[discovery_pb2.Resource] = []
        removed: list[str] = []
        for name in names:
            stored = store.get(name)
            if stored is not None:
                if (sub.wildcard or name in sub.names) and sub.held.get(name) != stored.version:
                    updates.append(discovery_pb2.Resource(name=name, version=stored.version,
                                                          resource=stored.resource))
                    sub.held[name] = stored.version
                    sub.told_absent.discard(name)
            elif name in sub.held:
                del sub.held[name]
                removed.append(name)
                if name in sub.names:
                    sub.told_absent.add(name)
            elif name in sub.names and name not in sub.told_absent:
                removed.append(name)  # tells an explicit subscriber the resource does not exist
                sub.told_absent.add(name)
        if not (updates or removed or always):
            return
        response = discovery_pb2.DeltaDiscoveryResponse(
            system_version_info=str(self._type_versions.get(type_url, 0)), type_url=type_url,
            resources=updates, removed_resources=removed, nonce=stream.next_nonce())
        stream.send(type_url, response)

    def _on_sotw_request(self, stream: _Stream, request: discovery_pb2.DiscoveryRequest) -> None:
        with self._lock:
            self._note_request(stream, request)
            type_url = request.type_url
            names = set(request.resource_names)
            sub = stream.sotw.get(type_url)
            if sub is None or sub.names != names:
                stream.sotw[type_url] = _SotwSubscription(names)
                self._push_sotw(stream, type_url)
            self._changed.notify_all()

    def _push_sotw(self, stream: _Stream, type_url: str) -> None:
        sub = stream.sotw[type_url]
        store = self._store.get(type_url, {})
        names = sorted(store) if sub.wildcard else sorted(n for n in sub.names if n in store)
        response = discovery_pb2.DiscoveryResponse(
            version_info=str(self._type_versions.get(type_url, 0)), type_url=type_url,
            resources=[store[n].resource for n in names], nonce=stream.next_nonce())
        stream.send(type_url, response)


class _Servicer(ads_pb2_grpc.AggregatedDiscoveryServiceServicer):
    def __init__(self, server: XdsServer) -> None:
        self._server = server

    def DeltaAggregatedResources(self, request_iterator: Iterator, context: grpc.ServicerContext) -> Iterator:
        stream = self._server._open_stream("delta", context)
        return self._serve(stream, request_iterator, context, self._server._on_delta_request)

    def StreamAggregatedResources(self, request_iterator: Iterator, context: grpc.ServicerContext) -> Iterator:
        stream = self._server._open_stream("sotw", context)
        return self._serve(stream, request_iterator, context, self._server._on_sotw_request)

    def _serve(self, stream: _Stream, requests: Iterator, context: grpc.ServicerContext,
               handle: Callable[[_Stream, Message], None]) -> Iterator:
        context.add_callback(stream.close)
        reader = threading.Thread(target=self._read, args=(stream, requests, handle),
                                  name=f"xds-read-{stream.info.id}", daemon=True)
        reader.start()
        try:
            while True:
                response = stream.outbox.get()
                if response is None:
                    return
                yield response
        finally:
            self._server._close_stream(stream)

    def _read(self, stream: _Stream, requests: Iterator, handle: Callable[[_Stream, Message], None]) -> None:
        try:
            for request in requests:
                handle(stream, request)
        except grpc.RpcError:
            pass  # the client went away or the server is stopping
        except Exception:  # noqa: BLE001 - a bad request must not kill the server
            log.exception("stream %d: error handling a request", stream.info.id)
        finally:
            stream.close()


def _with_port(address: str, port: int) -> str:
    host = address.rsplit(":", 1)[0]
    return f"{host}:{port}"
