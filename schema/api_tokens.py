"""API tokens: the caller lists, creates and revokes its own; a WebSocket's operations check theirs again."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry

from db import models
from resolvers import api_tokens
from schema.base import CtxInfo
from schema.connections import DisconnectResult, DisconnectSuccess
from schema.errors import ValidationError
from schema.results import outcome


@strawberry.type(description="A token that authenticates as its user (`Authorization: Bearer <token>`).")
class ApiToken:
    id: strawberry.ID = strawberry.field(description="The token's id (what revokeApiToken takes); not the token.")
    name: str = strawberry.field(description='The owner\'s label; createUser names its token "initial".')
    created_at: datetime = strawberry.field(description="When the token was created.")
    last_used_at: datetime | None = strawberry.field(
        description="When the token last authenticated a request, to within five minutes; null if never."
    )

    @classmethod
    def from_model(cls, m: models.ApiToken) -> ApiToken:
        return cls(
            id=strawberry.ID(str(m.id)),
            name=m.name,
            created_at=m.created_at,
            last_used_at=m.last_used_at,
        )


@strawberry.type(description="The new token: store it now, the server keeps only its hash.")
class CreateApiTokenSuccess:
    api_token: ApiToken = strawberry.field(description="The new token's record, as apiTokens lists it.")
    token: str = strawberry.field(description="The token itself, shown this once.")


CreateApiTokenResult = Annotated[
    CreateApiTokenSuccess | ValidationError,
    strawberry.union("CreateApiTokenResult", description="The new token, or why its name was refused."),
]


def _created(made: tuple[models.ApiToken, str]) -> CreateApiTokenSuccess:
    row, token = made
    return CreateApiTokenSuccess(api_token=ApiToken.from_model(row), token=token)


def _revoked(key: uuid.UUID) -> DisconnectSuccess:
    return DisconnectSuccess(id=strawberry.ID(str(key)))


@strawberry.type
class ApiTokensMutation:
    @strawberry.mutation(description="Create an API token for the caller; the token is answered this once.")
    async def create_api_token(
        self,
        info: CtxInfo,
        name: Annotated[str, strawberry.argument(description="A label to tell the token apart (1 to 100 characters).")],
    ) -> CreateApiTokenResult:
        return await outcome(info.context, api_tokens.create_token(info.context, name), _created)

    @strawberry.mutation(
        description="Revoke one of the caller's API tokens (the one in use too); it stops working at once."
    )
    async def revoke_api_token(
        self,
        info: CtxInfo,
        id: Annotated[strawberry.ID, strawberry.argument(description="The id of the token, as apiTokens lists it.")],
    ) -> DisconnectResult:
        return await outcome(info.context, api_tokens.revoke_token(info.context, id), _revoked)
