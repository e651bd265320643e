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
from kmeshctl.kube import ApiError, KubeClient
from kmeshctl.params import DEFAULT_ISTIO_NAMESPACE, BadXdsAddress, check_xds_address, shown

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
        raise SeveralIstiods(istio_namespace, found)
    return found[0]


class SeveralIstiods(UsageError):
    """Several istiod Services (revisions) expose the xDS port in the Istio namespace and
    no --xds-address picks one (exit 2); ``found``: their addresses, for the command line
    to give the install to paste with each."""

    def __init__(self, istio_namespace: str, found: list[str]) -> None:
        super().__init__(f"several istiod revisions in {istio_namespace}: {', '.join(found)}",
                         fix="choose one with --xds-address")
        self.found = found


# -- checking an --xds-address / --istio-namespace against the cluster (before any write) ------

# A cluster Service's DNS name: NAME.NAMESPACE.svc, or .svc.cluster.local (optionally rooted).
_SERVICE_HOST = re.compile(r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?)\.([a-z0-9]([a-z0-9-]*[a-z0-9])?)\.svc"
                           r"(\.cluster\.local)?\.?$")


def guessed_xds_address(istio_namespace: str) -> str:
    """`istiod.NAMESPACE.svc:15012`: istiod's Service as Istio names it without a revision,
    the address a suggested command gives when this cluster's could not be looked up (it
    passes every offline check, so the line runs as pasted)."""
    return f"istiod.{istio_namespace}.svc:{XDS_PORT}"


def guessed_xds_note(istio_namespace: str, why: str) -> str:
    """The note after a suggested line carrying guessed_xds_address: ``why`` it is a guess,
    and the one case where it is wrong (a revisioned istiod)."""
    return (f" ({guessed_xds_address(istio_namespace)} is istiod's Service without a revision, {why}; "
            f"with a revisioned istiod, istiod-REVISION.{istio_namespace}.svc:{XDS_PORT})")


class XdsAddressRefused(UsageError):
    """--xds-address names an address the agents cannot use (exit 2): a cluster Service
    that does not exist, is not istiod's, lacks the port or is not named as istiod's
    certificate names it, or a value of a bad form with one clear correction;
    ``found``: the addresses to use instead (one: the install to paste gets it)."""

    def __init__(self, problem: str, found: list[str]) -> None:
        super().__init__(problem)
        self.found = found


class IstioNamespaceMissing(UsageError):
    """--istio-namespace names no namespace (exit 2); ``with_istiod``: the namespaces
    that have an istiod Service."""

    def __init__(self, problem: str, with_istiod: list[str], fix: str = "") -> None:
        super().__init__(problem, fix=fix)
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
    return sorted(_service_address(svc, XDS_PORT) for svc in istiod_services(client))


def istiod_services(client: KubeClient) -> list[dict]:
    """The istiod Services (is_istiod_service: the same test an --xds-address passes)
    exposing the xDS port in every namespace ([] when they may not be listed cluster-wide)."""
    return [svc for svc in _all_services(client) if is_istiod_service(svc) and _exposes_xds(svc)]


DEFAULT_REVISION = "default"  # Istio's revision with no name: its Service is plain `istiod`
TAG_LABEL = "istio.io/tag"  # on the MutatingWebhookConfiguration of a revision tag (istioctl tag set)


def known_revisions(client: KubeClient) -> Optional[list[str]]:
    """The istiod revisions and revision tags the cluster has, sorted: each istiod
    Service's istio.io/rev (unlabelled: `default` for `istiod`, R for `istiod-R`) and each
    revision tag's webhook istio.io/tag; None when they cannot all be read (a Gateway
    naming one of them may still be programmed: nothing can be said)."""
    try:
        services = istiod_services(client)
        webhooks = client.list("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration",
                               label_selector=TAG_LABEL)
    except (ApiError, KmeshctlError):
        return None
    found = {service_revision(svc) for svc in services}
    found |= {str((w["metadata"].get("labels") or {}).get(TAG_LABEL)) for w in webhooks}
    return sorted(r for r in found if r)


