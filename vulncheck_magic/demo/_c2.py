"""``/v3/tags/vulncheck-c2`` and ``/v3/pdns/vulncheck-c2``: synthetic C2 lists.

The demo has no C2 intelligence. Its IP addresses come from the documentation ranges of
RFC 5737 (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) and its hostnames from the
``.example`` top-level domain of RFC 2606, so that no entry can name a real host.
"""

from __future__ import annotations

from vulncheck_magic.demo._http import (
    HandlerContext,
    Response,
    error_response,
    json_response,
    text_response,
)

DEMO_C2_IPS = (
    "192.0.2.17",
    "192.0.2.84",
    "198.51.100.23",
    "198.51.100.142",
    "203.0.113.5",
    "203.0.113.77",
    "203.0.113.201",
)
DEMO_C2_HOSTNAMES = (
    "beacon.c2-demo.example",
    "cdn-sync.c2-demo.example",
    "login-update.example",
    "panel.c2-demo.example",
    "telemetry-check.example",
)
TEXT_FORMATS = ("txt", "text")


def _serve_list(context: HandlerContext, items: tuple[str, ...]) -> Response:
    requested = context.request.first_values().get("format", "")
    text_format = requested.lower() or TEXT_FORMATS[0]
    if text_format in TEXT_FORMATS:
        return text_response(list(items))
    if text_format == "json":
        return json_response(200, list(items))
    return error_response(400, f"invalid format {requested!r}: expected txt, text or json")


def serve_c2_ips(context: HandlerContext) -> Response:
    """``GET /v3/tags/vulncheck-c2``: one IP address per line, or a JSON list."""
    return _serve_list(context, DEMO_C2_IPS)


def serve_c2_hostnames(context: HandlerContext) -> Response:
    """``GET /v3/pdns/vulncheck-c2``: one hostname per line, or a JSON list."""
    return _serve_list(context, DEMO_C2_HOSTNAMES)
