"""Outgoing email over SMTP (aiosmtplib); without MEETGRAPH_SMTP_URL mails are logged instead.

Mails are sent by durable jobs (resolvers/notify.py): `send` raises when the mail was not accepted, so the
job is retried; `MailRefused` when the server refused the recipient or message for good (5xx).
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

log = logging.getLogger("meetgraph.mail")


class MailRefused(Exception):
    """The SMTP server refused the mail permanently (5xx): sending it again cannot help."""


class Mailer:
    def __init__(self, smtp_url: str | None, sender: str, timeout: float = 60.0) -> None:
        self.smtp_url = smtp_url
        self.sender = sender
        self.timeout = timeout

    async def send(self, *, to: str, subject: str, body: str, message_id: str | None = None) -> None:
        """Send one plain-text mail; returns once the server accepted it, raises otherwise.

        `message_id` stays the same across retries, so a receiving server can tell a repeat apart.
        """
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        if message_id:
            message["Message-ID"] = message_id
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
                timeout=self.timeout,
            )
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPDataError) as exc:
            refusals = exc.recipients if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) else [exc]
            if all(500 <= getattr(refusal, "code", 0) < 600 for refusal in refusals):
                raise MailRefused(f"the SMTP server refused the mail to {to}: {exc}") from exc
            raise
