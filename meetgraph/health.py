"""/healthz (liveness: the process answers) and /readyz (readiness: its database and broadcast answer)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from meetgraph.services import Services

log = logging.getLogger("meetgraph")

CHECK_TIMEOUT = 2.0
"""A check that has not answered by then counts as unavailable: a hung backend must not hang /readyz."""


async def _database_answers(services: Services) -> bool:
    async with services.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return True


async def _passes(name: str, check: Awaitable[bool]) -> bool:
    try:
        if await asyncio.wait_for(check, CHECK_TIMEOUT):
            return True
        log.warning("readiness: %s unavailable", name)
    except TimeoutError:
        log.warning("readiness: %s did not answer within %.1fs", name, CHECK_TIMEOUT)
    except Exception:
        log.exception("readiness: %s unavailable", name)
    return False


async def readiness(services: Services) -> dict[str, bool]:
    names = ("database", "broadcast")
    results = await asyncio.gather(
        _passes("database", _database_answers(services)), _passes("broadcast", services.broadcast.ping())
    )
    return dict(zip(names, results, strict=True))


def routes(services: Services) -> list[Route]:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        checks = await readiness(services)
        ready = all(checks.values())
        return JSONResponse(
            {
                "status": "ok" if ready else "unavailable",
                "checks": {name: "ok" if passed else "unavailable" for name, passed in checks.items()},
            },
            status_code=200 if ready else 503,
        )

    return [Route("/healthz", healthz), Route("/readyz", readyz)]
