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
# --request-timeout: how long one Kubernetes API request may take (kubectl's flag; 0: no limit)
DEFAULT_REQUEST_TIMEOUT_S = 30.0
# The node agent's requests to the API server (its lists and pod annotation patches): one that
# takes longer is given up and retried, so a half-open connection never stalls enrollment.
AGENT_API_TIMEOUT_S = 10.0
# The agent's watches end on the server after this long (timeoutSeconds) and are resumed; one
# silent past it plus the slack is taken for a dead connection (bookmarks come about every minute).
AGENT_WATCH_SECONDS = 60
AGENT_WATCH_READ_SLACK_S = 30.0
# Shell completion asks the cluster (`enable-ns <TAB>`: its namespaces) at most this long in
# all (loading the client included), then offers nothing: a TAB must never hang the shell.
COMPLETION_LOOKUP_TIMEOUT_S = 2.0
# A hint that names a value read from the cluster (istiod's cluster id in a suggested install)
# asks it at most this long (within --request-timeout), else keeps its placeholder.
HINT_LOOKUP_TIMEOUT_S = 5.0
# A process started into a pod's (or the sandbox's) cgroup is waited for until it is there.
CGROUP_JOIN_TIMEOUT_S = 5.0
# A request (the API server's, an agent's admin endpoint) silent this long: a `waiting for ...`
# line on stderr says what is being waited for (kmeshctl.kube, kmeshctl.config_dump).
WAITING_NOTE_AFTER_S = 1.0
# `waypoint apply --wait --timeout`: how long its pods and istiod's Gateway status are awaited.
WAYPOINT_WAIT_TIMEOUT_S = 180.0
# `waypoint delete --timeout`: how long its objects are awaited until they are gone (0: no limit).
WAYPOINT_DELETE_TIMEOUT_S = 120.0
# `waypoint apply` defaults (kmeshctl.waypoint.deploy): the waypoint's name, namespace, pods, image.
WAYPOINT_DEFAULT_NAME = "waypoint"
WAYPOINT_DEFAULT_NAMESPACE = "default"
WAYPOINT_DEFAULT_REPLICAS = 1
# Built from Dockerfile.waypoint: kmeshctl and Envoy (the node image has no Envoy).
WAYPOINT_DEFAULT_IMAGE = f"docker.io/kmeshctl/kmeshctl-waypoint:{kmeshctl.__version__}"
# How often `waypoint apply --wait` asks for the waypoint's pods and its Gateway's status.
WAYPOINT_POLL_S = 1.0
# How often `waypoint delete` asks whether a deleted object is gone yet.
WAYPOINT_GONE_POLL_S = 0.5
# `waypoint delete`: reads and deletes of one object replaced in between (a new uid) before it gives up.
WAYPOINT_DELETE_ATTEMPTS = 3
# The existing namespaces the error of a missing one lists (`waypoint apply -n typo`).
WAYPOINT_NAMESPACES_SHOWN = 8
SUPPORTED_MODES = ("dual-engine",)
XDS_ADDRESS_EXAMPLE = "istiod-1-22-6.istio-system.svc:15012"
XDS_HOST_EXAMPLE = "istiod.istio-system.svc"  # istiod's Service without a revision (upstream Istio)
XDS_PORT_EXAMPLE = 15012
# istiod's plaintext xDS port: the agents always speak TLS to istiod (on 15012), so an
# --xds-address with this port is refused before anything is rendered or applied.
XDS_PLAINTEXT_PORT = 15010
DEMO_NAMESPACE = "default"  # `demo traffic-shift -n`: where examples/fortio/ puts the demo's objects
DEMO_WAYPOINT = "waypoint-demo"  # the demo's waypoint name when `waypoint` is taken by another object
DEMO_REQUESTS = 20  # `demo traffic-shift -c`: requests per phase (enough to judge 90/10, 50/50, 0/100; 80/20 needs 24)
# While a cluster demo's phase runs, the time on its weights record (the VirtualService's
# kmeshctl.io/demo-original-weights) is rewritten this often: another host's run takes a record
# younger than demo_cluster.OTHER_HOST_RUN_S (600 s) for a run still going.
DEMO_RECORD_REFRESH_S = 120.0
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


