"""Calendars of other mailboxes, added by address (SPEC "Calendar settings": every calendar the account can read).

Exchange cannot list the mailboxes that share a calendar with the account, so the owner names them by address.
The rules: a valid address that is not the connected account's own, a calendar not added before, and only
calendars readable with event details (free/busy-only shares are not selectable, as for Gmail).
"""

from __future__ import annotations

from collections.abc import Collection

from scheduling import validation
from scheduling.calendars import AccessRole
from scheduling.errors import InvalidInput

FIELD = "address"
MAX_NAME = 500


def shared_address(address: str, account_email: str) -> str:
    """The normalized address of another mailbox; InvalidInput (field `address`) when malformed or the account's own."""
    cleaned = validation.email(address, FIELD)
    if cleaned == account_email.strip().lower():
        raise InvalidInput("address is the connected account's own; its calendars are already listed", field=FIELD)
    return cleaned


def already_added() -> InvalidInput:
    return InvalidInput("this calendar is already one of the connection's calendars", field=FIELD)


def check_not_added(provider_calendar_id: str, known_ids: Collection[str]) -> None:
    """InvalidInput (field `address`) when the connection already holds that calendar."""
    if provider_calendar_id in known_ids:
        raise already_added()


def check_removable(*, is_primary: bool, access_role: AccessRole | str) -> None:
    """Only calendars shared with the account are removed this way, never one it owns (field `calendarId`)."""
    if is_primary or access_role == AccessRole.OWNER:
        raise InvalidInput("the account's own calendars cannot be removed", field="calendarId")


def shared_calendar_name(folder_name: str, address: str) -> str:
    """`Calendar (bob@example.com)`: the folder's name at its mailbox, with the address that tells whose it is."""
    suffix = f" ({address})"
    name = (folder_name.strip() or "Calendar")[: MAX_NAME - len(suffix)]
    return f"{name}{suffix}"
