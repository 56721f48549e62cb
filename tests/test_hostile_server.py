"""A server that misbehaves on purpose, one test per kind of fault, in every auth mode.

Each test checks the documented outcome and that rows fetched before the fault are kept. It
also checks that the token is in no text the fault produced: the error's str, repr and
traceback with its chain, the warnings, and every log record down to DEBUG.
"""

from __future__ import annotations

import gzip
import json
import logging
import socket
import threading
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from vulncheck_magic import (
    Client,
    NetworkError,
    RateLimitError,
    ResponseFormatError,
)
from vulncheck_magic._paging import PagingWarning

from .conftest import SECRET_TOKEN
from .scripted_server import Reply, scripted_server

PATH = "/v3/index/vulncheck-kev"
MODES = ["header", "query", "cookie"]


def envelope(records: list[dict[str, object]], next_cursor: str = "") -> bytes:
    return json.dumps(
        {
            "_benchmark": 0.001,
            "_meta": {"total_documents": 100, "next_cursor": next_cursor},
            "data": records,
        }
    ).encode()


def records(start: int, count: int) -> list[dict[str, object]]:
    return [{"cve": [f"CVE-2024-{n:05d}"]} for n in range(start, start + count)]


@contextmanager
def collected_texts(caplog: pytest.LogCaptureFixture) -> Iterator[list[str]]:
    """Collect the log records and warnings of the block as texts."""
    texts: list[str] = []
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield texts
    texts += [str(item.message) for item in caught]
    texts += [record.getMessage() for record in caplog.records]


def error_texts(error: BaseException) -> list[str]:
    return [str(error), repr(error), "".join(traceback.format_exception(error))]


def assert_no_token(texts: list[str]) -> None:
    for text in texts:
        assert SECRET_TOKEN not in text


