"""The agent's end of the CNI plugin: a root-only unix socket, one JSON request per
connection (kmeshctl.cni.plugin describes the exchange).

ADD: decide with the enrollment rules (the pod and its namespace from the pod watch's
cache, or read from the API server when the watch has not seen the pod yet; on a node
without Kubernetes, the local sandbox, from ``kmeshctl.cni.localpods``), read the
cookie of the netns the plugin passed as a descriptor, put it in ``km_manage`` and hand
the pod to the watch (which releases it when it leaves the mesh); the annotations
``kmesh.net/redirection: enabled`` and ``kmesh.net/enrolled-by: cni`` are written after
the reply, so the API's latency never delays the pod's start (into the local pod objects:
at once). DEL: release the cookie.
CHECK: whether a pod that must be enrolled is.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from kmeshctl.cni.localpods import LocalPods
from kmeshctl.enrollment import (
    ENROLLED_BY_ANNOTATION,
    ENROLLED_BY_CNI,
    REDIRECTION_ANNOTATION,
    REDIRECTION_ENABLED,
    Decision,
    PodView,
    decide,
)
from kmeshctl.errors import KmeshctlError
from kmeshctl.podnet import PodNetError, netns_cookie
from kmeshctl.unixsock import RootOnlySocketServer

log = logging.getLogger("kmeshctl.cni")

REQUEST_LIMIT_BYTES = 64 * 1024


@dataclass(frozen=True)
class CniEnrolled:
    cookie: int
    uid: str
    pod: str


class CniHandler:
    """Answers the plugin's requests. ``podwatch`` is the agent's PodWatcher (its caches
    and its cookie book), ``core_api`` a CoreV1Api for pods the watch has not seen; on a
    node without Kubernetes both are None and ``local_pods`` holds the pods."""

    def __init__(self, enroller: Any, podwatch: Any, core_api: Any, enable_bypass: bool,
                 local_pods: Optional[LocalPods] = None) -> None:
        self.enroller = enroller
        self.podwatch = podwatch
        self.api = core_api
        self.enable_bypass = enable_bypass
        self.local_pods = local_pods
        self._by_container: dict[str, CniEnrolled] = {}
        self._lock = threading.Lock()

    def handle(self, request: dict, netns_fd: Optional[int]) -> dict:
        """One request (the plugin's JSON) -> the reply; never raises."""
        started = time.monotonic()
        command = request.get("command", "")
        pod = f"{request.get('namespace', '')}/{request.get('pod', '')}"
        try:
            if command == "ADD":
                reply = self.add(request, netns_fd)
            elif command == "DEL":
                reply = self.delete(request, netns_fd)
            elif command == "CHECK":
                reply = self.check(request, netns_fd)
            else:
                reply = {"error": f"unknown command {command!r}"}
        except Exception as err:  # noqa: BLE001 - the plugin applies its fail policy
            reply = {"error": f"{type(err).__name__}: {err}"}
        ms = (time.monotonic() - started) * 1000
        level = logging.WARNING if reply.get("error") else logging.INFO
        log.log(level, "event=cni_%s pod=%s container=%s enroll=%s enrolled=%s reason=%r ms=%.1f",
                command.lower() or "unknown", pod, str(request.get("containerId", ""))[:12], reply.get("enroll"),
                reply.get("enrolled"), reply.get("error") or reply.get("reason", ""), ms)
        return reply

    # ----- commands ---------------------------------------------------------------------

    def add(self, request: dict, netns_fd: Optional[int]) -> dict:
        if not request.get("pod"):
            return {"enroll": False, "enrolled": False, "reason": "not a Kubernetes pod (no K8S_POD_NAME)"}
        view, decision = self._decide(request)
        if not decision.enroll:
            return {"enroll": False, "enrolled": False, "reason": decision.reason}
        if netns_fd is None:
            return {"error": "ADD without a network namespace (CNI_NETNS missing or gone)"}
        cookie = _cookie_of_fd(netns_fd)
        name = f"{view.namespace}/{view.name}"
        self.enroller.enroll_cookie(cookie, f"cni:{request.get('containerId', '')[:12]}", name, ENROLLED_BY_CNI)
        with self._lock:
            self._by_container[request.get("containerId", "")] = CniEnrolled(cookie, view.uid, name)
        if self.podwatch is not None and self.podwatch.adopt(view, cookie):
            threading.Thread(target=self.podwatch.annotate, args=(view, ENROLLED_BY_CNI),
                             name="cni-annotate", daemon=True).start()
        elif self.local_pods is not None:
            self._annotate_local(view)
        return {"enroll": True, "enrolled": True, "reason": decision.reason, "cookie": cookie}

    def delete(self, request: dict, netns_fd: Optional[int]) -> dict:
        with self._lock:
            known = self._by_container.pop(request.get("containerId", ""), None)
        cookie = known.cookie if known else None
        if cookie is None and netns_fd is not None:
            cookie = _cookie_of_fd(netns_fd)
        if known is not None and self.podwatch is not None:
            self.podwatch.forget(known.uid)
        if cookie is None or not self.enroller.is_enrolled(cookie):
            return {"enroll": False, "enrolled": False, "reason": "not enrolled"}
        self.enroller.release_cookie(cookie, known.pod if known else "")
        return {"enroll": False, "enrolled": False, "reason": "released"}

    def check(self, request: dict, netns_fd: Optional[int]) -> dict:
        if not request.get("pod"):
            return {"enroll": False, "enrolled": False, "reason": "not a Kubernetes pod"}
        _view, decision = self._decide(request)
        if netns_fd is None:
            return {"error": "CHECK without a network namespace"}
        enrolled = self.enroller.is_enrolled(_cookie_of_fd(netns_fd))
        return {"enroll": decision.enroll, "enrolled": enrolled, "reason": decision.reason}

    # ----- the pod and its namespace ----------------------------------------------------

    def _decide(self, request: dict) -> tuple[PodView, Decision]:
        namespace, name, uid = request["namespace"], request["pod"], request.get("uid", "")
        if self.local_pods is not None:
            view = PodView.from_k8s(self.local_pods.pod(namespace, name))
            if uid and view.uid != uid:
                raise KmeshctlError(f"pod {namespace}/{name} in {self.local_pods.root} has uid {view.uid}, "
                                    f"the runtime asked for {uid}")
            return view, decide(view, self.local_pods.namespace_labels(namespace), self.enable_bypass)
        view, ns_labels = self.podwatch.cached(namespace, name) if self.podwatch else (None, None)
        if view is None or (uid and view.uid != uid):  # not seen yet, or an older pod of that name
            view = PodView.from_k8s(self.api.read_namespaced_pod(name, namespace))
        if ns_labels is None:
            ns_labels = dict(self.api.read_namespace(namespace).metadata.labels or {})
        return view, decide(view, ns_labels, self.enable_bypass)

    def _annotate_local(self, view: PodView) -> None:
        try:
            self.local_pods.annotate(view.namespace, view.name, {REDIRECTION_ANNOTATION: REDIRECTION_ENABLED,
                                                                 ENROLLED_BY_ANNOTATION: ENROLLED_BY_CNI})
        except (OSError, KmeshctlError) as err:  # the pod is enrolled; only the mark is missing
            log.warning("event=pod_annotate_failed pod=%s/%s error=%r", view.namespace, view.name, str(err))


def _cookie_of_fd(fd: int) -> int:
    try:
        return netns_cookie(Path(f"/proc/self/fd/{fd}"))
    except PodNetError as err:
        raise KmeshctlError(f"the netns the plugin passed: {err}") from err


# ----------------------------------------------------------------- the socket


class _RequestHandler(socketserver.BaseRequestHandler):
    cni: CniHandler

    def handle(self) -> None:
        fds: list[int] = []
        try:
            data, fds = _receive(self.request)
            try:
                request = json.loads(data)
            except ValueError:
                reply = {"error": "request is not JSON"}
            else:
                reply = self.cni.handle(request, fds[0] if fds else None)
            self.request.sendall(json.dumps(reply).encode() + b"\n")
        except OSError as err:
            log.warning("event=cni_request_failed error=%r", str(err))
        finally:
            for fd in fds:
                os.close(fd)


def _receive(sock: socket.socket) -> tuple[bytes, list[int]]:
    """The request up to the plugin's end of writing, and the descriptors it sent."""
    sock.settimeout(5.0)
    chunks, fds = [], []
    size = 0
    while size <= REQUEST_LIMIT_BYTES:
        data, new_fds, _flags, _addr = socket.recv_fds(sock, 65536, 4)
        fds += new_fds
        if not data:
            break
        chunks.append(data)
        size += len(data)
    return b"".join(chunks), fds


class CniServer(RootOnlySocketServer):
    """The socket the plugin talks to, only root can reach it (0600 in a 0700 directory;
    ``kmeshctl.unixsock.RootOnlySocketServer``); a directory of ours left open by the
    kubelet or an older agent is tightened."""

    def __init__(self, path: Path, handler: CniHandler) -> None:
        super().__init__(path, type("Handler", (_RequestHandler,), {"cni": handler}), "CNI socket", tighten=True)

    def start(self) -> None:
        super().start()
        log.info("event=cni_socket_listening path=%s mode=0600", self.path)
