"""Users: created through createUser with the admin token."""

from __future__ import annotations

from typing import Any

from tests.utils.graphql import GraphQLClient

ADMIN_TOKEN = "test-admin-token"
"""The app's admin token in the tests' settings; createUser needs it."""

CREATE_USER = """
mutation CreateUser($input: CreateUserInput!) {
  createUser(input: $input) {
    __typename
    ... on CreateUserSuccess { token user { id accountId email } }
    ... on Error { message }
    ... on ValidationError { field }
  }
}
"""


async def create_user(gql: GraphQLClient, email: str, name: str = "Test User", **extra: Any) -> tuple[str, str]:
    """A new user through createUser; returns (user id, API token)."""
    data = await gql(CREATE_USER, {"input": {"email": email, "name": name, **extra}}, ADMIN_TOKEN)
    result = data["createUser"]
    assert result["__typename"] == "CreateUserSuccess", result
    return result["user"]["id"], result["token"]
