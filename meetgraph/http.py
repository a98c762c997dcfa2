"""GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/) on top of Strawberry's ASGI view.

What Strawberry leaves to us: the `application/graphql-response+json` media type and its status codes
(400 when the operation did not execute), 405 for a mutation sent with GET, 406 when the client accepts
no JSON, JSON error bodies instead of text/plain, and a request body size limit for the whole app.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any, Generic

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError, OperationDefinitionNode, parse
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.http.parse_content_type import parse_content_type
from strawberry.http.typevars import Context, RootValue
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from schema.error_codes import Code

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
ACCEPTED = (GRAPHQL_RESPONSE_JSON, JSON)

CODES = {
    400: Code.BAD_REQUEST,
    405: Code.METHOD_NOT_ALLOWED,
    406: Code.NOT_ACCEPTABLE,
    413: Code.PAYLOAD_TOO_LARGE,
    415: Code.UNSUPPORTED_MEDIA_TYPE,
}
"""`extensions.code` of the errors answered before GraphQL ran, by HTTP status (one list of codes: schema.error_codes)."""


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    """The media ranges of an Accept header with their quality; ranges with a malformed q are dropped."""
    ranges = []
    for part in accept.split(","):
        media_range, *params = (piece.strip() for piece in part.split(";"))
        if "/" not in media_range:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = -1.0
        if 0.0 <= quality <= 1.0:
            ranges.append((media_range.lower(), quality))
    return ranges


def _quality(media_type: str, ranges: list[tuple[str, float]]) -> tuple[float, int]:
    """The quality the most specific matching range gives (RFC 9110 §12.5.1), and that range's specificity."""
    kind = media_type.split("/")[0]
    best: tuple[float, int] = (0.0, -1)
    for media_range, quality in ranges:
        specificity = {media_type: 2, f"{kind}/*": 1, "*/*": 0}.get(media_range, -1)
        if specificity > best[1]:
            best = (quality, specificity)
    return best


def negotiate(accept: str | None) -> str | None:
    """The response media type for an Accept header, None when it accepts neither JSON type (406).

    No Accept header means application/json (the spec's legacy default, what graphql-http's audit checks).
    Among equally good types an exact `application/graphql-response+json` wins; wildcards alone
    (`*/*`, `application/*`) get application/json, which every client reads.
    """
    if accept is None or not accept.strip():
        return JSON
    ranges = _media_ranges(accept)
    offers = {media_type: _quality(media_type, ranges) for media_type in ACCEPTED}
    acceptable = {media_type: rank for media_type, rank in offers.items() if rank[0] > 0}
    if not acceptable:
        return None
    best = max(acceptable.values())
    if acceptable.get(GRAPHQL_RESPONSE_JSON) == best and best[1] == 2:
        return GRAPHQL_RESPONSE_JSON
    return JSON if acceptable.get(JSON) == best else GRAPHQL_RESPONSE_JSON


def content_type(media_type: str) -> str:
    return f"{media_type}; charset=utf-8"


