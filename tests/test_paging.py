"""Cursor paging with --all: the normal run, caps, and servers that misbehave on purpose."""

from __future__ import annotations

import _thread
import json
import re
import threading
import warnings
from typing import Any

import numpy as np
import pytest
import requests
from IPython.core.interactiveshell import InteractiveShell

import vulncheck_magic
from vulncheck_magic import Client
from vulncheck_magic._paging import PagingInterrupted, PagingWarning, collect_pages
from vulncheck_magic._params import InvalidParameterError
from vulncheck_magic._responses import peek_envelope_head

from .conftest import SECRET_TOKEN, run_cell
from .scripted_server import Reply, Responder, scripted_server

PATH = "/v3/index/vulncheck-kev"


def page(records: list[dict[str, object]], next_cursor: str, total: int = 1000) -> Reply:
    """A 200 reply with an index envelope."""
    body = {
        "_benchmark": 0.001,
        "_meta": {"total_documents": total, "next_cursor": next_cursor, "limit": len(records)},
        "data": records,
    }
    return Reply(200, json.dumps(body).encode())


def numbered(start: int, count: int) -> list[dict[str, object]]:
    return [
        {"cve": [f"CVE-2024-{number:05d}"], "n": number} for number in range(start, start + count)
    ]


def test_all_pages_visits_every_record(client: Client) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", PagingWarning)
        frame = client.index("cisa-kev", all_pages=True, limit=300, progress=False)
    paging = frame.attrs["vulncheck"]["paging"]
    assert len(frame) == 1404
    assert frame["cve"].is_unique
    assert paging == {
        "pages": 5,
        "rows": 1404,
        "total_documents": 1404,
        "complete": True,
        "stop_reason": "no more pages",
        "next_cursor": "",
        "error": None,
    }


def test_max_rows_stops_on_page_and_resumes(client: Client) -> None:
    with pytest.warns(PagingWarning, match="max_rows=250"):
        first = client.index("cisa-kev", all_pages=True, limit=100, max_rows=250, progress=False)
    paging = first.attrs["vulncheck"]["paging"]
    # Whole pages only: the page that reaches 250 rows is kept entire.
    assert len(first) == 300
    assert not paging["complete"]
    rest = client.index(
        "cisa-kev", all_pages=True, limit=100, cursor=paging["next_cursor"], progress=False
    )
    combined = [*first["cve"], *rest["cve"]]
    assert len(combined) == 1404
    assert len(set(combined)) == 1404


def test_max_pages_cap(client: Client) -> None:
    with pytest.warns(PagingWarning, match="max_pages=2"):
        frame = client.index("cisa-kev", all_pages=True, limit=50, max_pages=2, progress=False)
    assert len(frame) == 100
    assert frame.attrs["vulncheck"]["paging"]["stop_reason"] == "reached max_pages=2"
    assert frame.attrs["vulncheck"]["paging"]["next_cursor"]


def test_repeated_cursor_stops() -> None:
    def respond(query: dict[str, list[str]]) -> Reply:
        cursor = query.get("cursor", [""])[0]
        return page(numbered(0 if not cursor else 10, 10), "same-cursor")

    with scripted_server() as server:
        server.replies[PATH] = respond
        with Client(server.url, token=SECRET_TOKEN) as client:
            with pytest.warns(PagingWarning, match="returned before"):
                frame = client.index("vulncheck-kev", all_pages=True, progress=False)
    assert len(frame) == 20
    assert frame.attrs["vulncheck"]["paging"]["stop_reason"] == "repeated cursor"
    assert len(server.seen) == 2


def test_endless_cursor_stops_at_cap() -> None:
    def respond(query: dict[str, list[str]]) -> Reply:
        step = int(query.get("cursor", ["0"])[0] or 0)
        return page(numbered(step * 5, 5), str(step + 1), total=10**9)

    with scripted_server() as server:
        server.replies[PATH] = respond
        with Client(server.url, token=SECRET_TOKEN) as client:
            with pytest.warns(PagingWarning, match="max_pages=7"):
                frame = client.index("vulncheck-kev", all_pages=True, max_pages=7, progress=False)
    assert len(frame) == 35
    assert len(server.seen) == 7


