"""Public ids are UUID strings; a malformed id of the object an operation acts on is simply not found."""

from __future__ import annotations

import uuid

from scheduling.errors import NotFound


def parse_id(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"{what} not found") from None
