"""The `meetgraph` command line (run in-process; the same entry point as the console script)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from meetgraph.app import create_app
from meetgraph.cli import main
from meetgraph.services import Services
from meetgraph.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("MEETGRAPH_DATABASE_URL", url)
    monkeypatch.setenv("MEETGRAPH_SECRET_KEY", "cli-test-secret")
    monkeypatch.chdir(tmp_path)
    return url


def test_migrate_then_create_user_prints_a_working_token(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    # given
    assert main(["migrate"]) == 0
    # when
    assert main(["create-user", "--email", "ada@example.com", "--name", "Ada"]) == 0
    # then
    out = dict(line.split("=", 1) for line in capsys.readouterr().out.split())
    assert out["user_id"] and out["token"].startswith("mg_")

    async def me() -> dict[str, object]:
        services = Services.create(Settings(_env_file=None))  # type: ignore[call-arg]
        app = create_app(services.settings, services=services, migrate=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            response = await http.post(
                "/graphql", json={"query": "{ me { id email } }"}, headers={"Authorization": f"Bearer {out['token']}"}
            )
        await services.engine.dispose()
        return response.json()  # type: ignore[no-any-return]

    import asyncio

    assert asyncio.run(me()) == {"data": {"me": {"id": out["user_id"], "email": "ada@example.com"}}}


def test_create_user_refuses_bad_input(database: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["create-user", "--email", "nope", "--name", "Ada", "--create"])
    assert "email" in str(exited.value.code)


def test_export_schema_prints_the_committed_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export-schema"]) == 0
    assert capsys.readouterr().out == (ROOT / "schema.graphql").read_text()


async def test_not_ready_but_alive_when_the_database_does_not_answer(tmp_path: Path) -> None:
    # given: a database file in a directory that does not exist
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'x.db'}",
        secret_key="k",
        _env_file=None,  # type: ignore[call-arg]
    )
    services = Services.create(settings)
    app = create_app(settings, services=services, migrate=False)
    # when
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        ready = await http.get("/readyz")
        alive = await http.get("/healthz")
    await services.engine.dispose()
    # then: readiness names the database; liveness does not depend on it
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "checks": {"database": "unavailable", "broadcast": "ok"}}
    assert alive.status_code == 200