def test_failure_on_page_three_keeps_rows(debug_log: pytest.LogCaptureFixture) -> None:
    def respond(query: dict[str, list[str]]) -> Reply:
        cursor = query.get("cursor", [""])[0]
        if cursor == "c2":
            return Reply(
                500, b"<html><title>Internal error</title></html>", {"Content-Type": "text/html"}
            )
        return page(numbered(0 if not cursor else 10, 10), "c1" if not cursor else "c2")

    with scripted_server() as server:
        server.replies[PATH] = respond
        with Client(server.url, token=SECRET_TOKEN, auth_mode="query") as client:
            with pytest.warns(PagingWarning, match="stopped at page 3") as caught:
                frame = client.index("vulncheck-kev", all_pages=True, progress=False)
    paging = frame.attrs["vulncheck"]["paging"]
    assert len(frame) == 20
    assert paging["next_cursor"] == "c2"
    assert "HTTP 500" in paging["error"]
    assert not paging["complete"]
    assert SECRET_TOKEN not in str(caught[0].message)
    assert SECRET_TOKEN not in debug_log.text


def test_empty_page_ends_paging() -> None:
    def respond(query: dict[str, list[str]]) -> Reply:
        cursor = query.get("cursor", [""])[0]
        return page(numbered(0, 3) if not cursor else [], "next")

    with scripted_server() as server:
        server.replies[PATH] = respond
        with Client(server.url, token=SECRET_TOKEN) as client:
            frame = client.index("vulncheck-kev", all_pages=True, progress=False)
    assert len(frame) == 3
    assert frame.attrs["vulncheck"]["paging"]["stop_reason"] == "empty page"


def test_magic_all_option(shell: InteractiveShell) -> None:
    shell.run_line_magic("vulncheck", "demo")
    outcome = run_cell(
        shell, "%vulncheck index cisa-kev --all --limit 500 --pubStartDate 2024-01-01"
    )
    assert outcome.error is None, outcome.text
    frame = outcome.result
    assert frame.attrs["vulncheck"]["paging"]["complete"]
    assert len(frame) == frame.attrs["vulncheck"]["paging"]["total_documents"]
    capped = run_cell(shell, "%vulncheck index cisa-kev --all --limit 100 --max-rows 150")
    assert len(capped.result) == 200
    warning_lines = [line for line in capped.stderr.split("\r") if line.startswith("Warning:")]
    assert warning_lines == [
        "Warning: Stopped after 200 rows (max_rows=150) of 1,404 documents; raise --max-rows, "
        "or resume with --all --cursor from df.attrs['vulncheck']['paging']['next_cursor'].\n"
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("index cisa-kev --all --page 2", "leave out --page"),
        ("index cisa-kev --max-rows 5", "--max-rows applies to --all: add --all"),
        ("index cisa-kev --max-pages 5", "--max-pages applies to --all: add --all"),
        ("index cisa-kev --all --raw", "--raw returns one page"),
        ("index cisa-kev --all --max-pages 0", "argument --max-pages"),
    ],
)
def test_magic_all_mistakes(shell: InteractiveShell, line: str, message: str) -> None:
    shell.run_line_magic("vulncheck", "demo")
    outcome = run_cell(shell, f"%vulncheck {line}")
    assert message in str(outcome.error)


# --- the next request leaves while this page decodes ------------------------------------


def test_next_page_requested_before_this_page_decodes() -> None:
    events: list[str] = []

    def fetch_page(params: dict[str, object]) -> tuple[Any, dict[str, object]]:
        number = int(str(params.get("cursor", "0")))
        events.append(f"request {number}")

        def load() -> list[dict[str, object]]:
            events.append(f"decode {number}")
            return [{"n": number}]

        return load, {"next_cursor": str(number + 1) if number < 2 else ""}

    rows: list[Any] = []
    summary = collect_pages(fetch_page, {"limit": 1}, progress=False, on_page=rows.extend)

    assert rows == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert summary.complete
    assert events.index("request 1") < events.index("decode 0")
    assert events.index("request 2") < events.index("decode 1")
    assert events.count("request 1") == 1


