"""The test xDS server (kmeshctl's own ``XdsServer``), noting when each response is
queued for a stream: the "server send" time of the benchmark (benchmark instrumentation,
not part of the product)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterable, Iterator, Optional

from kmeshctl.xds.server import XdsServer


@dataclass(frozen=True)
class Sent:
    nonce: str
    type_url: str
    monotonic_ns: int
    wall: float  # time.time(), the clock of the server's ACK records


class TimedXdsServer(XdsServer):
    def __init__(self) -> None:
        super().__init__()
        self.sent: dict[str, Sent] = {}  # nonce -> when it was queued
        self.address = ""

    def _push_delta(self, stream, type_url: str, names: Iterable[str], always: bool = False) -> None:  # type: ignore[override]
        before = stream.info.responses_sent
        super()._push_delta(stream, type_url, names, always)
        if stream.info.responses_sent != before:
            nonce = stream.info.last_nonce[type_url]
            self.sent[nonce] = Sent(nonce, type_url, time.monotonic_ns(), time.time())

    def first_push(self, type_url: str) -> Optional[Sent]:
        pushes = [s for s in self.sent.values() if s.type_url == type_url]
        return min(pushes, key=lambda s: s.monotonic_ns) if pushes else None

    def last_nonce(self, type_url: str) -> str:
        """Nonce of the latest response of ``type_url`` on the (single) agent stream."""
        (stream,) = self.streams()
        return stream.last_nonce[type_url]

    def ack_wall_time(self, nonce: str) -> Optional[float]:
        for info in self.streams(include_closed=True):
            for reply in info.replies:
                if reply.nonce == nonce and reply.acked:
                    return reply.at
        return None

    def nack_count(self) -> int:
        return sum(len(info.nacks()) for info in self.streams(include_closed=True))


@contextmanager
def running_server() -> Iterator[TimedXdsServer]:
    server = TimedXdsServer()
    server.address = server.add_listener("127.0.0.1:0")
    server.start()
    try:
        yield server
    finally:
        server.stop()
