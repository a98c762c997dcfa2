"""Keep credentials out of every log line: Authorization headers, secret query parameters and JSON fields,
and meetgraph API tokens (`mg_...`).

uvicorn's access log prints each request line with its query string (an API token sent as `?token=`, the
OAuth callback's `?code=...&state=...`), exchangelib's DEBUG logs print request headers with Basic
credentials, and an exception's message may quote a token request's body. `RedactSecrets` rewrites a
record's message (and its formatted traceback) before any formatter sees it: it is attached to the root
logger's handlers by `meetgraph.logs.configure` (all loggers propagate there), and to the loggers of the
libraries that log headers by `install` (for an app embedded without `meetgraph serve`).
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"

SECRET_NAMES = r"access_token|refresh_token|id_token|client_secret|password|token|code|state"
"""Query parameters and JSON fields whose value is a credential (OAuth codes and states included)."""

AUTHORIZATION_VALUE = re.compile(
    r"""((?:proxy-)?authorization['"]?\s*[:=]\s*+['"]?+)(?!Bearer <token>)[^'"\r\n,}]+""", re.IGNORECASE
)
"""A header's value, unless it is the placeholder of the API's own hint (`Authorization: Bearer <token>`)."""
QUERY_PARAMETER = re.compile(rf"(?<![\w%-])({SECRET_NAMES})=[^&\s\"'#]*", re.IGNORECASE)
"""`name=value` in a query string or form body (`?code=..&state=..`), not `error_code=..`."""
JSON_FIELD = re.compile(rf"""(["'])({SECRET_NAMES})\1(\s*:\s*)(["'])(?:\\.|(?!\4).)*\4""", re.IGNORECASE)
"""`"token": "..."` in JSON or a Python dict's repr."""
ENCODED_JSON_FIELD = re.compile(rf"(%22({SECRET_NAMES})%22(?:%3A|:)(?:%20|\+)*%22)(?:(?!%22).)*%22", re.IGNORECASE)
"""The same, percent-encoded in a URL (GraphQL GET variables in the access log)."""
API_TOKEN = re.compile(r"\bmg_[A-Za-z0-9_-]{8,}")
LIBRARY_LOGGERS = ("exchangelib",)


def redact(text: str) -> str:
    text = AUTHORIZATION_VALUE.sub(rf"\1{REDACTED}", text)
    text = QUERY_PARAMETER.sub(rf"\1={REDACTED}", text)
    text = JSON_FIELD.sub(rf"\1\2\1\3\4{REDACTED}\4", text)
    text = ENCODED_JSON_FIELD.sub(rf"\1{REDACTED}%22", text)
    return API_TOKEN.sub(f"mg_{REDACTED}", text)


class RedactSecrets(logging.Filter):
    """Replaces credentials in a record's message and traceback with `[redacted]` (never drops a record)."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # formatters reuse exc_text: the traceback is formatted once, here, and redacted
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


REDACT_SECRETS = RedactSecrets()


def install() -> None:
    """Attach the filter to every logger of the libraries that log headers (idempotent).

    A logger's filters only see records logged on that logger itself, so each module logger gets it.
    """
    import exchangelib  # noqa: F401  (creates the library's module loggers)
    import exchangelib.autodiscover  # noqa: F401

    names = [
        name
        for name in list(logging.Logger.manager.loggerDict)
        if any(name == lib or name.startswith(f"{lib}.") for lib in LIBRARY_LOGGERS)
    ]
    for name in names:
        logger = logging.getLogger(name)
        if REDACT_SECRETS not in logger.filters:
            logger.addFilter(REDACT_SECRETS)
