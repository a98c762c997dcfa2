"""Outgoing email over SMTP (aiosmtplib); without MEETGRAPH_SMTP_URL mails are logged instead."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

log = logging.getLogger("meetgraph.mail")


class Mailer:
    def __init__(self, smtp_url: str | None, sender: str) -> None:
        self.smtp_url = smtp_url
        self.sender = sender

    async def send(self, *, to: str, subject: str, body: str) -> None:
        """Send one plain-text mail; failures are logged, never raised into the request."""
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        if not self.smtp_url:
            log.info("mail (no SMTP configured) to=%s subject=%r\n%s", to, subject, body)
            return
        url = urlsplit(self.smtp_url)
        options = parse_qs(url.query)
        try:
            await aiosmtplib.send(
                message,
                hostname=url.hostname or "localhost",
                port=url.port or (465 if url.scheme == "smtps" else 25),
                username=unquote(url.username) if url.username else None,
                password=unquote(url.password) if url.password else None,
                use_tls=url.scheme == "smtps",
                start_tls=True if options.get("starttls") == ["true"] else None,
                timeout=15,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            log.error("mail to %s failed: %s", to, exc)
