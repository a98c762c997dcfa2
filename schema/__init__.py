"""The GraphQL schema: thin Strawberry declarations over resolvers/."""

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
    from schema.mutation import Mutation
    from schema.query import Query
    from schema.subscription import Subscription

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
