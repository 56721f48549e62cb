"""Conversion of VulnCheck JSON records into pandas DataFrames."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pandas.api.types import infer_dtype

__all__ = ["SCALAR_COLUMN", "flatten_records", "frame_from_rows", "records_to_frame"]

SCALAR_COLUMN = "value"
"""Column name used for records that are not JSON objects (``/v3/cpe`` returns CVE id strings)."""

# A date, or a date and time with an optional fraction (up to nanoseconds) and zone. Every
# form it matches is one that pd.to_datetime(format="ISO8601") reads, so a column with any
# other string is left alone before the slower parse runs.
_ISO_DATE_PATTERN = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?"
    r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?"
)
_ISO_DATE_RE = re.compile(_ISO_DATE_PATTERN)
_UTC_NANOSECONDS = "datetime64[ns, UTC]"


@dataclass(frozen=True)
class _KeyPath:
    """Column key for a path in which some key contains a dot, named once all records are read."""

    parts: tuple[str, ...]


def records_to_frame(
    records: Sequence[Mapping[str, Any]] | Sequence[Any], *, parse_dates: bool = True
) -> pd.DataFrame:
    """Build a DataFrame with one row per record of a VulnCheck response's ``data`` list.

    Flattening:

    - Nested JSON objects become dotted columns at any depth: ``{"timeline": {"nvd_published":
      ...}}`` gives the column ``timeline.nvd_published``. An empty object adds no column.
    - Lists stay whole in one cell: a list of scalars as a Python list, a list of objects as a
      list of dicts. Nothing is exploded into extra rows.
    - Columns appear in the order in which their keys first appear across the records. A key
      missing from a record gives a missing value (NaN or None) in that row. Keys are kept
      verbatim, so ``_timestamp``, ``url_us-east-1`` and keys with spaces or non-ASCII letters
      are column names as they are.
    - A key that contains a dot keeps its name unless another path joins to the same dotted
      name. Then the path with the most parts keeps the plain name (nested objects win over
      literal dots), and every other colliding path is written with each dotted key in square
      brackets: ``{"a.b": 1, "a": {"b": 2}}`` gives ``a.b`` = 2 and ``[a.b]`` = 1. When no
      single path has the most parts, all colliding paths get the bracketed form.
    - A record that is not a JSON object (a string, number, list or null) goes into one column
      named ``value``. A list of CVE id strings therefore becomes a one-column frame. If object
      records are mixed in, they are flattened as usual and share that column when they have a
      ``value`` key.

    An empty ``records`` gives an empty frame with 0 rows and 0 columns.

    Dates: with ``parse_dates``, each column whose non-null values are all strings in an
    ISO-8601 date or timestamp form (``2021-12-10``, ``2021-12-10T10:15:09.143``,
    ``2026-10-20T14:02:11.519874302Z``, ``...+00:00``) becomes ``datetime64[ns, UTC]``.
    Timestamps without a zone are taken as UTC, which is how NVD writes them. An empty string
    counts as a missing date and becomes NaT, because VulnCheck writes ``""`` for "no date".
    A column with any other string, a column of numbers and an all-null or all-empty column
    keep their values.

    Raises ``TypeError`` when ``records`` is a string, bytes or a single mapping, because those
    are almost always an envelope or one record passed by mistake.
    """
    if isinstance(records, str | bytes | bytearray | Mapping):
        raise TypeError(
            f"Invalid records: expected a list, got {type(records).__name__}. "
            "Pass the envelope's 'data' list, or wrap a single record in a list."
        )
    return frame_from_rows(flatten_records(records), parse_dates=parse_dates)


def flatten_records(records: Sequence[Any]) -> list[dict[Any, Any]]:
    """Flatten each record into one row dict, the first step of :func:`records_to_frame`.

    Cursor paging flattens each page as it arrives, while the next page downloads, and
    builds the frame from all rows at the end with :func:`frame_from_rows`.
    """
    return [_flatten_record(record) for record in records]


def frame_from_rows(rows: list[dict[Any, Any]], *, parse_dates: bool = True) -> pd.DataFrame:
    """Build the frame from rows made by :func:`flatten_records`: names and dates as above."""
    if not rows:
        return pd.DataFrame()
    try:
        frame = pd.DataFrame(rows)
    except UnicodeEncodeError:
        # JSON can carry a lone surrogate (the escape \ud800), which pandas cannot store
        # when its strings are Arrow-backed. Such characters become U+FFFD; other rows are
        # never rescanned, because the fallback runs only after this failure.
        frame = pd.DataFrame(_replace_surrogates(rows))
    if any(isinstance(column, _KeyPath) for column in frame.columns):
        frame.columns = _resolve_column_names(list(frame.columns))
    if parse_dates:
        _convert_date_columns(frame)
    return frame


_SURROGATE = re.compile("[\ud800-\udfff]")


def _replace_surrogates(value: Any) -> Any:
    """Return ``value`` with every lone surrogate in its strings replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_replace_surrogates(key): _replace_surrogates(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_surrogates(item) for item in value]
    return value


