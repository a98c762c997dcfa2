"""What a real `meetgraph serve` writes: no credential in any line (the access log included), and with
MEETGRAPH_LOG_FORMAT=json one JSON object per line."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.utils.processes import Processes
from tests.utils.user import ADMIN_TOKEN

SECRETS = {
    "query_token": "mg_QueryStringToken0123456789abcdefghijklmnop",
    "access_token": "ya29.AccessTokenInTheQueryString",
    "oauth_code": "4/0AuthorizationCodeSecret",
    "oauth_state": "SignedStateSecret.abc.def",
    "variables_token": "VariablesTokenSecret42",
    "password": "hunter2-Password-Secret",
}


async def _visit_with_secrets(processes: Processes, log_format: str) -> str:
    """A server at --log-level info (access log on) asked with credentials in every place a client puts them."""
    server = processes.server(MEETGRAPH_LOG_FORMAT=log_format)
    server.log_level = "info"
    await server.start()
    variables = quote(json.dumps({"token": SECRETS["variables_token"]}))
    async with server.client() as http:
        await http.get(f"/graphql?query={quote('{ me { id } }')}&token={SECRETS['query_token']}")
        await http.get(f"/graphql?query={quote('{ __typename }')}&access_token={SECRETS['access_token']}")
        await http.get(f"/graphql?query={quote('{ __typename }')}&variables={variables}")
        await http.get(f"/oauth/callback/google?code={quote(SECRETS['oauth_code'])}&state={SECRETS['oauth_state']}")
        await http.get(f"/healthz?password={SECRETS['password']}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        await http.post("/graphql", json={"query": "{ me { id "})
    server.terminate()
    await server.exited()
    return server.output()


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_no_credential_reaches_the_log(processes: Processes, log_format: str) -> None:
    # when
    output = await _visit_with_secrets(processes, log_format)
    # then: the requests were logged, their credentials were not
    assert "/oauth/callback/google?code=[redacted]&state=[redacted]" in output, output
    assert "token=[redacted]" in output, output
    for name, secret in SECRETS.items():
        assert secret not in output and quote(secret) not in output, f"{name} in the log:\n{output}"


async def test_json_logs_are_one_object_per_line(processes: Processes) -> None:
    # when
    output = await _visit_with_secrets(processes, "json")
    # then: uvicorn's own lines, its access log and the app's are all JSON
    entries = [json.loads(line) for line in output.splitlines()]
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries), output
    loggers = {entry["logger"] for entry in entries}
    assert {"uvicorn.error", "uvicorn.access", "meetgraph.graphql"} <= loggers, loggers
    graphql = [entry for entry in entries if entry["logger"] == "meetgraph.graphql"]
    assert [entry["level"] for entry in graphql] == ["INFO"] * len(graphql) and len(graphql) == 2, graphql


async def test_a_worker_logs_json_too(processes: Processes) -> None:
    # given
    worker = processes.worker(MEETGRAPH_LOG_FORMAT="json")
    # when
    await worker.start()
    worker.terminate()
    await worker.exited()
    # then
    entries = [json.loads(line) for line in worker.output().splitlines()]
    assert any(entry["logger"] == "meetgraph" and "running" in entry["message"] for entry in entries), entries
