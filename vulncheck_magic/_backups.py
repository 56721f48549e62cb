"""Backups of whole indexes: download the zip, read its records, convert it to Parquet.

``GET /v3/backup/{index}`` returns metadata whose ``url`` is a pre-signed download URL: the
credentials travel in its query string (``X-Amz-Signature=...``). This module therefore never
logs or shows a query string, and the download carries no API token of any kind.

A backup zip contains one or more ``*.json`` members. Each member is either one JSON array of
records or newline-delimited JSON (NDJSON, one record per line). Every reader here streams
the members, so memory use depends on the size of the largest record and the batch size,
not on the size of the backup.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import shutil
import tempfile
import time
import zipfile
import zlib
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests
import urllib3.exceptions

from ._errors import (
    APIError,
    EntitlementError,
    InsecureTransportError,
    NetworkError,
    NotFoundError,
    ResponseFormatError,
    ServerError,
)
from ._http import NO_AUTH, is_loopback_url, redact_url
from ._logging import logger
from ._redact import REDACTED, redact
from ._version import __version__

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "BackupFile",
    "BackupIntegrityError",
    "DownloadResult",
    "ParquetResult",
    "backup_to_parquet",
    "download_backup",
    "iter_backup_records",
    "load_backup",
]

DEFAULT_DOWNLOAD_TIMEOUT = (10.0, 300.0)
"""Seconds to wait for the connection, then for each read of the download."""

_MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Local file headers start with PK\3\4. An archive with no members is only its
# end-of-central-directory record, PK\5\6.
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_ERROR_BODY_BYTES = 64 * 1024
_ERRNO_REASON = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")
_XML_ERROR_FIELD = re.compile(r"<(Code|Message)>([^<]{1,300})</\1>")
_HTML_TITLE = re.compile(r"<title[^>]*>([^<]{0,300})</title>", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
# Query parameters that make a URL pre-signed: AWS SigV4 (S3), CloudFront signed URLs and
# Azure SAS tokens. A query string with any of them is a credential.
_SIGNING_PARAMETERS = frozenset(
    {
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "signature",
        "policy",
        "key-pair-id",
        "sig",
    }
)
_QUERY_STRING = re.compile(r"\?([^\s\"'#<>]*)")


class BackupIntegrityError(ResponseFormatError):
    """The downloaded backup's SHA-256 digest differs from the one in the backup metadata."""


@dataclass(frozen=True)
class BackupFile:
    """One backup file from the ``data`` list of ``GET /v3/backup/{index}``.

    ``url`` is the pre-signed download URL. It is left out of the repr, because its query
    string is a credential.
    """

    index: str
    filename: str
    sha256: str
    url: str
    date_added: str | None = None

    def __post_init__(self) -> None:
        _check_filename(self.filename, self.index)
        if not re.fullmatch(r"[0-9a-fA-F]{64}", self.sha256):
            raise ResponseFormatError(
                f"The backup metadata for index {self.index!r} has an invalid sha256 "
                f"{self.sha256[:80]!r}: expected 64 hex digits."
            )
        try:
            parts = urlsplit(self.url)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
            _ = parts.port  # raises ValueError for a port that is not a number
        except ValueError:
            valid = False
        if not valid:
            raise ResponseFormatError(
                f"The backup metadata for index {self.index!r} has an invalid download URL: "
                "expected an http(s) URL with a host. Request the backup metadata again."
            )

    def __repr__(self) -> str:
        return (
            f"BackupFile(index={self.index!r}, filename={self.filename!r}, "
            f"sha256={self.sha256!r}, url={redact_url(self.url)!r}, "
            f"date_added={self.date_added!r})"
        )

    @classmethod
    def from_metadata(cls, index: str, item: Mapping[str, Any]) -> BackupFile:
        """Build a BackupFile from one item of the backup metadata's ``data`` list.

        Raises ResponseFormatError when ``url``, ``filename`` or ``sha256`` is missing or
        invalid, including a filename with a path separator or ``..``.
        """
        if not isinstance(item, Mapping):
            raise ResponseFormatError(
                f"The backup metadata for index {index!r} has a {type(item).__name__} "
                "in its data list instead of an object."
            )
        missing = [
            key
            for key in ("url", "filename", "sha256")
            if not isinstance(item.get(key), str) or not item.get(key)
        ]
        if missing:
            raise ResponseFormatError(
                f"The backup metadata for index {index!r} has no {', '.join(missing)}: "
                "request the backup metadata again, or check the base URL (%vulncheck status)."
            )
        date_added = item.get("date_added")
        return cls(
            index=index,
            filename=item["filename"],
            sha256=item["sha256"].lower(),
            url=item["url"],
            date_added=date_added if isinstance(date_added, str) else None,
        )