def _flatten_record(record: Any) -> dict[Any, Any]:
    if not isinstance(record, Mapping):
        return {SCALAR_COLUMN: record}

    row: dict[Any, Any] = {}
    for key, value in record.items():
        if "." in key:
            _flatten_parts(row, (key,), value)
        elif isinstance(value, dict):
            _flatten_object(row, key + ".", value)
        else:
            row[key] = value
    return row


def _flatten_object(row: dict[Any, Any], prefix: str, obj: dict[str, Any]) -> None:
    # Every key on the prefix is free of dots, so the prefix splits back into its parts.
    for key, value in obj.items():
        if "." in key:
            _flatten_parts(row, (*prefix[:-1].split("."), key), value)
        elif isinstance(value, dict):
            _flatten_object(row, prefix + key + ".", value)
        else:
            row[prefix + key] = value


def _flatten_parts(row: dict[Any, Any], parts: tuple[str, ...], value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten_parts(row, (*parts, key), item)
    else:
        row[_KeyPath(parts)] = value


def _resolve_column_names(columns: list[Any]) -> list[str]:
    """Name each ``_KeyPath`` column by the collision rule in ``records_to_frame``."""
    plain_names = {column for column in columns if isinstance(column, str)}
    paths_by_name: dict[str, list[tuple[str, ...]]] = {}
    for column in columns:
        if isinstance(column, _KeyPath):
            paths_by_name.setdefault(".".join(column.parts), []).append(column.parts)

    used = set(plain_names)
    names: list[str] = []
    for column in columns:
        if isinstance(column, str):
            names.append(column)
            continue
        joined = ".".join(column.parts)
        if joined not in plain_names and _owns_plain_name(column.parts, paths_by_name[joined]):
            name = joined
        else:
            name = ".".join(f"[{part}]" if "." in part else part for part in column.parts)
        names.append(_unique_name(name, used))
    return names


def _owns_plain_name(parts: tuple[str, ...], rivals: list[tuple[str, ...]]) -> bool:
    most = max(len(rival) for rival in rivals)
    return len(parts) == most and sum(len(rival) == most for rival in rivals) == 1


def _unique_name(name: str, used: set[str]) -> str:
    # A bracketed name can still clash when keys contain both dots and square brackets.
    # The numbered suffix keeps such columns apart instead of dropping one.
    candidate = name
    counter = 2
    while candidate in used:
        candidate = f"{name} ({counter})"
        counter += 1
    used.add(candidate)
    return candidate


def _convert_date_columns(frame: pd.DataFrame) -> None:
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        parsed = _parse_date_column(column)
        if parsed is not None:
            frame.isetitem(position, parsed)


def _parse_date_column(column: pd.Series) -> pd.Series | None:
    if infer_dtype(column, skipna=True) != "string":
        return None
    values = column.dropna()
    values = values[values != ""]
    if values.empty or not _ISO_DATE_RE.fullmatch(values.iloc[0]):
        return None
    if not values.str.fullmatch(_ISO_DATE_PATTERN).all():
        return None
    try:
        parsed = pd.to_datetime(column, utc=True, format="ISO8601")
        return parsed.astype(_UTC_NANOSECONDS)
    except (ValueError, OverflowError):
        # NOTE: impossible dates (2021-02-30) and dates outside the nanosecond range
        # (before 1677 or after 2262, such as a 9999-12-31 end-of-life marker) leave the
        # whole column as strings.
        return None
