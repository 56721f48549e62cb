"""Backup download, record streaming, DataFrame loading and Parquet conversion.

The download tests run against a loopback server started here, which serves zips built in
each test and records every request it receives.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import socket
import sys
import threading
import traceback
import tracemalloc
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
import requests

from vulncheck_magic._backups import (
    BackupFile,
    BackupIntegrityError,
    DownloadResult,
    backup_to_parquet,
    download_backup,
    iter_backup_records,
    load_backup,
)
from vulncheck_magic._errors import (
    APIError,
    EntitlementError,
    InsecureTransportError,
    NetworkError,
    NotFoundError,
    ResponseFormatError,
    ServerError,
)

SIGNATURE = "SECRETSIG"
SIGNED_QUERY = (
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20240212&"
    f"X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature={SIGNATURE}"
)
FILENAME = "vulncheck-kev-1707769254529150054.zip"

KEV_RECORDS: list[dict[str, Any]] = [
    {
        "cve": ["CVE-2021-44228"],
        "vendorProject": "Apache",
        "product": "Log4j2",
        "date_added": "2021-12-10T00:00:00Z",
        "vulncheck_xdb": [{"xdb_id": "a1b2c3", "exploit_type": "initial-access"}],
        "timeline": {"nvd_published": "2021-12-10T10:15:09Z"},
    },
    {
        "cve": ["CVE-2024-4577"],
        "vendorProject": "PHP Group",
        "product": "PHP",
        "date_added": "2024-06-09T00:00:00Z",
        "vulncheck_xdb": [],
        "timeline": {"nvd_published": "2024-06-09T20:15:11Z"},
    },
    {
        "cve": ["CVE-2023-4966"],
        "vendorProject": "Citrix",
        "product": "NetScaler",
        "date_added": "2023-10-18T00:00:00Z",
        "vulncheck_xdb": [],
        "timeline": {"nvd_published": "2023-10-10T14:15:10Z"},
    },
]


# Loopback download server


@dataclass
class Served:
    """One scripted response of the download server."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(
        default_factory=lambda: {"Content-Type": "application/octet-stream"}
    )
    send_length: bool = True
    """False sends no Content-Length and ends the body by closing the connection."""
    announced_length: int | None = None
    """A Content-Length larger than the body makes the connection break off mid-body."""


