"""Extensions are per request, but the parse and validation caches stay shared by all requests."""

from __future__ import annotations

from strawberry.extensions.parser_cache import _get_parse_cache
from strawberry.extensions.validation_cache import _get_validate_cache

from schema import DOCUMENT_CACHE_SIZE
from tests.utils.graphql import GraphQLClient

DOCUMENT = 'query { schedulingPage(slug: "document-cache-probe") { name } }'


async def test_a_document_is_parsed_and_validated_once_across_requests(gql: GraphQLClient) -> None:
    # given
    await gql(DOCUMENT)
    parsed = _get_parse_cache(DOCUMENT_CACHE_SIZE).cache_info().hits
    validated = _get_validate_cache(DOCUMENT_CACHE_SIZE).cache_info().hits
    # when: another request sends the same document
    await gql(DOCUMENT)
    # then
    assert _get_parse_cache(DOCUMENT_CACHE_SIZE).cache_info().hits == parsed + 1
    assert _get_validate_cache(DOCUMENT_CACHE_SIZE).cache_info().hits == validated + 1
