"""Where user-given outbound URLs (an Exchange EWS URL, what autodiscover answers, every redirect) may connect.

Pure policy, no I/O: the caller resolves the host name and asks about every address it would connect to, at
connect time (providers/guarded_http.py), so a name that resolves elsewhere later (DNS rebinding) is judged on the
address actually used. An address is public when it is globally routable: not loopback, private (RFC 1918, ULA),
shared (CGNAT), link-local (the 169.254.169.254 metadata service), multicast, unspecified, reserved or documentation,
also when written as an IPv4-mapped, IPv4-compatible, 6to4, Teredo or NAT64 IPv6 address.

- Public addresses are reached over https only.
- Addresses inside the operator's allowed networks (`MEETGRAPH_EXCHANGE_PRIVATE_NETWORKS=10.0.0.0/8,...`, on-prem
  Exchange) are reached over http or https.
- An allowed endpoint (`host:port` in the same setting; `serve --emulators` adds its own) is reached over http or
  https, on that port only.
- Everything else is refused.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
NOT_GLOBAL: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(block)
    for block in (
        # IANA special-purpose blocks, written out so the answer does not depend on the Python version's tables
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
        "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "::/128", "::1/128", "::ffff:0:0/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
        "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "ff00::/8",
    )
)  # fmt: skip


class InvalidAllowance(ValueError):
    """An entry of the allowed networks setting that is neither a network nor a host:port."""


@dataclass(frozen=True)
class Endpoint:
    """One host (an IP address or a lower-case name) on one port."""

    host: str
    port: int


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, 6to4, Teredo client, NAT64), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64_PREFIX or (address in IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast, and so is any IPv4 address it embeds."""
    if (
        any(address in block for block in NOT_GLOBAL if block.version == address.version)
        or not address.is_global
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_private
    ):
        return False
    inner = embedded_ipv4(address)
    return inner is None or is_public(inner)


def parse_endpoint(text: str) -> Endpoint:
    """`host:port` or `[v6]:port` (a URL authority without user info)."""
    try:
        parts = urlsplit(f"//{text}")
        port = parts.port
    except ValueError as exc:
        raise InvalidAllowance(f"{text!r} is not a network or a host:port") from exc
    if not parts.hostname or port is None or parts.username is not None or parts.path:
        raise InvalidAllowance(f"{text!r} is not a network or a host:port")
    return Endpoint(normalized_host(parts.hostname), port)


def normalized_host(host: str) -> str:
    """An IP literal in its compressed form (brackets dropped), a name in lower case without a trailing dot."""
    bare = host.strip("[]")
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        return bare.lower().rstrip(".")


@dataclass(frozen=True)
class OutboundPolicy:
    """The operator's allowances; the default allows public https only."""

    networks: tuple[IPNetwork, ...] = ()
    endpoints: frozenset[Endpoint] = frozenset()

    @classmethod
    def parse(cls, text: str) -> OutboundPolicy:
        """From `10.0.0.0/8, 192.168.1.7, exchange.corp.example:8080, [fd00::5]:443` (empty: nothing allowed)."""
        networks: list[IPNetwork] = []
        endpoints: set[Endpoint] = set()
        for raw in text.split(","):
            entry = raw.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                endpoints.add(parse_endpoint(entry))
        return cls(tuple(networks), frozenset(endpoints))

    def __str__(self) -> str:
        """The setting's text for this policy (parse(str(p)) == p)."""
        hosts = [f"[{e.host}]:{e.port}" if ":" in e.host else f"{e.host}:{e.port}" for e in self.endpoints]
        return ",".join([str(n) for n in self.networks] + sorted(hosts))

    def in_allowed_network(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks if network.version == address.version)

    def is_allowed_endpoint(self, host: str, address: IPAddress, port: int) -> bool:
        """Whether the URL's host (or the address it resolved to) on `port` is an allowed endpoint."""
        return Endpoint(normalized_host(host), port) in self.endpoints or Endpoint(str(address), port) in self.endpoints

    def allows(self, *, host: str, address: IPAddress, port: int, https: bool) -> bool:
        """Whether a connection to `address` (which `host` resolved to) on `port` may be opened."""
        if self.is_allowed_endpoint(host, address, port):
            return True
        if self.in_allowed_network(address):
            return True
        return https and is_public(address)

    def allows_all(self, *, host: str, addresses: list[IPAddress], port: int, https: bool) -> bool:
        """Every address the name resolved to must be allowed (one bad record refuses the name)."""
        return bool(addresses) and all(
            self.allows(host=host, address=address, port=port, https=https) for address in addresses
        )