def error_response(
    status: int,
    message: str,
    accept: str | None,
    *,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A GraphQL-shaped error `{"errors": [{"message", "extensions": {"code"}}]}` in the media type the client accepts."""
    body = {"errors": [{"message": message, "extensions": {"code": CODES.get(status, Code.BAD_REQUEST)}}]}
    media_type = negotiate(accept) or JSON
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        headers=dict(headers or {}),
        media_type=content_type(media_type),
    )


class RequestError(HTTPException):
    """An HTTP-level refusal, answered as a JSON error with its own headers (e.g. `Allow`)."""

    def __init__(self, status_code: int, reason: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status_code, reason)
        self.headers = dict(headers or {})


def did_not_execute(result: ExecutionResult) -> bool:
    """A request error (parse, validation, variable coercion, unknown operation): no data, no error has a path.

    Field errors always carry the path of their field, even when they null the whole `data`.
    """
    errors = result.errors or []
    return result.data is None and bool(errors) and all(error.path is None for error in errors)


def request_error_status(response: GraphQLHTTPResponse) -> int:
    """For a request error in application/graphql-response+json: 400, or 500 when it was our own failure."""
    codes = {
        error.get("extensions", {}).get("code") for error in response.get("errors") or () if isinstance(error, dict)
    }
    return 500 if Code.INTERNAL_SERVER_ERROR in codes else 400


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: bodies over `max_bytes` get 413 before they are read whole.

    A declared Content-Length over the limit is refused before any of the body is read; a chunked body is
    counted as it streams and refused at the first chunk over the limit. The connection stays open:
    uvicorn drops the rest of the body as it arrives (nothing is buffered), and the client gets the 413
    instead of a connection reset (closing with unread data makes the kernel reset the connection,
    and clients such as httpx then lose the answer).
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(headers)(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(headers)(scope, receive, send)

    def _refuse(self, headers: Headers) -> Response:
        message = f"The request body is larger than {self.max_bytes} bytes."
        return error_response(413, message, headers.get("accept"))


@functools.lru_cache(maxsize=512)
def operation_count(query: str, max_tokens: int | None) -> int:
    """How many operations the document defines; a document that does not parse counts as one (the schema's
    own parse then reports it, with its code)."""
    try:
        document = parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return 1
    return sum(isinstance(definition, OperationDefinitionNode) for definition in document.definitions)


class GraphQLOverHTTP(GraphQL[Context, RootValue], Generic[Context, RootValue]):
    """Strawberry's ASGI view with the GraphQL-over-HTTP media types, status codes and JSON errors."""

    max_tokens: int | None = None
    """The schema's token limit, also applied when the view reads a document itself (operation_count)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive=receive)
        accept = request.headers.get("accept")
        try:
            if negotiate(accept) is None and not self.should_render_graphql_ide(self.request_adapter_class(request)):
                raise RequestError(406, f"Accept {GRAPHQL_RESPONSE_JSON} or {JSON}.")
            response = await self.run(request)
        except RequestError as error:
            response = error_response(error.status_code, error.reason, accept, headers=error.headers)
        except HTTPException as error:
            headers = {"allow": "GET, POST"} if error.status_code == 405 else {}
            response = error_response(error.status_code, error.reason, accept, headers=headers)
        await response(scope, receive, send)

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        """GraphiQL only when it is on; otherwise a browser's GET is an ordinary (queryless) request."""
        return self.graphql_ide is not None and super().should_render_graphql_ide(request)

    async def get_sub_response(self, request: Request) -> Response:  # type: ignore[override]
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = negotiate(request.headers.get("accept")) or JSON
        return sub_response

    def parse_json(self, data: str | bytes) -> Any:
        try:
            return super().parse_json(data)
        except UnicodeDecodeError as error:
            raise RequestError(400, "The request body is not UTF-8 encoded JSON.") from error

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[GraphQLRequestData]:
        if request.method == "POST":
            media_type, _ = parse_content_type(request.content_type or "")
            if media_type != JSON and not (self.multipart_uploads_enabled and media_type == "multipart/form-data"):
                raise RequestError(415, f"Send the request with Content-Type: {JSON}.")
        try:
            data = await super().parse_http_body(request)
        except AttributeError as error:  # Strawberry calls .get() on the parsed body: it was no JSON object
            raise RequestError(400, "The request body must be a JSON object.") from error
        for item in data if isinstance(data, list) else [data]:
            if request.method == "GET" and item.operation_name == "":
                item.operation_name = None  # the spec: an empty operationName is no operationName
            if not isinstance(item.operation_name, str | None):
                raise RequestError(400, "The GraphQL operation's `operationName` must be a string or null.")
        return data

    async def execute_single(  # noqa: PLR0917
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: RootValue | None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        if request_data.operation_name is None and operation_count(request_data.query or "", self.max_tokens) > 1:
            # the GraphQL spec's GetOperation: several operations and no name is a request error (Strawberry
            # would run the first one)
            return _operation_resolution_failure("The document has several operations: name one with `operationName`.")
        try:
            return await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        except HTTPException as error:
            cause = error.__cause__
            if isinstance(cause, InvalidOperationTypeError) and cause.operation_type == OperationType.MUTATION:
                raise RequestError(
                    405, "Mutations cannot be sent with GET: use POST.", headers={"allow": "POST"}
                ) from error
            if isinstance(cause, CannotGetOperationTypeError):
                message = (
                    f'The document has no operation named "{cause.operation_name}".'
                    if cause.operation_name
                    else "The document has several operations (or none): name one with `operationName`."
                )
                return _operation_resolution_failure(message)
            raise

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        if did_not_execute(result):
            response.pop("data", None)  # GraphQL spec: no `data` entry when the request failed before execution
        return response

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        media_type = sub_response.media_type or JSON
        response.headers["content-type"] = content_type(media_type)
        if media_type == GRAPHQL_RESPONSE_JSON and isinstance(response_data, dict) and "data" not in response_data:
            response.status_code = sub_response.status_code or request_error_status(response_data)
        return response


def _operation_resolution_failure(message: str) -> ExecutionResult:
    return ExecutionResult(
        data=None, errors=[GraphQLError(message, extensions={"code": Code.OPERATION_RESOLUTION_FAILURE})]
    )
