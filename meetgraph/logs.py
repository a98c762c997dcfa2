"""Logging for `meetgraph serve`, `worker` and the other commands: one handler on the root logger, every
logger (the app's, uvicorn's, uvicorn.access, the libraries') propagating to it, secrets redacted.

`text` is for people; `json` (MEETGRAPH_LOG_FORMAT=json) writes each record as one JSON object per line
for log shippers. The standard library's `json` and `logging.Formatter` are all it takes, so no library
(python-json-logger would add a dependency for the same dozen lines).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

from meetgraph.log_redaction import REDACT_SECRETS

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
QUIET_LIBRARIES = ("exchangelib", "httpx", "httpcore")
"""exchangelib logs request headers (Basic credentials included) at DEBUG, httpx every request at INFO."""


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, RFC 3339), level, logger, message, and exc_info when present."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter()
    if log_format == "text":
        return logging.Formatter(TEXT_FORMAT)
    raise ValueError(f"MEETGRAPH_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {log_format!r}")


def configure(log_format: str = "text", *, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Replace the root logger's handlers with one redacting handler in `log_format`; route uvicorn's loggers
    to it (start uvicorn with `log_config=None` so it keeps them so)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(log_format))
    handler.addFilter(REDACT_SECRETS)
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
