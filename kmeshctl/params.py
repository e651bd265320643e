"""The parameters of an install (what `render` and `install` turn into manifests) and
their checks. Every check raises a one-line UsageError naming the flag and the fix, so
bad input stops before anything is rendered or sent."""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass
from typing import Any, Iterable, Optional

import kmeshctl
from kmeshctl.asciinum import is_digits
from kmeshctl.errors import UsageError

DEFAULT_IMAGE = f"docker.io/kmeshctl/kmeshctl-node:{kmeshctl.__version__}"
DEFAULT_NAMESPACE = "kmesh-system"
DEFAULT_ISTIO_NAMESPACE = "istio-system"
DEFAULT_KUBERNETES_VERSION = "1.30"
SUPPORTED_MODES = ("dual-engine",)
XDS_ADDRESS_EXAMPLE = "istiod-1-22-6.istio-system.svc:15012"
# Stands in for istiod's address where only the other parameters matter (flag checks
# before discovery, the names uninstall deletes); it never reaches a cluster.
PLACEHOLDER_XDS_ADDRESS = "istiod.istio-system.svc:15012"

# kmeshctl creates the install namespace and `uninstall` deletes it again, so it must
# never be a namespace the cluster or Istio already depends on.
RESERVED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})


# --- the one form of a bad value ------------------------------------------------------
# Every range, choice and number mistake of every command reads
# `FLAG VALUE: PROBLEM; use WHAT` (docs/usage.md), whichever module finds it.
NOT_ACCEPTED = "not an accepted value"
OUT_OF_RANGE = "out of range"
NOT_A_NUMBER = "not a number"
NOT_AN_INTEGER = "not an integer"


def shown(value: object) -> str:
    """A value as a message shows it: bare, quoted only when a shell would need it."""
    text = str(value)
    return shlex.quote(text) if text else "''"


def one_of(choices: Iterable[object]) -> str:
    return "one of " + ", ".join(str(c) for c in choices)


def integer_range(low: int, high: int) -> str:
    return f"an integer from {low} to {high}"


def bad_value(flag: str, value: object, problem: str, want: str) -> UsageError:
    """The UsageError `FLAG VALUE: PROBLEM; use WANT` (exit 2)."""
    given = f"{flag}={value}" if flag.startswith("$") else f"{flag} {shown(value)}"  # $VAR=value
    return UsageError(f"{given}: {problem}; use {want}")


def check_choices(flag: str, value: str, known: Iterable[str], what: str = "") -> tuple[str, ...]:
    """A comma-separated list of names from ``known``, each once: the items; a UsageError
    in the one form naming the first unknown or repeated item otherwise (``what``: how
    the list is described in the fix, default `a comma-separated list of ...`)."""
    known = tuple(known)
    want = what or f"a comma-separated list of {', '.join(known)}"
    items = tuple(item.strip() for item in value.split(","))
    if not value.strip() or not all(items):
        raise bad_value(flag, value, "empty item" if value.strip() else "empty value", want)
    for item in items:
        if item not in known:
            raise bad_value(flag, value, f"{item} is {NOT_ACCEPTED}", want)
    for i, item in enumerate(items):
        if item in items[:i]:
            raise bad_value(flag, value, f"{item} is given twice", "each name once")
    return items


@dataclass(frozen=True)
class InstallParams:
    xds_address: str  # HOST:PORT, already resolved
    cluster_id: str
    image: str = DEFAULT_IMAGE
    namespace: str = DEFAULT_NAMESPACE
    mode: str = "dual-engine"
    enable_bypass: bool = False
    enable_bpf_log: bool = False
    istio_namespace: str = DEFAULT_ISTIO_NAMESPACE
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    network: str = ""  # the nodes' network (Istio's NETWORK); "" is the default network


def install_params(xds_address: str, cluster_id: Optional[str], **options: Any) -> InstallParams:
    """Checked InstallParams from the flags of `render` / `install` (`options`: the other
    InstallParams fields); raises UsageError naming the first bad flag."""
    if cluster_id is None:
        raise UsageError("--cluster-id is required; pass the id of this cluster (for ACK: the cluster id)")
    params = InstallParams(xds_address=xds_address, cluster_id=cluster_id, **options)
    check_install_params(params)
    return params


def check_install_params(p: InstallParams) -> None:
    """Raise UsageError for the first parameter that cannot produce a valid install."""
    check_xds_address(p.xds_address)
    check_cluster_id(p.cluster_id)
    check_image(p.image)
    check_mode(p.mode)
    check_namespace_name("--istio-namespace", p.istio_namespace)
    check_install_namespace(p.namespace, p.istio_namespace)
    check_kubernetes_version(p.kubernetes_version)
    check_network(p.network)


# --- xDS address -------------------------------------------------------------------

