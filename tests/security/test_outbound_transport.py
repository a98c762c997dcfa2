"""The checked `requests` transport (providers/guarded_http.py) over real sockets: the policy holds at connect time,
for every redirect, on the address that was checked (no DNS rebinding), without environment proxies."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from emulators.runner import serve_in_thread
from providers.guarded_http import CheckedHTTPAdapter, checked_session, using
from providers.outbound import OutboundPolicy
from tests.utils.outbound import Canned, ConnectAttempts, listeners

PUBLIC = "93.184.215.14"


def _session() -> requests.Session:
    return checked_session(requests.Session(), CheckedHTTPAdapter(max_retries=0))


def test_without_a_policy_loopback_is_refused_before_connecting() -> None:
    with listeners(1) as (listener,), ConnectAttempts() as attempts, pytest.raises(requests.ConnectionError):
        _session().get(f"http://127.0.0.1:{listener.port}/", timeout=5)
    assert listener.accepted == 0 and attempts.addresses == []


def test_a_redirect_to_an_address_the_policy_refuses_is_not_followed() -> None:
    with listeners(1) as (inside,):
        with serve_in_thread(Canned.redirect(f"http://127.0.0.1:{inside.port}/EWS/Exchange.asmx")) as lure:
            policy = OutboundPolicy.parse(urlsplit(lure).netloc)
            # when
            with using(policy), pytest.raises(requests.ConnectionError):
                _session().get(f"{lure}/EWS/Exchange.asmx", timeout=5)
            # then
            assert inside.accepted == 0
            # and once the target is allowed too, the same redirect is followed (the check is what stopped it)
            with using(OutboundPolicy.parse(f"{urlsplit(lure).netloc},127.0.0.1:{inside.port}")):
                with pytest.raises(requests.ConnectionError):  # the listener hangs up
                    _session().get(f"{lure}/EWS/Exchange.asmx", timeout=5)
            assert inside.accepted == 1


def test_the_checked_address_is_the_one_connected_to(monkeypatch: pytest.MonkeyPatch) -> None:
    # given: a name that resolves to a public address first and to loopback afterwards (DNS rebinding)
    answers = iter([PUBLIC, "127.0.0.1"])
    lookups: list[str] = []

    def rebinding(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        lookups.append(host)
        address = next(answers)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with listeners(1) as (loopback,), ConnectAttempts() as attempts, using(OutboundPolicy()):
        # when: two connections to the same name
        for _ in range(2):
            with pytest.raises(requests.ConnectionError):
                _session().get(f"https://rebind.example:{loopback.port}/", timeout=5)
    # then: one lookup per connection; the first connected to the public address it checked (refused here by the
    # test, which lets nothing leave the machine), the second was refused before any connect
    assert lookups == ["rebind.example", "rebind.example"]
    assert attempts.addresses == [(PUBLIC, loopback.port)]
    assert loopback.accepted == 0


def test_environment_proxies_are_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    with listeners(2) as (target, proxy):
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        with using(OutboundPolicy.parse(f"127.0.0.1:{target.port}")), pytest.raises(requests.ConnectionError):
            _session().get(f"http://127.0.0.1:{target.port}/", timeout=5)
    assert target.accepted == 1 and proxy.accepted == 0
