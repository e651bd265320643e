"""Text of bounded size for log lines and xDS NACK details.

Resource names come from the control plane and may be of any length (a 1 MiB name is a
valid protobuf string): whatever is logged or sent back about them is cut to a known
size, with a marker that says how long the original was.
"""

from __future__ import annotations

from typing import Iterable

NAME_LIMIT = 256  # chars of one name (or other control-plane text) quoted in a message
DETAIL_LIMIT = 4096  # chars of one NACK error_detail, all problems together
LINE_LIMIT = 16384  # chars of one log line (the formatter's last resort)


def clip(text: str, limit: int = NAME_LIMIT) -> str:
    """``text`` itself when at most ``limit`` chars, else its start and the marker
    ``...[N chars]`` (N: the original length), together exactly ``limit`` chars
    (meant for limits of a few dozen chars and more: a tinier one cuts the marker)."""
    if len(text) <= limit:
        return text
    marker = f"...[{len(text)} chars]"
    return (text[:max(0, limit - len(marker))] + marker)[:limit]


def join_bounded(parts: Iterable[str], separator: str = "; ", limit: int = DETAIL_LIMIT) -> str:
    """``separator.join(parts)`` in at most ``limit`` chars: parts that no longer fit
    are left out and counted in a final ``...and N more``; a part longer than the
    room left is clipped (so the first part always shows)."""
    items = list(parts)
    tail_room = len(f"{separator}...and {len(items)} more")
    out: list[str] = []
    used = 0
    for index, part in enumerate(items):
        room = limit - used - (len(separator) if out else 0)
        last = index == len(items) - 1
        if not last:
            room -= tail_room
        if len(part) > room and out:
            break
        out.append(clip(part, max(room, 0)))
        used += len(out[-1]) + (len(separator) if len(out) > 1 else 0)
    left = len(items) - len(out)
    text = separator.join(out)
    return f"{text}{separator}...and {left} more" if left else text
