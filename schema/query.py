"""Query root."""

from __future__ import annotations

import strawberry

from schema.pages import PagesQuery
from schema.users import UsersQuery


@strawberry.type
class Query(UsersQuery, PagesQuery):
    pass
