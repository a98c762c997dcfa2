"""A field that fails ends its operation while sibling fields still read the database: they must not see
the request's session closed under them, and nothing of it may reach the client (live server)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.utils.live import Live
from tests.utils.page import create_page
from tests.utils.user import create_user

BACKWARDS = 'availableSlots(start: "2026-12-02T00:00:00Z", end: "2026-12-01T00:00:00Z") { start }'

PAGE = "query($slug: String!) { schedulingPage(slug: $slug) { name url active offline } }"

ALIASES_BESIDE_A_FAILURE = f"""query($slug: String!) {{
  page: schedulingPage(slug: $slug) {{ name url active offline }}
  failing: schedulingPage(slug: $slug) {{ url offline {BACKWARDS} }}
  again: schedulingPage(slug: $slug) {{ name active a: {BACKWARDS} url }}
  last: schedulingPage(slug: $slug) {{ offline url }} }}"""

FAILING_WITH_SIBLINGS = f"""query($slug: String!) {{
  schedulingPage(slug: $slug) {{ name url active offline {BACKWARDS} }} }}"""

ANONYMOUS_ME_BESIDE_PAGES = """query($slug: String!) {
  page: schedulingPage(slug: $slug) { url active offline } me { id } last: schedulingPage(slug: $slug) { url } }"""
"""`me` fails synchronously: graphql-core ends the operation and leaves the pages' resolvers running."""

INTERNALS = ("IllegalState", "sqlalchemy", "Unexpected error", "can't be called here", "Traceback")


async def test_failed_fields_never_disturb_their_siblings(live: Live) -> None:
    # given
    _, token = await create_user(live.gql, "ada@example.com")
    slug = (await create_page(live.gql, token))["slug"]
    expected = (await live.gql(PAGE, {"slug": slug}))["schedulingPage"]
    documents = [ALIASES_BESIDE_A_FAILURE, FAILING_WITH_SIBLINGS, ANONYMOUS_ME_BESIDE_PAGES]
    # when: 100 anonymous queries, 25 at a time
    bodies: list[tuple[str, dict[str, Any]]] = []
    for batch in range(4):
        documents_of_batch = [documents[(batch * 25 + i) % len(documents)] for i in range(25)]
        answers = await asyncio.gather(*(live.gql.raw(d, {"slug": slug}) for d in documents_of_batch))
        bodies.extend(zip(documents_of_batch, answers, strict=True))
    # then
    assert len(bodies) == 100
    for document, body in bodies:
        assert not any(word in json.dumps(body) for word in INTERNALS), body
        codes = {error["extensions"]["code"] for error in body["errors"]}
        if document is ANONYMOUS_ME_BESIDE_PAGES:
            assert body["data"] is None and codes == {"UNAUTHENTICATED"}, body
            continue
        assert codes == {"BAD_USER_INPUT"}, body
        if document is ALIASES_BESIDE_A_FAILURE:
            assert body["data"]["page"] == expected
            assert body["data"]["last"] == {"offline": expected["offline"], "url": expected["url"]}
            assert body["data"]["failing"] is None and body["data"]["again"] is None
        else:
            assert body["data"] == {"schedulingPage": None}
