"""Jittered exponential back-off, shared by every reconnect and relist loop (the xDS
client, the node agent's pod watch, the waypoint controller's informers). Low-level:
imports nothing from kmeshctl."""

from __future__ import annotations

import random
from typing import Callable


def jittered(attempt: int, base: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after failure number ``attempt`` (>= 0): a random point in the upper
    half of min(cap, base * 2**attempt), so loops that failed together (an API server or
    istiod restart) do not come back together. ``rand`` returns [0, 1)."""
    ceiling = min(cap, base * (2 ** min(max(attempt, 0), 30)))
    return ceiling * (0.5 + 0.5 * rand())
