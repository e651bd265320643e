"""The node agent (`kmeshctl node run`): loads the data path, keeps the BPF maps in step
with istiod's workload xDS, enrolls pods, serves admin and metrics.

Start order validates and binds everything that can fail (flags, files, ports, the
Kubernetes config) before the first change to the kernel. On SIGTERM the watches, the
stream and the servers stop, and programs and maps stay in place: traffic keeps flowing
and the next agent takes over (``kmeshctl node cleanup`` removes everything).
"""

from __future__ import annotations

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
from kmeshctl.admin import AdminServer, AdminSources
from kmeshctl.bounded import LINE_LIMIT, clip
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.metrics import MetricSources, MetricsServer, make_registry
from kmeshctl.workload_cache import WorkloadCache
from kmeshctl.xds.client import DEFAULT_ROOT_CERT, DEFAULT_TOKEN, ClientConfig, Identity, XdsClient

if TYPE_CHECKING:
    from kmeshctl.lifecycle import ShutdownDecision
    from kmeshctl.mapsync import NodeInfo

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
    metrics_port: int = 15020
    metrics_host: str = "0.0.0.0"
    enrollment: str = "auto"
    proc_root: Path = Path("/host/proc")

    def validate(self) -> None:
        """Every check that needs no change to the system; raises UsageError."""
        if self.mode != MODE:
            raise UsageError(f"--mode {self.mode} is not supported: only --mode=dual-engine "
                             "(kernel-native mode is out of scope)")
        _check_address(self.xds_address)
        for flag, port in (("--admin-port", self.admin_port), ("--metrics-port", self.metrics_port)):
            if not 0 <= port <= 65535:
                raise UsageError(f"{flag} {port} is not a port: pass 1..65535")
        if self.enrollment not in ENROLLMENT_MODES:
            raise UsageError(f"--enrollment {self.enrollment}: use one of {', '.join(ENROLLMENT_MODES)}")
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


def _check_address(address: str) -> None:
    if address.startswith("unix:"):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) <= 65535:
        raise UsageError(f"--xds-address {address!r} is not HOST:PORT (e.g. "
                         f"istiod-1-22.istio-system.svc:15012) or unix:/path")


