"""`meetgraph` command line: serve, worker, jobs, migrate, rotate-secret, create-user, emulate, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import signal
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from meetgraph import logs
from meetgraph.settings import Settings


class _Server(uvicorn.Server):
    """uvicorn re-raises the SIGTERM or SIGINT it caught once its graceful shutdown is over, so the process ends
    as killed by the signal; here a finished graceful shutdown ends it with status 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {signum: signal.signal(signum, self.handle_exit) for signum in handled}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _serve(args: argparse.Namespace) -> int:
    from meetgraph.app import create_app

    settings = Settings()
    if args.emulators and settings.public_url == Settings.model_fields["public_url"].default:
        settings = settings.model_copy(update={"public_url": f"http://{args.host}:{args.port}"})
    app = create_app(settings, emulators=args.emulators)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        log_config=None,  # uvicorn's loggers propagate to the root handler set up by main (format, redaction)
        ws="websockets-sansio",
        ws_max_size=settings.max_body_bytes,  # one WebSocket message is bounded like one request body
        # on SIGTERM, requests in flight (and the jobs they run) get the grace, then are cancelled; the worker's
        # running jobs get it again in the shutdown that follows (JobQueue.stop)
        timeout_graceful_shutdown=max(1, math.ceil(settings.shutdown_grace_seconds)),
    )
    server = _Server(config)
    server.run()
    return 0 if server.started else 3


def _worker(args: argparse.Namespace) -> int:
    """Run job workers only (scale-out: any number beside `serve` processes with MEETGRAPH_RUN_WORKERS=false)."""
    from db.migrate import upgrade
    from meetgraph.services import Services
    from meetgraph.sync import Poller
    from resolvers.job_kinds import KINDS

    async def run() -> None:
        services = Services.create(Settings())
        services.jobs.register(KINDS)
        await upgrade(services.engine)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await services.start()
        services.jobs.start()
        poller = Poller(services)
        poller.start()
        logging.getLogger("meetgraph").info("worker %s running", services.jobs.name)
        try:
            await stop.wait()
        finally:
            await poller.stop()
            await services.stop()  # running jobs finish (bounded by shutdown_grace_seconds), the rest go back

    asyncio.run(run())
    return 0


