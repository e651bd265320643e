"""Reading a node agent's admin endpoints from the CLI (`kmeshctl dump config`,
`kmeshctl dump maps --pod`): on this machine through 127.0.0.1, or in a cluster through
a port-forward to the agent pod, and the cache shown as tables.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import urllib.error
import urllib.request
import weakref
from typing import TYPE_CHECKING, Any, Optional

from rich.console import Console
from rich.table import Table

from kmeshctl.asciinum import limit_words
from kmeshctl.errors import KmeshctlError
from kmeshctl.params import TABLE_EMPTY as EMPTY

if TYPE_CHECKING:
    from kmeshctl.kube import KubeClient, KubeTarget

CACHE_PATH = "/debug/config_dump/dual-engine"
BPF_PATH = "/debug/config_dump/bpf/dual-engine"
XDS_PATH = "/debug/xds"
AGENT_NAMESPACE = "kmesh-system"
TIMEOUT_S = 10.0
# The client library's name of the thread that carries one port-forward's bytes (its
# kubernetes.stream.ws_client.PortForward starts it, one per forward).
PROXY_THREAD = "Kubernetes port forward proxy"
PROXY_JOIN_S = 2.0  # at most this long for a closed forward's thread to end before kmeshctl goes on

log = logging.getLogger("kmeshctl.config_dump")
# thread -> the exception a port-forward's thread ended in (kept for the fetch's message)
_proxy_failures: "weakref.WeakKeyDictionary[threading.Thread, BaseException]" = weakref.WeakKeyDictionary()
# thread -> the port-forward it carries (its ends closed when it dies, so no read waits for it)
_proxy_forwards: "weakref.WeakKeyDictionary[threading.Thread, Any]" = weakref.WeakKeyDictionary()
_opening = threading.Lock()  # one forward opened at a time: the new proxy thread is that forward's
# proxy threads that died before their forward was known (while _opening is held: that forward's)
_died_unclaimed: list[threading.Thread] = []


class AgentTimeout(KmeshctlError):
    """The agent's admin endpoint took the connection and sent nothing back in time: it
    is there (a stopped or hung agent), so not "no endpoint"."""


def fetch_local(path: str, port: int, quiet: bool = True, sandbox: Optional[str] = None) -> Any:
    """GET ``path`` from the agent admin endpoint on 127.0.0.1:``port``; after
    WAITING_NOTE_AFTER_S without an answer a `waiting for ...` line on stderr unless
    ``quiet``; ``sandbox``: the sandbox whose agent it is, for the fix of a failure."""
    url = f"http://127.0.0.1:{port}{path}"
    fix = local_fix(port, sandbox)
    _refuse_stopped_agent(port, sandbox)
    try:
        with _waiting_note(f"127.0.0.1:{port}", quiet), urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
            body = resp.read()
    except urllib.error.HTTPError as err:
        status, reason, body = err.code, str(err.reason or ""), err.read()
        if _not_an_agent(status, body):
            raise _not_an_agent_port(port, path, f"{status} {reason}".strip(), sandbox) from err
        raise _refused(f"agent admin {url}", status, reason, body, fix) from err
    except (urllib.error.URLError, OSError) as err:
        from kmeshctl.kube import transport_reason

        why = transport_reason(err)  # `connection refused`, as kubectl words it
        if _timed_out(err) or why == "i/o timeout":
            raise timeout_error(port, sandbox) from err
        raise KmeshctlError(f"no node agent admin endpoint at 127.0.0.1:{port} ({why}): start the agent on "
                            "this host (`kmeshctl node run`, or `kmeshctl sandbox up`), or ask one in a "
                            "cluster with --pod NAME") from err
    if _shape_problem(path, _decoded(body)) == "no JSON":
        raise _not_an_agent_port(port, path, "with no JSON", sandbox)
    return checked(path, body, f"agent admin 127.0.0.1:{port}", fix)


class NotAnAgent(KmeshctlError):
    """Something answered on the port, and not as a kmeshctl node agent's admin endpoint
    does (a 404 of its own, no JSON): the port is another program's."""


def _not_an_agent(status: int, body: bytes) -> bool:
    """A 404 that is no agent's own error answer (the agent's names the endpoint it lacks)."""
    return status == 404 and not _agent_error(body)


def _not_an_agent_port(port: int, path: str, answer: str, sandbox: Optional[str]) -> NotAnAgent:
    fix = (f"see `kmeshctl sandbox status --name {sandbox}`" if sandbox else
           "pass the port the agent serves with --admin-port (a sandbox agent's: `kmeshctl sandbox list -o wide`)")
    return NotAnAgent(f"127.0.0.1:{port} is not a kmeshctl node agent's admin port (it answered {answer} to "
                      f"GET {path})", fix=fix)