@dataclass
class Received:
    """One request as the download server saw it."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class DownloadServer(ThreadingHTTPServer):
    """Serves ``routes[path]`` whatever the query string; unknown paths get 404."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _DownloadHandler)
        self.routes: dict[str, Served] = {}
        self.received: list[Received] = []

    @property
    def origin(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def signed_url(self, path: str) -> str:
        return f"{self.origin}{path}?{SIGNED_QUERY}"


class _DownloadHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: DownloadServer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.server.received.append(
            Received(parts.path, parse_qs(parts.query), dict(self.headers.items()))
        )
        served = self.server.routes.get(parts.path, Served(b"not found", 404, {}))
        self.send_response(served.status)
        for name, value in served.headers.items():
            self.send_header(name, value)
        if served.send_length:
            length = served.announced_length or len(served.body)
            self.send_header("Content-Length", str(length))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(served.body)
        if served.announced_length:
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[DownloadServer]:
    """A download server on a free port of 127.0.0.1."""
    instance = DownloadServer()
    thread = threading.Thread(target=instance.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield instance
    finally:
        instance.shutdown()
        instance.server_close()


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as instance:
        yield instance


# Helpers


def make_zip(members: Mapping[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def write_zip(path: Path, members: Mapping[str, str | bytes]) -> Path:
    path.write_bytes(make_zip(members))
    return path


def as_array(records: list[Any]) -> str:
    return "[\n" + ",\n".join(json.dumps(record) for record in records) + "\n]\n"


def as_ndjson(records: list[Any]) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def backup_for(
    server: DownloadServer, body: bytes, *, sha256: str | None = None, filename: str = FILENAME
) -> BackupFile:
    """Serve ``body`` and return the metadata item that points to it."""
    path = f"/bucket/{filename}"
    server.routes[path] = Served(body)
    return BackupFile.from_metadata(
        "vulncheck-kev",
        {
            "filename": filename,
            "sha256": sha256 or hashlib.sha256(body).hexdigest(),
            "date_added": "2024-02-12T20:20:54.529Z",
            "url": server.signed_url(path),
            "url_ttl_minutes": 60,
        },
    )


def all_texts(error: BaseException) -> str:
    """str, repr and the formatted traceback of an error, chained exceptions included."""
    return "\n".join([str(error), repr(error), "".join(traceback.format_exception(error))])


def files_in(directory: Path) -> list[str]:
    return sorted(str(path.relative_to(directory)) for path in directory.rglob("*"))


def free_port() -> int:
    """Return a loopback port that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# Metadata


def test_metadata_builds_backup_file() -> None:
    item = json.loads(Path(__file__).with_name("data").joinpath("backup-index.json").read_text())
    backup = BackupFile.from_metadata("initial-access", item["data"][0])
    assert backup.filename == "initial-access-1707769254529150054.zip"
    assert backup.sha256 == "27285d350260ccaf8e3adebd1ede53305e14d2e1b31a37d6f22f7d81e420c309"
    assert backup.date_added == "2024-02-12T20:20:54.529Z"
    assert backup.url.startswith("https://")


@pytest.mark.parametrize("missing", ["url", "filename", "sha256"])
def test_metadata_missing_field_rejected(missing: str) -> None:
    item = {"url": "https://127.0.0.1/x.zip", "filename": "x.zip", "sha256": "0" * 64}
    del item[missing]
    with pytest.raises(ResponseFormatError, match=f"has no {missing}"):
        BackupFile.from_metadata("vulncheck-kev", item)


def test_metadata_invalid_sha256_rejected() -> None:
    item = {"url": "https://127.0.0.1/x.zip", "filename": "x.zip", "sha256": "abc"}
    with pytest.raises(ResponseFormatError, match="invalid sha256"):
        BackupFile.from_metadata("vulncheck-kev", item)


@pytest.mark.parametrize(
    "filename",
    ["../evil.zip", "../../etc/passwd", "sub/x.zip", "/tmp/x.zip", "..\\x.zip", "..", "C:x.zip"],
)
def test_server_filename_with_path_rejected(filename: str, tmp_path: Path) -> None:
    item = {"url": "https://127.0.0.1/x.zip", "filename": filename, "sha256": "0" * 64}
    with pytest.raises(ResponseFormatError, match="unsafe filename"):
        BackupFile.from_metadata("vulncheck-kev", item)
    assert files_in(tmp_path) == []


def test_backup_file_repr_hides_query(server: DownloadServer) -> None:
    backup = backup_for(server, make_zip({"a.json": "[]"}))
    assert SIGNATURE not in repr(backup)
    assert "X-Amz" not in repr(backup)
    assert "/bucket/" in repr(backup)


# Download


def test_download_verifies_and_extracts(
    server: DownloadServer, session: requests.Session, tmp_path: Path
) -> None:
    members = {
        "records/kev.json": as_array(KEV_RECORDS),
        "more.json": as_ndjson(KEV_RECORDS),
        "README.txt": "not a record file",
    }
    body = make_zip(members)
    backup = backup_for(server, body)

    result = download_backup(session, backup, tmp_path / "out", progress=False)

    assert isinstance(result, DownloadResult)
    assert result.zip_path == tmp_path / "out" / FILENAME
    assert result.zip_path.read_bytes() == body
    assert result.sha256 == hashlib.sha256(body).hexdigest()
    assert result.size == len(body)
    folder = tmp_path / "out" / "vulncheck-kev-1707769254529150054"
    assert result.extracted == (folder / "records" / "kev.json", folder / "more.json")
    assert (folder / "records" / "kev.json").read_text() == members["records/kev.json"]
    assert (folder / "more.json").read_text() == members["more.json"]
    assert not (folder / "README.txt").exists()
    assert not list((tmp_path / "out").rglob("*.part"))


def test_download_without_unzip(
    server: DownloadServer, session: requests.Session, tmp_path: Path
) -> None:
    backup = backup_for(server, make_zip({"kev.json": as_array(KEV_RECORDS)}))
    result = download_backup(session, backup, tmp_path, unzip=False, progress=False)
    assert result.extracted == ()
    assert files_in(tmp_path) == [FILENAME]


def test_download_progress_bar_in_bytes(
    server: DownloadServer,
    session: requests.Session,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    body = make_zip({"kev.json": as_array(KEV_RECORDS * 200)})
    backup = backup_for(server, body)
    download_backup(session, backup, tmp_path, progress=True, chunk_size=1024)
    stderr = capsys.readouterr().err
    assert FILENAME in stderr
    assert "100%" in stderr
    assert "B/s" in stderr


def test_download_progress_without_content_length(
    server: DownloadServer,
    session: requests.Session,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    body = make_zip({"kev.json": as_array(KEV_RECORDS * 50)})
    backup = backup_for(server, body)
    server.routes["/bucket/" + FILENAME].send_length = False
    result = download_backup(session, backup, tmp_path, progress=True, chunk_size=512)
    assert result.size == len(body)
    stderr = capsys.readouterr().err
    assert FILENAME in stderr
    assert "%" not in stderr  # no total, so no percentage


def test_download_progress_off_imports_no_tqdm(
    server: DownloadServer,
    session: requests.Session,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A None entry in sys.modules makes any import of tqdm.auto fail.
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    backup = backup_for(server, make_zip({"kev.json": as_array(KEV_RECORDS)}))
    download_backup(session, backup, tmp_path, progress=False)
    assert capsys.readouterr().err == ""


def test_checksum_mismatch_removes_file(
    server: DownloadServer, session: requests.Session, tmp_path: Path
) -> None:
    body = make_zip({"kev.json": as_array(KEV_RECORDS)})
    expected = "ab" * 32
    backup = backup_for(server, body, sha256=expected)

    with pytest.raises(BackupIntegrityError) as caught:
        download_backup(session, backup, tmp_path, progress=False)

    message = str(caught.value)
    assert expected[:12] in message
    assert hashlib.sha256(body).hexdigest()[:12] in message
    assert "removed" in message
    assert isinstance(caught.value, ResponseFormatError)
    assert files_in(tmp_path) == []


@pytest.mark.parametrize(
    ("body", "content_type", "description"),
    [
        (b"<html><head><title>Access Denied</title></head></html>", "text/html", "HTML page"),
        (b"<!DOCTYPE html><html><body>Sign in</body></html>", "application/zip", "HTML page"),
        (b'{"error": true, "errors": ["expired"]}', "application/json", "JSON document"),
        (b"\x1f\x8b\x08\x00 gzip, not zip", "application/zip", "not a zip archive"),
        (b"", "application/zip", "empty body"),
    ],
)
def test_error_page_instead_of_zip(
    server: DownloadServer,
    session: requests.Session,
    tmp_path: Path,
    body: bytes,
    content_type: str,
    description: str,
) -> None:
    backup = backup_for(server, body)
    server.routes["/bucket/" + FILENAME].headers = {"Content-Type": content_type}

    with pytest.raises(ResponseFormatError, match=description) as caught:
        download_backup(session, backup, tmp_path, progress=False)

    assert not isinstance(caught.value, BackupIntegrityError)
    assert FILENAME in str(caught.value)
    assert files_in(tmp_path) == []


@pytest.mark.parametrize(
    ("status", "error_class", "hint"),
    [
        (403, EntitlementError, "expired"),
        (404, NotFoundError, "no longer at that URL"),
        (500, ServerError, "try again later"),
        (503, ServerError, "try again later"),
        (410, APIError, "expected HTTP 200"),
    ],
)
def test_http_error_status(
    server: DownloadServer,
    session: requests.Session,
    tmp_path: Path,
    status: int,
    error_class: type[APIError],
    hint: str,
) -> None:
    backup = backup_for(server, b"")
    # S3 echoes the signed request in its error body; only Code and Message may be shown.
    xml = (
        "<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
        "<Message>Request has expired</Message>"
        f"<CanonicalRequest>GET /bucket/x {SIGNED_QUERY}</CanonicalRequest></Error>"
    )
    server.routes["/bucket/" + FILENAME] = Served(
        xml.encode(), status, {"Content-Type": "application/xml"}
    )

    with pytest.raises(error_class) as caught:
        download_backup(session, backup, tmp_path, progress=False)

    assert caught.value.status == status
    assert hint in str(caught.value)
    assert "AccessDenied: Request has expired" in str(caught.value)
    assert SIGNATURE not in all_texts(caught.value)
    assert "X-Amz" not in all_texts(caught.value)
    assert files_in(tmp_path) == []


def test_error_body_echoing_url_masked(
    server: DownloadServer, session: requests.Session, tmp_path: Path
) -> None:
    backup = backup_for(server, b"")
    echo = f"internal error for GET /bucket/{FILENAME}?{SIGNED_QUERY}"
    plain_text = {"Content-Type": "text/plain"}
    server.routes["/bucket/" + FILENAME] = Served(echo.encode(), 500, plain_text)

    with pytest.raises(ServerError, match="internal error for GET") as caught:
        download_backup(session, backup, tmp_path, progress=False)

    assert SIGNATURE not in all_texts(caught.value)
    assert "AKIDEXAMPLE" not in all_texts(caught.value)


def test_plain_404_page(server: DownloadServer, session: requests.Session, tmp_path: Path) -> None:
    backup = backup_for(server, b"")
    del server.routes["/bucket/" + FILENAME]
    with pytest.raises(NotFoundError, match="HTTP 404") as caught:
        download_backup(session, backup, tmp_path, progress=False)
    assert "/bucket/" + FILENAME in str(caught.value)
    assert files_in(tmp_path) == []


def test_connection_refused(session: requests.Session, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/bucket/{FILENAME}?{SIGNED_QUERY}"
    backup = BackupFile("vulncheck-kev", FILENAME, "0" * 64, url, None)

    with pytest.raises(NetworkError, match="refused") as caught:
        download_backup(session, backup, tmp_path, progress=False)

    assert SIGNATURE not in all_texts(caught.value)
    assert caught.value.__context__ is None
    assert files_in(tmp_path) == []


def test_connection_broken_mid_body(
    server: DownloadServer, session: requests.Session, tmp_path: Path
) -> None:
    body = make_zip({"kev.json": as_array(KEV_RECORDS * 100)})
    backup = backup_for(server, body)
    server.routes["/bucket/" + FILENAME].announced_length = len(body) + 10_000

    with pytest.raises(NetworkError, match="broke off") as caught:
        download_backup(session, backup, tmp_path, progress=False, chunk_size=256)

    assert SIGNATURE not in all_texts(caught.value)
    assert files_in(tmp_path) == []


def test_plain_http_to_other_host_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session = requests.Session()

    def fail_if_sent(*args: object, **kwargs: object) -> None:
        raise AssertionError("a request was sent")

    monkeypatch.setattr(session, "send", fail_if_sent)
    url = f"http://backups.example.com/{FILENAME}?{SIGNED_QUERY}"
    backup = BackupFile("vulncheck-kev", FILENAME, "0" * 64, url, None)
    with pytest.raises(InsecureTransportError, match="Plain http download") as caught:
        download_backup(session, backup, tmp_path, progress=False)
    assert SIGNATURE not in all_texts(caught.value)


def test_download_sends_no_credentials(
    server: DownloadServer,
    session: requests.Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login netrc-user password netrc-password\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    session.headers["Authorization"] = "Bearer session-header-token"
    session.cookies.set("token", "session-cookie-token", domain="127.0.0.1")
    backup = backup_for(server, make_zip({"kev.json": as_array(KEV_RECORDS)}))

    download_backup(session, backup, tmp_path / "out", progress=False)

    assert len(server.received) == 1
    seen = server.received[0]
    assert "Authorization" not in seen.headers
    assert "Cookie" not in seen.headers
    assert "token" not in seen.query
    assert seen.query["X-Amz-Signature"] == [SIGNATURE]
    assert seen.headers["Accept-Encoding"] == "identity"


def test_redirect_followed_without_cookies(
    server: DownloadServer, session: requests.Session, tmp_path: Path
) -> None:
    body = make_zip({"kev.json": as_array(KEV_RECORDS)})
    backup = backup_for(server, body)
    server.routes["/bucket/" + FILENAME] = Served(
        b"", 307, {"Location": f"/mirror/{FILENAME}?{SIGNED_QUERY}"}
    )
    server.routes["/mirror/" + FILENAME] = Served(body)
    session.cookies.set("token", "session-cookie-token", domain="127.0.0.1")

    result = download_backup(session, backup, tmp_path, progress=False)

    assert result.zip_path.read_bytes() == body
    assert [seen.path for seen in server.received] == [
        "/bucket/" + FILENAME,
        "/mirror/" + FILENAME,
    ]
    for seen in server.received:
        assert "Cookie" not in seen.headers
        assert "Authorization" not in seen.headers


def test_query_string_absent_from_logs(
    server: DownloadServer,
    session: requests.Session,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    body = make_zip({"kev.json": as_array(KEV_RECORDS)})
    download_backup(session, backup_for(server, body), tmp_path / "ok", progress=False)
    failures = [
        backup_for(server, body, sha256="cd" * 32),
        backup_for(server, b"<html>expired</html>"),
        BackupFile("vulncheck-kev", FILENAME, "0" * 64, server.signed_url("/missing"), None),
        BackupFile(
            "vulncheck-kev",
            FILENAME,
            "0" * 64,
            f"http://127.0.0.1:{free_port()}/x?{SIGNED_QUERY}",
            None,
        ),
    ]
    for backup in failures:
        with pytest.raises((ResponseFormatError, APIError, NetworkError)) as caught:
            download_backup(session, backup, tmp_path / "failed", progress=False)
        assert SIGNATURE not in all_texts(caught.value)

    messages = [record.getMessage() for record in caplog.records]
    assert any(record.name == "vulncheck_magic" for record in caplog.records)
    assert any(record.name.startswith("urllib3") for record in caplog.records)
    for message in messages:
        assert SIGNATURE not in message
        assert "X-Amz-Credential" not in message


# Unzip


@pytest.mark.parametrize(
    "member", ["../escape.json", "a/../../escape.json", "/etc/escape.json", "..\\escape.json"]
)
def test_unsafe_member_rejected_on_unzip(
    server: DownloadServer, session: requests.Session, tmp_path: Path, member: str
) -> None:
    body = make_zip({"good.json": as_array(KEV_RECORDS), member: as_array(KEV_RECORDS)})
    backup = backup_for(server, body)
    out = tmp_path / "deep" / "out"

    with pytest.raises(ResponseFormatError, match="unsafe member name") as caught:
        download_backup(session, backup, out, progress=False)

    assert repr(member) in str(caught.value)
    assert files_in(tmp_path) == ["deep", "deep/out", f"deep/out/{FILENAME}"]


# Records


def test_array_and_ndjson_members(tmp_path: Path) -> None:
    path = write_zip(
        tmp_path / "b.zip",
        {
            "part-1.json": as_array(KEV_RECORDS[:2]),
            "notes.txt": "ignored",
            "part-2.json": as_ndjson(KEV_RECORDS[2:]),
        },
    )
    assert list(iter_backup_records(path)) == KEV_RECORDS


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        "  \n [ \n ] \n",
        "",
        "\n\n   \n",
    ],
)
def test_empty_members(tmp_path: Path, text: str) -> None:
    path = write_zip(tmp_path / "b.zip", {"empty.json": text})
    assert list(iter_backup_records(path)) == []


def test_array_layouts(tmp_path: Path) -> None:
    records = [{"id": index, "text": 'é\u2028"}]{[,'} for index in range(50)]
    layouts = {
        "compact.json": json.dumps(records, separators=(",", ":")),
        "indented.json": json.dumps(records, indent=2),
        "bom.json": "\ufeff" + json.dumps(records),
        "crlf.json": "\r\n[\r\n" + ",\r\n".join(json.dumps(r) for r in records) + "\r\n]\r\n",
    }
    path = write_zip(tmp_path / "b.zip", layouts)
    assert list(iter_backup_records(path)) == records * len(layouts)


def test_ndjson_blank_lines_and_crlf(tmp_path: Path) -> None:
    text = "\n\n" + json.dumps(KEV_RECORDS[0]) + "\r\n   \n\t\n" + json.dumps(KEV_RECORDS[1])
    path = write_zip(tmp_path / "b.zip", {"kev.json": "\ufeff" + text})
    assert list(iter_backup_records(path)) == KEV_RECORDS[:2]


@pytest.mark.parametrize("layout", ["array", "ndjson"])
def test_large_record(tmp_path: Path, layout: str) -> None:
    large = {"cpe": "cpecve", "matches": [f"cpe:2.3:a:vendor:product:{n}:*" for n in range(9000)]}
    assert len(json.dumps(large)) > 300_000
    records = [KEV_RECORDS[0], large, KEV_RECORDS[1], large]
    text = as_array(records) if layout == "array" else as_ndjson(records)
    path = write_zip(tmp_path / "b.zip", {"cpecve.json": text})
    assert list(iter_backup_records(path)) == records


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}\n\n{"a": 2,}\n', r"Record 2 \(line 3\) of backup member 'm\.json'"),
        ('{"a": 1}\n{"a": \n', r"Record 2 \(line 2\) of backup member 'm\.json'"),
        ('{"a": 1}\n[1, 2]\n', r"Record 2 of backup member 'm\.json' is a JSON array"),
        ('[{"a": 1}, {"a": 2,}]', r"'m\.json' has a malformed record 2"),
        ('[{"a": 1}, {"a": "x}]', r"'m\.json' has a malformed record 2: Unterminated string"),
        ('[{"a": 1} {"a": 2}]', r"'m\.json' has a malformed record 1: expected ','"),
        ('[{"a": 1},]', r"'m\.json' has a malformed record 2"),
        ('[{"a": 1}, {"a": 2}', r"'m\.json' ends after record 2"),
        ('[{"a": 1}] {"a": 2}', r"'m\.json' has data after the closing"),
        ('[{"a": 1}, "text"]', r"Record 2 of backup member 'm\.json' is a JSON string"),
        ("<html></html>", r"'m\.json' starts with '<'"),
    ],
)
def test_malformed_record(tmp_path: Path, text: str, expected: str) -> None:
    path = write_zip(tmp_path / "b.zip", {"m.json": text})
    with pytest.raises(ResponseFormatError, match=expected):
        list(iter_backup_records(path))


def test_records_before_malformed_one_are_yielded(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "b.zip", {"m.json": as_ndjson(KEV_RECORDS[:2]) + "{oops\n"})
    records = iter_backup_records(path)
    assert next(records) == KEV_RECORDS[0]
    assert next(records) == KEV_RECORDS[1]
    with pytest.raises(ResponseFormatError, match="Record 3"):
        next(records)


def test_invalid_utf8_member(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "b.zip", {"m.json": b'{"a": "\xff\xfe"}\n'})
    with pytest.raises(ResponseFormatError, match="not valid UTF-8"):
        list(iter_backup_records(path))


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "b.zip"
    path.write_bytes(b"<html>not a zip</html>")
    with pytest.raises(ResponseFormatError, match="not a zip archive"):
        list(iter_backup_records(path))


@pytest.mark.parametrize("layout", ["array", "ndjson"])
def test_member_streamed_not_loaded(tmp_path: Path, layout: str) -> None:
    records = [dict(KEV_RECORDS[0], id=n) for n in range(100_000)]
    text = as_array(records) if layout == "array" else as_ndjson(records)
    assert len(text) > 20_000_000
    path = write_zip(tmp_path / "b.zip", {"big.json": text})
    del text, records

    tracemalloc.start()
    try:
        stream = iter_backup_records(path)
        first = [next(stream) for _ in range(3)]
        _current, peak = tracemalloc.get_traced_memory()
        del stream
    finally:
        tracemalloc.stop()
    assert [record["id"] for record in first] == [0, 1, 2]
    assert peak < 8_000_000


# DataFrame


def test_load_backup_frame(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "b.zip", {"kev.json": as_array(KEV_RECORDS)})
    frame = load_backup(path)
    assert list(frame["vendorProject"]) == ["Apache", "PHP Group", "Citrix"]
    assert "timeline.nvd_published" in frame.columns
    assert str(frame["date_added"].dtype) == "datetime64[ns, UTC]"
    provenance = frame.attrs["vulncheck"]
    assert provenance["truncated"] is False
    assert provenance["rows"] == 3
    assert provenance["members"] == ["kev.json"]


@pytest.mark.parametrize(
    ("max_rows", "rows", "truncated"),
    [(None, 6, False), (2, 2, True), (5, 5, True), (6, 6, False), (10, 6, False), (0, 0, True)],
)
def test_load_backup_max_rows(
    tmp_path: Path, max_rows: int | None, rows: int, truncated: bool
) -> None:
    path = write_zip(
        tmp_path / "b.zip",
        {"a.json": as_array(KEV_RECORDS), "b.json": as_ndjson(KEV_RECORDS)},
    )
    frame = load_backup(path, max_rows=max_rows)
    assert len(frame) == rows
    assert frame.attrs["vulncheck"]["truncated"] is truncated
    assert frame.attrs["vulncheck"]["max_rows"] == max_rows


def test_load_backup_invalid_max_rows(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "b.zip", {"a.json": as_array(KEV_RECORDS)})
    with pytest.raises(ValueError, match="invalid max_rows"):
        load_backup(path, max_rows=-1)


# Parquet


def test_parquet_round_trip(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "b.zip", {"kev.json": as_array(KEV_RECORDS)})
    target = tmp_path / "out" / "kev.parquet"

    result = backup_to_parquet(path, target, progress=False)

    assert result.path == target
    assert result.rows == 3
    frame = pd.read_parquet(target)
    assert result.columns == len(frame.columns)
    assert list(frame["product"]) == ["Log4j2", "PHP", "NetScaler"]
    assert frame["timeline.nvd_published"][0] == "2021-12-10T10:15:09Z"
    assert json.loads(frame["cve"][0]) == ["CVE-2021-44228"]
    assert json.loads(frame["vulncheck_xdb"][0]) == KEV_RECORDS[0]["vulncheck_xdb"]
    assert json.loads(frame["vulncheck_xdb"][1]) == []
    assert files_in(tmp_path / "out") == ["kev.parquet"]


def test_parquet_column_first_seen_in_late_batch(tmp_path: Path) -> None:
    records: list[dict[str, Any]] = [{"id": n, "score": n} for n in range(12)]
    records[9]["late"] = {"nested": "only here"}
    records[10]["score"] = 7.5
    records[11]["mixed"] = "text"
    records[2]["mixed"] = 42
    records[4]["flag"] = True
    path = write_zip(tmp_path / "b.zip", {"m.json": as_ndjson(records)})
    target = tmp_path / "m.parquet"

    result = backup_to_parquet(path, target, batch_rows=3, progress=False)

    frame = pd.read_parquet(target)
    assert result.rows == 12
    assert list(frame.columns) == ["id", "score", "mixed", "flag", "late.nested"]
    assert list(frame["id"]) == list(range(12))
    assert frame["late.nested"].isna().sum() == 11
    assert frame["late.nested"][9] == "only here"
    assert str(frame["score"].dtype) == "float64"
    assert frame["score"][10] == 7.5
    assert frame["mixed"][2] == "42"
    assert frame["mixed"][11] == "text"
    assert frame["mixed"].isna().sum() == 10
    assert frame["flag"][4]
    assert frame["flag"].isna().sum() == 11


def test_parquet_batch_of_empty_records(tmp_path: Path) -> None:
    records: list[dict[str, Any]] = [{}, {}, {}, {"a": 1}]
    path = write_zip(tmp_path / "b.zip", {"m.json": as_ndjson(records)})
    result = backup_to_parquet(path, tmp_path / "m.parquet", batch_rows=3, progress=False)
    frame = pd.read_parquet(result.path)
    assert result.rows == 4
    assert len(frame) == 4
    assert frame["a"].isna().sum() == 3
    assert frame["a"][3] == 1


def test_parquet_empty_batch_after_written_batches(tmp_path: Path) -> None:
    records: list[dict[str, Any]] = [{"a": 1}, {}, {}, {}, {"a": 2}]
    path = write_zip(tmp_path / "b.zip", {"m.json": as_ndjson(records)})

    result = backup_to_parquet(path, tmp_path / "m.parquet", batch_rows=2, progress=False)

    frame = pd.read_parquet(result.path)
    assert result.rows == 5
    assert str(frame["a"].dtype) == "float64"
    assert frame["a"].tolist()[0] == 1.0
    assert frame["a"].isna().tolist() == [False, True, True, True, False]
    assert files_in(tmp_path) == ["b.zip", "m.parquet"]


def test_parquet_many_batches(tmp_path: Path) -> None:
    records = [
        {"id": n, "cve": [f"CVE-2024-{n:05d}"], "meta": {"batch": n // 7}} for n in range(2_000)
    ]
    path = write_zip(
        tmp_path / "b.zip",
        {"a.json": as_array(records[:1_000]), "b.json": as_ndjson(records[1_000:])},
    )
    target = tmp_path / "many.parquet"

    result = backup_to_parquet(path, target, batch_rows=7, progress=False)

    frame = pd.read_parquet(target)
    assert result.rows == 2_000
    assert list(frame["id"]) == list(range(2_000))
    assert list(frame["meta.batch"]) == [n // 7 for n in range(2_000)]
    assert frame["cve"][1999] == '["CVE-2024-01999"]'
    assert files_in(tmp_path) == ["b.zip", "many.parquet"]


def test_parquet_progress_in_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_zip(tmp_path / "b.zip", {"kev.json": as_array(KEV_RECORDS)})
    backup_to_parquet(path, tmp_path / "kev.parquet", progress=True)
    assert "3 records" in capsys.readouterr().err


def test_parquet_empty_backup(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "b.zip", {"kev.json": "[]"})
    result = backup_to_parquet(path, tmp_path / "empty.parquet", progress=False)
    assert result.rows == 0
    assert pd.read_parquet(result.path).empty


def test_parquet_failure_leaves_nothing(tmp_path: Path) -> None:
    lines = as_ndjson(KEV_RECORDS * 10) + "{broken\n"
    path = write_zip(tmp_path / "b.zip", {"kev.json": lines})
    with pytest.raises(ResponseFormatError, match="Record 31"):
        backup_to_parquet(path, tmp_path / "kev.parquet", batch_rows=4, progress=False)
    assert files_in(tmp_path) == ["b.zip"]


def test_parquet_invalid_batch_rows(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "b.zip", {"kev.json": "[]"})
    with pytest.raises(ValueError, match="invalid batch_rows"):
        backup_to_parquet(path, tmp_path / "x.parquet", batch_rows=0)
