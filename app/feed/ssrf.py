"""The SSRF guard of webhook URLs: only http(s) to public addresses, checked twice.

A webhook URL makes the exchange send requests on a participant's behalf; without a guard a
subscriber could aim it at the exchange's own network (cloud metadata at 169.254.169.254, the
database, an admin port on localhost). So a URL is accepted only if its scheme is http or https
and **every** address its host resolves to is globally routable (not loopback, private,
link-local, shared, multicast, reserved or unspecified; IPv4 embedded in IPv6 — mapped, 6to4,
NAT64 — is judged by the embedded address).

The check runs when a subscription is created or changed **and** before every delivery, since
DNS can change in between; the delivery then connects to the address that was checked (not a
second lookup), so a rebinding DNS server cannot slip a private address in after the check.
``settings.webhook_allow_private`` turns the address rule off (tests, closed networks).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["UnsafeUrl", "Target", "check_syntax", "resolve_target", "is_public", "is_literal"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeUrl(Exception):
    """The URL may not be used as a webhook endpoint; ``message`` is safe to show the subscriber."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Target:
    """Where a delivery goes: the URL as given, and the checked address to connect to."""

    url: str
    host: str
    port: int
    address: str


def check_syntax(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an absolute http(s) URL; ``UnsafeUrl`` otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl("the URL is not well-formed") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeUrl("a webhook URL must use http or https")
    host = parts.hostname
    if not host:
        raise UnsafeUrl("a webhook URL needs a host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("credentials in a webhook URL are not supported; verify the signature instead")
    return scheme, host, port or (443 if scheme == "https" else 80)


def is_public(address: IPAddress) -> bool:
    """Whether an address is globally routable, judging IPv4 embedded in IPv6 by the IPv4 part."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
        if address.teredo is not None:
            return False
    return address.is_global and not address.is_multicast


def is_literal(url: str) -> bool:
    """Whether the URL's host is an IP address (checking it needs no DNS lookup)."""
    try:
        host = urlsplit(url).hostname or ""
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"the host {host} does not resolve") from exc
    seen: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in seen:
            seen.append(address)
    if not seen:
        raise UnsafeUrl(f"the host {host} does not resolve")
    return seen


def resolve_target(url: str, *, allow_private: bool) -> Target:
    """Check the URL and its addresses (blocking DNS: call it off the event loop)."""
    _scheme, host, port = check_syntax(url)
    addresses = _resolve(host, port)
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise UnsafeUrl(f"the host {host} resolves to {address}, which is not a public address")
    return Target(url=url, host=host, port=port, address=str(addresses[0]))
