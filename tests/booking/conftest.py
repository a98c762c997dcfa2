from __future__ import annotations

from collections.abc import Iterator

import pytest

from meetgraph.mail import Mailer
from meetgraph.services import Services
from tests.utils.mail import Mailbox, smtp_server


@pytest.fixture
def mailbox(services: Services) -> Iterator[Mailbox]:
    """A real SMTP server on loopback; the app's mailer sends to it."""
    with smtp_server() as box:
        services.settings.smtp_url = box.url
        services.mailer = Mailer(box.url, services.settings.email_from)
        yield box
