"""Validation and normalisation of query parameters before they reach the API."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from ._errors import VulnCheckError

__all__ = [
    "DATE_PARAMETERS",
    "InvalidParameterError",
    "normalize_cve",
    "normalize_index_params",
    "validate_index_name",
]

# Parameters whose value the API documents as a ``YYYY-MM-DD`` date.
DATE_PARAMETERS = frozenset(
    {
        "date",
        "pubStartDate",
        "pubEndDate",
        "lastModStartDate",
        "lastModEndDate",
        "updatedAtStartDate",
        "updatedAtEndDate",
    }
)

# ASCII digits only: \d would also accept Arabic-Indic and other Unicode digits.
_CVE_ID = re.compile(r"CVE-[0-9]{4}-[0-9]{4,}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INDEX_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class InvalidParameterError(VulnCheckError, ValueError):
    """A query parameter has a value that the API would reject or misread."""


def normalize_cve(value: str) -> str:
    """Return a CVE id trimmed and upper-cased; raise InvalidParameterError if malformed."""
    cve = value.strip().upper()
    if not _CVE_ID.fullmatch(cve):
        raise InvalidParameterError(
            f"invalid CVE id {value!r}: use the form CVE-YYYY-NNNN, for example CVE-2021-44228"
        )
    return cve


def _normalize_date(name: str, value: str) -> str:
    text = value.strip()
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError
        date.fromisoformat(text)
    except ValueError:
        raise InvalidParameterError(
            f"invalid date {value!r} for {name}: use YYYY-MM-DD, for example 2024-01-31"
        ) from None
    return text


def _normalize_positive_int(name: str, value: object) -> str:
    text = str(value).strip()
    number = int(text) if text.isascii() and text.lstrip("-").isdigit() else 0
    if number < 1:
        raise InvalidParameterError(f"invalid {name} {value!r}: use a whole number of at least 1")
    return str(number)


def validate_index_name(name: str) -> str:
    """Return the index name trimmed; raise InvalidParameterError if it cannot be a name."""
    text = name.strip()
    if not _INDEX_NAME.fullmatch(text):
        raise InvalidParameterError(
            f"invalid index name {name!r}: index names are like vulncheck-kev or nist-nvd2 "
            "(run %vulncheck indexes for the list)"
        )
    return text


def normalize_index_params(params: Mapping[str, object]) -> dict[str, str]:
    """Return the parameters as wire strings, dropping None; raise on invalid values.

    CVE ids are upper-cased and checked, dates must be ``YYYY-MM-DD``, ``page`` and ``limit``
    must be at least 1, ``order`` must be ``asc`` or ``desc``, and booleans go on the wire as
    ``true``/``false``. The parameter ``token`` is rejected, because the token is never a
    parameter: it comes from the token store.
    """
    wire: dict[str, str] = {}
    for name, value in params.items():
        if value is None:
            continue
        if name == "token":
            raise InvalidParameterError(
                "the token is not a query parameter: use %vulncheck login or VULNCHECK_API_TOKEN, "
                "and --auth query to send it in the query string"
            )
        if name == "cursor" and not str(value).strip():
            raise InvalidParameterError(
                "invalid cursor '': give the next_cursor of an earlier response, or leave "
                "out the cursor to start from the first page"
            )
        if isinstance(value, bool):
            wire[name] = "true" if value else "false"
        elif name == "cve":
            wire[name] = normalize_cve(str(value))
        elif name in DATE_PARAMETERS:
            wire[name] = _normalize_date(name, str(value))
        elif name in ("page", "limit"):
            wire[name] = _normalize_positive_int(name, value)
        elif name == "order":
            order = str(value).strip().lower()
            if order not in ("asc", "desc"):
                raise InvalidParameterError(f"invalid order {value!r}: use asc or desc")
            wire[name] = order
        else:
            wire[name] = str(value)
    _check_ranges(wire)
    if "page" in wire and ("cursor" in wire or "start_cursor" in wire):
        raise InvalidParameterError(
            "page cannot be combined with cursor paging: use either page (offset paging) or "
            "start_cursor and cursor"
        )
    return wire


_DATE_RANGES = (
    ("pubStartDate", "pubEndDate"),
    ("lastModStartDate", "lastModEndDate"),
    ("updatedAtStartDate", "updatedAtEndDate"),
)


def _check_ranges(wire: Mapping[str, str]) -> None:
    for start, end in _DATE_RANGES:
        if start in wire and end in wire and wire[start] > wire[end]:
            raise InvalidParameterError(
                f"invalid date range: {start} {wire[start]} is after {end} {wire[end]}; "
                "swap the two dates"
            )
