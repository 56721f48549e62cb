"""A flat copy of a result frame that CSV, Excel and Parquet writers all accept.

pandas and NumPy are imported when first used, so that ``%load_ext`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["check_export_target", "export_frame", "to_flat"]

_WRITERS = (".csv", ".xlsx", ".parquet", ".jsonl")


# The package each writer needs, and the extra of vulncheck-magic that installs it.
_WRITER_PACKAGES = {".xlsx": ("openpyxl", "excel"), ".parquet": ("pyarrow", "parquet")}


def check_export_target(path: Path) -> None:
    """Raise InvalidParameterError when ``path`` cannot be written, before any request.

    Checks the suffix, that the path is not a folder, and that the writer's package is
    installed.
    """
    import importlib.util

    from ._params import InvalidParameterError

    suffix = path.suffix.lower()
    if suffix not in _WRITERS:
        raise InvalidParameterError(
            f"cannot export to {path.name!r}: use a file name ending in {', '.join(_WRITERS)}"
        )
    if path.is_dir():
        raise InvalidParameterError(f"cannot export to {str(path)!r}: it is a folder")
    package, extra = _WRITER_PACKAGES.get(suffix, (None, None))
    if package and importlib.util.find_spec(package) is None:
        raise InvalidParameterError(
            f"cannot write {suffix} files without {package}: pip install 'vulncheck-magic[{extra}]'"
        )


def export_frame(df: pd.DataFrame, path: Path) -> Path:
    """Write the flat copy of ``df`` to ``path`` in the format its suffix names; return it.

    ``.csv``, ``.xlsx`` (needs openpyxl), ``.parquet`` (needs pyarrow) and ``.jsonl`` (one
    JSON object per line) are written; the index is left out.
    """
    from ._params import InvalidParameterError

    suffix = path.suffix.lower()
    if suffix not in _WRITERS:
        raise InvalidParameterError(
            f"cannot export to {path.name!r}: use a file name ending in {', '.join(_WRITERS)}"
        )
    flat = to_flat(df)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if suffix == ".csv":
            flat.to_csv(path, index=False)
        elif suffix == ".xlsx":
            flat.to_excel(path, index=False)
        elif suffix == ".parquet":
            flat.to_parquet(path, index=False)
        else:
            flat.to_json(path, orient="records", lines=True, date_format="iso")
    except ImportError as exc:
        extra = "excel" if suffix == ".xlsx" else "parquet"
        raise InvalidParameterError(
            f"cannot write {suffix} files: {exc}. Install vulncheck-magic[{extra}]"
        ) from None
    return path


def to_flat(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``df`` that ``to_csv``, ``to_excel`` and ``to_parquet`` all accept.

    - Lists, tuples, dicts and NumPy arrays (list cells read back from Parquet) become JSON
      strings such as ``["CWE-20", "CWE-502"]``, with non-ASCII text kept as is. A value
      JSON cannot encode, such as a ``Timestamp`` inside a list, is written with ``str``.
      ``json.loads`` gives the list or dict back.
    - Timezone-aware datetime columns, and a timezone-aware index, become naive datetimes
      in UTC, because pandas' Excel writer rejects timezone-aware values.
    - Every other value, missing values included, is unchanged, and so is ``df`` itself.

    NOTE: an Excel cell stores at most 32,767 characters. ``to_excel`` (pandas 3.1 with
    openpyxl 3.1) cuts longer strings with a warning, and the NVD ``configurations`` JSON of
    a widely used product is longer. Select or explode such columns before ``to_excel``.
    """
    import pandas as pd

    flat = df.copy()
    for position in range(flat.shape[1]):
        column = flat.iloc[:, position]
        converted = _flat_column(column)
        if converted is not column:
            flat.isetitem(position, converted)
    if isinstance(flat.index, pd.DatetimeIndex) and flat.index.tz is not None:
        flat.index = flat.index.tz_convert("UTC").tz_localize(None)
    flat.attrs = dict(df.attrs)
    return flat


def _flat_column(column: pd.Series) -> pd.Series:
    import pandas as pd
    from pandas.api.types import is_datetime64_any_dtype

    if is_datetime64_any_dtype(column.dtype):
        if getattr(column.dt, "tz", None) is None:
            return column
        return column.dt.tz_convert("UTC").dt.tz_localize(None)
    if column.dtype != object:
        return column
    if not column.map(_is_nested).any():
        return column
    texts = [_json_text(value) for value in column]
    return pd.Series(texts, index=column.index, name=column.name, dtype=object)


def _is_nested(value: Any) -> bool:
    import numpy as np

    return isinstance(value, list | tuple | dict | np.ndarray)


def _json_text(value: Any) -> Any:
    if not _is_nested(value):
        return value
    return json.dumps(value, ensure_ascii=False, default=_plain_value)


def _plain_value(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    return str(value)
