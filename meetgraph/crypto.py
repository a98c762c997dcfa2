"""Credentials at rest: Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from MEETGRAPH_SECRET_KEY."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken


class CredentialCipher:
    def __init__(self, secret_key: str) -> None:
        digest = hashlib.sha256(b"meetgraph-credentials:" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def encrypt(self, data: Mapping[str, object]) -> str:
        return self._fernet.encrypt(json.dumps(dict(data), sort_keys=True).encode()).decode()

    def decrypt(self, token: str) -> dict[str, object]:
        try:
            value = json.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError) as exc:
            raise ValueError("stored credentials cannot be decrypted with this secret key") from exc
        if not isinstance(value, dict):
            raise ValueError("stored credentials are not an object")
        return value


def new_api_token() -> str:
    return "mg_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """API tokens are stored as SHA-256 digests; they are long random strings, so no salt is needed."""
    return hashlib.sha256(token.encode()).hexdigest()