def local_fix(port: int, sandbox: Optional[str] = None) -> str:
    """Where to look when the agent on this machine answered wrongly: a sandbox's status, else
    the port and the agent's own version (`kmeshctl version` asks only a cluster's agents)."""
    if sandbox:
        return f"see `kmeshctl sandbox status --name {sandbox}`"
    return f"check --admin-port, or the agent's version (`curl -s http://127.0.0.1:{port}/version`)"


def agent_check(sandbox: Optional[str]) -> str:
    """Where to look when a local agent did not answer: its sandbox's status, else its process."""
    if sandbox:
        from kmeshctl.sandboxes import stopped_agent_fix

        return stopped_agent_fix(sandbox) or f"check `kmeshctl sandbox status --name {sandbox}`"
    return "check the node agent's process on this host"


def _refuse_stopped_agent(port: int, sandbox: Optional[str]) -> None:
    """An AgentTimeout at once when ``sandbox``'s node agent is stopped (SIGSTOP): it would
    take the connection and answer nothing, a wait of TIMEOUT_S to learn what is known now."""
    if not sandbox:
        return
    from kmeshctl.sandboxes import stopped_agent_fix

    stopped = stopped_agent_fix(sandbox)
    if stopped:
        raise AgentTimeout(f"the node agent admin endpoint at 127.0.0.1:{port} cannot answer: "
                           f"{stopped.removeprefix('it is: ')}")


def timeout_error(port: int, sandbox: Optional[str]) -> AgentTimeout:
    """The one wording of an agent admin endpoint that took the request and did not answer."""
    fix = agent_check(sandbox)
    return AgentTimeout(f"the node agent admin endpoint at 127.0.0.1:{port} did not answer in {TIMEOUT_S:g} s "
                        f"(is the agent stopped?); {fix}")


def _timed_out(err: BaseException) -> bool:
    import socket

    reason = getattr(err, "reason", None)
    return any(isinstance(e, (socket.timeout, TimeoutError)) for e in (err, reason))


def _waiting_note(address: str, quiet: bool) -> contextlib.AbstractContextManager[None]:
    """`waiting for the node agent admin endpoint at ADDR (limit 10s)`, as
    kmeshctl.kube.waiting_note (a stopped agent takes the connection and says nothing)."""
    from kmeshctl.kube import waiting_note

    return waiting_note(f"waiting for the node agent admin endpoint at {address} ({limit_words(TIMEOUT_S)})", quiet)


class ForwardForbidden(KmeshctlError):
    """This user may not create pods/portforward (RBAC's 403): its ``fix`` is the grant,
    whichever agent was asked (status gives it as its fix, not the agent's log)."""


def fetch_from_pod(path: str, pod: str, namespace: str, port: int, target: "KubeTarget") -> Any:
    """GET ``path`` from the agent pod's admin port through a Kubernetes port-forward to
    the cluster ``target`` names (an AdminFetch once ``target`` is bound)."""
    from kubernetes.stream import portforward

    from kmeshctl import kube

    core = kube.core_v1_api(target)
    _quiet_proxy_threads()
    try:
        with _opening:
            before = set(threading.enumerate())
            _died_unclaimed.clear()
            forward = portforward(core.connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port))
            proxy = [t for t in threading.enumerate() if t not in before and t.name.startswith(PROXY_THREAD)]
            _proxy_forwards.update((t, forward) for t in proxy)
            if _died_unclaimed:  # dead before it was known (the hook could not close its ends)
                proxy += _died_unclaimed
                _close_local_ends(forward)
    except Exception as err:  # noqa: BLE001 - ApiException (handshake refused) and transport errors alike
        refusal = kubectl_words(kube.stream_refusal(err))
        problem = f"cannot port-forward to {namespace}/{pod}:{port} ({refusal})"
        if "answered 403" in refusal:  # this user's permission, not the agent's: its own fix (status's too)
            raise ForwardForbidden(problem, fix=f"this user may not port-forward to pods in {namespace}: grant it "
                                f"create on pods/portforward (`kubectl auth can-i create pods "
                                f"--subresource=portforward -n {namespace}` checks it)") from err
        raise KmeshctlError(f"{problem}: check the pod name (`kubectl get pods -n {namespace}`) and your "
                            "access") from err
    try:
        sock = forward.socket(port)
        sock.settimeout(TIMEOUT_S)
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        raw, failure = _read_http(sock), ""
    except OSError as err:
        raw, failure = b"", kube.transport_reason(err)
    finally:
        forward.close()
        for thread in proxy:  # its websocket closed before kmeshctl goes on (or exits)
            thread.join(PROXY_JOIN_S)
    died = [err for err in (_proxy_failures.pop(t, None) for t in proxy) if err is not None]
    # the pod side refused or closed: the error channel says why, else how the thread ended
    # (a write failing after that is its consequence)
    if not raw:
        lost = (kube.transport_reason(died[0]) if isinstance(died[0], OSError) else str(died[0])) if died else ""
        why = kubectl_words(" ".join((forward.error(port) or lost or failure or "connection closed").split()))
        # the runtime's chain (`error forwarding port ... dial tcp4 127.0.0.1:P: connect: connection refused IPv6
        # ...`): its cause is what to read
        why = f"error forwarding port {port} to pod: connection refused" if "connection refused" in why else why
        served = _pods_admin_port(core, pod, namespace)
        if served is not None and served != port:
            # a --admin-port typed that is not the one the pod serves is bad input (exit 2), as `--sandbox S
            # --admin-port P` of a port not S's: the value is checked against what exists and the line mended
            # is offered; nothing answering at the pod's own port (its agent down?) is a failure, exit 1
            raise KmeshctlError(f"no agent admin endpoint at port {port} of {namespace}/{pod} ({why}): the agent "
                                f"serves port {served} (its --admin-port={served}){_on_port(served)}",
                                2 if _admin_port_typed() else None)
        raise KmeshctlError(f"no agent admin endpoint at port {port} of {namespace}/{pod} ({why}): check the "
                            f"port the agent serves (its --admin-port: `kubectl get pod -n {namespace} {pod} -o "
                            "yaml`)")
    status, reason, body = _parse_http(raw)
    fix = pod_fix(pod, namespace)
    if status != 200:
        raise _refused(f"agent {namespace}/{pod}", status, reason, body, fix)
    return checked(path, body, f"agent {namespace}/{pod} (port {port})", fix)


