"""Conversion of a backup zip to one Parquet file, batch by batch, under one merged schema.

The records are streamed, so memory use depends on the batch size, not on the size of the
backup. :func:`backup_to_parquet` describes how the batches' schemas are merged.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._backup_download import progress_bar
from ._backup_records import iter_sized_records
from ._logging import logger

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["ParquetResult", "backup_to_parquet"]


@dataclass(frozen=True)
class ParquetResult:
    """A Parquet file written from a backup, with its number of rows and columns."""

    path: Path
    rows: int
    columns: int


# A batch is also cut when its records add up to this many characters of JSON, so that
# backups with very large records (hundreds of KB each) keep batches to a bounded size.
_BATCH_MAX_CHARS = 64 * 1024 * 1024


def backup_to_parquet(
    zip_path: Path,
    parquet_path: Path,
    *,
    batch_rows: int = 10_000,
    progress: bool = True,
) -> ParquetResult:
    """Convert a backup zip to one Parquet file, streaming ``batch_rows`` records at a time.

    Each batch is flattened like a query result (dotted columns, dates left as strings).
    Lists and objects become JSON strings. A column that mixes types across records or
    batches becomes a string column: strings stay as they are and other values are written
    as JSON text (``7``, ``true``). A column that is integer in one batch and float in
    another becomes float64, and a column missing from a batch is null there. An integer
    field that is missing in some records of a batch is float64 in that batch, as in pandas.

    Schema strategy: a Parquet file has one schema, and a column may first appear in any
    batch. Each batch is therefore written to a temporary Parquet file next to the output,
    while the column set and types of all batches are merged. Then each temporary file is
    read back, conformed to the merged schema and appended to ``<parquet_path>.part``. The
    records are parsed once, and the extra cost is one local Parquet write and read per
    batch. The ``.part`` file is renamed to ``parquet_path`` on success and removed on
    failure.

    Memory use is one batch: at most ``batch_rows`` records, and at most about 64 MB of
    their JSON text whatever ``batch_rows`` is. The decoded records and their frame take
    several times that size. The temporary files need about as much disk space as the
    output.

    NOTE: flattening runs per batch, so the bracketed column names that ``records_to_frame``
    gives to keys containing dots can differ between batches. Such columns stay separate.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ._frames import records_to_frame

    zip_path = Path(zip_path)
    parquet_path = Path(parquet_path)
    if isinstance(batch_rows, bool) or batch_rows < 1:
        raise ValueError(f"invalid batch_rows {batch_rows!r}: use a number of records >= 1")
    parquet_path.parent.mkdir(parents=True, exist_ok=True)
    part_path = parquet_path.with_name(parquet_path.name + ".part")
    started = time.perf_counter()
    rows = 0
    types: dict[str, pa.DataType] = {}
    bar = progress_bar(progress, total=None, desc=zip_path.name, unit=" records")
    try:
        with tempfile.TemporaryDirectory(
            prefix=f".{parquet_path.name}.batches-", dir=parquet_path.parent
        ) as spill_name:
            # Each spilled batch with its row count: a batch of empty records has no columns,
            # and an Arrow table without columns cannot hold a row count.
            spills: list[tuple[Path, int]] = []
            with contextlib.closing(_record_batches(zip_path, batch_rows)) as batches:
                for batch in batches:
                    table = _frame_to_table(records_to_frame(batch, parse_dates=False))
                    for field in table.schema:
                        types[field.name] = _merge_types(types.get(field.name), field.type)
                    spill_file = Path(spill_name) / f"{len(spills):08d}.parquet"
                    pq.write_table(table, spill_file)
                    spills.append((spill_file, len(batch)))
                    rows += len(batch)
                    bar.update(len(batch))
            schema = pa.schema([pa.field(name, kind) for name, kind in types.items()])
            if rows and not len(schema):
                # NOTE: Parquet cannot store rows without columns, so the file has none.
                logger.warning("every record of %s is an empty object: no rows written", zip_path)
                rows = 0
            with pq.ParquetWriter(part_path, schema) as writer:
                for spill_file, batch_size in spills:
                    writer.write_table(_conform(pq.read_table(spill_file), schema, batch_size))
                    spill_file.unlink()
        os.replace(part_path, parquet_path)
    except BaseException:
        part_path.unlink(missing_ok=True)
        raise
    finally:
        bar.close()
    logger.info(
        "wrote %s: %d rows, %d columns in %.1f s",
        parquet_path,
        rows,
        len(types),
        time.perf_counter() - started,
    )
    return ParquetResult(path=parquet_path, rows=rows, columns=len(types))


