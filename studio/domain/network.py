"""Who is asking: the client's address behind the reverse proxies the settings trust."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(text: str) -> list[Network]:
    """TRUSTED_PROXIES ("10.0.0.1, 172.16.0.0/12"); ValueError names an entry that is not an address."""
    found = []
    for part in text.split(","):
        if part.strip():
            try:
                found.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise ValueError(f"{part.strip()!r} is not an address or a network") from None
    return found


def is_trusted(address: str | None, proxies: Sequence[Network]) -> bool:
    """Is `address` (a connection's peer, or a hop of X-Forwarded-For) one of the trusted proxies?"""
    if not address or not proxies:
        return False
    try:
        ip = ipaddress.ip_address(address.strip().split("%", 1)[0])  # an IPv6 scope (fe80::1%eth0) is no host
    except ValueError:  # a Unix socket path, a test client's "testclient"
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1 on a dual-stack socket
    return any(ip.version == network.version and ip in network for network in proxies)


def client_address(peer: str | None, forwarded_for: str | None, proxies: Sequence[Network]) -> str | None:
    """The address a request came from: the peer's own, unless the peer is a trusted proxy; then the
    right-most address of X-Forwarded-For that is not a trusted proxy (what a client writes to the left of
    it cannot be believed)."""
    if not is_trusted(peer, proxies) or not forwarded_for:
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer
