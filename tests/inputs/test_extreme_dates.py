"""Dates at the edges of what Python represents (year 1, year 9999) answer typed errors, never
"Unexpected error.": adding a duration, a buffer or a time zone to them used to overflow."""

from __future__ import annotations

import httpx
import pytest

from tests.utils.graphql import GraphQLClient, internal_errors
from tests.utils.meeting import BOOK, CONTACT_EMAIL, CONTACT_NAME, CREATE_CRM_MEETING, my_meetings
from tests.utils.page import AVAILABLE_SLOTS, page_owner
from tests.utils.task import CREATE_TASK
from tests.utils.user import ADMIN_TOKEN, CREATE_USER, create_user

EXTREMES = [
    "0001-01-01T00:00:00+00:00",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59+00:00",
    "9999-12-31T23:00:00-05:00",
    "1899-12-31T23:59:59+00:00",
    "2200-01-01T00:00:00+00:00",
]
"""Year 1 and 9999 (the second of each pair leaves datetime's range in UTC), and just outside the sane window."""

MY_TASKS = "{ me { tasks { id } } }"


@pytest.mark.parametrize("moment", EXTREMES)
@pytest.mark.parametrize("which", ["start", "end"])
async def test_available_slots_at_an_extreme_date_is_bad_user_input(
    gql: GraphQLClient, http: httpx.AsyncClient, moment: str, which: str
) -> None:
    # given
    owner = await page_owner(gql, http, provider=None)
    window = {"start": "2026-12-02T00:00:00+00:00", "end": "2026-12-03T00:00:00+00:00", which: moment}

    # when
    body = await gql.raw(AVAILABLE_SLOTS, {"slug": owner.slug, **window})

    # then
    assert internal_errors(body) == [], body
    assert body["data"] == {"schedulingPage": None}
    assert [(e["extensions"]["code"], e["extensions"]["argument"]) for e in body["errors"]] == [
        ("BAD_USER_INPUT", which)
    ]


@pytest.mark.parametrize("moment", EXTREMES)
async def test_booking_at_an_extreme_date_is_a_validation_error_and_books_nothing(
    gql: GraphQLClient, http: httpx.AsyncClient, moment: str
) -> None:
    # given
    owner = await page_owner(gql, http, provider=None)
    booking = {"slug": owner.slug, "start": moment, "contactEmail": CONTACT_EMAIL, "contactName": CONTACT_NAME}

    # when
    body = await gql.raw(BOOK, {"input": booking})

    # then
    assert internal_errors(body) == [], body
    result = body["data"]["bookMeeting"]
    assert (result["__typename"], result["field"]) == ("ValidationError", "start")
    assert await my_meetings(gql, owner.token) == []


@pytest.mark.parametrize("moment", EXTREMES)
@pytest.mark.parametrize("which", ["start", "end"])
async def test_a_crm_meeting_at_an_extreme_date_is_a_validation_error_and_logs_nothing(
    gql: GraphQLClient, moment: str, which: str
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    meeting = {
        "contactEmail": CONTACT_EMAIL,
        "title": "Call",
        "start": "2026-12-02T10:00:00+00:00",
        "end": "2026-12-02T11:00:00+00:00",
        which: moment,
    }

    # when
    body = await gql.raw(CREATE_CRM_MEETING, {"input": meeting}, token)

    # then
    assert internal_errors(body) == [], body
    result = body["data"]["createCrmMeeting"]
    assert (result["__typename"], result["field"]) == ("ValidationError", which)
    assert await my_meetings(gql, token) == []


@pytest.mark.parametrize("moment", EXTREMES)
async def test_a_task_due_at_an_extreme_date_is_a_validation_error_and_creates_nothing(
    gql: GraphQLClient, moment: str
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")

    # when
    body = await gql.raw(CREATE_TASK, {"input": {"title": "Call back", "due": moment}}, token)

    # then
    assert internal_errors(body) == [], body
    assert body["data"]["createTask"] == {"__typename": "ValidationError", "field": "due"}
    assert (await gql(MY_TASKS, token=token))["me"]["tasks"] == []


@pytest.mark.parametrize("moment", [m for m in EXTREMES if not m.startswith("2200")])
async def test_a_user_created_at_an_extreme_date_is_a_validation_error_and_not_created(
    gql: GraphQLClient, moment: str
) -> None:
    # when
    body = await gql.raw(
        CREATE_USER, {"input": {"email": "ada@example.com", "name": "Ada", "createdAt": moment}}, ADMIN_TOKEN
    )

    # then
    assert internal_errors(body) == [], body
    result = body["data"]["createUser"]
    assert (result["__typename"], result["field"]) == ("ValidationError", "createdAt")
    assert (await create_user(gql, "ada@example.com"))[1].startswith("mg_")
