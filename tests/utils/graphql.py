"""The GraphQL client the tests post documents with, the way a frontend does, and the DateTime scalar on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx


class GraphQLClient:
    """Posts GraphQL documents to the app the way a frontend does."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def raw(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code in (200, 400), response.text
        body: dict[str, Any] = response.json()
        return body

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """The `data` of a response that must have no top-level errors."""
        body = await self.raw(query, variables, token)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data


def iso(moment: datetime) -> str:
    """A DateTime variable."""
    return moment.isoformat()


def parse(value: str) -> datetime:
    """A DateTime the API answered with."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def internal_errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The errors of a response that are the server's fault (masked exceptions), not the client's."""
    return [
        error
        for error in body.get("errors") or []
        if error.get("message") == "Unexpected error."
        or (error.get("extensions") or {}).get("code") == "INTERNAL_SERVER_ERROR"
    ]
