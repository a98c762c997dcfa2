from __future__ import annotations

from sqlmodel import func, select

from db.models import ApiToken, CalendarSettings, User
from meetgraph.services import Services
from tests.utils.graphql import GraphQLClient
from tests.utils.user import ADMIN_TOKEN, CREATE_USER, ME, create_user


async def _counts(services: Services) -> tuple[int, int, int]:
    async with services.sessionmaker() as session:
        users = (await session.exec(select(func.count()).select_from(User))).one()
        tokens = (await session.exec(select(func.count()).select_from(ApiToken))).one()
        settings = (await session.exec(select(func.count()).select_from(CalendarSettings))).one()
    return users, tokens, settings


async def test_admin_creates_a_user_whose_token_reads_me(gql: GraphQLClient) -> None:
    # given
    user_id, token = await create_user(gql, "ada@example.com", "Ada", timezone="Europe/Berlin")
    # when
    data = await gql(ME, token=token)
    # then
    me = data["me"]
    assert me["id"] == user_id
    assert me["email"] == "ada@example.com"
    assert me["personalEmailAccess"] is True
    assert me["calendarConnections"] == [] and me["schedulingPages"] == []
    assert me["calendarSettings"]["pagesActive"] is True
    assert me["calendarSettings"]["calendarSync"] is False


async def test_second_user_can_join_an_account(gql: GraphQLClient) -> None:
    # given
    first = await gql(CREATE_USER, {"input": {"email": "a@example.com", "name": "A"}}, ADMIN_TOKEN)
    account_id = first["createUser"]["user"]["accountId"]
    # when
    second = await gql(
        CREATE_USER, {"input": {"email": "b@example.com", "name": "B", "accountId": account_id}}, ADMIN_TOKEN
    )
    # then
    assert second["createUser"]["user"]["accountId"] == account_id


async def test_create_user_needs_the_admin_token(gql: GraphQLClient, services: Services) -> None:
    # given
    _, token = await create_user(gql, "user@example.com")
    # when
    data = await gql(CREATE_USER, {"input": {"email": "x@example.com", "name": "X"}}, token)
    # then
    assert data["createUser"]["__typename"] == "PermissionRequiredError"
    assert await _counts(services) == (1, 1, 1)


async def test_invalid_input_is_a_validation_error_and_writes_nothing(gql: GraphQLClient, services: Services) -> None:
    cases = [
        ({"email": "not-an-email", "name": "X"}, "email"),
        ({"email": "x@example.com", "name": "  "}, "name"),
        ({"email": "x@example.com", "name": "X" * 201}, "name"),
        ({"email": "x@example.com", "name": "X", "timezone": "Mars/Olympus"}, "timezone"),
        ({"email": "x@example.com", "name": "X", "accountId": "not-a-uuid"}, "accountId"),
        ({"email": "x@example.com", "name": "X", "accountId": "00000000-0000-0000-0000-000000000000"}, "accountId"),
        ({"email": ("x" * 300) + "@example.com", "name": "X"}, "email"),
    ]
    for fields, field in cases:
        # when
        data = await gql(CREATE_USER, {"input": fields}, ADMIN_TOKEN)
        # then
        assert data["createUser"]["__typename"] == "ValidationError", fields
        assert data["createUser"]["field"] == field
    assert await _counts(services) == (0, 0, 0)


async def test_duplicate_email_is_refused(gql: GraphQLClient, services: Services) -> None:
    # given
    await create_user(gql, "dup@example.com")
    # when
    data = await gql(CREATE_USER, {"input": {"email": "DUP@example.com", "name": "Again"}}, ADMIN_TOKEN)
    # then
    assert data["createUser"]["__typename"] == "ValidationError"
    assert data["createUser"]["field"] == "email"
    assert await _counts(services) == (1, 1, 1)


async def test_me_without_a_token_is_a_clear_graphql_error(gql: GraphQLClient) -> None:
    # when
    body = await gql.raw(ME)
    # then
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_unknown_token_is_anonymous(gql: GraphQLClient) -> None:
    body = await gql.raw(ME, token="mg_forged")
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_tokens_are_stored_hashed(gql: GraphQLClient, services: Services) -> None:
    # given
    _, token = await create_user(gql, "hash@example.com")
    # then
    async with services.sessionmaker() as session:
        stored = (await session.exec(select(ApiToken.token_hash))).all()
    assert token not in stored and len(stored[0]) == 64
