"""Finding the istiod xDS address when `--xds-address` is not given: the Services named
`istiod*` in the Istio namespace that expose port 15012 (in ASM one per revision, e.g.
`istiod-1-22-6`)."""

from __future__ import annotations

import contextlib
import ipaddress
import re
import shlex
from dataclasses import dataclass
from typing import Callable, Optional, TypeVar

from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.kube import KubeClient
from kmeshctl.params import shown

XDS_PORT = 15012


def istiod_addresses(client: KubeClient, istio_namespace: str) -> list[str]:
    """`<service>.<namespace>.svc:15012` for every istiod Service exposing the xDS port."""
    services = client.list("v1", "Service", namespace=istio_namespace)
    return sorted(
        f"{svc['metadata']['name']}.{istio_namespace}.svc:{XDS_PORT}"
        for svc in services
        if svc["metadata"]["name"].startswith("istiod") and _exposes_xds(svc)
    )


def _exposes_xds(service: dict) -> bool:
    return any(port.get("port") == XDS_PORT for port in service.get("spec", {}).get("ports", []))


def resolve_xds_address(client: KubeClient, istio_namespace: str) -> str:
    """The one istiod address, or a UsageError asking for --xds-address."""
    found = istiod_addresses(client, istio_namespace)
    if not found:
        raise KmeshctlError(
            f"no istiod Service exposing port {XDS_PORT} in namespace {istio_namespace}",
            fix="pass --xds-address HOST:PORT of your ASM istiod, or --istio-namespace where istiod runs")
    if len(found) > 1:
        raise UsageError(
            f"several istiod revisions in {istio_namespace}: {', '.join(found)}; "
            "choose one with --xds-address"
        )
    return found[0]


# -- checking an --xds-address / --istio-namespace against the cluster (before any write) ------

# A cluster Service's DNS name: NAME.NAMESPACE.svc, or .svc.cluster.local (optionally rooted).
_SERVICE_HOST = re.compile(r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?)\.([a-z0-9]([a-z0-9-]*[a-z0-9])?)\.svc"
                           r"(\.cluster\.local)?\.?$")
# Stands for istiod's address in a suggested command when it could not be found: not a
# host name (the `_`), so pasted as is it is refused, never installed.
XDS_ADDRESS_UNKNOWN = "ISTIOD_HOST:15012"


class XdsServiceMissing(UsageError):
    """--xds-address names a cluster Service that does not exist or lacks the port
    (exit 2); ``found``: the istiod addresses the cluster has."""

    def __init__(self, problem: str, found: list[str]) -> None:
        super().__init__(problem)
        self.found = found


class IstioNamespaceMissing(UsageError):
    """--istio-namespace names no namespace (exit 2); ``with_istiod``: the namespaces
    that have an istiod Service."""

    def __init__(self, problem: str, with_istiod: list[str]) -> None:
        super().__init__(problem)
        self.with_istiod = with_istiod


def cluster_service(address: str) -> Optional[tuple[str, str, int]]:
    """(name, namespace, port) when ``address`` (a checked HOST:PORT) names a cluster
    Service by its DNS name; None for an IP, an outside host or a short name."""
    host, _, port = address.rpartition(":")
    found = _SERVICE_HOST.match(host.lower())
    return (found.group(1), found.group(3), int(port)) if found and port.isdigit() else None


def istiod_addresses_anywhere(client: KubeClient) -> list[str]:
    """Every istiod Service exposing the xDS port, in every namespace ([] when the caller
    may not list Services cluster-wide: only a suggestion depends on it)."""
    return sorted(_service_address(svc, XDS_PORT) for svc in _istiod_services(client))


def _istiod_services(client: KubeClient) -> list[dict]:
    """The istiod Services exposing the xDS port in every namespace ([] when they may not
    be listed cluster-wide)."""
    try:
        services = client.list("v1", "Service")
    except KmeshctlError:
        return []
    return [svc for svc in services if svc["metadata"]["name"].startswith("istiod") and _exposes_xds(svc)]


def _service_address(service: dict, port: int) -> str:
    """`NAME.NAMESPACE.svc:PORT`: a Service's DNS name, as the agents reach (and istiod's
    certificate names) it."""
    return f"{service['metadata']['name']}.{service['metadata'].get('namespace', '')}.svc:{port}"