# An echoed value longer than this is cut (a 10,000-character argument must not make a
# 10,000-character error line): its head, an ellipsis and its length.
# Terminal tables (kmeshctl.cli.tables): a column this wide or narrower is "short" (a
# check's name, a state, an id) and wraps only after the long ones have narrowed, which
# fold their words down to TABLE_FOLD_FLOOR characters first.
TABLE_SHORT_COLUMN = 16
TABLE_FOLD_FLOOR = 12
TABLE_EMPTY = "<none>"  # the empty cell of every table (kubectl's marker); JSON / YAML keep null or []
MAX_SHOWN = 80
SHOWN_HEAD = 60


def bounded(value: object, limit: int = MAX_SHOWN) -> str:
    """``value`` as text, cut to its first characters plus `... (N characters)` when it is
    longer than ``limit``."""
    text = str(value)
    if len(text) <= limit:
        return text
    return f"{text[:min(SHOWN_HEAD, limit)]}... ({len(text)} characters)"


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """`1 pod`, `2 pods`, `0 pods`: a count with its noun in the right number (never
    `pod(s)`); ``plural`` when not the noun + s."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def shown(value: object, whole: bool = False) -> str:
    """A value echoed in an error, by the one quoting rule of every message: as a shell
    would need it typed (shlex.quote: bare when nothing in it is special, `'Bad Name'`
    when it is), a control character escaped (`'a\\nb'`: the message stays one line),
    cut (see bounded) when long unless ``whole`` (a path the user must find again)."""
    text = str(value)
    head = text if whole or len(text) <= MAX_SHOWN else text[:SHOWN_HEAD]
    more = "" if head is text else f"... ({len(text)} characters)"
    if not head.isprintable():
        return "'" + head.encode("unicode_escape").decode("ascii").replace("'", "\\'") + "'" + more
    if head and not _SHELL_SPECIAL.search(head):
        # letters and digits of any script are safe (`９`): shown as typed; `img:` quoted (`img:: ...` misreads)
        return (f"'{head}'" if head.endswith(":") else head) + more
    return (shlex.quote(head) if head else "''") + more


# shlex.quote's safe characters, with \w taken in the Unicode sense (a shell needs no quotes
# around `９` or `é`): anything else in a value makes it quoted.
_SHELL_SPECIAL = re.compile(r"[^\w@%+=:,./-]")


def given_text(flag: str, value: object) -> str:
    """How an error echoes a value and where it came from: `--name 'Bad Name'`, or
    `$VAR='Bad Name'` for an environment variable."""
    return f"{flag}={shown(value)}" if flag.startswith("$") else f"{flag} {shown(value)}"


def one_of(choices: Iterable[object]) -> str:
    return "one of " + ", ".join(str(c) for c in choices)


def integer_range(low: int, high: int) -> str:
    return f"an integer from {low} to {high}"


def bad_value(flag: str, value: object, problem: str, want: str) -> UsageError:
    """The UsageError `FLAG VALUE: PROBLEM; use WANT` (exit 2)."""
    return UsageError(f"{given_text(flag, value)}: {problem}; use {want}")


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
        raise UsageError(f"--cluster-id is required; use {CLUSTER_ID_WANT}")
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
_DNS_NAME_RE = re.compile(rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*\.?\Z")


class BadXdsAddress(UsageError):
    """An xDS address of a bad form whose correction is clear (exit 2): ``meant``, the
    address to give instead (the typed host with istiod's port, a scheme dropped), which
    a command may offer as the whole command to paste; ``problem`` is the line without
    the fix."""

    def __init__(self, problem: str, fix: str, meant: str) -> None:
        super().__init__(problem, fix=fix)
        self.meant = meant


def check_xds_address(value: str, flag: str = "--xds-address", allow_unix: bool = False) -> None:
    """HOST:PORT with a DNS name, IPv4 address or [IPv6] address and a port 1..65535 but
    istiod's plaintext 15010 (and, with ``allow_unix``, unix:/path). The one check of an
    xDS address: render, install and node run word the same mistake the same way; ``flag``
    is how the user gave the value (`--xds-address`, or `$XDS_ADDRESS`). A missing port or
    a scheme is BadXdsAddress, its fix the typed host with istiod's port."""
    _check_xds_address(value, flag, allow_unix, _meant_address(value))


def _check_xds_address(value: str, flag: str, allow_unix: bool, meant: Optional[str]) -> None:
    """check_xds_address; ``meant``: the address offered for a value of a bad form."""
    form = "HOST:PORT or unix:/path" if allow_unix else "HOST:PORT"
    fix = f"use {form}, e.g. {_as_typed(flag, meant or XDS_ADDRESS_EXAMPLE)}"
    if allow_unix and value.startswith("unix:"):
        if not value[len("unix:"):].strip():
            raise UsageError(f"{given_text(flag, value)}: no socket path after unix:; {fix}")
        return
    if value.startswith("unix:"):
        # Only a node agent can reach a socket on its own machine: the DaemonSet's agents
        # reach istiod over the network, by its Service's HOST:PORT.
        raise bad_value(flag, value, "a unix socket is only for `kmeshctl node run` (the installed agents "
                        "reach istiod over the network)", f"HOST:PORT of istiod's Service, e.g. {XDS_ADDRESS_EXAMPLE}")
    host, port = _split_host_port(value, flag, fix, meant)
    _check_host(value, host, port, flag, fix)
    _check_brackets(value, host, port, flag)
    _check_port(value, host, port, flag)


def _split_host_port(value: str, flag: str, fix: str, meant: Optional[str]) -> tuple[str, str]:
    if not value or value.strip() != value:
        raise UsageError(f"{given_text(flag, value)}: empty or has spaces; {fix}")
    _refuse_list(value, flag)  # `a,b`, `'a:1 b:1'`: a list, whatever its parts lack
    if "://" in value:
        scheme = value.split("://", 1)[0]
        _refuse(f"{given_text(flag, value)}: no scheme ({scheme}://), istiod's xDS is gRPC over TLS", fix, meant)
    if value.startswith("["):
        _refuse_list(value, flag)
        host, sep, rest = value[1:].partition("]")
        if not sep or not rest.startswith(":"):
            _refuse(f"{given_text(flag, value)}: missing port", fix, meant)
        return host, rest[1:]
    host, sep, port = value.rpartition(":")
    if not sep:
        _refuse(f"{given_text(flag, value)}: missing port", fix, meant)
    if ":" in host:
        _refuse_colons(value, host, flag)
    return host, port


def _first_address(value: str, flag: str) -> str:
    """The first HOST:PORT of ``value`` when it is a good one (or one whose meaning is
    clear: `istiod` of `istiod,istiod2` is istiod:15012), else istiod's example."""
    first = _LIST_SEPARATORS.split(value, 1)[0]
    candidates = [first, first.lstrip("["), ":".join(first.split(":")[:2])]  # `A:1,B:2`, `[A:1,B:2]`, `H:1:2`
    if first != value:  # a list's first part: itself a value of a bad form may mean one
        candidates += [m for m in map(_meant_address, candidates) if m is not None]
    for example in dict.fromkeys(c for c in candidates if c != value):  # never the value refused: no loop
        try:
            _check_xds_address(example, flag, False, None)
        except UsageError:
            continue
        return example
    return XDS_ADDRESS_EXAMPLE


# What separates the addresses of a list: a comma, a semicolon, white space (`'a:1 b:1'`).
_LIST_SEPARATORS = re.compile(r"[,;\s]+")


def _refuse_list(value: str, flag: str) -> None:
    """A list of addresses (`A:1,B:2`, `[A:1,B:2]`, `'A:1 B:1'`, `A,B`): one address
    HOST:PORT is taken, the first (its port added when it lacks one) offered."""
    one = re.sub(r"\s*:\s*", ":", value.strip())  # `istiod: 15012` is one address with a space (said so)
    if len([part for part in _LIST_SEPARATORS.split(one) if part]) > 1:
        _refuse_as_one(flag, value, "a list of addresses")


def _refuse_colons(value: str, host: str, flag: str) -> None:
    """A value with more than one ':' outside brackets: a list (`A:1,B:2`) or a second
    port (`H:1:2`) is refused as one address HOST:PORT, with its first one as the example;
    an IPv6 address without brackets is told to bracket it."""
    _refuse_list(value, flag)
    if _is_ip_address(value):  # `fd00::7`: the address alone, never a port 7
        meant = f"[{value}]:{XDS_PORT_EXAMPLE}"
    elif _is_ip_address(host):
        meant = _with_port(f"[{host}]", value.rpartition(":")[2])
    else:
        _refuse_as_one(flag, value, "more than one ':'")
    _refuse(f"{given_text(flag, value)}: write an IPv6 host in brackets", f"use [HOST]:PORT, e.g. {_as_typed(flag, meant)}",
            meant)


def _refuse_as_one(flag: str, value: str, problem: str) -> None:
    """`FLAG VALUE: PROBLEM; use one address HOST:PORT, e.g. ...`, its first good address
    the one meant (BadXdsAddress: a command checks that one too before offering it)."""
    example = _first_address(value, flag)
    _refuse(f"{given_text(flag, value)}: {problem}", f"use one address HOST:PORT, e.g. {_as_typed(flag, example)}",
            example if example != XDS_ADDRESS_EXAMPLE else None)


def _refuse(problem: str, fix: str, meant: Optional[str]) -> None:
    """UsageError `PROBLEM; FIX`: a BadXdsAddress when the address meant is known."""
    if meant is None:
        raise UsageError(problem, fix=fix)
    raise BadXdsAddress(problem, fix, meant)


def _meant_address(value: str) -> Optional[str]:
    """The address ``value`` means when it has a scheme (`https://H:P/`) or no port
    (`H`): its host with its port when a good one (_with_port), else istiod's xDS port
    (15012); None when that is no good address either, or ``value`` has neither mistake."""
    rest = value.split("://", 1)[1].split("/", 1)[0] if "://" in value else value
    if not rest or rest != rest.strip():
        return None
    has_port = rest.rpartition("]")[2].startswith(":") if rest.startswith("[") else rest.count(":") == 1
    host, _, port = rest.rpartition(":") if has_port else (rest, "", "")
    meant = _with_port(host, port)
    if meant == value:
        return None
    try:
        _check_xds_address(meant, "--xds-address", False, None)
    except UsageError:
        return None
    return meant


def _check_host(value: str, host: str, port: str, flag: str, fix: str) -> None:
    service = _as_typed(flag, _with_port(XDS_HOST_EXAMPLE, port))
    if not host:
        raise bad_value(flag, value, "missing host before the port", f"HOST:PORT with istiod's Service as HOST, "
                        f"e.g. {service}")
    if _is_ip_address(host):
        return
    if _IPV4_LIKE_RE.match(host):  # all digits and dots: a resolver reads it as an address, never a name
        raise bad_value(flag, value, f"{shown(host)} is not an IPv4 address (4 numbers from 0 to 255, no leading "
                        "zeros)", f"a valid address or istiod's Service, e.g. "
                        f"{_as_typed(flag, _with_port('10.0.0.7', port))} or {service}")
    if len(host) <= 253 and _DNS_NAME_RE.match(host):
        last = host.rstrip(".").rpartition(".")[2]
        if is_digits(last):  # no top-level domain is all digits (RFC 3696): neither a name nor an address
            raise bad_value(flag, value, f"{shown(host)} is neither a host name (its last label {last} is all "
                            "digits) nor an IP address", f"istiod's Service or an address, e.g. {service} or "
                            f"{_as_typed(flag, _with_port('10.0.0.7', port))}")
        return
    raise UsageError(f"{given_text(flag, value)}: {shown(host)} is not a host name or IP address; {fix}")


def _check_brackets(value: str, host: str, port: str, flag: str) -> None:
    """[HOST]:PORT is for an IPv6 address only (RFC 3986): `[istiod]:15012` is refused,
    with the host unbracketed as the fix (BadXdsAddress: a command may offer itself with it)."""
    if value.startswith("[") and ":" not in host:
        _refuse_port(flag, value, f"brackets are only for an IPv6 address, {shown(host)} is not one",
                     _with_port(host, port))


_IPV4_LIKE_RE = re.compile(r"^[0-9.]+\Z")


def guessed_address(value: str, istio_namespace: str = DEFAULT_ISTIO_NAMESPACE) -> str:
    """The address a suggested line gives for a refused xDS address ``value`` whose meaning
    is not clear (`:15012`, `bad host!`): istiod's unrevisioned Service in ``istio_namespace``,
    with the port typed when it is a good one (`:15013` -> istiod.istio-system.svc:15013)."""
    port = value.rpartition(":")[2] if ":" in value else ""
    return _with_port(f"istiod.{istio_namespace}.svc", port)


def _with_port(host: str, port: str) -> str:
    """HOST:PORT keeping the port typed when it is a good one (else istiod's 15012; its
    plaintext 15010 too: a value suggested passes when pasted)."""
    good = is_digits(port) and not port.startswith("0") and int(port) <= 65535 and int(port) != XDS_PLAINTEXT_PORT
    return f"{host}:{port if good else XDS_PORT_EXAMPLE}"


def _as_typed(flag: str, value: str) -> str:
    """How the user gives ``value`` to ``flag``: `--xds-address V`, or `$XDS_ADDRESS=V`."""
    return f"{flag}={value}" if flag.startswith("$") else f"{flag} {value}"


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _check_port(value: str, host: str, port: str, flag: str) -> None:
    want = f"{integer_range(1, 65535)} (istiod serves xDS on 15012)"
    if not port:  # `istiod:`: the port left out after its ':'
        _refuse_port(flag, value, "missing port after ':'", _with_port(f"[{host}]" if ":" in host else host, port))
    if not is_digits(port):
        raise bad_value(flag, value, f"port {shown(port)} is {NOT_AN_INTEGER}", want)
    if not 1 <= int(port) <= 65535:
        raise bad_value(flag, value, f"port {port} is {OUT_OF_RANGE}", want)
    bracketed = f"[{host}]" if ":" in host else host
    if port.startswith("0"):  # 015012: a typo, or octal to some readers; never what a port is written as
        _refuse_port(flag, value, f"port {port} has a leading zero", f"{bracketed}:{int(port)}")
    if int(port) == XDS_PLAINTEXT_PORT:  # TLS to it fails only as a handshake error, at the rollout timeout
        _refuse_port(flag, value, f"port {port} is istiod's plaintext xDS port, and the agents speak TLS to "
                     f"istiod (port {XDS_PORT_EXAMPLE})", f"{bracketed}:{XDS_PORT_EXAMPLE}")


def _refuse_port(flag: str, value: str, problem: str, meant: str) -> None:
    """BadXdsAddress `FLAG VALUE: PROBLEM; use FLAG MEANT`: a port (or brackets) whose
    correction is clear, so a command may offer itself with ``meant`` (every other flag kept)."""
    raise BadXdsAddress(f"{given_text(flag, value)}: {problem}", f"use {_as_typed(flag, meant)}", meant)


# --- other flags --------------------------------------------------------------------

# Sent to istiod as gRPC metadata `clusterid` and used as the node's CLUSTER_ID: keep it
# to the characters cluster ids (ACK ids, Istio cluster names) are made of.
_LABEL_VALUE_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?\Z")
_CLUSTER_ID_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?\Z")


def check_network(value: str, flag: str = "--network") -> None:
    """Istio network names are label values: 63 characters of letters, digits, '.', '_', '-'."""
    if value and not _LABEL_VALUE_RE.match(value):
        raise UsageError(f"{flag} {shown(value)}: not a network name; use letters, digits, '.', '_' or '-' "
                         f"(max 63), starting and ending with a letter or digit, e.g. {flag} network1")


# What a "not installed" message suggests: the placeholder ID is spelled as one and the
# words say to replace it (pasted as is, it would install with cluster id "ID").
INSTALL_COMMAND = "kmeshctl install --cluster-id ID"
INSTALL_HINT = f"run `{INSTALL_COMMAND}` with ID this cluster's id; `kmeshctl install --help` lists the flags"


def install_command(cluster_id: Optional[str] = None) -> str:
    """`kmeshctl install --cluster-id C` with istiod's own cluster id ``cluster_id`` (read
    by kmeshctl.istiod.known_cluster_id); INSTALL_COMMAND's placeholder when it is None."""
    return shlex.join(["kmeshctl", "install", "--cluster-id", cluster_id]) if cluster_id else INSTALL_COMMAND


def install_hint(cluster_id: Optional[str] = None) -> str:
    """What a "not installed" message suggests: the install with istiod's cluster id when
    known (pasted as is, it works), else INSTALL_HINT (the placeholder, said so)."""
    if not cluster_id:
        return INSTALL_HINT
    return f"run `{install_command(cluster_id)}` (istiod's cluster id); `kmeshctl install --help` lists the flags"

# The one description of an accepted --cluster-id, in every message about the flag.
CLUSTER_ID_WANT = ("letters, digits, '.', '_' or '-' (max 253), starting and ending with a letter or digit, "
                   "e.g. c1: the cluster's id as istiod knows it (ACK: the cluster id)")


def check_cluster_id(value: str, flag: str = "--cluster-id") -> None:
    if not value:
        raise bad_value(flag, value, "empty value", CLUSTER_ID_WANT)
    if not _CLUSTER_ID_RE.match(value):
        raise bad_value(flag, value, "not a cluster id", CLUSTER_ID_WANT)


# The OCI / Docker reference grammar: [registry[:port]/]path[:tag][@digest]. A registry
# (a host name) may have capitals, a repository path may not.
_IMAGE_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IMAGE_DOMAIN_RE = re.compile(
    rf"(?:{_IMAGE_DOMAIN_COMPONENT}(?:\.{_IMAGE_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?", re.ASCII)
_IMAGE_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_TAG = r"[\w][\w.-]{0,127}"
_IMAGE_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_IMAGE_REST_RE = re.compile(
    rf"(?P<path>{_IMAGE_PATH_COMPONENT}(?:/{_IMAGE_PATH_COMPONENT})*)(?::{_IMAGE_TAG})?(?:@{_IMAGE_DIGEST})?",
    re.ASCII)
_IMAGE_NAME_MAX = 255
_PLACEHOLDER_RE = re.compile(r"[A-Z][A-Z0-9_]*", re.ASCII)  # IMAGE, NAME: a word to fill in, as hints spell them


def image_meant(value: str) -> Optional[str]:
    """The image reference ``value`` means when it is none only for capitals in its
    repository (image repositories are lower-case): that one lower-cased; else None."""
    registry, rest = _split_registry(value)
    end = _repository_end(rest)
    lowered = rest[:end].lower() + rest[end:]
    if lowered == rest or not _is_image(registry, lowered):
        return None
    return f"{registry}/{lowered}" if registry is not None else lowered


def check_image(value: str, flag: str = "--image", example: str = DEFAULT_IMAGE) -> None:
    """An OCI image reference, as the kubelet takes it (install's and the waypoint's --image).
    A repository with capitals is refused with the lower-case reference to use instead."""
    registry, rest = _split_registry(value)
    if _is_image(registry, rest):
        return
    if _PLACEHOLDER_RE.fullmatch(value):  # `--image IMAGE` pasted from a hint: lower-cased it is no image either
        raise bad_value(flag, value, "an upper-case word, a placeholder to fill in, not an image reference",
                        f"the image to run, e.g. the default one: {flag} {example}")
    end = _repository_end(rest)
    fixed = image_meant(value)
    if fixed is not None:
        pasteable = shlex.quote(fixed) if len(fixed) <= 2 * _IMAGE_NAME_MAX else shown(fixed)  # a digest is long
        raise bad_value(flag, value, f"repository {shown(rest[:end])} has capital letters (image repositories are "
                        "lower-case)", f"a lower-case repository: {flag} {pasteable}")
    name, at, digest = value.rpartition("@")
    if at and _is_image(*_split_registry(name)):  # only the digest is wrong: said so (f38d)
        raise bad_value(flag, value, f"digest {shown(digest)} is not sha256: and 64 hex digits (a sha256 digest)", f"the image's whole digest, or none: {flag} {shlex.quote(name)}")
    raise bad_value(flag, value, "not an image reference", f"REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST], e.g. {example}")


def _split_registry(value: str) -> tuple[Optional[str], str]:
    """(the registry, the rest): the first component is a registry when a path follows it
    and it has a '.' or ':' or is localhost, as `docker pull` reads it (except that a
    capital alone does not make one: `UPPER/case` is a mistyped repository, not a host)."""
    head, slash, rest = value.partition("/")
    if slash and (head == "localhost" or any(char in head for char in ".:[")):
        return head, rest
    return None, value


def _repository_end(rest: str) -> int:
    """Where the repository path of ``rest`` (a reference without its registry) ends: at
    its tag's ':' or its digest's '@'."""
    return min((i for i in (rest.find(":"), rest.find("@")) if i >= 0), default=len(rest))


def _is_image(registry: Optional[str], rest: str) -> bool:
    match = _IMAGE_REST_RE.fullmatch(rest)
    if match is None or (registry is not None and not _IMAGE_DOMAIN_RE.fullmatch(registry)):
        return False
    return len(match.group("path")) + (len(registry) + 1 if registry is not None else 0) <= _IMAGE_NAME_MAX


def check_mode(value: str) -> None:
    if value not in SUPPORTED_MODES:
        raise bad_value("--mode", value, NOT_ACCEPTED, one_of(SUPPORTED_MODES))


# Kubernetes' DNS-1123 label rule: namespace names (and every other label-shaped name)
DNS1123_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")


def check_namespace_name(flag: str, value: str) -> None:
    """A namespace name (an RFC 1123 label); else a UsageError offering the name meant
    (meant_namespace) when there is one."""
    if DNS1123_LABEL_RE.match(value):
        return
    rule = "lower-case letters, digits and '-' (max 63), starting and ending with a letter or digit"
    meant = meant_namespace(value)
    if meant is None:
        raise UsageError(f"{flag} {shown(value)}: not a valid namespace name; use {rule}")
    raise UsageError(f"{flag} {shown(value)}: not a valid namespace name ({rule}); did you mean {flag} {meant}?")


# kubectl's TYPE/NAME forms of a namespace (`kubectl get ns/foo`): a namespace flag takes the NAME only.
_NAMESPACE_KINDS = ("ns/", "namespace/", "namespaces/")


def meant_namespace(value: str) -> Optional[str]:
    """The namespace name ``value`` most likely means when it is none: kubectl's
    `ns/NAME` (`namespace/`, `namespaces/`) without the kind, lower-cased, with '_' and
    '.' as '-' (`Bad_NS` -> `bad-ns`); None when that is no valid name either."""
    name = value.strip()
    kind = next((k for k in _NAMESPACE_KINDS if name.lower().startswith(k)), "")
    name = re.sub(r"[_. ]", "-", name[len(kind):].lower())
    return name if name != value and DNS1123_LABEL_RE.match(name) else None


DNS1123_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")


def check_pod_name(what: str, value: str) -> None:
    """A pod name as Kubernetes allows it (an RFC 1123 subdomain); bad input otherwise."""
    if len(value) > 253 or not DNS1123_SUBDOMAIN_RE.match(value):
        raise UsageError(f"{what} {shown(value)}: not a valid pod name (RFC 1123: lower-case letters, digits, "
                         "'-' and '.', starting and ending with a letter or digit, max 253)")


def check_install_namespace(namespace: str, istio_namespace: str, flag: str = "--namespace") -> None:
    check_namespace_name(flag, namespace)
    # The node agent's privileged pods need a namespace of their own (an existing one is used as is and kept).
    if namespace == istio_namespace and namespace == DEFAULT_NAMESPACE:  # --istio-namespace is the one changed
        raise bad_value("--istio-namespace", istio_namespace, f"the node agent's namespace ({flag}, default "
                        f"{DEFAULT_NAMESPACE}), and the node agent needs a namespace apart from Istio's",
                        f"the namespace istiod runs in (default {DEFAULT_ISTIO_NAMESPACE}), or give {flag} "
                        "another namespace for the agent")
    if namespace == istio_namespace:
        raise bad_value(flag, namespace, "the Istio namespace (--istio-namespace), and the node agent needs a "
                        "namespace of its own", f"a dedicated one (default {DEFAULT_NAMESPACE})")
    if namespace in RESERVED_NAMESPACES:
        raise bad_value(flag, namespace, "reserved for Kubernetes (default, kube-*), and the node agent needs a "
                        "namespace of its own", f"a dedicated one (default {DEFAULT_NAMESPACE})")


def check_kubernetes_version(value: str) -> None:
    # Imported here: validate.py pulls in the schema packages, params stays light.
    from kmeshctl.validate import supported_kubernetes_versions

    supported = supported_kubernetes_versions()
    if normalize_kubernetes_version(value) not in supported:
        raise bad_value("--kubernetes-version", value, NOT_ACCEPTED, one_of(supported))


def normalize_kubernetes_version(value: str) -> str:
    """'v1.30.2' / '1.30' -> '1.30'; anything else is returned unchanged (and rejected)."""
    match = re.fullmatch(r"v?([0-9]+)\.([0-9]+)(?:\.[0-9]+)?", value)
    return f"{match.group(1)}.{match.group(2)}" if match else value


# --- files the user gives ----------------------------------------------------------


def bad_yaml(flag: str, path: object, err: Exception) -> UsageError:
    """The UsageError for a file that does not parse as YAML, one line in the one form:
    `--crd-file crds.yaml: not valid YAML at crds.yaml:4:3 (did not find expected node
    content while parsing a flow node); use a valid YAML file`."""
    return UsageError(f"{flag} {shown(path)}: not valid YAML at {yaml_where(path, err)}; use a valid YAML file")


def yaml_where(path: object, err: Exception) -> str:
    """`FILE:LINE:COLUMN (what the parser says)` of a YAML error, on one line."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    where = f"{bounded(path)}:{mark.line + 1}:{mark.column + 1}" if mark is not None else bounded(path)
    words = [getattr(err, "problem", None), getattr(err, "context", None)]
    reason = " ".join(w for w in words if w) or str(err)
    return f"{where} ({bounded(' '.join(reason.split()), 200)})"


def refuse_spaces(flag: str, value: str, want: str = "", parts: str = ",") -> None:
    """The one rule of number-bearing text flags (--weights 90/10, --client-cpus 0,2):
    numbers are written plain, as -c 5 is; a space anywhere is a UsageError offering the
    value without it (``want``: what is accepted, when the value without spaces is not;
    ``parts``: what a space between two numbers stands for)."""
    if any(char.isspace() for char in value) and value.strip():
        meant = "".join(re.sub(r"(?<=\d)\s+(?=\d)", parts, value.strip()).split())
        raise bad_value(flag, value, "contains spaces", want or f"the numbers without spaces: {flag} {meant}")


# --- the local sandbox (kmeshctl.sandbox) -------------------------------------------

DEFAULT_SANDBOX_NAME = "kmesh"  # `sandbox up` and `demo traffic-shift` without --name or $KMESHCTL_SANDBOX_NAME
SANDBOX_POD_SUBNET = "10.244.0.0/24"  # the sandbox's pods (host-local IPAM on its own bridge)
SANDBOX_SERVICE_SUBNET = "10.96.0.0/24"  # the sandbox's Service VIPs
# A local demo's request loop (sh and its curl in the netutils pod) is waited for this long
# when it ends or is stopped, then SIGKILLed with its process group.
DEMO_LOOP_EXIT_TIMEOUT_S = 5.0

# --- uninstall: is the namespace kmeshctl made still holding the user's objects? (h98) ---------

# Items asked per list request when looking through a namespace's objects of one kind (the
# cluster's and install's own are skipped, so a page may hold none of the user's).
NAMESPACE_CHECK_PAGE = 100
# The user's objects named per kind, and in all, in the line of a namespace kept for them.
NAMESPACE_KEPT_NAMES_PER_KIND = 2
NAMESPACE_KEPT_NAMES = 6

# --- uninstall: its limit and its waits ---------------------------------------------

# uninstall's --timeout when not given: every delete and wait, the namespace's check included
UNINSTALL_TIMEOUT_S = 300
# How often uninstall asks whether a deleted object is gone yet.
UNINSTALL_POLL_S = 0.5

# --- the cluster demo's execs in its client pod ------------------------------------------

# An exec whose WebSocket upgrade lost its connection before any answer (reset, closed: no
# HTTP status, so the command never started) is opened again this many times in all, after
# a pause of EXEC_UPGRADE_RETRY_S; a refused upgrade (any HTTP status) is never retried.
EXEC_UPGRADE_ATTEMPTS = 2
EXEC_UPGRADE_RETRY_S = 0.5