def _admin_port_typed() -> bool:
    """Whether the dump being run was given --admin-port (not kmeshctl's default port)."""
    import shlex

    from kmeshctl.sandboxes import typed_now

    typed = typed_now()
    if typed is None or not typed.line or typed.command.split()[1:2] != ["dump"]:
        return False
    words = shlex.split(typed.line)
    words = words[:words.index("--")] if "--" in words else words
    return any(w.partition("=")[0] == "--admin-port" for w in words)


def _on_port(served: int) -> str:
    """`; read that port: `LINE`` with LINE the dump typed, its --admin-port (typed or not)
    set to ``served``, every other word kept; "" for a command with no --admin-port (status)."""
    import shlex

    from kmeshctl.sandboxes import typed_now

    typed = typed_now()
    if typed is None or not typed.line or typed.command.split()[1:2] != ["dump"]:
        return ""
    words = shlex.split(typed.line)
    end = words.index("--") if "--" in words else len(words)
    at = next((i for i, w in enumerate(words[:end]) if w.partition("=")[0] == "--admin-port"), None)
    if at is None:
        words[end:end] = ["--admin-port", str(served)]
    elif "=" in words[at]:
        words[at] = f"--admin-port={served}"
    else:
        words[at + 1:at + 2] = [str(served)]
    return f"; read that port: `{shlex.join(words)}`"


_ERRNO_TEXT = re.compile(r"\[Errno -?\d+\] ([A-Za-z][A-Za-z ]*)")


def kubectl_words(text: str) -> str:
    """``text`` with Python's errno spelling (`[Errno 111] Connection refused`) in the
    words kubectl uses (`connection refused`)."""
    return _ERRNO_TEXT.sub(lambda found: found.group(1).lower(), text)


def _pods_admin_port(core: Any, pod: str, namespace: str) -> Optional[int]:
    """served_admin_port of the pod as read now (None when it cannot be read)."""
    try:
        found = core.api_client.sanitize_for_serialization(core.read_namespaced_pod(pod, namespace))
    except Exception:  # noqa: BLE001 - only a better hint is lost
        return None
    return served_admin_port(found)


def _quiet_proxy_threads() -> None:
    """A port-forward's thread (the client library's) ends in an exception when the
    websocket goes under it as it closes (the API server closed it first, kmeshctl exits):
    not printed on stderr (after kmeshctl's own error line it reads as a crash), logged at
    debug level and kept in _proxy_failures for the fetch's message; its forward's ends are
    closed, so a read of it ends now, not at TIMEOUT_S. Every other thread's
    goes to the hook installed before. Installed once."""
    if getattr(threading.excepthook, "quiet_proxies", False):
        return
    previous = threading.excepthook

    def hook(args: "threading.ExceptHookArgs") -> None:
        thread = args.thread
        if thread is None or not thread.name.startswith(PROXY_THREAD):
            previous(args)
            return
        with contextlib.suppress(Exception):  # late in the exit, logging may be gone
            if args.exc_value is not None:
                _proxy_failures[thread] = args.exc_value
            forward = _proxy_forwards.get(thread)
            if forward is not None:
                _close_local_ends(forward)
            else:
                _died_unclaimed.append(thread)
            log.debug("%s ended: %s", thread.name, args.exc_value)

    hook.quiet_proxies = True  # type: ignore[attr-defined]
    threading.excepthook = hook


