"""Graph change notifications for the Office 365 emulator: subscriptions, the validation handshake, change and
lifecycle notifications, delivered over real HTTP as Graph delivers them.

- `POST /v1.0/subscriptions` checks the resource (the caller's own mailbox only: `me/events`, `me/calendar/events`,
  `me/calendars/{id}/events`; a calendar shared from another mailbox is refused), the https notificationUrl and the
  expiry (at most 10080 minutes ahead for Outlook events), then validates both URLs before answering: a POST with
  `?validationToken=` that must answer 200 with the token as text/plain within 10 s, else 400 and no subscription.
- Every change of an event in a subscribed calendar is POSTed to the notificationUrl (`{"value": [...]}` with
  subscriptionId, changeType, resource, resourceData, clientState, tenantId); a 2xx is expected within 3 s, other
  answers are retried a bounded number of times. Expired or deleted subscriptions send nothing.
- `send_lifecycle` POSTs reauthorizationRequired / missed / subscriptionRemoved to the lifecycleNotificationUrl.

Notification URLs are https; the origin is delivered through `EmulatorState.push_routes` (the TLS proxy in front
of the app), and an origin with no route is unreachable. Every delivery is recorded in `deliveries`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import secrets
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators.microsoft_wire import GraphError, change_key, graph_root, lower_keys, parse_query_datetime
from emulators.state import EmulatedAccount, EmulatedEvent, EmulatorState

MAX_EXPIRY_MINUTES = 10080
"""The longest a subscription to Outlook events may live (7 days), as Graph's subscription reference gives it."""
VALIDATION_TIMEOUT_SECONDS = 10.0
DELIVERY_TIMEOUT_SECONDS = 3.0
CHANGE_TYPES = frozenset({"created", "updated", "deleted"})
LIFECYCLE_EVENTS = frozenset({"reauthorizationRequired", "missed", "subscriptionRemoved"})
CLIENT_STATE_MAX = 128


@dataclass
class GraphSubscription:
    id: str
    owner: str
    calendar_id: str | None
    """The one calendar subscribed to; None: every calendar of the owner's mailbox (`me/events`)."""
    resource: str
    change_types: frozenset[str]
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expires_at: datetime


@dataclass(frozen=True)
class Delivery:
    """One POST the emulator made (or could not make) to an app."""

    subscription_id: str
    kind: str
    """"validation", a changeType ("created", "updated", "deleted"), or a lifecycle event."""
    url: str
    status: int | None
    error: str | None = None