def service_revision(service: dict) -> Optional[str]:
    """The revision of istiod ``service``: its istio.io/rev label, or (unlabelled) as Istio
    names it: DEFAULT_REVISION for `istiod`, R for `istiod-R` (never `istiod-default`);
    None for another name."""
    from kmeshctl.waypoint.deploy import REVISION_LABEL

    metadata = service.get("metadata") or {}
    labelled = (metadata.get("labels") or {}).get(REVISION_LABEL)
    if labelled is not None:
        return str(labelled)
    name = str(metadata.get("name") or "")
    if name == "istiod":
        return DEFAULT_REVISION
    revision = name.removeprefix("istiod-")
    return revision if name.startswith("istiod-") and revision != DEFAULT_REVISION else None


def _all_services(client: KubeClient) -> list[dict]:
    """The Services of every namespace ([] when the API server refuses to list them
    cluster-wide). A cluster that does not answer is its error (ApiUnreachable...): an
    empty list would read as "no istiod in the cluster", which nobody looked at."""
    try:
        return client.list("v1", "Service")
    except ApiError:
        return []


# How Istio's charts mark istiod's Service, its selector and its pods (besides its name,
# `istiod` or `istiod-<revision>`): app=istiod, istio=pilot.
ISTIOD_LABELS = (("app", "istiod"), ("istio", "pilot"))


def is_istiod_service(service: dict) -> bool:
    """Is ``service`` istiod's: named as Istio names it (`istiod`, `istiod-<revision>`),
    or labelled or selecting pods as istiod's (ISTIOD_LABELS)? A Service in front of
    another program (kube-dns, the API server's `kubernetes`) is not."""
    metadata, spec = service.get("metadata") or {}, service.get("spec") or {}
    if str(metadata.get("name", "")).startswith("istiod"):
        return True
    return any((marks or {}).get(key) == value for marks in (metadata.get("labels"), spec.get("selector"))
               for key, value in ISTIOD_LABELS)


def _service_address(service: dict, port: int) -> str:
    """`NAME.NAMESPACE.svc:PORT`: a Service's DNS name, as the agents reach (and istiod's
    certificate names) it."""
    return f"{service['metadata']['name']}.{service['metadata'].get('namespace', '')}.svc:{port}"


def _xds_ports(service: dict) -> list[int]:
    """The ports of ``service`` that lead to istiod's xDS over TLS (15012, as the Service's
    port or the port it targets)."""
    return [int(p.get("port", 0)) for p in (service.get("spec") or {}).get("ports") or []
            if int(p.get("port", 0)) == XDS_PORT or p.get("targetPort") == XDS_PORT]


def istiod_address_of(service: dict, port: int) -> str:
    """``service``'s DNS name with its xDS port (``port`` when it has none)."""
    return _service_address(service, next(iter(_xds_ports(service)), port))


def _found_text(found: list[str]) -> str:
    return f"istiod Services found: {', '.join(found)}" if found else "no istiod Service found in the cluster"


# NAME.NAMESPACE: a Service's name without `.svc`, which the agents' DNS search path
# completes, though istiod's certificate names NAME.NAMESPACE.svc only (not this, nor
# NAME.NAMESPACE.svc.cluster.local: the agents' TLS hostname check fails on either).
_SERVICE_NAMESPACE_HOST = re.compile(r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?)\.([a-z0-9]([a-z0-9-]*[a-z0-9])?)\.?$")