def _need_file(path: Path, what: str, fix: str) -> None:
    if not Path(path).is_file():
        raise UsageError(f"{what} {path} not found: {fix}")


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
        raise UsageError(f"--log-level {level}: use debug, info, warning or error")
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
        self.enroller: Any = None
        self.podwatch: Any = None
        self.client: Optional[XdsClient] = None
        self.admin: Optional[AdminServer] = None
        self.metrics: Optional[MetricsServer] = None
        self._stopped = threading.Event()
        self._log_thread: Optional[threading.Thread] = None
        self._core_api: Any = None

    # ----- start ------------------------------------------------------------------------

    def start(self) -> None:
        self.config.validate()
        core_api = self._core_api = self._kubernetes_api()
        if core_api is not None and not self.config.identity.node_name:
            raise UsageError("Kubernetes is reachable, so pods are enrolled from it, but the node "
                             "name is unknown: set NODE_NAME or --node-name (or --enrollment local)")
        self.admin = AdminServer(self._admin_sources(), self.config.admin_port)
        try:
            self.metrics = MetricsServer(make_registry(self._metric_sources()), self.config.metrics_port,
                                         self.config.metrics_host)
        except OSError as err:
            self.admin.stop()
            raise KmeshctlError(f"cannot listen on metrics port {self.config.metrics_port}: {err}; "
                                "pass another --metrics-port") from err
        try:
            self._start_dataplane(core_api)
        except BaseException:
            self.admin.stop()
            self.metrics.stop()
            raise
        self.admin.start()
        self.metrics.start()
        log.info("event=agent_started version=%s mode=%s xds=%s bpf_fs=%s enrollment=%s",
                 __version__, self.config.mode, self.config.xds_address, self.config.bpf_fs,
                 "kubernetes" if self.podwatch else "local")

    def _start_dataplane(self, core_api: Any) -> None:
        from kmeshctl import loader  # bcc is imported only by an agent that loads BPF
        from kmeshctl.ids import IdRegistry
        from kmeshctl.mapsync import MapSync
        from kmeshctl.podwatch import NetnsEnroller, PodWatcher

        from kmeshctl.maps import DataplaneMaps

        cfg = self.config
        node = self.node_info(core_api)
        if cfg.enable_bpf_log:  # reading the log ring buffer needs the loading bcc object
            self.dataplane = loader.load(cfg.bpf_fs, cfg.cgroup2_path, enable_bpf_log=True)
            replaced = self.dataplane.replaced
        else:
            replaced = load_in_child(cfg.bpf_fs, cfg.cgroup2_path)
        log.info("event=dataplane_loaded bpf_fs=%s replaced=%s", cfg.bpf_fs, replaced)
        self.maps = DataplaneMaps(cfg.bpf_fs)
        self.mapsync = MapSync(self.maps, IdRegistry(self.maps), self.cache, node)
        self.enroller = NetnsEnroller(self.maps)
        self.admin.sources.enroller = None if core_api is not None else self.enroller
        if cfg.enable_bpf_log:
            self._start_bpf_log()
        self.client = XdsClient(ClientConfig(
            address=cfg.xds_address, identity=cfg.identity, insecure=cfg.xds_insecure,
            root_cert=cfg.root_cert, token_path=cfg.token_path, tls_server_name=cfg.xds_tls_server_name),
            self.cache, self.mapsync)
        self.client.start()
        if core_api is not None:
            self.podwatch = PodWatcher(core_api, cfg.identity.node_name, self.enroller,
                                       cfg.enable_bypass, cfg.proc_root)
            self.podwatch.start()

    def node_info(self, core_api: Any) -> "NodeInfo":
        """This node's name and cluster, and with Kubernetes access the locality of its
        Node's topology labels (without: MapSync learns it from a workload on this node)."""
        from kmeshctl.locality import read_node_locality
        from kmeshctl.mapsync import NodeInfo

        identity = self.config.identity
        locality = read_node_locality(core_api, identity.node_name) if core_api is not None else None
        return NodeInfo(node_name=identity.node_name, cluster_id=identity.cluster_id, locality=locality)

    def _kubernetes_api(self) -> Any:
        """A CoreV1Api when pods are enrolled from Kubernetes, None for local enrollment."""
        from kmeshctl import kube

        mode = self.config.enrollment
        if mode == "local" or (mode == "auto" and not _kubernetes_configured()):
            return None
        return kube.core_v1_api()

    def _start_bpf_log(self) -> None:
        bpf_log = logging.getLogger("kmeshctl.bpf")
        self.dataplane.on_log(lambda event: bpf_log.info("event=bpf_connect %s", event))

        def poll() -> None:
            while not self._stopped.is_set():
                self.dataplane.poll_log(200)

        self._log_thread = threading.Thread(target=poll, name="bpf-log", daemon=True)
        self._log_thread.start()

    # ----- sources for admin and metrics ------------------------------------------------

    def ready(self) -> tuple[bool, str]:
        if self.mapsync is not None and self.mapsync.initialized.is_set():
            return True, "first xDS sync is in the BPF maps"
        if self.client is not None and self.client.stats.last_error:
            return False, f"waiting for the first xDS sync (last error: {self.client.stats.last_error})"
        return False, "waiting for the first xDS sync"

    def version(self) -> dict:
        return {"version": __version__, "mode": self.config.mode, "python": sys.version.split()[0],
                "node_id": self.config.identity.node_id(), "xds_address": self.config.xds_address}

    def xds_status(self) -> dict:
        """The istiod connection as `/debug/xds` and `kmeshctl status` show it."""
        from kmeshctl.xds.client import connection_status

        synced = self.mapsync is not None and self.mapsync.initialized.is_set()
        return connection_status(self.config.xds_address, self.client.stats if self.client else None, synced)

    def bpf_dump(self) -> dict:
        """The same JSON as `kmeshctl dump maps -o json` on this node."""
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
            return dump
        return AdminSources(cache_dump=cache_dump, bpf_dump=self.bpf_dump, ready=self.ready,
                            version=self.version, xds=self.xds_status)

    def _metric_sources(self) -> MetricSources:
        from kmeshctl.xds.client import ClientStats

        return MetricSources(
            client_stats=lambda: self.client.stats if self.client else ClientStats(),
            cache_counts=self.cache.counts,
            map_usage=self._map_usage,
            enrolled_pods=lambda: self.enroller.count() if self.enroller else 0,
            map_write_errors=lambda: self.mapsync.write_errors if self.mapsync else 0,
            last_sync_seconds=lambda: self.mapsync.last_sync_seconds if self.mapsync else 0.0)

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
        if self.podwatch is not None:
            self.podwatch.stop()
            if uninstall:
                try:
                    log.info("event=annotations_removed pods=%d", self.podwatch.remove_annotations())
                except Exception as err:  # noqa: BLE001 - the data path still goes below
                    log.warning("event=annotations_remove_failed error=%r", str(err))
        if self.client is not None:
            self.client.stop()
        for server in (self.admin, self.metrics):
            if server is not None:
                server.stop()
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

    def _remove_dataplane(self) -> None:
        from kmeshctl import loader

        try:
            done = loader.cleanup(self.config.bpf_fs, self.config.cgroup2_path)
        except Exception as err:  # noqa: BLE001 - report and exit; `node cleanup` can finish it
            log.error("event=dataplane_remove_failed bpf_fs=%s error=%r fix='kmeshctl node cleanup'",
                      self.config.bpf_fs, str(err))
            return
        log.info("event=agent_stopped programs_and_maps=removed bpf_fs=%s steps=%d", self.config.bpf_fs, len(done))

    def shutdown_decision(self) -> "ShutdownDecision":
        """Restart (keep the data path) or uninstall (remove it): see kmeshctl.lifecycle."""
        from kmeshctl.lifecycle import ShutdownDecision, decide_shutdown

        if self._core_api is None:
            return ShutdownDecision("restart", "not enrolled from Kubernetes (local enrollment)")
        from kubernetes import client as k8s

        apps = k8s.AppsV1Api(self._core_api.api_client)
        identity = self.config.identity
        return decide_shutdown(self._core_api, apps, identity.pod_name, identity.pod_namespace)

    def run_until_signalled(self) -> None:
        done = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, _frame: (log.info("event=signal name=%s",
                                                                signal.Signals(signum).name), done.set()))
        self.start()
        uninstall = False
        try:
            while not done.wait(1.0):
                pass
            decision = self.shutdown_decision()
            log.info("event=shutdown kind=%s reason=%r", decision.kind, decision.reason)
            uninstall = decision.kind == "uninstall"
        finally:
            self.stop(uninstall=uninstall)


