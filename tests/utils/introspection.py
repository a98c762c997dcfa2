"""The schema as GraphiQL, codegen and Apollo see it: introspected over HTTP from the running app."""

from __future__ import annotations

from graphql import GraphQLSchema, build_client_schema, get_introspection_query

from tests.utils.graphql import GraphQLClient

INTROSPECTION = get_introspection_query(descriptions=True, specified_by_url=True)


async def served_schema(gql: GraphQLClient) -> GraphQLSchema:
    return build_client_schema(await gql(INTROSPECTION))  # type: ignore[arg-type]