def _named_service(client: KubeClient, address: str) -> Optional[tuple[str, str, int, bool]]:
    """(name, namespace, port, whether by the DNS name istiod's certificate names,
    NAME.NAMESPACE.svc) of the cluster Service ``address`` names: NAME.NAMESPACE.svc:PORT,
    its `.svc.cluster.local` form, or NAME.NAMESPACE:PORT when NAMESPACE is a namespace of
    the cluster (else it is taken for an outside host, `istiod.corp`)."""
    host, _, port = address.rpartition(":")
    named = cluster_service(address)
    if named is not None:
        return (*named, host.lower().rstrip(".").endswith(".svc"))
    found = _SERVICE_NAMESPACE_HOST.match(host.lower())
    if found is None or not port.isdigit() or client.get("v1", "Namespace", found.group(3)) is None:
        return None
    return found.group(1), found.group(3), int(port), False


# The ports of Istio's istiod Services that are not xDS over TLS (its chart's names), known
# without a cluster: 15010 (plain-text xDS) is refused by every check already (kmeshctl.params).
ISTIOD_OTHER_PORTS = {443: "https-webhook", 15014: "http-monitoring"}


def check_xds_address_offline(address: str, istio_namespace: str, flag: str = "--xds-address") -> None:
    """What check_xds_service refuses of a cluster Service's address that no cluster is
    needed to know (render, a dry run with no cluster): a name istiod's certificate does
    not carry (NAME.NAMESPACE.svc.cluster.local, or NAME.ISTIO_NAMESPACE with no `.svc`)
    and a port of Istio's istiod Service (`istiod`, `istiod-<revision>`) that is not its
    xDS port (ISTIOD_OTHER_PORTS). XdsAddressRefused in check_xds_service's words, its one
    address the Service's DNS name at port 15012; anything else passes (the cluster is
    what would judge it), as does an address of a bad form (check_xds_address words that)
    unless the address it offers is refused in turn: the fix then offers the one that passes.
    Also refused: what the agents cannot use wherever istiod is (check_agents_host), and
    a bare istiod Service name (`istiod:15012`: it resolves in the agents' namespace)."""
    try:
        check_xds_address(address, flag)
    except BadXdsAddress as error:
        settled = settled_address(error.meant, istio_namespace)
        if settled != error.meant:  # `H.NS.svc.cluster.local.`: not `...local.:15012`, refused next
            raise XdsAddressRefused(error.problem, [settled]) from None
        return
    except UsageError:
        return
    check_agents_host(address, istio_namespace, flag)
    host, _, port = address.rpartition(":")
    # (with a cluster check_short_name judges it: the agents' namespace may have such a Service)
    if "." not in host and _istiod_named(host.lower()):
        number = int(port) if int(port) not in ISTIOD_OTHER_PORTS else XDS_PORT
        raise XdsAddressRefused(f"{flag} {address}: a bare Service name resolves only in the agents' own "
                                f"namespace, not in {istio_namespace} where istiod runs",
                                [f"{host.lower()}.{istio_namespace}.svc:{number}"])
    named = cluster_service(address)
    if named is None:
        found = _SERVICE_NAMESPACE_HOST.match(host.lower())
        if found is None or found.group(3) != istio_namespace or not port.isdigit():
            return
        named = (found.group(1), found.group(3), int(port))
    name, namespace, number = named
    fixed = number if number not in ISTIOD_OTHER_PORTS or not _istiod_named(name) else XDS_PORT
    dns = f"{name}.{namespace}.svc:{fixed}"
    if fixed != number:
        raise XdsAddressRefused(f"{flag} {address}: port {number} of Service {namespace}/{name} "
                                f"({ISTIOD_OTHER_PORTS[number]}) is not istiod's xDS port ({XDS_PORT}, TLS)", [dns])
    if not host.lower().rstrip(".").endswith(".svc"):
        raise XdsAddressRefused(f"{flag} {address}: istiod's certificate names the Service by its DNS name "
                                f"{dns.rpartition(':')[0]}, not {host} (the agents' TLS check would fail)", [dns])


def settled_address(address: str, istio_namespace: str) -> str:
    """``address`` (of a good form), or the one check_xds_address_offline offers for it."""
    try:
        check_xds_address_offline(address, istio_namespace)
    except XdsAddressRefused as refused:
        return refused.found[0] if refused.found else address
    return address


