"""Custom domains of an account (its domain manager)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from db import models
from resolvers import domains
from scheduling import domain_rules
from schema.base import CtxInfo
from schema.errors import DomainVerificationError, NotFoundError, SlugTakenError, ValidationError
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
    verified: bool = strawberry.field(
        description=(
            "Whether the account proved control of the host; only verified domains serve pages and can be chosen."
        )
    )
    verification_record: str = strawberry.field(
        description="The DNS TXT record value to publish at `_meetgraph.<hostname>` to verify the domain."
    )
    verification_record_name: str = strawberry.field(
        description="Where to publish the verification TXT record: `_meetgraph.<hostname>`."
    )

    @classmethod
    def from_model(cls, m: models.Domain) -> Domain:
        return cls(
            id=strawberry.ID(str(m.id)),
            hostname=m.hostname,
            robots_disallow_meetings=m.robots_disallow_meetings,
            verified=m.verified_at is not None,
            verification_record=domain_rules.record_value(m.verification_token),
            verification_record_name=domain_rules.record_name(m.hostname),
        )


@strawberry.type(description="The domain as stored now.")
class DomainSuccess:
    domain: Domain = strawberry.field(description="The connected or changed domain.")


DomainResult = Annotated[
    DomainSuccess | ValidationError | SlugTakenError | NotFoundError | DomainVerificationError,
    strawberry.union("DomainResult", description="The domain, or why nothing changed."),
]


@strawberry.type
class DomainsMutation:
    @strawberry.mutation(
        description=(
            "Claim a custom domain for the caller's account (its domain manager); it counts once verifyDomain "
            "finds its DNS TXT record. ValidationError (field `hostname`) for a host name that is malformed, "
            "reserved or verified by another account (one answer for every refusal); SlugTakenError when this "
            "account already claimed the host."
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

    @strawberry.mutation(
        description="Check the domain's DNS TXT record now; DomainSuccess with verified true once found."
    )
    async def verify_domain(
        self,
        info: CtxInfo,
        domain_id: Annotated[strawberry.ID, strawberry.argument(description="A domain of the caller's account.")],
    ) -> DomainResult:
        return await outcome(
            info.context,
            domains.verify_domain(info.context, domain_id),
            lambda d: DomainSuccess(domain=Domain.from_model(d)),
        )
