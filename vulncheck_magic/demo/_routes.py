"""The demo API's routes: from a received request to a status code and a JSON body.

Routes: ``GET /v3/index`` (the index list) and ``GET /v3/index/{name}`` (one page of an
index). Errors use VulnCheck's body ``{"error": true, "errors": ["<message>"]}``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from vulncheck_magic.demo._auth import (
    is_accepted,
    presented_tokens,
    redact_cookies,
    redact_headers,
    redact_query,
)
from vulncheck_magic.demo._data import DemoIndex, load_indexes
from vulncheck_magic.demo._query import QueryError, query_index

INDEX_LIST_PATH = "/v3/index"


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the demo server received it, kept in :attr:`DemoServer.requests`.

    ``path`` excludes the query string. ``query`` maps each parameter to all its values,
    blank values included. ``headers`` keeps the names as the client sent them, and the last
    value when a name repeats. The repr hides the token, but the fields hold it unchanged,
    so that tests can check where it travelled.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    cookies: dict[str, str]

    def __repr__(self) -> str:
        return (
            f"RecordedRequest(method={self.method!r}, path={self.path!r}, "
            f"query={redact_query(self.query)!r}, headers={redact_headers(self.headers)!r}, "
            f"cookies={redact_cookies(self.cookies)!r})"
        )


@dataclass(frozen=True)
class Response:
    """An HTTP status, a UTF-8 JSON body and any headers besides the content headers."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def handle_request(
    request: RecordedRequest, *, base_url: str, tokens: Iterable[str], started: float
) -> Response:
    """Route ``request`` and build its response.

    ``base_url`` goes into the index list's ``href`` values. ``started`` is the
    :func:`time.perf_counter` value at which the request arrived, for ``_benchmark``.
    """
    if request.method != "GET":
        return error_response(
            405,
            f"method {request.method} is not allowed: the demo API serves only GET requests",
            headers={"Allow": "GET"},
        )

    path = request.path.rstrip("/") or "/"
    if path != INDEX_LIST_PATH and not path.startswith(INDEX_LIST_PATH + "/"):
        return error_response(
            404,
            f"path {request.path!r} is not served by the demo API; "
            "it serves /v3/index and /v3/index/{name}",
        )

    candidates = presented_tokens(request.headers, request.query, request.cookies)
    if not is_accepted(candidates, tokens):
        return error_response(
            401,
            "missing or invalid API token: send it in the header 'Authorization: Bearer "
            "<token>', in the query parameter 'token' or in the cookie 'token'",
            headers={"WWW-Authenticate": 'Bearer realm="vulncheck-magic demo API"'},
        )

    indexes = load_indexes()
    if path == INDEX_LIST_PATH:
        return _index_list_response(indexes, base_url, started)

    name = unquote(path[len(INDEX_LIST_PATH) + 1 :])
    index = indexes.get(name)
    if index is None:
        served = ", ".join(sorted(indexes))
        return error_response(
            404, f"index '{name}' is not served by the demo API; it serves {served}"
        )
    return _index_page_response(index, request, started)


def _index_list_response(indexes: dict[str, DemoIndex], base_url: str, started: float) -> Response:
    data = [
        {
            "name": index.name,
            "description": index.description,
            "href": f"{base_url}{INDEX_LIST_PATH}/{index.name}",
        }
        for index in sorted(indexes.values(), key=lambda index: index.name)
    ]
    return json_response(200, {"_benchmark": _benchmark(started), "data": data})


def _index_page_response(index: DemoIndex, request: RecordedRequest, started: float) -> Response:
    params = {name: values[0] for name, values in request.query.items() if values}
    try:
        page = query_index(index, params)
    except QueryError as error:
        return error_response(400, str(error))

    # The records are already JSON, so only the envelope around them is encoded here.
    head = json.dumps({"_benchmark": _benchmark(started), "_meta": page.meta}, ensure_ascii=False)
    body = b"".join(
        (
            head[:-1].encode("utf-8"),
            b', "data": [',
            b", ".join(page.encoded_records),
            b"]}",
        )
    )
    return Response(200, body)


def _benchmark(started: float) -> float:
    return round(time.perf_counter() - started, 6)


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    """Encode ``payload`` as UTF-8 JSON."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return Response(status, body, headers or {})


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """Build VulnCheck's error body ``{"error": true, "errors": [message]}``."""
    return json_response(status, {"error": True, "errors": [message]}, headers)
