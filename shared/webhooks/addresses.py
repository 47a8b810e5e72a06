"""SSRF safety: an endpoint URL may only reach public addresses (docs/webhooks.md, "Safety").

Checked when an endpoint is created or changed, and again on every delivery by the resolver the
worker's HTTP client connects through, so a name that later resolves to an internal address (DNS
rebinding) is refused at the moment of connecting, not only at creation.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Cloud metadata services that are not link-local (AWS's IPv6 one; 169.254.169.254 is link-local).
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("fd00:ec2::254")})
RESOLVE_TIMEOUT_S = 2.0  # the API's check at creation; a slow resolver must not hold the request


class BlockedAddress(Exception):
    """The URL is not allowed, or resolves to an address deliveries may not reach."""


def check_address(address: IPAddress, *, allow_loopback: bool) -> None:
    """Refuse anything that is not a public unicast address (loopback only when allowed)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback and allow_loopback:
        return
    if address in METADATA_ADDRESSES or not address.is_global or address.is_multicast:
        raise BlockedAddress(f"{address} is not a public address")


def check_url(url: str, *, allow_http: bool, allow_loopback: bool) -> URL:
    """The URL parsed, if its form is acceptable (scheme, host, no credentials); addresses come later."""
    try:
        parsed = URL(url)
        host = parsed.host  # decoded lazily: a bad IDNA label fails here (UnicodeError is a ValueError)
    except ValueError:
        raise BlockedAddress("not a valid URL") from None
    schemes = ("https", "http") if allow_http else ("https",)
    if parsed.scheme not in schemes or not host:
        raise BlockedAddress(f"must be an absolute {' or '.join(schemes)} URL")
    if parsed.user or parsed.password:
        raise BlockedAddress("must not carry credentials")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        _check_name(host)
        if host == "localhost" and not allow_loopback:
            raise BlockedAddress("localhost is not a public address") from None
        return parsed
    check_address(literal, allow_loopback=allow_loopback)
    return parsed


def _check_name(host: str) -> None:
    """A host name DNS could look up: labels of 1-63 characters once IDNA-encoded."""
    try:
        encoded = host.rstrip(".").encode("idna")
    except UnicodeError:
        raise BlockedAddress("host is not a valid DNS name") from None
    if len(encoded) > 253:
        raise BlockedAddress("host is not a valid DNS name")


async def check_resolved(url: URL, *, allow_loopback: bool) -> None:
    """Resolve the URL's host now and refuse it if any of its addresses is not public. A name that
    does not resolve (yet) passes: it reaches nothing, and every delivery checks again."""
    resolver = PublicOnlyResolver(allow_loopback=allow_loopback)
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_S):
            await resolver.resolve(url.host or "", url.port or 443)
    except (OSError, UnicodeError):  # TimeoutError is an OSError
        return
    finally:
        await resolver.close()


class PublicOnlyResolver(AbstractResolver):
    """aiohttp's resolver, refusing names that resolve to any non-public address."""

    def __init__(self, *, allow_loopback: bool) -> None:
        self._inner = DefaultResolver()
        self._allow_loopback = allow_loopback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """All of the name's addresses, or BlockedAddress if one of them is not public."""
        results = await self._inner.resolve(host, port, family)
        for result in results:
            check_address(ipaddress.ip_address(result["host"]), allow_loopback=self._allow_loopback)
        return results

    async def close(self) -> None:
        """Nothing of our own to release."""
        await self._inner.close()

    def __repr__(self) -> str:
        return f"PublicOnlyResolver(allow_loopback={self._allow_loopback})"
