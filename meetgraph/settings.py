"""Configuration, read from MEETGRAPH_* environment variables (and a .env file)."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from providers.dns_txt import parse_nameservers
from providers.outbound import Endpoint, OutboundPolicy, normalized_host

log = logging.getLogger("meetgraph.settings")

DEV_SECRET_FILE = Path(".meetgraph-dev-secret")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEETGRAPH_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./meetgraph.db"
    admin_token: str | None = None
    secret_key: str | None = Field(default=None, repr=False)
    public_url: str = "http://127.0.0.1:8000"
    dashboard_url: str | None = None
    """Where the OAuth callback sends the browser; the server's own /oauth/done page when unset."""
    smtp_url: str | None = None
    email_from: str = "meetgraph <no-reply@meetgraph.local>"
    smtp_timeout_seconds: float = 60.0
    """How long the mailer waits for each SMTP reply; a mail whose reply is later is retried (and may then
    arrive twice, with the same Message-ID, if the server had taken it)."""
    broadcast_url: str = "memory://"

    google_client_id: str = "meetgraph-dev-google"
    google_client_secret: str = Field(default="meetgraph-dev-google-secret", repr=False)
    google_auth_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    google_token_url: str = "https://oauth2.googleapis.com/token"
    google_userinfo_url: str = "https://openidconnect.googleapis.com/v1/userinfo"
    google_api_url: str = "https://www.googleapis.com/calendar/v3"

    microsoft_client_id: str = "meetgraph-dev-microsoft"
    microsoft_client_secret: str = Field(default="meetgraph-dev-microsoft-secret", repr=False)
    microsoft_auth_url: str = "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
    microsoft_token_url: str = "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    microsoft_graph_url: str = "https://graph.microsoft.com/v1.0"

    exchange_autodiscover_url: str | None = None
    """Where to autodiscover when a connection gives no EWS URL; None uses exchangelib's DNS-based autodiscover."""

    oauth_state_ttl_seconds: int = 600

    run_workers: bool = True
    """`serve` runs the job workers in-process; false for web-only processes beside `meetgraph worker`."""
    job_concurrency: int = 4
    """Jobs one process runs at once."""
    job_poll_seconds: float = 1.0
    """How often an idle worker looks for jobs enqueued by other processes (its own wake it at once)."""
    job_lease_seconds: float = 30.0
    """A claimed job is someone else's to retry when its worker has not extended the claim for this long."""
    job_timeout_seconds: float = 120.0
    job_backoff_seconds: float = 2.0
    """First retry delay; doubled per attempt (with jitter) up to job_backoff_max_seconds."""
    job_backoff_max_seconds: float = 300.0
    job_retention_days: float = 7.0
    """DONE jobs are deleted after this long; FAILED ones are kept for operators."""
    mail_max_attempts: int = 12
    """With the default backoff, mails are retried for about 40 minutes of SMTP outage."""
    shutdown_grace_seconds: float = 20.0
    """On SIGTERM, running jobs get this long to finish; the rest go back to the queue."""
    max_query_depth: int = 12
    max_query_tokens: int = 2000
    max_aliases: int = 30
    max_subscriptions_per_connection: int = 5
    max_ws_connections_per_client: int = Field(default=50, ge=1)
    """WebSocket connections one client address may hold open at once (per process; anonymous ones included):
    more are refused at the handshake (429). Room for the visitors of one office sharing an address."""

    # --- hardening (issue 10); each owner module documents its use in the README's settings table ---
    max_body_bytes: int = 1_000_000
    """Largest HTTP request body accepted; bigger ones get 413 before they are read whole."""
    graphiql: bool = True
    """False turns off GraphiQL and answers introspection only to signed-in callers (production)."""
    log_format: str = "text"
    """`text` (human) or `json` (one object per line, for log shippers)."""
    dns_nameservers: str | None = None
    """`host:port,...`: resolvers for domain verification; the system's resolvers when unset."""
    exchange_private_networks: str = ""
    """`10.0.0.0/8,...`: private networks where user-given Exchange URLs may point (on-prem Exchange)."""
    secret_key_previous: str | None = Field(default=None, repr=False)
    """The key before a rotation: still decrypts stored credentials until `meetgraph rotate-secret` has run."""
    dns_timeout_seconds: float = 5.0
    """How long one domain verification waits for the DNS answer before telling the user to try again."""

    # --- Exchange as it really is (issue 11) ---
    exchange_ca_bundle: str | None = None
    """PEM file of CA certificates trusted for Exchange servers (an on-prem CA), besides the system's."""
    exchange_threads: int = 16
    """Worker threads of the Exchange executor (exchangelib is blocking); no other work shares them."""
    exchange_server_concurrency: int = 4
    """Most Exchange calls in flight to one EWS endpoint at a time; more wait (bounded) for a turn."""
    exchange_connect_timeout_seconds: float = 5.0
    """How long a TCP/TLS connect to an Exchange server may take before it counts as unreachable."""

    # --- calendar sync (issue 12) ---
    sync_poll_seconds: float = 120.0
    """How often calendars without push (POLL) are asked for changes; a POLL calendar is fresh for twice this."""
    sync_safety_net_seconds: float = 1800.0
    """How often pushed (PUSH) calendars are asked for changes anyway, in case a notification was lost."""
    sync_window_days: int = 90
    """The span a full sync stores, from a day before now: at least the 62 days a page can ask for, plus room
    so that the store is re-read in full only when its end comes within 62 days."""
    sync_renew_before_seconds: float = 3600.0
    """Push channels and subscriptions are renewed this long before the expiry the provider answered."""

    @field_validator("dns_nameservers")
    @classmethod
    def _nameservers_parse(cls, value: str | None) -> str | None:
        parse_nameservers(value)  # a bad entry stops the server at start, not at the first verification
        return value

    def resolved_dashboard_url(self) -> str:
        return self.dashboard_url or f"{self.public_url.rstrip('/')}/oauth/done"

    def resolved_secret_key(self) -> str:
        """The configured key, or a generated development key kept in a local file (with a warning)."""
        if self.secret_key:
            return self.secret_key
        key = _dev_secret(DEV_SECRET_FILE)
        log.warning(
            "MEETGRAPH_SECRET_KEY is not set: using the development key in %s; set a real key in production",
            DEV_SECRET_FILE,
        )
        return key

    @field_validator("exchange_private_networks")
    @classmethod
    def _networks_parse(cls, value: str) -> str:
        OutboundPolicy.parse(value)  # a typo stops the server at start, not a user's connect later
        return value

    def with_emulators(self, base_url: str) -> Settings:
        """These settings with every provider pointed at the emulators mounted under base_url, whose host:port
        (exactly that, plain http included) Exchange URLs may then reach."""
        parts = urlsplit(base_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        emulator = str(OutboundPolicy(endpoints=frozenset({Endpoint(normalized_host(parts.hostname or ""), port)})))
        allowed = ",".join(entry for entry in (self.exchange_private_networks, emulator) if entry)
        google = f"{base_url}/_emulators/google"
        microsoft = f"{base_url}/_emulators/microsoft"
        return self.model_copy(
            update={
                "google_auth_url": f"{google}/o/oauth2/v2/auth",
                "google_token_url": f"{google}/token",
                "google_userinfo_url": f"{google}/v1/userinfo",
                "google_api_url": f"{google}/calendar/v3",
                "microsoft_auth_url": f"{microsoft}/common/oauth2/v2.0/authorize",
                "microsoft_token_url": f"{microsoft}/common/oauth2/v2.0/token",
                "microsoft_graph_url": f"{microsoft}/v1.0",
                "exchange_autodiscover_url": f"{base_url}/_emulators/exchange/autodiscover/autodiscover.svc",
                "exchange_private_networks": allowed,
            }
        )


def _dev_secret(path: Path) -> str:
    """The development key in `path`, made on first use: written whole (mode 0600) to a file of this process's
    own, then hard-linked into place, which fails if it exists; so of processes starting together the first
    one wins, every one reads its key, and none reads a half-written file."""
    if not path.exists():
        draft = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_urlsafe(48))
                file.flush()
                os.fsync(file.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(draft, path)
        finally:
            draft.unlink()
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)  # made by an earlier version, readable by others
    return path.read_text().strip()