@dataclass(frozen=True)
class DownloadResult:
    """A verified backup zip on disk and the JSON members extracted from it."""

    zip_path: Path
    sha256: str
    size: int
    extracted: tuple[Path, ...]


@dataclass(frozen=True)
class ParquetResult:
    """A Parquet file written from a backup, with its number of rows and columns."""

    path: Path
    rows: int
    columns: int


# Download


def download_backup(
    session: requests.Session,
    backup: BackupFile,
    directory: Path,
    *,
    unzip: bool = True,
    progress: bool = True,
    timeout: tuple[float, float] = DEFAULT_DOWNLOAD_TIMEOUT,
    chunk_size: int = 1 << 20,
) -> DownloadResult:
    """Download a backup zip into ``directory``, verify its SHA-256 and extract its JSON members.

    The GET carries no API token, no cookie and none of the session's headers except
    ``User-Agent``: a pre-signed URL carries its own credentials, and S3 rejects a request
    that also has an ``Authorization`` header. The session still supplies its connection
    pool, adapters, proxies and TLS settings.

    The body streams to ``<directory>/<filename>.part``, which is renamed to ``<filename>``
    once the digest matches. With ``unzip``, the ``*.json`` members go to
    ``<directory>/<filename stem>/``. ``progress`` shows a tqdm bar in bytes.

    Raises NetworkError when the download fails on the way, an APIError subclass for an HTTP
    error status, BackupIntegrityError for a digest mismatch, ResponseFormatError for a body
    that is not a zip (such as an HTML error page) or for unsafe member names, and
    InsecureTransportError for plain http to a host that is not a loopback address. Each
    failure removes the partial file first.
    """
    directory = Path(directory)
    if chunk_size < 1:
        raise ValueError(f"invalid chunk_size {chunk_size}: use a positive number of bytes")
    directory.mkdir(parents=True, exist_ok=True)
    zip_path = directory / backup.filename
    part_path = directory / f"{backup.filename}.part"

    _hide_signed_queries_from_urllib3()
    started = time.perf_counter()
    logger.info(
        "downloading backup %s of index %s from %s",
        backup.filename,
        backup.index,
        redact_url(backup.url),
    )
    response = _send_download(session, backup.url, timeout)
    try:
        _check_download_response(response, backup)
        digest, size = _stream_to_file(response, backup, part_path, progress, timeout, chunk_size)
    finally:
        response.close()

    if digest != backup.sha256.lower():
        _remove_partial(part_path, "SHA-256 mismatch")
        raise BackupIntegrityError(
            f"The backup {backup.filename} failed its integrity check: expected SHA-256 "
            f"{backup.sha256[:12]}…, got {digest[:12]}… over {size} bytes. The downloaded "
            "file was removed: request the backup metadata again and retry."
        )
    os.replace(part_path, zip_path)
    logger.info(
        "downloaded %s: %d bytes in %.1f s, sha256 %s",
        zip_path,
        size,
        time.perf_counter() - started,
        digest[:12],
    )
    extracted = _extract_json_members(zip_path, directory / _stem(backup.filename)) if unzip else ()
    return DownloadResult(zip_path=zip_path, sha256=digest, size=size, extracted=extracted)


def _send_download(
    session: requests.Session, url: str, timeout: tuple[float, float]
) -> requests.Response:
    """Send the token-free GET, following up to 5 redirects by hand.

    The request is prepared outside the session so that neither the session's cookie jar
    nor its default headers reach the download host. Redirects are followed here, because
    the session would add its cookies to each redirected request.
    """
    headers = {
        "User-Agent": str(session.headers.get("User-Agent") or requests.utils.default_user_agent()),
        "Accept": "*/*",
        # The digest covers the stored bytes, so ask for them without transfer compression.
        "Accept-Encoding": "identity",
    }
    for _ in range(_MAX_REDIRECTS + 1):
        _check_transport(url)
        prepared = requests.Request("GET", url, headers=headers, auth=NO_AUTH).prepare()
        settings = session.merge_environment_settings(url, {}, True, None, None)
        failure: NetworkError | None = None
        try:
            response = session.send(prepared, timeout=timeout, allow_redirects=False, **settings)
        except requests.RequestException as exc:
            failure = _network_error(exc, url, timeout)
        if failure is not None:
            # Raised outside the except block so that __context__ stays empty: the text of
            # a requests exception can contain the whole URL, query string included.
            raise failure
        logger.debug("GET %s -> HTTP %s", redact_url(url), response.status_code)
        if response.status_code not in _REDIRECT_STATUSES:
            return response
        location = response.headers.get("Location", "")
        response.close()
        url = urljoin(url, location)
    raise NetworkError(
        f"Too many redirects while downloading from {redact_url(url)}: request the backup "
        "metadata again for a fresh download URL."
    )