@pytest.mark.parametrize("mode", MODES)
def test_429_with_retry_after(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    answers = [
        Reply(429, b'{"error": true, "errors": ["Rate limit exceeded"]}', {"Retry-After": "1"})
    ]
    answers.append(Reply(200, envelope(records(0, 3))))
    with scripted_server() as server, collected_texts(caplog) as texts:
        server.replies[PATH] = lambda query: answers.pop(0) if len(answers) > 1 else answers[0]
        with Client(server.url, token=SECRET_TOKEN, auth_mode=mode) as client:
            client.retry_notice = None
            frame = client.index("vulncheck-kev")
    assert len(frame) == 3
    assert any("waiting 1.0 s" in text for text in texts)
    assert_no_token(texts)


@pytest.mark.parametrize("mode", MODES)
def test_429_forever_is_an_error(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    with scripted_server() as server, collected_texts(caplog) as texts:
        server.replies[PATH] = Reply(
            429, b'{"error": true, "errors": ["Rate limit exceeded"]}', {"Retry-After": "0"}
        )
        with Client(server.url, token=SECRET_TOKEN, auth_mode=mode, max_retries=1) as client:
            client.retry_notice = None
            with pytest.raises(RateLimitError) as caught:
                client.index("vulncheck-kev")
    assert "Gave up after 1 retry; the last status was 429." in str(caught.value)
    assert_no_token(texts + error_texts(caught.value))


@pytest.mark.parametrize("mode", MODES)
def test_503_twice_then_ok(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    answers = [Reply(503, b"busy"), Reply(503, b"busy"), Reply(200, envelope(records(0, 2)))]
    with scripted_server() as server, collected_texts(caplog) as texts:
        server.replies[PATH] = lambda query: answers.pop(0) if len(answers) > 1 else answers[0]
        with Client(server.url, token=SECRET_TOKEN, auth_mode=mode) as client:
            client.retry_notice = None
            assert len(client.index("vulncheck-kev")) == 2
    assert len(server.seen) == 3
    assert_no_token(texts)


@contextmanager
def raw_server(handler: object) -> Iterator[str]:
    """A TCP server on 127.0.0.1 whose connections ``handler(connection)`` serves by hand."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.1)
    stop = threading.Event()
    connections: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            connections.append(connection)
            handler(connection)  # type: ignore[operator]

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for connection in connections:
            connection.close()
        listener.close()


@pytest.mark.parametrize("mode", MODES)
def test_connection_reset_mid_body(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    def half_answer(connection: socket.socket) -> None:
        connection.recv(65536)
        body = envelope(records(0, 50))
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        connection.sendall(head.encode() + body[:100])
        connection.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
        )
        connection.close()

    with raw_server(half_answer) as url, collected_texts(caplog) as texts:
        with Client(url, token=SECRET_TOKEN, auth_mode=mode) as client:
            with pytest.raises(NetworkError) as caught:
                client.index("vulncheck-kev")
    assert "broke off before the whole response arrived" in str(caught.value)
    assert caught.value.__context__ is None
    assert_no_token(texts + error_texts(caught.value))


@pytest.mark.parametrize("mode", MODES)
def test_stall_past_read_timeout(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    with raw_server(lambda connection: None) as url, collected_texts(caplog) as texts:
        with Client(
            url, token=SECRET_TOKEN, auth_mode=mode, timeout=(1.0, 0.2), max_retries=0
        ) as client:
            with pytest.raises(NetworkError) as caught:
                client.index("vulncheck-kev")
    assert "timed out after 0.2 s" in str(caught.value)
    assert_no_token(texts + error_texts(caught.value))


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(200, b'{"_meta": {}, "data": [{"cve": ["CVE-2024-1"]}, {"cv'), "truncated"),
        (
            Reply(
                200,
                b"<!DOCTYPE html><html><title>Maintenance</title></html>",
                {"Content-Type": "text/html"},
            ),
            "HTML page titled 'Maintenance'",
        ),
    ],
)
@pytest.mark.parametrize("mode", MODES)
def test_bad_200_bodies(
    mode: str, reply: Reply, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    with scripted_server() as server, collected_texts(caplog) as texts:
        server.replies[PATH] = reply
        with Client(server.url, token=SECRET_TOKEN, auth_mode=mode) as client:
            with pytest.raises(ResponseFormatError, match=message) as caught:
                client.index("vulncheck-kev")
    assert_no_token(texts + error_texts(caught.value))


@pytest.mark.parametrize("mode", MODES)
def test_repeating_cursor_keeps_rows(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    with scripted_server() as server, collected_texts(caplog) as texts:
        server.replies[PATH] = lambda query: Reply(200, envelope(records(0, 10), "again"))
        with Client(server.url, token=SECRET_TOKEN, auth_mode=mode) as client:
            frame = client.index("vulncheck-kev", all_pages=True, progress=False)
    assert len(frame) == 20
    assert frame.attrs["vulncheck"]["paging"]["stop_reason"] == "repeated cursor"
    assert any("returned before" in text for text in texts)
    assert_no_token(texts)


@pytest.mark.parametrize("mode", MODES)
def test_endless_cursor_stops_at_cap(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    def respond(query: dict[str, list[str]]) -> Reply:
        step = int(query.get("cursor", ["0"])[0] or 0)
        return Reply(200, envelope(records(step, 1), str(step + 1)))

    with scripted_server() as server, collected_texts(caplog) as texts:
        server.replies[PATH] = respond
        with Client(server.url, token=SECRET_TOKEN, auth_mode=mode) as client:
            frame = client.index("vulncheck-kev", all_pages=True, max_rows=25, progress=False)
    assert len(frame) == 25
    assert not frame.attrs["vulncheck"]["paging"]["complete"]
    assert_no_token(texts)


@pytest.mark.parametrize("mode", MODES)
def test_failure_mid_paging_keeps_rows(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    def respond(query: dict[str, list[str]]) -> Reply:
        cursor = query.get("cursor", [""])[0]
        if cursor == "3":
            return Reply(
                502, b"<html><title>502 Bad Gateway</title></html>", {"Content-Type": "text/html"}
            )
        step = int(cursor or 1)
        return Reply(200, envelope(records(step * 10, 10), str(step + 1)))

    with scripted_server() as server, collected_texts(caplog) as texts:
        server.replies[PATH] = respond
        with Client(server.url, token=SECRET_TOKEN, auth_mode=mode, max_retries=0) as client:
            frame = client.index("vulncheck-kev", all_pages=True, progress=False)
    paging = frame.attrs["vulncheck"]["paging"]
    assert len(frame) == 20
    assert paging["next_cursor"] == "3"
    assert "502 Bad Gateway" in paging["error"]
    assert any(isinstance(text, str) and "stopped at page 3" in text for text in texts)
    assert_no_token(texts)


@pytest.mark.parametrize("mode", MODES)
def test_redirect_to_other_host(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    with (
        scripted_server() as api,
        scripted_server("127.0.0.2") as other,
        collected_texts(caplog) as texts,
    ):
        other.replies["/moved"] = Reply(200, envelope(records(0, 1)))
        api.replies[PATH] = Reply(302, b"", {"Location": f"{other.url}/moved"})
        with Client(api.url, token=SECRET_TOKEN, auth_mode=mode) as client:
            if mode == "query":
                with pytest.raises(NetworkError, match="not followed") as caught:
                    client.index("vulncheck-kev")
                texts += error_texts(caught.value)
            else:
                assert len(client.index("vulncheck-kev")) == 1
    assert all(SECRET_TOKEN not in repr(seen) for seen in other.seen)
    assert len(other.seen) == (0 if mode == "query" else 1)
    assert_no_token(texts)


@pytest.mark.parametrize("mode", MODES)
def test_gzip_body(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    body = gzip.compress(envelope(records(0, 4)))
    with scripted_server() as server, collected_texts(caplog) as texts:
        server.replies[PATH] = Reply(
            200, body, {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        )
        with Client(server.url, token=SECRET_TOKEN, auth_mode=mode) as client:
            frame = client.index("vulncheck-kev")
    assert frame["cve"].tolist() == [f"CVE-2024-{n:05d}" for n in range(4)]
    assert_no_token(texts)


def test_paging_warning_class_is_user_visible() -> None:
    assert issubclass(PagingWarning, UserWarning)
