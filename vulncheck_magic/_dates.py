"""Detection and parsing of the ISO-8601 date columns in VulnCheck records.

A column becomes ``datetime64[ns, UTC]`` when every non-empty value is a string in one of the
ISO-8601 forms below. Whole columns parse in Arrow's C++ parser when pyarrow is installed,
and with ``pd.to_datetime`` otherwise. Both give the same values. A column that Arrow cannot
read in one pass, because it mixes zoned and zone-less strings, goes to pandas.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

__all__ = ["first_present", "looks_like_date", "parse_date_column", "parse_date_values"]

# A date, or a date and time with an optional fraction (up to nanoseconds) and zone. Every
# form it matches is one that pd.to_datetime(format="ISO8601") reads, so a column with any
# other string is left alone before the slower parse runs.
_ISO_DATE_PATTERN = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?"
    r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?"
)
_ISO_DATE_RE = re.compile(_ISO_DATE_PATTERN)
# The same pattern for Arrow's RE2 engine, where "$" matches only at the very end.
_ARROW_ISO_DATE_PATTERN = f"^(?:{_ISO_DATE_PATTERN})$"
_ZONE_RE = re.compile(r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)$")
_NAT = np.iinfo(np.int64).min
UTC_NANOSECONDS = "datetime64[ns, UTC]"


def looks_like_date(value: Any) -> bool:
    """Return True when ``value`` is a string in one of the ISO-8601 forms that parse."""
    return isinstance(value, str) and _ISO_DATE_RE.fullmatch(value) is not None


def first_present(rows: Sequence[dict[Any, Any]], key: Any) -> Any:
    """Return the first value of ``key`` that pandas would not count as missing, or None.

    Missing means absent, None, NaN (JSON's ``NaN`` literal) or the empty string, which
    VulnCheck writes for "no date".
    """
    for row in rows:
        value = row.get(key)
        if value is None or value == "" or (isinstance(value, float) and value != value):
            continue
        return value
    return None


def parse_date_values(values: Sequence[Any] | np.ndarray) -> pd.Series | None:
    """Parse one column's values, or return None if it is not a date column.

    None, NaN and ``""`` become NaT. Returns None when pyarrow is missing, when a value is
    not a string, or when Arrow cannot parse the column in one pass. The caller then passes
    the column to :func:`parse_date_column`.
    """
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:
        return None
    try:
        # Arrow-backed pandas strings convert without a copy; other values are read.
        array = pa.array(values, from_pandas=True)
    except (pa.ArrowException, UnicodeEncodeError):
        return None
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return None
    empty = pc.equal(array, "")
    if empty.true_count:
        array = pc.if_else(empty, pa.scalar(None, array.type), array)
    if array.null_count == len(array):
        return None
    if pc.match_substring_regex(array, _ARROW_ISO_DATE_PATTERN).false_count:
        return None
    # Arrow reads a zoned string only as a zoned timestamp and a zone-less one only as a
    # naive one, which is UTC by this module's rule. The first value decides which to try
    # first. A column with both kinds goes to pandas.
    zoned = pa.timestamp("ns", "UTC")
    naive = pa.timestamp("ns")
    first = array.drop_null()[0].as_py()
    for target in (zoned, naive) if _has_zone(first) else (naive, zoned):
        try:
            parsed = array.cast(target)
        except pa.ArrowInvalid:
            continue
        nanoseconds = pc.fill_null(parsed.cast(pa.int64()), _NAT).to_numpy()
        return pd.Series(pd.DatetimeIndex(nanoseconds.view("M8[ns]"), tz="UTC"))
    return None


def _has_zone(text: str) -> bool:
    # The zone follows the time, which starts after the 10 characters of the date.
    return _ZONE_RE.search(text, 11) is not None


def parse_date_column(column: pd.Series) -> pd.Series | None:
    """Return ``column`` parsed as UTC timestamps, or None if it is not a date column.

    The reference rule, in pandas: every non-null, non-empty value is a string that
    :func:`looks_like_date`, and ``pd.to_datetime`` reads them all.
    """
    if infer_dtype(column, skipna=True) != "string":
        return None
    values = column.dropna()
    values = values[values != ""]
    if values.empty or not looks_like_date(values.iloc[0]):
        return None
    if not values.str.fullmatch(_ISO_DATE_PATTERN).all():
        return None
    try:
        parsed = pd.to_datetime(column, utc=True, format="ISO8601")
        return parsed.astype(UTC_NANOSECONDS)
    except (ValueError, OverflowError):
        # NOTE: impossible dates (2021-02-30) and dates outside the nanosecond range
        # (before 1677 or after 2262, such as a 9999-12-31 end-of-life marker) leave the
        # whole column as strings.
        return None
