"""Records of a backup zip, read as a stream, and a whole backup loaded into a DataFrame.

A backup zip contains one or more ``*.json`` members. Each member is either one JSON array of
records or newline-delimited JSON (NDJSON, one record per line). The reader streams the
members, so its memory use depends on the size of the largest record, not on the size of the
backup. :func:`load_backup` keeps every record it reads.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import zipfile
import zlib
from collections.abc import Generator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ._backup_download import json_members, open_zip
from ._errors import ResponseFormatError
from ._logging import logger
from ._version import __version__

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["iter_backup_records", "iter_sized_records", "load_backup"]


def iter_backup_records(zip_path: Path) -> Iterator[dict[str, Any]]:
    """Yield the records of every ``*.json`` member of a backup zip, in archive order.

    Each member is read as a stream: a JSON array is decoded one element at a time and
    NDJSON one line at a time (blank lines skipped), so memory use is one record plus a read
    buffer. Raises ResponseFormatError naming the member and the record number for a
    malformed record, a record that is not a JSON object, text that is not UTF-8 or a
    damaged zip.
    """
    for record, _chars in iter_sized_records(Path(zip_path)):
        yield record


def iter_sized_records(zip_path: Path) -> Generator[tuple[dict[str, Any], int], None, None]:
    """Yield each record with the number of characters of its JSON text."""
    with open_zip(zip_path) as archive:
        for info in json_members(archive):
            try:
                yield from _iter_member(archive, info)
            except UnicodeDecodeError as exc:
                raise ResponseFormatError(
                    f"Backup member {info.filename!r} is not valid UTF-8 text ({exc.reason}): "
                    "the file may be damaged. Download the backup again."
                ) from None
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise ResponseFormatError(
                    f"The backup {zip_path.name} is damaged: member {info.filename!r} could "
                    f"not be read ({exc}). Download the backup again."
                ) from None


def _iter_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo
) -> Iterator[tuple[dict[str, Any], int]]:
    first = _first_significant_byte(archive, info)
    if first is None:
        return
    with archive.open(info) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig") as text:
        if first == b"[":
            yield from _ArrayReader(text, info.filename).records()
        elif first == b"{":
            yield from _iter_ndjson(text, info.filename)
        else:
            raise ResponseFormatError(
                f"Backup member {info.filename!r} starts with {first.decode('latin-1')!r}: "
                "expected a JSON array ('[') or newline-delimited JSON objects ('{')."
            )


def _first_significant_byte(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
    """Return the member's first byte that is not whitespace or a BOM, or None if empty."""
    with archive.open(info) as raw:
        block = raw.read(4096)
        if block.startswith(b"\xef\xbb\xbf"):
            block = block[3:]
        while block:
            stripped = block.lstrip(b" \t\r\n")
            if stripped:
                return stripped[:1]
            block = raw.read(4096)
    return None


