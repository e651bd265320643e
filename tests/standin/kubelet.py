"""The kubelet's part of exec and port-forward: what actually runs a stand-in pod.

The stand-in API server has no nodes of its own; a test says what backs a pod (the
server's `back_pod` / `pod_backend_resolver`): a real process environment to run exec'd
commands in and real TCP ports to forward to.

- `HostNetworkBackend`: a `hostNetwork: true` pod (the node agent's DaemonSet pod): its
  processes run in the host's namespaces, and port-forward connects to 127.0.0.1:<port>
  of the host, which is what a kubelet does for such a pod.
- `PodnetBackend`: a `kmeshctl.podnet.Pod` (its own netns and cgroup): commands run in the
  pod (cgroup first, then netns); port-forward connects to 127.0.0.1:<port> inside the
  pod's network namespace.
"""

from __future__ import annotations

import socket
import subprocess
import threading
from typing import Any, Optional, Protocol

CONNECT_TIMEOUT_S = 5.0


class PodBackend(Protocol):
    def exec(self, argv: list[str], **popen: Any) -> subprocess.Popen: ...

    def connect(self, port: int) -> socket.socket: ...


class HostNetworkBackend:
    ip: Optional[str] = None

    def exec(self, argv: list[str], **popen: Any) -> subprocess.Popen:
        return subprocess.Popen(argv, **popen)

    def connect(self, port: int) -> socket.socket:
        return socket.create_connection(("127.0.0.1", port), timeout=CONNECT_TIMEOUT_S)


class PodnetBackend:
    def __init__(self, pod: Any) -> None:  # a kmeshctl.podnet.Pod
        self.pod = pod
        self.ip = str(pod.ip)

    def exec(self, argv: list[str], **popen: Any) -> subprocess.Popen:
        return self.pod.popen(argv, **popen)

    def connect(self, port: int) -> socket.socket:
        from kmeshctl.podnet import enter_netns

        result: dict[str, Any] = {}

        def dial() -> None:  # setns() moves only this short-lived thread
            try:
                enter_netns(self.pod.netns_path)
                result["socket"] = socket.create_connection(("127.0.0.1", port), timeout=CONNECT_TIMEOUT_S)
            except OSError as err:
                result["error"] = err

        thread = threading.Thread(target=dial, name=f"dial-{self.pod.name}")
        thread.start()
        thread.join()
        if "error" in result:
            raise result["error"]
        return result["socket"]
