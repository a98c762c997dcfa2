"""The GraphQL schema: thin Strawberry declarations over resolvers/, one module per domain.

The roots merge the domains' Query / Mutation / Subscription classes by inheritance; the bases' order
is the order of the root fields in the exported SDL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import strawberry
from graphql import GraphQLError
from graphql.validation import ASTValidationRule
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.types import ExecutionContext

from meetgraph.settings import Settings
from schema.api_tokens import ApiTokensMutation
from schema.base import SCALAR_OVERRIDES
from schema.booking import BookingMutation, BookingSubscription
from schema.connections import ConnectionsMutation
from schema.domains import DomainsMutation
from schema.error_codes import (
    IntrospectionForSignedIn,
    ParseThenReport,
    ValidationCode,
    ValidationPhase,
    naming,
    process,
)
from schema.meetings import MeetingsMutation
from schema.pages import PagesMutation, PagesQuery, PagesSubscription
from schema.settings import SettingsMutation
from schema.shared_calendars import SharedCalendarsMutation
from schema.tasks import TasksMutation
from schema.users import UsersMutation, UsersQuery

DOCUMENT_CACHE_SIZE = 512


@strawberry.type(description="Reads: the caller (`me`) and public scheduling pages.")
class Query(UsersQuery, PagesQuery):
    pass


@strawberry.type(
    description="Changes. Each answers a result union: its success type or a typed error implementing Error."
)
class Mutation(
    UsersMutation,
    ApiTokensMutation,
    ConnectionsMutation,
    SharedCalendarsMutation,
    SettingsMutation,
    PagesMutation,
    DomainsMutation,
    BookingMutation,
    MeetingsMutation,
    TasksMutation,
):
    pass


@strawberry.type(description="Live events over WebSocket (graphql-transport-ws at /graphql).")
class Subscription(BookingSubscription, PagesSubscription):
    pass


class CloseSession(SchemaExtension):
    """Each operation runs with its own context state (Context.for_operation: one WebSocket connection
    carries many operations) and its database session is closed when it ends (Context.close never raises)."""

    async def on_operation(self) -> AsyncIterator[None]:  # type: ignore[override]
        context = self.execution_context.context
        if hasattr(context, "for_operation"):
            context = self.execution_context.context = await context.for_operation()
        yield
        if hasattr(context, "close"):
            await context.close()


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Every result's errors pass here once before they are sent: each gets its `extensions.code`,
        unexpected ones are masked; client mistakes log one INFO line, unexpected errors their traceback
        (strawberry's default logs every error at ERROR with a traceback)."""
        process(errors, execution_context.operation_name if execution_context else None)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    # Strawberry builds every extension anew per operation from these classes and factories: an
    # extension instance keeps its operation's execution context, so a shared one codes the wrong result.
    # The rule classes hold no request state and are built once, so ValidationCache keys repeat.
    limits: list[type[ASTValidationRule]] = [
        naming(depth_rule(settings.max_query_depth, None), ValidationCode.MAX_DEPTH_EXCEEDED),
        naming(aliases_rule(settings.max_aliases), ValidationCode.MAX_ALIASES_EXCEEDED),
    ]
    introspection: list[Callable[[], SchemaExtension]] = [] if settings.graphiql else [IntrospectionForSignedIn]
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        scalar_overrides=SCALAR_OVERRIDES,
        extensions=[
            lambda: AddValidationRules(limits),
            *introspection,
            lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
            ValidationPhase,
            # frontends send the same documents again and again: parse and validate each once; the LRU
            # caches live in strawberry's modules, shared by every request (keyed by maxsize)
            lambda: ParseThenReport(maxsize=DOCUMENT_CACHE_SIZE),
            lambda: ValidationCache(maxsize=DOCUMENT_CACHE_SIZE),
            CloseSession,
        ],
    )
