"""Plain HTTP routes beside GraphQL: OAuth callbacks, the connect outcome page, per-domain robots.txt."""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from meetgraph.services import Services
from resolvers import connect_oauth, domains


def routes(services: Services) -> list[BaseRoute]:
    async def robots(request: Request) -> Response:
        body = await domains.robots_txt(services, request.headers.get("host", ""))
        return PlainTextResponse(body)

    async def oauth_callback(request: Request) -> Response:
        target = await connect_oauth.finish_oauth(services, request.path_params["provider"], dict(request.query_params))
        return RedirectResponse(target, status_code=303)

    async def connect_outcome(request: Request) -> Response:
        """The default DASHBOARD_URL: says how connecting went (a real CRM dashboard replaces it)."""
        params = request.query_params
        if "connected" in params:
            text = f"Your {params.get('provider', '')} calendar is connected. You can close this tab."
        else:
            text = f"Connecting failed: {params.get('error', 'unknown error')}. {params.get('message', '')}"
        return HTMLResponse(f"<!doctype html><title>meetgraph</title><p>{html.escape(text)}</p>")

    return [
        Route("/robots.txt", robots),
        Route("/oauth/callback/{provider}", oauth_callback),
        Route("/oauth/done", connect_outcome),
    ]
