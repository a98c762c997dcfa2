"""Calendar connections, their calendars and capabilities, and email inboxes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry

from db import models
from resolvers import connect_exchange, connect_oauth, disconnect, inboxes, reconnect_exchange
from scheduling.calendars import ProviderKind, capabilities_of, selectable_for_availability
from schema.base import CtxInfo, _graphql_enum
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

ConnectionInactiveReason = _graphql_enum(
    models.InactiveReason,
    name="ConnectionInactiveReason",
    description="Why a calendar connection is INACTIVE, and so what its owner must do to use it again.",
    values={
        models.InactiveReason.PASSWORD_REFUSED: "The Exchange server refused the stored password (changed or "
        "expired). It is no longer sent, so the account is not locked out; re-enter it with "
        "reconnectExchangeCalendar.",
        models.InactiveReason.ACCOUNT_LOCKED_OUT: "The Exchange server says the account is locked out. Nothing is "
        "sent any more; once the lockout ends or an administrator unlocks the account, re-enter the password with "
        "reconnectExchangeCalendar.",
        models.InactiveReason.ACCESS_REVOKED: "The OAuth grant was revoked or can no longer be refreshed; "
        "disconnect the calendar and connect it again.",
    },
)


CalendarSyncMode = _graphql_enum(
    models.SyncMode,
    name="CalendarSyncMode",
    description="How the server keeps a calendar's events current.",
    values={
        models.SyncMode.PUSH: "The provider notifies the server of changes (Google watch channels, Microsoft Graph "
        "subscriptions).",
        models.SyncMode.POLL: "The server asks the provider for changes on a timer (no push possible for this "
        "calendar or deployment).",
        models.SyncMode.LIVE: "Read from the provider when needed; nothing is kept (not synced yet, or the provider "
        "offers no sync).",
    },
)


@strawberry.type(description="What a connection supports; Exchange connections have all four false.")
class ConnectionCapabilities:
    cancel_meetings: bool = strawberry.field(description="Meetings in this calendar can be cancelled (cancelMeeting).")
    reschedule_meetings: bool = strawberry.field(description="Meetings in this calendar can be rescheduled.")
    two_way_sync: bool = strawberry.field(
        description=(
            "Meetings logged on CRM records are written to this calendar (and calendar sync can be on); "
            "meetings made in the calendar are synced in."
        )
    )
    insert_times_in_email: bool = strawberry.field(description="Proposed meeting times can be inserted into an email.")


@strawberry.type(description="One calendar of a connected calendar account.")
class Calendar:
    id: strawberry.ID = strawberry.field(description="The calendar's id in meetgraph (not the provider's).")
    name: str = strawberry.field(description="The calendar's name at the provider.")
    is_primary: bool = strawberry.field(
        description="The account's primary calendar: booked meetings are written here, never elsewhere."
    )
    status: models.ConnectionStatus = strawberry.field(
        description="INACTIVE while access to this calendar is lost; see CalendarSettings.inactiveCalendars."
    )
    is_availability_calendar: bool = strawberry.field(
        description=(
            "Checked for busy time before slots are offered (chosen with saveCalendarSettings"
            "(availabilityCalendarIds)); the primary calendar is always checked."
        )
    )
    selectable_for_availability: bool = strawberry.field(
        description="Owned by the connected account, or shared with it with full event details."
    )
    sync_mode: models.SyncMode = strawberry.field(
        description="How its events are kept current: pushed, polled, or read live when needed."
    )
    synced_at: datetime | None = strawberry.field(
        description="When the server last brought this calendar's events up to date; null before the first sync."
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
            sync_mode=m.sync_mode,
            synced_at=m.synced_at,
        )


@strawberry.type(
    description=(
        "A connected calendar account (one per user; two for users created before 2023-03-13). "
        "Its credentials are stored encrypted and never readable through the API."
    )
)
class CalendarConnection:
    id: strawberry.ID = strawberry.field(description="Pass to disconnectCalendar.")
    provider: ProviderKind = strawberry.field(description="The calendar service.")
    email: str = strawberry.field(description="The connected account's email address.")
    status: models.ConnectionStatus = strawberry.field(description="INACTIVE while access to the account is lost.")
    inactive_reason: models.InactiveReason | None = strawberry.field(
        description="Why the connection is INACTIVE (what the owner must do); null while it is ACTIVE, or when "
        "it became inactive before reasons were recorded."
    )
    _id: strawberry.Private[uuid.UUID]

    @classmethod
    def from_model(cls, m: models.CalendarConnection) -> CalendarConnection:
        return cls(
            id=strawberry.ID(str(m.id)),
            provider=ProviderKind(m.provider),
            email=m.email,
            status=m.status,
            inactive_reason=m.inactive_reason,
            _id=m.id,
        )

    @strawberry.field(description="The account's calendars, as listed by the provider when it was connected.")
    async def calendars(self, info: CtxInfo) -> list[Calendar]:
        rows = await info.context.loaders.calendars_by_connection.load(self._id)
        return [Calendar.from_model(c) for c in rows]

    @strawberry.field(description="What the provider supports; show or hide actions by it.")
    def capabilities(self) -> ConnectionCapabilities:
        caps = capabilities_of(self.provider)
        return ConnectionCapabilities(
            cancel_meetings=caps.cancel_meetings,
            reschedule_meetings=caps.reschedule_meetings,
            two_way_sync=caps.two_way_sync,
            insert_times_in_email=caps.insert_times_in_email,
        )


@strawberry.type(
    description=(
        "An email inbox of the user: personal (connected with its calendar) or a shared team address "
        "(connectSharedInbox)."
    )
)
class EmailInbox:
    id: strawberry.ID = strawberry.field(description="Pass to disconnectEmailInbox.")
    address: str = strawberry.field(description="The inbox's email address.")
    shared: bool = strawberry.field(
        description="A shared team inbox; false for the personal inbox that came with a calendar."
    )

    @classmethod
    def from_model(cls, m: models.EmailInbox) -> EmailInbox:
        return cls(id=strawberry.ID(str(m.id)), address=m.address, shared=m.shared)


@strawberry.input(description="How to reach and sign in to an Exchange mailbox (Exchange 2010 SP2 or later).")
class ExchangeConnectionInput:
    email: str = strawberry.field(description="The mailbox's email address; it becomes the user's inbox too.")
    password: str = strawberry.field(
        description=(
            "The account's password, 1 to 1024 characters; with two-factor authentication an app password. "
            "Stored encrypted, never shown again."
        )
    )
    username: str | None = strawberry.field(
        default=None,
        description="The sign-in name when it differs from the email (e.g. DOMAIN\\user), at most 254 characters.",
    )
    ews_url: str | None = strawberry.field(
        default=None,
        description=(
            "The http(s) URL of the Exchange Web Services endpoint, e.g. "
            "`https://mail.example.com/EWS/Exchange.asmx`; found by autodiscover from the email when omitted."
        ),
    )


@strawberry.type(description="The OAuth flow was started.")
class StartCalendarConnectionSuccess:
    authorization_url: str = strawberry.field(
        description=(
            "Send the user's browser here (a page of this server: it ties the flow to that browser with a cookie, "
            "then redirects to the provider's consent page). After consent the provider returns to the server, "
            "which stores the connection only in that same browser and redirects to the dashboard. Valid for a "
            "few minutes and for one use."
        )
    )


@strawberry.type(description="The calendar account is connected (and its mailbox as the user's inbox).")
class ConnectCalendarSuccess:
    connection: CalendarConnection = strawberry.field(description="The new connection with its calendars.")


@strawberry.type(description="The object was removed.")
class DisconnectSuccess:
    id: strawberry.ID = strawberry.field(description="The id of what was removed; drop it from the client's cache.")


@strawberry.type(description="The inbox is connected.")
class EmailInboxSuccess:
    inbox: EmailInbox = strawberry.field(description="The connected inbox.")


StartCalendarConnectionResult = Annotated[
    StartCalendarConnectionSuccess | PermissionRequiredError | ConnectionLimitError | ValidationError,
    strawberry.union(
        "StartCalendarConnectionResult", description="The authorization URL, or why the flow cannot start."
    ),
]
ConnectCalendarResult = Annotated[
    ConnectCalendarSuccess
    | PermissionRequiredError
    | SharedInboxError
    | ConnectionLimitError
    | ProviderError
    | ExchangeVersionError
    | ValidationError
    | NotFoundError,
    strawberry.union(
        "ConnectCalendarResult",
        description="The new (or reconnected) connection, or why nothing was connected.",
    ),
]
DisconnectResult = Annotated[
    DisconnectSuccess | NotFoundError,
    strawberry.union("DisconnectResult", description="The removed id, or NotFoundError when it is not the caller's."),
]
EmailInboxResult = Annotated[
    EmailInboxSuccess | ValidationError | PermissionRequiredError,
    strawberry.union("EmailInboxResult", description="The inbox, or why it was refused."),
]


def _disconnected(key: uuid.UUID) -> DisconnectSuccess:
    return DisconnectSuccess(id=strawberry.ID(str(key)))


def _connected(model: models.CalendarConnection) -> ConnectCalendarSuccess:
    return ConnectCalendarSuccess(connection=CalendarConnection.from_model(model))


@strawberry.type
class ConnectionsMutation:
    @strawberry.mutation(
        description=(
            "Start connecting a Google or Office 365 calendar by OAuth: answers the URL to send the user's "
            "browser to (it leads to the provider's consent page). PermissionRequiredError without personal email access; "
            "ConnectionLimitError when the user holds the calendar accounts they may; ValidationError "
            "(field `provider`) for EXCHANGE, which connects with connectExchangeCalendar."
        )
    )
    async def start_calendar_connection(
        self,
        info: CtxInfo,
        provider: Annotated[ProviderKind, strawberry.argument(description="GOOGLE or OFFICE365.")],
    ) -> StartCalendarConnectionResult:
        return await outcome(
            info.context,
            connect_oauth.start_oauth(info.context, provider),
            lambda url: StartCalendarConnectionSuccess(authorization_url=url),
        )

    @strawberry.mutation(
        description=(
            "Connect an Exchange calendar; the server is checked (sign-in, version, calendars) before anything "
            "is saved. PermissionRequiredError without personal email access; ValidationError for a malformed "
            "email, password or ewsUrl, or an address that is another user's inbox; SharedInboxError when the "
            "address is a shared inbox; ConnectionLimitError when the user holds the calendar accounts they "
            "may; ExchangeVersionError before Exchange 2010 SP2; ProviderError when the server refuses the "
            "sign-in or cannot be reached, with a `reason` when the user can act on it (e.g. EXCHANGE_ONLINE: "
            "connect as Office 365; CERTIFICATE_NOT_TRUSTED; NOT_EXCHANGE_ENDPOINT; ACCOUNT_LOCKED_OUT)."
        )
    )
    async def connect_exchange_calendar(
        self,
        info: CtxInfo,
        input: Annotated[ExchangeConnectionInput, strawberry.argument(description="The mailbox and how to sign in.")],
    ) -> ConnectCalendarResult:
        data = connect_exchange.ExchangeInput(
            email=input.email, password=input.password, username=input.username, ews_url=input.ews_url
        )
        return await outcome(info.context, connect_exchange.connect_exchange(info.context, data), _connected)

    @strawberry.mutation(
        description=(
            "Re-enter the password of an Exchange connection, typically one INACTIVE because the server refused "
            "the stored password (inactiveReason PASSWORD_REFUSED or ACCOUNT_LOCKED_OUT). The sign-in is checked "
            "at the connection's EWS URL first; only when it works are the credentials replaced and the "
            "connection and its calendars ACTIVE again (bookings work at once). A refused sign-in changes "
            "nothing: ProviderError. NotFoundError when the id is not one of the caller's Exchange connections; "
            "ValidationError for an empty or too long password or username; PermissionRequiredError without "
            "personal email access."
        )
    )
    async def reconnect_exchange_calendar(
        self,
        info: CtxInfo,
        id: Annotated[strawberry.ID, strawberry.argument(description="CalendarConnection.id (an Exchange one).")],
        password: Annotated[
            str, strawberry.argument(description="The account's current password, 1 to 1024 characters.")
        ],
        username: Annotated[
            str | None,
            strawberry.argument(
                description="A new sign-in name (e.g. DOMAIN\\user); the stored one is kept when omitted."
            ),
        ] = None,
    ) -> ConnectCalendarResult:
        return await outcome(
            info.context, reconnect_exchange.reconnect_exchange(info.context, id, password, username), _connected
        )

    @strawberry.mutation(
        description=(
            "Disconnect a calendar account and forget its credentials; with no account left, calendar and "
            "task sync turn off. A user created before 2023-03-13 who held two accounts may then hold only "
            "one. NotFoundError when the connection is not the caller's."
        )
    )
    async def disconnect_calendar(
        self,
        info: CtxInfo,
        connection_id: Annotated[strawberry.ID, strawberry.argument(description="CalendarConnection.id.")],
    ) -> DisconnectResult:
        return await outcome(info.context, disconnect.disconnect_calendar(info.context, connection_id), _disconnected)

    @strawberry.mutation(
        description=(
            "Disconnect an inbox; a calendar connected with it stays connected. NotFoundError when the inbox "
            "is not the caller's."
        )
    )
    async def disconnect_email_inbox(
        self, info: CtxInfo, inbox_id: Annotated[strawberry.ID, strawberry.argument(description="EmailInbox.id.")]
    ) -> DisconnectResult:
        return await outcome(info.context, inboxes.disconnect_inbox(info.context, inbox_id), _disconnected)

    @strawberry.mutation(
        description=(
            "Connect a team address as a shared inbox of the account (such an address cannot be connected as "
            "a calendar afterwards). PermissionRequiredError without personal email access; ValidationError "
            "(field `address`) when malformed or already connected."
        )
    )
    async def connect_shared_inbox(
        self,
        info: CtxInfo,
        address: Annotated[str, strawberry.argument(description="The team's email address, e.g. sales@example.com.")],
    ) -> EmailInboxResult:
        return await outcome(
            info.context,
            inboxes.connect_shared_inbox(info.context, address),
            lambda inbox: EmailInboxSuccess(inbox=EmailInbox.from_model(inbox)),
        )
