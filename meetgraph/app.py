"""The Starlette application: /graphql (HTTP + graphql-transport-ws), /healthz, /readyz, OAuth callbacks, the
providers' change notifications (/webhooks/*), robots.txt."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError

from db.migrate import upgrade
from meetgraph import health, webhooks
from meetgraph.context import Context
from meetgraph.http import BodyLimit, GraphQLOverHTTP
from meetgraph.services import Services
from meetgraph.settings import Settings
from meetgraph.sync import Poller
from resolvers.job_kinds import KINDS
from schema import build_schema
from schema.error_codes import CodedTransportWSHandler


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

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:  # type: ignore[override]
        context = Context(services=self.services, request=request, response=response)
        await context.authenticate(request.headers.get("authorization"))
        return context

    async def on_ws_connect(self, context: Context) -> None:  # type: ignore[override]
        params = context.connection_params or {}
        authorization = params.get("authorization") or params.get("Authorization")
        if isinstance(authorization, str):
            await context.authenticate(authorization)
        if context.user is None:
            raise ConnectionRejectionError({"message": 'send {"authorization": "Bearer <token>"}'})


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
