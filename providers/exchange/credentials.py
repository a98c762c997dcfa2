"""What the user typed to connect an Exchange mailbox."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from exchangelib import Credentials


@dataclass(frozen=True)
class ExchangeCredentials:
    """What the user typed (ews_url filled in once resolved). Encrypted at rest by the caller."""

    email: str
    password: str = field(repr=False)
    username: str | None = None
    ews_url: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"email": self.email, "password": self.password, "username": self.username, "ews_url": self.ews_url}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ExchangeCredentials:
        def text(key: str) -> str | None:
            value = data.get(key)
            return str(value) if value is not None else None

        email, password = text("email"), text("password")
        if not email or password is None:
            raise ValueError("Exchange credentials need an email and a password")
        return cls(email=email, password=password, username=text("username"), ews_url=text("ews_url"))

    def ews_credentials(self) -> Credentials:
        return Credentials(username=self.username or self.email, password=self.password)