def _close_local_ends(forward: Any) -> None:
    """Close the port-forward threads' own ends of ``forward``'s local socket pairs: a read
    of the other end sees the connection closed now, not at TIMEOUT_S."""
    for end in forward.local_ports.values():
        end.python.close()


# The labels every kmesh agent pod carries: the DaemonSet's pod template's, which its
# selector matches too (templates/daemonset.yaml.j2).
AGENT_POD_LABELS = {"app": "kmesh"}
AGENT_PODS_NAMED = 3  # at most this many agent pods named in one message


def check_agent_pod(client: "KubeClient", pod: str, namespace: str, command: str) -> None:
    """--pod names a kmesh agent pod, before any port-forward: an app's pod is bad input
    (exit 2), named with the agent pods to pass instead. A pod that cannot be read (not
    found, forbidden) is left to the port-forward to report."""
    from kmeshctl.errors import UsageError
    from kmeshctl.kube import ApiError

    try:
        found = client.get("v1", "Pod", pod, namespace)
    except ApiError:
        return
    if found is None:
        raise pod_not_found(client, pod, namespace, command)
    labels = (found.get("metadata") or {}).get("labels") or {}
    if all(labels.get(k) == v for k, v in AGENT_POD_LABELS.items()):
        _check_running(client, found, namespace, command)
        return
    agents = agent_pod_refs(client)
    if agents is None:  # this user may not list pods: the label is what to look for
        raise UsageError(f"pod {namespace}/{pod} is not a kmesh agent (no label {agent_selector()}); pass --pod "
                         f"with an agent pod: `kubectl get pods -A -l {agent_selector()}` lists them")
    if not agents:
        raise UsageError(f"pod {namespace}/{pod} is not a kmesh agent, and no pod of this cluster is "
                         f"(`kubectl get pods -A -l {agent_selector()}` lists none): "
                         f"{install_first(client, namespace)}")
    shown = ", ".join(agents[:AGENT_PODS_NAMED]) + (f" and {len(agents) - AGENT_PODS_NAMED} more"
                                                     if len(agents) > AGENT_PODS_NAMED else "")
    agent_ns, _, agent = agents[0].partition("/")
    raise UsageError(f"pod {namespace}/{pod} is not a kmesh agent (agent pods: {shown}); pass --pod with one "
                     f"of them: `{command} --pod {agent} -n {agent_ns}`")


def _check_running(client: "KubeClient", found: dict, namespace: str, command: str) -> None:
    """An agent pod not running (its image not pulled, not scheduled, its container
    backing off in CrashLoopBackOff) or being deleted (Terminating: its agent stops)
    serves no admin endpoint: said from its status (rollout.not_serving), before a
    port-forward fails; one being deleted with the ``command`` that asks the pod
    replacing it on its node, when there is one."""
    from kmeshctl.rollout import not_serving, pod_state

    state = pod_state(found)
    pod = state.name
    if state.terminating:
        other = _replacing_pod(client, state.node, namespace)
        fix = (f"ask the pod that replaces it: `{command} --pod {other} -n {namespace}`" if other else
               f"ask the pod that replaces it once it runs (`kubectl get pods -n {namespace} -l {agent_selector()} "
               f"-o wide` lists them)")
        raise KmeshctlError(f"pod {namespace}/{pod} is Terminating (being deleted): its agent is stopping", fix=fix)
    if why := not_serving(state):
        raise KmeshctlError(f"pod {namespace}/{pod} is not running ({why}): see `kmeshctl status -n {namespace}`")


def _replacing_pod(client: "KubeClient", node: str, namespace: str) -> str:
    """The name of an agent pod of ``namespace`` on ``node`` that runs and is not being
    deleted ("" when none, or the pods cannot be listed)."""
    from kmeshctl.kube import ApiError
    from kmeshctl.rollout import not_serving, pod_state

    try:
        pods = [pod_state(p) for p in client.list("v1", "Pod", namespace, label_selector=agent_selector())]
    except ApiError:
        return ""
    return next((p.name for p in pods if node and p.node == node and not not_serving(p)), "")


def served_admin_port(pod: dict) -> Optional[int]:
    """The --admin-port the agent container of ``pod`` (a Pod as the API returns it, or
    its DaemonSet's template spec's pod) is given in its args (`--admin-port=15200` or
    `--admin-port 15200`); None when no container says."""
    spec = pod.get("spec") or {}
    for container in spec.get("containers") or []:
        words = [str(w) for w in (container.get("command") or []) + (container.get("args") or [])]
        for i, word in enumerate(words):
            value = word.partition("=")[2] if word.startswith("--admin-port=") else \
                words[i + 1] if word == "--admin-port" and i + 1 < len(words) else ""
            if value.isdigit():
                return int(value)
    return None


