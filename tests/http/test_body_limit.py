"""MEETGRAPH_MAX_BODY_BYTES: a bigger body gets 413 with a JSON error before the server has read it whole."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from meetgraph.app import create_app
from meetgraph.services import Services
from tests.utils.live import SAFETY_TIMEOUT, Live

FIFTY_MB = 50_000_000
CHUNK = b" " * 65_536
"""JSON whitespace: what a client streaming a huge document sends."""
QUERY = b'{"query": "{ __typename }"}'


async def answer_to_partial_request(url: str, headers: dict[str, str], sent: bytes) -> tuple[int, dict[str, Any]]:
    """Sends the head and only `sent` of the body over a plain socket, then waits for the answer.

    The rest of the body is never sent: a server that waited to read it whole would never answer.
    """
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        writer.write(f"POST /graphql HTTP/1.1\r\nhost: {parts.hostname}\r\n{head}\r\n".encode() + sent)
        await writer.drain()
        head_lines = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), SAFETY_TIMEOUT)).decode().split("\r\n")
        fields = dict(line.lower().split(": ", 1) for line in head_lines[1:] if line)
        body = await asyncio.wait_for(reader.readexactly(int(fields["content-length"])), SAFETY_TIMEOUT)
        return int(head_lines[0].split(" ")[1]), json.loads(body)
    finally:
        writer.close()


def first_chunks(total: int) -> bytes:
    """The first `total` bytes of a body in HTTP/1.1 chunked encoding (no closing chunk: more would follow)."""
    sizes = [len(CHUNK)] * (total // len(CHUNK)) + ([total % len(CHUNK)] if total % len(CHUNK) else [])
    return b"".join(b"%x\r\n%s\r\n" % (size, CHUNK[:size]) for size in sizes)


def assert_too_large(status: int, body: dict[str, Any]) -> None:
    assert status == 413, body
    assert list(body) == ["errors"] and body["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE", body


async def test_a_declared_50_mb_body_is_refused_before_any_of_it_is_read(live: Live) -> None:
    # given
    headers = {"content-type": "application/json", "content-length": str(FIFTY_MB)}
    # when: the head alone is sent
    status, body = await answer_to_partial_request(live.url, headers, b"")
    # then
    assert_too_large(status, body)


async def test_a_chunked_50_mb_body_is_refused_after_its_first_2_mb(live: Live) -> None:
    # given: a client streaming 50 MB without declaring its length
    headers = {"content-type": "application/json", "transfer-encoding": "chunked"}
    # when: it has sent 2 MB (over the default limit of 1 MB) and holds the other 48 MB back
    status, body = await answer_to_partial_request(live.url, headers, first_chunks(2_000_000))
    # then
    assert_too_large(status, body)


async def test_a_client_streaming_50_mb_from_a_generator_is_told_413(live: Live) -> None:
    # given
    async def fifty_mb() -> AsyncIterator[bytes]:
        for _ in range(FIFTY_MB // len(CHUNK) + 1):
            yield CHUNK

    # when
    response = await live.http.post("/graphql", content=fifty_mb(), headers={"content-type": "application/json"})
    # then
    assert_too_large(response.status_code, response.json())
    # and the server still answers on that connection and others
    assert (await live.http.post("/graphql", content=QUERY, headers={"content-type": "application/json"})).is_success


@pytest.fixture
async def small_limit(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    services.settings.max_body_bytes = len(QUERY) + 10
    app = create_app(services.settings, services=services, migrate=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://meetgraph.test") as client:
        yield client


async def in_pieces(body: bytes) -> AsyncIterator[bytes]:
    """A body without Content-Length, streamed in 8-byte pieces."""
    for start in range(0, len(body), 8):
        yield body[start : start + 8]


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "streamed"])
async def test_the_limit_is_max_body_bytes(small_limit: httpx.AsyncClient, streamed: bool) -> None:
    # given
    at_limit = QUERY + b" " * 10
    over_limit = at_limit + b" "
    headers = {"content-type": "application/json"}

    def content(body: bytes) -> bytes | AsyncIterator[bytes]:
        return in_pieces(body) if streamed else body

    # when
    accepted = await small_limit.post("/graphql", content=content(at_limit), headers=headers)
    refused = await small_limit.post("/graphql", content=content(over_limit), headers=headers)
    # then
    assert accepted.status_code == 200 and accepted.json() == {"data": {"__typename": "Query"}}
    assert_too_large(refused.status_code, refused.json())
    assert refused.headers["content-type"] == "application/json; charset=utf-8"


async def test_the_limit_guards_every_route(small_limit: httpx.AsyncClient) -> None:
    # when
    response = await small_limit.post("/oauth/callback/google", content=b"x" * 1000)
    # then
    assert_too_large(response.status_code, response.json())
