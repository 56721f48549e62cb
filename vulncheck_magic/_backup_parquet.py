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
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._backup_download import progress_bar
from ._backup_records import iter_sized_records
from ._gc import gc_paused
from ._logging import logger

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

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
    batch. Batches go straight into ``<parquet_path>.part`` while the column set and types
    stay those of the batches before. From the first batch that changes them, batches are
    written to temporary Parquet files next to the output, and at the end everything is
    read back, conformed to the merged schema and written again. The records are parsed
    once; a change of schema costs one local Parquet write and read per batch. The ``.part``
    file is renamed to ``parquet_path`` on success and removed on failure.

    Memory use is one batch: at most ``batch_rows`` records, and at most about 64 MB of
    their JSON text whatever ``batch_rows`` is. The decoded records and their frame take
    several times that size. The temporary files need about as much disk space as the
    output.

    NOTE: flattening runs per batch, so the bracketed column names that ``records_to_frame``
    gives to keys containing dots can differ between batches. Such columns stay separate.
    """
    # Imported first, so that a missing pyarrow fails before any file is created.
    import pyarrow.parquet  # noqa: F401

    from ._frames import records_to_frame

    zip_path = Path(zip_path)
    parquet_path = Path(parquet_path)
    if isinstance(batch_rows, bool) or batch_rows < 1:
        raise ValueError(f"invalid batch_rows {batch_rows!r}: use a number of records >= 1")
    parquet_path.parent.mkdir(parents=True, exist_ok=True)
    part_path = parquet_path.with_name(parquet_path.name + ".part")
    started = time.perf_counter()
    bar = progress_bar(progress, total=None, desc=zip_path.name, unit=" records")
    try:
        with tempfile.TemporaryDirectory(
            prefix=f".{parquet_path.name}.batches-", dir=parquet_path.parent
        ) as spill_name:
            writer = _MergingWriter(part_path, Path(spill_name))
            with contextlib.closing(_record_batches(zip_path, batch_rows)) as batches:
                while True:
                    # Decoding a batch allocates its records in one burst: see _gc.
                    with gc_paused():
                        batch = next(batches, None)
                    if batch is None:
                        break
                    size = len(batch)
                    frame = records_to_frame(batch, parse_dates=False)
                    # The records' strings are copied into the frame's Arrow columns, so the
                    # records are freed before the table makes a third copy of the batch.
                    del batch
                    table = _frame_to_table(frame)
                    del frame
                    writer.add(table, size)
                    del table
                    bar.update(size)
            rows = writer.finish()
            if writer.rows and not rows:
                logger.warning("every record of %s is an empty object: no rows written", zip_path)
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
        len(writer.types),
        time.perf_counter() - started,
    )
    return ParquetResult(path=parquet_path, rows=rows, columns=len(writer.types))


class _MergingWriter:
    """Writes batches to one Parquet file under the merged schema of all of them.

    While each batch leaves the merged schema as it was, the batch goes straight into the
    output. From the first batch that adds a column or widens a type, batches are spilled
    to temporary Parquet files instead. :meth:`finish` then rewrites the output with the
    final schema, first the batches written so far, one row group at a time, then the
    spilled ones.
    """

    def __init__(self, part_path: Path, spill_dir: Path) -> None:
        self.part_path = part_path
        self.spill_dir = spill_dir
        self.types: dict[str, pa.DataType] = {}
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._direct_schema: pa.Schema | None = None
        # Each spilled batch with its row count: a batch of empty records has no columns,
        # and an Arrow table without columns cannot hold a row count.
        self._spills: list[tuple[Path, int]] = []

    def _schema(self) -> pa.Schema:
        import pyarrow as pa

        return pa.schema([pa.field(name, kind) for name, kind in self.types.items()])

    def add(self, table: pa.Table, rows: int) -> None:
        """Write one batch of ``rows`` records, or spill it."""
        import pyarrow.parquet as pq

        for field in table.schema:
            self.types[field.name] = _merge_types(self.types.get(field.name), field.type)
        self.rows += rows
        schema = self._schema()
        if not self._spills and len(schema):
            if self._writer is None:
                self._direct_schema = schema
                self._writer = pq.ParquetWriter(self.part_path, schema)
            if schema.equals(self._direct_schema):
                self._writer.write_table(_conform(table, schema, rows))
                return
        spill_file = self.spill_dir / f"{len(self._spills):08d}.parquet"
        pq.write_table(table, spill_file)
        self._spills.append((spill_file, rows))

    def finish(self) -> int:
        """Complete the file at ``part_path`` and return its number of rows."""
        import pyarrow.parquet as pq

        schema = self._schema()
        if not len(schema):
            # NOTE: Parquet cannot store rows without columns, so the file has none.
            pq.ParquetWriter(self.part_path, schema).close()
            return 0
        if not self._spills:
            assert self._writer is not None
            self._writer.close()
            return self.rows
        sources: list[tuple[Path, int | None]] = []
        if self._writer is not None:
            self._writer.close()
            written = self.spill_dir / "written.parquet"
            os.replace(self.part_path, written)
            sources.append((written, None))
        sources.extend(self._spills)
        with pq.ParquetWriter(self.part_path, schema) as writer:
            for path, rows in sources:
                source = pq.ParquetFile(path)
                for group in range(source.num_row_groups):
                    table = source.read_row_group(group)
                    writer.write_table(_conform(table, schema, rows or table.num_rows))
                source.close()
                path.unlink()
        return self.rows


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


def _column_to_array(column: pd.Series) -> pa.Array | pa.ChunkedArray:
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
        if getattr(dtype, "storage", None) == "pyarrow":
            # pandas' Arrow-backed str: the same buffers, without a Python string per value.
            return pa.chunked_array(pa.array(column.array)).cast(pa.string())
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
# The C encoder behind it, called without JSONEncoder.encode's Python layers, which take
# more than half of the time of encoding a short list. It writes the same text.
_C_ENCODER = (
    None
    if c_make_encoder is None
    else c_make_encoder(
        None,
        _JSON_ENCODER.default,
        encode_basestring,
        None,
        _JSON_ENCODER.key_separator,
        _JSON_ENCODER.item_separator,
        False,
        False,
        True,
    )
)


def _to_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, str):
        return value
    if _C_ENCODER is not None:
        return "".join(_C_ENCODER(value, 0))
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
