from __future__ import annotations

from collections.abc import Iterator

import pytest

from meetgraph.mail import Mailer
from meetgraph.services import Services
from tests.utils.mail import SmtpServer, restartable_smtp_server

SMTP_TIMEOUT = 0.5
"""The mailer's wait for each SMTP reply in these tests: a slow server is one slower than this."""


@pytest.fixture
def smtp(services: Services) -> Iterator[SmtpServer]:
    """A real SMTP server on loopback that the test stops and starts again; the app's mailer sends to it."""
    with restartable_smtp_server() as server:
        services.settings.smtp_url = server.url
        services.settings.smtp_timeout_seconds = SMTP_TIMEOUT
        services.mailer = Mailer(server.url, services.settings.email_from, timeout=SMTP_TIMEOUT)
        yield server
