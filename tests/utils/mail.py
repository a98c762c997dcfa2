"""A real SMTP server on loopback that the app's mailer sends to; the test reads what arrived.

`smtp_server()` yields the Mailbox of a server that runs for the whole block. `SmtpServer` is one the test
stops and starts again on the same port (an SMTP outage), and the Mailbox stages the server's faults:
refusals, and a reply to DATA held back longer than the client waits.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Mailbox:
    """Mails received by a real SMTP server on loopback (aiosmtpd, in its own thread)."""

    url: str = ""
    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    refuse_recipients: str | None = None
    """The answer to RCPT TO instead of 250, e.g. "550 5.1.1 No such user"."""
    refuse_data: str | None = None
    """The answer to the end of DATA instead of 250, e.g. "554 5.7.1 Message rejected"."""
    reply_delay: float = 0.0
    """Seconds the reply to DATA is held back (a slow server); the wait ends when the client hangs up."""
    keep_before_reply: bool = False
    """With a reply_delay: the server has taken the mail before its reply is late (it will be delivered
    even though the client never hears so); otherwise it keeps it only once it replies."""
    data_commands: int = 0

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.refuse_recipients:
            return self.refuse_recipients
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = message_from_bytes(envelope.original_content or b"")
        with self.lock:
            self.data_commands += 1
        if self.refuse_data:
            return self.refuse_data
        if self.keep_before_reply:
            self._keep(message)
        if self.reply_delay:
            await asyncio.sleep(self.reply_delay)  # aiosmtpd cancels this when the connection is lost
        if not self.keep_before_reply:
            self._keep(message)
        return "250 Message accepted for delivery"

    def _keep(self, message: Message) -> None:
        with self.lock:
            self.messages.append(message)

    def received(self) -> list[Message]:
        with self.lock:
            return list(self.messages)

    def to(self, address: str) -> list[Message]:
        return [m for m in self.received() if m["To"] == address]

    def by_message_id(self) -> Counter[str]:
        """How many times each Message-ID arrived."""
        return Counter(str(m["Message-ID"]) for m in self.received())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpServer:
    """An aiosmtpd server on a fixed loopback port that can be stopped (connections are refused) and
    started again on the same port, keeping its Mailbox."""

    def __init__(self, mailbox: Mailbox | None = None) -> None:
        self.mailbox = mailbox or Mailbox()
        self.port = _free_port()
        self.mailbox.url = f"smtp://127.0.0.1:{self.port}"
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return self.mailbox.url

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        if self._controller is None:
            controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
            controller.start()  # returns once the server answers on the port
            self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@contextmanager
def restartable_smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    with restartable_smtp_server() as server:
        yield server.mailbox
