"""Documents that fail, each in its own way, and the code each failure must carry."""

from __future__ import annotations

from typing import Any

SLOTS = """query($slug: String!, $start: DateTime!, $end: DateTime!) { schedulingPage(slug: $slug) {
  availableSlots(start: $start, end: $end) { start } } }"""
SETTINGS_OF_ME = "{ me { calendarSettings { pagesActive } } }"
"""Fails unexpectedly while a test has broken `resolvers.settings.settings_for`."""

CLIENT_MISTAKES: dict[str, tuple[str, dict[str, Any], str]] = {
    "syntax": ("{ me { id ", {}, "GRAPHQL_PARSE_FAILED"),
    "unknown field": ("{ nope }", {}, "GRAPHQL_VALIDATION_FAILED"),
    "invalid literal argument": (
        "{ schedulingPage(slug: 5) { name } }",
        {},
        "GRAPHQL_VALIDATION_FAILED",
    ),
    "variable of the wrong type": (
        SLOTS,
        {"slug": "x", "start": "tomorrow", "end": "2026-12-02T00:00:00Z"},
        "BAD_USER_INPUT",
    ),
    "missing variable": (SLOTS, {"slug": "x", "start": "2026-12-01T00:00:00Z"}, "BAD_USER_INPUT"),
    "window backwards": (
        SLOTS,
        {"slug": "PAGE", "start": "2026-12-02T00:00:00Z", "end": "2026-12-01T00:00:00Z"},
        "BAD_USER_INPUT",
    ),
    "anonymous": ("{ me { id } }", {}, "UNAUTHENTICATED"),
}
"""name: (document, variables, code); a variable "PAGE" stands for the slug of a page the test created."""
