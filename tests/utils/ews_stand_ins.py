"""Stand-ins for what a user's "EWS URL" really answers: a TLS server with a certificate from a private CA, an IIS or
OWA page, a redirect to OWA, servers that offer only Negotiate (Kerberos) or only modern auth (Bearer), an
Exchange Online style lockout (HTTP 456), and an EWS endpoint whose mailbox is being moved."""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulators.runner import serve_in_thread
from tests.utils.outbound import Canned

IIS_START_PAGE = (
    b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\r\n'
    b'<html xmlns="http://www.w3.org/1999/xhtml">\r\n<head>\r\n<meta http-equiv="Content-Type" '
    b'content="text/html; charset=iso-8859-1" />\r\n<title>IIS Windows Server</title>\r\n</head>\r\n<body>\r\n'
    b'<div id="container">\r\n<a href="http://go.microsoft.com/fwlink/?linkid=66138&amp;clcid=0x409">'
    b'<img src="iisstart.png" alt="IIS" width="960" height="600" /></a>\r\n</div>\r\n</body>\r\n</html>'
)
OWA_LOGIN_PAGE = (
    b'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">\r\n<html>\r\n<head>\r\n'
    b'<title>Outlook</title>\r\n</head>\r\n<body class="signInBg">\r\n'
    b'<form action="/owa/auth.owa" method="POST" name="logonForm" enctype="application/x-www-form-urlencoded" '
    b'autocomplete="off">\r\n<input type="hidden" name="destination" value="https://mail.example.com/owa/">\r\n'
    b'<input id="username" name="username" type="text"><input id="password" name="password" type="password">\r\n'
    b"</form>\r\n</body>\r\n</html>"
)
HTML = {"Content-Type": "text/html", "Server": "Microsoft-IIS/10.0", "X-Powered-By": "ASP.NET"}
NEGOTIATE_ONLY = {"WWW-Authenticate": "Negotiate", "Server": "Microsoft-IIS/10.0", "Content-Type": "text/html"}
BEARER_ONLY = {
    "WWW-Authenticate": (
        'Bearer client_id="00000002-0000-0ff1-ce00-000000000000", '
        'trusted_issuers="00000001-0000-0000-c000-000000000000@*", token_types="app_asserted_user_v1 '
        'service_asserted_app_v1", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
        'error="invalid_token"'
    ),
    "Content-Type": "text/html",
}
UNAUTHORIZED_PAGE = b"<html><head><title>401 - Unauthorized</title></head><body>Access is denied.</body></html>"


def iis_start_page() -> Canned:
    """An IIS server's default page: what the host name answers when the URL misses /EWS/Exchange.asmx."""
    return Canned(200, IIS_START_PAGE, HTML)


def owa_login_page() -> Canned:
    return Canned(200, OWA_LOGIN_PAGE, HTML)


def redirect_to_owa() -> Canned:
    """IIS on an Exchange server answering its root (and any unknown path) with a redirect to Outlook on the web."""
    return Canned(302, b"", {"Location": "/owa/", "Server": "Microsoft-IIS/10.0"})


def negotiate_only() -> Canned:
    """EWS with Windows authentication set to Negotiate (Kerberos) only: no NTLM or Basic challenge."""
    return Canned(401, UNAUTHORIZED_PAGE, NEGOTIATE_ONLY)


def bearer_only() -> Canned:
    """EWS that takes OAuth tokens only (Basic auth turned off), as Exchange Online or hybrid modern auth."""
    return Canned(401, UNAUTHORIZED_PAGE, BEARER_ONLY)


def bearer_only_with_diagnostics() -> Canned:
    """Bearer only, with the ms-diagnostics-public header exchangelib reads as "OAuth wanted" (it then crashed with
    a TypeError building OAuth from a password)."""
    return Canned(401, UNAUTHORIZED_PAGE, {**BEARER_ONLY, "ms-diagnostics-public": "Modern Auth Required"})


def account_locked() -> Canned:
    """Exchange Online's answer for a locked account: HTTP 456, the unlock page in the reason phrase (the EWS Managed
    API's AccountIsLockedException reads it from there)."""
    return Canned(456, b"", {"Content-Type": "text/html"})


class FailingOperation:
    """EWS in front of `app` whose next `times` requests of one SOAP operation (e.g. CreateItem) answer a
    ResponseClass="Error" message with `code` (e.g. ErrorMailboxMoveInProgress) instead of reaching it."""

    def __init__(self, app: ASGIApp, operation: str, code: str, times: int = 1) -> None:
        self.app, self.operation, self.code, self.remaining = app, operation, code, times
        self.failed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or self.remaining <= 0:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if not re.search(rb"<(?:\w+:)?" + self.operation.encode() + rb"[\s>]", body):
            await self.app(scope, _replay(body), send)
            return
        self.remaining -= 1
        self.failed += 1
        answer = error_response(self.operation, self.code).encode()
        headers = [(b"content-type", b"text/xml; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


def error_response(operation: str, code: str) -> str:
    """A SOAP answer to `operation` whose one response message is an error with `code`, as Exchange 2016 sends it."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>'
        '<h:ServerVersionInfo MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" MinorBuildNumber="6" '
        'Version="V2017_07_11" xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types" '
        'xmlns="http://schemas.microsoft.com/exchange/services/2006/types" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'
        "</s:Header>"
        '<s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        f'<m:{operation}Response xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
        'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages>'
        f'<m:{operation}ResponseMessage ResponseClass="Error">'
        "<m:MessageText>The mailbox is being moved. Try again later.</m:MessageText>"
        f"<m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
        f"</m:{operation}ResponseMessage></m:ResponseMessages></m:{operation}Response></s:Body></s:Envelope>"
    )


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


# TLS ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Certificates:
    """PEM files: a private CA, and a server certificate it signed for 127.0.0.1 and localhost."""

    ca: Path
    cert: Path
    key: Path


def private_ca(directory: Path) -> Certificates:
    """A CA of its own (as an on-prem AD Certificate Services) and a server certificate it issued."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example Corp Issuing CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.example.com")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    made = Certificates(ca=directory / "ca.pem", cert=directory / "server.pem", key=directory / "server.key")
    made.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    made.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    made.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return made


@contextmanager
def serve(app: ASGIApp, tls: Certificates | None = None) -> Iterator[str]:
    """Run `app` on a loopback port (over TLS with `tls`) until the block ends; yields its base URL."""
    if tls is None:
        with serve_in_thread(app) as url:
            yield url
        return
    with serve_in_thread(app, ssl_certfile=str(tls.cert), ssl_keyfile=str(tls.key)) as url:
        yield url
