"""MEETGRAPH_DNS_NAMESERVERS: `host:port,...` of IP addresses; a bad value stops the server at start."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from meetgraph.settings import Settings
from providers.dns_txt import parse_nameservers


@pytest.mark.parametrize(
    ("text", "servers"),
    [
        (None, []),
        ("", []),
        ("127.0.0.1:5353", [("127.0.0.1", 5353)]),
        ("9.9.9.9, 1.1.1.1:53", [("9.9.9.9", 53), ("1.1.1.1", 53)]),
        ("[::1]:5353,[2001:db8::53]", [("::1", 5353), ("2001:db8::53", 53)]),
        ("::1", [("::1", 53)]),
    ],
)
def test_nameservers_parse(text: str | None, servers: list[tuple[str, int]]) -> None:
    assert parse_nameservers(text) == servers


@pytest.mark.parametrize(
    "text", ["dns.example.com:53", "127.0.0.1:0", "127.0.0.1:70000", "127.0.0.1:x", "[::1", "[::1]x"]
)
def test_a_bad_nameserver_stops_the_settings(text: str) -> None:
    with pytest.raises(ValidationError, match="DNS nameserver"):
        Settings(dns_nameservers=text, _env_file=None)  # type: ignore[call-arg]


def test_the_environment_variable_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEETGRAPH_DNS_NAMESERVERS", "127.0.0.1:5353")
    assert parse_nameservers(Settings(_env_file=None).dns_nameservers) == [("127.0.0.1", 5353)]  # type: ignore[call-arg]
