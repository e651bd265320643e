"""The one wait for a deleted object to go, shared by `uninstall` and `waypoint delete`."""

from __future__ import annotations

import time
from typing import Callable, Optional

from kmeshctl.errors import KmeshctlError


def wait_gone(read: Callable[[], Optional[dict]], deadline: float, poll: float,
              still_there: Callable[[dict], KmeshctlError],
              on_look: Callable[[dict], None] = lambda current: None) -> None:
    """Return once ``read()`` (the deleted object as the cluster has it now) answers None.

    ``deadline`` is a time.monotonic() value in seconds; ``poll`` the seconds slept between
    two looks. Past the deadline it raises ``still_there(current)`` (the caller's one-line
    error naming what holds the object), but only from the second look on: the first
    follows the delete at once, when nearly any object is still going. ``on_look(current)``
    runs after each look that found it, before the sleep (a caller's progress line).
    Whatever ``read`` raises (ApiError, ApiUnreachable) goes to the caller as it is."""
    looks = 0
    while (current := read()) is not None:
        looks += 1
        if looks > 1 and time.monotonic() >= deadline:
            raise still_there(current)
        on_look(current)
        time.sleep(poll)
