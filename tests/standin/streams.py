"""`pods/exec` and `pods/portforward` over WebSocket, as the `kubernetes` Python client
speaks them (`kubernetes.stream.stream` / `kubernetes.stream.portforward`).

Exec (`v5.channel.k8s.io` or `v4.channel.k8s.io`, the client's first choice wins): every
message is one channel byte then data; 0 stdin (client to server), 1 stdout, 2 stderr,
3 error: when the command ends, a `Status` JSON (Success, or Failure with reason
NonZeroExitCode and the exit code as the message of a cause with reason ExitCode), then
the server closes. v5 adds the client's close signal (255, channel) to end stdin.

Port-forward (`v4.channel.k8s.io`): two channels per requested port, data (2i) and error
(2i+1); the server's first message on each is the port number (2 bytes, little endian).
One WebSocket connection is one TCP connection to each port inside the pod; a failed
connection is reported as text on the port's error channel. When the pod side closes,
the server closes the WebSocket after a grace second (as containerd does).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .kubelet import PodBackend
from .resources import HttpError, parse_bool
from .websocket import BINARY, ConnectionClosed, WebSocket

EXEC_PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io"]
PORT_FORWARD_PROTOCOLS = ["v4.channel.k8s.io"]
STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE_SIGNAL = 255  # v5 only
CLOSE_WAIT_S = 2.0
POD_SIDE_GRACE_S = 1.0


# -- exec ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExecOptions:
    argv: list[str]
    container: str
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool


def exec_options(query: dict[str, list[str]], pod: dict) -> ExecOptions:
    """Validate an exec request as the API server does (before any upgrade)."""
    first = {k: v[0] for k, v in query.items()}
    options = ExecOptions(query.get("command", []), _container(first.get("container", ""), pod),
                          parse_bool(first.get("stdin")), parse_bool(first.get("stdout")),
                          parse_bool(first.get("stderr")), parse_bool(first.get("tty")))
    if not options.argv:
        raise HttpError(400, "BadRequest", "you must specify at least 1 command")
    if not (options.stdin or options.stdout or options.stderr):
        raise HttpError(400, "BadRequest", "you must specify at least one of stdin, stdout, stderr")
    check_runnable(pod)
    phase = pod.get("status", {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise HttpError(400, "BadRequest", f"cannot exec into a container in a completed pod; current phase "
                        f"is {phase}")
    return options


def _container(wanted: str, pod: dict) -> str:
    names = [c["name"] for c in pod.get("spec", {}).get("containers", [])]
    pod_name = pod["metadata"]["name"]
    if not wanted:
        if len(names) == 1:
            return names[0]
        raise HttpError(400, "BadRequest", f"a container name must be specified for pod {pod_name}, "
                        f"choose one of: [{' '.join(names)}]")
    if wanted not in names:
        raise HttpError(400, "BadRequest", f"container {wanted} is not valid for pod {pod_name}")
    return wanted


def check_runnable(pod: dict) -> None:
    if not pod.get("spec", {}).get("nodeName"):
        raise HttpError(400, "BadRequest", f"pod {pod['metadata']['name']} does not have a host assigned")


def exit_status(argv: list[str], returncode: int) -> dict:
    """The error channel's Status for a finished command (signals count as 128 + number)."""
    if returncode == 0:
        return {"metadata": {}, "status": "Success"}
    code = returncode if returncode > 0 else 128 - returncode
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command "
                       f"[{' '.join(argv)}], exit code {code}",
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def start_failure_status(argv: list[str], err: OSError) -> dict:
    detail = (f"error executing command in container: failed to exec in container: exec: "
              f"\"{argv[0]}\": {err.strerror or err}")
    return {"metadata": {}, "status": "Failure", "message": f"Internal error occurred: {detail}",
            "reason": "InternalError", "details": {"causes": [{"message": detail}]}, "code": 500}


