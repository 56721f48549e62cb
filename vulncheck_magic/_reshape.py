"""Reshaping a result frame: exploding a list column into rows, and selecting columns."""

from __future__ import annotations

import difflib
from typing import Any

import pandas as pd

from ._frames import records_to_frame
from ._params import InvalidParameterError

__all__ = ["explode_field", "select_columns", "sort_frame"]


def _close_names(name: str, columns: list[str]) -> str:
    close = difflib.get_close_matches(name, columns, n=3, cutoff=0.5)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


def select_columns(frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Return the frame with only ``names``, in that order; raise if one is missing."""
    columns = [str(column) for column in frame.columns]
    for name in names:
        if name not in columns:
            raise InvalidParameterError(
                f"no column {name!r} in the result{_close_names(name, columns)}"
            )
    selected = frame[names].copy()
    selected.attrs = frame.attrs
    return selected


def sort_frame(frame: pd.DataFrame, column: str, descending: bool) -> pd.DataFrame:
    """Return the rows sorted by ``column``; missing values go last either way."""
    columns = [str(name) for name in frame.columns]
    if column not in columns:
        raise InvalidParameterError(
            f"no column {column!r} to sort by{_close_names(column, columns)}"
        )
    try:
        result = frame.sort_values(column, ascending=not descending, na_position="last")
    except TypeError:
        raise InvalidParameterError(
            f"column {column!r} mixes values that cannot be compared: pick another column"
        ) from None
    result.attrs = frame.attrs
    return result


def explode_field(frame: pd.DataFrame, field: str) -> pd.DataFrame:
    """Return one row per item of the list column ``field``, items' fields as ``field.*``.

    ``field`` may name a list nested in lists of objects, such as
    ``configurations.nodes.cpeMatch``: each list on the way is exploded in turn. Rows whose
    list is empty or missing stay, with empty item columns, so no record is lost. A list of
    scalars becomes one ``field`` value per row.
    """
    if frame.empty:
        return frame
    parts = field.split(".")
    current = frame
    prefix = ""
    position = 0
    while position < len(parts):
        # The longest dotted prefix that is a column: columns can contain dots themselves.
        for end in range(len(parts), position, -1):
            candidate = ".".join(parts[position:end])
            name = f"{prefix}.{candidate}" if prefix else candidate
            if name in current.columns:
                break
        else:
            columns = [str(column) for column in current.columns]
            missing = f"{prefix}.{parts[position]}" if prefix else parts[position]
            raise InvalidParameterError(
                f"no column {missing!r} to explode{_close_names(missing, columns)}"
            )
        current = _explode_column(current, name)
        prefix = name
        position = end
    current.attrs = frame.attrs
    return current


def _explode_column(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    values = frame[name]
    if not values.map(lambda value: isinstance(value, list)).any():
        if values.map(lambda value: isinstance(value, dict)).any():
            return _expand_objects(frame.reset_index(drop=True), name)
        raise InvalidParameterError(f"column {name!r} contains no lists to explode")
    exploded = frame.explode(name, ignore_index=True)
    return _expand_objects(exploded, name)


def _expand_objects(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    items = frame[name]
    if not items.map(lambda value: isinstance(value, dict)).any():
        return frame
    records: list[Any] = [value if isinstance(value, dict) else {} for value in items]
    expanded = records_to_frame(records)
    expanded.columns = [f"{name}.{column}" for column in expanded.columns]
    expanded.index = frame.index
    position = frame.columns.get_loc(name)
    before = frame.iloc[:, :position]
    after = frame.iloc[:, position + 1 :]
    return pd.concat([before, expanded, after], axis=1)
