"""Every type, field, argument, enum value and input field of the live schema has a description.

Frontend developers read the schema in GraphiQL and in generated code: a name alone does not say what a
value means, its unit, its time zone, when it is null or which typed errors a mutation answers.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    specified_scalar_types,
)
from graphql import build_schema as build_sdl

from schema import build_schema
from tests.utils.graphql import GraphQLClient
from tests.utils.introspection import served_schema


def _own_types(schema: GraphQLSchema) -> Iterator[GraphQLNamedType]:
    """The schema's own named types: not the introspection types, not the built-in scalars."""
    for name, named in sorted(schema.type_map.items()):
        if name.startswith("__") or name in specified_scalar_types:
            continue
        yield named


def schema_elements(schema: GraphQLSchema) -> Iterator[tuple[str, str, str | None]]:
    """(kind, coordinate, description) of every documentable element, coordinates as in the GraphQL spec."""
    for named in _own_types(schema):
        yield "type", named.name, named.description
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in named.fields.items():
                yield "field", f"{named.name}.{field_name}", field.description
                for arg_name, arg in field.args.items():
                    yield "argument", f"{named.name}.{field_name}({arg_name}:)", arg.description
        elif isinstance(named, GraphQLInputObjectType):
            for field_name, input_field in named.fields.items():
                yield "input field", f"{named.name}.{field_name}", input_field.description
        elif isinstance(named, GraphQLEnumType):
            for value_name, value in named.values.items():
                yield "enum value", f"{named.name}.{value_name}", value.description


def coverage(schema: GraphQLSchema) -> dict[str, tuple[int, int]]:
    """Per kind: (described, total) — the figure the issue measured."""
    counts: dict[str, tuple[int, int]] = {}
    for kind, _, description in schema_elements(schema):
        described, total = counts.get(kind, (0, 0))
        counts[kind] = (described + bool(description and description.strip()), total + 1)
    return counts


def live_schema() -> GraphQLSchema:
    return build_sdl(build_schema().as_str())


async def test_every_schema_element_has_a_description(gql: GraphQLClient) -> None:
    # given the schema the server answers to introspection
    schema = await served_schema(gql)

    # when every documentable element is listed
    missing = [
        f"{kind} {coordinate}"
        for kind, coordinate, description in schema_elements(schema)
        if not (description and description.strip())
    ]

    # then none lacks a description
    assert missing == [], "undocumented (add description=...):\n" + "\n".join(missing)


async def test_every_custom_scalar_names_its_specification(gql: GraphQLClient) -> None:
    schema = await served_schema(gql)
    scalars = [t for t in _own_types(schema) if isinstance(t, GraphQLScalarType)]
    assert scalars, "the schema has custom scalars (DateTime)"
    assert [s.name for s in scalars if not s.specified_by_url] == []


async def test_date_time_is_specified_by_rfc_3339(gql: GraphQLClient) -> None:
    data = await gql('{ __type(name: "DateTime") { kind specifiedByURL } }')
    assert data["__type"] == {"kind": "SCALAR", "specifiedByURL": "https://datatracker.ietf.org/doc/html/rfc3339"}


def test_the_sdl_export_documents_what_introspection_does() -> None:
    """`make schema` writes build_schema's SDL: the same elements, so the committed file is documented too."""
    assert [c for _, c, d in schema_elements(live_schema()) if not d] == []


def test_the_walk_finds_an_undocumented_element() -> None:
    # a schema with one undocumented argument and enum value is reported precisely
    sdl = '"Q" type Query { "f" f("" x: Int): E } "E" enum E { "a" A B }'
    missing = [c for _, c, d in schema_elements(build_sdl(sdl)) if not d]
    assert missing == ["E.B", "Query.f(x:)"]
