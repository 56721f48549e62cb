"""Filtering, sorting, offset paging and cursor paging of one demo index.

The rules follow the VulnCheck API v3 ``GET /v3/index/{name}`` endpoint: ``page`` and
``limit`` for offset paging up to ``max_pages``, ``start_cursor=true`` and then
``cursor=<_meta.next_cursor>`` for cursor paging, and parameters that an index does not
support are ignored rather than rejected.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from vulncheck_magic.demo._data import CVE_FORMAT, DATE_FORMAT, DemoIndex, FilterSpec, Record

DEFAULT_LIMIT = 100
# NOTE: the VulnCheck OpenAPI document gives limit a range of 1-100 (1-10 for large
# indexes). The demo accepts up to 1,000, so a limit that works here may be rejected or
# clamped by the real API.
MAX_LIMIT = 1000
MAX_PAGES = 6
DEFAULT_ORDER = "desc"

PAGING_PARAMETERS = ("page", "limit", "start_cursor", "cursor", "sort", "order")
# The token travels as a query parameter in the `query` auth mode; it is never a filter.
AUTH_PARAMETER = "token"

_CVE_PATTERN = re.compile(r"CVE-\d{4}-\d{4,7}", re.IGNORECASE)
_DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
_CURSOR_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
_CURSOR_VERSION = 1


class QueryError(Exception):
    """An invalid query: the server returns HTTP 400 with this message."""


@dataclass(frozen=True)
class QueryState:
    """Everything that selects and orders the matching records, as a cursor stores it."""

    filters: dict[str, str]
    sort: str
    order: str
    limit: int


@dataclass(frozen=True)
class Page:
    """One page of results: the ``_meta`` object and each record's JSON."""

    meta: dict[str, Any]
    encoded_records: list[bytes]


def query_index(index: DemoIndex, params: Mapping[str, str]) -> Page:
    """Select one page of ``index`` for the query parameters ``params``.

    ``params`` contains the first value of each query parameter. Raises QueryError for an
    invalid parameter value or cursor.
    """
    received_cursor = params.get("cursor", "")
    if received_cursor:
        state, offset = decode_cursor(index, received_cursor)
        if "limit" in params:
            state = QueryState(state.filters, state.sort, state.order, _parse_limit(params))
        cursor_mode = True
    else:
        state = QueryState(
            filters=_parse_filters(index, params),
            sort=_parse_sort(index, params),
            order=_parse_order(params),
            limit=_parse_limit(params),
        )
        cursor_mode = _parse_start_cursor(params)
        offset = 0 if cursor_mode else (_parse_page(params) - 1) * state.limit

    matching = _matching_positions(index, state)
    selected = matching[offset : offset + state.limit]
    total = len(matching)
    next_offset = offset + len(selected)

    next_cursor = ""
    if cursor_mode and next_offset < total:
        next_cursor = encode_cursor(index, state, next_offset)

    meta: dict[str, Any] = {
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "index": index.name,
        "limit": state.limit,
        "total_documents": total,
        "sort": state.sort,
        "order": state.order,
        "page": offset // state.limit + 1,
        "total_pages": math.ceil(total / state.limit),
        "max_pages": MAX_PAGES,
        "first_item": offset + 1 if selected else 0,
        "last_item": next_offset if selected else 0,
        "parameters": [spec.describe() for spec in index.filters.values()],
        "matches": [{"field": name, "value": value} for name, value in state.filters.items()],
        "cursor": received_cursor,
        "next_cursor": next_cursor,
    }
    warnings = _ignored_parameter_warnings(index, params)
    if warnings:
        meta["warnings"] = warnings

    return Page(meta, [index.encoded_records[position] for position in selected])


def _matching_positions(index: DemoIndex, state: QueryState) -> list[int]:
    positions = index.sorted_positions(state.sort, state.order)
    if not state.filters:
        return positions

    checks = [(index.filters[name], value) for name, value in state.filters.items()]
    records = index.records
    return [
        position
        for position in positions
        if all(_matches(records[position], spec, value) for spec, value in checks)
    ]


def _matches(record: Record, spec: FilterSpec, value: str) -> bool:
    field_value = record.get(spec.field)
    if spec.name == "cve":
        cves = field_value if isinstance(field_value, list) else [field_value]
        return any(isinstance(cve, str) and cve.upper() == value for cve in cves)

    if not isinstance(field_value, str):
        return False
    # Every date field contains an RFC 3339 or NVD timestamp, so its first ten
    # characters are the day and compare correctly as text.
    day = field_value[:10]
    if spec.filtering == "exact":
        return day == value
    if spec.bound == "start":
        return day >= value
    return day <= value


def _parse_filters(index: DemoIndex, params: Mapping[str, str]) -> dict[str, str]:
    filters: dict[str, str] = {}
    for name, spec in index.filters.items():
        if name in params:
            filters[name] = _validate_filter_value(spec, params[name])
    return filters


