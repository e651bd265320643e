"""Prometheus metrics of the node agent, served at ``/status/metric``.

Values are read from the agent's live state at scrape time (a custom collector), so
nothing has to remember to bump a gauge.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from kmeshctl.httpserve import BackgroundHttpServer, send_body
from kmeshctl.xds.client import SUBSCRIBED_TYPES, ClientStats

log = logging.getLogger("kmeshctl.metrics")

METRICS_PATH = "/status/metric"


@dataclass
class MetricSources:
    client_stats: Callable[[], ClientStats]
    cache_counts: Callable[[], dict[str, int]]
    map_usage: Callable[[], dict[str, tuple[int, int]]]  # map -> (entries, capacity)
    enrolled_pods: Callable[[], int]
    map_write_errors: Callable[[], int]
    last_sync_seconds: Callable[[], float]
    # resources in the cache that are not in the maps (a full map), and how often that
    # happened; both 0 for a source that cannot tell
    unapplied_resources: Callable[[], int] = lambda: 0
    unapplied_total: Callable[[], int] = lambda: 0
    cidr_vips_unmapped: Callable[[], int] = lambda: 0  # Service range VIPs with no frontend
    # inbound L4 authorization: (policy, verdict, dry_run, connections) from the kernel's
    # counters; workloads failing closed; workloads waiting for a policy; netns link failures
    authz_connections: Callable[[], list[tuple[str, str, bool, int]]] = lambda: []
    authz_unenforceable: Callable[[], int] = lambda: 0
    authz_pending: Callable[[], int] = lambda: 0
    authz_link_failures: Callable[[], int] = lambda: 0


def _short_type(type_url: str) -> str:
    return type_url.rsplit("/", 1)[-1]


class AgentCollector:
    def __init__(self, sources: MetricSources) -> None:
        self.sources = sources

    def collect(self) -> Iterator:
        stats = self.sources.client_stats()
        yield GaugeMetricFamily("kmesh_xds_connected", "1 while the xDS stream is up",
                                value=1 if stats.connected else 0)
        yield self._per_type(CounterMetricFamily("kmesh_xds_pushes", "xDS responses received",
                                                 labels=["type"]), stats.responses)
        yield self._per_type(CounterMetricFamily("kmesh_xds_acks", "xDS responses ACKed",
                                                 labels=["type"]), stats.acks)
        yield self._per_type(CounterMetricFamily("kmesh_xds_nacks", "xDS responses NACKed",
                                                 labels=["type"]), stats.nacks)
        yield CounterMetricFamily("kmesh_xds_reconnects", "xDS stream reconnects", value=stats.reconnects)
        yield CounterMetricFamily("kmesh_xds_service_ports_truncated",
                                  "accepted Service versions with more ports than the map holds "
                                  "(the first 10 are kept)", value=stats.ports_truncated)
        resources = GaugeMetricFamily("kmesh_xds_resources", "resources held, by kind", labels=["kind"])
        for kind, count in self.sources.cache_counts().items():
            resources.add_metric([kind], count)
        yield resources
        yield from self._maps()
        yield GaugeMetricFamily("kmesh_enrolled_pods", "pods enrolled on this node",
                                value=self.sources.enrolled_pods())
        yield CounterMetricFamily("kmesh_bpf_map_write_errors", "failed BPF map writes",
                                  value=self.sources.map_write_errors())
        yield GaugeMetricFamily("kmesh_bpf_unapplied_resources",
                                "services and workloads held but not in the BPF maps (a map is full)",
                                value=self.sources.unapplied_resources())
        yield CounterMetricFamily("kmesh_bpf_map_full", "resource versions left out because a map was full",
                                  value=self.sources.unapplied_total())
        yield GaugeMetricFamily("kmesh_bpf_cidr_vips_unmapped",
                                "Service VIPs given as a range (NetworkAddress.length) that get no frontend",
                                value=self.sources.cidr_vips_unmapped())
        yield from self._authz()
        yield GaugeMetricFamily("kmesh_xds_waypoint_pending",
                                "resources held until their waypoint's hostname is known",
                                value=stats.waypoint_pending)
        yield GaugeMetricFamily("kmesh_xds_last_sync_duration_seconds",
                                "time to apply the last xDS response to the cache and maps",
                                value=self.sources.last_sync_seconds())

    def _authz(self) -> Iterator:
        connections = CounterMetricFamily(
            "kmesh_authz_connections", "new inbound TCP connections decided by an authorization policy",
            labels=["policy", "verdict", "dry_run"])
        for policy, verdict, dry_run, count in sorted(self.sources.authz_connections()):
            connections.add_metric([policy, verdict, "true" if dry_run else "false"], count)
        yield connections
        yield GaugeMetricFamily("kmesh_authz_unenforceable_workloads",
                                "workloads whose policy tables could not be written (failing closed)",
                                value=self.sources.authz_unenforceable())
        yield GaugeMetricFamily("kmesh_authz_pending_workloads",
                                "workloads naming a policy not received yet (last good tables in force)",
                                value=self.sources.authz_pending())
        yield CounterMetricFamily("kmesh_authz_link_failures",
                                  "enrolled network namespaces the authorization program could not be linked into",
                                  value=self.sources.authz_link_failures())

    @staticmethod
    def _per_type(family: CounterMetricFamily, values: dict[str, int]) -> CounterMetricFamily:
        # Subscribed types are there from the start, at 0: a rate() or an alert on NACKs
        # needs the series to exist before the first one happens.
        for type_url in sorted(set(SUBSCRIBED_TYPES) | set(values)):
            family.add_metric([_short_type(type_url)], values.get(type_url, 0))
        return family

    def _maps(self) -> Iterator:
        entries = GaugeMetricFamily("kmesh_bpf_map_entries", "entries in each BPF map", labels=["map"])
        capacity = GaugeMetricFamily("kmesh_bpf_map_capacity", "max entries of each BPF map", labels=["map"])
        for name, (used, size) in sorted(self.sources.map_usage().items()):
            entries.add_metric([name], used)
            capacity.add_metric([name], size)
        yield entries
        yield capacity


def make_registry(sources: MetricSources) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(sources))
    return registry


class MetricsServer(BackgroundHttpServer):
    def __init__(self, registry: CollectorRegistry, port: int, host: str = "0.0.0.0") -> None:
        super().__init__(type("Handler", (_Handler,), {"registry": registry}), host, port, "metrics-http")

    def start(self) -> None:
        super().start()
        log.info("event=metrics_listening port=%d path=%s", self.port, METRICS_PATH)


class _Handler(BaseHTTPRequestHandler):
    registry: CollectorRegistry

    def log_message(self, fmt: str, *args: object) -> None:
        log.debug("event=metrics_request %s", fmt % args)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.split("?", 1)[0] != METRICS_PATH:
            body, status, ctype = f"metrics are at {METRICS_PATH}\n".encode(), 404, "text/plain"
        else:
            body, status, ctype = generate_latest(self.registry), 200, CONTENT_TYPE_LATEST
        send_body(self, status, ctype, body)
