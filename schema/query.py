"""Query root."""

from __future__ import annotations

import strawberry

from resolvers import public_pages
from schema.base import CtxInfo
from schema.types import PublicSchedulingPage
from schema.users import UsersQuery


@strawberry.type
class Query(UsersQuery):
    @strawberry.field(description="A scheduling page as a visitor sees it (public).")
    async def scheduling_page(
        self, info: CtxInfo, slug: str, domain: str | None = None
    ) -> PublicSchedulingPage | None:
        page = await public_pages.find_page(info.context, slug, domain)
        return PublicSchedulingPage.from_model(page) if page else None
