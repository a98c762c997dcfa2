"""Another mailbox's calendar, opened by address: GetFolder on its distinguished "calendar" folder.

EWS cannot list the mailboxes that share a calendar with the account; the owner names one, and the folder id this
answers is then read like any other calendar (CalendarView by FolderId, with the same lost-access rules).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from exchangelib import Account
from exchangelib.errors import ErrorNonExistentMailbox, MalformedResponseError
from exchangelib.fields import FieldPath
from exchangelib.folders import Calendar
from exchangelib.items import ID_ONLY
from exchangelib.properties import DistinguishedFolderId, Mailbox
from exchangelib.services import GetFolder
from exchangelib.util import TNS

from providers.base import CalendarNotShared
from providers.exchange.errors import LOST_FOLDER_ERRORS
from scheduling.calendars import AccessRole

FOLDER_FIELDS = ("name", "effective_rights")
_FOLDER_ID = f"{{{TNS}}}FolderId"
_NAME = f"{{{TNS}}}DisplayName"
_RIGHTS = f"{{{TNS}}}EffectiveRights"


@dataclass(frozen=True)
class SharedFolder:
    """What adding a shared calendar needs of its folder: id, display name and the account's rights on it."""

    id: str
    name: str
    read: bool
    modify: bool

    @property
    def role(self) -> AccessRole:
        return AccessRole.WRITER if self.modify else AccessRole.READER


class RawGetFolder(GetFolder):  # type: ignore[misc]
    """exchangelib's GetFolder answering the raw folder elements (or each folder's error): a folder of another
    mailbox has no root in this account's hierarchy for exchangelib to attach it to, and nothing more is needed."""

    def _elems_to_objs(self, elems: Iterator[object]) -> Iterator[object]:
        yield from elems


def _flag(rights: object | None, name: str) -> bool:
    elem = rights.find(f"{{{TNS}}}{name}") if rights is not None else None  # type: ignore[attr-defined]
    return elem is not None and (elem.text or "").strip().lower() in ("true", "1")


def _parse(elem: object) -> SharedFolder:
    folder_id = elem.find(_FOLDER_ID)  # type: ignore[attr-defined]
    if folder_id is None or not folder_id.get("Id"):
        raise MalformedResponseError("A GetFolder answer without FolderId")
    name = elem.find(_NAME)  # type: ignore[attr-defined]
    rights = elem.find(_RIGHTS)  # type: ignore[attr-defined]
    return SharedFolder(
        folder_id.get("Id"),
        (name.text or "") if name is not None else "",
        _flag(rights, "Read"),
        _flag(rights, "Modify"),
    )


def not_shared(address: str, account_email: str) -> CalendarNotShared:
    return CalendarNotShared(
        f"{account_email} cannot read the calendar of {address}: ask its owner to share the calendar with "
        f"{account_email} with at least Reviewer permission (can view all details); free/busy-only shares "
        "cannot be used"
    )


def shared_calendar_folder(account: Account, address: str) -> SharedFolder:
    """The calendar folder of mailbox `address` as `account` may read it; CalendarNotShared when there is no such
    mailbox, the folder is not shared with the account, or it may not read the items (free/busy only)."""
    target = DistinguishedFolderId(id=Calendar.DISTINGUISHED_FOLDER_ID, mailbox=Mailbox(email_address=address))
    fields = [FieldPath(field=Calendar.get_field_by_fieldname(name)) for name in FOLDER_FIELDS]
    try:
        (answer,) = list(RawGetFolder(account=account).call(folders=[target], additional_fields=fields, shape=ID_ONLY))
        if isinstance(answer, Exception):
            raise answer
    except ErrorNonExistentMailbox:
        raise CalendarNotShared(
            f"There is no mailbox {address} on {account.primary_smtp_address}'s Exchange server"
        ) from None
    except LOST_FOLDER_ERRORS:
        raise not_shared(address, account.primary_smtp_address) from None
    folder = _parse(answer)
    if not folder.read:
        raise not_shared(address, account.primary_smtp_address)
    return folder
