"""The demo API's routes: from a received request to a status code and a body.

``ROUTES`` lists every path and method the demo serves. Errors use VulnCheck's body
``{"error": true, "errors": ["<message>"]}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import unquote

from vulncheck_magic.demo._auth import is_accepted, presented_tokens
from vulncheck_magic.demo._backups import (
    BACKUP_DOWNLOAD_PREFIX,
    serve_backup,
    serve_backup_download,
    serve_backup_list,
)
from vulncheck_magic.demo._c2 import serve_c2_hostnames, serve_c2_ips
from vulncheck_magic.demo._cpe import serve_cpe, serve_cpe_search
from vulncheck_magic.demo._data import load_indexes
from vulncheck_magic.demo._http import (
    HandlerContext,
    RecordedRequest,
    Response,
    Route,
    error_response,
    json_response,
)
from vulncheck_magic.demo._openapi import build_openapi_document
from vulncheck_magic.demo._purl import serve_purl, serve_purls
from vulncheck_magic.demo._query import QueryError, query_index
from vulncheck_magic.demo._rules import serve_rules
from vulncheck_magic.demo._search import serve_cve_search

__all__ = ["ROUTES", "RecordedRequest", "Response", "error_response", "handle_request"]

INDEX_LIST_PATH = "/v3/index"
# Entitlement names are the demo's own: VulnCheck does not document its vocabulary.
DEMO_ROLE = "demo"


def _serve_index_list(context: HandlerContext) -> Response:
    indexes = load_indexes()
    data = [
        {
            "name": index.name,
            "description": index.description,
            "href": f"{context.base_url}{INDEX_LIST_PATH}/{index.name}",
        }
        for index in sorted(indexes.values(), key=lambda index: index.name)
    ]
    return json_response(200, {"_benchmark": context.benchmark(), "data": data})


def _serve_index_page(context: HandlerContext) -> Response:
    indexes = load_indexes()
    name = context.path_params["index"]
    index = indexes.get(name)
    if index is None:
        served = ", ".join(sorted(indexes))
        return error_response(
            404, f"index '{name}' is not served by the demo API; it serves {served}"
        )

    try:
        page = query_index(index, context.request.first_values())
    except QueryError as error:
        return error_response(400, str(error))

    # The records are already JSON, so only the envelope around them is encoded here.
    head = json.dumps({"_benchmark": context.benchmark(), "_meta": page.meta}, ensure_ascii=False)
    body = b"".join(
        (
            head[:-1].encode("utf-8"),
            b', "data": [',
            b", ".join(page.encoded_records),
            b"]}",
        )
    )
    return Response(200, body)


def _serve_entitlements(context: HandlerContext) -> Response:
    names = sorted(load_indexes())
    entitlements = [f"index:{name}" for name in names] + [f"backup:{name}" for name in names]
    return json_response(200, {"entitlements": {DEMO_ROLE: entitlements}})


def _serve_openapi(context: HandlerContext) -> Response:
    return json_response(200, build_openapi_document(ROUTES, context.base_url))


ROUTES: tuple[Route, ...] = (
    Route("GET", "/v3/index", _serve_index_list, "List the indexes", "index_get"),
    Route(
        "GET",
        "/v3/index/{index}",
        _serve_index_page,
        "Query one page of an index",
        "index_name_get",
        query_parameters=(
            "cve",
            "date",
            "pubStartDate",
            "pubEndDate",
            "lastModStartDate",
            "lastModEndDate",
            "updatedAtStartDate",
            "updatedAtEndDate",
            "page",
            "limit",
            "start_cursor",
            "cursor",
            "sort",
            "order",
        ),
    ),
    Route("GET", "/v3/backup", serve_backup_list, "List the indexes with a backup", "backup_get"),
    Route(
        "GET",
        "/v3/backup/{index}",
        serve_backup,
        "Describe the backup file of an index, with its download URL",
        "backup_index_get",
    ),
    Route(
        "GET",
        BACKUP_DOWNLOAD_PREFIX + "/{filename}",
        serve_backup_download,
        "Download a backup zip: the demo's stand-in for a pre-signed S3 URL, no token",
        "demo_backup_download",
        requires_token=False,
    ),
    Route(
        "GET",
        "/v3/purl",
        serve_purl,
        "Request vulnerabilities related to a PURL",
        "purl_get",
        query_parameters=("purl",),
        required_parameters=("purl",),
    ),
    Route(
        "POST",
        "/v3/purls",
        serve_purls,
        "Request vulnerabilities related to a JSON array of PURLs",
        "purls_post",
        json_body_schema={"type": "array", "items": {"type": "string"}},
    ),
    Route(
        "GET",
        "/v3/cpe",
        serve_cpe,
        "Return the CVEs associated with a CPE (2.2 URI or 2.3 formatted string)",
        "cpe_get",
        query_parameters=("cpe", "isVulnerable"),
        required_parameters=("cpe",),
    ),
    Route(
        "GET",
        "/v3/search/cpe",
        serve_cpe_search,
        "Return the CPEs, and their CVEs, that match CPE fields",
        "search_cpe_get",
        query_parameters=("part", "vendor", "product", "version", "isVulnerable", "page", "limit"),
    ),
    Route(
        "GET",
        "/v3/search/cve",
        serve_cve_search,
        "Search every index for a CVE",
        "search_cve_get",
        query_parameters=("cve", "page", "limit", "cursor", "start_cursor"),
        required_parameters=("cve",),
    ),
    Route(
        "GET",
        "/v3/tags/vulncheck-c2",
        serve_c2_ips,
        "List C2 IP addresses (demo: documentation addresses, not real C2)",
        "tags_vulncheck-c2_get",
        query_parameters=("format",),
    ),
    Route(
        "GET",
        "/v3/pdns/vulncheck-c2",
        serve_c2_hostnames,
        "List C2 hostnames (demo: .example names, not real C2)",
        "pdns_vulncheck-c2_get",
        query_parameters=("format",),
    ),
    Route(
        "GET",
        "/v3/rules/initial-access/{type}",
        serve_rules,
        "Return the initial-access detection rules for snort or suricata (demo rules)",
        "rules_initial-access_type_get",
    ),
    Route(
        "GET",
        "/v3/entitlements",
        _serve_entitlements,
        "Return the token's entitlements",
        "entitlements_get",
    ),
    Route(
        "GET",
        "/v3/openapi",
        _serve_openapi,
        "Return this OpenAPI document",
        "openapi_get",
        requires_token=False,
    ),
)


def _compile_path(template: str) -> re.Pattern[str]:
    """Turn ``/v3/backup/{index}`` into a regular expression with one group per segment."""
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(pattern)


_COMPILED_ROUTES = [(_compile_path(route.path), route) for route in ROUTES]


def handle_request(
    request: RecordedRequest, *, base_url: str, tokens: Iterable[str], started: float
) -> Response:
    """Route ``request`` and build its response.

    The checks run in this order: an unknown path is 404, a method the path does not
    serve is 405, and a missing or invalid token is 401 on every route that requires one.
    ``base_url`` goes into the links of responses. ``started`` is the
    :func:`time.perf_counter` value at which the request arrived, for ``_benchmark``.
    """
    path = request.path.rstrip("/") or "/"
    matches = [
        (match, route)
        for pattern, route in _COMPILED_ROUTES
        if (match := pattern.fullmatch(path)) is not None
    ]
    if not matches:
        return error_response(
            404,
            f"path {request.path!r} is not served by the demo API: "
            "GET /v3/openapi lists the paths it serves",
        )

    allowed = sorted({route.method for _, route in matches})
    selected = [(match, route) for match, route in matches if route.method == request.method]
    if not selected:
        return error_response(
            405,
            f"method {request.method} is not allowed on {path}: use {' or '.join(allowed)}",
            headers={"Allow": ", ".join(allowed)},
        )
    match, route = selected[0]

    if route.requires_token:
        candidates = presented_tokens(request.headers, request.query, request.cookies)
        if not is_accepted(candidates, tokens):
            return error_response(
                401,
                "missing or invalid API token: send it in the header 'Authorization: Bearer "
                "<token>', in the query parameter 'token' or in the cookie 'token'",
                headers={"WWW-Authenticate": 'Bearer realm="vulncheck-magic demo API"'},
            )

    path_params = {name: unquote(value) for name, value in match.groupdict().items()}
    context = HandlerContext(request, base_url, started, path_params)
    return route.handler(context)
