"""What a connected calendar is and may do: provider kinds, capabilities, access roles, status.

SPEC "Exchange limitations": Exchange-linked calendars cannot cancel or reschedule meetings, have no
two-way sync and cannot insert proposed times into an email; `capabilities_of` reports it.
SPEC "Only calendars the connected account owns or can read can be chosen ... free/busy-only shares are
not selectable": `selectable_for_availability`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ProviderKind(str, enum.Enum):
    GOOGLE = "GOOGLE"
    OFFICE365 = "OFFICE365"
    EXCHANGE = "EXCHANGE"


class AccessRole(str, enum.Enum):
    """What the connected account may do with a calendar."""

    OWNER = "owner"
    WRITER = "writer"
    READER = "reader"
    FREE_BUSY = "freeBusyReader"


class ConnectionStatus(str, enum.Enum):
    """A connection or calendar is INACTIVE while access to it is lost."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


@dataclass(frozen=True)
class Capabilities:
    cancel_meetings: bool
    reschedule_meetings: bool
    two_way_sync: bool
    insert_times_in_email: bool


FULL_CAPABILITIES = Capabilities(True, True, True, True)
EXCHANGE_CAPABILITIES = Capabilities(False, False, False, False)


def capabilities_of(kind: ProviderKind | str) -> Capabilities:
    """Google and Office 365 support everything; Exchange none of the four (by design)."""
    return EXCHANGE_CAPABILITIES if ProviderKind(kind) is ProviderKind.EXCHANGE else FULL_CAPABILITIES


def selectable_for_availability(role: AccessRole | str) -> bool:
    """Owned, writable or readable with full event details; free/busy-only shares are not."""
    return role != AccessRole.FREE_BUSY  # a str enum: equal to its stored value