def check_xds_service(client: KubeClient, address: str, flag: str = "--xds-address",
                      agents_namespace: Optional[str] = None) -> None:
    """A Service named by ``address`` exists with that port; else XdsServiceMissing
    naming the istiod Services found. With ``agents_namespace`` (where the agents run)
    two more addresses the agents cannot use are refused with istiod's DNS name:
    a bare Service name (check_short_name) and an istiod Service's ClusterIP
    (check_not_cluster_ip). Nothing is checked for another address outside the
    cluster's Service names (an IP, a load balancer's host)."""
    if agents_namespace is not None:
        check_short_name(client, address, agents_namespace, flag)
        check_not_cluster_ip(client, address, flag)
    named = cluster_service(address)
    if named is None:
        return
    name, namespace, port = named
    service = client.get("v1", "Service", name, namespace)
    if service is not None:
        ports = sorted(int(p.get("port", 0)) for p in (service.get("spec") or {}).get("ports") or [])
        if port in ports:
            return
        problem = f"Service {namespace}/{name} has no port {port} (its ports: {', '.join(map(str, ports)) or 'none'})"
    else:
        problem = f"no Service {name} in namespace {namespace}"
    found = istiod_addresses_anywhere(client)
    listed = f"istiod Services found: {', '.join(found)}" if found else "no istiod Service found in the cluster"
    raise XdsServiceMissing(f"{flag} {address}: {problem}; {listed}", found)


def check_short_name(client: KubeClient, address: str, agents_namespace: str, flag: str = "--xds-address") -> None:
    """A bare Service name (`istiod:15012`) resolves only to a Service of the agents' own
    namespace (their DNS search path): one that is not there is refused (XdsServiceMissing,
    exit 2) with the Services of that name elsewhere (NAME.NAMESPACE.svc:PORT), else the
    istiod Services, as the addresses to use. The agents would fail DNS until the timeout."""
    host, _, port = address.rpartition(":")
    if "." in host or not port.isdigit() or host.startswith("[") or host.lower() == "localhost":
        return
    name = host.lower()
    if _has_port(client.get("v1", "Service", name, agents_namespace), int(port)):
        return
    try:
        same_name = [svc for svc in client.list("v1", "Service") if svc["metadata"]["name"] == name
                     and _has_port(svc, int(port))]
    except KmeshctlError:
        same_name = []
    found = sorted(_service_address(svc, int(port)) for svc in same_name)
    listed = f"Services of that name, by their full name: {', '.join(found)}"
    if not found:
        found = istiod_addresses_anywhere(client)
        listed = f"istiod Services found: {', '.join(found)}" if found else "no istiod Service found in the cluster"
    raise XdsServiceMissing(f"{flag} {address}: a bare Service name resolves only in the agents' own namespace "
                            f"({agents_namespace}), which has no Service {name} with port {port}; {listed}", found)


