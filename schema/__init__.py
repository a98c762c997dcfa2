"""The GraphQL schema: thin Strawberry declarations over resolvers/, one module per domain.

The roots merge the domains' Query / Mutation / Subscription classes by inheritance; the bases' order
is the order of the root fields in the exported SDL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import strawberry
from graphql import GraphQLError
from graphql.validation import ASTValidationRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule

from meetgraph.settings import Settings
from schema.booking import BookingMutation, BookingSubscription
from schema.connections import ConnectionsMutation
from schema.domains import DomainsMutation
from schema.meetings import MeetingsMutation
from schema.pages import PagesMutation, PagesQuery
from schema.settings import SettingsMutation
from schema.tasks import TasksMutation
from schema.users import UsersMutation, UsersQuery

DOCUMENT_CACHE_SIZE = 512


@strawberry.type
class Query(UsersQuery, PagesQuery):
    pass


@strawberry.type
class Mutation(
    UsersMutation,
    ConnectionsMutation,
    SettingsMutation,
    PagesMutation,
    DomainsMutation,
    BookingMutation,
    MeetingsMutation,
    TasksMutation,
):
    pass


@strawberry.type
class Subscription(BookingSubscription):
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


def should_mask(error: GraphQLError) -> bool:
    """Hide unexpected exceptions; our own GraphQLErrors and validation errors pass through."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    # Strawberry builds every extension anew per operation from these classes and factories: an
    # extension instance keeps its operation's execution context, so a shared one masks the wrong result.
    # The rule classes hold no request state and are built once, so ValidationCache keys repeat.
    limits: list[type[ASTValidationRule]] = [
        depth_rule(settings.max_query_depth, None),
        aliases_rule(settings.max_aliases),
    ]
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            lambda: AddValidationRules(limits),
            lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
            lambda: MaskErrors(should_mask_error=should_mask),
            # frontends send the same documents again and again: parse and validate each once; the LRU
            # caches live in strawberry's modules, shared by every request (keyed by maxsize)
            lambda: ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
            lambda: ValidationCache(maxsize=DOCUMENT_CACHE_SIZE),
            CloseSession,
        ],
    )