def pod_not_found(client: "KubeClient", pod: str, namespace: str, command: str) -> KmeshctlError:
    """--pod names no pod of ``namespace`` (exit 1, as kubectl's NotFound): the agent pods
    there are (their names change with every install), each with the command to paste; or
    that kmesh is not installed. A wrong -n (the agent pod is in another namespace, or kmesh
    is installed in another) is bad input, exit 2, as `status -n` of another namespace:
    the namespace to pass, with the command."""
    from kmeshctl.errors import UsageError

    agents = agent_pod_refs(client)
    missing = f"pod {namespace}/{pod} not found"
    if agents is None:  # this user may not list pods: the label is what to look for
        return KmeshctlError(f"{missing}; pass --pod with a kmesh agent pod: `kubectl get pods -A -l "
                             f"{agent_selector()}` lists them")
    if not agents:
        where = _agent_daemonset_namespaces(client)
        if not where:
            return KmeshctlError(f"{missing}, and kmesh is not installed in this cluster (no kmesh DaemonSet; `kubectl "
                                 f"get pods -A -l {agent_selector()}` lists no agent pod): "
                                 f"{install_first(client, namespace)}")
        return KmeshctlError(f"{missing}, and kmesh's DaemonSet in namespace {where[0]} runs no agent pod yet: see "
                             f"`kmeshctl status -n {where[0]}`")
    here = [ref for ref in agents if ref.partition("/")[0] == namespace]
    elsewhere = [ref for ref in agents if ref.partition("/")[2] == pod and ref not in here]
    if here and not elsewhere:
        agent = here[0].partition("/")[2]
        return KmeshctlError(f"{missing} (agent pods in {namespace}: {named_pods(here)}; their names change with each "
                             f"install); pass --pod with one of them: `{command} --pod {agent} -n {namespace}`")
    other = (elsewhere or agents)[0].partition("/")[0]
    there = [ref for ref in agents if ref.partition("/")[0] == other]
    names = [ref.partition("/")[2] for ref in there]
    agent = pod if pod in names else names[0]
    also = "" if agent == pod else " with one of its agent pods"
    where = f"it is in namespace {other}" if here else f"kmesh is installed in namespace {other}, not {namespace}"
    return UsageError(f"{missing}: {where} (agent pods: {named_pods(there)}); pass -n {other}{also}: "
                      f"`{command} --pod {agent} -n {other}`")


def install_first(client: "KubeClient", pod_namespace: str = AGENT_NAMESPACE) -> str:
    """`install kmesh first: run `kmeshctl install --cluster-id C` ...`, istiod's cluster id
    in it when istiod's Deployment names it (params.install_hint), as every "not installed".
    -n was the namespace of the pod asked for (``pod_namespace``), an app's: the install
    names kmesh's own namespace, so the -n typed is not carried into it (agents in an app
    namespace)."""
    from kmeshctl.istiod import known_cluster_id
    from kmeshctl.params import DEFAULT_ISTIO_NAMESPACE, install_hint

    hint = install_hint(known_cluster_id(client, DEFAULT_ISTIO_NAMESPACE))
    if pod_namespace != AGENT_NAMESPACE:
        hint = hint.replace("`kmeshctl install ", f"`kmeshctl install -n {AGENT_NAMESPACE} ")
    return f"install kmesh first: {hint}"


def named_pods(refs: list[str]) -> str:
    """At most AGENT_PODS_NAMED of ``refs``, and how many more."""
    return ", ".join(refs[:AGENT_PODS_NAMED]) + (f" and {len(refs) - AGENT_PODS_NAMED} more"
                                                  if len(refs) > AGENT_PODS_NAMED else "")


def _agent_daemonset_namespaces(client: "KubeClient") -> list[str]:
    """The namespaces of kmeshctl's agent DaemonSets ([] when none, or not listable)."""
    from kmeshctl.kube import ApiError
    from kmeshctl.namespaces import agent_namespaces

    try:
        return agent_namespaces(client)
    except ApiError:
        return []


def agent_selector() -> str:
    """The agent pods' label selector (`app=kmesh`), as `kubectl get pods -l` takes it."""
    return ",".join(f"{k}={v}" for k, v in AGENT_POD_LABELS.items())


