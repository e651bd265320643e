"""Objects for seeding a stand-in cluster, and the pytest fixtures that start one and
run the kmeshctl CLI against it in-process."""

from __future__ import annotations

import copy
import hashlib
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

from .server import StandinApiServer

ISTIO_CRDS_FILE = Path(__file__).resolve().parents[3] / "shared" / "schemas" / "istio-crds.yaml"
ISTIO_CRD_NAMES = {"envoyfilters.networking.istio.io", "virtualservices.networking.istio.io",
                   "destinationrules.networking.istio.io"}
_crd_cache: list[dict] = []


def load_crds(path: Path, names: Optional[set[str]] = None) -> list[dict]:
    """CRD objects from a multi-document YAML file (optionally only the named ones)."""
    with path.open() as handle:
        docs = [d for d in yaml.load_all(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if d]
    return [d for d in docs if names is None or d["metadata"]["name"] in names]


def istio_crds() -> list[dict]:
    """The Istio CRDs install needs, from the shared schemas file (dev machines and CI)."""
    if not _crd_cache:
        _crd_cache.extend(load_crds(ISTIO_CRDS_FILE, ISTIO_CRD_NAMES))
    return copy.deepcopy(_crd_cache)


def namespace(name: str, labels: Optional[dict] = None) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}


def node(name: str, kernel: str = "6.6.31-1.al8.x86_64", labels: Optional[dict] = None) -> dict:
    """A Node as a kubelet registers it (nodeInfo complete: the typed client requires every field)."""
    machine = hashlib.md5(name.encode()).hexdigest()
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                                  "kubernetes.io/arch": "amd64", **(labels or {})}},
            "status": {"nodeInfo": {
                "kernelVersion": kernel, "kubeletVersion": "v1.30.3", "kubeProxyVersion": "v1.30.3",
                "architecture": "amd64", "operatingSystem": "linux", "osImage": "Alibaba Cloud Linux 3",
                "containerRuntimeVersion": "containerd://1.6.28", "machineID": machine,
                "systemUUID": str(uuid.UUID(machine)), "bootID": str(uuid.uuid5(uuid.NAMESPACE_DNS, name))},
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}}


def istiod_service(name: str, istio_namespace: str = "istio-system", xds_port: int = 15012) -> dict:
    ports = [{"name": "https-dns", "port": 15012 if xds_port == 15012 else xds_port, "protocol": "TCP"},
             {"name": "grpc-xds", "port": 15010, "protocol": "TCP"}]
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": istio_namespace},
            "spec": {"selector": {"app": "istiod"}, "ports": ports}}


def app_pod(name: str, ns: str, phase: str = "Running", annotated: bool = False, **spec: Any) -> dict:
    annotations = {"kmesh.net/redirection": "enabled"} if annotated else {}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": name}, "annotations": annotations},
            "spec": {"containers": [{"name": "app", "image": "fortio/fortio"}], **spec},
            "status": {"phase": phase}}


def seeded_server(with_istio: bool = True, istiod_names: tuple[str, ...] = ("istiod-1-22-6",)) -> StandinApiServer:
    """An ASM-like cluster: istio-system with istiod revision Services, two nodes."""
    server = StandinApiServer(crds=istio_crds() if with_istio else [])
    server.put(namespace("istio-system"))
    for name in istiod_names:
        server.put(istiod_service(name))
    server.put(node("node-a", "5.10.134-16.3.al8.x86_64"))
    server.put(node("node-b", "6.6.31-1.al8.x86_64"))
    return server


# -- pytest fixtures: a running stand-in API server and the CLI run in-process ------------------


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@dataclass
class StandinCluster:
    server: StandinApiServer
    kubeconfig: Path
    capsys: Any

    def kmeshctl(self, *args: str) -> CliResult:
        """Run `kmeshctl --kubeconfig <stand-in> ARGS` through kmeshctl.cli.main, in-process."""
        return self.as_typed("kmeshctl", "--kubeconfig", str(self.kubeconfig), *args)

    def as_typed(self, *words: str) -> CliResult:
        """Run the command line ``words`` (`kmeshctl ...`, e.g. a pasted fix: nothing added)
        through kmeshctl.cli.main, in-process."""
        from kmeshctl.cli import main

        assert words[0] == "kmeshctl", words
        self.capsys.readouterr()
        saved = sys.argv
        sys.argv = list(words)
        try:
            main()
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        finally:
            sys.argv = saved
        captured = self.capsys.readouterr()
        return CliResult(code, captured.out, captured.err)


def start_cluster(tmp_path: Path, capsys: Any, server: StandinApiServer) -> StandinCluster:
    server.start()
    return StandinCluster(server, server.write_kubeconfig(tmp_path / "kubeconfig"), capsys)


def _no_waiting_notes(monkeypatch: Any) -> None:
    """The stand-in answers in milliseconds: a `waiting for the Kubernetes API` note after
    kube's 1 s is this machine's load (CI ran one into a one-line check), not the case under
    test; a test of the note sets its own delay."""
    from kmeshctl import kube

    monkeypatch.setattr(kube, "WAITING_NOTE_AFTER_S", 30.0)


@pytest.fixture
def cluster(tmp_path: Path, capsys: Any, monkeypatch: Any):
    """An ASM-like stand-in cluster (Istio CRDs, one istiod revision, two nodes)."""
    monkeypatch.setenv("COLUMNS", "200")  # rich tables unwrapped in captured output
    _no_waiting_notes(monkeypatch)
    running = start_cluster(tmp_path, capsys, seeded_server())
    yield running
    running.server.stop()


@pytest.fixture
def make_cluster(tmp_path: Path, capsys: Any, monkeypatch: Any):
    """Factory for stand-in clusters seeded differently (no Istio, several istiods, ...)."""
    monkeypatch.setenv("COLUMNS", "200")
    _no_waiting_notes(monkeypatch)
    started: list[StandinCluster] = []

    def make(**seed: Any) -> StandinCluster:
        home = tmp_path / f"cluster{len(started)}"
        home.mkdir()
        running = start_cluster(home, capsys, seeded_server(**seed))
        started.append(running)
        return running

    yield make
    for running in started:
        running.server.stop()


def core_v1_client(server: StandinApiServer, tmp_path: Path) -> Any:
    """The official client's CoreV1Api talking to ``server`` through a kubeconfig file,
    as kmeshctl's own code does."""
    from kubernetes import client as k8s
    from kubernetes import config as k8s_config

    cfg = k8s.Configuration()
    k8s_config.load_kube_config(str(server.write_kubeconfig(tmp_path / "kubeconfig")),
                                client_configuration=cfg, persist_config=False)
    return k8s.CoreV1Api(k8s.ApiClient(cfg))

