"""The demo API's own OpenAPI document, built from its route table so that it cannot drift."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from vulncheck_magic._version import __version__
from vulncheck_magic.demo._http import Route

SECURITY_SCHEME = "Bearer"


def build_openapi_document(routes: Iterable[Route], base_url: str) -> dict[str, Any]:
    """Return an OpenAPI 3.1 document that lists every route, its parameters and its auth."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "vulncheck-magic demo API",
            "version": __version__,
            "description": (
                "An offline stand-in for part of the VulnCheck API v3, with real CISA KEV "
                "and NVD records. Values that the demo invents are named in _demo_synthetic "
                "or explained in _demo_note."
            ),
        },
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Bearer <token>; the query parameter or cookie 'token' "
                    "is accepted too",
                }
            }
        },
    }


def _operation(route: Route) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"\{(\w+)\}", route.path)
    ]
    parameters += [
        {
            "name": name,
            "in": "query",
            "required": name in route.required_parameters,
            "schema": {"type": "string"},
        }
        for name in route.query_parameters
    ]
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "parameters": parameters,
        "security": [{SECURITY_SCHEME: []}] if route.requires_token else [],
    }
    if route.json_body_schema is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": route.json_body_schema}},
        }
    return operation
