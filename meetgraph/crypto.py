"""Credentials at rest: Fernet (AES-128-CBC + HMAC-SHA256) under keys derived from MEETGRAPH_SECRET_KEY.

During a key rotation the previous keys (MEETGRAPH_SECRET_KEY_PREVIOUS) still decrypt; everything is encrypted
with the current key, and `meetgraph rotate-secret` re-encrypts what the previous keys wrote."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class UndecryptableCredentials(ValueError):
    """Stored credentials that neither the current nor a previous secret key decrypts."""


def previous_keys(setting: str | None) -> list[str]:
    """MEETGRAPH_SECRET_KEY_PREVIOUS: one key, or several separated by commas (newest first)."""
    return [key.strip() for key in (setting or "").split(",") if key.strip()]


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"meetgraph-credentials:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


class CredentialCipher:
    def __init__(self, secret_key: str, previous: Sequence[str] = ()) -> None:
        self._current = _fernet(secret_key)
        self._any = MultiFernet([self._current, *(_fernet(key) for key in previous)])

    def encrypt(self, data: Mapping[str, object]) -> str:
        return self._current.encrypt(json.dumps(dict(data), sort_keys=True).encode()).decode()

    def decrypt(self, token: str) -> dict[str, object]:
        try:
            value = json.loads(self._any.decrypt(token.encode()))
        except (InvalidToken, ValueError) as exc:
            raise UndecryptableCredentials(
                "stored credentials cannot be decrypted with MEETGRAPH_SECRET_KEY"
                " (nor MEETGRAPH_SECRET_KEY_PREVIOUS): the key they were written with is not configured"
            ) from exc
        if not isinstance(value, dict):
            raise UndecryptableCredentials("stored credentials are not an object")
        return value

    def is_current(self, token: str) -> bool:
        """Whether the current key alone decrypts this token (nothing to re-encrypt)."""
        try:
            self._current.decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str:
        """The same credentials, encrypted with the current key (UndecryptableCredentials if no key reads them)."""
        try:
            return self._any.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise UndecryptableCredentials("stored credentials cannot be decrypted with any configured key") from exc


def new_api_token() -> str:
    return "mg_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """API tokens are stored as SHA-256 digests; they are long random strings, so no salt is needed."""
    return hashlib.sha256(token.encode()).hexdigest()
