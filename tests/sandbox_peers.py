"""Who the sandbox's fortio backends see as their peer, asked the way fortio answers it:
GET /debug through the Service VIP from the netutils pod (eBPF -> waypoint -> backend)
returns `... request from IP:port`. Works for the real fortio and the built-in echo
server alike (the sandbox runs whichever is present)."""

from __future__ import annotations

import re

from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox.state import SandboxState

REQUEST_FROM = re.compile(r"request from (\S+):\d+")


def backend_peers(name: str, count: int = 20) -> set[str]:
    """The peer IPs the backends saw for ``count`` requests to the fortio Service's /debug."""
    state = SandboxState.load(name)
    client = sb.find_pod(state, "netutils")
    url = f"http://{state.vips['default/fortio']}:80/debug"
    peers = set()
    for _ in range(count):
        out = client.run(["curl", "-sS", "-m", "5", url], timeout=30).stdout
        match = REQUEST_FROM.search(out)
        assert match, out
        peers.add(match.group(1))
    return peers
