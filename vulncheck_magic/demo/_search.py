"""``GET /v3/search/cve``: the records of every demo index that contain a CVE.

NOTE: each hit's ``id`` is the CVE id and its ``score`` is 1.0. In the real API ``id`` is
the document id inside the index and ``score`` is the OpenSearch relevance score.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from typing import Any

from vulncheck_magic.demo._data import CVE_FORMAT, DemoIndex, Record, load_indexes
from vulncheck_magic.demo._http import (
    HandlerContext,
    Response,
    error_response,
    json_response,
    parse_boolean,
    parse_count,
    utc_timestamp,
)

DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
MAX_TOP_INDEXES = 10
HIT_SCORE = 1.0

_CVE_PATTERN = re.compile(r"CVE-\d{4}-\d{4,7}", re.IGNORECASE)
_CURSOR_VERSION = 1


def _records_with_cve(index: DemoIndex, cve: str) -> list[Record]:
    field = index.filters["cve"].field
    found = []
    for record in index.records:
        value = record.get(field)
        values = value if isinstance(value, list) else [value]
        if any(isinstance(item, str) and item.upper() == cve for item in values):
            found.append(record)
    return found


def _encode_cursor(cve: str, offset: int) -> str:
    text = json.dumps({"v": _CURSOR_VERSION, "cve": cve, "offset": offset}, sort_keys=True)
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str, cve: str) -> int:
    """Return the offset stored in ``cursor``, or raise ValueError."""
    invalid = ValueError(
        f"invalid cursor {cursor[:40]!r} for {cve}: pass the _meta.next_cursor of a previous "
        "response for the same cve unchanged, or start again with an empty cursor"
    )
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        document = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise invalid from None
    if not isinstance(document, dict) or document.get("v") != _CURSOR_VERSION:
        raise invalid
    offset = document.get("offset")
    if document.get("cve") != cve or type(offset) is not int or offset < 0:
        raise invalid
    return offset


def serve_cve_search(context: HandlerContext) -> Response:
    """``GET /v3/search/cve?cve=…``: one hit per record that contains the CVE.

    An empty ``cursor`` or ``start_cursor=true`` starts cursor paging, and ``page`` is
    then ignored.
    """
    params = context.request.first_values()
    cve = params.get("cve", "").strip()
    if not cve:
        return error_response(400, "missing cve parameter: give a CVE id such as CVE-2021-44228")
    if not _CVE_PATTERN.fullmatch(cve):
        return error_response(
            400, f"invalid cve {cve!r}: expected a CVE id in the format {CVE_FORMAT}"
        )
    cve = cve.upper()

    cursor = params.get("cursor", "")
    try:
        limit = parse_count(params, "limit", default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
        cursor_mode = "cursor" in context.request.query or parse_boolean(params, "start_cursor")
        if cursor:
            offset = _decode_cursor(cursor, cve)
        elif cursor_mode:
            offset = 0
        else:
            offset = (parse_count(params, "page", default=1, maximum=10**9) - 1) * limit
    except ValueError as error:
        return error_response(400, str(error))

    hits: list[dict[str, Any]] = []
    counts: list[dict[str, Any]] = []
    indexes = load_indexes()
    for name in sorted(indexes):
        records = _records_with_cve(indexes[name], cve)
        hits += [
            {"id": cve, "index": name, "score": HIT_SCORE, "source": record} for record in records
        ]
        if records:
            counts.append({"index": name, "doc_count": len(records)})
    counts.sort(key=lambda entry: -entry["doc_count"])

    selected = hits[offset : offset + limit]
    next_offset = offset + len(selected)
    meta: dict[str, Any] = {
        "cve": cve,
        "current_count": len(selected),
        "total_count": len(hits),
        "indices_with_hits": len(counts),
        "queried_index_count": len(indexes),
        "top_index_counts": counts[:MAX_TOP_INDEXES],
        "limit": limit,
        "next_cursor": _encode_cursor(cve, next_offset)
        if cursor_mode and next_offset < len(hits)
        else "",
        "timestamp": utc_timestamp(),
    }
    if not cursor_mode:
        # The API sets these two only in page mode.
        meta["page"] = offset // limit + 1
        meta["total_pages"] = math.ceil(len(hits) / limit)
    return json_response(200, {"_benchmark": context.benchmark(), "_meta": meta, "data": selected})
