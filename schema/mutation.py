"""Mutation root: each field declares its union and delegates to resolvers/."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers import users
from schema.errors import PermissionRequiredError, ValidationError
from schema.inputs import CreateUserInput
from schema.results import outcome
from schema.types import CtxInfo, User


@strawberry.type
class CreateUserSuccess:
    user: User
    token: str


CreateUserResult = Annotated[
    CreateUserSuccess | ValidationError | PermissionRequiredError, strawberry.union("CreateUserResult")
]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create a user (admin token); returns the user's API token once.")
    async def create_user(self, info: CtxInfo, input: CreateUserInput) -> CreateUserResult:
        data = users.NewUser(
            email=input.email,
            name=input.name,
            account_id=input.account_id,
            personal_email_access=input.personal_email_access is not False,
            hub=input.hub or users.Hub.NONE,
            tier=input.tier or users.SeatTier.FREE,
            paid_seat=bool(input.paid_seat),
            timezone=input.timezone or "UTC",
            created_at=input.created_at,
        )
        return await outcome(
            info.context,
            users.create_user(info.context, data),
            lambda made: CreateUserSuccess(user=User.from_model(made[0]), token=made[1]),
        )