def _jobs(args: argparse.Namespace) -> int:
    """List jobs for operators (pending and failed by default, with their last error), or retry failed ones."""
    from db.engine import make_engine, make_sessionmaker
    from db.models import JobState
    from meetgraph import jobs

    async def run() -> int:
        engine = make_engine(Settings().database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                if args.retry:
                    retried = await jobs.retry_failed(session, args.retry, datetime.now(UTC))
                    await session.commit()
                    print(f"{retried} job(s) queued again")
                    return 0 if retried else 1
                counts = await jobs.counts(session)
                states = (
                    [JobState(s.upper()) for s in args.state]
                    if args.state
                    else [JobState.PENDING, JobState.RUNNING, JobState.FAILED]
                )
                rows = await jobs.listing(session, states, limit=args.limit)
        finally:
            await engine.dispose()
        if args.json:
            print(json.dumps({"counts": counts, "jobs": [jobs.describe(job) for job in rows]}, indent=2))
            return 0
        print("  ".join(f"{state.lower()}={counts.get(state, 0)}" for state in JobState.__members__))
        for job in rows:
            line = f"{job.id}  {job.state.value:<8} {job.kind:<30} attempts={job.attempts}/{job.max_attempts}"
            line += f"  run_at={job.run_at.isoformat()}"
            print(line)
            if job.last_error:
                print(f"    last error: {job.last_error.splitlines()[-1][:300]}")
        return 0

    return asyncio.run(run())


def _migrate(_: argparse.Namespace) -> int:
    from db.engine import make_engine
    from db.migrate import upgrade

    async def run() -> None:
        engine = make_engine(Settings().database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    print("migrations applied", file=sys.stderr)
    return 0


def _rotate_secret(args: argparse.Namespace) -> int:
    """Re-encrypt stored credentials with MEETGRAPH_SECRET_KEY; then MEETGRAPH_SECRET_KEY_PREVIOUS can go."""
    from db.engine import make_engine, make_sessionmaker
    from meetgraph.crypto import CredentialCipher, previous_keys
    from meetgraph.rotation import rotate_credentials

    settings = Settings()
    if not settings.secret_key:
        print("error: rotate-secret needs MEETGRAPH_SECRET_KEY (the new key) to be set", file=sys.stderr)
        return 2
    cipher = CredentialCipher(settings.secret_key, previous_keys(settings.secret_key_previous))

    async def run() -> int:
        engine = make_engine(settings.database_url)
        try:
            rotation = await rotate_credentials(make_sessionmaker(engine), cipher, batch_size=args.batch_size)
        finally:
            await engine.dispose()
        if rotation.undecryptable:
            listed = ", ".join(str(i) for i in rotation.undecryptable[:10])
            print(
                f"error: {len(rotation.undecryptable)} stored credential(s) decrypt with neither MEETGRAPH_SECRET_KEY"
                f" nor MEETGRAPH_SECRET_KEY_PREVIOUS (connections {listed}{', ...' if len(rotation.undecryptable) > 10 else ''});"
                " set the key they were written with as MEETGRAPH_SECRET_KEY_PREVIOUS. Nothing was changed.",
                file=sys.stderr,
            )
            return 1
        print(
            f"re-encrypted={rotation.re_encrypted} already_current={rotation.already_current}"
            f" changed_meanwhile={rotation.changed_meanwhile}"
        )
        return 0 if rotation.changed_meanwhile == 0 else 3

    return asyncio.run(run())


CREATE_USER = """mutation($input: CreateUserInput!) { createUser(input: $input) {
  __typename ... on CreateUserSuccess { token user { id } } ... on Error { message } } }"""


def _create_user(args: argparse.Namespace) -> int:
    fields = {"email": args.email, "name": args.name, "timezone": args.timezone}
    if args.admin_token:
        response = httpx.post(
            f"{args.url or Settings().public_url}/graphql",
            json={"query": CREATE_USER, "variables": {"input": fields}},
            headers={"Authorization": f"Bearer {args.admin_token}"},
            timeout=30,
        )
        result = response.json()["data"]["createUser"]
        if result["__typename"] != "CreateUserSuccess":
            print(f"error: {result['message']}", file=sys.stderr)
            return 1
        user_id, token = result["user"]["id"], result["token"]
    else:
        user_id, token = asyncio.run(_create_user_in_database(fields, create=args.create))
    sys.stdout.write(f"user_id={user_id}\ntoken={token}\n")
    return 0


def _missing_sqlite_file(database_url: str) -> Path | None:
    """The SQLite file `database_url` names when it does not exist (None: it exists, or not SQLite)."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    path = Path(url.database).resolve()
    return None if path.exists() else path


async def _create_user_in_database(fields: dict[str, str], *, create: bool) -> tuple[str, str]:
    """Insert the user into the server's database: never a new SQLite file by mistake (the server, run
    elsewhere, would not know the token), and no dev secret (a token is stored as its hash)."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # stdout is the id and token, stderr only trouble
    from db.engine import make_engine, make_sessionmaker
    from db.migrate import upgrade
    from resolvers.users import NewUser, insert_user
    from scheduling.errors import UserError

    database_url = Settings().database_url
    missing = _missing_sqlite_file(database_url)
    if missing is not None and not create:
        raise SystemExit(
            f"error: there is no database at {missing}. Run create-user in the directory the server runs in "
            "(`make run` uses ./meetgraph.db), or set MEETGRAPH_DATABASE_URL to the server's database; "
            "--create makes a new database there."
        )
    engine = make_engine(database_url)
    try:
        await upgrade(engine)
        async with make_sessionmaker(engine)() as session:
            try:
                data = NewUser(email=fields["email"], name=fields["name"], timezone=fields["timezone"])
                user, token = await insert_user(session=session, data=data, now=datetime.now(UTC))
            except UserError as exc:
                raise SystemExit(f"error: {exc.message}") from None
            await session.commit()
        return str(user.id), token
    finally:
        await engine.dispose()


def _emulate(args: argparse.Namespace) -> int:
    from starlette.applications import Starlette

    from emulators.mount import emulator_mounts

    base = f"http://{args.host}:{args.port}"
    settings = Settings().with_emulators(base)
    app = Starlette(routes=emulator_mounts())
    print(
        json.dumps(
            {
                "MEETGRAPH_GOOGLE_AUTH_URL": settings.google_auth_url,
                "MEETGRAPH_GOOGLE_TOKEN_URL": settings.google_token_url,
                "MEETGRAPH_GOOGLE_USERINFO_URL": settings.google_userinfo_url,
                "MEETGRAPH_GOOGLE_API_URL": settings.google_api_url,
                "MEETGRAPH_MICROSOFT_AUTH_URL": settings.microsoft_auth_url,
                "MEETGRAPH_MICROSOFT_TOKEN_URL": settings.microsoft_token_url,
                "MEETGRAPH_MICROSOFT_GRAPH_URL": settings.microsoft_graph_url,
                "MEETGRAPH_EXCHANGE_AUTODISCOVER_URL": settings.exchange_autodiscover_url,
                "MEETGRAPH_EXCHANGE_PRIVATE_NETWORKS": settings.exchange_private_networks,
            },
            indent=2,
        ),
        file=sys.stderr,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, log_config=None)
    return 0


# Apollo Client's "generating possibleTypes automatically" query: every type with possibleTypes (the unions
# and interfaces) mapped to the names of its members.
POSSIBLE_TYPES_QUERY = "{ __schema { types { kind name possibleTypes { name } } } }"


def possible_types(introspection: dict[str, Any]) -> dict[str, list[str]]:
    """Apollo Client's `possibleTypes` map from the answer to POSSIBLE_TYPES_QUERY, sorted for stable diffs."""
    return {
        supertype["name"]: sorted(subtype["name"] for subtype in supertype["possibleTypes"])
        for supertype in sorted(introspection["__schema"]["types"], key=lambda t: str(t["name"]))
        if supertype["possibleTypes"]
    }


def _export_schema(args: argparse.Namespace) -> int:
    from graphql import build_schema as build_sdl
    from graphql import graphql_sync

    from schema import build_schema

    sdl = build_schema().as_str()
    if args.possible_types is not None:
        # introspect the SDL itself: the file then matches schema.graphql, whatever the server's extensions do
        result = graphql_sync(build_sdl(sdl), POSSIBLE_TYPES_QUERY)
        if result.errors or result.data is None:
            raise SystemExit(f"introspection failed: {result.errors}")
        with open(args.possible_types, "w", encoding="utf-8") as out:
            out.write(json.dumps(possible_types(result.data), indent=2) + "\n")
    sys.stdout.write(sdl + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        logs.configure(Settings().log_format)
    except ValueError as exc:  # pydantic's errors included: a setting the server cannot start with
        raise SystemExit(f"error: {exc}") from None
    parser = argparse.ArgumentParser(prog="meetgraph", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API (applies migrations first)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--emulators", action="store_true", help="mount and use the provider emulators")
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(run=_serve)

    worker = commands.add_parser(
        "worker", help="run job workers only (beside serve, for scale-out; applies migrations first)"
    )
    worker.set_defaults(run=_worker)

    jobs = commands.add_parser("jobs", help="list pending and failed jobs with their last error")
    jobs.add_argument("--state", action="append", choices=["pending", "running", "done", "failed"])
    jobs.add_argument("--limit", type=int, default=100)
    jobs.add_argument("--json", action="store_true")
    jobs.add_argument("--retry", nargs="+", metavar="JOB_ID", help="queue failed jobs again (or 'all-failed')")
    jobs.set_defaults(run=_jobs)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(run=_migrate)

    rotate = commands.add_parser(
        "rotate-secret",
        help="re-encrypt stored credentials with MEETGRAPH_SECRET_KEY (after a rotation; see the README)",
    )
    rotate.add_argument("--batch-size", type=int, default=200, help="rows per transaction")
    rotate.set_defaults(run=_rotate_secret)

    create = commands.add_parser("create-user", help="create a user and print its id and API token")
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--timezone", default="UTC")
    create.add_argument("--admin-token", help="create through a running server's API instead of the database")
    create.add_argument("--url", help="the running server (default MEETGRAPH_PUBLIC_URL)")
    create.add_argument(
        "--create", action="store_true", help="create the SQLite database when it does not exist (else refused)"
    )
    create.set_defaults(run=_create_user)

    emulate = commands.add_parser("emulate", help="run the Google, Microsoft and Exchange emulators")
    emulate.add_argument("--host", default="127.0.0.1")
    emulate.add_argument("--port", type=int, default=8900)
    emulate.add_argument("--log-level", default="info")
    emulate.set_defaults(run=_emulate)

    export = commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    export.add_argument(
        "--possible-types",
        metavar="FILE",
        help="also write Apollo Client's possibleTypes map (unions and interfaces -> member types) as JSON",
    )
    export.set_defaults(run=_export_schema)

    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
