"""Keep credentials out of library logs: exchangelib's DEBUG logs print request headers, Basic auth included."""

from __future__ import annotations

import logging
import re

AUTHORIZATION_VALUE = re.compile(r"""((?:proxy-)?authorization['"]?\s*[:=]\s*['"]?)[^'"\r\n,}]+""", re.IGNORECASE)
LIBRARY_LOGGERS = ("exchangelib",)


class RedactAuthorization(logging.Filter):
    """Replaces the value of any Authorization header in a record's message with `[redacted]`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = AUTHORIZATION_VALUE.sub(r"\1[redacted]", message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


REDACT_AUTHORIZATION = RedactAuthorization()


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
        if REDACT_AUTHORIZATION not in logger.filters:
            logger.addFilter(REDACT_AUTHORIZATION)
