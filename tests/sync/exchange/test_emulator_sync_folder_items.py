"""The Exchange emulator's SyncFolderItems and DeleteItem on the wire, over real HTTP with NTLM: the request
elements EWS validates (MaxChangesReturned 1 to 512), Create/Update/Delete changes, paging by
IncludesLastItemInRange, SyncStates that expire or belong to another folder, and access rules."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import timedelta

import pytest
import requests
from requests_ntlm import HttpNtlmAuth

from emulators.exchange_wire import M_NS, SOAP_NS, T_NS
from emulators.state import AccessRole, EmulatedRecurrence
from tests.sync.exchange.conftest import OWNER, T0, Mailbox

M, T = f"{{{M_NS}}}", f"{{{T_NS}}}"
KEY_URI = (
    'PropertySetId="6b0f8f5e-2c1d-4a57-9d0e-8e4f6a1c3b27" PropertyName="MeetgraphIdempotencyKey" PropertyType="String"'
)


@dataclass
class Answer:
    status: int
    root: ET.Element

    @property
    def message(self) -> ET.Element:
        found = self.root.find(f".//{M}SyncFolderItemsResponseMessage")
        assert found is not None, ET.tostring(self.root)
        return found

    @property
    def code(self) -> str:
        return self.message.findtext(f"{M}ResponseCode") or ""

    @property
    def fault_code(self) -> str:
        return self.root.findtext(f".//{{{SOAP_NS}}}Fault/faultcode") or ""

    @property
    def sync_state(self) -> str:
        return self.message.findtext(f"{M}SyncState") or ""

    @property
    def last(self) -> bool:
        return self.message.findtext(f"{M}IncludesLastItemInRange") == "true"

    def changes(self) -> list[tuple[str, str]]:
        """(Create/Update/Delete, item id) in answer order."""
        found = self.message.find(f"{M}Changes")
        assert found is not None
        return [(c.tag.removeprefix(T), item_id(c).get("Id", "")) for c in found]


def item_id(elem: ET.Element) -> ET.Element:
    found = elem.find(f".//{T}ItemId")
    assert found is not None
    return found


async def post(mailbox: Mailbox, operation: str, password: str | None = None) -> Answer:
    account = mailbox.state.account(OWNER)
    assert account is not None
    envelope = (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP_NS}" xmlns:m="{M_NS}" xmlns:t="{T_NS}">'
        '<s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header>'
        f"<s:Body>{operation}</s:Body></s:Envelope>"
    )

    def send() -> requests.Response:
        return requests.post(
            f"{mailbox.base_url}/EWS/Exchange.asmx",
            data=envelope.encode(),
            headers={"Content-Type": "text/xml; charset=utf-8"},
            auth=HttpNtlmAuth(OWNER, password or account.password),
            timeout=10,
        )

    response = await asyncio.to_thread(send)
    xml = response.content.lstrip().startswith(b"<")
    return Answer(response.status_code, ET.fromstring(response.content) if xml else ET.Element("none"))


def sync_request(
    folder: str,
    state: str | None = None,
    max_changes: str | None = "512",
    shape: str = "<t:BaseShape>IdOnly</t:BaseShape>",
) -> str:
    return (
        f"<m:SyncFolderItems><m:ItemShape>{shape}</m:ItemShape><m:SyncFolderId>{folder}</m:SyncFolderId>"
        + (f"<m:SyncState>{state}</m:SyncState>" if state is not None else "")
        + (f"<m:MaxChangesReturned>{max_changes}</m:MaxChangesReturned>" if max_changes is not None else "")
        + "</m:SyncFolderItems>"
    )


def folder_id(calendar_id: str) -> str:
    return f'<t:FolderId Id="{calendar_id}"/>'


@pytest.mark.parametrize("value", ["0", "513", "-1", "many", None])
async def test_max_changes_returned_outside_1_to_512_fails_schema_validation(
    mailbox: Mailbox, value: str | None
) -> None:
    answer = await post(mailbox, sync_request(folder_id(mailbox.primary_id), max_changes=value))
    assert answer.status == 500 and answer.fault_code.endswith("ErrorSchemaValidation")


@pytest.mark.parametrize("value", ["1", "512"])
async def test_max_changes_returned_of_1_to_512_is_taken(mailbox: Mailbox, value: str) -> None:
    answer = await post(mailbox, sync_request(folder_id(mailbox.primary_id), max_changes=value))
    assert answer.status == 200 and answer.code == "NoError" and answer.last


@pytest.mark.parametrize("expired_before", [False, True], ids=["fresh", "after an expiry"])
async def test_changes_come_in_pages_of_max_changes_returned(mailbox: Mailbox, expired_before: bool) -> None:
    # given: (states issued before an expiry are refused, not those of a run started after it)
    ids = [
        mailbox.state.add_event(mailbox.primary_id, T0 + timedelta(hours=n), T0 + timedelta(hours=n, minutes=30)).id
        for n in range(5)
    ]
    if expired_before:
        mailbox.state.expire_sync_state(mailbox.primary_id)
    # when: from the beginning, two at a time
    seen: list[tuple[str, str]] = []
    state, pages = None, 0
    while True:
        answer = await post(mailbox, sync_request(folder_id(mailbox.primary_id), state, max_changes="2"))
        pages += 1
        seen += answer.changes()
        state = answer.sync_state
        if answer.last:
            break
    # then: every item once, as a Create, oldest change first
    assert pages == 3
    assert seen == [("Create", i) for i in ids]
    quiet = await post(mailbox, sync_request(folder_id(mailbox.primary_id), state))
    assert quiet.changes() == [] and quiet.last


async def test_creates_updates_and_deletes_after_a_sync_state(mailbox: Mailbox) -> None:
    # given
    state = mailbox.state
    kept = state.add_event(mailbox.primary_id, T0, T0 + timedelta(hours=1))
    moved = state.add_event(mailbox.primary_id, T0 + timedelta(hours=2), T0 + timedelta(hours=3))
    deleted = state.add_event(mailbox.primary_id, T0 + timedelta(hours=4), T0 + timedelta(hours=5))
    first = await post(mailbox, sync_request(folder_id(mailbox.primary_id)))
    # when
    moved.start, moved.end = moved.start + timedelta(days=1), moved.end + timedelta(days=1)
    deleted.cancelled = True
    added = state.add_event(mailbox.primary_id, T0 + timedelta(days=2), T0 + timedelta(days=2, hours=1))
    fleeting = state.add_event(mailbox.primary_id, T0 + timedelta(days=3), T0 + timedelta(days=3, hours=1))
    fleeting.cancelled = True
    series = state.add_event(
        mailbox.primary_id,
        T0,
        T0 + timedelta(hours=1),
        "Weekly",
        recurrence=EmulatedRecurrence("weekly", weekdays=(0,)),
    )
    answer = await post(mailbox, sync_request(folder_id(mailbox.primary_id), first.sync_state))
    # then: what the client knows is updated or deleted, new items created, one never seen is not mentioned; a
    # series is its master, once
    assert sorted(answer.changes()) == sorted(
        [("Update", moved.id), ("Delete", deleted.id), ("Create", added.id), ("Create", series.id)]
    )
    assert kept.id not in {i for _, i in answer.changes()}
    types = [t.text for t in answer.message.iter(f"{T}CalendarItemType")]
    assert types == []  # IdOnly: the ItemId alone
    assert deleted.id in state.calendars[mailbox.primary_id].events  # deleting never drops the item


async def test_a_change_gives_the_item_a_new_change_key(mailbox: Mailbox) -> None:
    event = mailbox.state.add_event(mailbox.primary_id, T0, T0 + timedelta(hours=1))
    first = await post(mailbox, sync_request(folder_id(mailbox.primary_id)))
    event.summary = "Renamed"
    second = await post(mailbox, sync_request(folder_id(mailbox.primary_id), first.sync_state))
    keys = [item_id(a.message).get("ChangeKey") for a in (first, second)]
    assert keys[0] and keys[1] and keys[0] != keys[1]


async def test_a_default_shape_answers_the_items_and_asked_extended_properties(mailbox: Mailbox) -> None:
    event = mailbox.state.add_event(mailbox.primary_id, T0, T0 + timedelta(hours=1), "Booked")
    event.properties = {
        "PropertySetId=6b0f8f5e-2c1d-4a57-9d0e-8e4f6a1c3b27;PropertyName=MeetgraphIdempotencyKey": "meeting-7"
    }
    shape = (
        "<t:BaseShape>Default</t:BaseShape>"
        f"<t:AdditionalProperties><t:ExtendedFieldURI {KEY_URI}/></t:AdditionalProperties>"
    )
    answer = await post(mailbox, sync_request(folder_id(mailbox.primary_id), shape=shape))
    assert answer.message.findtext(f".//{T}Subject") == "Booked"
    assert answer.message.findtext(f".//{T}ExtendedProperty/{T}Value") == "meeting-7"
    assert answer.message.findtext(f".//{T}CalendarItemType") == "Single"


@pytest.mark.parametrize("kind", ["garbage", "expired", "other folder"])
async def test_a_sync_state_that_is_not_valid_here_is_error_invalid_sync_state_data(
    mailbox: Mailbox, kind: str
) -> None:
    # given
    mailbox.state.add_event(mailbox.primary_id, T0, T0 + timedelta(hours=1))
    own = (await post(mailbox, sync_request(folder_id(mailbox.primary_id)))).sync_state
    other = (await post(mailbox, sync_request(folder_id(mailbox.second_id)))).sync_state
    states = {"garbage": "H4sIAAAAAAAEAO29B2AcSZYlpi", "expired": own, "other folder": other}
    if kind == "expired":
        mailbox.state.expire_sync_state(mailbox.primary_id)
    # when
    answer = await post(mailbox, sync_request(folder_id(mailbox.primary_id), states[kind]))
    # then: the message fails, with the empty SyncState Exchange sends along
    assert answer.status == 200
    assert answer.message.get("ResponseClass") == "Error" and answer.code == "ErrorInvalidSyncStateData"
    assert answer.message.find(f"{M}SyncState") is not None and answer.last


async def test_shared_calendars_follow_the_share(mailbox: Mailbox) -> None:
    # given: the colleague's calendar shared with details, another free/busy only
    state = mailbox.state
    freebusy = next(c for c, role in state.visible_calendars(OWNER) if role is AccessRole.FREE_BUSY)
    state.add_event(mailbox.shared_id, T0, T0 + timedelta(hours=1))
    by_mailbox = (
        '<t:DistinguishedFolderId Id="calendar"><t:Mailbox><t:EmailAddress>colleague@exchange.test'
        "</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId>"
    )
    # when / then: the readable share syncs, by id and as the colleague's Calendar folder once it is that one
    assert (await post(mailbox, sync_request(folder_id(mailbox.shared_id)))).code == "NoError"
    assert (await post(mailbox, sync_request(folder_id(freebusy.id)))).code == "ErrorAccessDenied"
    assert (await post(mailbox, sync_request(by_mailbox))).code == "ErrorAccessDenied"  # its primary is not shared
    colleague = state.account("colleague@exchange.test")
    assert colleague is not None
    state.add_share(OWNER, colleague.primary_calendar_id, AccessRole.READER)
    assert (await post(mailbox, sync_request(by_mailbox))).code == "NoError"
    state.lose_access(OWNER, mailbox.shared_id)
    assert (await post(mailbox, sync_request(folder_id(mailbox.shared_id)))).code == "ErrorAccessDenied"


async def test_a_refused_password_is_a_401(mailbox: Mailbox) -> None:
    answer = await post(mailbox, sync_request(folder_id(mailbox.primary_id)), password="wrong")
    assert answer.status == 401


async def test_delete_item_cancels_the_item_and_sync_reports_it(mailbox: Mailbox) -> None:
    # given
    event = mailbox.state.add_event(mailbox.primary_id, T0, T0 + timedelta(hours=1))
    first = await post(mailbox, sync_request(folder_id(mailbox.primary_id)))
    delete = (
        '<m:DeleteItem DeleteType="MoveToDeletedItems" SendMeetingCancellations="SendToAllAndSaveCopy">'
        f'<m:ItemIds><t:ItemId Id="{event.id}"/></m:ItemIds></m:DeleteItem>'
    )
    # when
    deleted = await post(mailbox, delete)
    again = await post(mailbox, delete)
    # then
    assert deleted.root.findtext(f".//{M}ResponseCode") == "NoError"
    assert again.root.findtext(f".//{M}ResponseCode") == "ErrorItemNotFound"
    assert event.cancelled and event.id in mailbox.state.calendars[mailbox.primary_id].events
    answer = await post(mailbox, sync_request(folder_id(mailbox.primary_id), first.sync_state))
    assert answer.changes() == [("Delete", event.id)]
    assert mailbox.state.busy(mailbox.primary_id, T0, T0 + timedelta(days=1)) == []
