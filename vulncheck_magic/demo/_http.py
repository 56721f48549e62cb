"""The request, response and route types shared by the demo API's handlers."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vulncheck_magic.demo._auth import redact_cookies, redact_headers, redact_query

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the demo server received it, kept in :attr:`DemoServer.requests`.

    ``path`` excludes the query string. ``query`` maps each parameter to all its values,
    blank values included. ``headers`` keeps the names as the client sent them, and the last
    value when a name repeats. ``body`` is None when the server did not read the body: a
    chunked body, or one larger than 1 MiB. The repr hides the token, but the fields hold it
    unchanged, so that tests can check where it travelled.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    cookies: dict[str, str]
    body: bytes | None = b""

    def __repr__(self) -> str:
        body = "None" if self.body is None else f"<{len(self.body)} bytes>"
        return (
            f"RecordedRequest(method={self.method!r}, path={self.path!r}, "
            f"query={redact_query(self.query)!r}, headers={redact_headers(self.headers)!r}, "
            f"cookies={redact_cookies(self.cookies)!r}, body={body})"
        )

    def first_values(self) -> dict[str, str]:
        """Return the first value of each query parameter."""
        return {name: values[0] for name, values in self.query.items() if values}


@dataclass(frozen=True)
class Response:
    """An HTTP status, a body, its content type and any other headers."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON_CONTENT_TYPE


@dataclass(frozen=True)
class HandlerContext:
    """The input of a route handler: the request and the values taken from its path.

    ``base_url`` is the server's own URL, for links in responses. ``started`` is the
    :func:`time.perf_counter` value at which the request arrived, for ``_benchmark``.
    """

    request: RecordedRequest
    base_url: str
    started: float
    path_params: dict[str, str] = field(default_factory=dict)

    def benchmark(self) -> float:
        """Return the seconds since the request arrived, as VulnCheck's ``_benchmark``."""
        return round(time.perf_counter() - self.started, 6)


Handler = Callable[[HandlerContext], Response]


@dataclass(frozen=True)
class Route:
    """One path and method of the demo API, with the facts its OpenAPI entry lists.

    ``path`` is an OpenAPI path template such as ``/v3/backup/{index}``. Each ``{name}``
    matches one path segment. ``operation_id`` is the VulnCheck SDK's name for the
    operation, or a ``demo_`` name for a path that only the demo serves.
    ``required_parameters`` lists the query parameters without which the route returns 400.
    """

    method: str
    path: str
    handler: Handler
    summary: str
    operation_id: str
    query_parameters: tuple[str, ...] = ()
    required_parameters: tuple[str, ...] = ()
    requires_token: bool = True
    json_body_schema: dict[str, Any] | None = None


def utc_timestamp(moment: datetime | None = None) -> str:
    """Format ``moment`` (default: now) like VulnCheck's ``_meta.timestamp``, in UTC."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    """Encode ``payload`` as UTF-8 JSON."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return Response(status, body, headers or {})


def text_response(lines: list[str]) -> Response:
    """Build a ``text/plain`` response with one line per item and a final newline."""
    body = "".join(f"{line}\n" for line in lines).encode("utf-8")
    return Response(200, body, content_type=TEXT_CONTENT_TYPE)


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """Build VulnCheck's error body ``{"error": true, "errors": [message]}``."""
    return json_response(status, {"error": True, "errors": [message]}, headers)


def parse_boolean(params: dict[str, str], name: str) -> bool:
    """Read a ``true``/``false`` query parameter (any case, default false) or raise ValueError."""
    text = params.get(name, "")
    if text.lower() in ("", "false"):
        return False
    if text.lower() == "true":
        return True
    raise ValueError(f"invalid {name} {text!r}: expected 'true' or 'false'")


def parse_count(params: dict[str, str], name: str, *, default: int, maximum: int) -> int:
    """Read a ``page`` or ``limit`` query parameter from 1 to ``maximum`` or raise ValueError."""
    text = params.get(name, "").strip()
    if not text:
        return default
    if re.fullmatch(r"\+?\d{1,9}", text) and 1 <= int(text) <= maximum:
        return int(text)
    raise ValueError(f"invalid {name} {text!r}: expected an integer from 1 to {maximum}")