class ExecSession:
    """One exec: the command runs through the pod's backend while its output streams."""

    def __init__(self, ws: WebSocket, protocol: str, options: ExecOptions, backend: PodBackend) -> None:
        self.ws, self.protocol, self.options, self.backend = ws, protocol, options, backend
        self.process: Optional[subprocess.Popen] = None
        self.finished = threading.Event()

    def run(self) -> None:
        opts = self.options
        try:
            self.process = self.backend.exec(
                opts.argv, stdin=subprocess.PIPE if opts.stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE if opts.stdout else subprocess.DEVNULL,
                stderr=(subprocess.STDOUT if opts.tty else subprocess.PIPE) if opts.stderr else subprocess.DEVNULL,
                start_new_session=True)
        except OSError as err:
            self._finish(start_failure_status(opts.argv, err), None)
            return
        reader = _thread(self._read_client, "exec-stdin")
        pumps = [_thread(self._pump, f"exec-{channel}", stream, channel)
                 for stream, channel in ((self.process.stdout, STDOUT), (self.process.stderr, STDERR)) if stream]
        returncode = self.process.wait()
        for pump in pumps:
            pump.join()
        self._finish(exit_status(opts.argv, returncode), reader)

    def _finish(self, status: dict, reader: Optional[threading.Thread]) -> None:
        self.finished.set()
        _send(self.ws, ERROR, json.dumps(status).encode())
        self.ws.send_close()
        if reader is not None:
            reader.join(CLOSE_WAIT_S)
        self.ws.shutdown()

    def _pump(self, stream: Any, channel: int) -> None:
        while chunk := os.read(stream.fileno(), 65536):
            if not _send(self.ws, channel, chunk):
                break
        stream.close()

    def _read_client(self) -> None:
        stdin = self.process.stdin if self.process else None
        while (message := self.ws.receive()) is not None:
            data = message[1]
            if not data:
                continue
            if data[0] == STDIN and stdin is not None and not stdin.closed:
                _write_quietly(stdin, data[1:])
            elif data[0] == CLOSE_SIGNAL and self.protocol.startswith("v5.") and data[1:2] == bytes([STDIN]):
                if stdin is not None:
                    stdin.close()
        if not self.finished.is_set():  # the client went away: so does the command
            self.abort()

    def abort(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except OSError:
                pass
        self.ws.shutdown()


def _write_quietly(stdin: Any, data: bytes) -> None:
    try:
        stdin.write(data)
        stdin.flush()
    except OSError:
        pass


# -- port-forward -------------------------------------------------------------------------


def forward_ports(query: dict[str, list[str]]) -> list[int]:
    values = [p for value in query.get("ports", []) for p in value.split(",") if p]
    if not values:
        raise HttpError(400, "BadRequest", 'query parameter "port" is required')
    ports = []
    for value in values:
        if not value.isdigit() or int(value) > 65535:
            raise HttpError(400, "BadRequest", f'unable to parse "{value}" as a port')
        if int(value) == 0:
            raise HttpError(400, "BadRequest", f'port "{value}" must be > 0')
        ports.append(int(value))
    return ports


class PortForwardSession:
    def __init__(self, ws: WebSocket, ports: list[int], backend: PodBackend, pod: dict) -> None:
        self.ws, self.ports, self.backend, self.pod = ws, ports, backend, pod
        self.remotes: dict[int, socket.socket] = {}  # port index -> connection in the pod
        self.client_gone = threading.Event()
        self.pod_side_done: list[threading.Event] = []

    def run(self) -> None:
        for index, port in enumerate(self.ports):
            for channel in (2 * index, 2 * index + 1):
                _send(self.ws, channel, struct.pack("<H", port))
        for index, port in enumerate(self.ports):
            done = threading.Event()
            self.pod_side_done.append(done)
            self._open(index, port, done)
        reader = _thread(self._read_client, "portforward-in")
        while not self.client_gone.is_set() and not all(d.is_set() for d in self.pod_side_done):
            self.client_gone.wait(0.05)
        if not self.client_gone.is_set():
            self.client_gone.wait(POD_SIDE_GRACE_S)
        self.ws.send_close()
        reader.join(CLOSE_WAIT_S)
        self.abort()

    def _open(self, index: int, port: int, done: threading.Event) -> None:
        try:
            self.remotes[index] = self.backend.connect(port)
        except OSError as err:
            meta = self.pod["metadata"]
            message = (f"error forwarding port {port} to pod {meta['name']}, uid {meta.get('uid', '')}: "
                       f"failed to connect to localhost:{port} inside the pod: {err}")
            _send(self.ws, 2 * index + 1, message.encode())
            done.set()
            return
        self.remotes[index].settimeout(None)
        _thread(self._pump, f"portforward-out-{port}", index, done)

    def _pump(self, index: int, done: threading.Event) -> None:
        remote = self.remotes[index]
        try:
            while chunk := remote.recv(65536):
                if not _send(self.ws, 2 * index, chunk):
                    break
        except OSError:
            pass
        done.set()

    def _read_client(self) -> None:
        while (message := self.ws.receive()) is not None:
            data = message[1]
            if not data or data[0] % 2 or data[0] // 2 not in self.remotes:
                continue  # nothing is read from error channels
            try:
                self.remotes[data[0] // 2].sendall(data[1:])
            except OSError:
                pass
        self.client_gone.set()

    def abort(self) -> None:
        for remote in self.remotes.values():
            try:
                remote.close()
            except OSError:
                pass
        self.ws.shutdown()


# -- shared -------------------------------------------------------------------------------


def _send(ws: WebSocket, channel: int, data: bytes) -> bool:
    try:
        ws.send(bytes([channel]) + data, BINARY)
        return True
    except (ConnectionClosed, OSError):  # the session is ending
        return False


def _thread(target: Callable[..., None], name: str, *args: Any) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    thread.start()
    return thread
