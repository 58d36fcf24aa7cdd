"""The client address a request came from, for counting failed sign-ins.

``REMOTE_ADDR`` is the peer of the TCP connection. ``X-Forwarded-For`` is a list anyone can
write, so it is read only when the peer is one of ``GOVBOARD_TRUSTED_PROXIES``, and then from
the right: each trusted proxy appended the address it saw, so the first entry from the right
that is not a trusted proxy is the client. Entries to the left of it were written by the
client and are never believed. A malformed entry stops the walk at the proxy that passed it.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: IPv6 clients are counted per /64: one subscriber usually holds a whole /64, and could
#: otherwise take a fresh address for every guess.
IPV6_PREFIX = 64


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def trusted_proxies() -> tuple[IPNetwork, ...]:
    return _networks(tuple(settings.GOVBOARD_TRUSTED_PROXIES))


def _parse(value: str) -> IPAddress | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "192.0.2.1:443"
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: IPAddress, proxies: tuple[IPNetwork, ...]) -> bool:
    return any(address.version == network.version and address in network for network in proxies)


def client_address(request: HttpRequest | None) -> str | None:
    """The client's address as text, or None when there is no request or no usable peer."""
    if request is None:
        return None
    peer = _parse(request.META.get("REMOTE_ADDR") or "")
    if peer is None:
        return None
    proxies = trusted_proxies()
    client = peer
    if proxies and _is_trusted(peer, proxies):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR") or ""
        for entry in reversed([part for part in forwarded.split(",") if part.strip()]):
            hop = _parse(entry)
            if hop is None:
                break  # a malformed entry: believe nothing left of it
            client = hop
            if not _is_trusted(hop, proxies):
                break
    return str(client)


def address_key(address: str | None) -> str | None:
    """What an address is counted as: itself for IPv4, its /64 for IPv6."""
    if not address:
        return None
    parsed = _parse(address)
    if parsed is None:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return str(parsed)
