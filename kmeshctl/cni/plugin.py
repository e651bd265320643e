"""The kmesh CNI plugin (CNI spec 1.0, chained): what the container runtime executes.

Runs once per call, so it imports only the standard library (and the pure-Python
enrollment rules): a warm ADD is a Python start plus one round trip to the agent.

ADD / DEL / CHECK send ``{"command", "containerId", "namespace", "pod", "uid"}`` as one
JSON line to the agent's root-only unix socket, with the pod's network namespace as an
open file descriptor (SCM_RIGHTS: the agent's container need not see the runtime's netns
mounts), and read one JSON reply ``{"enroll", "enrolled", "reason", "error"}``. The
agent decides, enrolls and annotates (kmeshctl.cni.server). ADD prints the previous
result unchanged; VERSION prints the supported versions.

When the agent cannot answer (restarting, not there yet) the plugin never fails a pod
unless the config says ``"failPolicy": "closed"``: then it asks the API server itself
(the kubeconfig the agent writes) whether the pod must be enrolled, and fails only
such a pod's ADD (code 11, try again later). Every decision is one line in the log
file next to the socket.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from typing import Any, Optional

PLUGIN_TYPE = "kmesh-cni"
SPEC_VERSION = "1.0.0"
SUPPORTED_VERSIONS = ("0.3.0", "0.3.1", "0.4.0", "1.0.0")
DEFAULT_SOCKET = "/var/run/kmesh-cni/cni.sock"
LOG_NAME = "plugin.log"
LOG_LIMIT_BYTES = 1 << 20
AGENT_TIMEOUT_S = 5.0
API_TIMEOUT_S = 3.0
FAIL_OPEN, FAIL_CLOSED = "open", "closed"
# CNI spec error codes
ERR_INCOMPATIBLE_VERSION, ERR_INVALID_ENV, ERR_DECODE, ERR_INVALID_CONFIG, ERR_TRY_AGAIN = 1, 4, 6, 7, 11


class PluginError(Exception):
    """A CNI error result: ``code`` per the spec, ``msg`` one line."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(msg)
        self.code, self.msg, self.details = code, msg, details


class AgentUnavailable(Exception):
    """The agent did not answer, or answered that it could not do its part."""


# ----------------------------------------------------------------- small helpers


def cni_args(text: str) -> dict[str, str]:
    """CNI_ARGS ``K=V;K=V`` (the runtime passes K8S_POD_NAMESPACE, K8S_POD_NAME, ...)."""
    pairs = (item.split("=", 1) for item in text.split(";") if "=" in item)
    return {key.strip(): value.strip() for key, value in pairs}


def log_path(conf: dict) -> str:
    return conf.get("logFile") or os.path.join(os.path.dirname(conf.get("socket") or DEFAULT_SOCKET), LOG_NAME)


