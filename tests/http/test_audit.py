"""graphql-http's GraphQL-over-HTTP server audit, run with Node against a live server: no warning, no error.

Before issue 10 it gave 53 ok and 8 warnings (no application/graphql-response+json; parse, validation and
variable-coercion failures answered 200 with a `data` entry).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.utils.live import Live

AUDIT = Path(__file__).parent / "audit"
"""package.json + package-lock.json (graphql-http pinned) and audit.mjs; `.ci/run` runs `npm ci` there."""
NODE_MAJOR = 18
"""graphql-http's audit uses the global fetch."""


def audit_script() -> Path:
    """The audit script, or a skip that says what is missing."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("the graphql-http audit needs Node (`node`); .ci/run installs it")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout
    if int(version.strip().lstrip("v").split(".")[0]) < NODE_MAJOR:
        pytest.skip(f"the graphql-http audit needs Node {NODE_MAJOR} or later, not {version.strip()}")
    if not (AUDIT / "node_modules" / "graphql-http").is_dir():
        pytest.skip(f"the graphql-http audit needs `npm ci --prefix {AUDIT}` (.ci/run does it)")
    return AUDIT / "audit.mjs"


async def test_graphql_http_audit_has_no_warning_and_no_error(live: Live) -> None:
    # given
    script = audit_script()
    # when
    run = await asyncio.to_thread(
        subprocess.run,
        ["node", str(script), f"{live.url}/graphql"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=AUDIT,
    )
    # then
    assert run.returncode == 0, run.stderr
    results = [json.loads(line) for line in run.stdout.splitlines()]
    counts = Counter(result["status"] for result in results)
    failed = [result for result in results if result["status"] != "ok"]
    assert failed == [], f"{dict(counts)}: " + json.dumps(failed, indent=1)
    assert counts["ok"] == len(results) > 50