def agent_pod_refs(client: "KubeClient") -> Optional[list[str]]:
    """`namespace/name` of every kmesh agent pod (by the agent's labels), in every namespace
    or, when this user may not list them all, in kmesh's default one; None when neither
    may be listed."""
    from kmeshctl.kube import ApiError

    for namespace in (None, AGENT_NAMESPACE):
        try:
            pods = client.list("v1", "Pod", namespace, label_selector=agent_selector())
        except ApiError:
            continue
        return sorted(f"{p['metadata'].get('namespace', '')}/{p['metadata']['name']}" for p in pods)
    return None


def fetch(path: str, pod: Optional[str], namespace: str, port: int, target: "KubeTarget") -> Any:
    return fetch_from_pod(path, pod, namespace, port, target) if pod else fetch_local(path, port)


def _read_http(sock: Any) -> bytes:
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
        if _complete(data):
            return data


def _complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def _parse_http(raw: bytes) -> tuple[int, str, bytes]:
    """(status, reason phrase, body) of a raw HTTP/1.1 response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    words = head.split(b"\r\n", 1)[0].split(b" ", 2)
    try:
        status = int(words[1])
    except (IndexError, ValueError) as err:
        raise KmeshctlError(f"the agent sent no HTTP response ({raw[:80]!r})") from err
    return status, (words[2].decode(errors="replace").strip() if len(words) > 2 else ""), body


def pod_fix(pod: str, namespace: str) -> str:
    return (f"check the pod is a kmesh agent and its admin port (--admin-port; `kubectl get pod -n {namespace} "
            f"{pod} -o yaml`), or the agent's version (kmeshctl version)")


def _refused(who: str, status: int, reason: str, body: bytes, fix: str) -> KmeshctlError:
    """One line for a non-200 answer: the status, and at most a short line of its body
    (an HTML error page says nothing the status does not; a 404 most likely means the
    port is not a kmesh agent's)."""
    from kmeshctl.kube import body_line

    said = body_line(body)
    status_text = " ".join(str(part) for part in (status, reason) if part)
    if _agent_error(body) and not said.startswith("no such endpoint"):
        return KmeshctlError(f"{who} answered {status_text}: {said}")  # the agent's own words say what failed
    guess = " (not a kmesh agent?)" if status == 404 and not said else ""
    return KmeshctlError(f"{who} answered {status_text}{': ' + said if said else ''}{guess}", fix=fix)


def _agent_error(body: bytes) -> bool:
    """``body`` is a kmesh agent's error answer: a JSON object with an `error` text."""
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and isinstance(data.get("error"), str)


# ----------------------------------------------------------------- the answer's shape

# What `dump config` reads of each entry, and the JSON type it must have when present: the
# agent writes proto3 JSON, which leaves out empty fields, so an absent field is no error.
_ENTRY_FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "services": {"addresses": list, "ports": list, "waypoint": dict, "load_balancing": dict,
                 "namespace": str, "hostname": str},
    "workloads": {"addresses": list, "services": dict, "waypoint": dict, "uid": str, "status": str, "node": str},
    "policies": {"rules": list, "namespace": str, "name": str, "scope": str, "action": str},
}


def checked(path: str, body: bytes, who: str, fix: str) -> Any:
    """The decoded JSON answer of ``path``, its shape checked where `dump` reads it: an
    answer of something that is not a kmesh agent (or of another version) is one line."""
    data = _decoded(body)
    problem = _shape_problem(path, data)
    if problem:
        raise KmeshctlError(f"{who} did not answer as a kmesh agent ({problem} in {path})", fix=fix)
    return data


_NOT_JSON = object()


def _decoded(body: bytes) -> Any:
    """The JSON ``body`` decoded, or _NOT_JSON."""
    try:
        return json.loads(body)
    except ValueError:
        return _NOT_JSON


def _shape_problem(path: str, data: Any) -> str:
    if data is _NOT_JSON:
        return "no JSON"
    if not isinstance(data, dict):  # every admin endpoint answers an object
        return f"a JSON {_json_type(data)}, not an object"
    if path == CACHE_PATH:
        return cache_problem(data)
    if path == BPF_PATH:
        return next((f"{name!r} is not a list" for name, rows in data.items()
                     if not isinstance(rows, (list, dict))), "")
    return ""


def cache_problem(dump: dict) -> str:
    """What makes ``dump`` no cache dump of a kmesh agent ('' when it is one)."""
    for section, fields in _ENTRY_FIELDS.items():
        entries = dump.get(section)
        if not isinstance(entries, list):
            return f"no {section!r} list"
        for number, entry in enumerate(entries):
            if not isinstance(entry, dict):
                return f"{section}[{number}] is a JSON {_json_type(entry)}, not an object"
            wrong = next((name for name, kind in fields.items()
                          if name in entry and not isinstance(entry[name], kind)), None)
            if wrong:
                return f"{section}[{number}].{wrong} is a JSON {_json_type(entry[wrong])}"
    for name, kind in (("enrolled", list), ("node", dict)):
        if dump.get(name) is not None and not isinstance(dump[name], kind):
            return f"{name!r} is a JSON {_json_type(dump[name])}"
    if any(not isinstance(e, dict) for e in dump.get("enrolled") or []):
        return "an 'enrolled' entry is not an object"
    return ""


