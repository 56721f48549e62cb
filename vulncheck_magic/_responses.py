"""Turning HTTP responses into JSON envelopes or typed errors."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import requests

from ._errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    EntitlementError,
    NotFoundError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
)
from ._gc import gc_paused

__all__ = ["error_from_response", "parse_json_body", "summarize_body"]

_MAX_MESSAGE_CHARS = 300
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_HTML_HEADING = re.compile(r"<h1[^>]*>(.*?)</h1>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def _shorten(text: str) -> str:
    text = _SPACE.sub(" ", text).strip()
    if len(text) > _MAX_MESSAGE_CHARS:
        text = text[: _MAX_MESSAGE_CHARS - 1] + "…"
    return text


def _looks_like_html(text: str, content_type: str) -> bool:
    head = text[:512].lstrip().lower()
    return "html" in content_type.lower() or head.startswith(("<!doctype html", "<html"))


def summarize_body(response: requests.Response) -> list[str]:
    """Return the server's error messages from a response body of any kind.

    The VulnCheck error body ``{"error": true, "errors": [...]}`` gives its ``errors`` list,
    and the NVD-style ``{"message": ...}`` its message. An HTML page is summarised by its
    title or first heading and is never dumped. Plain text gives its first 300 characters.
    """
    text = response.text
    content_type = response.headers.get("Content-Type", "")
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            return [_shorten(str(item)) for item in errors]
        for key in ("message", "error", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return [_shorten(value)]
    if _looks_like_html(text, content_type):
        match = _HTML_TITLE.search(text) or _HTML_HEADING.search(text)
        title = _shorten(_TAG.sub("", match.group(1))) if match else ""
        return [f"an HTML page titled {title!r}" if title else "an HTML page with no title"]
    if text.strip():
        return [_shorten(text)]
    return []


def error_from_response(
    response: requests.Response,
    endpoint: str,
    *,
    index: str | None,
    clean: Callable[[str], str],
    suggest: Callable[[str], list[str]] | None = None,
    retries: int = 0,
) -> APIError:
    """Build the typed APIError for an error response.

    ``clean`` redacts the token from the server's text, in case the server echoed it.
    ``suggest`` returns close index names for a 400 or 404 on an index. ``retries`` is the
    number of retries made before this response; the message names it when it is not 0.
    """
    status = response.status_code
    messages = [clean(message) for message in summarize_body(response)]
    error_class: type[APIError]
    hint = ""
    if status == 400:
        error_class = BadRequestError
    elif status == 401:
        error_class = AuthenticationError
        hint = (
            "The API rejected the token (missing, invalid or expired): run %vulncheck login, "
            "or set VULNCHECK_API_TOKEN to a valid token."
        )
    elif status in (402, 403):
        error_class = EntitlementError
        hint = (
            "The token's plan may not include this index or endpoint: %vulncheck indexes "
            "lists the indexes it can read."
        )
    elif status == 404:
        error_class = NotFoundError
    elif status == 429:
        error_class = RateLimitError
        hint = "Too many requests: wait a minute and try again."
    elif status >= 500:
        error_class = ServerError
        hint = "The API failed on its side: try again later."
    else:
        error_class = APIError
    if status in (400, 404) and index and suggest is not None:
        names = suggest(index)
        if names:
            hint = f"Did you mean {' or '.join(names)}?"
        elif status == 404:
            hint = "Run %vulncheck indexes to list the indexes this server serves."
    if retries:
        tries = "1 retry" if retries == 1 else f"{retries} retries"
        hint = f"{hint} Gave up after {tries}; the last status was {status}.".strip()
    return error_class(status, endpoint, messages, index=index, hint=hint)


_HEAD_KEYS_BEFORE_META = 8
_JSON_WHITESPACE = re.compile(r"[ \t\n\r]*")
_HEAD_DECODER = json.JSONDecoder()


def peek_envelope_head(response: requests.Response) -> dict[str, Any] | None:
    """Return the keys that precede ``data`` in a JSON envelope, or None.

    VulnCheck writes ``_benchmark`` and ``_meta`` before ``data``, so the next cursor can be
    read from the first bytes of a page without decoding its records. Returns None when
    ``_meta`` is not among the first few keys or does not come before ``data``, or when the
    body does not start as a JSON object. The caller then decodes the whole body.
    """
    content = response.content
    encoding = (response.encoding or "utf-8").lower()
    if content[:64].lstrip()[:1] != b"{" or encoding not in ("utf-8", "utf8"):
        return None
    # The head is small: decoding a prefix spares a copy of a large body. A character cut
    # in two at the end of the prefix is dropped, and only matters if _meta reaches it.
    for size in (64 * 1024, len(content)):
        head = _read_head(content[:size].decode("utf-8", "ignore"))
        if head is not None or size >= len(content):
            return head
    return None


def _skip_space(text: str, position: int) -> int:
    match = _JSON_WHITESPACE.match(text, position)
    return match.end() if match else position


def _read_head(text: str) -> dict[str, Any] | None:
    head: dict[str, Any] = {}
    position = _skip_space(text, 0) + 1  # after the opening brace
    try:
        for _ in range(_HEAD_KEYS_BEFORE_META):
            key, position = _HEAD_DECODER.raw_decode(text, _skip_space(text, position))
            position = _skip_space(text, position)
            if not isinstance(key, str) or key == "data" or key in head:
                return None
            if text[position : position + 1] != ":":
                return None
            value, position = _HEAD_DECODER.raw_decode(text, _skip_space(text, position + 1))
            head[key] = value
            if key == "_meta":
                return head if isinstance(value, dict) else None
            position = _skip_space(text, position)
            if text[position : position + 1] != ",":
                return None
            position += 1
    except ValueError:
        return None
    return None


def parse_json_body(response: requests.Response, endpoint: str) -> Any:
    """Return the parsed JSON body of a 200 response; raise ResponseFormatError otherwise.

    An HTML page, a truncated body or a wrong content type each give a message that names
    the problem, instead of a failure deep inside pandas.
    """
    content_type = response.headers.get("Content-Type", "")
    text = response.text
    if _looks_like_html(text, content_type):
        summary = summarize_body(response)
        raise ResponseFormatError(
            f"The server responded to {endpoint} with {summary[0] if summary else 'an HTML page'} "
            "instead of JSON: check the base URL (%vulncheck status) or try again later."
        )
    try:
        with gc_paused():
            return json.loads(text)
    except ValueError as exc:
        size = len(response.content)
        # A body cut short fails at its very end, or inside a string that never closes.
        position = getattr(exc, "pos", -1)
        cut_short = position >= len(text.rstrip()) - 1 or "Unterminated string" in str(exc)
        what = "truncated" if cut_short else "not valid JSON"
        raise ResponseFormatError(
            f"The response body for {endpoint} is {what} ({size} bytes, content type "
            f"{content_type or 'missing'}, error at character {getattr(exc, 'pos', '?')}): "
            "try again, and check the base URL if it persists."
        ) from None
