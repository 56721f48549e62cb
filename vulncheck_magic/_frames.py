"""Conversion of VulnCheck JSON records into pandas DataFrames."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from ._dates import first_present, looks_like_date, parse_date_column, parse_date_values
from ._gc import gc_paused

__all__ = [
    "SCALAR_COLUMN",
    "PagedFrame",
    "flatten_records",
    "frame_from_rows",
    "records_to_frame",
]

SCALAR_COLUMN = "value"
"""Column name used for records that are not JSON objects (``/v3/cpe`` returns CVE id strings)."""


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
    with gc_paused():
        frame = _flat_frame(records, parse_dates)
        if frame is None:
            frame = frame_from_rows(flatten_records(records), parse_dates=parse_dates)
        return frame


def flatten_records(records: Sequence[Any]) -> list[dict[Any, Any]]:
    """Flatten each record into one row dict, the first step of :func:`records_to_frame`.

    Cursor paging flattens each page as it arrives, while the next page downloads, and
    builds the frame from all rows at the end with :func:`frame_from_rows`. Records that are
    already flat (JSON objects without nested objects or dotted keys, such as KEV entries)
    are their own rows, so that they are not copied.
    """
    with gc_paused():
        if _are_flat(records):
            return list(records)
        return [_flatten_record(record) for record in records]


def frame_from_rows(rows: list[dict[Any, Any]], *, parse_dates: bool = True) -> pd.DataFrame:
    """Build the frame from rows made by :func:`flatten_records`: names and dates as above."""
    if not rows:
        return pd.DataFrame()
    with gc_paused():
        columns = _columns_of(rows)
        if _needs_naming(columns):
            return _named_frame(rows, columns, parse_dates)
        return _plain_frame(rows, columns, parse_dates)


class PagedFrame:
    """The frame of a paged query, converted page by page as the pages arrive.

    Each page becomes a frame while the next page downloads. When every page's frame has
    the same columns, in the same order and with the same dtypes, their concatenation is
    the frame that :func:`records_to_frame` would build from all records at once. Each
    column's dtype and date rule then hold for the union of the pages' values. Otherwise,
    for example when a later page brings a new column or turns an integer column into
    floats, :meth:`frame` builds the frame from all rows at the end.
    """

    def __init__(self) -> None:
        # Each page's rows with its frame, or None once pages stop agreeing.
        self._pages: list[tuple[list[dict[Any, Any]], pd.DataFrame | None]] = []
        self._per_page = True
        self._first: pd.DataFrame | None = None

    def add(self, records: Sequence[Any]) -> None:
        """Flatten and convert one page of records."""
        with gc_paused():
            rows = flatten_records(records)
            frame = _page_frame(rows) if rows and self._per_page else None
        if rows and (frame is None or not self._agrees(frame)):
            self._per_page = False
        # One append, so that an interrupt (Ctrl-C) leaves no page half added.
        self._pages.append((rows, frame))

    def _agrees(self, frame: pd.DataFrame) -> bool:
        if self._first is None:
            self._first = frame
        return _same_schema(self._first, frame)

    def frame(self, pages: int | None = None) -> pd.DataFrame:
        """Return the frame of all pages added, or of the first ``pages`` of them."""
        selected = self._pages if pages is None else self._pages[:pages]
        nonempty = [page for page in selected if page[0]]
        frames = [frame for _, frame in nonempty]
        with gc_paused():
            if self._per_page and frames and all(frame is not None for frame in frames):
                if len(frames) == 1:
                    return frames[0]  # type: ignore[return-value]
                return pd.concat(frames, ignore_index=True)
            return frame_from_rows([row for rows, _ in nonempty for row in rows])


def _page_frame(rows: list[dict[Any, Any]]) -> pd.DataFrame | None:
    # Pages whose keys need renaming (dots, lone surrogates) are named by all pages at once.
    columns = _columns_of(rows)
    return None if _needs_naming(columns) else _plain_frame(rows, columns, parse_dates=True)


def _columns_of(rows: Sequence[dict[Any, Any]]) -> list[Any]:
    """Return the keys of all rows, in the order of their first appearance."""
    return list(dict.fromkeys(chain.from_iterable(rows)))


def _needs_naming(columns: list[Any]) -> bool:
    return any(isinstance(key, _KeyPath) or _SURROGATE.search(key) for key in columns)


def _plain_frame(rows: list[dict[Any, Any]], columns: list[Any], parse_dates: bool) -> pd.DataFrame:
    frame = _build_frame(rows, columns)
    if parse_dates:
        _convert_dates(frame, rows, columns)
    return frame


def _same_schema(first: pd.DataFrame, other: pd.DataFrame) -> bool:
    return list(first.columns) == list(other.columns) and all(
        left == right for left, right in zip(first.dtypes, other.dtypes, strict=True)
    )


def _are_flat(records: Sequence[Any]) -> bool:
    """Return True when every record is a dict with no dict values and no dotted keys."""
    if {type(record) for record in records} != {dict}:
        return False
    value_types = set(map(type, chain.from_iterable(map(dict.values, records))))
    if any(issubclass(value_type, dict) for value_type in value_types):
        return False
    return not any("." in key for key in _columns_of(records))


def _flat_frame(records: Sequence[Any], parse_dates: bool) -> pd.DataFrame | None:
    """Build the frame straight from records that need no flattening, or return None.

    The first record decides whether to try. A nested object in a later record can only
    land in a column of dtype object, so only those columns are searched for one.
    """
    if not records or not isinstance(records[0], dict) or _has_nested(records[0]):
        return None
    if {type(record) for record in records} != {dict}:
        return None
    columns = _columns_of(records)
    if any("." in key or _SURROGATE.search(key) for key in columns):
        return None
    rows = list(records)
    frame = _build_frame(rows, columns)
    for position, dtype in enumerate(frame.dtypes):
        if _is_numpy_object(dtype) and _has_nested_values(frame.iloc[:, position]):
            return None
    if parse_dates:
        _convert_dates(frame, rows, columns)
    return frame


def _has_nested(record: dict[Any, Any]) -> bool:
    return any(isinstance(value, dict) for value in record.values())


def _is_numpy_object(dtype: Any) -> bool:
    # pandas' str dtype also has kind "O", but contains nothing but strings.
    return isinstance(dtype, np.dtype) and dtype.kind == "O"


def _has_nested_values(column: pd.Series) -> bool:
    return any(issubclass(value_type, dict) for value_type in set(map(type, column.to_numpy())))


def _named_frame(rows: list[dict[Any, Any]], columns: list[Any], parse_dates: bool) -> pd.DataFrame:
    # Rows with dotted or surrogate keys: the rule of records_to_frame, column by column.
    if any(_SURROGATE.search(_key_text(key)) for key in columns):
        # A lone surrogate in a key would fail as a column label; see _build_frame.
        rows = _replace_surrogates(rows)
        columns = _columns_of(rows)
    frame = _build_frame(rows, columns)
    if any(isinstance(column, _KeyPath) for column in columns):
        frame.columns = _resolve_column_names(columns)
    if parse_dates:
        _convert_date_columns(frame, range(frame.shape[1]))
    return frame


def _convert_dates(frame: pd.DataFrame, rows: list[dict[str, Any]], columns: list[str]) -> None:
    # Only a column whose first present value is a date can be a date column. Arrow
    # parses it when it can, and the pandas rule decides the rest.
    for position, key in enumerate(columns):
        if not looks_like_date(first_present(rows, key)):
            continue
        column = frame.iloc[:, position]
        parsed = parse_date_values(column.array)
        if parsed is None:
            parsed = parse_date_column(column)
        if parsed is not None:
            frame.isetitem(position, parsed)


def _build_frame(rows: list[dict[Any, Any]], columns: list[Any]) -> pd.DataFrame:
    try:
        return pd.DataFrame(rows, columns=columns)
    except UnicodeEncodeError:
        # JSON can carry a lone surrogate (the escape \ud800), which pandas cannot store
        # when its strings are Arrow-backed. Such characters become U+FFFD; other rows are
        # never rescanned, because the fallback runs only after this failure.
        return pd.DataFrame(_replace_surrogates(rows), columns=columns)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _replace_surrogates(value: Any) -> Any:
    """Return ``value`` with every lone surrogate in its strings replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, _KeyPath):
        return _KeyPath(tuple(_replace_surrogates(part) for part in value.parts))
    if isinstance(value, dict):
        return {_replace_surrogates(key): _replace_surrogates(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_surrogates(item) for item in value]
    return value


def _key_text(key: Any) -> str:
    return "".join(key.parts) if isinstance(key, _KeyPath) else str(key)


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


def _convert_date_columns(frame: pd.DataFrame, positions: Sequence[int]) -> None:
    for position in positions:
        parsed = parse_date_column(frame.iloc[:, position])
        if parsed is not None:
            frame.isetitem(position, parsed)
