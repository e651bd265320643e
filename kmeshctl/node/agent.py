"""The node agent (`kmeshctl node run`): loads the data path, keeps the BPF maps in step
with istiod's workload xDS, enrolls pods, serves admin and metrics.

Start order validates and binds everything that can fail (flags, files, ports, the
Kubernetes config) before the first change to the kernel. On SIGTERM the watches, the
stream and the servers stop, and programs and maps stay in place: traffic keeps flowing
and the next agent takes over (``kmeshctl node cleanup`` removes everything).
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from kmeshctl import __version__, nodecheck
from kmeshctl.params import (NOT_ACCEPTED, OUT_OF_RANGE, bad_value, check_mode, check_xds_address,
                             given_text, integer_range, one_of)
from kmeshctl.node.admin import AdminServer, AdminSocketServer, AdminSources
from kmeshctl.bounded import LINE_LIMIT, clip
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.kube import KubeTarget
from kmeshctl.node.metrics import MetricSources, MetricsServer, make_registry
from kmeshctl.node.workload_cache import WorkloadCache
from kmeshctl.signalpipe import SignalPipe
from kmeshctl.xds.client import DEFAULT_ROOT_CERT, DEFAULT_TOKEN, ClientConfig, Identity, XdsClient

if TYPE_CHECKING:
    from kmeshctl.node.lifecycle import ShutdownDecision
    from kmeshctl.node.mapsync import NodeInfo

log = logging.getLogger("kmeshctl.agent")

MODE = "dual-engine"
DEFAULT_XDS_ADDRESS = "istiod.istio-system.svc:15012"
ENROLLMENT_MODES = ("auto", "kubernetes", "local")
LOAD_TIMEOUT_S = 300  # compiling with clang on a busy node can take a while
LOG_FORMAT = "time=%(asctime)s.%(msecs)03dZ level=%(level)s logger=%(name)s %(message)s"
LOG_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


@dataclass
class AgentConfig:
    xds_address: str = DEFAULT_XDS_ADDRESS
    identity: Identity = field(default_factory=lambda: Identity("127.0.0.1", socket.gethostname(), "kmesh-system"))
    mode: str = MODE
    xds_insecure: bool = False
    root_cert: Path = DEFAULT_ROOT_CERT
    token_path: Optional[Path] = DEFAULT_TOKEN
    xds_tls_server_name: Optional[str] = None
    enable_bypass: bool = False
    enable_bpf_log: bool = False
    bpf_fs: Path = Path("/sys/fs/bpf/kmesh")
    cgroup2_path: Optional[Path] = None
    admin_port: int = 15200
    # State-changing admin actions (logger levels, local enrollment) are served only here,
    # a root-only unix socket; None: nowhere.
    admin_socket: Optional[Path] = None
    metrics_port: int = 15020
    # Where metrics listen: "" is the node's own address (INSTANCE_IP: the pod IP, which on the
    # host network is the node's), never every address; the sandbox's is 127.0.0.1.
    metrics_host: str = ""
    enrollment: str = "auto"
    proc_root: Path = Path("/host/proc")
    # The chained CNI plugin (kmeshctl.cni), with Kubernetes enrollment only: installed into
    # the node's CNI config in cni_conf_dir (None: not installed, the pod watch alone enrolls).
    cni_conf_dir: Optional[Path] = None
    cni_bin_dir: Path = Path("/opt/cni/bin")
    cni_socket: Path = Path("/var/run/kmesh-cni/cni.sock")
    cni_fail_policy: str = "open"
    # Local enrollment only: the directory of pod and namespace objects the CNI plugin's
    # requests are decided from (kmeshctl.cni.localpods; the sandbox writes it).
    local_pods: Optional[Path] = None
    # This node's network (the NETWORK routing preference; Istio's NETWORK env): "" is
    # the default network, as a Workload without `network`.
    network: str = ""
    # The cluster pods are enrolled from (--kubeconfig / --context / --request-timeout);
    # the defaults: in-cluster, else ~/.kube/config.
    kube_target: KubeTarget = field(default_factory=KubeTarget)

    def validate(self) -> None:
        """Every check that needs no change to the system; raises UsageError."""
        check_mode(self.mode)  # kernel-native mode is out of scope
        check_xds_address(self.xds_address, allow_unix=True)
        _check_ip("--instance-ip", self.identity.instance_ip)
        for flag, port in (("--admin-port", self.admin_port), ("--metrics-port", self.metrics_port)):
            if not 1 <= port <= 65535:
                raise bad_value(flag, port, OUT_OF_RANGE, integer_range(1, 65535))
        if self.admin_port == self.metrics_port:
            other = next(p for p in (15020, 15021) if p != self.admin_port)
            raise UsageError(f"--metrics-port {self.metrics_port}: the same port as --admin-port; give each "
                             f"its own (defaults: admin 15200, metrics 15020), e.g. --metrics-port {other}")
        if self.enrollment not in ENROLLMENT_MODES:
            raise bad_value("--enrollment", self.enrollment, NOT_ACCEPTED, one_of(ENROLLMENT_MODES))
        if not self.xds_insecure:
            _need_file(self.root_cert, "istiod root certificate", "mount the istio-ca-root-cert ConfigMap "
                       "there, or pass --xds-root-cert (plaintext only with --xds-insecure)")
            if self.token_path is not None:
                _need_file(self.token_path, "istio-ca token", "mount a projected ServiceAccount token "
                           "with audience istio-ca there, or pass --xds-token")
        if self.enrollment == "kubernetes" and not self.identity.node_name:
            raise UsageError("enrolling pods from Kubernetes needs this node's name: set NODE_NAME "
                             "(the DaemonSet passes spec.nodeName) or --node-name")
        if self.cgroup2_path is not None:
            nodecheck.resolve_cgroup2_dir(self.cgroup2_path)
        if self.cni_conf_dir is not None:
            _check_cni(self)
        if self.xds_insecure and self.xds_address == DEFAULT_XDS_ADDRESS:
            raise PlaintextToIstiod("--xds-insecure toward istiod's TLS port (the default --xds-address "
                                    f"{DEFAULT_XDS_ADDRESS}) is never answered; pass --xds-address of the "
                                    "local xDS server, or leave out --xds-insecure")


class PlaintextToIstiod(UsageError):
    """--xds-insecure (plaintext, for a local xDS server such as the sandbox's) with the
    default address, istiod's TLS port: nothing would ever feed the agent. Checked last, so
    a run's other mistakes are named first."""


def _check_cni(cfg: "AgentConfig") -> None:
    if cfg.cni_fail_policy not in ("open", "closed"):
        raise UsageError(f"{given_text('--cni-fail-policy', cfg.cni_fail_policy)}: not an accepted value; use "
                         "open (a pod starts unenrolled when the agent cannot answer; the watch enrolls it "
                         "later) or closed")
    if cfg.enrollment == "local" and cfg.local_pods is None:
        raise UsageError("--cni-conf-dir with --enrollment local needs --local-pods DIR (the pod and namespace "
                         "objects the plugin's requests are decided from), or leave --cni-conf-dir unset")
    for flag, path in (("--cni-conf-dir", cfg.cni_conf_dir), ("--cni-bin-dir", cfg.cni_bin_dir)):
        if not Path(path).is_dir():
            raise UsageError(f"{given_text(flag, path)}: not a directory; mount the node's CNI directory there "
                             "(hostPath) or leave --cni-conf-dir unset to enroll by the pod watch only")


EXAMPLE_INSTANCE_IP = "10.0.0.7"


def _check_ip(flag: str, value: str) -> None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise UsageError(f"{given_text(flag, value)}: not an IP address; pass this node's pod-network address "
                         f"(the DaemonSet passes status.podIP as INSTANCE_IP), e.g. {flag} {EXAMPLE_INSTANCE_IP}") \
            from None


def _need_file(path: Path, what: str, fix: str) -> None:
    if not Path(path).exists():
        raise UsageError(f"{what} {path} not found: {fix}")
    if not Path(path).is_file():
        raise UsageError(f"{what} {path} is not a file: {fix}")


class OneLineFormatter(logging.Formatter):
    """key=value fields, one line per event: newlines in a message or a traceback are
    written as a literal \\n, so `grep event=xds_nack` always finds the whole event.
    A line is at most LINE_LIMIT chars (a control-plane name can be megabytes long)."""

    converter = time.gmtime

    def __init__(self) -> None:
        super().__init__(LOG_FORMAT, LOG_TIME_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        record.level = record.levelname.lower()
        return clip(super().format(record).replace("\n", "\\n"), LINE_LIMIT)


def configure_logging(level: str) -> None:
    """The agent's log on stderr; ``level`` for kmeshctl's loggers. Other libraries
    (grpc, the Kubernetes client) log warnings and errors in the same format."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise bad_value("--log-level", level, NOT_ACCEPTED, "debug, info, warning or error")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter())
    ours = logging.getLogger("kmeshctl")
    ours.handlers[:] = [handler]
    ours.setLevel(numeric)
    ours.propagate = False
    logging.root.handlers[:] = [handler]
    logging.root.setLevel(logging.WARNING)


class Agent:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.cache = WorkloadCache()
        self.dataplane: Any = None
        self.maps: Any = None
        self.mapsync: Any = None
        self.authzsync: Any = None
        self.enroller: Any = None
        self.podwatch: Any = None
        self.cni_server: Any = None
        self.cni_installer: Any = None
        self.client: Optional[XdsClient] = None
        self.admin: Optional[AdminServer] = None
        self.admin_socket: Optional[AdminSocketServer] = None
        self.metrics: Optional[MetricsServer] = None
        self._stopped = threading.Event()
        self._log_thread: Optional[threading.Thread] = None
        self._core_api: Any = None
        self._claim: Any = None  # the lock on --bpf-fs (kmeshctl.node.claim), held while running

    # ----- start ------------------------------------------------------------------------

    def start(self) -> None:
        """Validate, claim --bpf-fs (one agent per data path), bind the servers, then load."""
        from kmeshctl.node.claim import claim_bpffs

        self.config.validate()
        self._claim = claim_bpffs(self.config.bpf_fs)
        try:
            self._start_claimed()
        except BaseException:
            self._claim.release(remove_if_empty=True)
            raise

    def _start_claimed(self) -> None:
        core_api = self._core_api = self._kubernetes_api()
        if core_api is not None and not self.config.identity.node_name:
            raise UsageError("Kubernetes is reachable, so pods are enrolled from it, but the node "
                             "name is unknown: set NODE_NAME or --node-name (or --enrollment local)")
        try:
            self.admin = AdminServer(self._admin_sources(), self.config.admin_port)
        except OSError as err:
            raise listen_error("--admin-port", self.config.admin_port, err) from None
        if self.config.admin_socket is not None:
            try:
                self.admin_socket = AdminSocketServer(self.admin.sources, self.config.admin_socket)
            except BaseException:
                self.admin.stop()
                raise
        try:
            self.metrics = MetricsServer(make_registry(self._metric_sources()), self.config.metrics_port,
                                         self.metrics_host())
        except OSError as err:
            self._stop_servers()
            raise listen_error("--metrics-port", self.config.metrics_port, err) from None
        try:
            self._start_dataplane(core_api)
        except BaseException:
            self._abandon_start()
            raise
        for server in (self.admin, self.admin_socket, self.metrics):
            if server is not None:
                server.start()
        log.info("event=agent_started version=%s mode=%s xds=%s bpf_fs=%s enrollment=%s",
                 __version__, self.config.mode, self.config.xds_address, self.config.bpf_fs,
                 "kubernetes" if self.podwatch else "local")

    def _start_dataplane(self, core_api: Any) -> None:
        from kmeshctl.node import loader  # bcc is imported only by an agent that loads BPF
        from kmeshctl.node.ids import IdRegistry
        from kmeshctl.node.mapsync import MapSync
        from kmeshctl.node import authzlink
        from kmeshctl.node.authzsync import AuthzSync, CombinedSink
        from kmeshctl.node.podwatch import PodWatcher

        from kmeshctl.maps import DataplaneMaps

        cfg = self.config
        node = self.node_info(core_api)
        log.info("event=kernel_headers using=%r", nodecheck.select_kernel_headers())
        if cfg.enable_bpf_log:  # reading the log ring buffer needs the loading bcc object
            self.dataplane = loader.load(cfg.bpf_fs, cfg.cgroup2_path, enable_bpf_log=True)
            replaced = self.dataplane.replaced
        else:
            replaced = load_in_child(cfg.bpf_fs, cfg.cgroup2_path)
        log.info("event=dataplane_loaded bpf_fs=%s replaced=%s", cfg.bpf_fs, replaced)
        self.maps = DataplaneMaps(cfg.bpf_fs)
        self.mapsync = MapSync(self.maps, IdRegistry(self.maps), self.cache, node)
        self.authzsync = AuthzSync(self.maps, self.cache, node.node_name)
        self.enroller = authzlink.make_enroller(self.maps, cfg.bpf_fs)  # links inbound authz per netns
        self.admin.sources.enroller = None if core_api is not None else self.enroller
        if cfg.enable_bpf_log:
            self._start_bpf_log()
        self.client = XdsClient(self.client_config(), self.cache, CombinedSink(self.mapsync, self.authzsync))
        self.client.start()
        if core_api is not None:
            self.podwatch = PodWatcher(core_api, cfg.identity.node_name, self.enroller,
                                       cfg.enable_bypass, cfg.proc_root)
            self.podwatch.start()
            if cfg.cni_conf_dir is not None:
                self._start_cni(core_api)
        elif cfg.cni_conf_dir is not None and cfg.local_pods is not None:  # the sandbox: no Kubernetes
            self._start_cni(None)

    def _start_cni(self, core_api: Any) -> None:
        """Serve the CNI plugin's socket, then install the plugin on the node."""
        from kmeshctl.cni.install import CniInstaller, CniSettings, host_has_python, in_cluster_credentials
        from kmeshctl.cni.server import CniHandler, CniServer

        cfg = self.config
        if host_has_python(cfg.proc_root) is False:
            log.warning("event=cni_not_installed reason='the node has no /usr/bin/python3 for the plugin; pods "
                        "are enrolled by the pod watch only'")
            return
        from kmeshctl.cni.localpods import LocalPods

        local = LocalPods(cfg.local_pods) if core_api is None and cfg.local_pods is not None else None
        self.cni_server = CniServer(cfg.cni_socket, CniHandler(self.enroller, self.podwatch, core_api,
                                                               cfg.enable_bypass, local))
        self.cni_server.start()
        settings = CniSettings(Path(cfg.cni_conf_dir), cfg.cni_bin_dir, cfg.cni_socket, cfg.cni_fail_policy,
                               cfg.enable_bypass)
        self.cni_installer = CniInstaller(settings, in_cluster_credentials)
        self.cni_installer.install()
        self.cni_installer.start_refresh()

    def metrics_host(self) -> str:
        """The address metrics listen on: --metrics-host, else the node's own (INSTANCE_IP)."""
        return self.config.metrics_host or self.config.identity.instance_ip

    def client_config(self) -> ClientConfig:
        """The istiod connection's settings. Plaintext (--xds-insecure) never carries the
        service-account token: anyone on the path could read it."""
        cfg = self.config
        return ClientConfig(address=cfg.xds_address, identity=cfg.identity, insecure=cfg.xds_insecure,
                            root_cert=cfg.root_cert, token_path=None if cfg.xds_insecure else cfg.token_path,
                            tls_server_name=cfg.xds_tls_server_name)

    def node_info(self, core_api: Any) -> "NodeInfo":
        """This node's name and cluster, and with Kubernetes access the locality of its
        Node's topology labels (without: MapSync learns it from a workload on this node)."""
        from kmeshctl.node.locality import read_node_locality
        from kmeshctl.node.mapsync import NodeInfo

        identity = self.config.identity
        locality = read_node_locality(core_api, identity.node_name) if core_api is not None else None
        return NodeInfo(node_name=identity.node_name, cluster_id=identity.cluster_id,
                        network=self.config.network, locality=locality)

    def _kubernetes_api(self) -> Any:
        """A CoreV1Api when pods are enrolled from Kubernetes, None for local enrollment."""
        from kmeshctl import kube

        mode = self.config.enrollment
        if mode == "local" or (mode == "auto" and not _kubernetes_configured(self.config.kube_target)):
            return None
        return kube.core_v1_api(self.config.kube_target)

    def _start_bpf_log(self) -> None:
        bpf_log = logging.getLogger("kmeshctl.bpf")
        names = lambda: self.authzsync.policy_names() if self.authzsync else {}  # noqa: E731
        self.dataplane.on_log(lambda event: bpf_log.info(
            "event=bpf_authz %s policy=%s", event, names().get(event.policy, "-")) if event.is_authz
            else bpf_log.info("event=bpf_connect %s", event))

        def poll() -> None:
            while not self._stopped.is_set():
                self.dataplane.poll_log(200)

        self._log_thread = threading.Thread(target=poll, name="bpf-log", daemon=True)
        self._log_thread.start()

    # ----- sources for admin and metrics ------------------------------------------------

    def ready(self) -> tuple[bool, str]:
        if self.mapsync is not None and self.mapsync.initialized.is_set():
            missing = self.mapsync.incomplete()
            if missing:
                return False, f"the xDS sync is not wholly in the BPF maps: {missing}"
            return True, "first xDS sync is in the BPF maps"
        if self.client is not None and self.client.stats.last_error:
            return False, f"waiting for the first xDS sync (last error: {self.client.stats.last_error})"
        return False, "waiting for the first xDS sync"

    def live(self) -> tuple[bool, str]:
        """Whether every worker of the agent still runs (the liveness probe): the istiod
        stream's thread (reconnecting counts as alive), the pod watches, the metrics server."""
        workers = [("xds-client", getattr(self.client, "_thread", None))]
        workers += [(th.name, th) for th in getattr(self.podwatch, "_threads", [])]
        workers.append(("metrics-http", getattr(self.metrics, "_thread", None)))
        dead = [name for name, thread in workers if thread is not None and not thread.is_alive()]
        if self._stopped.is_set():
            return False, "the agent is stopping"
        if dead:
            return False, f"worker(s) stopped: {', '.join(dead)}"
        return True, f"{sum(1 for _, th in workers if th is not None)} workers running"

    def version(self) -> dict:
        return {"version": __version__, "mode": self.config.mode, "python": sys.version.split()[0],
                "node_id": self.config.identity.node_id(), "xds_address": self.config.xds_address}

    def xds_status(self) -> dict:
        """The istiod connection as `/debug/xds` and `kmeshctl status` show it."""
        from kmeshctl.xds.client import connection_status

        synced = self.mapsync is not None and self.mapsync.initialized.is_set()
        return connection_status(self.config.xds_address, self.client.stats if self.client else None, synced)

    def bpf_dump(self) -> dict:
        """`kmeshctl dump maps -o json` of this node, with the C field names (kmeshctl.dump.to_json)."""
        from kmeshctl import dump

        if self.maps is None:
            raise KmeshctlError("the data path is not loaded yet")
        return dump.dump_json(self.config.bpf_fs)

    def _admin_sources(self) -> AdminSources:
        def cache_dump() -> dict:
            dump = self.cache.to_json()
            dump["enrolled"] = [vars(e) for e in self.enroller.enrolled()] if self.enroller else []
            dump["node"] = self.mapsync.locality_info() if self.mapsync else \
                {"name": self.config.identity.node_name, "locality_source": "unknown", "locality": None}
            synced, detail = self.ready()
            dump["sync"] = {"synced": synced, "detail": detail}  # an empty cache before it is no empty mesh
            return dump
        return AdminSources(cache_dump=cache_dump, bpf_dump=self.bpf_dump, ready=self.ready,
                            version=self.version, xds=self.xds_status, live=self.live)

    def _metric_sources(self) -> MetricSources:
        from kmeshctl.xds.client import ClientStats

        return MetricSources(
            client_stats=lambda: self.client.stats if self.client else ClientStats(),
            cache_counts=self.cache.counts,
            map_usage=self._map_usage,
            enrolled_pods=lambda: self.enroller.count() if self.enroller else 0,
            map_write_errors=lambda: self.mapsync.write_errors if self.mapsync else 0,
            last_sync_seconds=lambda: self.mapsync.last_sync_seconds if self.mapsync else 0.0,
            unapplied_resources=lambda: (len(self.mapsync.pending_services) + len(self.mapsync.pending_workloads)
                                         if self.mapsync else 0),
            unapplied_total=lambda: self.mapsync.unapplied_total if self.mapsync else 0,
            cidr_vips_unmapped=lambda: self.mapsync.cidr_vips_unmapped if self.mapsync else 0,
            authz_connections=lambda: self.authzsync.connection_counts() if self.authzsync else [],
            authz_unenforceable=lambda: len(self.authzsync.unenforceable) if self.authzsync else 0,
            authz_pending=lambda: len(self.authzsync.pending) if self.authzsync else 0,
            authz_link_failures=lambda: getattr(self.enroller, "link_failures", 0))

    def _map_usage(self) -> dict[str, tuple[int, int]]:
        if self.mapsync is None:
            return {}
        from kmeshctl.maps import MANAGE

        usage = self.mapsync.usage()
        usage[MANAGE.name] = (self.enroller.count(), MANAGE.max_entries)
        return usage

    # ----- stop -------------------------------------------------------------------------

    def stop(self, uninstall: bool = False) -> None:
        """Stop watching and serving. Programs and maps stay loaded, unless ``uninstall``:
        then the pods of this node lose their kmesh.net/redirection annotation and every
        program and map is detached and unpinned."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self.cni_installer is not None and uninstall:
            self.cni_installer.uninstall()
        elif self.cni_installer is not None:  # a restart: the plugin stays (fail-open meanwhile)
            self.cni_installer.stop()
        if self.cni_server is not None:
            self.cni_server.stop()
        if self.podwatch is not None:
            self.podwatch.stop()
            if uninstall:
                try:
                    log.info("event=annotations_removed pods=%d", self.podwatch.remove_annotations())
                except Exception as err:  # noqa: BLE001 - the data path still goes below
                    log.warning("event=annotations_remove_failed error=%r", str(err))
        if self.client is not None:
            self.client.stop()
        self._stop_servers()
        if self._log_thread is not None:
            self._log_thread.join(timeout=2)
        if self.maps is not None:
            self.maps.close()
        if self.dataplane is not None:
            self.dataplane.close()
        if uninstall:
            self._remove_dataplane()
        else:
            log.info("event=agent_stopped programs_and_maps=left_in_place bpf_fs=%s", self.config.bpf_fs)
        if self._claim is not None:
            self._claim.release()

    def _abandon_start(self) -> None:
        """Stop what a start that failed halfway had begun (xDS client, pod watch, CNI
        server and refresher, servers); the programs and maps it loaded stay, as on a restart."""
        for worker in (self.cni_installer, self.cni_server, self.podwatch, self.client):
            if worker is not None:
                worker.stop()
        self._stop_servers()
        if self.maps is not None:
            self.maps.close()
        if self.dataplane is not None:
            self.dataplane.close()

    def _stop_servers(self) -> None:
        for server in (self.admin, self.admin_socket, self.metrics):
            if server is not None:
                server.stop()

    def _remove_dataplane(self) -> None:
        from kmeshctl.node import loader

        try:
            done = loader.cleanup(self.config.bpf_fs, self.config.cgroup2_path)
        except Exception as err:  # noqa: BLE001 - report and exit; `node cleanup` can finish it
            log.error("event=dataplane_remove_failed bpf_fs=%s error=%r fix='kmeshctl node cleanup'",
                      self.config.bpf_fs, str(err))
            return
        log.info("event=agent_stopped programs_and_maps=removed bpf_fs=%s steps=%d", self.config.bpf_fs, len(done))

    def shutdown_decision(self) -> "ShutdownDecision":
        """Restart (keep the data path) or uninstall (remove it): see kmeshctl.lifecycle."""
        from kmeshctl.node.lifecycle import ShutdownDecision, decide_shutdown

        if self._core_api is None:
            return ShutdownDecision("restart", "not enrolled from Kubernetes (local enrollment)")
        from kubernetes import client as k8s

        apps = k8s.AppsV1Api(self._core_api.api_client)
        identity = self.config.identity
        return decide_shutdown(self._core_api, apps, identity.pod_name, identity.pod_namespace)

    def run_until_signalled(self) -> int:
        """Run until SIGTERM (how the kubelet stops a pod: exit status 0) or SIGINT
        (Ctrl-C: 130, as every kmeshctl command); returns that exit status."""
        signals = SignalPipe((signal.SIGTERM, signal.SIGINT))  # no lock taken in a handler
        self.start()
        uninstall = False
        received: list[int] = []
        try:
            while not received:
                received = signals.wait(1.0)
            log.info("event=signal name=%s", signal.Signals(received[0]).name)
            decision = self.shutdown_decision()
            log.info("event=shutdown kind=%s reason=%r", decision.kind, decision.reason)
            uninstall = decision.kind == "uninstall"
        finally:
            self.stop(uninstall=uninstall)
        return 130 if received and received[0] == signal.SIGINT else 0


def load_in_child(bpf_fs: Path, cgroup2_path: Optional[Path]) -> bool:
    """Compile, load, pin and attach the data path in a short-lived child process; True
    when it replaced a running one. Programs and maps stay pinned and attached when the
    child exits, and the compiler's memory goes with it instead of staying in the
    long-running agent. The child imports the loader alone (not the agent's gRPC,
    protobuf and admin modules): its peak is bcc's with LLVM plus the compile, about
    150 MiB instead of 175 (docs/agent.md "Scale")."""
    argv = [sys.executable, "-c", "from kmeshctl.node.loader import child_main; child_main()",
            str(bpf_fs), str(cgroup2_path or "")]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=LOAD_TIMEOUT_S)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        raise KmeshctlError(lines[-1] if lines else f"loading the data path failed (exit {result.returncode})")
    return result.stdout.strip() == "replaced"


def listen_error(flag: str, port: int, err: OSError) -> KmeshctlError:
    """`--admin-port 15200: cannot listen on it (address already in use: sandbox demo's node
    agent serves it); pass another --admin-port`: the port's owner named when a local
    sandbox's agent holds it (a second agent there would answer for the first), else the
    process listening on it when found (`python3 pid 4032 answers on it`, `..., or stop pid
    4032 first`)."""
    from kmeshctl import sandboxes
    from kmeshctl.node.claim import holder_text, tcp_port_holder

    why = (err.strerror or str(err)).lower()
    in_use = err.errno == errno.EADDRINUSE
    owner = sandboxes.owner_of_agent_port(port) if in_use else None
    holder = tcp_port_holder(port) if in_use and owner is None else None
    who = f": sandbox {owner.name}'s node agent serves it" if owner is not None else \
        f": {holder_text(holder)}" if holder else ""
    stop = f", or stop pid {holder[0]} first" if holder else ""
    return KmeshctlError(f"{flag} {port}: cannot listen on it ({why}{who}); pass another {flag}{stop}")


def _kubernetes_configured(target: KubeTarget) -> bool:
    from kmeshctl import kube

    return kube.running_in_cluster() or target.kubeconfig is not None
