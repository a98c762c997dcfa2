"""User.meetingsConnection: newest start first, keyset cursors that inserts never shift; User.meetings capped."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from db.models import Meeting, MeetingStatus
from resolvers.meetings import BadPageArgument, decode_cursor, encode_cursor
from tests.utils.graphql import GraphQLClient, iso, parse
from tests.utils.meeting import CANCEL_MEETING, CREATE_CRM_MEETING, my_meetings
from tests.utils.user import create_user

PAGE = """query($first: Int, $after: String, $status: MeetingStatus) { me {
  meetingsConnection(first: $first, after: $after, status: $status) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id start status } } } } }"""

BASE = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return BASE + timedelta(hours=hours)


async def _log(gql: GraphQLClient, token: str, start: datetime) -> str:
    """A CRM meeting of half an hour at `start`; returns its id."""
    variables = {"input": {"contactEmail": "carla@example.com", "title": "Call", "start": iso(start)}}
    variables["input"]["end"] = iso(start + timedelta(minutes=30))
    result = (await gql(CREATE_CRM_MEETING, variables, token))["createCrmMeeting"]
    assert result["__typename"] == "MeetingSuccess", result
    meeting_id: str = result["meeting"]["id"]
    return meeting_id


async def _page(gql: GraphQLClient, token: str, **arguments: Any) -> dict[str, Any]:
    page: dict[str, Any] = (await gql(PAGE, arguments, token))["me"]["meetingsConnection"]
    return page


def _starts(page: dict[str, Any]) -> list[datetime]:
    return [parse(edge["node"]["start"]) for edge in page["edges"]]


async def _all_pages(
    gql: GraphQLClient, token: str, first: int, after: str | None = None, **arguments: Any
) -> list[dict[str, Any]]:
    """The page after `after`, and every page following it."""
    pages = [await _page(gql, token, first=first, after=after, **arguments)]
    while pages[-1]["pageInfo"]["hasNextPage"]:
        pages.append(await _page(gql, token, first=first, after=pages[-1]["pageInfo"]["endCursor"], **arguments))
    return pages


async def test_pages_hold_the_newest_starts_first_and_end_without_a_next_page(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    for hours in (2, 0, 4, 1, 3):
        await _log(gql, token, at(hours))
    # when
    pages = await _all_pages(gql, token, first=2)
    # then
    assert [_starts(p) for p in pages] == [[at(4), at(3)], [at(2), at(1)], [at(0)]]
    assert [p["totalCount"] for p in pages] == [5, 5, 5]
    assert pages[-1]["pageInfo"]["endCursor"] == pages[-1]["edges"][-1]["cursor"]
    beyond = await _page(gql, token, first=2, after=pages[-1]["pageInfo"]["endCursor"])
    assert beyond == {"totalCount": 5, "pageInfo": {"hasNextPage": False, "endCursor": None}, "edges": []}


async def test_first_defaults_to_twenty(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    for hours in range(21):
        await _log(gql, token, at(hours))
    # when
    omitted, null = await _page(gql, token), await _page(gql, token, first=None)
    # then
    assert len(omitted["edges"]) == len(null["edges"]) == 20
    assert omitted["pageInfo"]["hasNextPage"] is True


async def test_meetings_inserted_between_pages_neither_repeat_nor_hide_the_next_page(gql: GraphQLClient) -> None:
    # given: the first page is read
    _, token = await create_user(gql, "ada@example.com")
    for hours in (0, 1, 2, 3):
        await _log(gql, token, at(hours))
    first = await _page(gql, token, first=2)
    assert _starts(first) == [at(3), at(2)]
    # when: meetings are added before the cursor (newer) and after it (older)
    await _log(gql, token, at(10))
    await _log(gql, token, at(2.5))
    await _log(gql, token, at(0.5))
    rest = await _all_pages(gql, token, first=2, after=first["pageInfo"]["endCursor"])
    # then: the pages go on where the first ended
    assert [s for p in rest for s in _starts(p)] == [at(1), at(0.5), at(0)]


async def test_meetings_starting_together_are_each_listed_once(gql: GraphQLClient) -> None:
    # given: a cancelled meeting and its replacement at the same start
    _, token = await create_user(gql, "ada@example.com")
    await _log(gql, token, at(2))
    cancelled = await _log(gql, token, at(1))
    assert (await gql(CANCEL_MEETING, {"id": cancelled}, token))["cancelMeeting"]["__typename"] == "MeetingSuccess"
    replacement = await _log(gql, token, at(1))
    await _log(gql, token, at(0))
    # when
    pages = await _all_pages(gql, token, first=1)
    # then
    ids = [edge["node"]["id"] for p in pages for edge in p["edges"]]
    assert len(ids) == len(set(ids)) == 4
    assert set(ids[1:3]) == {cancelled, replacement}


async def test_the_status_filter_applies_to_pages_and_total(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    ids = [await _log(gql, token, at(hours)) for hours in range(4)]
    for cancelled in (ids[0], ids[2]):
        await gql(CANCEL_MEETING, {"id": cancelled}, token)
    # when
    cancelled_pages = await _all_pages(gql, token, first=1, status="CANCELLED")
    booked = await _page(gql, token, first=10, status="BOOKED")
    everything = await _page(gql, token, first=10)
    # then
    assert [s for p in cancelled_pages for s in _starts(p)] == [at(2), at(0)]
    assert {p["totalCount"] for p in cancelled_pages} == {2}
    assert _starts(booked) == [at(3), at(1)] and booked["totalCount"] == 2
    assert everything["totalCount"] == 4


async def test_only_the_callers_meetings_are_listed(gql: GraphQLClient) -> None:
    # given
    _, ada = await create_user(gql, "ada@example.com")
    _, bob = await create_user(gql, "bob@example.com")
    await _log(gql, ada, at(1))
    await _log(gql, bob, at(2))
    # when
    page = await _page(gql, ada, first=10)
    # then
    assert _starts(page) == [at(1)] and page["totalCount"] == 1


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "arguments",
    [
        {"first": 0},
        {"first": 101},
        {"first": -1},
        {"after": "not a cursor"},
        {"after": ""},
        {"after": "é"},
        {"after": _b64("2027-01-04T09:00:00+00:00")},
        {"after": _b64(f"2027-01-04T09:00:00|{uuid.uuid4()}")},
        {"after": _b64("yesterday|" + str(uuid.uuid4()))},
        {"after": _b64("2027-01-04T09:00:00+00:00|42")},
        {"after": base64.urlsafe_b64encode(b"\xff\xfe|").decode()},
    ],
)
async def test_bad_page_arguments_are_bad_user_input(gql: GraphQLClient, arguments: dict[str, Any]) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    # when
    body = await gql.raw(PAGE, arguments, token)
    # then
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], body


async def test_the_deprecated_list_holds_the_latest_meetings_up_to_its_cap(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    monkeypatch.setattr("resolvers.meetings.LIST_MAX", 3)
    _, token = await create_user(gql, "ada@example.com")
    for hours in (3, 0, 4, 1, 2):
        await _log(gql, token, at(hours))
    # when
    listed = await my_meetings(gql, token)
    # then
    assert [parse(m["start"]) for m in listed] == [at(2), at(3), at(4)]


async def test_the_list_is_deprecated_in_favour_of_the_connection(gql: GraphQLClient) -> None:
    # when
    data = await gql('{ __type(name: "User") { fields(includeDeprecated: true) { name deprecationReason } } }')
    # then
    reasons = {f["name"]: f["deprecationReason"] for f in data["__type"]["fields"]}
    assert "meetingsConnection" in reasons["meetings"] and reasons["meetingsConnection"] is None


@given(
    start=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)),
    key=st.uuids(),
)
def test_a_cursor_names_its_meetings_place(start: datetime, key: uuid.UUID) -> None:
    meeting = Meeting(id=key, user_id=key, start=start, end=start, status=MeetingStatus.BOOKED, contact_email="x")
    assert decode_cursor(encode_cursor(meeting)) == (start, key)


@given(st.text())
def test_any_other_text_is_refused_as_bad_input(text: str) -> None:
    try:
        decode_cursor(text)
    except BadPageArgument:
        pass