def _record_batches(zip_path: Path, batch_rows: int) -> Generator[list[dict[str, Any]], None, None]:
    batch: list[dict[str, Any]] = []
    chars = 0
    with contextlib.closing(iter_sized_records(zip_path)) as stream:
        for record, size in stream:
            batch.append(record)
            chars += size
            if len(batch) >= batch_rows or chars >= _BATCH_MAX_CHARS:
                yield batch
                batch, chars = [], 0
    if batch:
        yield batch


def _frame_to_table(frame: pd.DataFrame) -> pa.Table:
    import pyarrow as pa

    arrays = [_column_to_array(frame.iloc[:, position]) for position in range(frame.shape[1])]
    return pa.Table.from_arrays(arrays, names=[str(name) for name in frame.columns])


def _column_to_array(column: pd.Series) -> pa.Array:
    """Return one column as an Arrow array of null, bool, int64, float64 or string type."""
    import pyarrow as pa
    from pandas.api.types import (
        infer_dtype,
        is_bool_dtype,
        is_float_dtype,
        is_integer_dtype,
        is_object_dtype,
    )

    dtype = column.dtype
    if not is_object_dtype(dtype):
        if is_bool_dtype(dtype):
            return pa.array(column, type=pa.bool_(), from_pandas=True)
        if is_integer_dtype(dtype):
            return pa.array(column, type=pa.int64(), from_pandas=True)
        if is_float_dtype(dtype):
            return pa.array(column, type=pa.float64(), from_pandas=True)
        return pa.array(column.astype(object), type=pa.string(), from_pandas=True)

    values = column.tolist()
    kind = infer_dtype(values, skipna=True)
    try:
        if kind == "empty":
            return pa.nulls(len(values))
        if kind == "string":
            return pa.array(values, type=pa.string(), from_pandas=True)
        if kind == "boolean":
            return pa.array(values, type=pa.bool_(), from_pandas=True)
        if kind == "integer":
            return pa.array(values, type=pa.int64(), from_pandas=True)
        if kind in ("floating", "mixed-integer-float"):
            return pa.array(values, type=pa.float64(), from_pandas=True)
    except (pa.ArrowInvalid, OverflowError):
        pass  # such as an integer beyond int64: the column is written as text below
    return pa.array([_to_text(value) for value in values], type=pa.string())


# One shared encoder, because json.dumps with options builds a new encoder on each call.
_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False)


def _to_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, str):
        return value
    return _JSON_ENCODER.encode(value)


def _merge_types(current: pa.DataType | None, new: pa.DataType) -> pa.DataType:
    import pyarrow as pa

    if current is None or current == new or pa.types.is_null(current):
        return new
    if pa.types.is_null(new):
        return current
    numeric = (pa.int64(), pa.float64())
    if current in numeric and new in numeric:
        return pa.float64()
    return pa.string()


def _conform(table: pa.Table, schema: pa.Schema, rows: int) -> pa.Table:
    """Return ``table`` with every column of ``schema``, in order, cast to its type."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arrays = []
    for field in schema:
        if field.name not in table.column_names:
            arrays.append(pa.nulls(rows, type=field.type))
            continue
        column = table.column(field.name)
        if column.type != field.type:
            # int64 to float64 is not exact above 2**53, which is accepted here.
            column = pc.cast(column, field.type, safe=False)
        arrays.append(column)
    return pa.Table.from_arrays(arrays, schema=schema)
