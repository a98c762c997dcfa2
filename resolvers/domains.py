"""The account's domain manager: custom domains, their DNS verification and their robots.txt."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import Domain
from meetgraph.context import Context
from meetgraph.services import Services
from providers.dns_txt import lookup_txt, parse_nameservers
from resolvers.ids import owned
from resolvers.public_pages import host_of, verified_domain
from scheduling import domain_rules
from scheduling.errors import InvalidInput, NotFound, SlugTaken

ALLOW_ALL = "User-agent: *\nDisallow:\n"
DISALLOW_MEETINGS = "User-agent: *\nDisallow: /meetings*\n"


def _claimable(ctx: Context, hostname: str, field: str) -> str:
    return domain_rules.claimable_hostname(hostname, own_host=host_of(ctx.services.settings.public_url), field=field)


async def connect_domain(ctx: Context, hostname: str, disallow_meetings: bool) -> Domain:
    """An unverified claim on the host; refused (one answer for every reason) when reserved or verified elsewhere."""
    user = ctx.require_user()
    name = _claimable(ctx, hostname, "hostname")
    async with ctx.db() as session:
        claims = (await session.exec(select(Domain).where(Domain.hostname == name))).all()
        already = SlugTaken(f"{name} is already in your account's domain manager")
        if any(claim.account_id == user.account_id for claim in claims):
            raise already
        if any(claim.verified_at is not None for claim in claims):
            raise InvalidInput(domain_rules.REFUSED, field="hostname")
        domain = Domain(
            account_id=user.account_id,
            hostname=name,
            robots_disallow_meetings=disallow_meetings,
            created_at=ctx.now(),
        )
        session.add(domain)
        try:
            await session.commit()
        except IntegrityError:  # the same account, twice at once (uq_domain_hostname_account)
            await session.rollback()
            raise already from None
    return domain


async def _owned(session: AsyncSession, ctx: Context, domain_id: str) -> Domain:
    """The domain with this id if it belongs to the caller's account; NotFound otherwise."""
    user = ctx.require_user()
    return await owned(session, Domain, domain_id, "domain", account_id=user.account_id)


async def verify_domain(ctx: Context, domain_id: str) -> Domain:
    """Look up `_meetgraph.<hostname>` now; verified once its TXT record holds the domain's value.

    Two accounts verifying one host at once: the partial unique index (one verified claim per host) lets
    exactly one commit; the other gets the refusal every refused claim gets.
    """
    async with ctx.db() as session:
        domain = await _owned(session, ctx, domain_id)
    if domain.verified_at is not None:
        return domain
    _claimable(ctx, domain.hostname, "domainId")  # a claim made before the rules (or the app's host) changed
    settings = ctx.services.settings
    lookup = await lookup_txt(
        domain_rules.record_name(domain.hostname),
        nameservers=parse_nameservers(settings.dns_nameservers),
        timeout=settings.dns_timeout_seconds,
    )
    domain_rules.check_verification(domain.hostname, domain.verification_token, lookup)
    async with ctx.db() as session:
        current = await session.get(Domain, domain.id)
        if current is None:
            raise NotFound("domain not found")
        if current.verified_at is None:
            current.verified_at = ctx.now()
            session.add(current)
            try:
                await session.commit()
            except IntegrityError:  # another account's claim on the host was verified first
                await session.rollback()
                raise InvalidInput(domain_rules.REFUSED, field="domainId") from None
    return current


async def set_robots(ctx: Context, domain_id: str, disallow_meetings: bool) -> Domain:
    async with ctx.db() as session:
        domain = await _owned(session, ctx, domain_id)
        domain.robots_disallow_meetings = disallow_meetings
        session.add(domain)
        await session.commit()
    return domain


async def robots_txt(services: Services, host: str) -> str:
    """A verified domain disallows /meetings* when its setting asks for it; every other host allows all."""
    async with services.sessionmaker() as session:
        domain = (await session.exec(verified_domain(host_of(host)))).first()
    return DISALLOW_MEETINGS if domain is not None and domain.robots_disallow_meetings else ALLOW_ALL