def graph_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def user_id(email: str) -> str:
    """The directory id Graph shows for a mailbox (the same as GET /me answers)."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, email))


class GraphPush:
    """Subscriptions of one emulated Graph, and the notifications they cause."""

    def __init__(self, state: EmulatorState, *, retry_delays: Sequence[float] = (0.5, 1.0, 2.0)) -> None:
        self.state = state
        self.retry_delays = tuple(retry_delays)
        """The waits between attempts of a notification that was not answered with a 2xx (bounded retries)."""
        self.tenant_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"tenant.{state.id_prefix}"))
        self.subscriptions: dict[str, GraphSubscription] = {}
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._recorded = threading.Condition(self._lock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self._pending: dict[tuple[str, str], str] = {}
        self._flush_scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        with state.lock:
            self._seen = {event_id for calendar in state.calendars.values() for event_id in calendar.events}
        state.change_listeners.append(self._changed)

    # HTTP surface ----------------------------------------------------------------------
    async def create(self, request: Request, caller: EmulatedAccount) -> Response:
        self._loop = asyncio.get_running_loop()
        body = lower_keys(await request.json())
        change_types = self._change_types(body.get("changetype"))
        resource = str(body.get("resource") or "")
        calendar_id = self._subscribed_calendar(caller, resource)
        notification_url = self._https_url(body.get("notificationurl"), "notificationUrl")
        lifecycle_raw = body.get("lifecyclenotificationurl")
        lifecycle_url = self._https_url(lifecycle_raw, "lifecycleNotificationUrl") if lifecycle_raw else None
        expires_at = self._expiry(body.get("expirationdatetime"))
        client_state = body.get("clientstate")
        if client_state is not None and (not isinstance(client_state, str) or len(client_state) > CLIENT_STATE_MAX):
            raise GraphError(
                400, "InvalidRequest", f"clientState must be a string of at most {CLIENT_STATE_MAX} chars."
            )
        subscription = GraphSubscription(
            id=str(uuid.uuid4()),
            owner=caller.email,
            calendar_id=calendar_id,
            resource=resource,
            change_types=change_types,
            notification_url=notification_url,
            lifecycle_url=lifecycle_url,
            client_state=client_state,
            expires_at=expires_at,
        )
        for url in filter(None, (notification_url, lifecycle_url)):
            if not await self._validate(subscription.id, url):
                raise GraphError(
                    400,
                    "ValidationError",
                    "Subscription validation request failed. Notification endpoint must respond with 200 OK to "
                    "validation request.",
                )
        with self._lock:
            self.subscriptions[subscription.id] = subscription
        return JSONResponse(self._json(request, subscription, caller), status_code=201)

    async def get(self, request: Request, caller: EmulatedAccount) -> Response:
        return JSONResponse(self._json(request, self._owned(request, caller), caller))

    async def renew(self, request: Request, caller: EmulatedAccount) -> Response:
        subscription = self._owned(request, caller)
        body = lower_keys(await request.json())
        subscription.expires_at = self._expiry(body.get("expirationdatetime"))
        return JSONResponse(self._json(request, subscription, caller))

    async def delete(self, request: Request, caller: EmulatedAccount) -> Response:
        subscription = self._owned(request, caller)
        with self._lock:
            self.subscriptions.pop(subscription.id, None)
        return Response(status_code=204)

    def _owned(self, request: Request, caller: EmulatedAccount) -> GraphSubscription:
        """A live subscription of the caller's; an expired one is gone, as Graph deletes them."""
        subscription = self.subscriptions.get(request.path_params["subscription_id"])
        if subscription is None or subscription.owner != caller.email or not self._live(subscription):
            raise GraphError(404, "ResourceNotFound", "The object was not found.")
        return subscription

    def _json(self, request: Request, subscription: GraphSubscription, caller: EmulatedAccount) -> dict[str, object]:
        return {
            "@odata.context": f"{graph_root(request)}/$metadata#subscriptions/$entity",
            "id": subscription.id,
            "resource": subscription.resource,
            "applicationId": "00000000-0000-0000-0000-000000000000",
            "changeType": ",".join(sorted(subscription.change_types)),
            "clientState": subscription.client_state,
            "notificationUrl": subscription.notification_url,
            "lifecycleNotificationUrl": subscription.lifecycle_url,
            "expirationDateTime": graph_timestamp(subscription.expires_at),
            "creatorId": user_id(caller.email),
            "latestSupportedTlsVersion": "v1_2",
            "includeResourceData": False,
        }

    # request checks ----------------------------------------------------------------------
    @staticmethod
    def _change_types(value: object) -> frozenset[str]:
        names = frozenset(part.strip() for part in str(value or "").split(",") if part.strip())
        if not names or not names <= CHANGE_TYPES:
            raise GraphError(400, "InvalidRequest", f"Invalid changeType '{value}'.")
        return names

    def _subscribed_calendar(self, caller: EmulatedAccount, resource: str) -> str | None:
        """The calendar a resource names (None for the whole mailbox); only the caller's own mailbox can be
        subscribed to: a calendar shared from another mailbox is refused as Graph refuses it."""
        path = resource.strip("/")
        parts = path.split("/")
        lowered = [p.lower() for p in parts]
        if lowered == ["me", "events"]:
            return None
        if lowered == ["me", "calendar", "events"]:
            return caller.primary_calendar_id
        if len(parts) == 4 and lowered[0] == "me" and lowered[1] == "calendars" and lowered[3] == "events":
            calendar_id = parts[2]
            calendar = self.state.calendars.get(calendar_id)
            if calendar is None or self.state.role(caller.email, calendar_id) is None:
                raise GraphError(404, "ExtensionError", _extension("NotFound", "The specified object was not found."))
            if calendar.owner_email != caller.email:
                raise GraphError(
                    403, "ExtensionError", _extension("Forbidden", "Access is denied. Check credentials and try again.")
                )
            return calendar_id
        raise GraphError(400, "InvalidRequest", f"Resource '{resource}' is not supported for subscriptions.")

    @staticmethod
    def _https_url(value: object, name: str) -> str:
        url = str(value or "")
        if urlsplit(url).scheme.lower() != "https" or not urlsplit(url).netloc:
            raise GraphError(400, "ValidationError", f"The {name} must be an https URL.")
        return url

    def _expiry(self, value: object) -> datetime:
        if not isinstance(value, str) or not value:
            raise GraphError(400, "InvalidRequest", "expirationDateTime is required.")
        expires_at = parse_query_datetime(value)
        now = self.state.clock()
        if expires_at <= now:
            raise GraphError(400, "InvalidRequest", "Subscription expiration must be in the future.")
        if expires_at > now + timedelta(minutes=MAX_EXPIRY_MINUTES):
            raise GraphError(
                400,
                "InvalidRequest",
                f"Subscription expiration can only be {MAX_EXPIRY_MINUTES} minutes in the future.",
            )
        return expires_at

    def _live(self, subscription: GraphSubscription) -> bool:
        return self.state.clock() < subscription.expires_at

    # delivery ------------------------------------------------------------------------------
    def route(self, url: str) -> str | None:
        """Where an https URL is delivered: its origin replaced by its push route; None when no route exists."""
        parts = urlsplit(url)
        base = self.state.push_routes.get(f"{parts.scheme}://{parts.netloc}")
        if base is None:
            return None
        rest = parts.path + (f"?{parts.query}" if parts.query else "")
        return base.rstrip("/") + rest

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient()
        return self._client

    async def _validate(self, subscription_id: str, url: str) -> bool:
        token = secrets.token_urlsafe(24)
        target = self.route(url)
        if target is None:
            self._record(Delivery(subscription_id, "validation", url, None, "unreachable"))
            return False
        try:
            response = await self._http().post(
                target,
                params={"validationToken": token},
                headers={"Content-Type": "text/plain; charset=utf-8"},
                timeout=VALIDATION_TIMEOUT_SECONDS,
            )
        except httpx.HTTPError as exc:
            self._record(Delivery(subscription_id, "validation", url, None, type(exc).__name__))
            return False
        self._record(Delivery(subscription_id, "validation", url, response.status_code))
        content_type = response.headers.get("content-type", "")
        return response.status_code == 200 and content_type.startswith("text/plain") and response.text == token

    def _record(self, delivery: Delivery) -> None:
        with self._recorded:
            self.deliveries.append(delivery)
            self._recorded.notify_all()

    def wait_for_deliveries(self, subscription_id: str, kind: str, count: int, timeout: float) -> list[Delivery]:
        """The subscription's deliveries of `kind` once there are `count` of them (blocking, at most `timeout`
        seconds; fewer when the time ran out)."""

        def found() -> list[Delivery]:
            return [d for d in self.deliveries if d.subscription_id == subscription_id and d.kind == kind]

        with self._recorded:
            self._recorded.wait_for(lambda: len(found()) >= count, timeout)
            return found()

    async def _post(self, subscription: GraphSubscription, url: str, kind: str, item: dict[str, object]) -> None:
        """POST one notification; anything but a 2xx within 3 s is retried after each of `retry_delays`."""
        target = self.route(url)
        for attempt in range(len(self.retry_delays) + 1):
            if attempt:
                await asyncio.sleep(self.retry_delays[attempt - 1])
            if target is None:
                self._record(Delivery(subscription.id, kind, url, None, "unreachable"))
                continue
            try:
                response = await self._http().post(target, json={"value": [item]}, timeout=DELIVERY_TIMEOUT_SECONDS)
            except httpx.HTTPError as exc:
                self._record(Delivery(subscription.id, kind, url, None, type(exc).__name__))
                continue
            self._record(Delivery(subscription.id, kind, url, response.status_code))
            if 200 <= response.status_code < 300:
                return

    def _changed(self, event: EmulatedEvent) -> None:
        """A change listener (any thread): queue a notification per live subscription covering the event, coalesced
        per subscription and event until the loop sends them."""
        with self._lock:
            created = event.id not in self._seen
            self._seen.add(event.id)
            change = "deleted" if event.cancelled else "created" if created else "updated"
            calendar = self.state.calendars.get(event.calendar_id)
            if self._loop is None or calendar is None:
                return
            for subscription in self.subscriptions.values():
                if subscription.owner != calendar.owner_email or not self._live(subscription):
                    continue
                if subscription.calendar_id not in (None, event.calendar_id):
                    continue
                key = (subscription.id, event.id)
                earlier = self._pending.get(key)
                self._pending[key] = "created" if earlier == "created" and change != "deleted" else change
            if not self._pending or self._flush_scheduled:
                return
            self._flush_scheduled = True
            loop = self._loop
        loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            self._flush_scheduled = False
        for (subscription_id, event_id), change in pending.items():
            subscription = self.subscriptions.get(subscription_id)
            if subscription is None or change not in subscription.change_types or not self._live(subscription):
                continue
            self._spawn(
                self._post(
                    subscription, subscription.notification_url, change, self._change(subscription, event_id, change)
                )
            )

    def _spawn(self, work: object) -> None:
        assert asyncio.iscoroutine(work)
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _change(self, subscription: GraphSubscription, event_id: str, change: str) -> dict[str, object]:
        resource = f"Users/{user_id(subscription.owner)}/Events/{event_id}"
        event = next(
            (c.events[event_id] for c in self.state.calendars.values() if event_id in c.events),
            None,
        )
        data: dict[str, object] = {"@odata.type": "#Microsoft.Graph.Event", "@odata.id": resource, "id": event_id}
        if event is not None:
            data["@odata.etag"] = f'W/"{change_key(event)}"'
        return {
            "subscriptionId": subscription.id,
            "subscriptionExpirationDateTime": graph_timestamp(subscription.expires_at),
            "changeType": change,
            "resource": resource,
            "resourceData": data,
            "clientState": subscription.client_state,
            "tenantId": self.tenant_id,
        }

    def send_lifecycle(self, subscription_id: str, lifecycle_event: str) -> concurrent.futures.Future[None]:
        """POST a lifecycle notification to the subscription's lifecycleNotificationUrl (any thread); the future is
        done once it was delivered or its retries ran out. `subscriptionRemoved` also removes the subscription."""
        if lifecycle_event not in LIFECYCLE_EVENTS:
            raise ValueError(f"lifecycle_event must be one of {sorted(LIFECYCLE_EVENTS)}")
        subscription = self.subscriptions[subscription_id]
        if subscription.lifecycle_url is None or self._loop is None:
            raise ValueError("the subscription has no lifecycleNotificationUrl")
        if lifecycle_event == "subscriptionRemoved":
            with self._lock:
                self.subscriptions.pop(subscription_id, None)
        item: dict[str, object] = {
            "subscriptionId": subscription.id,
            "subscriptionExpirationDateTime": graph_timestamp(subscription.expires_at),
            "tenantId": self.tenant_id,
            "clientState": subscription.client_state,
            "lifecycleEvent": lifecycle_event,
        }
        work = self._post(subscription, subscription.lifecycle_url, lifecycle_event, item)
        return asyncio.run_coroutine_threadsafe(work, self._loop)

    def control_routes(self) -> list[Route]:
        """For the control surface (<emulator>/_control): `GET /subscriptions` lists the subscriptions with their
        deliveries; `POST /subscriptions/{id}/lifecycle {"event": "missed"}` sends a lifecycle notification."""

        async def listing(_: Request) -> Response:
            with self._lock:
                subscriptions = list(self.subscriptions.values())
                deliveries = list(self.deliveries)
            return JSONResponse(
                [
                    {
                        "id": s.id,
                        "owner": s.owner,
                        "resource": s.resource,
                        "expirationDateTime": graph_timestamp(s.expires_at),
                        "live": self._live(s),
                        "deliveries": [
                            {"kind": d.kind, "status": d.status, "error": d.error}
                            for d in deliveries
                            if d.subscription_id == s.id
                        ],
                    }
                    for s in subscriptions
                ]
            )

        async def lifecycle(request: Request) -> Response:
            body = await request.json()
            event = body.get("event") if isinstance(body, dict) else None
            subscription_id = request.path_params["subscription_id"]
            if subscription_id not in self.subscriptions or event not in LIFECYCLE_EVENTS:
                return JSONResponse(
                    {"error": f"unknown subscription, or event not one of {', '.join(sorted(LIFECYCLE_EVENTS))}"},
                    status_code=400,
                )
            try:
                await asyncio.wrap_future(self.send_lifecycle(subscription_id, str(event)))
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            return JSONResponse({"subscription_id": subscription_id, "event": event})

        return [
            Route("/subscriptions", listing, methods=["GET"]),
            Route("/subscriptions/{subscription_id}/lifecycle", lifecycle, methods=["POST"]),
        ]

    def deliveries_of(self, subscription_id: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.subscription_id == subscription_id]


def _extension(status: str, reason: str) -> str:
    """The message of Graph's ExtensionError: the mailbox service's refusal, wrapped."""
    return f"Operation: Create; Exception: [Status Code: {status}; Reason: {reason}]"
