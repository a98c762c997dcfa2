"""Plain HTTP routes beside GraphQL: the OAuth start page and callbacks, the connect outcome page, per-domain robots.txt."""

from __future__ import annotations

import html
from urllib.parse import urlsplit

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
        """303 to the next step, with the flow's cookie: HttpOnly, Lax (it must come back on the provider's
        top-level redirect to the callback), Secure on https, scoped to /oauth/, alive as long as the state."""
        response = RedirectResponse(outcome.location, status_code=303)
        public = urlsplit(services.settings.public_url)
        path, secure = f"{public.path.rstrip('/')}/oauth/", public.scheme == "https"
        if outcome.set_cookie:
            name, value = outcome.set_cookie
            max_age = services.settings.oauth_state_ttl_seconds
            response.set_cookie(name, value, max_age=max_age, path=path, secure=secure, httponly=True, samesite="lax")
        if outcome.clear_cookie:
            response.delete_cookie(outcome.clear_cookie, path=path, secure=secure, httponly=True, samesite="lax")
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