def check_not_cluster_ip(client: KubeClient, address: str, flag: str = "--xds-address") -> None:
    """An istiod Service's ClusterIP is refused (XdsServiceMissing, exit 2) with the
    Service's DNS name: istiod's certificate names its Services' DNS names, never the IP,
    so the agents' TLS hostname verification fails until the timeout."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    if not port.isdigit():
        return
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return
    for service in _istiod_services(client):
        spec = service.get("spec") or {}
        if str(ip) in {str(_ip_or_none(a)) for a in [spec.get("clusterIP"), *(spec.get("clusterIPs") or [])] if a}:
            dns = _service_address(service, int(port))
            raise XdsServiceMissing(f"{flag} {address}: the ClusterIP of Service {service['metadata'].get('namespace')}"
                                    f"/{service['metadata']['name']}, and istiod's certificate names the Service's "
                                    f"DNS name, not its IP (the agents' TLS check would fail): its DNS name is "
                                    f"{dns}", [dns])


def _ip_or_none(text: str) -> Optional[ipaddress._BaseAddress]:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _has_port(service: Optional[dict], port: int) -> bool:
    return service is not None and any(int(p.get("port", 0)) == port
                                       for p in (service.get("spec") or {}).get("ports") or [])


def check_istio_namespace(client: KubeClient, namespace: str, flag: str = "--istio-namespace") -> None:
    """The Istio namespace exists (the EnvoyFilters go there); else IstioNamespaceMissing
    naming the namespaces that have an istiod."""
    if client.get("v1", "Namespace", namespace) is not None:
        return
    with_istiod = sorted({a.split(".")[1] for a in istiod_addresses_anywhere(client)})
    raise IstioNamespaceMissing(f"{flag} {namespace}: no such namespace (namespaces with istiod: "
                                f"{', '.join(with_istiod) or 'none found'})", with_istiod)


def istiod_address_quickly(kubeconfig: Optional[str], context: Optional[str], istio_namespace: str,
                           limit: float) -> tuple[list[str], bool]:
    """(the istiod addresses of the cluster ``kubeconfig`` / ``context`` names, when it
    answers within ``limit`` seconds, else []; whether the cluster answered the lookup
    at all: False with no cluster, an unreachable or slow one). For a hint printed after
    a command line did not parse: the global options were not applied (_ask_quickly)."""
    found, answered = _ask_quickly(kubeconfig, context, limit, lambda client: istiod_addresses(client, istio_namespace))
    return found or [], answered


# -- istiod's own cluster id (what the agents' --cluster-id must be) --------------------------

# istiod's cluster id is its CLUSTER_ID environment variable, Istio's default when unset.
CLUSTER_ID_ENV = "CLUSTER_ID"
DEFAULT_CLUSTER_ID = "Kubernetes"
# kubectl's jsonpath printing a Deployment's CLUSTER_ID (nothing when unset).
CLUSTER_ID_JSONPATH = '{.spec.template.spec.containers[*].env[?(@.name=="CLUSTER_ID")].value}'


@dataclass(frozen=True)
class IstiodDeployment:
    """The Deployment behind an istiod Service, and the cluster id it runs with (None: set
    from elsewhere than the Deployment, e.g. a ConfigMap: not known here; ``defaulted``:
    its CLUSTER_ID is not set, so Istio's default)."""

    namespace: str
    name: str
    cluster_id: Optional[str]
    defaulted: bool = False

    @property
    def read_cluster_id(self) -> str:
        """The kubectl line that prints the cluster id, for a message to show in backticks."""
        return shlex.join(["kubectl", "-n", self.namespace, "get", "deploy", self.name, "-o",
                           f"jsonpath={CLUSTER_ID_JSONPATH}"])

    @property
    def read_logs(self) -> str:
        return shlex.join(["kubectl", "-n", self.namespace, "logs", f"deploy/{self.name}"])


def istiod_deployment(client: KubeClient, address: str) -> Optional[IstiodDeployment]:
    """The one Deployment whose pods the Service ``address`` names selects (istiod's);
    None when ``address`` is no cluster Service name, or none or several match, or they
    cannot be read (only a suggestion depends on it)."""
    named = cluster_service(address)
    if named is None:
        return None
    name, namespace, _ = named
    try:
        service = client.get("v1", "Service", name, namespace)
        selector = ((service or {}).get("spec") or {}).get("selector") or {}
        if not selector:
            return None
        deployments = [d for d in client.list("apps/v1", "Deployment", namespace=namespace)
                       if _selects(selector, (((d.get("spec") or {}).get("template") or {}).get("metadata") or {})
                                   .get("labels") or {})]
    except KmeshctlError:
        return None
    if len(deployments) != 1:
        return None
    deployment = deployments[0]
    containers = ((deployment.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
    settings = [e for c in containers for e in c.get("env") or [] if e.get("name") == CLUSTER_ID_ENV]
    cluster_id: Optional[str] = DEFAULT_CLUSTER_ID
    if settings:  # set from elsewhere (valueFrom), or empty: not known here
        cluster_id = None if "valueFrom" in settings[0] else settings[0].get("value") or None
    return IstiodDeployment(namespace, deployment["metadata"]["name"], cluster_id, defaulted=not settings)


def _selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def guessed_deployment(address: str) -> Optional[IstiodDeployment]:
    """istiod's Deployment by the name of its Service (istiod's chart names both alike),
    for a kubectl line when the Deployment itself could not be read; None for an address
    that is no cluster Service name."""
    named = cluster_service(address)
    return IstiodDeployment(named[1], named[0], None) if named else None


def same_service(address: str, other: str) -> bool:
    """Do two xDS addresses name the same Service and port (`istiod.istio-system.svc:15012`
    and its `.svc.cluster.local` form alike)? Otherwise compared as typed."""
    one, two = cluster_service(address), cluster_service(other)
    return one == two if one and two else address == other


class ClusterIdNotIstiods(UsageError):
    """--cluster-id is not the cluster id of the istiod the agents would connect to (its
    Deployment in this cluster names it): istiod would refuse every agent (UNAUTHENTICATED).
    Exit 2; ``own``: istiod's cluster id, the value to use."""

    def __init__(self, given: str, deployment: IstiodDeployment, flag: str = "--cluster-id") -> None:
        assert deployment.cluster_id is not None
        source = (f"its {CLUSTER_ID_ENV} is not set: Istio's default" if deployment.defaulted else
                  f"{CLUSTER_ID_ENV} of Deployment {deployment.namespace}/{deployment.name}")
        super().__init__(f"{flag} {shown(given)}: not istiod's cluster id, which is {shown(deployment.cluster_id)} "
                         f"({source}), and istiod refuses agents that send another")
        self.own = deployment.cluster_id


def check_istiods_cluster_id(client: KubeClient, address: str, cluster_id: str) -> None:
    """``cluster_id`` is the cluster id of istiod's Deployment behind the Service
    ``address``, when one is found in the cluster with its id set in the Deployment (or
    not set: Istio's default); else ClusterIdNotIstiods. Nothing is checked when istiod
    runs outside the cluster (ASM) or its id comes from elsewhere (a ConfigMap)."""
    deployment = istiod_deployment(client, address)
    if deployment is not None and deployment.cluster_id is not None and deployment.cluster_id != cluster_id:
        raise ClusterIdNotIstiods(cluster_id, deployment)


# Read once per client (a status, a hint): istiod's cluster id, None when not known.
def known_cluster_id(client: KubeClient, istio_namespace: str) -> Optional[str]:
    """The cluster id of the istiod in ``istio_namespace``, as its Deployment names it,
    read once per client; None when there is no istiod Deployment in the cluster (ASM),
    its id is set from elsewhere, its revisions disagree, or it cannot be read (a hint
    depends on it, nothing else: it keeps its placeholder then)."""
    key = ("istiod cluster id", istio_namespace)
    if key not in client.hint_facts:
        try:
            found = [istiod_deployment(client, address) for address in istiod_addresses(client, istio_namespace)]
            ids = {deployment.cluster_id for deployment in found if deployment is not None}
        except KmeshctlError:
            ids = set()
        client.hint_facts[key] = ids.pop() if len(ids) == 1 else None
    return client.hint_facts[key]


_T = TypeVar("_T")


def _ask_quickly(kubeconfig: Optional[str], context: Optional[str], limit: float,
                 ask: Callable[[KubeClient], _T]) -> tuple[Optional[_T], bool]:
    """(what ``ask`` answers of the cluster ``kubeconfig`` / ``context`` names within
    ``limit`` seconds, else None; whether it answered at all). The question runs in a
    thread left behind when slow; a credential plugin cannot prompt."""
    import os
    import sys
    import threading

    from kmeshctl import kube

    found: list[_T] = []
    target = kube.KubeTarget(kubeconfig or os.environ.get("KUBECONFIG") or None, context, limit)

    def look() -> None:
        with contextlib.suppress(Exception):  # no kubeconfig, no answer, no permission: nothing to offer
            found.append(ask(kube.connect(target)))

    saved_stdin, sys.stdin = sys.stdin, None  # type: ignore[assignment]
    try:
        worker = threading.Thread(target=look, daemon=True)
        worker.start()
        worker.join(limit)
    finally:
        sys.stdin = saved_stdin
    answered = list(found)  # the thread may still be running: read it once
    return (answered[0] if answered else None), bool(answered)


def known_cluster_id_quickly(kubeconfig: Optional[str], context: Optional[str], istio_namespace: str,
                             limit: float) -> Optional[str]:
    """known_cluster_id of the cluster configured, asked for at most ``limit`` seconds
    (None when it does not answer by then): for a hint, never a hang."""
    return _ask_quickly(kubeconfig, context, limit, lambda client: known_cluster_id(client, istio_namespace))[0]
