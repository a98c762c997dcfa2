"""Plain HTTP routes beside GraphQL: OAuth callbacks and per-domain robots.txt."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from meetgraph.services import Services
from resolvers import domains


def routes(services: Services) -> list[BaseRoute]:
    async def robots(request: Request) -> Response:
        body = await domains.robots_txt(services, request.headers.get("host", ""))
        return PlainTextResponse(body)

    return [Route("/robots.txt", robots)]
