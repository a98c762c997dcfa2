"""Custom domains of an account (its domain manager)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from db import models
from resolvers import domains
from schema.base import CtxInfo
from schema.errors import NotFoundError, SlugTakenError, ValidationError
from schema.results import outcome


@strawberry.type
class Domain:
    id: strawberry.ID
    hostname: str
    robots_disallow_meetings: bool = strawberry.field(
        description="Whether this domain's /robots.txt disallows /meetings*."
    )

    @classmethod
    def from_model(cls, m: models.Domain) -> Domain:
        return cls(
            id=strawberry.ID(str(m.id)),
            hostname=m.hostname,
            robots_disallow_meetings=m.robots_disallow_meetings,
        )


@strawberry.type
class DomainSuccess:
    domain: Domain


DomainResult = Annotated[
    DomainSuccess | ValidationError | SlugTakenError | NotFoundError, strawberry.union("DomainResult")
]


@strawberry.type
class DomainsMutation:
    @strawberry.mutation(description="Connect a custom domain to the caller's account (its domain manager).")
    async def connect_domain(
        self, info: CtxInfo, hostname: str, robots_disallow_meetings: bool | None = False
    ) -> DomainResult:
        return await outcome(
            info.context,
            domains.connect_domain(info.context, hostname, bool(robots_disallow_meetings)),
            lambda d: DomainSuccess(domain=Domain.from_model(d)),
        )

    @strawberry.mutation(description="Whether the domain's /robots.txt disallows /meetings*.")
    async def set_domain_robots(self, info: CtxInfo, domain_id: strawberry.ID, disallow_meetings: bool) -> DomainResult:
        return await outcome(
            info.context,
            domains.set_robots(info.context, domain_id, disallow_meetings),
            lambda d: DomainSuccess(domain=Domain.from_model(d)),
        )
