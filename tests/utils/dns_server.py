"""A DNS server on loopback (UDP, a random port) serving the TXT records a test controls.

Runs its own asyncio loop in a thread, so the app under test resolves through the network exactly as it
would against a real resolver (`MEETGRAPH_DNS_NAMESERVERS=127.0.0.1:<port>`). Queries are parsed and
answered with dnspython's `dns.message`.

- a name in `txt` answers its TXT values (an empty list: the name exists, without TXT records);
- a name in `servfail` answers SERVFAIL, a name in `silent` gets no answer at all (the client times out);
- any other name is NXDOMAIN.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

START_TIMEOUT = 10.0


class DnsServer:
    def __init__(self) -> None:
        self.txt: dict[str, list[str]] = {}
        self.servfail: set[str] = set()
        self.silent: set[str] = set()
        self.queries: list[str] = []
        """Names asked for, in order (lower case, no final dot)."""
        self._held: list[tuple[bytes, tuple[str, int]]] = []
        self._hold_until = 0
        self._transport: asyncio.DatagramTransport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.port = 0

    @property
    def nameservers(self) -> str:
        """The value for MEETGRAPH_DNS_NAMESERVERS."""
        return f"127.0.0.1:{self.port}"

    def publish(self, name: str, *values: str) -> None:
        self.txt[_key(name)] = list(values)

    def reset(self) -> None:
        self.txt.clear()
        self.servfail.clear()
        self.silent.clear()
        self.queries.clear()
        self._held.clear()
        self._hold_until = 0

    def hold_answers(self, count: int) -> None:
        """Keep answers back until `count` queries have arrived, then send them all at once (for races)."""
        self._hold_until = count

    def answer(self, wire: bytes) -> bytes | None:
        """The response to one query, or None to stay silent."""
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = _key(question.name.to_text())
        self.queries.append(name)
        if name in self.silent:
            return None
        if name in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif name not in self.txt:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.TXT and self.txt[name]:
            quoted = [f'"{value}"' for value in self.txt[name]]
            response.answer.append(
                dns.rrset.from_text_list(question.name, 60, dns.rdataclass.IN, dns.rdatatype.TXT, quoted)
            )
        return cast(bytes, response.to_wire())

    def _received(self, wire: bytes, sender: tuple[str, int]) -> None:
        assert self._transport is not None
        self._held.append((wire, sender))
        if len(self.queries) + len(self._held) < self._hold_until:
            return
        held, self._held = self._held, []
        for query, address in held:
            reply = self.answer(query)
            if reply is not None:
                self._transport.sendto(reply, address)

    def _serve(self, started: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop

        transport, _ = loop.run_until_complete(
            loop.create_datagram_endpoint(lambda: _Protocol(self), local_addr=("127.0.0.1", 0))
        )
        self._transport = cast(asyncio.DatagramTransport, transport)
        self.port = self._transport.get_extra_info("sockname")[1]
        started.set()
        try:
            loop.run_forever()
        finally:
            self._transport.close()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.server._received(data, addr)


def _key(name: str) -> str:
    return name.strip().lower().rstrip(".")


@contextmanager
def dns_server() -> Iterator[DnsServer]:
    """A running server on 127.0.0.1 (its port in `.port`), stopped on exit."""
    server = DnsServer()
    started = threading.Event()
    thread = threading.Thread(target=server._serve, args=(started,), name="test-dns", daemon=True)
    thread.start()
    assert started.wait(START_TIMEOUT), "the test DNS server did not start"
    try:
        yield server
    finally:
        server.stop()
        thread.join(START_TIMEOUT)
