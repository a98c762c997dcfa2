"""Files that hold secrets are the owner's alone: the development key (made once, whatever number of processes
start together) and the SQLite database with the files SQLite keeps beside it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes.conftest import processes  # noqa: F401 (the fixture, shared with the process tests)
from tests.utils.processes import Processes

STARTS = 20
SAFETY_TIMEOUT = 120.0
"""Only bounds a broken test: twenty interpreters starting on a busy machine are slow."""
PRINT_DEV_SECRET = """
import sys
from meetgraph.settings import Settings
settings = Settings(_env_file=None)
print("ready", flush=True)
sys.stdin.read()  # all of them wait on one pipe, and go at once when the test closes it
print(settings.resolved_secret_key())
"""


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MEETGRAPH_")}


@pytest.mark.parametrize("round_", range(3))
def test_twenty_first_starts_at_once_agree_on_one_owner_only_dev_secret(tmp_path: Path, round_: int) -> None:
    """(In three rounds: before the fix, some rounds had two keys, some one.)"""
    # given: twenty processes in a directory without a development key, each waiting on the same pipe
    gate, release = os.pipe()
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", PRINT_DEV_SECRET],
            cwd=tmp_path,
            env=_env(),
            stdin=gate,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(STARTS)
    ]
    os.close(gate)
    for start in starts:
        assert start.stdout is not None and start.stdout.readline() == "ready\n"
    # when: all let go at once (the pipe's end of file wakes every one)
    os.close(release)
    outcomes = [start.communicate(timeout=SAFETY_TIMEOUT) for start in starts]
    # then
    assert [start.returncode for start in starts] == [0] * STARTS, [err for _, err in outcomes]
    keys = {out.strip() for out, _ in outcomes}  # what each printed after "ready"
    secret = tmp_path / ".meetgraph-dev-secret"
    assert keys == {secret.read_text().strip()} and len(keys.pop()) >= 48
    assert _mode(secret) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [secret.name]  # no drafts left behind


def test_a_dev_secret_left_readable_by_an_earlier_version_is_made_owner_only(tmp_path: Path) -> None:
    # given
    secret = tmp_path / ".meetgraph-dev-secret"
    secret.write_text("an-earlier-dev-key")
    secret.chmod(0o644)
    # when
    run = subprocess.run(
        [sys.executable, "-c", PRINT_DEV_SECRET], cwd=tmp_path, env=_env(), input="", capture_output=True, text=True
    )
    # then
    assert run.stdout.split() == ["ready", "an-earlier-dev-key"]
    assert _mode(secret) == 0o600


async def test_migrate_creates_an_owner_only_database(processes: Processes) -> None:  # noqa: F811
    # when
    migrated = await processes.cli("migrate")
    # then
    assert migrated.returncode == 0, migrated.stderr
    assert _mode(_database(processes)) == 0o600


async def test_a_serving_database_and_its_wal_and_shm_files_are_owner_only(processes: Processes) -> None:  # noqa: F811
    # given: a database an earlier version made readable by others
    await processes.cli("migrate")
    database = _database(processes)
    database.chmod(0o644)
    # when: a server runs on it (its WAL and shared-memory files exist while it does)
    server = await processes.server().start()
    async with server.client() as http:
        assert (await http.get("/healthz")).status_code == 200
    # then
    files = [database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")]
    assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}


def _database(made: Processes) -> Path:
    return Path(made.database_url.removeprefix("sqlite+aiosqlite:///"))
