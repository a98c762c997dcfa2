"""`extensions.code` on every top-level GraphQL error, one log line per client mistake, masked internals.

The codes are Apollo Server's (`ApolloServerErrorCode`), so off-the-shelf clients and gateways recognise
them. Refusals by the server's own limits and the introspection switch are validation failures, as Apollo
reports its own (`GRAPHQL_VALIDATION_FAILED`), and name the rule in `extensions.validationErrorCode`.

Where each code comes from:
- syntax errors are GraphQLSyntaxErrors; validation errors are tagged by `ValidationPhase`, the one place
  that knows an error came from validation;
- errors raised while executing carry their code (`NotAuthenticated`, `BadWindow`, ...) or are classified
  by `code_of`: a variable that failed coercion is the client's (`BAD_USER_INPUT`), anything else without
  a code is unexpected (`INTERNAL_SERVER_ERROR`) and is masked.
`process` applies them, over HTTP and WebSockets alike, from `Schema.process_errors`, which strawberry calls
once for every result's errors before sending them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError
from graphql.language import FieldNode
from graphql.validation import ASTValidationRule, ValidationContext, ValidationRule
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message

log = logging.getLogger("meetgraph.graphql")

MASKED_MESSAGE = "Unexpected error."


class Code(StrEnum):
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    OPERATION_RESOLUTION_FAILURE = "OPERATION_RESOLUTION_FAILURE"
    BAD_REQUEST = "BAD_REQUEST"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


class ValidationCode(StrEnum):
    """`extensions.validationErrorCode` beside GRAPHQL_VALIDATION_FAILED: which of the server's rules refused."""

    INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"
    MAX_DEPTH_EXCEEDED = "MAX_DEPTH_EXCEEDED"
    MAX_ALIASES_EXCEEDED = "MAX_ALIASES_EXCEEDED"
    MAX_TOKENS_EXCEEDED = "MAX_TOKENS_EXCEEDED"


CLIENT_CODES = frozenset(
    {
        Code.GRAPHQL_PARSE_FAILED,
        Code.GRAPHQL_VALIDATION_FAILED,
        Code.BAD_USER_INPUT,
        Code.UNAUTHENTICATED,
        Code.FORBIDDEN,
        Code.OPERATION_RESOLUTION_FAILURE,
        Code.BAD_REQUEST,
    }
)
"""The caller's mistakes: logged at INFO on one line; every other code is the server's or a provider's."""

TOKEN_LIMIT_PREFIX = "Document contains more than"
"""graphql-core reports its `max_tokens` parse option as a syntax error starting so."""


def _tag(error: GraphQLError, code: str, **more: str) -> None:
    """Set the code unless the error has one (cached documents keep their errors: tagging twice is a no-op)."""
    extensions = dict(error.extensions or {})
    extensions.setdefault("code", code)
    for key, value in more.items():
        extensions.setdefault(key, value)
    error.extensions = extensions


def code_of(error: GraphQLError) -> str:
    """The error's code, classifying errors raised while executing that came without one."""
    code = (error.extensions or {}).get("code")
    if isinstance(code, str):
        return code
    if isinstance(error, GraphQLSyntaxError):
        if error.message.startswith(f"Syntax Error: {TOKEN_LIMIT_PREFIX}"):
            _tag(error, Code.GRAPHQL_VALIDATION_FAILED, validationErrorCode=ValidationCode.MAX_TOKENS_EXCEEDED)
            return Code.GRAPHQL_VALIDATION_FAILED
        return Code.GRAPHQL_PARSE_FAILED
    original = error.original_error
    if isinstance(original, CannotGetOperationTypeError):
        return Code.OPERATION_RESOLUTION_FAILURE
    if isinstance(original, InvalidOperationTypeError | MissingQueryError):
        return Code.BAD_REQUEST
    if error.path is None and error.nodes:
        # before any field runs, graphql-core coerces the variables: its errors point at the variable's
        # definition (a field's errors have a path; a failure in the machinery has neither)
        return Code.BAD_USER_INPUT
    return Code.INTERNAL_SERVER_ERROR


