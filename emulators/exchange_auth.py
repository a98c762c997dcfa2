"""IIS's authentication in front of EWS and autodiscover: Windows authentication (NTLM, checked by pyspnego's
acceptor) and Basic, each on when the emulator is configured with it, against Active Directory's lockout rules.

What the wire shows, as IIS sends it:
- a request without credentials: 401 with one WWW-Authenticate header per enabled scheme (`Negotiate`, `NTLM`,
  `Basic realm="..."`); clients such as exchangelib pick the scheme from these.
- NTLM authenticates the TCP connection: a NEGOTIATE token is answered 401 `WWW-Authenticate: NTLM <challenge>`,
  the AUTHENTICATE token on the same connection is checked and, when right, the request is served and every later
  request on that connection is served without credentials. A new connection starts over.
- A refused login (wrong password, unknown user, locked-out account) is a plain 401 carrying the same headers as a
  request without credentials: neither IIS nor Active Directory tells the client the account is locked.
Connections are told apart by the client's address and port (ASGI's `client`); uvicorn gives no connection id, so
an authenticated connection is forgotten when another connection opens on its port (a new NEGOTIATE starts over).
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
import threading
from collections import OrderedDict
from functools import cache
from pathlib import Path
from typing import TypeVar

import spnego
from spnego._ntlm_raw.crypto import ntowfv1
from spnego._ntlm_raw.messages import Authenticate
from spnego.exceptions import SpnegoError
from starlette.requests import Request
from starlette.responses import Response

from emulators.state import EmulatedAccount, EmulatorState

AUTH_SCHEMES = ("NTLM", "Basic")
"""What an Exchange emulator can be configured to accept (IIS's Windows authentication and Basic authentication)."""
NTLM_SIGNATURE = b"NTLMSSP\x00"
NEGOTIATE, AUTHENTICATE = 1, 3
V = TypeVar("V")
TRACKED_CONNECTIONS = 4096
"""Most connections whose NTLM state is kept (the oldest are forgotten: their next request is challenged again)."""


class _AcceptorStore:
    """pyspnego's NTLM acceptor reads the user's password hash from the file NTLM_USER_FILE names (a process-wide
    setting); each AUTHENTICATE is checked under one lock with that file holding exactly the login being checked."""

    def __init__(self) -> None:
        handle, name = tempfile.mkstemp(prefix="emulated-ntlm-", suffix=".users")
        os.close(handle)
        self.path = Path(name)
        self.lock = threading.Lock()
        os.environ["NTLM_USER_FILE"] = name

    def check(self, context: spnego.ContextProxy, token: bytes, login: str, password: str) -> bool:
        """Whether `token` (an AUTHENTICATE for `login`, "DOMAIN\\user" or "user@domain") proves `password`."""
        line = f"{login}:0:{'0' * 32}:{ntowfv1(password).hex().upper()}:[U]:LCT-00000000\n"
        with self.lock:
            self.path.write_text(line)
            try:
                context.step(token)
            except SpnegoError:
                return False
            finally:
                self.path.write_text("")
        return context.complete


@cache
def _acceptor_store() -> _AcceptorStore:
    return _AcceptorStore()


def find_login(state: EmulatorState, login: str) -> EmulatedAccount | None:
    """The account a login names: its email, or its email's local part, with or without a "DOMAIN\\" prefix."""
    name = login.split("\\")[-1].lower()
    for account in state.accounts.values():
        if name in (account.email.lower(), account.email.split("@")[0].lower()):
            return account
    return None


class ExchangeAuth:
    """Authenticates the requests of one emulated Exchange server with the configured schemes."""

    def __init__(self, state: EmulatorState, schemes: tuple[str, ...], realm: str) -> None:
        unknown = set(schemes) - set(AUTH_SCHEMES)
        if unknown or not schemes:
            raise ValueError(f"auth must be a non-empty choice of {AUTH_SCHEMES}, not {schemes}")
        self.state = state
        self.schemes = schemes
        self.realm = realm
        self._handshakes: OrderedDict[tuple[str, int], spnego.ContextProxy] = OrderedDict()
        self._authenticated: OrderedDict[tuple[str, int], str] = OrderedDict()
        if "NTLM" in schemes:
            _acceptor_store()

    def challenge(self) -> Response:
        """401 as IIS answers a request without (or with refused) credentials."""
        answer = Response(
            "401 - Unauthorized: Access is denied due to invalid credentials.", status_code=401, media_type="text/html"
        )
        if "NTLM" in self.schemes:
            answer.headers.append("WWW-Authenticate", "Negotiate")
            answer.headers.append("WWW-Authenticate", "NTLM")
        if "Basic" in self.schemes:
            answer.headers.append("WWW-Authenticate", f'Basic realm="{self.realm}"')
        return answer

    def authenticate(self, request: Request) -> EmulatedAccount | Response:
        """The account the request is authenticated as, or the 401 to answer instead."""
        connection = (request.client.host, request.client.port) if request.client else ("", 0)
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        scheme = scheme.lower()
        if scheme in ("ntlm", "negotiate") and "NTLM" in self.schemes:
            return self._ntlm(connection, scheme, value.strip())
        if scheme == "basic" and "Basic" in self.schemes:
            return self._basic(value.strip()) or self.challenge()
        if not scheme and connection in self._authenticated:
            account = self.state.account(self._authenticated[connection])
            if account is not None and not self.state.faults.revoked:
                return account
        return self.challenge()

    def _basic(self, encoded: str) -> EmulatedAccount | None:
        try:
            login, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        account = find_login(self.state, login)
        if account is None:
            return None
        return account if self._login(account, password == account.password) else None

    def _login(self, account: EmulatedAccount, password_ok: bool) -> bool:
        return account.record_login(password_ok and not self.state.faults.revoked, self.state.clock())

    def _ntlm(self, connection: tuple[str, int], scheme: str, encoded: str) -> EmulatedAccount | Response:
        try:
            token = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            return self.challenge()
        kind = int.from_bytes(token[8:12], "little") if token.startswith(NTLM_SIGNATURE) else 0
        if kind == NEGOTIATE:
            self._authenticated.pop(connection, None)
            context = spnego.server(protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm)
            challenge = context.step(token) or b""
            _remember(self._handshakes, connection, context)
            answer = Response(status_code=401, media_type="text/html")
            answer.headers["WWW-Authenticate"] = f"{'NTLM' if scheme == 'ntlm' else 'Negotiate'} " + (
                base64.b64encode(challenge).decode()
            )
            return answer
        pending = self._handshakes.pop(connection, None)
        if kind != AUTHENTICATE or pending is None:
            return self.challenge()
        message = Authenticate.unpack(token)
        login = f"{message.domain_name}\\{message.user_name}" if message.domain_name else (message.user_name or "")
        account = find_login(self.state, login)
        if account is None:
            return self.challenge()
        proven = not account.locked_out(self.state.clock()) and _acceptor_store().check(
            pending, token, login, account.password
        )
        if not self._login(account, proven):
            return self.challenge()
        _remember(self._authenticated, connection, account.email)
        return account


def _remember(table: OrderedDict[tuple[str, int], V], connection: tuple[str, int], value: V) -> None:
    table[connection] = value
    table.move_to_end(connection)
    while len(table) > TRACKED_CONNECTIONS:
        table.popitem(last=False)
