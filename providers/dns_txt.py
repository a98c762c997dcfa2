"""DNS TXT lookups (domain verification) with dnspython's async resolver, at chosen nameservers or the system's."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver

from scheduling.domain_rules import LookupStatus, TxtLookup

Nameserver = tuple[str, int]
"""An IP address and a UDP/TCP port."""


def parse_nameservers(text: str | None) -> list[Nameserver]:
    """`host:port,...` (IPv6 as `[addr]:port`; the port defaults to 53); empty means the system's resolvers.

    Raises ValueError naming the entry that is not an IP address with an optional port in 1..65535.
    """
    servers: list[Nameserver] = []
    for entry in (text or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        host, port = entry, "53"
        if entry.startswith("["):
            host, bracket, rest = entry[1:].partition("]")
            if not bracket or (rest and not rest.startswith(":")):
                raise ValueError(f"DNS nameserver {entry!r} is not [IPv6]:port")
            port = rest[1:] or "53"
        elif entry.count(":") == 1:
            host, port = entry.split(":")
        try:
            address = str(ipaddress.ip_address(host))
        except ValueError:
            raise ValueError(f"DNS nameserver {entry!r} is not an IP address with an optional :port") from None
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"DNS nameserver {entry!r} has no port in 1..65535")
        servers.append((address, int(port)))
    return servers


async def lookup_txt(name: str, *, nameservers: Sequence[Nameserver], timeout: float) -> TxtLookup:
    """The TXT records of `name` (absolute), asked now (no cache); every DNS failure is a status, never raised."""
    try:
        resolver = dns.asyncresolver.Resolver(configure=not nameservers)
    except dns.resolver.NoResolverConfiguration:
        return TxtLookup(LookupStatus.FAILURE, detail="no DNS resolver is configured")
    if nameservers:
        resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port) for host, port in nameservers]
    resolver.cache = None
    try:
        answer = await resolver.resolve(name.rstrip(".") + ".", "TXT", lifetime=timeout, search=False)
    except dns.resolver.NXDOMAIN:
        return TxtLookup(LookupStatus.NO_SUCH_NAME)
    except dns.resolver.NoAnswer:
        return TxtLookup(LookupStatus.NO_RECORD)
    except dns.resolver.LifetimeTimeout:
        return TxtLookup(LookupStatus.TIMEOUT)
    except dns.resolver.NoNameservers as exc:
        return TxtLookup(LookupStatus.FAILURE, detail=_rcodes(exc))
    except dns.exception.DNSException as exc:
        return TxtLookup(LookupStatus.FAILURE, detail=type(exc).__name__)
    values = [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]  # type: ignore[attr-defined]
    return TxtLookup(LookupStatus.FOUND, values=values)


def _rcodes(exc: dns.resolver.NoNameservers) -> str:
    """The servers' answers (e.g. "SERVFAIL"), without addresses."""
    errors = exc.kwargs.get("errors") or []
    codes = sorted({e[3] if isinstance(e[3], str) else type(e[3]).__name__ for e in errors if len(e) > 3})
    return ", ".join(codes) or "no nameserver answered"
