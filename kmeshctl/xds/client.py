"""The node agent's delta ADS client (istiod / ASM workload xDS).

One stream, wildcard subscriptions to workload Addresses and Authorizations. Every
response is checked resource by resource: valid resources are converted once into
``kmeshctl.node.model`` objects (``kmeshctl.xds.convert``) and go into the cache (and on to
the sink, which writes the maps), invalid ones are refused with a NACK whose
``error_detail`` names each one and the problem, and the last good version of each
refused resource stays in place. The stream reconnects with exponential backoff and
jitter, telling the server which versions it holds (``initial_resource_versions``).
"""

from __future__ import annotations

import ctypes
import gc
import logging
import queue
import random
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional, Protocol

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import struct_pb2
from google.protobuf.message import DecodeError
from google.rpc import status_pb2

from kmeshctl.backoff import jittered
from kmeshctl.bounded import DETAIL_LIMIT, clip, join_bounded
from kmeshctl.node.workload_cache import CacheDelta, WorkloadCache
from kmeshctl.xds import (AUTHORIZATION_TYPE, KEEPALIVE_TIME_MS, KEEPALIVE_TIMEOUT_MS,
                          WORKLOAD_ADDRESS_TYPE)
from kmeshctl.xds import convert, wire
from kmeshctl.xds.protos import authorization_pb2, workload_pb2
from kmeshctl.xds.validation import (MAX_PORTS, address_problems, authorization_problems,
                                     excess_ports, service_key)

log = logging.getLogger("kmeshctl.xds.client")

SUBSCRIBED_TYPES = (WORKLOAD_ADDRESS_TYPE, AUTHORIZATION_TYPE)
DEFAULT_ROOT_CERT = Path("/var/run/secrets/istio/root-cert.pem")
DEFAULT_TOKEN = Path("/var/run/secrets/tokens/istio-token")
_INVALID_ARGUMENT = 3
_MAX_MESSAGE_BYTES = 512 * 1024 * 1024
_TRIM_AFTER_RESOURCES = 10_000  # responses this big free enough to be worth a malloc_trim
_DELTA_ADS_METHOD = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources"

class SinkReport(Protocol):
    """What a sink could not apply (``kmeshctl.node.mapsync.SyncResult``)."""

    def problems_for(self, names: Iterable[str]) -> list[str]: ...


# Applies a delta to the data path; may report what it could not apply (NACKed).
Sink = Callable[[CacheDelta], Optional[SinkReport]]


@dataclass(frozen=True)
class Identity:
    """Who the agent is, as istiod sees it (from the DaemonSet's env)."""

    instance_ip: str
    pod_name: str
    pod_namespace: str
    cluster_id: str = "Kubernetes"
    node_name: str = ""
    service_account: str = ""

    def node_id(self) -> str:
        ns = self.pod_namespace
        return f"ztunnel~{self.instance_ip}~{self.pod_name}.{ns}~{ns}.svc.cluster.local"

    def node(self) -> base_pb2.Node:
        metadata = struct_pb2.Struct()
        metadata.update({"NAMESPACE": self.pod_namespace, "CLUSTER_ID": self.cluster_id,
                         "INSTANCE_IPS": self.instance_ip, "NODE_NAME": self.node_name,
                         "SERVICE_ACCOUNT": self.service_account})
        return base_pb2.Node(id=self.node_id(), cluster=self.cluster_id, metadata=metadata)


@dataclass(frozen=True)
class ClientConfig:
    address: str
    identity: Identity
    insecure: bool = False
    root_cert: Path = DEFAULT_ROOT_CERT
    token_path: Optional[Path] = DEFAULT_TOKEN
    tls_server_name: Optional[str] = None
    backoff_initial: float = 1.0
    backoff_max: float = 30.0


@dataclass
class ClientStats:
    """Counters the metrics module exports."""

    connected: bool = False
    responses: dict[str, int] = field(default_factory=dict)
    acks: dict[str, int] = field(default_factory=dict)
    nacks: dict[str, int] = field(default_factory=dict)
    reconnects: int = 0
    ports_truncated: int = 0  # accepted Service versions with more than MAX_PORTS ports
    waypoint_pending: int = 0  # resources held until their waypoint hostname is known
    last_error: str = ""
    apply_seconds: dict[str, float] = field(default_factory=dict)  # per type URL, the last response


