"""Exchange emulator: EWS SOAP (POST /EWS/Exchange.asmx) and SOAP autodiscover (POST /autodiscover/autodiscover.svc).

IIS's NTLM and/or Basic auth against EmulatedAccount email (or its local part) and password, with Active
Directory's lockout (emulators/exchange_auth.py). Faults follow the shared semantics: latency, then auth (401, also
when revoked), then scripted failures (429 as Exchange throttles: HTTP 500 with an ErrorServerBusy SOAP fault and
BackOffMilliseconds; 503 with Retry-After; 500 as an ErrorInternalServerError SOAP fault).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulators.exchange_auth import ExchangeAuth
from emulators.exchange_ews import OPERATIONS, EwsContext, EwsTraffic, SyncBook
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


SERVER_BUSY = "The server cannot service this request right now. Try again later."


def _scripted_failure(code: int, retry_after: int) -> Response:
    """500: ErrorInternalServerError; 429 as Exchange throttles: HTTP 500 with an ErrorServerBusy fault whose
    BackOffMilliseconds says when to come back; others (503 from a load balancer) as plain pages with Retry-After."""
    if code == 500:
        return Response(
            fault_xml(SoapFault("ErrorInternalServerError", "An internal server error occurred.")),
            status_code=500,
            media_type=XML,
        )
    if code == 429:
        busy = SoapFault("ErrorServerBusy", SERVER_BUSY, retry_after * 1000)
        return Response(fault_xml(busy), status_code=500, media_type=XML)
    headers = {"Retry-After": str(retry_after)} if code == 503 else {}
    return Response("Service Unavailable", status_code=code, media_type="text/html", headers=headers)


async def _guard(state: EmulatorState, auth: ExchangeAuth, request: Request) -> EmulatedAccount | Response:
    """Latency, auth and scripted failures, in that order; the account or the response to send instead."""
    await state.faults.delay()
    account = auth.authenticate(request)
    if isinstance(account, Response):
        return account
    code = state.faults.take_failure()
    if code:
        return _scripted_failure(code, state.faults.retry_after_seconds)
    return account


def _ews_endpoint(
    state: EmulatorState,
    auth: ExchangeAuth,
    version: ServerVersion,
    traffic: EwsTraffic,
    calls: Counter[str],
    sync: SyncBook,
) -> Endpoint:
    async def ews(request: Request) -> Response:
        guarded = await _guard(state, auth, request)
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
            context = EwsContext(state, guarded, traffic, sync)
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


def _autodiscover_endpoint(
    state: EmulatorState, auth: ExchangeAuth, version: ServerVersion, calls: Counter[str]
) -> Endpoint:
    async def autodiscover(request: Request) -> Response:
        calls["autodiscover"] += 1
        guarded = await _guard(state, auth, request)
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


def create_exchange_emulator(
    state: EmulatorState, *, server_version: str = "Exchange2016", auth: tuple[str, ...] = ("NTLM",)
) -> Starlette:
    """An Exchange server over `state`. `server_version` names a release in SERVER_VERSIONS ("Exchange2010_SP2" ...
    "Exchange2019", "ExchangeOnline"); `auth` the schemes IIS accepts: ("NTLM",) as on-prem Exchange by default,
    ("Basic",), or both.

    `app.state.calls` counts requests per EWS operation (e.g. "FindItem") and "autodiscover";
    `app.state.traffic` (an EwsTraffic) keeps the operations in order and every CalendarView window.
    """
    version = SERVER_VERSIONS[server_version]
    authenticator = ExchangeAuth(state, auth, REALM)
    traffic = EwsTraffic()
    calls: Counter[str] = Counter()
    ews = _ews_endpoint(state, authenticator, version, traffic, calls, SyncBook(state))
    autodiscover = _autodiscover_endpoint(state, authenticator, version, calls)
    app = Starlette(
        routes=[
            Route("/EWS/Exchange.asmx", ews, methods=["POST"]),
            Route("/autodiscover/autodiscover.svc", autodiscover, methods=["POST"]),
        ]
    )
    app.state.calls = calls
    app.state.traffic = traffic
    return app