def check_agents_host(address: str, istio_namespace: str, flag: str = "--xds-address") -> None:
    """What the installed agents cannot use, known without a cluster (install checks it
    before connecting): they run on each node's own network, so a loopback host (localhost,
    127.0.0.1, ::1) is the node itself, a link-local one (169.254.x.x, fe80::/10, with or
    without a %zone) one node's link, and 0.0.0.0 / :: no destination at all (each refused
    offering istiod's unrevisioned Service, guessed_xds_address). XdsAddressRefused, exit 2."""
    host = address.rpartition(":")[0].strip("[]").lower().rstrip(".")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    mapped = getattr(ip, "ipv4_mapped", None) or ip
    if mapped is not None and mapped.is_unspecified:
        problem = f"{host} is no destination (a listener's 'every address'), so the agents reach nothing there"
    elif (mapped is not None and mapped.is_loopback) or host == "localhost" or host.endswith(".localhost"):
        problem = f"{host} is each node itself (the agents run on the node's own network), not istiod"
    elif mapped is not None and mapped.is_link_local:
        problem = (f"{host} is a link-local address (valid on one network link only, so the agents on the "
                   "other nodes cannot reach it), not istiod's Service")
    else:
        return
    raise XdsAddressRefused(f"{flag} {address}: {problem}", [guessed_xds_address(istio_namespace)])


def _istiod_named(name: str) -> bool:
    """Named as Istio names istiod's Service: `istiod`, `istiod-<revision>`."""
    return name == "istiod" or name.startswith("istiod-")


def check_xds_service(client: KubeClient, address: str, flag: str = "--xds-address",
                      agents_namespace: Optional[str] = None) -> None:
    """The cluster Service ``address`` names (NAME.NAMESPACE.svc or NAME.NAMESPACE) exists,
    is istiod's, and is given by its DNS name with istiod's xDS port (check_istiod_service);
    else XdsAddressRefused naming the istiod address(es) to use. With ``agents_namespace``
    (where the agents run) two more addresses are judged: a bare Service name
    (check_short_name) and a Service's ClusterIP (check_not_cluster_ip). Nothing is
    checked for an address outside the cluster's Services (ASM's istiod, a load balancer)."""
    if agents_namespace is not None:
        check_short_name(client, address, agents_namespace, flag)
        check_not_cluster_ip(client, address, flag)
    named = _named_service(client, address)
    if named is None:
        return
    name, namespace, port, by_dns_name = named
    service = client.get("v1", "Service", name, namespace)
    if service is None:
        found = istiod_addresses_anywhere(client)
        raise XdsAddressRefused(f"{flag} {address}: no Service {name} in namespace {namespace}; "
                                f"{_found_text(found)}", found)
    check_istiod_service(client, service, address, flag, by_dns_name)


def check_istiod_service(client: KubeClient, service: dict, address: str, flag: str = "--xds-address",
                         by_dns_name: bool = True) -> None:
    """``service`` (the one ``address`` names) is istiod's, ``address``'s port is its xDS
    port (check_xds_port), and (``by_dns_name``) it names the Service as istiod's
    certificate does (NAME.NAMESPACE.svc), which the agents' TLS check compares it with;
    else XdsAddressRefused with the address to use."""
    host = address.rpartition(":")[0]
    if not is_istiod_service(service):
        found = istiod_addresses_anywhere(client)
        raise XdsAddressRefused(f"{flag} {address}: not an istiod Service ({_service_ref(service)}); "
                                f"{_found_text(found)}", found)
    check_xds_port(client, service, address, flag)
    if not by_dns_name:
        dns = istiod_address_of(service, int(address.rpartition(":")[2]))
        raise XdsAddressRefused(f"{flag} {address}: istiod's certificate names the Service by its DNS name "
                                f"{dns.rpartition(':')[0]}, not {host} (the agents' TLS check would fail)", [dns])