def log_line(conf: dict, level: str, event: str, **fields: Any) -> None:
    """One line per decision, the agent's key=value format; never raises."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    text = " ".join(f"{k}={_value(v)}" for k, v in fields.items())
    line = f"time={stamp}Z level={level} logger=kmesh-cni event={event} {text}\n"
    path = log_path(conf)
    try:
        if os.path.getsize(path) > LOG_LIMIT_BYTES:
            os.replace(path, path + ".1")
    except OSError:
        pass
    try:
        with open(path, "a") as out:
            out.write(line)
    except OSError:
        sys.stderr.write(line)


def _value(value: Any) -> str:
    text = str(value)
    return repr(text) if (" " in text or not text) else text


# ----------------------------------------------------------------- the agent


def ask_agent(socket_path: str, request: dict, netns: str, timeout: float = AGENT_TIMEOUT_S) -> dict:
    """One request to the agent, the netns (if any) passed as a descriptor; raises
    AgentUnavailable when there is no usable answer."""
    fd = _open_netns(netns)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(socket_path)
            data = json.dumps(request).encode() + b"\n"
            if fd is None:
                sock.sendall(data)
            else:
                socket.send_fds(sock, [data], [fd])
            sock.shutdown(socket.SHUT_WR)
            reply = _read_all(sock)
    except OSError as err:
        raise AgentUnavailable(f"agent socket {socket_path}: {err.strerror or err}") from err
    finally:
        if fd is not None:
            os.close(fd)
    try:
        answer = json.loads(reply)
    except ValueError as err:
        raise AgentUnavailable(f"agent answered no JSON ({len(reply)} bytes)") from err
    if answer.get("error"):
        raise AgentUnavailable(f"agent: {answer['error']}")
    return answer


def _open_netns(netns: str) -> Optional[int]:
    if not netns:
        return None
    try:
        return os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None  # DEL after the netns went: the agent knows the pod by container id


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


# ----------------------------------------------------------------- the API (fail-closed only)


def must_enroll_from_api(conf: dict, namespace: str, name: str) -> tuple[Optional[bool], str]:
    """Whether the pod must be enrolled, read from the API server with the kubeconfig of
    the config (None: cannot tell, and why)."""
    try:
        from kmeshctl.enrollment import PodView, decide

        server, token, context = _kubeconfig(conf.get("kubeconfig") or "")
        pod = _api_get(server, token, context, f"/api/v1/namespaces/{namespace}/pods/{name}")
        ns = _api_get(server, token, context, f"/api/v1/namespaces/{namespace}")
    except (OSError, ValueError, KeyError) as err:
        return None, f"cannot read pod {namespace}/{name} from the API server: {err}"
    decision = decide(PodView.from_k8s(pod), (ns.get("metadata") or {}).get("labels") or {},
                      bool(conf.get("enableBypass")))
    return decision.enroll, decision.reason


def _kubeconfig(path: str) -> tuple[str, str, Any]:
    import base64
    import ssl

    with open(path) as f:
        config = json.load(f)  # the agent writes it as JSON (valid YAML too)
    cluster = config["clusters"][0]["cluster"]
    token = config["users"][0]["user"]["token"]
    context = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    return cluster["server"], token, context


def _api_get(server: str, token: str, context: Any, path: str) -> dict:
    import urllib.request

    request = urllib.request.Request(server + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=API_TIMEOUT_S, context=context) as response:
        return json.load(response)


# ----------------------------------------------------------------- commands


def run(env: dict[str, str], stdin: str) -> tuple[int, str]:
    """One plugin call: (exit code, stdout text)."""
    command = env.get("CNI_COMMAND", "")
    if command == "VERSION":
        return 0, json.dumps({"cniVersion": SPEC_VERSION, "supportedVersions": list(SUPPORTED_VERSIONS)})
    try:
        conf = _parse_conf(stdin)
        if command not in ("ADD", "DEL", "CHECK"):
            raise PluginError(ERR_INVALID_ENV, f"CNI_COMMAND {command!r} is not ADD, DEL, CHECK or VERSION")
        return 0, _command(command, env, conf)
    except PluginError as err:
        version = _safe_version(stdin)
        return 1, json.dumps({"cniVersion": version, "code": err.code, "msg": err.msg, "details": err.details})


def _parse_conf(stdin: str) -> dict:
    try:
        conf = json.loads(stdin)
    except ValueError as err:
        raise PluginError(ERR_DECODE, f"network config on stdin is not JSON: {err}") from err
    if not isinstance(conf, dict):
        raise PluginError(ERR_DECODE, "network config on stdin is not a JSON object")
    if conf.get("cniVersion", SPEC_VERSION) not in SUPPORTED_VERSIONS:
        raise PluginError(ERR_INCOMPATIBLE_VERSION, f"cniVersion {conf.get('cniVersion')} is not supported: "
                          f"use one of {', '.join(SUPPORTED_VERSIONS)}")
    if conf.get("failPolicy", FAIL_OPEN) not in (FAIL_OPEN, FAIL_CLOSED):
        raise PluginError(ERR_INVALID_CONFIG, f"failPolicy {conf.get('failPolicy')!r}: use open or closed")
    return conf


def _safe_version(stdin: str) -> str:
    try:
        version = json.loads(stdin).get("cniVersion")
    except (ValueError, AttributeError):
        version = None
    return version if version in SUPPORTED_VERSIONS else SPEC_VERSION


def _command(command: str, env: dict[str, str], conf: dict) -> str:
    args = cni_args(env.get("CNI_ARGS", ""))
    namespace, name = args.get("K8S_POD_NAMESPACE", ""), args.get("K8S_POD_NAME", "")
    request = {"command": command, "containerId": env.get("CNI_CONTAINERID", ""), "namespace": namespace,
               "pod": name, "uid": args.get("K8S_POD_UID", ""), "ifName": env.get("CNI_IFNAME", "")}
    started = time.monotonic()
    fields = {"pod": f"{namespace}/{name}" if name else "-", "container": request["containerId"][:12]}
    try:
        answer = ask_agent(conf.get("socket") or DEFAULT_SOCKET, request, env.get("CNI_NETNS", ""))
    except AgentUnavailable as err:
        return _without_agent(command, conf, namespace, name, str(err), fields)
    ms = round((time.monotonic() - started) * 1000, 1)
    log_line(conf, "info", f"cni_{command.lower()}", **fields, enroll=answer.get("enroll"),
             enrolled=answer.get("enrolled"), reason=answer.get("reason", ""), ms=ms)
    if command == "CHECK" and answer.get("enroll") and not answer.get("enrolled"):
        raise PluginError(ERR_TRY_AGAIN, f"pod {namespace}/{name} must be in the kmesh data path and is not",
                          answer.get("reason", ""))
    return _result(command, conf)


def _without_agent(command: str, conf: dict, namespace: str, name: str, why: str, fields: dict) -> str:
    policy = conf.get("failPolicy", FAIL_OPEN)
    if command == "DEL" or policy == FAIL_OPEN or not name:
        log_line(conf, "warning", f"cni_{command.lower()}", **fields, decision="allowed", policy=policy,
                 reason=f"{why}; the agent's pod watch enrolls the pod once it is back")
        return _result(command, conf)
    must, reason = must_enroll_from_api(conf, namespace, name)
    if must is False:
        log_line(conf, "info", f"cni_{command.lower()}", **fields, decision="allowed", policy=policy,
                 reason=f"{why}; not a mesh pod ({reason})")
        return _result(command, conf)
    log_line(conf, "error", f"cni_{command.lower()}", **fields, decision="refused", policy=policy,
             reason=f"{why}; {reason}")
    raise PluginError(ERR_TRY_AGAIN, f"kmesh agent unavailable and pod {namespace}/{name} must be enrolled "
                      "(failPolicy closed): the runtime retries; check the kmesh agent on this node",
                      f"{why}; {reason}")


def _result(command: str, conf: dict) -> str:
    if command != "ADD":
        return ""
    previous = conf.get("prevResult")
    return json.dumps(previous if previous is not None else {"cniVersion": conf.get("cniVersion", SPEC_VERSION)})


def main() -> None:
    code, out = run(dict(os.environ), sys.stdin.read() if os.environ.get("CNI_COMMAND") != "VERSION" else "")
    if out:
        sys.stdout.write(out + "\n")
    sys.exit(code)


if __name__ == "__main__":
    main()
