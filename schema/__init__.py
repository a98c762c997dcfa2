"""The GraphQL schema: thin Strawberry declarations over resolvers/, one module per domain.

The roots merge the domains' Query / Mutation / Subscription classes by inheritance; the bases' order
is the order of the root fields in the exported SDL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

from meetgraph.settings import Settings
from schema.booking import BookingMutation, BookingSubscription
from schema.connections import ConnectionsMutation
from schema.domains import DomainsMutation
from schema.meetings import MeetingsMutation
from schema.pages import PagesMutation, PagesQuery
from schema.settings import SettingsMutation
from schema.tasks import TasksMutation
from schema.users import UsersMutation, UsersQuery


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
    """Each operation's database session is closed when the operation ends."""

    async def on_operation(self) -> AsyncIterator[None]:  # type: ignore[override]
        yield
        context = self.execution_context.context
        if hasattr(context, "close"):
            await context.close()


def should_mask(error: GraphQLError) -> bool:
    """Hide unexpected exceptions; our own GraphQLErrors and validation errors pass through."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        # strawberry documents passing extension instances; its annotation lists classes and factories
        extensions=[
            QueryDepthLimiter(max_depth=settings.max_query_depth),  # type: ignore[list-item]
            MaxTokensLimiter(max_token_count=settings.max_query_tokens),  # type: ignore[list-item]
            MaxAliasesLimiter(max_alias_count=settings.max_aliases),  # type: ignore[list-item]
            MaskErrors(should_mask_error=should_mask),  # type: ignore[list-item]
            # frontends send the same documents again and again: parse and validate each once
            ParserCache(maxsize=512),  # type: ignore[list-item]
            ValidationCache(maxsize=512),  # type: ignore[list-item]
            CloseSession,
        ],
    )
