"""Custom domains of an account (its domain manager)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from db import models
from resolvers import domains
from schema.base import CtxInfo
from schema.errors import NotFoundError, SlugTakenError, ValidationError
from schema.results import outcome


@strawberry.type(
    description=(
        "A custom domain of the account's domain manager; any user of the account may serve their pages on it "
        "(CalendarSettings.meetingDomain)."
    )
)
class Domain:
    id: strawberry.ID = strawberry.field(description="Pass as meetingDomainId or to setDomainRobots.")
    hostname: str = strawberry.field(
        description="The host name, lower case, without a trailing dot, e.g. `meet.example.com`."
    )
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


@strawberry.type(description="The domain as stored now.")
class DomainSuccess:
    domain: Domain = strawberry.field(description="The connected or changed domain.")


DomainResult = Annotated[
    DomainSuccess | ValidationError | SlugTakenError | NotFoundError,
    strawberry.union("DomainResult", description="The domain, or why nothing changed."),
]


@strawberry.type
class DomainsMutation:
    @strawberry.mutation(
        description=(
            "Connect a custom domain to the caller's account (its domain manager). "
            "ValidationError (field `hostname`) for a host name that is malformed or may not be "
            "connected; SlugTakenError when the host is already connected."
        )
    )
    async def connect_domain(
        self,
        info: CtxInfo,
        hostname: Annotated[
            str,
            strawberry.argument(description="The host name, e.g. `meet.example.com` (case and trailing dot ignored)."),
        ],
        robots_disallow_meetings: Annotated[
            bool | None,
            strawberry.argument(
                description="Let the domain's /robots.txt disallow /meetings* (keep pages out of search engines)."
            ),
        ] = False,
    ) -> DomainResult:
        return await outcome(
            info.context,
            domains.connect_domain(info.context, hostname, bool(robots_disallow_meetings)),
            lambda d: DomainSuccess(domain=Domain.from_model(d)),
        )

    @strawberry.mutation(
        description=(
            "Whether the domain's /robots.txt disallows /meetings*. NotFoundError when the domain is not the "
            "caller's account's."
        )
    )
    async def set_domain_robots(
        self,
        info: CtxInfo,
        domain_id: Annotated[strawberry.ID, strawberry.argument(description="Domain.id.")],
        disallow_meetings: Annotated[
            bool, strawberry.argument(description="True: `Disallow: /meetings*`; false: everything allowed.")
        ],
    ) -> DomainResult:
        return await outcome(
            info.context,
            domains.set_robots(info.context, domain_id, disallow_meetings),
            lambda d: DomainSuccess(domain=Domain.from_model(d)),
        )