def _check_object(value: Any, number: int, member: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ResponseFormatError(
            f"Record {number} of backup member {member!r} is a JSON {_json_type(value)}, "
            "not an object."
        )
    return value


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _iter_ndjson(text: TextIO, member: str) -> Iterator[tuple[dict[str, Any], int]]:
    number = 0
    for line_number, line in enumerate(text, start=1):
        stripped = line.strip(" \t\r\n")
        if not stripped:
            continue
        number += 1
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ResponseFormatError(
                f"Record {number} (line {line_number}) of backup member {member!r} is not "
                f"valid JSON: {exc.msg} at column {exc.colno}."
            ) from None
        yield _check_object(value, number, member), len(stripped)


_WHITESPACE = re.compile(r"[ \t\r\n]*")
_DECODER = json.JSONDecoder()


class _ArrayReader:
    """Incremental decoder of one JSON array, one element at a time.

    The text sits in a sliding buffer. ``json.JSONDecoder.raw_decode`` decodes an element
    that starts at the buffer's read position. When decoding fails near the end of the
    buffer, the element may just be cut off: the reader then reads more and decodes the
    element again. Each read is at least as long as the unconsumed buffer, so an element
    larger than the read size costs a bounded number of retries.
    """

    # An error this close to the end of the buffer may be a cut-off literal or number
    # ("tru", "1.5e"), so it triggers a read instead of an error.
    _MARGIN = 16

    def __init__(self, text: TextIO, member: str, read_chars: int = 1 << 20) -> None:
        self.text = text
        self.member = member
        self.read_chars = read_chars
        self.buffer = ""
        self.position = 0
        self.offset = 0  # characters already dropped from the front of the buffer
        self.eof = False

    def records(self) -> Iterator[tuple[dict[str, Any], int]]:
        if not self._skip_whitespace() or self.buffer[self.position] != "[":
            raise self._error("does not start with '['")
        self.position += 1
        if not self._skip_whitespace():
            raise self._error("ends before the closing ']'")
        if self.buffer[self.position] == "]":
            self.position += 1
        else:
            number = 0
            while True:
                number += 1
                value, delimiter, size = self._read_element(number)
                yield _check_object(value, number, self.member), size
                if delimiter == "]":
                    break
                if not self._skip_whitespace():
                    raise self._error(f"ends after record {number}, before the closing ']'")
        if self._skip_whitespace():
            raise self._error(
                f"has data after the closing ']' at character {self.offset + self.position}"
            )

    def _read_element(self, number: int) -> tuple[Any, str, int]:
        """Decode the element at the read position and the ',' or ']' after it."""
        while True:
            start = self.position
            try:
                value, end = _DECODER.raw_decode(self.buffer, start)
            except json.JSONDecodeError as exc:
                cut_off = exc.msg.startswith("Unterminated string") or (
                    len(self.buffer) - exc.pos <= self._MARGIN
                )
                if cut_off and self._read_more():
                    continue
                where = "" if exc.msg.endswith(" at") else " at"
                raise self._error(
                    f"has a malformed record {number}: {exc.msg}{where} character "
                    f"{self.offset + exc.pos}"
                ) from None
            after = _WHITESPACE.match(self.buffer, end).end()  # type: ignore[union-attr]
            if after == len(self.buffer):
                if self._read_more():
                    continue
                raise self._error(f"ends after record {number}, before the closing ']'")
            delimiter = self.buffer[after]
            if delimiter in ",]":
                self.position = after + 1
                return value, delimiter, end - start
            if len(self.buffer) - after <= self._MARGIN and self._read_more():
                continue
            raise self._error(
                f"has a malformed record {number}: expected ',' or ']' at character "
                f"{self.offset + after}"
            )

    def _skip_whitespace(self) -> bool:
        """Move past whitespace; return whether a character follows before the end."""
        while True:
            self.position = _WHITESPACE.match(self.buffer, self.position).end()  # type: ignore[union-attr]
            if self.position < len(self.buffer):
                return True
            if not self._read_more():
                return False

    def _read_more(self) -> bool:
        """Append text after dropping the consumed prefix; return False at the end."""
        if self.eof:
            return False
        data = self.text.read(max(self.read_chars, len(self.buffer) - self.position))
        if not data:
            self.eof = True
            return False
        self.offset += self.position
        self.buffer = self.buffer[self.position :] + data
        self.position = 0
        return True

    def _error(self, problem: str) -> ResponseFormatError:
        return ResponseFormatError(f"Backup member {self.member!r} {problem}.")


# DataFrame


def load_backup(zip_path: Path, *, max_rows: int | None = None) -> pd.DataFrame:
    """Read a backup zip into a DataFrame with one row per record, flattened as for queries.

    ``max_rows`` stops after that many records (None reads all). Loading a large backup
    whole needs memory for every record: use ``max_rows`` to look at a sample, or
    ``backup_to_parquet`` for the whole backup. ``df.attrs["vulncheck"]`` records the
    source, the row count and ``truncated``, which is True when records were left out.
    """
    from ._frames import records_to_frame

    zip_path = Path(zip_path)
    if max_rows is not None and (isinstance(max_rows, bool) or max_rows < 0):
        raise ValueError(f"invalid max_rows {max_rows!r}: use a number of rows >= 0, or None")
    records: list[dict[str, Any]] = []
    truncated = False
    with contextlib.closing(iter_sized_records(zip_path)) as stream:
        for record, _chars in stream:
            if max_rows is not None and len(records) >= max_rows:
                truncated = True
                break
            records.append(record)
    with open_zip(zip_path) as archive:
        members = [info.filename for info in json_members(archive)]
    frame = records_to_frame(records)
    if truncated:
        logger.info("loaded the first %d records of %s", max_rows, zip_path.name)
    frame.attrs["vulncheck"] = {
        "source": "backup",
        "zip_path": str(zip_path),
        "members": members,
        "rows": len(frame),
        "max_rows": max_rows,
        "truncated": truncated,
        "loaded_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "package_version": __version__,
    }
    return frame