def _hint_for(reason: str, cluster_id: str) -> str:
    """What to check for a failure istiod explains only in its own log."""
    if reason.startswith("UNAUTHENTICATED"):
        return (f"; istiod refused the token or the cluster id: check that CLUSTER_ID {cluster_id!r} "
                "(install --cluster-id) is istiod's own and the token has audience istio-ca")
    return ""


def connection_status(address: str, stats: Optional[ClientStats], synced: bool) -> dict:
    """The admin endpoint's `/debug/xds` document: ``{address, connected, synced, responses,
    acks, nacks (total), nacksByType, reconnects, lastError, lastApplySeconds}``; counts are
    per type URL, and so is ``lastApplySeconds``: the wall time the last response of that
    type took from receipt to its ACK (checks, cache, BPF maps)."""
    stats = stats or ClientStats()
    return {"address": address, "connected": stats.connected, "synced": synced,
            "responses": dict(stats.responses), "acks": dict(stats.acks),
            "nacks": sum(stats.nacks.values()), "nacksByType": dict(stats.nacks),
            "reconnects": stats.reconnects, "lastError": stats.last_error,
            "lastApplySeconds": {t: round(s, 4) for t, s in stats.apply_seconds.items()}}


@dataclass
class _Checked:
    """A response split into what is accepted and what is refused."""

    upserts: dict[str, object] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # (name, version, Address) whose waypoint hostname was unknown when they were read:
    # the service may come later in the same response
    deferred: list[tuple[str, str, object]] = field(default_factory=list)


