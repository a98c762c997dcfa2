"""Exchange emulator: EWS SOAP (POST /EWS/Exchange.asmx) and SOAP autodiscover (POST /autodiscover/autodiscover.svc).

HTTP Basic auth against EmulatedAccount email (or its local part) and password. Faults follow the shared
semantics: latency, then auth (401 with a Basic challenge, also when revoked), then scripted failures
(429 / 503 with Retry-After, 500 as an ErrorInternalServerError SOAP fault).
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulators.exchange_ews import OPERATIONS, EwsContext, EwsTraffic
from emulators.exchange_wire import (
    A_NS,
    SERVER_VERSIONS,
    XML,
    MessageError,
    ServerVersion,
    SoapFault,
    autodiscover_response,
    autodiscover_user_response,
    envelope,
    fault_xml,
    parse_envelope,
    requested_version,
)
from emulators.lost_answer import deliver
from emulators.state import EmulatedAccount, EmulatorState

Endpoint = Callable[[Request], Awaitable[Response]]

REALM = "exchange.test"


def _unauthorized() -> Response:
    return Response(
        "401 - Unauthorized: Access is denied due to invalid credentials.",
        status_code=401,
        media_type="text/html",
        headers={"WWW-Authenticate": f'Basic realm="{REALM}"'},
    )


def _authenticate(state: EmulatorState, request: Request) -> EmulatedAccount | None:
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or state.faults.revoked:
        return None
    try:
        username, _, password = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    login = username.split("\\")[-1].lower()
    for account in state.accounts.values():
        if login in (account.email.lower(), account.email.split("@")[0].lower()):
            return account if password == account.password else None
    return None


def _scripted_failure(code: int, retry_after: int) -> Response:
    if code == 500:
        return Response(
            fault_xml(SoapFault("ErrorInternalServerError", "An internal server error occurred.")),
            status_code=500,
            media_type=XML,
        )
    headers = {"Retry-After": str(retry_after)} if code in (429, 503) else {}
    if code == 429:
        busy = SoapFault("ErrorServerBusy", "The server cannot service this request right now.", retry_after * 1000)
        return Response(fault_xml(busy), status_code=429, media_type=XML, headers=headers)
    return Response("Service Unavailable", status_code=code, media_type="text/html", headers=headers)


async def _guard(state: EmulatorState, request: Request) -> EmulatedAccount | Response:
    """Latency, auth and scripted failures, in that order; the account or the response to send instead."""
    await state.faults.delay()
    account = _authenticate(state, request)
    if account is None:
        return _unauthorized()
    code = state.faults.take_failure()
    if code:
        return _scripted_failure(code, state.faults.retry_after_seconds)
    return account


def _ews_endpoint(state: EmulatorState, version: ServerVersion, traffic: EwsTraffic, calls: Counter[str]) -> Endpoint:
    async def ews(request: Request) -> Response:
        guarded = await _guard(state, request)
        if isinstance(guarded, Response):
            return guarded
        try:
            header, operation = parse_envelope(await request.body())
            if not version.accepts(requested_version(header)):
                raise SoapFault("ErrorInvalidServerVersion", "The specified server version is invalid.")
            name = operation.tag.rsplit("}", 1)[-1]
            traffic.operations.append(name)
            calls[name] += 1
            handler = OPERATIONS.get(name)
            if handler is None:
                raise SoapFault("ErrorInvalidRequest", f"The request is invalid: unknown operation {name}.")
            if name == "CreateItem":
                await state.faults.hold_create()
            context = EwsContext(state, guarded, traffic)
            with state.lock:
                body = handler(context, operation)
        except SoapFault as fault:
            return Response(fault_xml(fault), status_code=500, media_type=XML)
        except MessageError as error:
            return Response(fault_xml(SoapFault(error.code, error.message)), status_code=500, media_type=XML)
        answer = Response(envelope(body, version), media_type=XML)
        if not context.created_events:
            return answer
        return await deliver(state, answer, lambda: _scripted_failure(503, state.faults.retry_after_seconds))

    return ews


def _autodiscover_endpoint(state: EmulatorState, version: ServerVersion, calls: Counter[str]) -> Endpoint:
    async def autodiscover(request: Request) -> Response:
        calls["autodiscover"] += 1
        guarded = await _guard(state, request)
        if isinstance(guarded, Response):
            return guarded
        try:
            _, operation = parse_envelope(await request.body())
        except SoapFault as fault:
            return Response(fault_xml(fault), status_code=500, media_type=XML)
        if operation.tag != f"{{{A_NS}}}GetUserSettingsRequestMessage":
            return Response(fault_xml(SoapFault("ErrorInvalidRequest", "Unsupported operation.")), 500, media_type=XML)
        # from the request's own URL, so the answer stays right when the emulator is mounted under a prefix
        own_url = str(request.url.replace(query=None))
        ews_url = own_url.removesuffix("/autodiscover/autodiscover.svc") + "/EWS/Exchange.asmx"
        users = [(mailbox.text or "").strip() for mailbox in operation.iter(f"{{{A_NS}}}Mailbox")]
        responses = "".join(autodiscover_user_response(u, state.account(u), ews_url, version) for u in users)
        return Response(autodiscover_response(responses, version), media_type=XML)

    return autodiscover


def create_exchange_emulator(state: EmulatorState, *, server_version: str = "Exchange2016") -> Starlette:
    """An Exchange server over `state`; `server_version` is an API version name such as "Exchange2010_SP2".

    `app.state.calls` counts requests per EWS operation (e.g. "FindItem") and "autodiscover";
    `app.state.traffic` (an EwsTraffic) keeps the operations in order and every CalendarView window.
    """
    version = SERVER_VERSIONS[server_version]
    traffic = EwsTraffic()
    calls: Counter[str] = Counter()
    app = Starlette(
        routes=[
            Route("/EWS/Exchange.asmx", _ews_endpoint(state, version, traffic, calls), methods=["POST"]),
            Route("/autodiscover/autodiscover.svc", _autodiscover_endpoint(state, version, calls), methods=["POST"]),
        ]
    )
    app.state.calls = calls
    app.state.traffic = traffic
    return app