def test_page_sent_ahead_is_dropped_at_max_rows() -> None:
    # Pages of 10 rows, then one of 40: the request for the page after it left before its
    # rows were counted, and its response is dropped.
    def respond(query: dict[str, list[str]]) -> Reply:
        step = int(query.get("cursor", ["0"])[0] or 0)
        size = 40 if step == 1 else 10
        return page(numbered(step * 100, size), str(step + 1), total=10**6)

    with scripted_server() as server:
        server.replies[PATH] = respond
        with Client(server.url, token=SECRET_TOKEN) as client:
            with pytest.warns(PagingWarning, match="max_rows=45"):
                frame = client.index(
                    "vulncheck-kev", all_pages=True, limit=10, max_rows=45, progress=False
                )
    paging = frame.attrs["vulncheck"]["paging"]
    assert len(frame) == 50
    assert paging["pages"] == 2
    assert paging["next_cursor"] == "2"
    assert frame["n"].tolist() == [*range(10), *range(100, 140)]


def test_no_prefetch_at_max_rows() -> None:
    def respond(query: dict[str, list[str]]) -> Reply:
        step = int(query.get("cursor", ["0"])[0] or 0)
        return page(numbered(step * 10, 10), str(step + 1), total=10**6)

    with scripted_server() as server:
        server.replies[PATH] = respond
        with Client(server.url, token=SECRET_TOKEN) as client:
            with pytest.warns(PagingWarning, match="max_rows=30"):
                frame = client.index(
                    "vulncheck-kev", all_pages=True, limit=10, max_rows=30, progress=False
                )
    assert len(frame) == 30
    assert len(server.seen) == 3


def test_two_meta_objects_stop_paging() -> None:
    def respond(query: dict[str, list[str]]) -> Reply:
        cursor = query.get("cursor", [""])[0]
        if cursor == "c1":
            body = b'{"_meta": {"next_cursor": "c2"}, "data": [{"n": 1}], "_meta": {}}'
            return Reply(200, body)
        return page(numbered(0, 10), "c1")

    with scripted_server() as server:
        server.replies[PATH] = respond
        with Client(server.url, token=SECRET_TOKEN) as client:
            with pytest.warns(PagingWarning, match="more than one '_meta'"):
                frame = client.index("vulncheck-kev", all_pages=True, progress=False)
    assert len(frame) == 10
    assert frame.attrs["vulncheck"]["paging"]["next_cursor"] == "c1"


@pytest.mark.parametrize(
    ("body", "head"),
    [
        (b'{"_benchmark": 0.1, "_meta": {"next_cursor": "x"}, "data": []}', True),
        (b' \n{ "_meta" : {"a": [1, {"b": "\\u00e9"}]} , "data": [1]}', True),
        (b'{"data": [], "_meta": {"next_cursor": "x"}}', False),
        (b'{"_meta": 5, "data": []}', False),
        (b'{"_meta": {"next_cursor": "x"', False),
        (b"[1, 2]", False),
        (b"<html></html>", False),
        (b"{}", False),
    ],
)
def test_envelope_head(body: bytes, head: bool) -> None:
    response = requests.Response()
    response._content = body
    response.encoding = "utf-8"

    found = peek_envelope_head(response)

    if head:
        assert found is not None
        assert found["_meta"] == json.loads(body.decode())["_meta"]
    else:
        assert found is None


def test_failed_run_not_cached() -> None:
    def respond(query: dict[str, list[str]]) -> Reply:
        cursor = query.get("cursor", [""])[0]
        if cursor == "c1":
            return Reply(503, b'{"error": true, "errors": ["busy"]}')
        return page(numbered(0, 10), "c1")

    with scripted_server() as server:
        server.replies[PATH] = respond
        with Client(server.url, token=SECRET_TOKEN, max_retries=0) as client:
            for _ in range(2):
                with pytest.warns(PagingWarning, match="stopped at page 2"):
                    frame = client.index("vulncheck-kev", all_pages=True, progress=False)
                assert "cached" not in frame.attrs["vulncheck"]
    assert len(server.seen) == 4


# --- Ctrl-C during --all -----------------------------------------------------------------


def interrupting(at_step: int, pages: int = 20) -> Responder:
    """Pages of 10 numbered rows; the request for page ``at_step`` interrupts the main thread
    once, as Ctrl-C would."""
    interrupted = threading.Event()

    def respond(query: dict[str, list[str]]) -> Reply:
        step = int(query.get("cursor", ["0"])[0] or 0)
        if step == at_step and not interrupted.is_set():
            interrupted.set()
            _thread.interrupt_main()
        following = str(step + 1) if step + 1 < pages else ""
        return page(numbered(step * 10, 10), following, total=pages * 10)

    return respond