def _check_transport(url: str) -> None:
    parts = urlsplit(url)
    try:
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        valid = False
    if not valid:
        raise NetworkError(
            f"Invalid backup download URL with scheme {parts.scheme or 'none'!r} and host "
            f"{parts.hostname!r}: only http and https URLs are supported. Request the backup "
            "metadata again."
        )
    if parts.scheme == "http" and not is_loopback_url(url):
        raise InsecureTransportError(
            f"Plain http download of a backup from {parts.hostname} rejected, because the "
            "pre-signed URL's credentials would travel unencrypted: request the backup "
            "metadata again and use its https URL."
        )


def _network_error(
    exc: requests.RequestException, url: str, timeout: tuple[float, float]
) -> NetworkError:
    if isinstance(exc, requests.Timeout):
        connecting = isinstance(exc, requests.ConnectTimeout)
        reason = f"timed out after {timeout[0] if connecting else timeout[1]:g} s"
    elif isinstance(exc, requests.exceptions.ChunkedEncodingError):
        reason = "the connection broke off before the whole file arrived"
    else:
        match = _ERRNO_REASON.search(str(exc))
        reason = match.group(1).strip().lower() if match else type(exc).__name__
    logger.warning("backup download from %s failed: %s", redact_url(url), reason)
    return NetworkError(
        f"Could not download the backup from {redact_url(url)}: {reason}. Check the network "
        "and retry, and request the backup metadata again if the URL has expired."
    )


def _check_download_response(response: requests.Response, backup: BackupFile) -> None:
    """Raise the typed error for a response that is not a 200 with a zip body."""
    status = response.status_code
    if status == 200:
        content_type = response.headers.get("Content-Type", "")
        if "html" in content_type.lower():
            raise ResponseFormatError(
                f"The download server sent an HTML page ({_summarize_error_body(response)}) "
                f"instead of the backup zip {backup.filename}; nothing was saved. Request the "
                "backup metadata again and retry."
            )
        return
    messages = [_summarize_error_body(response)]
    endpoint = redact_url(response.url or backup.url)
    if status in (401, 403):
        raise EntitlementError(
            status,
            endpoint,
            messages,
            hint="The pre-signed download URL may have expired, because it is valid for "
            "minutes only: request the backup metadata again for a fresh URL.",
        )
    if status == 404:
        raise NotFoundError(
            status,
            endpoint,
            messages,
            hint="The backup file is no longer at that URL: request the backup metadata again.",
        )
    if status >= 500:
        raise ServerError(
            status, endpoint, messages, hint="The download server failed: try again later."
        )
    raise APIError(
        status,
        endpoint,
        messages,
        hint=f"The download of backup {backup.filename} expected HTTP 200.",
    )


def _summarize_error_body(response: requests.Response) -> str:
    """Return a short, credential-free summary of an error body.

    S3's XML errors are reduced to their Code and Message elements, because the other
    elements of a signature error echo the canonical request, query string included.
    """
    try:
        head = response.raw.read(_ERROR_BODY_BYTES, decode_content=True) or b""
    except (OSError, urllib3.exceptions.HTTPError):
        head = b""  # the summary is best effort, and the status code identifies the failure
    text = head.decode("utf-8", "replace")
    fields = dict(_XML_ERROR_FIELD.findall(text))
    if fields:
        summary = ": ".join(fields[key] for key in ("Code", "Message") if key in fields)
    elif match := _HTML_TITLE.search(text):
        summary = f"an HTML page titled {_SPACE.sub(' ', match.group(1)).strip()!r}"
    elif "<html" in text[:512].lower():
        summary = "an HTML page"
    else:
        summary = _SPACE.sub(" ", text).strip()[:200]
    return _scrub_query(summary, response.url) or "no error message"


