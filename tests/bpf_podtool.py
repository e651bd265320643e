"""Real TCP endpoints run inside test pods (network namespaces) by the BPF tests.

  serve NAME PORT...            reply "NAME:PORT\\n" to every connection on each port
  sink PORT                     a raw listener posing as a waypoint: for each connection,
                                print {"peer": ..., "data": <hex of every byte received>}
  connect HOST PORT [options]   connect COUNT times; print one JSON object per attempt:
                                {"ok": true, "reply": ..., "local": [ip, port]} or
                                {"ok": false, "error": "<errno name>"}
                                (--timed adds "seconds": how long connect() took)
  udpsink PORT                  a UDP listener: print {"peer": ..., "data": <text>} per datagram
  udpsend HOST PORT TEXT        connect() a UDP socket, send TEXT once, print
                                {"peer": [ip, port] of getpeername()} or {"error": ...}

Servers print "ready" once listening.
"""

from __future__ import annotations

import argparse
import errno
import json
import select
import socket
import sys
import threading
import time


def _listen(port: int) -> socket.socket:
    """A dual-stack listener (IPv4 peers show as plain IPv4 addresses, see _peer)."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(("::", port))
    sock.listen(512)
    return sock


def _peer(address: tuple) -> list:
    host = address[0]
    return [host[7:] if host.startswith("::ffff:") else host, address[1]]


def serve(name: str, ports: list[int]) -> None:
    listeners = [_listen(p) for p in ports]
    print("ready", flush=True)
    while True:
        readable, _, _ = select.select(listeners, [], [])
        for listener in readable:
            conn, _ = listener.accept()
            with conn:
                try:
                    conn.sendall(f"{name}:{listener.getsockname()[1]}\n".encode())
                except OSError:
                    pass


_PRINT_LOCK = threading.Lock()


def _drain(conn: socket.socket, peer: tuple) -> None:
    chunks = []
    with conn:
        conn.settimeout(10)
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                chunks.append(data)
            conn.sendall(b"ok\n")
        except OSError:
            pass
    line = json.dumps({"peer": _peer(peer), "data": b"".join(chunks).hex()})
    with _PRINT_LOCK:  # print() from two threads can interleave two records on one line
        print(line, flush=True)


def sink(port: int) -> None:
    listener = _listen(port)
    print("ready", flush=True)
    while True:
        conn, peer = listener.accept()
        threading.Thread(target=_drain, args=(conn, peer), daemon=True).start()


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _timed_connect(sock: socket.socket, host: str, port: int, timing: dict) -> None:
    start = time.monotonic()
    try:
        sock.connect((host, port))
    finally:
        timing["seconds"] = round(time.monotonic() - start, 4)


def _one_connect(host: str, port: int, family: int, payloads: list[bytes], timeout: float,
                 pause: float, timing: dict) -> dict:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        _timed_connect(sock, host, port, timing)
        local = sock.getsockname()[:2]
        for i, payload in enumerate(payloads):
            if i:
                time.sleep(pause)  # separate sendmsg calls reach the kernel separately
            sock.sendall(payload)
        if payloads:
            sock.shutdown(socket.SHUT_WR)
        reply = b""
        while True:
            data = sock.recv(4096)
            if not data:
                break
            reply += data
        return {"ok": True, "reply": reply.decode(errors="replace").strip(), "local": _peer(local)}
    except socket.timeout:
        return {"ok": False, "error": "ETIMEDOUT"}
    except OSError as err:
        return {"ok": False, "error": errno.errorcode.get(err.errno or 0, str(err))}
    finally:
        sock.close()


def connect(args: argparse.Namespace) -> None:
    family = _family(args.host)
    payloads = [p.encode() for p in args.send.split(",")] if args.send else []
    for _ in range(args.count):
        timing: dict = {}
        result = _one_connect(args.host, args.port, family, payloads, args.timeout, args.pause,
                              timing)
        if args.timed:
            result.update(timing)
        print(json.dumps(result), flush=True)
        if args.interval:
            time.sleep(args.interval)


def udpsink(port: int) -> None:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(("::", port))
    print("ready", flush=True)
    while True:
        data, peer = sock.recvfrom(65536)
        print(json.dumps({"peer": _peer(peer), "data": data.decode(errors="replace")}),
              flush=True)


def udpsend(host: str, port: int, text: str) -> None:
    sock = socket.socket(_family(host), socket.SOCK_DGRAM)
    try:
        sock.connect((host, port))
        sock.send(text.encode())
        print(json.dumps({"peer": _peer(sock.getpeername())}), flush=True)
    except OSError as err:
        print(json.dumps({"error": errno.errorcode.get(err.errno or 0, str(err))}), flush=True)
    finally:
        sock.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_serve = sub.add_parser("serve")
    p_serve.add_argument("name")
    p_serve.add_argument("ports", type=int, nargs="+")
    p_sink = sub.add_parser("sink")
    p_sink.add_argument("port", type=int)
    p_conn = sub.add_parser("connect")
    p_conn.add_argument("host")
    p_conn.add_argument("port", type=int)
    p_conn.add_argument("--count", type=int, default=1)
    p_conn.add_argument("--send", default="")
    p_conn.add_argument("--timeout", type=float, default=2.0)
    p_conn.add_argument("--pause", type=float, default=0.05)
    p_conn.add_argument("--interval", type=float, default=0.0)
    p_conn.add_argument("--timed", action="store_true")
    p_udpsink = sub.add_parser("udpsink")
    p_udpsink.add_argument("port", type=int)
    p_udpsend = sub.add_parser("udpsend")
    p_udpsend.add_argument("host")
    p_udpsend.add_argument("port", type=int)
    p_udpsend.add_argument("text")
    args = parser.parse_args()
    if args.cmd == "serve":
        serve(args.name, args.ports)
    elif args.cmd == "sink":
        sink(args.port)
    elif args.cmd == "udpsink":
        udpsink(args.port)
    elif args.cmd == "udpsend":
        udpsend(args.host, args.port, args.text)
    else:
        connect(args)


if __name__ == "__main__":
    sys.exit(main())