def test_interrupt_keeps_received_rows() -> None:
    with scripted_server() as server:
        server.replies[PATH] = interrupting(at_step=8)
        with Client(server.url, token=SECRET_TOKEN) as client:
            with pytest.raises(PagingInterrupted) as caught:
                client.index("vulncheck-kev", all_pages=True, progress=False)
            frame = caught.value.frame
            paging = frame.attrs["vulncheck"]["paging"]
            rest = client.index(
                "vulncheck-kev", all_pages=True, cursor=paging["next_cursor"], progress=False
            )
    assert paging["stop_reason"] == "interrupted"
    assert not paging["complete"]
    assert paging["pages"] >= 1
    assert len(frame) == paging["rows"] == 10 * paging["pages"]
    assert frame["n"].tolist() == list(range(len(frame)))
    assert [*frame["n"], *rest["n"]] == list(range(200))
    assert "interrupted after" in str(caught.value)
    assert isinstance(caught.value, vulncheck_magic.PagingInterrupted)


def test_magic_interrupt_returns_rows(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VULNCHECK_API_TOKEN", SECRET_TOKEN)
    with scripted_server() as server:
        server.replies[PATH] = interrupting(at_step=8)
        run_cell(shell, f"%config VulnCheckMagic.base_url = '{server.url}'")
        outcome = run_cell(shell, "df = %vulncheck index vulncheck-kev --all")
    frame = shell.user_ns["df"]
    paging = frame.attrs["vulncheck"]["paging"]
    assert outcome.error is None, outcome.text
    assert paging["stop_reason"] == "interrupted"
    assert len(frame) == paging["rows"]
    assert "interrupted after" in outcome.stderr
    assert f"--cursor {paging['next_cursor']}" in outcome.stderr
    assert SECRET_TOKEN not in outcome.stdout + outcome.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"all_pages": True, "max_rows": "250"}, "invalid max_rows '250'"),
        ({"all_pages": True, "max_rows": 2.5}, "invalid max_rows 2.5"),
        ({"all_pages": True, "max_pages": True}, "invalid max_pages True"),
        ({"all_pages": True, "max_pages": 0}, "invalid max_pages 0"),
        ({"max_rows": 10}, "max_rows applies to all_pages=True"),
    ],
)
def test_python_caps_validated(client: Client, options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        client.index("cisa-kev", progress=False, **options)


def test_empty_cursor_rejected(client: Client) -> None:
    with pytest.raises(InvalidParameterError, match="invalid cursor ''"):
        client.index("cisa-kev", all_pages=True, cursor="", progress=False)


def test_numpy_integer_caps_accepted(client: Client) -> None:
    with pytest.warns(PagingWarning, match="max_pages=2"):
        frame = client.index(
            "cisa-kev", all_pages=True, limit=100, max_pages=np.int64(2), progress=False
        )
    assert len(frame) == 200
    assert frame.attrs["vulncheck"]["paging"]["pages"] == 2


def test_interrupt_keeps_token_out(debug_log: pytest.LogCaptureFixture) -> None:
    with scripted_server() as server:
        server.replies[PATH] = interrupting(at_step=8)
        with Client(server.url, token=SECRET_TOKEN, auth_mode="query") as client:
            with pytest.raises(PagingInterrupted) as caught:
                client.index("vulncheck-kev", all_pages=True, limit=10, progress=False)
    interrupted = caught.value
    texts = [str(interrupted), repr(interrupted), repr(interrupted.summary)]
    texts.append(repr(interrupted.frame.attrs))
    assert all(SECRET_TOKEN not in text for text in texts)
    assert SECRET_TOKEN not in debug_log.text


def test_ambiguous_meta_keeps_token_out(debug_log: pytest.LogCaptureFixture) -> None:
    def respond(query: dict[str, list[str]]) -> Reply:
        if query.get("cursor", [""])[0] == "c1":
            return Reply(200, b'{"_meta": {"next_cursor": "c2"}, "data": [], "_meta": {}}')
        return page(numbered(0, 10), "c1")

    with scripted_server() as server:
        server.replies[PATH] = respond
        with Client(server.url, token=SECRET_TOKEN, auth_mode="query") as client:
            with pytest.warns(PagingWarning) as caught:
                frame = client.index("vulncheck-kev", all_pages=True, progress=False)
    assert SECRET_TOKEN not in str(caught[0].message)
    assert SECRET_TOKEN not in repr(frame.attrs)
    assert SECRET_TOKEN not in debug_log.text
