"""Backups of the demo indexes: ``/v3/backup``, ``/v3/backup/{index}`` and the zip download.

The real API returns a pre-signed S3 URL for each backup. The demo returns a URL on its own
port instead, under ``/demo-backups/``, which serves the zip without a token, as S3 does.
Each zip is built in memory on the first request for it and kept for the life of the
process, so its name, sha256 and URL stay the same until the process ends.
"""

from __future__ import annotations

import hashlib
import io
import threading
import time
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from vulncheck_magic.demo._data import CISA_KEV, DemoIndex, load_indexes
from vulncheck_magic.demo._http import (
    HandlerContext,
    Response,
    error_response,
    json_response,
    utc_timestamp,
)

BACKUP_DOWNLOAD_PREFIX = "/demo-backups"
URL_TTL_MINUTES = 60
# Real backups hold either a JSON array of records or newline-delimited JSON (one record
# per line). The demo uses the array for these indexes and NDJSON for the others, so that
# a client meets both.
JSON_ARRAY_INDEXES = frozenset({CISA_KEV})


@dataclass(frozen=True)
class BackupFile:
    """One backup zip held in memory, and when it was built."""

    index: str
    filename: str
    content: bytes
    sha256: str
    built_at: datetime


_backups: dict[str, BackupFile] = {}
_backups_lock = threading.Lock()


def get_backup(index: DemoIndex) -> BackupFile:
    """Return the backup zip of ``index``, building it on the first call in this process."""
    with _backups_lock:
        backup = _backups.get(index.name)
        if backup is None:
            backup = build_backup(index)
            _backups[index.name] = backup
        return backup


def build_backup(index: DemoIndex) -> BackupFile:
    """Zip the records of ``index`` into one ``<index>.json`` member.

    The zip is named ``<index>-<unix nanoseconds>.zip``, as VulnCheck names its backups.
    """
    built_ns = time.time_ns()
    built_at = datetime.fromtimestamp(built_ns / 1e9, UTC)
    if index.name in JSON_ARRAY_INDEXES:
        member = b"[" + b", ".join(index.encoded_records) + b"]"
    else:
        member = b"".join(record + b"\n" for record in index.encoded_records)

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(f"{index.name}.json", date_time=built_at.timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, member)
    content = buffer.getvalue()
    return BackupFile(
        index=index.name,
        filename=f"{index.name}-{built_ns}.zip",
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        built_at=built_at,
    )


def _millisecond_timestamp(moment: datetime) -> str:
    """Format like the backup dates of the API, such as ``2024-02-12T20:20:54.529Z``."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def serve_backup_list(context: HandlerContext) -> Response:
    """``GET /v3/backup``: the indexes that have a backup, in alphabetical order."""
    data = [
        {
            "name": index.name,
            "description": index.description,
            "href": f"{context.base_url}/v3/backup/{index.name}",
        }
        for index in sorted(load_indexes().values(), key=lambda index: index.name)
    ]
    return json_response(200, {"_benchmark": context.benchmark(), "data": data})


def serve_backup(context: HandlerContext) -> Response:
    """``GET /v3/backup/{index}``: the backup file of an index and its download URL.

    NOTE: ``url_expires`` is the response time plus ``url_ttl_minutes``, but the demo does
    not enforce it: the URL works until the process ends.
    """
    indexes = load_indexes()
    name = context.path_params["index"]
    index = indexes.get(name)
    if index is None:
        served = ", ".join(sorted(indexes))
        return error_response(
            404, f"index '{name}' has no backup in the demo API; it has backups of {served}"
        )

    backup = get_backup(index)
    now = datetime.now(UTC)
    item = {
        "filename": backup.filename,
        "sha256": backup.sha256,
        "date_added": _millisecond_timestamp(backup.built_at),
        "url": f"{context.base_url}{BACKUP_DOWNLOAD_PREFIX}/{backup.filename}",
        "url_ttl_minutes": URL_TTL_MINUTES,
        "url_expires": _millisecond_timestamp(now + timedelta(minutes=URL_TTL_MINUTES)),
    }
    meta = {"timestamp": utc_timestamp(now), "index": name}
    return json_response(200, {"_benchmark": context.benchmark(), "_meta": meta, "data": [item]})


def serve_backup_download(context: HandlerContext) -> Response:
    """``GET /demo-backups/{filename}``: the zip itself, without a token.

    A request that carries an ``Authorization`` header is rejected with 400, as Amazon S3
    rejects a pre-signed request with a second authentication method. A client must not
    send its API token to the storage host.
    """
    filename = context.path_params["filename"]
    with _backups_lock:
        backup = next((backup for backup in _backups.values() if backup.filename == filename), None)
    if backup is None:
        return error_response(
            404,
            f"backup file '{filename}' not found: request a current URL from "
            "GET /v3/backup/{index}",
        )
    if any(name.lower() == "authorization" for name in context.request.headers):
        return error_response(
            400,
            "a pre-signed backup URL accepts no Authorization header: download it without "
            "the API token",
        )
    return Response(
        200,
        backup.content,
        headers={"Content-Disposition": f'attachment; filename="{backup.filename}"'},
        content_type="application/zip",
    )