def check_xds_port(client: KubeClient, service: dict, address: str, flag: str = "--xds-address") -> None:
    """``address``'s port is the istiod Service ``service``'s xDS port (TLS, 15012): the
    agents speak nothing else (its other ports answer metrics, webhooks, or nothing); else
    XdsAddressRefused with that Service at its xDS port (the istiod Services found when
    it has none)."""
    port = int(address.rpartition(":")[2])
    xds_ports = _xds_ports(service)
    if port in xds_ports:
        return
    found = [istiod_address_of(service, port)] if xds_ports else istiod_addresses_anywhere(client)
    ports = {int(p.get("port", 0)): p.get("name") for p in (service.get("spec") or {}).get("ports") or []}
    where = _service_ref(service)
    if port not in ports:
        problem = f"{where} has no port {port} (its ports: {', '.join(map(str, sorted(ports))) or 'none'})"
    else:
        named = f" ({ports[port]})" if ports[port] else ""
        problem = f"port {port} of {where}{named} is not istiod's xDS port ({XDS_PORT}, TLS)"
    listed = "" if xds_ports else f"; {_found_text(found)}"
    raise XdsAddressRefused(f"{flag} {address}: {problem}{listed}", found)


def _service_ref(service: dict) -> str:
    return f"Service {service['metadata'].get('namespace')}/{service['metadata']['name']}"


def check_short_name(client: KubeClient, address: str, agents_namespace: str, flag: str = "--xds-address") -> None:
    """A bare Service name (`istiod:15012`) resolves only to a Service of the agents' own
    namespace (their DNS search path): one that is not there is refused (XdsAddressRefused,
    exit 2) with the Services of that name elsewhere (NAME.NAMESPACE.svc:PORT), else the
    istiod Services, as the addresses to use (the agents would fail DNS until the
    timeout); one that is there is judged as the Service it names (check_istiod_service:
    a bare name is never what istiod's certificate names)."""
    host, _, port = address.rpartition(":")
    if "." in host or not port.isdigit() or host.startswith("[") or host.lower() == "localhost":
        return
    name = host.lower()
    own = client.get("v1", "Service", name, agents_namespace)
    if own is not None:
        check_istiod_service(client, own, address, flag, by_dns_name=False)
        return
    same_name = [svc for svc in _all_services(client) if svc["metadata"]["name"] == name and _has_port(svc, int(port))]
    found = sorted(_service_address(svc, int(port)) for svc in same_name)
    listed = f"Services of that name, by their full name: {', '.join(found)}"
    if not found:
        found = istiod_addresses_anywhere(client)
        listed = _found_text(found)
    raise XdsAddressRefused(f"{flag} {address}: a bare Service name resolves only in the agents' own namespace "
                            f"({agents_namespace}), which has no Service {name} with port {port}; {listed}", found)