def not_synced(dump: dict) -> str:
    """Why the agent of ``dump`` has no first xDS sync yet (its `sync` detail: `waiting for
    the first xDS sync (last error: ...)`); '' when it has one, or is of a version that does
    not say. Its cache then is no mesh state, whatever it holds."""
    sync = dump.get("sync")
    if not isinstance(sync, dict) or sync.get("synced") is not False:
        return ""
    return str(sync.get("detail") or "waiting for the first xDS sync")


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


# ----------------------------------------------------------------- -o json|yaml

# The objects of the cache dump keyed by names, not fields: a workload's Services (`namespace/hostname`).
NAME_KEYED = frozenset({"services"})


def cache_output(dump: dict) -> dict:
    """`dump config -o json|yaml` of the agent's cache dump (the workload API's snake_case
    field names): every field camelCase, as every kmeshctl document (docs/usage.md)."""
    from kmeshctl.dump import camel_keys

    return camel_keys(dump, NAME_KEYED)


# ----------------------------------------------------------------- tables


def _ports(ports: list[dict]) -> str:
    """`80->8080, 443->8443`; a pair another port repeats (kube-dns: 53->53 for UDP and for
    TCP) once, as `53->53 (2 protocols)`: the one notation of `dump maps` (whose map holds no
    protocol) and of a workload's Service ports (which carry none); -o json keeps each port
    with its `appProtocol`."""
    from kmeshctl.dump import _pair_text

    pairs = [(p.get("service_port", 0), p.get("target_port", 0)) for p in ports if isinstance(p, dict)]
    return ", ".join(_pair_text(pair, pairs.count(pair)) for pair in dict.fromkeys(pairs)) or EMPTY


def _addresses(item: dict) -> str:
    return ", ".join(str(a) for a in item.get("addresses") or [])


def _waypoint(item: dict) -> str:
    wp = item.get("waypoint")
    if not wp:
        return EMPTY
    if "hostname" in wp:
        target = f"{wp['hostname'].get('namespace', '')}/{wp['hostname'].get('hostname', '')}"
    else:
        target = wp.get("address", {}).get("address", "?")
    return f"{target}:{wp.get('hbone_mtls_port', 0)}"


# The columns that tell rows apart, never cut (see kmeshctl.dump.print_section).
SERVICE_KEYS = ("NAMESPACE/HOSTNAME",)
WORKLOAD_KEYS = ("UID",)
POLICY_KEYS = ("NAMESPACE/NAME",)
# The detail columns only -o wide shows: how a service balances, where a workload runs.
SERVICE_DETAIL = ("LB",)
WORKLOAD_DETAIL = ("NODE",)


def services_table(dump: dict) -> Table:
    table = Table()
    for column in ("NAMESPACE/HOSTNAME", "VIPS", "PORTS", "WAYPOINT", "LB"):
        table.add_column(column)
    for svc in dump["services"]:
        table.add_row(f"{svc.get('namespace', '')}/{svc.get('hostname', '')}", _addresses(svc),
                      _ports(svc.get("ports", [])), _waypoint(svc), lb_text(svc.get("load_balancing") or {}))
    return table


def lb_text(lb: dict) -> str:
    """The LB cell: the mode the data path applies, as `dump maps` names it (km_service's
    LB POLICY), then the routing preference; a mode the Service leaves unset is the
    default's: `RANDOM (default)`, or `FAILOVER (default) ...` with a routing preference
    (kmeshctl.node.translate.lb_policy)."""
    preference = [str(p) for p in lb.get("routing_preference") or []]
    mode = str(lb.get("mode") or "")
    if mode in ("", "UNSPECIFIED_MODE"):
        mode = f"{'FAILOVER' if preference else 'RANDOM'} (default)"
    return " ".join([mode, *preference])


def workloads_table(dump: dict) -> Table:
    table = Table()
    for column in ("UID", "ADDRESSES", "SERVICES", "WAYPOINT", "STATUS", "NODE"):
        table.add_column(column)
    for wl in dump["workloads"]:
        services = ", ".join(f"{key} ({_ports(ports.get('ports', []))})"
                             for key, ports in sorted(wl.get("services", {}).items()) if isinstance(ports, dict))
        table.add_row(wl.get("uid", ""), _addresses(wl), services or EMPTY, _waypoint(wl),
                      wl.get("status", "HEALTHY"), wl.get("node", "") or EMPTY)
    return table


