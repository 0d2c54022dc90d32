"""Which client an HTTP request came from, for counting its sign-in attempts: the connection's
peer, unless that peer is one of TRUSTED_PROXIES; then the nearest address in X-Forwarded-For that
is not a trusted proxy (each proxy appends the address it was connected from, so the addresses
left of it were written by whoever connected, and cannot be believed). An IPv6 client is its /64:
one host holds a whole /64 and could otherwise use a new address for every attempt.

uvicorn's own proxy-header handling is off (service/__main__.py): it believed X-Forwarded-For from
any loopback peer, whatever the deployment.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.requests import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(proxies: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def client_address(request: Request, proxies: tuple[Network, ...]) -> str:
    peer = request.client.host if request.client is not None else ""
    if _trusted(peer, proxies):
        forwarded = request.headers.get("x-forwarded-for", "")
        for hop in reversed([part.strip() for part in forwarded.split(",") if part.strip()]):
            if not _trusted(hop, proxies):
                return _client(hop)
    return _client(peer)


def _trusted(address: str, proxies: tuple[Network, ...]) -> bool:
    parsed = _parsed(address)
    return parsed is not None and any(parsed in network for network in proxies)


def _client(address: str) -> str:
    parsed = _parsed(address)
    if parsed is None:
        return address[:64]  # not an IP address (a test client's name): counted as it is
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def _parsed(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None
