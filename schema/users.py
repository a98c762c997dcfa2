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


@strawberry.type(description="A CRM user, with everything they connected and own.")
class User:
    id: strawberry.ID = strawberry.field(description="The user's id.")
    account_id: strawberry.ID = strawberry.field(
        description="The CRM account (portal) the user belongs to; its users share its domains and shared inboxes."
    )
    email: str = strawberry.field(description="The user's email address, lower case; unique.")
    name: str = strawberry.field(description="The user's display name.")
    timezone: str = strawberry.field(
        description="The user's IANA time zone (e.g. `Europe/Berlin`); new scheduling pages start in it."
    )
    personal_email_access: bool = strawberry.field(
        description="The permission to connect calendars and inboxes; without it they answer PermissionRequiredError."
    )
    hub: models.Hub = strawberry.field(description="The hub of the user's seat.")
    tier: models.SeatTier = strawberry.field(description="The tier of the user's seat.")
    paid_seat: bool = strawberry.field(description="Whether the seat is paid; licensed features need a paid seat.")
    created_at: datetime = strawberry.field(
        description=(
            "When the user joined the CRM (UTC). Users created before 2023-03-13 may hold two calendar accounts."
        )
    )
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

    @strawberry.field(description="The connected calendar accounts (at most one, or two for older users).")
    async def calendar_connections(self, info: CtxInfo) -> list[CalendarConnection]:
        rows = await info.context.loaders.connections_by_user.load(self._id)
        return [CalendarConnection.from_model(c) for c in rows]

    @strawberry.field(description="The user's email inboxes, personal and shared, by address.")
    async def email_inboxes(self, info: CtxInfo) -> list[EmailInbox]:
        rows = await info.context.loaders.inboxes_by_user.load(self._id)
        return [EmailInbox.from_model(i) for i in rows]

    @strawberry.field(description="The user's calendar settings.")
    async def calendar_settings(self, info: CtxInfo) -> CalendarSettings:
        settings = await settings_resolvers.settings_for(info.context, self._id)
        return CalendarSettings.from_model(settings)

    @strawberry.field(description="The user's scheduling pages, oldest first.")
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

    @strawberry.field(
        description=(
            "The latest attempts to book the user's pages, newest first (catch up here after the "
            "bookingAttempts subscription reconnects)."
        )
    )
    async def booking_attempts(
        self,
        info: CtxInfo,
        last: Annotated[
            int, strawberry.argument(description="How many, 1 to 500; outside that a BAD_USER_INPUT error.")
        ] = 50,
    ) -> list[BookingAttempt]:
        rows = await attempt_resolvers.recent(info.context, self._id, last)
        return [BookingAttempt.from_model(a) for a in rows]

    @strawberry.field(description="The user's CRM tasks, by due time (earliest first).")
    async def tasks(self, info: CtxInfo) -> list[Task]:
        rows = await info.context.loaders.tasks_by_user.load(self._id)
        return [Task.from_model(t) for t in rows]

    @strawberry.field(description="The account's connected domains (its domain manager).")
    async def domains(self, info: CtxInfo) -> list[Domain]:
        rows = await settings_resolvers.account_domains(info.context, self._account_id)
        return [Domain.from_model(d) for d in rows]


@strawberry.input(description="A new user (an administrator's or an import's operation).")
class CreateUserInput:
    email: str = strawberry.field(description="Unique among all users; stored lower case.")
    name: str = strawberry.field(description="Display name, 1 to 200 characters (trimmed).")
    account_id: strawberry.ID | None = strawberry.field(
        default=None, description="Join this account; a new account is made when omitted."
    )
    personal_email_access: bool | None = strawberry.field(
        default=True, description="The permission to connect calendars and inboxes."
    )
    hub: Hub | None = strawberry.field(default=Hub.NONE, description="The hub of the user's seat.")
    tier: SeatTier | None = strawberry.field(default=SeatTier.FREE, description="The tier of the user's seat.")
    paid_seat: bool | None = strawberry.field(default=False, description="Whether the seat is paid.")
    timezone: str | None = strawberry.field(default="UTC", description="An IANA time zone, e.g. `Europe/Berlin`.")
    created_at: datetime | None = strawberry.field(
        default=None,
        description="When the user joined the CRM (imports), in the past and with a UTC offset; now when omitted.",
    )


@strawberry.type(description="The user was created.")
class CreateUserSuccess:
    user: User = strawberry.field(description="The new user.")
    token: str = strawberry.field(
        description="The user's API token, shown this once (only its hash is stored): send it as `Authorization: Bearer <token>`."
    )


CreateUserResult = Annotated[
    CreateUserSuccess | ValidationError | PermissionRequiredError,
    strawberry.union("CreateUserResult", description="The user and its token, or why none was created."),
]


@strawberry.type
class UsersQuery:
    @strawberry.field(
        description="The caller (needs `Authorization: Bearer <token>`; without a valid one, an UNAUTHENTICATED error)."
    )
    def me(self, info: CtxInfo) -> User:
        return User.from_model(info.context.require_user())


@strawberry.type
class UsersMutation:
    @strawberry.mutation(
        description=(
            "Create a user (admin token, MEETGRAPH_ADMIN_TOKEN); returns the user's API token once. "
            "PermissionRequiredError without the admin token; ValidationError naming the field for a malformed "
            "or taken email, an empty name, an unknown time zone or accountId, a createdAt in the future or "
            "without UTC offset."
        )
    )
    async def create_user(
        self, info: CtxInfo, input: Annotated[CreateUserInput, strawberry.argument(description="The new user.")]
    ) -> CreateUserResult:
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
