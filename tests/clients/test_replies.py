"""A gateway's reply that does not parse is a typed error, never a bare ValueError (which the
CLI would report as internal): clients/transport.py's Response.json and session._error."""

import pytest

from meshkit_web.clients.session import _error
from meshkit_web.clients.transport import Response
from meshkit_web.core.errors import EnvelopeFormatError


@pytest.mark.parametrize("body", [b"", b"<html>", b"\xff\xfe", b"[" * 100_000, b"{\"a\": 1"])
def test_a_reply_that_is_not_json_is_malformed(body):
    with pytest.raises(EnvelopeFormatError):
        Response(200, {}, body).json()


@pytest.mark.parametrize("status, body, code", [
    (400, b'{"error": "expired", "message": "gone"}', "expired"),
    (502, b"<html>bad gateway</html>", "unavailable"),
    (404, b"not json", "missing_metadata"),
    (418, b"[", "error"),
    (400, b'["no", "code"]', "error"),
    (400, b'{"message": "no code"}', "error"),
])
def test_an_error_reply_is_its_code_or_said_by_status(status, body, code):
    assert _error(Response(status, {}, body)).code == code
