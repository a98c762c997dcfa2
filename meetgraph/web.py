"""Plain HTTP routes beside GraphQL: the OAuth start page and callbacks, the connect outcome page, per-domain robots.txt."""

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

    async def oauth_start(request: Request) -> Response:
        return _redirect(await connect_oauth.open_oauth(services, request.path_params["nonce"], request.cookies))

    async def oauth_callback(request: Request) -> Response:
        outcome = await connect_oauth.finish_oauth(
            services, request.path_params["provider"], dict(request.query_params), request.cookies
        )
        return _redirect(outcome)

    def _redirect(outcome: connect_oauth.BrowserRedirect) -> Response:
        """303 to the next step, setting or clearing the flow's cookie."""
        response = RedirectResponse(outcome.location, status_code=303)
        if outcome.set_cookie:
            connect_oauth.set_flow_cookie(services, response, *outcome.set_cookie)
        if outcome.clear_cookie:
            connect_oauth.clear_flow_cookie(services, response, outcome.clear_cookie)
        return response

    async def connect_outcome(request: Request) -> Response:
        """The default DASHBOARD_URL: says how connecting went (a real CRM dashboard replaces it)."""
        params = request.query_params
        if "connected" in params:
            text = f"Your {params.get('provider', '')} calendar is connected. You can close this tab."
        elif params.get("error") == connect_oauth.WRONG_BROWSER:
            text = "This connection was started in another browser: start connecting again from this one."
        else:
            text = f"Connecting failed: {params.get('error', 'unknown error')}. {params.get('message', '')}"
        return HTMLResponse(f"<!doctype html><title>meetgraph</title><p>{html.escape(text)}</p>")

    return [
        Route("/robots.txt", robots),
        Route("/oauth/start/{nonce}", oauth_start),
        Route("/oauth/callback/{provider}", oauth_callback),
        Route("/oauth/done", connect_outcome),
    ]
