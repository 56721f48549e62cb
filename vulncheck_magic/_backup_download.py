"""Download of a backup zip: the pre-signed GET, the SHA-256 check and the extraction.

``GET /v3/backup/{index}`` returns metadata whose ``url`` is a pre-signed download URL: the
credentials travel in its query string (``X-Amz-Signature=...``). This module therefore never
logs or shows a query string, and the download carries no API token of any kind. urllib3 logs
each request line with its query string, and the filter that ``_http`` installs at import
through :func:`install_urllib3_redaction` masks it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any
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
from ._redact import redact, redact_signed_queries

__all__ = [
    "DEFAULT_DOWNLOAD_TIMEOUT",
    "BackupFile",
    "BackupIntegrityError",
    "DownloadResult",
    "download_backup",
    "json_members",
    "open_zip",
    "progress_bar",
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
        if not _is_http_url(self.url):
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

    Raises:
        NetworkError: the download failed on the way.
        APIError: a subclass of it for an HTTP error status.
        BackupIntegrityError: the digest does not match.
        ResponseFormatError: the body is not a zip (such as an HTML error page), or a
            member name is unsafe.
        InsecureTransportError: plain http to a host that is not a loopback address.

    Each failure removes the partial file first.
    """
    directory = Path(directory)
    if chunk_size < 1:
        raise ValueError(f"invalid chunk_size {chunk_size}: use a positive number of bytes")
    directory.mkdir(parents=True, exist_ok=True)
    zip_path = directory / backup.filename
    part_path = directory / f"{backup.filename}.part"

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


def _is_http_url(url: str) -> bool:
    """Return whether ``url`` is an http(s) URL with a host and a valid port, if any."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _check_transport(url: str) -> None:
    parts = urlsplit(url)
    if not _is_http_url(url):
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
    """Mask in ``text`` each query value of ``url`` (plain or percent-encoded), each token pair
    and the query string of each pre-signed URL.
    """
    values = [value for _name, value in parse_qsl(urlsplit(url or "").query)]
    return redact_signed_queries(redact(text, values))


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
    bar = progress_bar(progress, total=total, desc=backup.filename, unit="B")
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


# Zip members


def _extract_json_members(zip_path: Path, target: Path) -> tuple[Path, ...]:
    """Extract every ``*.json`` member of ``zip_path`` under ``target``; return their paths.

    Every member name is checked first: an absolute name, a drive letter or a ``..`` part
    raises ResponseFormatError before anything is written.
    """
    with open_zip(zip_path) as archive:
        for info in archive.infolist():
            _check_member_name(info.filename, zip_path)
        members = json_members(archive)
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


def open_zip(zip_path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile:
        raise ResponseFormatError(
            f"{zip_path} is not a zip archive or is damaged: download the backup again."
        ) from None


def json_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
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


# Progress


class _NoProgress:
    def update(self, count: int) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(enabled: bool, *, total: int | None, desc: str, unit: str) -> Any:
    """Return a tqdm bar, or an object with the same update/close methods that shows nothing."""
    if not enabled:
        return _NoProgress()
    from tqdm.auto import tqdm

    if unit == "B":
        return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024)
    return tqdm(total=total, desc=desc, unit=unit)
