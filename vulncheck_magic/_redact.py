"""Redaction of API tokens in any text that could be shown, logged or saved.

Every path that can show a URL, a header, a cookie, a request or a server message passes the
text through :func:`redact` first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

__all__ = ["REDACTED", "mask_token", "redact"]

REDACTED = "***"

# A ``token`` parameter in a query string or a ``token`` cookie, whatever its value. This
# catches tokens that the caller did not pass in ``secrets``, such as one pasted into a URL.
_TOKEN_PAIR = re.compile(r"(?i)(?<![\w-])(token=)[^&#;\s'\"<>]+")
_BEARER = re.compile(r"(?i)(\bBearer\s+)[^\s'\",;]+")

# Shorter values are not searched for as plain text, because replacing every occurrence of
# a short string would mangle unrelated words. The patterns above still hide them.
_MIN_SECRET_LENGTH = 4


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


def mask_token(token: str) -> str:
    """Return a display form of a token: the first and last 4 characters, or all masked.

    Tokens shorter than 12 characters are masked completely, because 8 visible characters
    would be most of the token.
    """
    if len(token) < 12:
        return "*" * 8
    return f"{token[:4]}…{token[-4:]}"
