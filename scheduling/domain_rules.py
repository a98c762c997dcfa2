"""Custom domains (SPEC "Meeting domain"): which host names an account may claim, and how it proves control.

- A claim is a host name the account wants its pages served on. Reserved names are refused: IP literals,
  single-label names, `localhost` and names under `.localhost`, `.local`, `.internal`, `.arpa`, `.invalid`,
  and the app's own host. Names under `.test` and `.example` stay allowed: they are how people test.
- A claimed domain counts (serves pages, robots.txt, can be chosen as meeting domain) only once verified: a
  DNS TXT record at `_meetgraph.<hostname>` holds the domain's verification value.
- Several accounts may hold unverified claims on one host (a squatter cannot block the real owner); at most
  one claim per host is verified. A host verified by another account is refused with the very answer a
  reserved name gets, so the refusal tells nobody which hosts other accounts use.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from scheduling import validation
from scheduling.errors import DomainUnverified, InvalidInput

RECORD_LABEL = "_meetgraph"
"""The label in front of the host name where the verification TXT record lives."""
RECORD_PREFIX = "meetgraph-verification="
"""The TXT value is this prefix and the domain's verification token."""
RESERVED_NAMES = frozenset({"localhost"})
RESERVED_SUFFIXES = ("localhost", "local", "internal", "arpa", "invalid")
"""Top-level names that never point at a public host of one owner (RFC 6761, 6762, 8375; ICANN .internal)."""
MAX_HOSTNAME = 253 - len(RECORD_LABEL) - 1
"""The record name `_meetgraph.<hostname>` must itself be a valid DNS name (253 characters at most)."""
REFUSED = (
    "this host name cannot be connected: reserved names (IP addresses, names without a dot, localhost, names "
    f"under {', '.join('.' + suffix for suffix in RESERVED_SUFFIXES)}, the app's own host) and hosts verified "
    "by another account are refused"
)
"""The one answer for every refused claim, whatever the reason, so it reveals no other account's domains."""


def claimable_hostname(value: str, *, own_host: str, field: str = "hostname") -> str:
    """The normalized host name (lower case, no final dot), or InvalidInput when it is malformed or reserved."""
    name = value.strip().lower().rstrip(".")
    if _is_ip_literal(name) or "." not in name:
        raise InvalidInput(REFUSED, field=field)
    name = validation.hostname(name, field)
    if len(name) > MAX_HOSTNAME:
        raise InvalidInput(f"{field} must be at most {MAX_HOSTNAME} characters", field=field)
    if is_reserved(name, own_host=own_host):
        raise InvalidInput(REFUSED, field=field)
    return name


def is_reserved(name: str, *, own_host: str) -> bool:
    """Whether a (normalized) host name is one no account may claim."""
    if _is_ip_literal(name) or "." not in name or name in RESERVED_NAMES:
        return True
    if name == own_host.strip().lower().rstrip("."):
        return True
    return name.rsplit(".", 1)[-1] in RESERVED_SUFFIXES


def _is_ip_literal(name: str) -> bool:
    candidate = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    try:
        ipaddress.ip_address(candidate.split("%", 1)[0])
    except ValueError:
        return False
    return True


def record_name(hostname: str) -> str:
    """Where the verification TXT record is published."""
    return f"{RECORD_LABEL}.{hostname}"


def record_value(token: str) -> str:
    """The TXT value that proves control of the host."""
    return f"{RECORD_PREFIX}{token}"


class LookupStatus(enum.Enum):
    FOUND = "FOUND"
    """The name has TXT records (`TxtLookup.values`)."""
    NO_SUCH_NAME = "NO_SUCH_NAME"
    """NXDOMAIN: the name does not exist."""
    NO_RECORD = "NO_RECORD"
    """The name exists without TXT records."""
    TIMEOUT = "TIMEOUT"
    FAILURE = "FAILURE"
    """SERVFAIL, refused, unreachable or no resolver configured."""


@dataclass(frozen=True)
class TxtLookup:
    """What the DNS answered for the TXT records of one name."""

    status: LookupStatus
    values: Sequence[str] = ()
    detail: str = ""
    """For a failure: what went wrong, for the message (e.g. "SERVFAIL")."""


def check_verification(hostname: str, token: str, lookup: TxtLookup) -> None:
    """Nothing when one TXT record at `_meetgraph.<hostname>` is exactly the verification value; else why not."""
    name, value = record_name(hostname), record_value(token)
    publish = f'publish a TXT record at {name} with the value "{value}", then verify again'
    if lookup.status is LookupStatus.FOUND:
        if any(found.strip() == value for found in lookup.values):
            return
        seen = ", ".join(f'"{v[:80]}"' for v in list(lookup.values)[:5])
        raise DomainUnverified(f"the TXT records at {name} ({seen}) do not hold the verification value: {publish}")
    if lookup.status in (LookupStatus.NO_SUCH_NAME, LookupStatus.NO_RECORD):
        raise DomainUnverified(f"no TXT record at {name} yet: {publish}")
    needed = f'{name} must hold a TXT record with the value "{value}"'
    if lookup.status is LookupStatus.TIMEOUT:
        raise DomainUnverified(f"the DNS lookup of {name} timed out: try again later ({needed})")
    detail = f" ({lookup.detail})" if lookup.detail else ""
    raise DomainUnverified(f"the DNS lookup of {name} failed{detail}: try again later ({needed})")
