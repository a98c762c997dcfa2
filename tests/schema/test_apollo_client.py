"""Apollo Client (its default InMemoryCache) against a live server: `... on Error { message }` reaches the
component only when the cache is given the committed possibleTypes.json.

Runs with Node and `npm ci` in tests/schema/apollo (Apollo Client pinned by its package-lock.json).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.utils.live import Live

APOLLO = Path(__file__).parent / "apollo"
ROOT = Path(__file__).resolve().parents[2]

# the README's pattern: branch on __typename, show `message` of any Error; anonymous, so PermissionRequiredError
CREATE_USER = """mutation {
  createUser(input: { email: "ada@example.com", name: "Ada" }) { __typename ... on Error { message } }
}"""


def apollo(url: str, document: str, *possible_types: Path) -> dict[str, Any]:
    if shutil.which("node") is None:
        pytest.skip("the Apollo Client check needs Node (`node`)")
    if not (APOLLO / "node_modules" / "@apollo" / "client").is_dir():
        pytest.skip(f"the Apollo Client check needs `npm ci` in {APOLLO}")
    run = subprocess.run(
        ["node", "apollo.mjs", f"{url}/graphql", document, *map(str, possible_types)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=APOLLO,
    )
    assert run.returncode == 0, run.stderr
    data: dict[str, Any] = json.loads(run.stdout)
    return data


async def test_apollo_keeps_the_error_message_with_the_committed_possible_types(live: Live) -> None:
    # when
    data = apollo(live.url, CREATE_USER, ROOT / "possibleTypes.json")
    # then
    assert data["createUser"]["__typename"] == "PermissionRequiredError"
    assert isinstance(data["createUser"]["message"], str) and data["createUser"]["message"]


async def test_without_possible_types_apollo_drops_the_error_message(live: Live) -> None:
    """Why the file exists: the same answer, read through a cache that knows no possibleTypes."""
    data = apollo(live.url, CREATE_USER)
    assert data["createUser"] == {"__typename": "PermissionRequiredError"}
