"""Redaction of API tokens and pre-signed URL credentials in any text that could be shown.

Every path that can show a URL, a header, a cookie, a request or a server message passes the
text through :func:`redact` first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, quote_plus

__all__ = ["REDACTED", "mask_token", "redact", "redact_signed_queries"]

REDACTED = "***"

# A ``token`` parameter in a query string or a ``token`` cookie, whatever its value. This
# catches tokens that the caller did not pass in ``secrets``, such as one pasted into a URL.
_TOKEN_PAIR = re.compile(r"(?i)(?<![\w-])(token=)[^&#;\s'\"<>]+")
_BEARER = re.compile(r"(?i)(\bBearer\s+)[^\s'\",;]+")

# Shorter values are not searched for as plain text, because replacing every occurrence of
# a short string would mangle unrelated words. The patterns above still hide them.
_MIN_SECRET_LENGTH = 4

# Query parameters that make a URL pre-signed: AWS SigV4 (S3), CloudFront signed URLs and
# Azure SAS tokens. A query string with any of them is a credential.
_SIGNING_PARAMETERS = frozenset(
    {
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "signature",
        "policy",
        "key-pair-id",
        "sig",
    }
)
_QUERY_STRING = re.compile(r"\?([^\s\"'#<>]*)")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with each secret, ``token=…`` pair and ``Bearer …`` value replaced by ***.

    Each secret is also matched in its percent-encoded forms, since a query-mode token travels
    URL-encoded.
    """
    for secret in secrets:
        if len(secret) < _MIN_SECRET_LENGTH:
            continue
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, REDACTED)
    text = _TOKEN_PAIR.sub(rf"\g<1>{REDACTED}", text)
    return _BEARER.sub(rf"\g<1>{REDACTED}", text)


def redact_signed_queries(text: str) -> str:
    """Return ``text`` with the whole query string of each pre-signed URL replaced by ***.

    A query string is pre-signed when one of its parameter names, compared without case, is a
    signing parameter such as ``X-Amz-Signature``, ``Signature`` or ``sig``. Other query strings
    are left as they are, so a log line keeps its non-secret parameters.
    """
    return _QUERY_STRING.sub(_mask_signed_query, text)


def _mask_signed_query(match: re.Match[str]) -> str:
    names = {name.lower() for name, _value in parse_qsl(match.group(1), keep_blank_values=True)}
    return f"?{REDACTED}" if names & _SIGNING_PARAMETERS else match.group(0)


def mask_token(token: str) -> str:
    """Return a display form of a token: the first and last 4 characters, or all masked.

    Tokens shorter than 12 characters are masked completely, because 8 visible characters
    would be most of the token.
    """
    if len(token) < 12:
        return "*" * 8
    return f"{token[:4]}…{token[-4:]}"
