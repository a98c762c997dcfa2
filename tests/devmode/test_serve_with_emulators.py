"""`meetgraph serve --emulators` (what `make run` serves): the app and the mounted emulators on one port."""

from __future__ import annotations

from pathlib import Path

import httpx

from emulators.mount import DEMO_EXCHANGE, DEMO_GOOGLE, DEMO_PASSWORD
from emulators.runner import free_port, serve_in_thread
from meetgraph.app import create_app
from meetgraph.settings import Settings
from tests.utils.connection import START
from tests.utils.user import CREATE_USER

ADMIN = "devmode-admin"
EXCHANGE = f"""mutation {{ connectExchangeCalendar(input: {{email: "{DEMO_EXCHANGE}", password: "{DEMO_PASSWORD}"}}) {{
  __typename ... on ConnectCalendarSuccess {{ connection {{ email }} }} }} }}"""
ME = "{ me { calendarConnections { provider email } } }"


def _post(base: str, query: str, token: str, variables: dict[str, object] | None = None) -> dict[str, object]:
    payload = {"query": query, "variables": variables or {}}
    response = httpx.post(f"{base}/graphql", json=payload, headers={"Authorization": f"Bearer {token}"})
    body: dict[str, object] = response.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[return-value]


def test_a_newcomer_connects_google_and_exchange_without_any_account(tmp_path: Path) -> None:
    # given: the server as `make run` starts it, on its own port
    port = free_port()
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'dev.db'}",
        admin_token=ADMIN,
        secret_key="devmode-secret",
        public_url=f"http://127.0.0.1:{port}",
        _env_file=None,  # type: ignore[call-arg]
    )
    with serve_in_thread(create_app(settings, emulators=True), port=port) as base:
        first = _post(base, CREATE_USER, ADMIN, {"input": {"email": "ada@example.com", "name": "Ada"}})["createUser"][
            "token"
        ]  # type: ignore[index]
        # when: Google through the browser dance, all on this server
        started = _post(base, START, first, {"provider": "GOOGLE"})["startCalendarConnection"]
        url = started["authorizationUrl"]  # type: ignore[index]
        landed = httpx.get(url, follow_redirects=True)
        # then
        assert landed.status_code == 200 and "is connected" in landed.text
        assert _post(base, ME, first)["me"] == {"calendarConnections": [{"provider": "GOOGLE", "email": DEMO_GOOGLE}]}

        # when: Exchange by autodiscover, for a second user
        second = _post(base, CREATE_USER, ADMIN, {"input": {"email": "bob@example.com", "name": "Bob"}})["createUser"][
            "token"
        ]  # type: ignore[index]
        connected = _post(base, EXCHANGE, second)["connectExchangeCalendar"]
        # then
        assert connected == {"__typename": "ConnectCalendarSuccess", "connection": {"email": DEMO_EXCHANGE}}
