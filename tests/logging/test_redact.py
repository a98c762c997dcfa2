"""The redaction rules, directly: every place a credential sits in a log line, and what must stay readable."""

from __future__ import annotations

import io
import json
import logging
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meetgraph.log_redaction import RedactSecrets, redact
from meetgraph.logs import JsonFormatter

SECRET = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~/", min_size=6)
NAMES = st.sampled_from(
    ["access_token", "refresh_token", "id_token", "client_secret", "password", "token", "code", "state"]
)
PLACES = [
    lambda name, value: f'"GET /oauth/callback/google?{name}={value}&x=1 HTTP/1.1" 303',
    lambda name, value: f"grant_type=authorization_code&{name}={value}",
    lambda name, value: json.dumps({name: value, "expires_in": 3600}),
    lambda name, value: repr({name: value}),
    lambda name, value: "/graphql?variables=" + quote(json.dumps({name: value})),
    lambda name, value: f"headers: {{'Authorization': 'Bearer {value}', 'Accept': '*/*'}}",
    lambda name, value: f"Authorization: Basic {value}",
]


@given(name=NAMES, secret=SECRET, place=st.sampled_from(PLACES))
def test_a_credential_is_redacted_wherever_it_sits(name: str, secret: str, place: object) -> None:
    line = place(name, secret)  # type: ignore[operator]
    assert secret not in redact(line) and quote(secret, safe="") not in redact(line)


@given(secret=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=8))
def test_an_api_token_is_redacted_anywhere(secret: str) -> None:
    assert f"mg_{secret}" not in redact(f"user presented mg_{secret} twice")


@pytest.mark.parametrize(
    "line",
    [
        '127.0.0.1:5000 - "GET /graphql?query=%7B%20me%20%7B%20id%20%7D%20%7D&error_code=5&slug=intro HTTP/1.1" 200',
        "GRAPHQL_VALIDATION_FAILED: Cannot query field 'nope' on type 'Query'.",
        "UNAUTHENTICATED at me: Authentication required: send `Authorization: Bearer <token>`.",
        "worker jobs-1 running",
    ],
)
def test_lines_without_credentials_stay_as_they_are(line: str) -> None:
    assert redact(line) == line


def test_a_traceback_is_redacted_in_every_format() -> None:
    # given
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactSecrets())
    logger = logging.getLogger("tests.logging.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        # when
        try:
            raise RuntimeError("token endpoint refused code=4/SecretCode refresh_token=SecretRefresh")
        except RuntimeError:
            logger.exception("exchanging %s failed", "code=4/SecretCode")
    finally:
        logger.removeHandler(handler)
    # then
    entry = json.loads(stream.getvalue())
    assert "Traceback" in entry["exc_info"] and "RuntimeError" in entry["exc_info"]
    assert "SecretCode" not in stream.getvalue() and "SecretRefresh" not in stream.getvalue()