_DNS_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DNS_NAME_RE = re.compile(rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*\.?$")


def check_xds_address(value: str, flag: str = "--xds-address", allow_unix: bool = False) -> None:
    """HOST:PORT with a DNS name, IPv4 address or [IPv6] address and a port 1..65535 (and,
    with ``allow_unix``, unix:/path). The one check of an xDS address: render, install and
    node run word the same mistake the same way; ``flag`` is how the user gave the value
    (`--xds-address`, or `$XDS_ADDRESS`)."""
    form = "HOST:PORT or unix:/path" if allow_unix else "HOST:PORT"
    fix = f"use {form}, e.g. --xds-address {XDS_ADDRESS_EXAMPLE}"
    if allow_unix and value.startswith("unix:"):
        if not value[len("unix:"):].strip():
            raise UsageError(f"{flag} {shown(value)}: no socket path after unix:; {fix}")
        return
    host, port = _split_host_port(value, flag, fix)
    _check_host(value, host, flag, fix)
    _check_port(value, port, flag)


def _split_host_port(value: str, flag: str, fix: str) -> tuple[str, str]:
    if not value or value.strip() != value:
        raise UsageError(f"{flag} {shown(value)}: empty or has spaces; {fix}")
    if "://" in value:
        scheme = value.split("://", 1)[0]
        raise UsageError(f"{flag} {shown(value)}: no scheme ({scheme}://), istiod's xDS is gRPC over TLS; {fix}")
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise UsageError(f"{flag} {shown(value)}: missing port; {fix}")
        return host, rest[1:]
    host, sep, port = value.rpartition(":")
    if not sep:
        raise UsageError(f"{flag} {shown(value)}: missing port; {fix}")
    if ":" in host:
        raise UsageError(f"{flag} {shown(value)}: write an IPv6 host in brackets, e.g. [fd00::1]:15012")
    return host, port


def _check_host(value: str, host: str, flag: str, fix: str) -> None:
    if _is_ip_address(host) or (len(host) <= 253 and _DNS_NAME_RE.match(host)):
        return
    raise UsageError(f"{flag} {shown(value)}: {host!r} is not a host name or IP address; {fix}")


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _check_port(value: str, port: str, flag: str) -> None:
    want = f"{integer_range(1, 65535)} (istiod serves xDS on 15012)"
    if not is_digits(port):
        raise bad_value(flag, value, f"port {shown(port)} is {NOT_AN_INTEGER}", want)
    if not 1 <= int(port) <= 65535:
        raise bad_value(flag, value, f"port {port} is {OUT_OF_RANGE}", want)


# --- other flags --------------------------------------------------------------------

# Sent to istiod as gRPC metadata `clusterid` and used as the node's CLUSTER_ID: keep it
# to the characters cluster ids (ACK ids, Istio cluster names) are made of.
_LABEL_VALUE_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
_CLUSTER_ID_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$")


def check_network(value: str) -> None:
    """Istio network names are label values: 63 characters of letters, digits, '.', '_', '-'."""
    if value and not _LABEL_VALUE_RE.match(value):
        raise UsageError(f"--network {value!r}: use letters, digits, '.', '_' or '-' (max 63), starting and "
                         "ending with a letter or digit, e.g. --network network1")


def check_cluster_id(value: str) -> None:
    if not value:
        raise UsageError("--cluster-id is empty; pass the id of the cluster (for ACK: the cluster id shown in the console)")
    if not _CLUSTER_ID_RE.match(value):
        raise UsageError(
            f"--cluster-id {value!r}: use letters, digits, '.', '_' or '-' (max 253), "
            "starting and ending with a letter or digit"
        )


# The OCI / Docker reference grammar: [registry[:port]/]path[:tag][@digest].
_IMAGE_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IMAGE_DOMAIN = rf"(?:{_IMAGE_DOMAIN_COMPONENT}(?:\.{_IMAGE_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
_IMAGE_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_NAME = rf"(?:{_IMAGE_DOMAIN}/)?{_IMAGE_PATH_COMPONENT}(?:/{_IMAGE_PATH_COMPONENT})*"
_IMAGE_TAG = r"[\w][\w.-]{0,127}"
_IMAGE_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_IMAGE_RE = re.compile(rf"^(?P<name>{_IMAGE_NAME})(?::{_IMAGE_TAG})?(?:@{_IMAGE_DIGEST})?$")
_IMAGE_NAME_MAX = 255


def check_image(value: str) -> None:
    match = _IMAGE_RE.match(value)
    if not match or len(match.group("name")) > _IMAGE_NAME_MAX:
        raise UsageError(
            f"--image {value!r} is not an image reference; "
            f"use REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST], e.g. {DEFAULT_IMAGE}"
        )


def check_mode(value: str) -> None:
    if value not in SUPPORTED_MODES:
        raise bad_value("--mode", value, NOT_ACCEPTED, one_of(SUPPORTED_MODES))


# Kubernetes' DNS-1123 label rule: namespace names (and every other label-shaped name)
DNS1123_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def check_namespace_name(flag: str, value: str) -> None:
    if not DNS1123_LABEL_RE.match(value):
        raise UsageError(
            f"{flag} {value!r} is not a valid namespace name; use lower-case letters, "
            "digits and '-' (max 63), starting and ending with a letter or digit"
        )


def check_install_namespace(namespace: str, istio_namespace: str) -> None:
    check_namespace_name("--namespace", namespace)
    if namespace in RESERVED_NAMESPACES or namespace == istio_namespace:
        raise UsageError(
            f"--namespace {namespace!r}: kmeshctl creates this namespace and uninstall deletes it; "
            f"choose a dedicated one (default {DEFAULT_NAMESPACE})"
        )


def check_kubernetes_version(value: str) -> None:
    # Imported here: validate.py pulls in the schema packages, params stays light.
    from kmeshctl.validate import supported_kubernetes_versions

    supported = supported_kubernetes_versions()
    if normalize_kubernetes_version(value) not in supported:
        raise bad_value("--kubernetes-version", value, NOT_ACCEPTED, one_of(supported))


def normalize_kubernetes_version(value: str) -> str:
    """'v1.30.2' / '1.30' -> '1.30'; anything else is returned unchanged (and rejected)."""
    match = re.match(r"^v?([0-9]+)\.([0-9]+)(?:\.[0-9]+)?$", value)
    return f"{match.group(1)}.{match.group(2)}" if match else value
