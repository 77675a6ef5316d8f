"""URL normalisation for dedupe, and the public-address rule every fetch obeys."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

# Query parameters that only say where a click came from; the same article is reached
# through links carrying different values of these.
TRACKING_PARAMETERS = frozenset(
    {
        "yclid",
        "ysclid",
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "from",
        "_openstat",
        "openstat",
        "xtor",
    }
)
TRACKING_PREFIXES = ("utm_", "yandex_", "_ga")
DEFAULT_PORTS = {"http": 80, "https": 443}
DNS_TIMEOUT_SECONDS = 5.0
_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")


def is_tracking_parameter(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMETERS or lowered.startswith(TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """The form under which an article URL is stored and compared.

    Scheme and host lowercased, default port and fragment dropped, tracking parameters
    (utm_*, yclid, fbclid, from, …) removed, the remaining query kept in its order.
    Strings that are not absolute http(s) URLs come back stripped but otherwise unchanged.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return url
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username is not None:
        credentials = parts.username
        if parts.password is not None:
            credentials += f":{parts.password}"
        netloc = f"{credentials}@{netloc}"
    path = _upper_escapes(quote(parts.path, safe="/%:@!$&'()*+,;=~-._")) or "/"
    kept = [
        piece
        for piece in parts.query.split("&")
        if piece and not is_tracking_parameter(unquote_plus(piece.split("=", 1)[0]))
    ]
    query = _upper_escapes(quote("&".join(kept), safe="/%:@!$&'()*+,;=~-._?"))
    return urlunsplit((scheme, netloc, path, query, ""))


def _upper_escapes(text: str) -> str:
    return _ESCAPE.sub(lambda match: match.group(0).upper(), text)


def is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in DEFAULT_PORTS and bool(parts.hostname)


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


# Prefixes whose addresses carry an IPv4 address in their low 32 bits: NAT64 (RFC 6052,
# RFC 8215) and the deprecated IPv4-compatible form. A gateway or stack that honours them
# connects to that IPv4 address, so it is the one that has to be public.
_LOW_BITS_IPV4_NETWORKS = (
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("64:ff9b:1::/48"),
    ipaddress.ip_network("::/96"),
)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    for network in _LOW_BITS_IPV4_NETWORKS:
        if ip in network:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _is_global(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not ip.is_multicast


def is_public_address(address: str) -> bool:
    """False for loopback, private, link-local, reserved, multicast and unspecified addresses,
    and for IPv6 addresses that embed such an IPv4 address (mapped, 6to4, Teredo, NAT64)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return _is_global(embedded)
    return _is_global(ip)


def origin_of(url: str) -> str:
    """`host:port` of an http(s) URL, the port spelled out; empty for anything else."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return ""
    return f"{parts.hostname.lower()}:{port or DEFAULT_PORTS[scheme]}"


def ip_literal(host: str) -> str | None:
    """The host itself when it is an IP address literal, else None."""
    candidate = host.strip("[]")
    try:
        ipaddress.ip_address(candidate.split("%", 1)[0])
    except ValueError:
        return None
    return candidate


async def is_public_http_url(url: str) -> bool:
    """True when `url` is http(s) and every address its host resolves to is public.

    Used before an admin-supplied feed is accepted: a feed may not point the bot at
    loopback, the private network or cloud metadata addresses.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in DEFAULT_PORTS or not host:
        return False
    literal = ip_literal(host)
    if literal is not None:
        return is_public_address(literal)
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(DNS_TIMEOUT_SECONDS):
            infos = await loop.getaddrinfo(
                host, port or DEFAULT_PORTS[scheme], type=socket.SOCK_STREAM
            )
    except (OSError, TimeoutError, UnicodeError):
        return False
    addresses = {str(info[4][0]) for info in infos}
    return bool(addresses) and all(is_public_address(address) for address in addresses)