def load_in_child(bpf_fs: Path, cgroup2_path: Optional[Path]) -> bool:
    """Compile, load, pin and attach the data path in a short-lived child process; True
    when it replaced a running one. Programs and maps stay pinned and attached when the
    child exits, and the compiler's memory (about 140 MiB) goes with it instead of
    staying in the long-running agent."""
    argv = [sys.executable, "-c", "from kmeshctl.agent import _load_main; _load_main()",
            str(bpf_fs), str(cgroup2_path or "")]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=LOAD_TIMEOUT_S)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        raise KmeshctlError(lines[-1] if lines else f"loading the data path failed (exit {result.returncode})")
    return result.stdout.strip() == "replaced"


def _load_main() -> None:
    """Child side of ``load_in_child``: prints "replaced" or "loaded"; errors as one line."""
    from kmeshctl import loader

    bpf_fs, cgroup = sys.argv[1], sys.argv[2] or None
    try:
        dataplane = loader.load(Path(bpf_fs), Path(cgroup) if cgroup else None)
    except KmeshctlError as err:
        print(err, file=sys.stderr)
        sys.exit(1)
    print("replaced" if dataplane.replaced else "loaded")
    dataplane.close()


def _kubernetes_configured() -> bool:
    from kmeshctl import kube

    return kube.running_in_cluster() or kube.TARGET.kubeconfig is not None