def _scrub_query(text: str, url: str | None) -> str:
    """Mask each query value of ``url`` in ``text``, plain or percent-encoded, and token pairs."""
    values = [value for _name, value in parse_qsl(urlsplit(url or "").query)]
    return redact(text, values)


def _stream_to_file(
    response: requests.Response,
    backup: BackupFile,
    part_path: Path,
    progress: bool,
    timeout: tuple[float, float],
    chunk_size: int,
) -> tuple[str, int]:
    """Write the body to ``part_path`` while hashing it; remove the file on any failure."""
    total = _content_length(response)
    hasher = hashlib.sha256()
    size = 0
    failure: Exception | None = None
    bar = _progress_bar(progress, total=total, desc=backup.filename, unit="B")
    try:
        with open(part_path, "wb") as file:
            chunks = response.iter_content(chunk_size)
            head = _read_head(chunks, len(_ZIP_MAGICS[0]))
            if not head.startswith(_ZIP_MAGICS):
                failure = _not_a_zip_error(head, backup)
            else:
                for chunk in _chain_head(head, chunks):
                    file.write(chunk)
                    hasher.update(chunk)
                    size += len(chunk)
                    bar.update(len(chunk))
    except requests.RequestException as exc:
        failure = _network_error(exc, response.url or backup.url, timeout)
    except BaseException:
        _remove_partial(part_path, "interrupted")
        raise
    finally:
        bar.close()
    if failure is not None:
        reason = "download failed" if isinstance(failure, NetworkError) else "not a zip archive"
        _remove_partial(part_path, reason)
        raise failure
    return hasher.hexdigest(), size


def _read_head(chunks: Iterator[bytes], count: int) -> bytes:
    """Read chunks until at least ``count`` bytes arrived or the body ended."""
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= count:
            break
    return head


def _chain_head(head: bytes, chunks: Iterator[bytes]) -> Iterator[bytes]:
    if head:
        yield head
    yield from chunks


def _not_a_zip_error(head: bytes, backup: BackupFile) -> ResponseFormatError:
    text = head[:512].lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html")):
        what = "an HTML page"
    elif text.startswith(b"<"):
        what = "an XML or HTML document"
    elif text.startswith((b"{", b"[")):
        what = "a JSON document"
    elif not head:
        what = "an empty body"
    else:
        what = "data that is not a zip archive"
    return ResponseFormatError(
        f"The download server sent {what} instead of the backup zip {backup.filename}; the "
        "partial file was removed. Request the backup metadata again and retry."
    )


def _content_length(response: requests.Response) -> int | None:
    value = response.headers.get("Content-Length", "")
    return int(value) if value.isdigit() else None


def _remove_partial(part_path: Path, reason: str) -> None:
    try:
        part_path.unlink(missing_ok=True)
    except OSError as exc:
        logger.warning("could not remove partial download %s: %s", part_path, exc)
        return
    logger.warning("removed partial download %s: %s", part_path, reason)