def policies_table(dump: dict) -> Table:
    table = Table()
    for column in ("NAMESPACE/NAME", "SCOPE", "ACTION", "RULES", "DRY RUN"):
        table.add_column(column)
    for policy in dump["policies"]:
        table.add_row(f"{policy.get('namespace', '')}/{policy.get('name', '')}", policy.get("scope", "GLOBAL"),
                      policy.get("action", "ALLOW"), str(len(policy.get("rules", []))),
                      "yes" if policy.get("dry_run") else "no")
    return table


def print_cache_tables(dump: dict, console: Optional[Console] = None, wide: bool = False, quiet: bool = False) -> None:
    """The cache as three titled tables, fitted as `dump maps` fits its own (the columns
    that tell rows apart whole, a line naming the columns left out; ``wide``: the detail
    columns too, all whole)."""
    from kmeshctl.dump import print_sections

    console = console or Console(highlight=False)
    sections = [(f"[bold]services[/bold] ({len(dump['services'])})", services_table(dump), SERVICE_KEYS,
                 SERVICE_DETAIL),
                (f"[bold]workloads[/bold] ({len(dump['workloads'])})", workloads_table(dump), WORKLOAD_KEYS,
                 WORKLOAD_DETAIL),
                (f"[bold]authorization policies[/bold] ({len(dump['policies'])})", policies_table(dump),
                 POLICY_KEYS, ())]
    node = dump.get("node")
    # an empty section is left out; all empty (nothing pushed yet): one note on stderr, the
    # node's line in it (stdout is data only: a node and its unknown locality are no rows)
    empty = not any(section[1].row_count for section in sections)
    none = "No services, workloads or authorization policies"
    none += f" ({_node_line(node)})." if empty and node and node.get("name") else "."
    printed = print_sections(console, sections, wide, none, quiet)
    enrolled = dump.get("enrolled", [])
    if printed and (enrolled or node):
        console.print()
    if enrolled:
        console.print(f"enrolled locally: {', '.join(e.get('pod') or e.get('netns') or '?' for e in enrolled)}")
    if node and printed:
        console.print(_node_line(node), highlight=False)


def _node_line(node: dict) -> str:
    """`node n1: locality r/z/- (from node labels)` of the agent dump's node (its source
    named only when the locality is known)."""
    source = node.get("locality_source")
    known = node.get("locality") and source and source != "unknown"
    return f"node {node.get('name') or '-'}: locality {_locality(node.get('locality'))}" + (
        f" (from {source})" if known else "")


def _locality(locality: Optional[dict]) -> str:
    if not isinstance(locality, dict) or not locality:
        return "unknown"
    return "/".join(locality.get(part) or "-" for part in ("region", "zone", "subzone"))


# ----------------------------------------------------------------- maps from an agent


class _IdRegEntries:
    """A read-only km_idreg built from a JSON dump (what IdRegistry reads)."""

    def __init__(self, entries: list[tuple[Any, Any]]) -> None:
        self._entries = entries

    def items(self) -> list[tuple[Any, Any]]:
        return list(self._entries)


def print_maps_json_as_tables(data: dict, map_name: Optional[str], console: Optional[Console] = None,
                              pods: Optional[dict[int, str]] = None, wide: bool = False) -> None:
    """Render an agent's `/debug/config_dump/bpf/dual-engine` JSON like `dump maps`: the
    maps of ``data`` (all, or ``map_name``), ids named from all of it."""
    from kmeshctl import dump as dumper
    from kmeshctl.node.ids import IdRegistry
    from kmeshctl.maps import IDREG

    dumper.check_map_name(map_name)
    try:
        idreg = [dumper.entry_from_json(IDREG.name, e) for e in data.get(IDREG.name, [])]
        # `--map km_authz_rule` names the policies as the whole dump does
        policies = {key.id: value.name for key, value in (dumper.entry_from_json(dumper.AUTHZ_POL.name, e)
                                                          for e in data.get(dumper.AUTHZ_POL.name, []))}
        # a map this kmeshctl does not know (a newer agent's) is left out, not an error
        dumps = [dumper.MapDump(dumper.SPECS_BY_NAME[name], [dumper.entry_from_json(name, e) for e in rows])
                 for name, rows in data.items() if map_name in (None, name) and name in dumper.SPECS_BY_NAME]
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        why = f"{type(err).__name__}: {' '.join(str(err).split())[:80]}"
        raise KmeshctlError(f"the agent's map dump has an entry this kmeshctl cannot read ({why})",
                            fix="check the agent's version (kmeshctl version)") from err
    ids = IdRegistry(_IdRegEntries(idreg))  # type: ignore[arg-type]
    dumper.render_tables(dumps, ids, console or Console(highlight=False), pods, wide, policies)
