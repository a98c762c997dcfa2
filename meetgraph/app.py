"""The Starlette application: /graphql (HTTP + graphql-transport-ws), /healthz, /readyz, OAuth callbacks, the
providers' change notifications (/webhooks/*), robots.txt."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError

from db.migrate import upgrade
from meetgraph import health, webhooks
from meetgraph.context import Context
from meetgraph.http import BodyLimit, GraphQLOverHTTP, error_response
from meetgraph.services import Services
from meetgraph.settings import Settings
from meetgraph.sync import Poller
from resolvers.job_kinds import KINDS
from schema import build_schema
from schema.error_codes import CodedTransportWSHandler

log = logging.getLogger("meetgraph.websockets")


class ClientConnections:
    """The WebSocket connections each client address holds open in this process, capped: connections need no
    token (availableSlotsChanged is public), so without a cap one client could hold every socket the server
    has. The address is the peer's, or the one a trusted proxy forwards (uvicorn's FORWARDED_ALLOW_IPS)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Counter[str] = Counter()

    def enter(self, client: str) -> bool:
        """Count a new connection of `client`; False (nothing counted) when it holds `limit` already."""
        if self._open[client] >= self.limit:
            return False
        self._open[client] += 1
        return True

    def leave(self, client: str) -> None:
        self._open[client] -= 1
        if self._open[client] <= 0:
            del self._open[client]


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _credentials(params: dict[str, Any]) -> object:
    """connection_init's `authorization` (either spelling); None when the client sent none (also as "")."""
    authorization = params.get("authorization", params.get("Authorization"))
    return None if authorization == "" else authorization


class GraphQLApp(GraphQLOverHTTP[Context, None]):
    graphql_transport_ws_handler_class = CodedTransportWSHandler

    def __init__(self, services: Services) -> None:
        super().__init__(
            build_schema(services.settings),
            graphql_ide="graphiql" if services.settings.graphiql else None,
            max_subscriptions_per_connection=services.settings.max_subscriptions_per_connection,
        )
        self.services = services
        self.max_tokens = services.settings.max_query_tokens
        self.websockets = ClientConnections(services.settings.max_ws_connections_per_client)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await super().__call__(scope, receive, send)
            return
        client = client_address(scope)
        if not self.websockets.enter(client):
            log.warning(
                "WebSocket from %s refused: it holds %d connections (MEETGRAPH_MAX_WS_CONNECTIONS_PER_CLIENT); "
                "behind a proxy on another host, let uvicorn trust it (FORWARDED_ALLOW_IPS) or all its clients count "
                "as one",
                client,
                self.websockets.limit,
            )
            await _refuse_handshake(WebSocket(scope, receive, send))
            return
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.websockets.leave(client)
            self.services.events.websocket_closed(client)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:  # type: ignore[override]
        context = Context(services=self.services, request=request, response=response)
        await context.authenticate(request.headers.get("authorization"))
        return context

    async def on_ws_connect(self, context: Context) -> None:  # type: ignore[override]
        """A connection without credentials is anonymous: public operations work (availableSlotsChanged), the
        rest answer UNAUTHENTICATED as over HTTP. Credentials that are wrong (unknown, revoked, not a bearer
        token) refuse the connection, so a client never mistakes a bad token for being signed in."""
        authorization = _credentials(context.connection_params or {})
        if authorization is None:
            if not (context.request is not None and context.request.headers.get("authorization")):
                return
            # the handshake's own Authorization header, authenticated by get_context: judged the same way
        elif isinstance(authorization, str):
            await context.authenticate(authorization)
        else:
            context.user = None
        if context.user is None:
            raise ConnectionRejectionError({"message": 'send {"authorization": "Bearer <token>"}, or nothing'})


async def _refuse_handshake(websocket: WebSocket) -> None:
    """429 where the server can answer a handshake with a response of its own, else the standard refusal (403)."""
    message = "Too many WebSocket connections from this address; close one first."
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(error_response(429, message, None))
    else:
        await websocket.close(code=1008, reason=message)


def create_app(
    settings: Settings | None = None,
    *,
    services: Services | None = None,
    emulators: bool = False,
    migrate: bool = True,
) -> Starlette:
    settings = settings or Settings()
    emulator_routes: list[BaseRoute] = []
    if emulators:
        from emulators.mount import emulator_mounts

        settings = settings.with_emulators(settings.public_url.rstrip("/"))
        emulator_routes = emulator_mounts()
    services = services or Services.create(settings)
    services.jobs.register(KINDS)
    graphql_app = GraphQLApp(services)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if migrate:
            await upgrade(services.engine)
        await services.start()
        poller = Poller(services)
        if services.settings.run_workers:
            services.jobs.start()  # jobs left by a crash or restart are claimed again once their lease ends
            poller.start()
        try:
            yield
        finally:
            await poller.stop()
            await services.stop()

    from meetgraph import web

    routes: list[BaseRoute] = [
        Route("/graphql", graphql_app),  # the view answers other methods with a JSON 405
        WebSocketRoute("/graphql", graphql_app),
        *health.routes(services),
        *web.routes(services),
        *webhooks.routes(services),
        *emulator_routes,
    ]
    middleware = [Middleware(BodyLimit, max_bytes=services.settings.max_body_bytes)]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.services = services
    return app