class _SignedQueryFilter(logging.Filter):
    """Logging filter that masks the whole query string of a pre-signed URL in a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = _QUERY_STRING.sub(_mask_signed_query, message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def _mask_signed_query(match: re.Match[str]) -> str:
    names = {name.lower() for name, _value in parse_qsl(match.group(1), keep_blank_values=True)}
    return f"?{REDACTED}" if names & _SIGNING_PARAMETERS else match.group(0)


_signed_query_filter = _SignedQueryFilter()


def _hide_signed_queries_from_urllib3() -> None:
    """Add the filter to urllib3's loggers, which log each request line with its query string.

    NOTE: this covers urllib3 2.x's logger names only. Other libraries that log request
    URLs are not filtered.
    """
    for name in ("urllib3.connectionpool", "urllib3.poolmanager", "urllib3.util.retry"):
        third_party = logging.getLogger(name)
        if _signed_query_filter not in third_party.filters:
            third_party.addFilter(_signed_query_filter)


# Zip members


def _extract_json_members(zip_path: Path, target: Path) -> tuple[Path, ...]:
    """Extract every ``*.json`` member of ``zip_path`` under ``target``; return their paths.

    Every member name is checked first: an absolute name, a drive letter or a ``..`` part
    raises ResponseFormatError before anything is written.
    """
    with _open_zip(zip_path) as archive:
        for info in archive.infolist():
            _check_member_name(info.filename, zip_path)
        members = _json_members(archive)
        target.mkdir(parents=True, exist_ok=True)
        root = target.resolve()
        extracted = []
        for info in members:
            destination = root.joinpath(*_member_parts(info.filename))
            if not destination.resolve().is_relative_to(root):
                raise ResponseFormatError(
                    f"The backup {zip_path.name} has a member {info.filename!r} that would "
                    "be written outside the extraction folder; nothing more was extracted."
                )
            destination.parent.mkdir(parents=True, exist_ok=True)
            temporary = destination.with_name(destination.name + ".part")
            try:
                with archive.open(info) as source, open(temporary, "wb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                temporary.unlink(missing_ok=True)
                raise ResponseFormatError(
                    f"The backup {zip_path.name} is damaged: member {info.filename!r} "
                    f"could not be read ({exc})."
                ) from None
            except BaseException:
                temporary.unlink(missing_ok=True)
                raise
            os.replace(temporary, destination)
            extracted.append(destination)
    logger.info("extracted %d JSON members of %s into %s", len(extracted), zip_path.name, target)
    return tuple(extracted)


def _open_zip(zip_path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile:
        raise ResponseFormatError(
            f"{zip_path} is not a zip archive or is damaged: download the backup again."
        ) from None


def _json_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    return [
        info
        for info in archive.infolist()
        if not info.is_dir() and info.filename.lower().endswith(".json")
    ]


def _member_parts(name: str) -> list[str]:
    return [part for part in re.split(r"[\\/]", name) if part not in ("", ".")]


def _check_member_name(name: str, zip_path: Path) -> None:
    parts = re.split(r"[\\/]", name)
    unsafe = (
        name.startswith(("/", "\\"))
        or re.match(r"[A-Za-z]:", name) is not None
        or ".." in parts
        or "\x00" in name
    )
    if unsafe:
        raise ResponseFormatError(
            f"The backup {zip_path.name} has an unsafe member name {name!r} (an absolute "
            "path or a '..' part); nothing was extracted. The zip was kept for inspection."
        )


def _check_filename(filename: str, index: str) -> None:
    """Reject a server-supplied filename that could point outside the download folder."""
    unsafe = (
        filename in ("", ".", "..")
        or "/" in filename
        or "\\" in filename
        or ".." in filename
        or ":" in filename
        or any(ord(char) < 32 for char in filename)
        or PurePath(filename).name != filename
    )
    if unsafe:
        raise ResponseFormatError(
            f"The backup metadata for index {index!r} has an unsafe filename "
            f"{filename[:120]!r}: a file name must not contain path separators, '..', ':' or "
            "control characters. Nothing was downloaded."
        )


def _stem(filename: str) -> str:
    stem = Path(filename).stem
    # Without a suffix the stem is the zip's own name, so the folder gets one.
    return stem if stem != filename else f"{filename}.d"


# Records


def iter_backup_records(zip_path: Path) -> Iterator[dict[str, Any]]:
    """Yield the records of every ``*.json`` member of a backup zip, in archive order.

    Each member is read as a stream: a JSON array is decoded one element at a time and
    NDJSON one line at a time (blank lines skipped), so memory use is one record plus a read
    buffer. Raises ResponseFormatError naming the member and the record number for a
    malformed record, a record that is not a JSON object, text that is not UTF-8 or a
    damaged zip.
    """
    for record, _chars in _iter_sized_records(Path(zip_path)):
        yield record


def _iter_sized_records(zip_path: Path) -> Generator[tuple[dict[str, Any], int], None, None]:
    """Yield each record with the number of characters of its JSON text."""
    with _open_zip(zip_path) as archive:
        for info in _json_members(archive):
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
    with contextlib.closing(_iter_sized_records(zip_path)) as stream:
        for record, _chars in stream:
            if max_rows is not None and len(records) >= max_rows:
                truncated = True
                break
            records.append(record)
    with _open_zip(zip_path) as archive:
        members = [info.filename for info in _json_members(archive)]
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


# Parquet

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
    bar = _progress_bar(progress, total=None, desc=zip_path.name, unit=" records")
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
    with contextlib.closing(_iter_sized_records(zip_path)) as stream:
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


# Progress


class _NoProgress:
    def update(self, count: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(enabled: bool, *, total: int | None, desc: str, unit: str) -> Any:
    """Return a tqdm bar, or an object with the same update/close methods that shows nothing."""
    if not enabled:
        return _NoProgress()
    from tqdm.auto import tqdm

    if unit == "B":
        return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024)
    return tqdm(total=total, desc=desc, unit=unit)