def next_backoff(attempt: int, initial: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait before reconnect ``attempt`` (0: the stream just ended after
    working): a random point in the upper half of initial*2^(attempt+1), never below
    initial nor above cap (1..2 s, 2..4 s, 4..8 s ... 15..30 s with the defaults). Even
    the first wait is jittered: when istiod restarts, every agent loses its stream at
    the same moment, and a fixed first delay would bring them all back at once."""
    return max(initial, jittered(attempt + 1, initial, cap, rand))


class XdsClient:
    """Runs the stream in a background thread; ``synced`` is set once the first
    Address response is in the cache and has gone through the sink."""

    def __init__(self, config: ClientConfig, cache: WorkloadCache, sink: Sink,
                 rand: Callable[[], float] = random.random,
                 wait: Optional[Callable[[float], object]] = None) -> None:
        """``rand`` (jitter) and ``wait`` (sleeps between attempts; default: wakes up
        early on stop) can be replaced, so tests see the backoff without sleeping it."""
        self.config = config
        self.cache = cache
        self.sink = sink
        self.stats = ClientStats()
        self.synced = threading.Event()
        self.held: dict[str, dict[str, str]] = {t: {} for t in SUBSCRIBED_TYPES}
        self._stop = threading.Event()
        self._rand = rand
        self._wait = wait or self._stop.wait
        self._call: Optional[grpc.Future] = None
        self._thread: Optional[threading.Thread] = None
        self._on_event: list[Callable[[str, dict], None]] = []
        # Resources held (ACKed, not applied) only because their waypoint hostname is
        # unknown: applied as soon as that service arrives (the server will not resend them).
        self._awaiting_waypoint: dict[str, tuple[str, workload_pb2.Address]] = {}

    def on_event(self, callback: Callable[[str, dict], None]) -> None:
        """Register ``callback(event, details)`` for connect/disconnect/ack/nack."""
        self._on_event.append(callback)

    def _emit(self, event: str, **details: object) -> None:
        for callback in self._on_event:
            try:
                callback(event, details)
            except Exception:  # noqa: BLE001 - an observer must not break the stream
                log.exception("event callback failed")

    # ----- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="xds-client", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        call = self._call
        if call is not None:
            call.cancel()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            got_response = self._stream_once()
            if self._stop.is_set():
                break
            if got_response:
                attempt = 0  # a stream that worked starts the backoff series again
            delay = next_backoff(attempt, self.config.backoff_initial, self.config.backoff_max, self._rand)
            attempt += 1
            self.stats.reconnects += 1
            log.info("event=xds_reconnect_wait seconds=%.2f attempt=%d address=%s", delay, attempt,
                     self.config.address)
            self._wait(delay)

    # ----- one stream -------------------------------------------------------------------

    def _stream_once(self) -> bool:
        """Open one stream and serve it until it ends; True if a response arrived."""
        got_response = False
        requests: "queue.SimpleQueue[Optional[discovery_pb2.DeltaDiscoveryRequest]]" = queue.SimpleQueue()
        try:
            channel = self._channel()
        except OSError as err:
            self._note_failure(f"cannot read TLS/token files: {err}")
            return False
        with channel:
            try:
                # Responses are parsed resource by resource (wire.DeltaResponse), not whole.
                delta_ads = channel.stream_stream(
                    _DELTA_ADS_METHOD, request_serializer=discovery_pb2.DeltaDiscoveryRequest.SerializeToString,
                    response_deserializer=wire.deserialize)
                for request in self._initial_requests():
                    requests.put(request)
                self._call = delta_ads(_drain(requests), metadata=self._metadata())
                for response in self._call:
                    if not got_response:
                        got_response = True
                        self._set_connected(True)
                    requests.put(self._handle(response))
            except grpc.RpcError as err:
                if not self._stop.is_set():
                    self._note_failure(f"{err.code().name}: {err.details()}")
            except OSError as err:
                self._note_failure(f"cannot read token: {err}")
            finally:
                requests.put(None)
                self._call = None
                self._set_connected(False)
        return got_response

    def _note_failure(self, reason: str) -> None:
        reason = clip(reason, DETAIL_LIMIT) + _hint_for(reason, self.config.identity.cluster_id)
        self.stats.last_error = reason
        log.warning("event=xds_stream_error address=%s error=%r", self.config.address, reason)

    def _set_connected(self, connected: bool) -> None:
        if self.stats.connected != connected:
            self.stats.connected = connected
            log.info("event=%s address=%s", "xds_connected" if connected else "xds_disconnected",
                     self.config.address)
            self._emit("connected" if connected else "disconnected")

    def _channel(self) -> grpc.Channel:
        options = [("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
                   ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
                   ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS)]
        if self.config.insecure:
            return grpc.insecure_channel(self.config.address, options=options)
        if self.config.tls_server_name:
            options.append(("grpc.ssl_target_name_override", self.config.tls_server_name))
        creds = grpc.ssl_channel_credentials(root_certificates=Path(self.config.root_cert).read_bytes())
        return grpc.secure_channel(self.config.address, creds, options=options)

    def _metadata(self) -> list[tuple[str, str]]:
        metadata = [("clusterid", self.config.identity.cluster_id)]
        token_path = self.config.token_path
        if token_path is not None and (not self.config.insecure or Path(token_path).exists()):
            # Projected tokens rotate: read the file at every (re)connect.
            metadata.append(("authorization", f"Bearer {Path(token_path).read_text().strip()}"))
        return metadata

    def _initial_requests(self) -> list[discovery_pb2.DeltaDiscoveryRequest]:
        requests = []
        for i, type_url in enumerate(SUBSCRIBED_TYPES):
            request = discovery_pb2.DeltaDiscoveryRequest(
                type_url=type_url, resource_names_subscribe=["*"],
                initial_resource_versions=self.held[type_url])
            if i == 0:
                request.node.CopyFrom(self.config.identity.node())
            requests.append(request)
        return requests

    # ----- responses --------------------------------------------------------------------

    def _handle(self, response: wire.DeltaResponse | discovery_pb2.DeltaDiscoveryResponse
                ) -> discovery_pb2.DeltaDiscoveryRequest:
        """Apply one response and return its ACK or NACK; never raises."""
        response = wire.DeltaResponse.of(response)
        type_url = response.type_url
        self.stats.responses[type_url] = self.stats.responses.get(type_url, 0) + 1
        started = time.monotonic()
        try:
            with _collector_paused():
                problems = self._apply(response)
        except Exception as err:  # noqa: BLE001 - a malformed push must not kill the agent
            log.exception("event=xds_apply_failed type=%s nonce=%s", clip(type_url), clip(response.nonce))
            problems = [f"internal error applying the response: {clip(str(err))}"]
        self.stats.apply_seconds[type_url] = time.monotonic() - started
        if response.resource_count >= _TRIM_AFTER_RESOURCES:
            _return_freed_memory()
        return self._reply(response, problems)

    def _reply(self, response: wire.DeltaResponse,
               problems: list[str]) -> discovery_pb2.DeltaDiscoveryRequest:
        type_url, nonce = response.type_url, response.nonce
        request = discovery_pb2.DeltaDiscoveryRequest(type_url=type_url, response_nonce=nonce)
        if problems:
            detail = join_bounded(problems)
            request.error_detail.CopyFrom(status_pb2.Status(code=_INVALID_ARGUMENT, message=detail))
            self.stats.nacks[type_url] = self.stats.nacks.get(type_url, 0) + 1
            log.warning("event=xds_nack type=%s nonce=%s detail=%r", clip(type_url), clip(nonce), detail)
            self._emit("nack", type_url=type_url, nonce=nonce, detail=detail)
        else:
            self.stats.acks[type_url] = self.stats.acks.get(type_url, 0) + 1
            log.info("event=xds_ack type=%s nonce=%s resources=%d removed=%d", clip(type_url), clip(nonce),
                     response.resource_count, len(response.removed_resources))
            self._emit("ack", type_url=type_url, nonce=nonce)
        return request

    def _apply(self, response: wire.DeltaResponse) -> list[str]:
        type_url = response.type_url
        if type_url == WORKLOAD_ADDRESS_TYPE:
            checked = _Checked(removed=list(response.removed_resources))
            # the first sync is reconciled whole: its per-resource changes are not kept
            delta = self.cache.apply_addresses(self._valid_addresses(response, checked), checked.removed,
                                               track=self.synced.is_set())
            response.release()  # in the cache now: the maps are planned without the response
            delta.merge(self._settle_waypoints(checked))
            self.stats.waypoint_pending = len(self._awaiting_waypoint)
        elif type_url == AUTHORIZATION_TYPE:
            checked = self._check_authorizations(response)
            response.release()
            delta = self.cache.apply_authorizations(checked.upserts, checked.removed)
        else:
            return [f"unexpected type {clip(type_url)} (subscribed to Address and Authorization only)"]
        held = self.held[type_url]
        for name in checked.removed:
            held.pop(name, None)
        held.update(checked.versions)
        accepted = list(checked.versions)
        checked.versions.clear()  # 100,000 entries on a first sync: gone before the maps are built
        first_sync = type_url == WORKLOAD_ADDRESS_TYPE and not self.synced.is_set()
        if delta or first_sync:  # the first sync goes to the sink even when empty (an empty mesh)
            report = self.sink(delta)
            if report is not None:
                # Kept in the cache (and the version held): the sink writes them as soon
                # as it can; the NACK tells istiod's operators they are not in effect.
                checked.problems += report.problems_for(accepted)
        if first_sync:
            self.synced.set()
            log.info("event=xds_first_sync services=%d workloads=%d",
                     len(self.cache.services), len(self.cache.workloads))
        return checked.problems

    def _decode(self, resource: discovery_pb2.Resource, message_type: type) -> object:
        expected = f"type.googleapis.com/{message_type.DESCRIPTOR.full_name}"
        if resource.resource.type_url != expected:
            raise DecodeError(f"carries {resource.resource.type_url or 'nothing'}, want {expected}")
        message = message_type()
        message.ParseFromString(resource.resource.value)
        return message

    def _valid_addresses(self, response: wire.DeltaResponse,
                         checked: _Checked) -> Iterator[tuple[str, convert.AddressModel]]:
        """Decode and check one resource at a time, yielding the valid ones; problems and
        versions go into ``checked``. One at a time: a big sync never holds every parsed
        message at once. A waypoint hostname resolves against the cache as it fills (the
        response's removals are already applied, its services up to this one added);
        what names a service not seen yet is deferred (``checked.deferred``)."""
        services = self.cache.services
        resolves = lambda ns, host: service_key(ns, host) in services  # noqa: E731
        for name in checked.removed:
            self._awaiting_waypoint.pop(name, None)
        for resource in response.resources:
            name = resource.name
            self._awaiting_waypoint.pop(name, None)  # superseded by this version
            try:
                address = self._decode(resource, workload_pb2.Address)
            except DecodeError as err:
                checked.problems.append(f"{clip(name)}: cannot decode: {clip(str(err))}")
                continue
            problems = address_problems(name, address, resolves)
            if problems and not address_problems(name, address, lambda ns, host: True):
                # Only its waypoint's hostname is unknown: istiod often sends a Service
                # before its waypoint's. Not an error: applied when the name resolves.
                checked.deferred.append((name, resource.version, address))
                continue
            if problems:
                checked.problems.append(f"{clip(name)}: {join_bounded(problems, ', ')}")
                continue
            checked.versions[name] = resource.version
            self._note_accepted(name, address)
            yield name, convert.address_of(address, name)

    def _settle_waypoints(self, checked: _Checked) -> CacheDelta:
        """Apply what waits for a waypoint that is known now: the deferred resources whose
        waypoint came later in the same response, and those held from earlier responses.
        The rest is held until it arrives: its version is ACKed (a reconnect does not ask
        for it again), and its previous version, if any, stays applied meanwhile."""
        deferred = [name for name, _, _ in checked.deferred]
        for name, version, address in checked.deferred:
            self._awaiting_waypoint[name] = (version, address)
            checked.versions[name] = version
        delta = self._apply_awaiting_waypoint(checked, quiet=set(deferred))
        for name in deferred:
            if name in self._awaiting_waypoint:
                log.info("event=xds_waypoint_pending resource=%s", clip(name))
        return delta

    def _note_accepted(self, name: str, address: workload_pb2.Address) -> None:
        """Warn about (and count) what is accepted but not mapped whole. Called once per
        accepted version: the server sends a resource again only when it changed."""
        if address.WhichOneof("type") != "service":
            return
        excess = excess_ports(address.service)
        if excess:
            self.stats.ports_truncated += 1
            log.warning("event=service_ports_truncated service=%s ports=%d kept=%d dropped=%d",
                        clip(name), len(address.service.ports), MAX_PORTS, excess)

    def _apply_awaiting_waypoint(self, checked: _Checked, quiet: set[str] = frozenset()) -> CacheDelta:
        """Apply held resources whose waypoint service is now known (``quiet``: names
        that were never reported held, so are not reported resolved)."""
        resolves = lambda ns, host: service_key(ns, host) in self.cache.services  # noqa: E731
        delta = CacheDelta()
        while True:  # a service applied here may be the waypoint another one waits for
            ready = {name: entry for name, entry in self._awaiting_waypoint.items()
                     if not address_problems(name, entry[1], resolves)}
            if not ready:
                return delta
            for name, (version, address) in ready.items():
                del self._awaiting_waypoint[name]
                checked.versions[name] = version
                if name not in quiet:
                    log.info("event=xds_waypoint_resolved resource=%s", clip(name))
                self._note_accepted(name, address)
            delta.merge(self.cache.apply_addresses(
                {n: convert.address_of(a, n) for n, (_, a) in ready.items()}, []))

    def _check_authorizations(self, response: wire.DeltaResponse) -> _Checked:
        checked = _Checked(removed=list(response.removed_resources))
        for resource in response.resources:
            try:
                policy = self._decode(resource, authorization_pb2.Authorization)
            except DecodeError as err:
                checked.problems.append(f"{clip(resource.name)}: cannot decode: {clip(str(err))}")
                continue
            problems = authorization_problems(resource.name, policy)
            if problems:
                checked.problems.append(f"{clip(resource.name)}: {join_bounded(problems, ', ')}")
            else:
                checked.upserts[resource.name] = convert.policy_of(policy)
                checked.versions[resource.name] = resource.version
        return checked


def _return_freed_memory() -> None:
    """Give the heap memory a big response freed back to the kernel (glibc keeps it for
    reuse otherwise: about 30 MiB after a 100,000-resource first sync). The resident set
    the node shows drops; the peak does not. A no-op where libc has no malloc_trim."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (AttributeError, OSError):
        pass


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a response is applied. A first sync
    makes about a million objects and keeps nearly all of them (cache, maps mirror); the
    collector would walk them again and again while they are being made, a quarter of
    the apply's time (benchmarks/controlplane/profile_sync.py). Reference counting still
    frees everything else at once; a cycle made meanwhile is collected afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _drain(requests: "queue.SimpleQueue[Optional[discovery_pb2.DeltaDiscoveryRequest]]") -> Iterator:
    while (request := requests.get()) is not None:
        yield request
