"""Nested lists are loaded with dataloaders: the number of SQL statements for `me` does not grow with rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event

from db.models import Calendar, CalendarConnection, Meeting, MeetingStatus, SchedulingPage
from meetgraph.services import Services
from tests.utils.graphql import GraphQLClient
from tests.utils.user import create_user

ME = """{ me { id
  calendarConnections { id calendars { id name status } capabilities { cancelMeetings } }
  emailInboxes { id }
  calendarSettings { pagesActive availabilityCalendars { id } inactiveCalendars { id } defaultMeetingLink { id } }
  schedulingPages { id slug url active offline }
  meetings { id status }
  tasks { id } } }"""


@contextmanager
def counting(services: Services) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    engine = services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def _populate(services: Services, user_id: str, n: int) -> None:
    owner = uuid.UUID(user_id)
    async with services.sessionmaker() as session:
        connection = CalendarConnection(user_id=owner, provider="GOOGLE", email="x@gmail.test", credentials="x")
        session.add(connection)
        await session.flush()
        for i in range(n):
            session.add(
                Calendar(
                    connection_id=connection.id,
                    provider_calendar_id=f"cal-{i}",
                    name=f"Calendar {i}",
                    is_primary=i == 0,
                    access_role="owner",
                    is_availability=True,
                )
            )
            session.add(SchedulingPage(user_id=owner, name=f"Page {i}", slug=f"{user_id[:8]}-page-{i}"))
        await session.flush()
        for i in range(n):
            start = services.clock().replace(hour=9) + timedelta(days=i + 1)
            session.add(
                Meeting(
                    user_id=owner,
                    start=start,
                    end=start + timedelta(minutes=30),
                    status=MeetingStatus.BOOKED,
                    contact_email="c@example.com",
                )
            )
        await session.commit()


async def test_me_costs_the_same_statements_for_1_and_50_rows(gql: GraphQLClient, services: Services) -> None:
    # given
    small_id, small_token = await create_user(gql, "small@example.com")
    large_id, large_token = await create_user(gql, "large@example.com")
    await _populate(services, small_id, 1)
    await _populate(services, large_id, 50)
    # when
    with counting(services) as small:
        small_me = (await gql(ME, token=small_token))["me"]
    with counting(services) as large:
        large_me = (await gql(ME, token=large_token))["me"]
    # then
    assert len(small_me["schedulingPages"]) == 1 and len(large_me["schedulingPages"]) == 50
    assert len(large_me["calendarConnections"][0]["calendars"]) == 50
    assert len(large) == len(small), (len(small), len(large))
