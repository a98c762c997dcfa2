"""Calendar connections, their calendars and capabilities, and email inboxes."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from db import models
from resolvers import connect_exchange, connect_oauth, disconnect, inboxes
from scheduling.calendars import ProviderKind, capabilities_of, selectable_for_availability
from schema.base import CtxInfo
from schema.errors import (
    ConnectionLimitError,
    ExchangeVersionError,
    NotFoundError,
    PermissionRequiredError,
    ProviderError,
    SharedInboxError,
    ValidationError,
)
from schema.results import outcome


@strawberry.type(description="What a connection supports; Exchange connections have all four false.")
class ConnectionCapabilities:
    cancel_meetings: bool
    reschedule_meetings: bool
    two_way_sync: bool
    insert_times_in_email: bool


@strawberry.type
class Calendar:
    id: strawberry.ID
    name: str
    is_primary: bool
    status: models.ConnectionStatus
    is_availability_calendar: bool
    selectable_for_availability: bool = strawberry.field(
        description="Owned by the connected account, or shared with it with full event details."
    )

    @classmethod
    def from_model(cls, m: models.Calendar) -> Calendar:
        return cls(
            id=strawberry.ID(str(m.id)),
            name=m.name,
            is_primary=m.is_primary,
            status=m.status,
            is_availability_calendar=m.is_availability,
            selectable_for_availability=selectable_for_availability(m.access_role),
        )


@strawberry.type
class CalendarConnection:
    id: strawberry.ID
    provider: ProviderKind
    email: str
    status: models.ConnectionStatus
    _id: strawberry.Private[uuid.UUID]

    @classmethod
    def from_model(cls, m: models.CalendarConnection) -> CalendarConnection:
        return cls(
            id=strawberry.ID(str(m.id)),
            provider=ProviderKind(m.provider),
            email=m.email,
            status=m.status,
            _id=m.id,
        )

    @strawberry.field
    async def calendars(self, info: CtxInfo) -> list[Calendar]:
        rows = await info.context.loaders.calendars_by_connection.load(self._id)
        return [Calendar.from_model(c) for c in rows]

    @strawberry.field
    def capabilities(self) -> ConnectionCapabilities:
        caps = capabilities_of(self.provider)
        return ConnectionCapabilities(
            cancel_meetings=caps.cancel_meetings,
            reschedule_meetings=caps.reschedule_meetings,
            two_way_sync=caps.two_way_sync,
            insert_times_in_email=caps.insert_times_in_email,
        )


@strawberry.type
class EmailInbox:
    id: strawberry.ID
    address: str
    shared: bool

    @classmethod
    def from_model(cls, m: models.EmailInbox) -> EmailInbox:
        return cls(id=strawberry.ID(str(m.id)), address=m.address, shared=m.shared)


@strawberry.input
class ExchangeConnectionInput:
    email: str
    password: str
    username: str | None = None
    ews_url: str | None = None


@strawberry.type
class StartCalendarConnectionSuccess:
    authorization_url: str


@strawberry.type
class ConnectCalendarSuccess:
    connection: CalendarConnection


@strawberry.type
class DisconnectSuccess:
    id: strawberry.ID


@strawberry.type
class EmailInboxSuccess:
    inbox: EmailInbox


StartCalendarConnectionResult = Annotated[
    StartCalendarConnectionSuccess | PermissionRequiredError | ConnectionLimitError | ValidationError,
    strawberry.union("StartCalendarConnectionResult"),
]
ConnectCalendarResult = Annotated[
    ConnectCalendarSuccess
    | PermissionRequiredError
    | SharedInboxError
    | ConnectionLimitError
    | ProviderError
    | ExchangeVersionError
    | ValidationError,
    strawberry.union("ConnectCalendarResult"),
]
DisconnectResult = Annotated[DisconnectSuccess | NotFoundError, strawberry.union("DisconnectResult")]
EmailInboxResult = Annotated[
    EmailInboxSuccess | ValidationError | PermissionRequiredError, strawberry.union("EmailInboxResult")
]


def _disconnected(key: uuid.UUID) -> DisconnectSuccess:
    return DisconnectSuccess(id=strawberry.ID(str(key)))


def _connected(model: models.CalendarConnection) -> ConnectCalendarSuccess:
    return ConnectCalendarSuccess(connection=CalendarConnection.from_model(model))


@strawberry.type
class ConnectionsMutation:
    @strawberry.mutation(description="The provider's OAuth authorization URL to send the user to (Google, Office 365).")
    async def start_calendar_connection(self, info: CtxInfo, provider: ProviderKind) -> StartCalendarConnectionResult:
        return await outcome(
            info.context,
            connect_oauth.start_oauth(info.context, provider),
            lambda url: StartCalendarConnectionSuccess(authorization_url=url),
        )

    @strawberry.mutation(description="Connect an Exchange calendar; the server is checked before anything is saved.")
    async def connect_exchange_calendar(self, info: CtxInfo, input: ExchangeConnectionInput) -> ConnectCalendarResult:
        data = connect_exchange.ExchangeInput(
            email=input.email, password=input.password, username=input.username, ews_url=input.ews_url
        )
        return await outcome(info.context, connect_exchange.connect_exchange(info.context, data), _connected)

    @strawberry.mutation
    async def disconnect_calendar(self, info: CtxInfo, connection_id: strawberry.ID) -> DisconnectResult:
        return await outcome(info.context, disconnect.disconnect_calendar(info.context, connection_id), _disconnected)

    @strawberry.mutation(description="Disconnect an inbox; a calendar connected with it stays connected.")
    async def disconnect_email_inbox(self, info: CtxInfo, inbox_id: strawberry.ID) -> DisconnectResult:
        return await outcome(info.context, inboxes.disconnect_inbox(info.context, inbox_id), _disconnected)

    @strawberry.mutation(description="Connect a team address as a shared inbox of the account.")
    async def connect_shared_inbox(self, info: CtxInfo, address: str) -> EmailInboxResult:
        return await outcome(
            info.context,
            inboxes.connect_shared_inbox(info.context, address),
            lambda inbox: EmailInboxSuccess(inbox=EmailInbox.from_model(inbox)),
        )
