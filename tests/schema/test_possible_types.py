"""possibleTypes.json is Apollo Client's `possibleTypes` for this schema, kept equal to what the server answers.

Without it Apollo's InMemoryCache cannot tell that `ValidationError` is an `Error`, and drops the fields of
`... on Error { message }` from every mutation result (the pattern the README teaches).
"""

from __future__ import annotations

import json
from pathlib import Path

from graphql import GraphQLInterfaceType, GraphQLUnionType

from tests.utils.graphql import GraphQLClient
from tests.utils.introspection import served_schema

ROOT = Path(__file__).resolve().parents[2]

# the query of Apollo Client's docs, "Generating possibleTypes automatically"
APOLLO_QUERY = "{ __schema { types { kind name possibleTypes { name } } } }"


def committed() -> dict[str, list[str]]:
    loaded: dict[str, list[str]] = json.loads((ROOT / "possibleTypes.json").read_text())
    return loaded


async def test_committed_possible_types_equal_what_the_server_answers(gql: GraphQLClient) -> None:
    # given the answer to Apollo's query, turned into the map the way its docs' script does
    data = await gql(APOLLO_QUERY)
    served = {
        supertype["name"]: sorted(subtype["name"] for subtype in supertype["possibleTypes"])
        for supertype in data["__schema"]["types"]
        if supertype["possibleTypes"]
    }
    # then the committed file is that map (run `make schema` and commit possibleTypes.json otherwise)
    assert committed() == served


async def test_every_union_and_interface_is_mapped_to_its_members(gql: GraphQLClient) -> None:
    schema = await served_schema(gql)
    abstract = {
        t.name: sorted(m.name for m in schema.get_possible_types(t))
        for t in schema.type_map.values()
        if isinstance(t, GraphQLUnionType | GraphQLInterfaceType) and not t.name.startswith("__")
    }
    assert committed() == abstract
    assert "ValidationError" in committed()["Error"]
    assert committed()["DisconnectResult"] == ["DisconnectSuccess", "NotFoundError"]
