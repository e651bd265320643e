"""Who owns a frontend address when more than one upstream claims it.

``km_frontend`` maps one address to one upstream id, but the workload API can give one
address several owners: a VIP shared by two Services, a pod IP reused by a new pod while
the old one is still listed, a Service VIP equal to a pod IP. Each owner's claim is kept,
so removing one owner hands the address to the next instead of deleting it.

The winner is defined, independent of arrival order (so a restarted agent picks the
same one): a Service beats a Workload (a connect to a Service address is balanced, as
kube-proxy would), and among owners of one kind the smallest registry name wins.
"""

from __future__ import annotations

import ipaddress
from typing import Callable, Iterable, Optional, Union

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
# rank(upstream id) -> sort key; the smallest key wins the address
Rank = Callable[[int], tuple]
# one owner (the common case) or several: a set per address would cost 100,000 sets
_Owners = Union[int, tuple[int, ...]]


def _as_tuple(owners: Optional[_Owners]) -> tuple[int, ...]:
    if owners is None:
        return ()
    return owners if isinstance(owners, tuple) else (owners,)


def _packed(owners: Iterable[int]) -> Optional[_Owners]:
    items = tuple(sorted(set(owners)))
    if not items:
        return None
    return items[0] if len(items) == 1 else items


class FrontendOwners:
    """Claims of upstream ids (service or backend) on frontend addresses.

    ``claim(upstream, ips)`` replaces what ``upstream`` claims and returns the addresses
    whose owner set changed; ``winner(ip)`` is the upstream the map entry must name (None:
    nobody claims it, the entry must go)."""

    def __init__(self, rank: Rank) -> None:
        self._rank = rank
        self._owners: dict[IPAddress, _Owners] = {}
        # upstream -> its addresses: one address (the common case) is held as itself
        self._claims: dict[int, Union[IPAddress, tuple[IPAddress, ...]]] = {}

    def claim(self, upstream: int, ips: Iterable[IPAddress]) -> set[IPAddress]:
        wanted = ips if isinstance(ips, frozenset) else frozenset(ips)
        old = self.claimed(upstream)
        if wanted:
            self._claims[upstream] = next(iter(wanted)) if len(wanted) == 1 else tuple(wanted)
        else:
            self._claims.pop(upstream, None)
        if not old:  # the common case (a first sync): only additions
            for ip in wanted:
                self._add_owner(ip, upstream)
            return set(wanted)
        changed = wanted.symmetric_difference(old)
        for ip in changed:
            if ip in wanted:
                self._add_owner(ip, upstream)
            else:
                self._remove_owner(ip, upstream)
        return set(changed)

    def _add_owner(self, ip: IPAddress, upstream: int) -> None:
        held = self._owners.get(ip)
        if held is None:
            self._owners[ip] = upstream
        elif held != upstream:
            self._owners[ip] = _packed(_as_tuple(held) + (upstream,))  # type: ignore[assignment]

    def _remove_owner(self, ip: IPAddress, upstream: int) -> None:
        packed = _packed(o for o in _as_tuple(self._owners.get(ip)) if o != upstream)
        if packed is None:
            self._owners.pop(ip, None)
        else:
            self._owners[ip] = packed

    def winner(self, ip: IPAddress) -> Optional[int]:
        held = self._owners.get(ip)
        if held is None or isinstance(held, int):
            return held
        return min(held, key=self._rank)

    def owners(self, ip: IPAddress) -> tuple[int, ...]:
        return _as_tuple(self._owners.get(ip))

    def claimed(self, upstream: int) -> tuple[IPAddress, ...]:
        held = self._claims.get(upstream, ())
        return held if isinstance(held, tuple) else (held,)

    def is_claimed(self, ip: IPAddress) -> bool:
        return ip in self._owners

    def addresses(self) -> Iterable[IPAddress]:
        return self._owners.keys()

    def clear(self) -> None:
        self._owners.clear()
        self._claims.clear()

    def shared(self) -> dict[IPAddress, tuple[int, ...]]:
        """Addresses with more than one owner (for the config dump and tests)."""
        return {ip: owners for ip, owners in self._owners.items() if isinstance(owners, tuple)}
