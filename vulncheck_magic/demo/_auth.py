"""The demo API's token, the three places a client may send it, and its redaction."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator, Mapping
from urllib.parse import urlencode

DEMO_TOKEN = "vulncheck_demo_2e9c28c1a63bb2b49d5a244c592ea18a"
"""The token that a :class:`DemoServer` accepts unless it is given other tokens.

It is public, fixed and works only against the demo API.
"""

TOKEN_QUERY_PARAMETER = "token"
TOKEN_COOKIE = "token"
REDACTED = "***"


def presented_tokens(
    headers: Mapping[str, str],
    query: Mapping[str, list[str]],
    cookies: Mapping[str, str],
) -> Iterator[str]:
    """Yield every token a request carries: header, then query parameter, then cookie.

    The header may be ``Authorization: Bearer <token>`` or, as some clients send it, the
    bare token without a scheme.
    """
    for name, value in headers.items():
        if name.lower() == "authorization":
            scheme, _, credentials = value.strip().partition(" ")
            yield credentials.strip() if scheme.lower() == "bearer" else value.strip()
    yield from query.get(TOKEN_QUERY_PARAMETER, [])
    if TOKEN_COOKIE in cookies:
        yield cookies[TOKEN_COOKIE]


def is_accepted(candidates: Iterable[str], tokens: Iterable[str]) -> bool:
    """Return whether any candidate equals one of ``tokens``, compared in constant time."""
    accepted = [token.encode("utf-8") for token in tokens]
    return any(
        hmac.compare_digest(candidate.encode("utf-8"), token)
        for candidate in candidates
        if candidate
        for token in accepted
    )


def redact_query(query: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Return a copy of ``query`` with every ``token`` value replaced by ``***``."""
    return {
        name: [REDACTED] * len(values) if name == TOKEN_QUERY_PARAMETER else list(values)
        for name, values in query.items()
    }


def redacted_query_string(query: Mapping[str, list[str]]) -> str:
    """Rebuild a query string with every ``token`` value replaced by ``***``."""
    pairs = [(name, value) for name, values in redact_query(query).items() for value in values]
    return urlencode(pairs, safe="*")


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Return a copy of ``headers`` with the ``Authorization`` and ``Cookie`` values replaced.

    The whole ``Cookie`` header is replaced because it may carry the ``token`` cookie.
    """
    return {
        name: REDACTED if name.lower() in ("authorization", "cookie") else value
        for name, value in headers.items()
    }


def redact_cookies(cookies: Mapping[str, str]) -> dict[str, str]:
    """Return a copy of ``cookies`` with the ``token`` cookie's value replaced by ``***``."""
    return {name: REDACTED if name == TOKEN_COOKIE else value for name, value in cookies.items()}