def log_error(error: GraphQLError, operation: str | None) -> None:
    """Client mistakes: one INFO line. Unexpected errors: ERROR with the traceback of their cause."""
    code = code_of(error)
    where = f" at {'.'.join(map(str, error.path))}" if error.path else ""
    name = f" in {operation}" if operation else ""
    if code == Code.INTERNAL_SERVER_ERROR:
        log.error("unexpected error%s%s: %s", name, where, error.message, exc_info=error.original_error)
    elif code in CLIENT_CODES:
        log.info("%s%s%s: %s", code, name, where, _one_line(error.message))
    else:
        log.warning("%s%s%s: %s", code, name, where, _one_line(error.message))


def _one_line(message: str) -> str:
    """A client's text may hold line breaks: escaped, so one mistake stays one line (and forges none)."""
    return message.replace("\r", "\\r").replace("\n", "\\n")


def present(error: GraphQLError) -> None:
    """Give the error its code; an unexpected one also loses its message (and whatever extensions it had).

    In place: strawberry hands `Schema.process_errors` the very errors of the result it then sends.
    """
    code = code_of(error)
    if code == Code.INTERNAL_SERVER_ERROR:
        error.message = MASKED_MESSAGE
        error.extensions = {"code": code}
    else:
        _tag(error, code)


def process(errors: list[GraphQLError], operation: str | None) -> None:
    """Log, then code and mask, each error of a result: `Schema.process_errors` sees every error once."""
    for error in errors:
        log_error(error, operation)
        present(error)


class _Reporting:
    """A validation context whose reported errors name the rule that found them (the rest is delegated)."""

    def __init__(self, context: ValidationContext, validation_code: ValidationCode) -> None:
        self._context = context
        self._validation_code = validation_code

    def report_error(self, error: GraphQLError) -> None:
        _tag(error, Code.GRAPHQL_VALIDATION_FAILED, validationErrorCode=self._validation_code)
        self._context.report_error(error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def naming(rule: type[ASTValidationRule], validation_code: ValidationCode) -> type[ASTValidationRule]:
    """`rule` (e.g. strawberry's depth limiter) whose errors carry `validationErrorCode`."""

    class Named(rule):  # type: ignore[valid-type, misc]
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(_Reporting(context, validation_code))

    Named.__name__ = f"{rule.__name__}{validation_code.title().replace('_', '')}"
    return Named


class NoIntrospection(ValidationRule):
    """Refuses `__schema` and `__type` (`__typename` stays: clients need it to read unions)."""

    def enter_field(self, node: FieldNode, *_: object) -> None:
        if node.name.value in ("__schema", "__type"):
            self.report_error(
                GraphQLError(
                    "Introspection is off for anonymous callers: send `Authorization: Bearer <token>`.",
                    node,
                    extensions={
                        "code": Code.GRAPHQL_VALIDATION_FAILED,
                        "validationErrorCode": ValidationCode.INTROSPECTION_DISABLED,
                    },
                )
            )


class IntrospectionForSignedIn(SchemaExtension):
    """With GraphiQL off, anonymous callers may not introspect; users and the admin still can (codegen).

    The rule joins the operation's validation rules, so the validation cache keeps anonymous and
    signed-in answers apart (its key includes the rules).
    """

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if getattr(context, "user", None) is None and not getattr(context, "is_admin", False):
            self.execution_context.validation_rules = (*self.execution_context.validation_rules, NoIntrospection)
        yield


class ValidationPhase(SchemaExtension):
    """Marks validation errors as such, the one place that knows an error came from validation.

    Errors of the other phases tell what they are (`code_of`); these look like variable errors.
    """

    def on_validate(self) -> Iterator[None]:
        yield
        for error in self.execution_context.pre_execution_errors or ():
            _tag(error, Code.GRAPHQL_VALIDATION_FAILED)


class ParseThenReport(ParserCache):
    """strawberry's ParserCache parses before its hook yields, so a syntax error escapes the parsing step and
    skips the operation's extensions; here a failed parse leaves the document unset and strawberry parses
    it again in its own step, which reports the error as a parse failure (failures are not cached anyway)."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        try:
            context.graphql_document = self.cached_parse_document(context.query, **context.parse_options)
        except GraphQLError:
            context.graphql_document = None
        yield


class CodedTransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """graphql-transport-ws whose own refusals (the subscriptions-per-connection limit, incremental delivery)
    carry a code too: strawberry builds those errors in the transport, past `Schema.process_errors`."""

    async def send_message(self, message: Message) -> None:
        if message["type"] == "error":
            for error in message["payload"]:
                error.setdefault("extensions", {}).setdefault("code", Code.BAD_REQUEST)  # type: ignore[typeddict-item]
        await super().send_message(message)
