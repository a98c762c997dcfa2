"""Public ids are UUID strings; a malformed one is simply not found."""

from __future__ import annotations

import uuid

from resolvers.errors import InvalidInput, NotFound


def parse_id(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"{what} not found") from None


def parse_input_id(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInput(f"{field} is not a valid id", field=field) from None
