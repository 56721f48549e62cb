"""Retries with urllib3's Retry: 429 and 5xx, Retry-After in both forms, caps and notices."""

from __future__ import annotations

import json
from email.utils import formatdate
from time import time

import pytest
from IPython.core.interactiveshell import InteractiveShell

from vulncheck_magic import Client, RateLimitError, ServerError

from .conftest import SECRET_TOKEN, run_cell
from .scripted_server import Reply, scripted_server

PATH = "/v3/index/cisa-kev"
OK = Reply(200, json.dumps({"_meta": {}, "data": [{"cve": ["CVE-2021-44228"]}]}).encode())
RATE_LIMITED = b'{"error": true, "errors": ["Rate limit exceeded. Please try again later."]}'


def sequence(*replies: Reply) -> object:
    """A responder that gives ``replies`` in order, then repeats the last one."""
    queue = list(replies)

    def respond(query: dict[str, list[str]]) -> Reply:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return respond


def client_with_notices(
    url: str, notices: list[tuple[float, int | None, int, int]], **kwargs: object
) -> Client:
    client = Client(url, token=SECRET_TOKEN, **kwargs)  # type: ignore[arg-type]
    client.retry_notice = lambda *notice: notices.append(notice)
    return client


def test_429_with_retry_after_seconds() -> None:
    notices: list[tuple[float, int | None, int, int]] = []
    with scripted_server() as server:
        server.replies[PATH] = sequence(Reply(429, RATE_LIMITED, {"Retry-After": "1"}), OK)
        with client_with_notices(server.url, notices) as client:
            frame = client.index("cisa-kev")
    assert len(frame) == 1
    assert notices == [(1.0, 429, 1, 3)]
    assert len(server.seen) == 2


def test_503_twice_then_success() -> None:
    notices: list[tuple[float, int | None, int, int]] = []
    unavailable = Reply(503, b"busy", {"Content-Type": "text/plain"})
    with scripted_server() as server:
        server.replies[PATH] = sequence(unavailable, unavailable, OK)
        with client_with_notices(server.url, notices) as client:
            frame = client.index("cisa-kev")
    assert len(frame) == 1
    assert [notice[1] for notice in notices] == [503, 503]
    assert [notice[2] for notice in notices] == [1, 2]


def test_retry_after_date_capped_by_max_wait() -> None:
    notices: list[tuple[float, int | None, int, int]] = []
    later = formatdate(time() + 120, usegmt=True)
    with scripted_server() as server:
        server.replies[PATH] = sequence(Reply(429, RATE_LIMITED, {"Retry-After": later}), OK)
        with client_with_notices(server.url, notices, max_retry_wait=0.2) as client:
            client.index("cisa-kev")
    assert notices == [(0.2, 429, 1, 3)]


def test_retries_run_out_on_429() -> None:
    notices: list[tuple[float, int | None, int, int]] = []
    with scripted_server() as server:
        server.replies[PATH] = sequence(Reply(429, RATE_LIMITED, {"Retry-After": "0"}))
        with client_with_notices(server.url, notices, max_retries=2) as client:
            with pytest.raises(RateLimitError) as caught:
                client.index("cisa-kev")
    message = str(caught.value)
    assert "Rate limit exceeded" in message
    assert "Gave up after 2 retries; the last status was 429." in message
    assert len(server.seen) == 3
    assert SECRET_TOKEN not in message


def test_post_not_retried_on_503() -> None:
    with scripted_server() as server:
        server.replies["/v3/purls"] = Reply(503, b"busy", {"Content-Type": "text/plain"})
        with Client(server.url, token=SECRET_TOKEN) as client:
            with pytest.raises(ServerError) as caught:
                client.purls(["pkg:npm/lodash@4.17.20"])
    assert "Gave up" not in str(caught.value)


def test_zero_retries_policy() -> None:
    with scripted_server() as server:
        server.replies[PATH] = sequence(Reply(503, b"busy"), OK)
        with Client(server.url, token=SECRET_TOKEN, max_retries=0) as client:
            with pytest.raises(ServerError):
                client.index("cisa-kev")
    assert len(server.seen) == 1


def test_magic_shows_rate_limit_notice(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VULNCHECK_API_TOKEN", SECRET_TOKEN)
    with scripted_server() as server:
        server.replies[PATH] = sequence(Reply(429, RATE_LIMITED, {"Retry-After": "1"}), OK)
        run_cell(shell, f"%config VulnCheckMagic.base_url = '{server.url}'")
        outcome = run_cell(shell, "%vulncheck index cisa-kev")
    assert outcome.error is None, outcome.text
    assert outcome.stderr == "rate limited (HTTP 429): retrying in 1 s (retry 1 of 3)\n"


def test_config_settings_reach_client(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    run_cell(shell, "%config VulnCheckMagic.max_retries = 1")
    run_cell(shell, "%config VulnCheckMagic.max_retry_wait = 0.5")
    run_cell(shell, "%config VulnCheckMagic.read_timeout = 7")
    run_cell(shell, "%config VulnCheckMagic.ca_bundle = '/etc/ssl/certs/ca-certificates.crt'")
    client = shell.magics_manager.registry["VulnCheckMagic"].client
    assert client.max_retries == 1
    assert client.max_retry_wait == 0.5
    assert client.timeout == (10.0, 7.0)
    assert client.session.verify == "/etc/ssl/certs/ca-certificates.crt"
    retry = client.session.get_adapter("https://api.vulncheck.com").max_retries
    assert retry.total == 1
    assert retry.max_wait == 0.5


def test_ca_bundle_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", "/tmp/corporate-ca.pem")
    with Client("https://127.0.0.1:9", token=SECRET_TOKEN) as client:
        assert client.session.verify == "/tmp/corporate-ca.pem"
    with pytest.raises(ValueError, match="cannot be turned off"):
        Client("https://127.0.0.1:9", token=SECRET_TOKEN, verify=False)


def test_read_stall_times_out() -> None:
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_stall() -> None:
        while not stop.is_set():
            try:
                listener.settimeout(0.1)
                connection, _ = listener.accept()
            except OSError:
                continue
            accepted.append(connection)

    thread = threading.Thread(target=accept_and_stall, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        with Client(url, token=SECRET_TOKEN, timeout=(1.0, 0.3), max_retries=1) as client:
            with pytest.raises(Exception) as caught:
                client.index("cisa-kev")
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()
    assert type(caught.value).__name__ == "NetworkError"
    assert "timed out after 0.3 s (1 retry made)" in str(caught.value)
    assert len(accepted) == 2
