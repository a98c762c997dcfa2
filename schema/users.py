"""Users: the caller (`me`) with everything it owns, and creating users."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry

from db import models
from db.models import Hub, MeetingStatus, SeatTier
from resolvers import api_tokens as api_token_resolvers
from resolvers import attempts as attempt_resolvers
from resolvers import meetings as meeting_resolvers
from resolvers import settings as settings_resolvers
from resolvers import users
from schema.api_tokens import ApiToken
from schema.base import CtxInfo
from schema.booking import BookingAttempt
from schema.connections import CalendarConnection, EmailInbox
from schema.domains import Domain
from schema.errors import PermissionRequiredError, ValidationError
from schema.meetings import Meeting, MeetingConnection
from schema.pages import SchedulingPage
from schema.results import outcome
from schema.settings import CalendarSettings
from schema.tasks import Task


@strawberry.type
class User:
    id: strawberry.ID
    account_id: strawberry.ID
    email: str
    name: str
    timezone: str
    personal_email_access: bool
    hub: models.Hub
    tier: models.SeatTier
    paid_seat: bool
    created_at: datetime
    _id: strawberry.Private[uuid.UUID]
    _account_id: strawberry.Private[uuid.UUID]

    @classmethod
    def from_model(cls, m: models.User) -> User:
        return cls(
            id=strawberry.ID(str(m.id)),
            account_id=strawberry.ID(str(m.account_id)),
            email=m.email,
            name=m.name,
            timezone=m.timezone,
            personal_email_access=m.personal_email_access,
            hub=m.hub,
            tier=m.tier,
            paid_seat=m.paid_seat,
            created_at=m.created_at,
            _id=m.id,
            _account_id=m.account_id,
        )

    @strawberry.field
    async def calendar_connections(self, info: CtxInfo) -> list[CalendarConnection]:
        rows = await info.context.loaders.connections_by_user.load(self._id)
        return [CalendarConnection.from_model(c) for c in rows]

    @strawberry.field
    async def email_inboxes(self, info: CtxInfo) -> list[EmailInbox]:
        rows = await info.context.loaders.inboxes_by_user.load(self._id)
        return [EmailInbox.from_model(i) for i in rows]

    @strawberry.field
    async def calendar_settings(self, info: CtxInfo) -> CalendarSettings:
        settings = await settings_resolvers.settings_for(info.context, self._id)
        return CalendarSettings.from_model(settings)

    @strawberry.field
    async def scheduling_pages(self, info: CtxInfo) -> list[SchedulingPage]:
        rows = await info.context.loaders.pages_by_user.load(self._id)
        return [SchedulingPage.from_model(p) for p in rows]

    @strawberry.field(
        description=f"The latest {meeting_resolvers.LIST_MAX} meetings by start, in start order.",
        deprecation_reason=(
            f"Holds at most the latest {meeting_resolvers.LIST_MAX} meetings;"
            " use meetingsConnection, which pages through all."
        ),
    )
    async def meetings(self, info: CtxInfo) -> list[Meeting]:
        rows = await meeting_resolvers.latest_meetings(info.context, self._id)
        return [Meeting.from_model(m) for m in rows]

    @strawberry.field(description="Meetings by start, newest first, one page at a time (first: 1..100).")
    async def meetings_connection(
        self,
        info: CtxInfo,
        first: Annotated[
            int | None, strawberry.argument(description="How many meetings (1 to 100); null means 20.")
        ] = meeting_resolvers.DEFAULT_PAGE,
        after: Annotated[
            str | None, strawberry.argument(description="The endCursor of the previous page; the first page when null.")
        ] = None,
        status: Annotated[
            MeetingStatus | None, strawberry.argument(description="Only meetings with this status; all when null.")
        ] = None,
    ) -> MeetingConnection:
        page = await meeting_resolvers.page_of_meetings(
            info.context,
            self._id,
            first=first if first is not None else meeting_resolvers.DEFAULT_PAGE,
            after=after,
            status=status,
        )
        return MeetingConnection.from_page(page)

    @strawberry.field(description="The user's API tokens, oldest first (their ids and names, never the tokens).")
    async def api_tokens(self, info: CtxInfo) -> list[ApiToken]:
        rows = await api_token_resolvers.tokens_of(info.context, self._id)
        return [ApiToken.from_model(t) for t in rows]

    @strawberry.field(description="The latest attempts to book the user's pages, newest first.")
    async def booking_attempts(self, info: CtxInfo, last: int = 50) -> list[BookingAttempt]:
        rows = await attempt_resolvers.recent(info.context, self._id, last)
        return [BookingAttempt.from_model(a) for a in rows]

    @strawberry.field
    async def tasks(self, info: CtxInfo) -> list[Task]:
        rows = await info.context.loaders.tasks_by_user.load(self._id)
        return [Task.from_model(t) for t in rows]

    @strawberry.field(description="The account's connected domains (its domain manager).")
    async def domains(self, info: CtxInfo) -> list[Domain]:
        rows = await settings_resolvers.account_domains(info.context, self._account_id)
        return [Domain.from_model(d) for d in rows]


@strawberry.input
class CreateUserInput:
    email: str
    name: str
    account_id: strawberry.ID | None = strawberry.field(
        default=None, description="Join this account; a new account is made when omitted."
    )
    personal_email_access: bool | None = True
    hub: Hub | None = Hub.NONE
    tier: SeatTier | None = SeatTier.FREE
    paid_seat: bool | None = False
    timezone: str | None = "UTC"
    created_at: datetime | None = strawberry.field(
        default=None, description="When the user joined the CRM (imports); now when omitted."
    )


@strawberry.type
class CreateUserSuccess:
    user: User
    token: str


CreateUserResult = Annotated[
    CreateUserSuccess | ValidationError | PermissionRequiredError, strawberry.union("CreateUserResult")
]


@strawberry.type
class UsersQuery:
    @strawberry.field(description="The caller (needs `Authorization: Bearer <token>`).")
    def me(self, info: CtxInfo) -> User:
        return User.from_model(info.context.require_user())


@strawberry.type
class UsersMutation:
    @strawberry.mutation(description="Create a user (admin token); returns the user's API token once.")
    async def create_user(self, info: CtxInfo, input: CreateUserInput) -> CreateUserResult:
        data = users.NewUser(
            email=input.email,
            name=input.name,
            account_id=input.account_id,
            personal_email_access=input.personal_email_access is not False,
            hub=input.hub or Hub.NONE,
            tier=input.tier or SeatTier.FREE,
            paid_seat=bool(input.paid_seat),
            timezone=input.timezone or "UTC",
            created_at=input.created_at,
        )
        return await outcome(
            info.context,
            users.create_user(info.context, data),
            lambda made: CreateUserSuccess(user=User.from_model(made[0]), token=made[1]),
        )
