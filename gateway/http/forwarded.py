"""The client's address: the peer's, or what a trusted proxy says it forwarded.

Behind a load balancer or an ingress the peer that opens the connection is the proxy, and the
client's address is in the header the proxy appends to (`X-Forwarded-For`, or RFC 7239
`Forwarded`). Anyone can send that header too, so it is read only when the peer is one of the
configured proxies (`OBGW_TRUSTED_PROXIES`), and only as far as trusted proxies vouch for it:
walking the hops from the right (the entry the nearest proxy wrote) to the left, the first
address that is not a trusted proxy is the client. Whatever a client writes further left is
never read.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv6Address

from gateway.settings import ForwardedHeader, Network

Address = IPv4Address | IPv6Address
MAX_HOPS = 32


class ClientAddresses:
    """Resolves each request's client address by one rule (see the module docstring)."""

    def __init__(
        self,
        proxies: Sequence[Network] = (),
        header: ForwardedHeader = ForwardedHeader.X_FORWARDED_FOR,
    ) -> None:
        self.proxies = tuple(proxies)
        self.header = header.value.encode("latin-1")
        self._parse = _forwarded_for if header is ForwardedHeader.FORWARDED else _x_forwarded_for

    def resolve(self, peer: str, headers: Iterable[tuple[bytes, bytes]]) -> str:
        """The client's address for a request from `peer` with these raw ASGI headers."""
        if not self.proxies:
            return peer
        client = _address(peer)
        if client is None or not self._is_trusted(client):
            return peer
        values = [value.decode("latin-1") for name, value in headers if name == self.header]
        hops = self._parse(",".join(values))
        for hop in reversed(hops[-MAX_HOPS:]):
            address = _address(hop)
            if address is None:
                break  # a trusted proxy wrote something that is not an address: stop there
            client = address
            if not self._is_trusted(address):
                break
        return str(client)

    def _is_trusted(self, address: Address) -> bool:
        return any(address in network for network in self.proxies)


def _address(text: str) -> Address | None:
    """An IP address from a hop (`192.0.2.1`, `192.0.2.1:443`, `[2001:db8::1]:443`)."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _x_forwarded_for(value: str) -> list[str]:
    return [hop for hop in (part.strip() for part in value.split(",")) if hop]


def _forwarded_for(value: str) -> list[str]:
    """The `for=` parameter of each element of an RFC 7239 `Forwarded` value ("" if absent)."""
    hops: list[str] = []
    for element in _split_unquoted(value, ","):
        if not element.strip():
            continue
        found = ""
        for pair in _split_unquoted(element, ";"):
            name, _, token = pair.partition("=")
            if name.strip().lower() == "for":
                found = token.strip()
        hops.append(found)
    return hops


def _split_unquoted(value: str, separator: str) -> list[str]:
    """`value` split at `separator` outside double quotes (RFC 9110 §5.6.4 quoted strings)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts
