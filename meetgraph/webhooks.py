"""The providers' change notifications: POST /webhooks/google (watch channels) and /webhooks/microsoft (Graph
subscriptions). Public routes: a notification is believed only when it names a known channel and carries its
secret (Google channel token, Graph clientState), compared with the stored SHA-256 in constant time. A believed
notification enqueues a coalesced sync and is answered at once; the sync runs on the workers.

A notification that is refused costs a database lookup, never a provider call nor a job."""

from __future__ import annotations

import hmac
import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import col, delete, select
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from db.engine import begin_write
from db.models import Calendar, PushChannel, SyncMode
from meetgraph import sync
from meetgraph.services import Services
from scheduling.calendars import ProviderKind

log = logging.getLogger("meetgraph.webhooks")

MAX_VALIDATION_TOKEN = 1024
GOOGLE_NOTIFYING_STATES = frozenset({"exists", "not_exists"})
GOOGLE_HANDSHAKE = "sync"
REJECTION_LOG_SECONDS = 60.0


@dataclass
class Rejections:
    """Refused notifications, counted and logged at most once a minute (a flood of forged requests is one line)."""

    counts: dict[str, int] = field(default_factory=dict)
    _logged_at: float = 0.0

    def count(self, why: str) -> None:
        self.counts[why] = self.counts.get(why, 0) + 1
        at = time.monotonic()
        if at - self._logged_at >= REJECTION_LOG_SECONDS:
            self._logged_at = at
            log.warning("refused webhook notifications so far: %s", dict(self.counts))


def _token_matches(channel: PushChannel, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(sync.token_hash(token), channel.token_hash)


async def _channels(services: Services, provider: str, channel_ids: Sequence[str]) -> dict[str, PushChannel]:
    if not channel_ids:
        return {}
    async with services.sessionmaker() as session:
        rows = await session.exec(
            select(PushChannel).where(
                col(PushChannel.provider) == provider, col(PushChannel.channel_id).in_(list(channel_ids))
            )
        )
        return {row.channel_id: row for row in rows.all() if row.calendar_id is not None}


async def _subscription_removed(services: Services, channel: PushChannel) -> None:
    """Graph removed the subscription: its row goes, the calendar is polled until a new watch succeeds."""
    assert channel.calendar_id is not None
    async with services.sessionmaker() as session:
        await begin_write(session)
        await session.exec(delete(PushChannel).where(col(PushChannel.id) == channel.id))  # type: ignore[call-overload]
        calendar = await session.get(Calendar, channel.calendar_id)
        if calendar is not None and calendar.sync_mode is SyncMode.PUSH:
            calendar.sync_mode = SyncMode.POLL
            session.add(calendar)
        await sync.enqueue_watch(
            session, channel.calendar_id, now=services.clock(), reason=f"removed-{channel.channel_id}"
        )
        await session.commit()
    services.jobs.kick()


async def _renew_now(services: Services, channel: PushChannel) -> None:
    async with services.sessionmaker() as session:
        await begin_write(session)
        await sync.enqueue_renewal(session, services, channel, at_once=True)
        await session.commit()
    services.jobs.kick()


def routes(services: Services) -> list[BaseRoute]:
    rejections = Rejections()

    async def google(request: Request) -> Response:
        channel_id = request.headers.get("x-goog-channel-id")
        token = request.headers.get("x-goog-channel-token")
        state = request.headers.get("x-goog-resource-state", "")
        if state == GOOGLE_HANDSHAKE:
            # sent as the channel opens, often before the watch call has answered and the channel is stored: not
            # refused as unknown (nor counted as forged); it asks for nothing (the watch job syncs after opening)
            return Response(status_code=200)
        channel = (await _channels(services, ProviderKind.GOOGLE.value, [channel_id] if channel_id else [])).get(
            channel_id or ""
        )
        if channel is None:
            rejections.count("google: unknown channel")
            return Response(status_code=404)
        if not _token_matches(channel, token):
            rejections.count("google: wrong channel token")
            return Response(status_code=403)
        if state in GOOGLE_NOTIFYING_STATES:
            assert channel.calendar_id is not None
            await sync.request_sync(services, [channel.calendar_id])
        return Response(status_code=200)

    async def microsoft(request: Request) -> Response:
        validation = request.query_params.get("validationToken")
        if validation is not None:
            if len(validation) > MAX_VALIDATION_TOKEN:
                return PlainTextResponse("validationToken too long", status_code=400)
            return PlainTextResponse(validation, status_code=200)
        try:
            body: Any = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return PlainTextResponse("malformed JSON", status_code=400)
        items = body.get("value") if isinstance(body, dict) else None
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            return PlainTextResponse('expected {"value": [...]}', status_code=400)
        ids = [str(item["subscriptionId"]) for item in items if isinstance(item.get("subscriptionId"), str)]
        known = await _channels(services, ProviderKind.OFFICE365.value, list(dict.fromkeys(ids)))
        to_sync: dict[uuid.UUID, None] = {}
        for item in items:
            channel = known.get(str(item.get("subscriptionId")))
            if channel is None:
                rejections.count("microsoft: unknown subscription")
                continue
            client_state = item.get("clientState")
            if not _token_matches(channel, client_state if isinstance(client_state, str) else None):
                rejections.count("microsoft: wrong clientState")
                continue
            assert channel.calendar_id is not None
            lifecycle = item.get("lifecycleEvent")
            if lifecycle == "reauthorizationRequired":
                await _renew_now(services, channel)
            elif lifecycle == "subscriptionRemoved":
                await _subscription_removed(services, channel)
            else:  # a change, or `missed`: whatever was missed is in the next delta
                to_sync[channel.calendar_id] = None
        await sync.request_sync(services, list(to_sync))
        return Response(status_code=202)

    return [
        Route("/webhooks/google", google, methods=["POST"]),
        Route("/webhooks/microsoft", microsoft, methods=["POST"]),
    ]