def check_not_cluster_ip(client: KubeClient, address: str, flag: str = "--xds-address") -> None:
    """A Service's ClusterIP is refused (XdsAddressRefused, exit 2): an istiod Service's
    with the Service's DNS name (istiod's certificate names its Services' DNS names, never
    the IP, so the agents' TLS hostname verification fails until the timeout), another
    Service's as not istiod, with the istiod Services found. Another IP (a pod's, a load
    balancer's) is not checked."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    if not port.isdigit():
        return
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return
    for service in _all_services(client):
        spec = service.get("spec") or {}
        if str(ip) not in {str(_ip_or_none(a)) for a in [spec.get("clusterIP"), *(spec.get("clusterIPs") or [])] if a}:
            continue
        where = _service_ref(service)
        if not is_istiod_service(service):
            found = istiod_addresses_anywhere(client)
            raise XdsAddressRefused(f"{flag} {address}: the ClusterIP of {where}, not an istiod Service; "
                                    f"{_found_text(found)}", found)
        dns = istiod_address_of(service, int(port))
        raise XdsAddressRefused(f"{flag} {address}: the ClusterIP of {where}, and istiod's certificate names the "
                                f"Service's DNS name, not its IP (the agents' TLS check would fail): its DNS name is "
                                f"{dns}", [dns])


def _ip_or_none(text: str) -> Optional[ipaddress._BaseAddress]:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _has_port(service: Optional[dict], port: int) -> bool:
    return service is not None and any(int(p.get("port", 0)) == port
                                       for p in (service.get("spec") or {}).get("ports") or [])


NO_ISTIO_FIX = ("install Istio or add the cluster to an ASM instance, then re-run; if Istio's namespace has "
                "another name, give it with --istio-namespace NAMESPACE (the waypoint EnvoyFilters go there), "
                "and --xds-address HOST:PORT for an istiod outside the cluster")


def check_istio_namespace(client: KubeClient, namespace: str, flag: str = "--istio-namespace") -> None:
    """The Istio namespace exists (the EnvoyFilters go there); else IstioNamespaceMissing
    naming the namespaces that have an istiod (exit 2: the value is wrong). The default
    namespace missing with no istiod anywhere is the cluster's lack, not a value's: a
    KmeshctlError (exit 1) saying no Istio was found, with how to get it (NO_ISTIO_FIX)."""
    if client.get("v1", "Namespace", namespace) is not None:
        return
    with_istiod = sorted({a.split(".")[1] for a in istiod_addresses_anywhere(client)})
    if not with_istiod and namespace == DEFAULT_ISTIO_NAMESPACE:
        raise KmeshctlError(f"no Istio found in the cluster (no namespace {namespace}, no istiod Service exposing "
                            f"port {XDS_PORT} in any namespace)", fix=NO_ISTIO_FIX)
    listed = f"namespaces with istiod: {', '.join(with_istiod) or 'none found'}"
    problem = (f"no namespace {namespace} (the default {flag}; {listed})" if namespace == DEFAULT_ISTIO_NAMESPACE
               else f"{flag} {namespace}: no such namespace ({listed})")  # the user's value: named as typed
    raise IstioNamespaceMissing(problem, with_istiod, fix="" if with_istiod else
                                f"give {flag} the namespace Istio runs in; with no Istio in the cluster, "
                                "install it or add the cluster to an ASM instance")


def istiod_address_quickly(kubeconfig: Optional[str], context: Optional[str], istio_namespace: str,
                           limit: float) -> tuple[list[str], bool]:
    """(the istiod addresses of the cluster ``kubeconfig`` / ``context`` names, when it
    answers within ``limit`` seconds, else []; whether the cluster answered the lookup
    at all: False with no cluster, an unreachable or slow one). For a hint printed after
    a command line did not parse: the global options were not applied (ask_quickly)."""
    found, answered = ask_quickly(kubeconfig, context, limit, lambda client: istiod_addresses(client, istio_namespace),
                                  f"asking for istiod's address in namespace {istio_namespace}")
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
    replicas: Optional[int] = None  # spec.replicas (None: not read)
    ready: int = 0  # status.readyReplicas

    @property
    def none_ready(self) -> bool:
        """No istiod pod is ready (scaled to 0, or its pods not starting): nothing answers the agents."""
        return self.replicas is not None and self.ready == 0

    @property
    def idle_text(self) -> str:
        """`Deployment istio-system/istiod has 0/0 ready replicas`: the one way every command
        names an istiod with no ready pod (none_ready)."""
        return f"Deployment {self.namespace}/{self.name} has 0/{self.replicas} ready replicas"

    @property
    def idle_fix(self) -> str:
        """What brings an idle istiod back: `scale it up (`kubectl ... --replicas=1`)` when it
        is scaled to 0, else `see why its pods are not ready (`kubectl ... describe ...`)`."""
        if self.replicas == 0:
            return f"scale it up (`{self.scale_up_line}`)"
        return f"see why its pods are not ready (`{self.describe_line}`)"

    @property
    def scale_up_line(self) -> str:
        return shlex.join(["kubectl", "-n", self.namespace, "scale", "deploy", self.name, "--replicas=1"])

    @property
    def describe_line(self) -> str:
        return shlex.join(["kubectl", "-n", self.namespace, "describe", "deploy", self.name])

    @property
    def rollout_status_line(self) -> str:
        """The kubectl line that waits for its pods to be ready (at most 5 minutes)."""
        return shlex.join(["kubectl", "-n", self.namespace, "rollout", "status", f"deploy/{self.name}",
                           "--timeout=5m"])

    @property
    def read_cluster_id(self) -> str:
        """The kubectl line that prints the cluster id, for a message to show in backticks."""
        return shlex.join(["kubectl", "-n", self.namespace, "get", "deploy", self.name, "-o",
                           f"jsonpath={CLUSTER_ID_JSONPATH}"])

    @property
    def read_logs(self) -> str:
        return shlex.join(["kubectl", "-n", self.namespace, "logs", f"deploy/{self.name}"])


def istiod_deployment(client: KubeClient, address: str) -> Optional[IstiodDeployment]:
    """The one Deployment whose pods the istiod Service ``address`` names selects; None
    when ``address`` is no cluster Service name or names no istiod Service
    (is_istiod_service), or none or several Deployments match, or they cannot be read
    (only a suggestion and the cluster id check depend on it)."""
    named = cluster_service(address)
    if named is None:
        return None
    name, namespace, _ = named
    try:
        service = client.get("v1", "Service", name, namespace)
        if service is None or not is_istiod_service(service):  # CoreDNS's Deployment is not istiod's
            return None
        selector = (service.get("spec") or {}).get("selector") or {}
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
    wanted, status = (deployment.get("spec") or {}).get("replicas"), deployment.get("status") or {}
    replicas = None if "observedGeneration" not in status else 1 if wanted is None else int(wanted)  # not yet seen
    return IstiodDeployment(namespace, deployment["metadata"]["name"], cluster_id, defaulted=not settings,
                            replicas=replicas, ready=int(status.get("readyReplicas") or 0))


def idle_istiod(client: KubeClient, address: str) -> Optional[IstiodDeployment]:
    """The Deployment of the istiod Service ``address`` names when none of its pods is ready
    (IstiodDeployment.none_ready: scaled to 0, or not starting): the agents would get no
    xDS from it. None when one is ready, or it cannot be told (istiod_deployment: no such
    Deployment, several, unreadable, or its status not yet written). The one check of
    install, `waypoint apply --wait` / `waypoint status` and the rollout's diagnosis."""
    deployment = istiod_deployment(client, address)
    return deployment if deployment is not None and deployment.none_ready else None


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


ASKING_FOR_A_HINT = "asking for this error's hint"  # ask_quickly's waiting note, when not told what it asks


def ask_quickly(kubeconfig: Optional[str], context: Optional[str], limit: float,
                 ask: Callable[[KubeClient], _T], asking: str = ASKING_FOR_A_HINT) -> tuple[Optional[_T], bool]:
    """(what ``ask`` answers of the cluster ``kubeconfig`` / ``context`` names within
    ``limit`` seconds, else None; whether it answered at all). The question runs in a
    thread left behind when slow; a credential plugin cannot prompt. ``asking`` is what
    the waiting note says it asks (`asking whether foo is a namespace, up to 2s`)."""
    import os
    import sys
    import threading

    from kmeshctl import kube

    found: list[_T] = []
    target = kube.KubeTarget(kubeconfig or kube.kubeconfig_from_env(os.environ.get("KUBECONFIG")), context, limit,
                             kube.run_quiet(), asking=asking)  # read here: the look-up's thread has no CLI context

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
    return ask_quickly(kubeconfig, context, limit, lambda client: known_cluster_id(client, istio_namespace),
                       "asking for istiod's cluster id")[0]