def _validate_filter_value(spec: FilterSpec, value: str) -> str:
    """Return the normalised filter value (upper-case CVE id) or raise QueryError."""
    if spec.name == "cve":
        if not _CVE_PATTERN.fullmatch(value):
            raise QueryError(f"invalid cve {value!r}: expected a CVE id in the format {CVE_FORMAT}")
        return value.upper()

    if _DATE_PATTERN.fullmatch(value):
        try:
            date.fromisoformat(value)
        except ValueError:
            pass
        else:
            return value
    raise QueryError(f"invalid {spec.name} {value!r}: expected a date in the format {DATE_FORMAT}")


def _parse_sort(index: DemoIndex, params: Mapping[str, str]) -> str:
    sort = params.get("sort", "") or index.default_sort
    if sort not in index.fields:
        raise QueryError(
            f"invalid sort {sort!r}: expected a top-level field of index '{index.name}', "
            f"such as {index.default_sort!r}"
        )
    return sort


def _parse_order(params: Mapping[str, str]) -> str:
    order = params.get("order", "") or DEFAULT_ORDER
    if order not in ("asc", "desc"):
        raise QueryError(f"invalid order {order!r}: expected 'asc' or 'desc'")
    return order


def _parse_limit(params: Mapping[str, str]) -> int:
    text = params.get("limit", "")
    if not text:
        return DEFAULT_LIMIT
    limit = _parse_int(text)
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"invalid limit {text!r}: expected an integer from 1 to {MAX_LIMIT}")
    return limit


def _parse_page(params: Mapping[str, str]) -> int:
    text = params.get("page", "")
    if not text:
        return 1
    page = _parse_int(text)
    if page is None or page < 1:
        raise QueryError(f"invalid page {text!r}: expected an integer from 1 to {MAX_PAGES}")
    if page > MAX_PAGES:
        raise QueryError(
            f"page {page} is beyond max_pages {MAX_PAGES} of offset paging: use cursor paging "
            "instead (start_cursor=true, then cursor=<_meta.next_cursor>)"
        )
    return page


def _parse_start_cursor(params: Mapping[str, str]) -> bool:
    text = params.get("start_cursor")
    if text is None or text.lower() == "false":
        return False
    if text.lower() == "true":
        return True
    raise QueryError(f"invalid start_cursor {text!r}: expected 'true'")


def _parse_int(text: str) -> int | None:
    return int(text) if re.fullmatch(r"[+-]?\d{1,9}", text.strip()) else None


def _ignored_parameter_warnings(index: DemoIndex, params: Mapping[str, str]) -> list[str]:
    """Return a warning for each parameter that the index ignores.

    The VulnCheck API ignores unsupported filters without a word. The demo ignores them
    too, but reports them in ``_meta.warnings``.
    """
    honoured = {*index.filters, *PAGING_PARAMETERS, AUTH_PARAMETER}
    return [
        f"parameter {name!r} is not supported by index '{index.name}' of the demo API "
        "and was ignored"
        for name in params
        if name not in honoured
    ]


def encode_cursor(index: DemoIndex, state: QueryState, offset: int) -> str:
    """Return an opaque cursor: URL-safe base64 (unpadded) of the query state as JSON."""
    document = {
        "v": _CURSOR_VERSION,
        "index": index.name,
        "offset": offset,
        "limit": state.limit,
        "sort": state.sort,
        "order": state.order,
        "filters": state.filters,
    }
    text = json.dumps(document, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(index: DemoIndex, cursor: str) -> tuple[QueryState, int]:
    """Return the query state and offset stored in ``cursor``, or raise QueryError."""
    invalid = QueryError(
        f"invalid cursor {_shorten(cursor)!r} for index '{index.name}': pass the "
        "_meta.next_cursor of a previous response unchanged, or start again with "
        "start_cursor=true"
    )
    if not _CURSOR_PATTERN.fullmatch(cursor):
        raise invalid
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        document = json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError):
        raise invalid from None
    if not isinstance(document, dict) or document.get("v") != _CURSOR_VERSION:
        raise invalid
    if document.get("index") != index.name:
        raise invalid

    offset = document.get("offset")
    limit = document.get("limit")
    sort = document.get("sort")
    order = document.get("order")
    filters = document.get("filters")
    if type(offset) is not int or offset < 0:
        raise invalid
    if type(limit) is not int or not 1 <= limit <= MAX_LIMIT:
        raise invalid
    if sort not in index.fields or order not in ("asc", "desc"):
        raise invalid
    if not isinstance(filters, dict) or not all(
        name in index.filters and isinstance(value, str) for name, value in filters.items()
    ):
        raise invalid

    try:
        checked = {
            name: _validate_filter_value(index.filters[name], value)
            for name, value in filters.items()
        }
    except QueryError:
        raise invalid from None
    return QueryState(checked, sort, order, limit), offset


def _shorten(text: str, max_length: int = 40) -> str:
    return text if len(text) <= max_length else text[:max_length] + "..."
