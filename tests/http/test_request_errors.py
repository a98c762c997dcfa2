"""Which results are request errors (the operation did not run), and the status they get."""

from __future__ import annotations

from graphql import GraphQLError
from strawberry.types import ExecutionResult

from meetgraph.http import did_not_execute, request_error_status


def test_errors_without_a_path_and_no_data_are_request_errors() -> None:
    syntax = GraphQLError("Syntax Error: Expected Name, found <EOF>.")
    assert did_not_execute(ExecutionResult(data=None, errors=[syntax]))


def test_field_errors_are_not_even_when_they_null_all_data() -> None:
    field = GraphQLError("Authentication required", path=["me"])
    assert not did_not_execute(ExecutionResult(data=None, errors=[field]))
    assert not did_not_execute(ExecutionResult(data={"me": None}, errors=[field]))
    assert not did_not_execute(ExecutionResult(data={"__typename": "Query"}, errors=None))


def test_request_errors_are_400_unless_the_server_failed() -> None:
    assert request_error_status({"errors": [{"message": "x", "extensions": {"code": "GRAPHQL_PARSE_FAILED"}}]}) == 400
    assert request_error_status({"errors": [{"message": "x"}]}) == 400
    assert request_error_status({"errors": [{"message": "x", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}) == 500
