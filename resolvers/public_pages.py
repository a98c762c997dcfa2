"""Finding a page the way a visitor opened it: by slug, on the app's host or a verified custom domain."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from db.models import Domain, SchedulingPage, User
from meetgraph.context import Context


def host_of(value: str) -> str:
    value = value.strip().lower()
    if "//" in value:
        value = urlsplit(value).hostname or ""
    return value.split("/", 1)[0].split(":", 1)[0].rstrip(".")


def verified_domain(hostname: str) -> SelectOfScalar[Domain]:
    """The verified claim on a host (at most one); unverified claims serve nothing, like unknown hosts."""
    return select(Domain).where(Domain.hostname == hostname, col(Domain.verified_at).is_not(None))


async def find_page(ctx: Context, slug: str, domain: str | None) -> SchedulingPage | None:
    """The page with this slug, if it is served on `domain` (the app's own host when omitted).

    Slugs are unique across all domains, so `/meetings/x` is one page wherever it is opened; a custom
    domain serves the pages of the account whose domain manager connected and verified it.
    """
    slug = slug.strip().lower()
    if not slug or len(slug) > 200:
        return None
    async with ctx.db() as session:
        found = (
            await session.exec(
                select(SchedulingPage, User.account_id)
                .join(User, SchedulingPage.user_id == User.id)  # type: ignore[arg-type]
                .where(SchedulingPage.slug == slug)
            )
        ).first()
        if found is None:
            return None
        page, account_id = found
        if domain is None or host_of(domain) == host_of(ctx.services.settings.public_url):
            return page
        served = (await session.exec(verified_domain(host_of(domain)))).first()
    return page if served is not None and served.account_id == account_id else None
