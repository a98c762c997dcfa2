"""The account's domain manager: connected custom domains and their robots.txt."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from db.models import Domain
from meetgraph.context import Context
from meetgraph.services import Services
from resolvers.ids import parse_id
from resolvers.public_pages import host_of
from scheduling import validation
from scheduling.errors import InvalidInput, NotFound, SlugTaken

ALLOW_ALL = "User-agent: *\nDisallow:\n"
DISALLOW_MEETINGS = "User-agent: *\nDisallow: /meetings*\n"


async def connect_domain(ctx: Context, hostname: str, disallow_meetings: bool) -> Domain:
    user = ctx.require_user()
    name = validation.hostname(hostname)
    if name == host_of(ctx.services.settings.public_url):
        raise InvalidInput("that is the app's own host", field="hostname")
    async with ctx.db() as session:
        if (await session.exec(select(Domain).where(Domain.hostname == name))).first():
            raise SlugTaken(f"{name} is already connected")
        domain = Domain(
            account_id=user.account_id,
            hostname=name,
            robots_disallow_meetings=disallow_meetings,
            created_at=ctx.now(),
        )
        session.add(domain)
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            raise SlugTaken(f"{name} is already connected") from None
    return domain


async def set_robots(ctx: Context, domain_id: str, disallow_meetings: bool) -> Domain:
    user = ctx.require_user()
    key: uuid.UUID = parse_id(domain_id, "domain")
    async with ctx.db() as session:
        domain = await session.get(Domain, key)
        if domain is None or domain.account_id != user.account_id:
            raise NotFound("domain not found")
        domain.robots_disallow_meetings = disallow_meetings
        session.add(domain)
        await session.commit()
    return domain


async def robots_txt(services: Services, host: str) -> str:
    """A connected domain disallows /meetings* when its setting asks for it; every other host allows all."""
    async with services.sessionmaker() as session:
        domain = (await session.exec(select(Domain).where(Domain.hostname == host_of(host)))).first()
    return DISALLOW_MEETINGS if domain is not None and domain.robots_disallow_meetings else ALLOW_ALL
