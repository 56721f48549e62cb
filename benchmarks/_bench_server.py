"""Loopback API server for the benchmarks: serves response bytes built before any timing.

The benchmarks compare the client with other ways of getting the same page into a frame, so
the server must cost next to nothing. :class:`PreparedResponses` encodes every page once;
:class:`BenchServer` then runs in a forked child process (its own interpreter and GIL, on
the second core of a two-core machine) and only looks the bytes up and writes them.

Routes, for any token in any auth mode (the token is never checked):

- ``GET /v3/index`` lists the registered index names.
- ``GET /v3/index/NAME?limit=N`` returns the single page registered for ``(NAME, N)``.
- ``GET /v3/index/NAME?limit=N&start_cursor=true`` returns the first cursor page registered
  for ``(NAME, N)``, whose ``_meta.next_cursor`` is ``"1"``; ``cursor=K`` returns page K.
  The last page's ``next_cursor`` is ``""``.

Anything else gets a JSON 404. The data are the demo API's real records (CISA KEV in the
``vulncheck-kev`` shape, NVD 2.0 ``cve`` objects), repeated in order up to the row count.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

# Measure the checkout these scripts live in, not whichever copy the environment installed.
REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from vulncheck_magic.demo._data import load_indexes  # noqa: E402

__all__ = [
    "KEV",
    "NVD",
    "BenchServer",
    "PreparedResponses",
    "encode_envelope",
    "index_filters",
    "index_records",
    "repeat_records",
]

KEV = "vulncheck-kev"
NVD = "nist-nvd2"

# A fixed timestamp keeps the served bytes identical from run to run.
_TIMESTAMP = "2025-08-25T17:04:19.979600Z"
_MAX_PAGES = 6


def index_records(name: str) -> list[dict[str, Any]]:
    """Return the demo API's records of ``name`` (1,404 for KEV, 44 for NVD), in bundled order."""
    return load_indexes()[name].records


def index_filters(name: str) -> list[dict[str, str]]:
    """Return the ``_meta.parameters`` list that the demo API sends for ``name``."""
    return [spec.describe() for spec in load_indexes()[name].filters.values()]


def repeat_records(records: Sequence[dict[str, Any]], rows: int) -> list[dict[str, Any]]:
    """Return ``rows`` records: ``records`` repeated in order, the last copy cut short.

    The repeats are the same objects. Encode them to get distinct records after decoding.
    """
    return [records[position % len(records)] for position in range(rows)]


def encode_envelope(
    name: str,
    records: Sequence[dict[str, Any]],
    *,
    limit: int,
    total: int,
    page: int = 1,
    cursor: str = "",
    next_cursor: str = "",
) -> bytes:
    """Encode one ``/v3/index/NAME`` response body as the API sends it (compact JSON)."""
    first_item = (page - 1) * limit + 1 if records else 0
    meta = {
        "timestamp": _TIMESTAMP,
        "index": name,
        "limit": limit,
        "total_documents": total,
        "sort": "date_added" if name == KEV else "published",
        "order": "desc",
        "page": page,
        "total_pages": math.ceil(total / limit) if limit else 0,
        "max_pages": _MAX_PAGES,
        "first_item": first_item,
        "last_item": first_item + len(records) - 1 if records else 0,
        "parameters": index_filters(name),
        "matches": [],
        "cursor": cursor,
        "next_cursor": next_cursor,
    }
    body = {"_benchmark": 0.052188, "_meta": meta, "data": list(records)}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass
class PreparedResponses:
    """Response bodies by ``(index name, limit)``: one single page and/or a cursor sequence."""

    single: dict[tuple[str, int], bytes] = field(default_factory=dict)
    cursor_pages: dict[tuple[str, int], list[bytes]] = field(default_factory=dict)

    def add_single_page(self, name: str, rows: int) -> int:
        """Prepare one page of ``rows`` records for ``?limit=rows``; return its size in bytes."""
        records = repeat_records(index_records(name), rows)
        body = encode_envelope(name, records, limit=rows, total=rows)
        self.single[(name, rows)] = body
        return len(body)

    def add_cursor_pages(self, name: str, pages: int, page_rows: int) -> int:
        """Prepare ``pages`` cursor pages of ``page_rows`` records; return their size in bytes."""
        records = repeat_records(index_records(name), pages * page_rows)
        total = len(records)
        bodies = []
        for number in range(pages):
            chunk = records[number * page_rows : (number + 1) * page_rows]
            bodies.append(
                encode_envelope(
                    name,
                    chunk,
                    limit=page_rows,
                    total=total,
                    page=number + 1,
                    cursor=str(number) if number else "",
                    next_cursor=str(number + 1) if number + 1 < pages else "",
                )
            )
        self.cursor_pages[(name, page_rows)] = bodies
        return sum(len(body) for body in bodies)

    def index_names(self) -> list[str]:
        """Return the registered index names, sorted."""
        keys = list(self.single) + list(self.cursor_pages)
        return sorted({name for name, _ in keys})

    def lookup(self, path: str, query: dict[str, list[str]]) -> bytes | None:
        """Return the body for a request, or None when nothing is registered for it."""
        if path == "/v3/index":
            data = [
                {"name": name, "description": name, "href": f"/v3/index/{name}"}
                for name in self.index_names()
            ]
            return json.dumps({"_benchmark": 0.01, "data": data}).encode()
        if not path.startswith("/v3/index/"):
            return None
        name = path.removeprefix("/v3/index/")
        try:
            limit = int(query.get("limit", ["100"])[0])
        except ValueError:
            return None
        cursor = query.get("cursor", [""])[0]
        if cursor or "start_cursor" in query:
            pages = self.cursor_pages.get((name, limit))
            if pages is None:
                return None
            number = int(cursor) if cursor.isdigit() else 0
            return pages[number] if number < len(pages) else None
        return self.single.get((name, limit))


def _make_handler(
    responses: PreparedResponses, delay_ms: Synchronized, served: Synchronized
) -> type[BaseHTTPRequestHandler]:
    not_found = json.dumps({"error": True, "errors": ["not registered"]}).encode()

    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1 keeps connections alive, as the real API does for requests.Session.
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            body = responses.lookup(parts.path, parse_qs(parts.query, keep_blank_values=True))
            delay = delay_ms.value
            if delay > 0:
                time.sleep(delay / 1000)
            with served.get_lock():
                served.value += 1
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body or not_found)))
            self.end_headers()
            self.wfile.write(body or not_found)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _serve(
    responses: PreparedResponses,
    delay_ms: Synchronized,
    served: Synchronized,
    port_pipe: Connection,
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(responses, delay_ms, served))
    server.daemon_threads = True
    port_pipe.send(server.server_address[1])
    port_pipe.close()
    server.serve_forever()


class BenchServer:
    """A forked HTTP server on 127.0.0.1 (a free port) that serves :class:`PreparedResponses`.

    Register every response before :meth:`start`: the child process gets a copy of them at
    the fork. ``delay_ms`` (shared with the child) makes every request wait that long
    before the response is written, to model the API's latency.

    Example::

        responses = PreparedResponses()
        responses.add_single_page(KEV, 10_000)
        with BenchServer(responses) as server:
            requests.get(f"{server.url}/v3/index/{KEV}?limit=10000")
    """

    def __init__(self, responses: PreparedResponses, *, delay_ms: float = 0.0) -> None:
        self.responses = responses
        context = multiprocessing.get_context("fork")
        self._context = context
        self._delay_ms = context.Value("d", delay_ms)
        self._served = context.Value("q", 0)
        self._process: multiprocessing.process.BaseProcess | None = None
        self.url = ""

    @property
    def delay_ms(self) -> float:
        """Milliseconds each request waits before its response is written."""
        return float(self._delay_ms.value)

    @delay_ms.setter
    def delay_ms(self, value: float) -> None:
        self._delay_ms.value = value

    @property
    def requests_served(self) -> int:
        """Requests served since the start, 404s included."""
        return int(self._served.value)

    def start(self) -> BenchServer:
        """Fork the server process and wait until it listens."""
        receiver, sender = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=_serve,
            args=(self.responses, self._delay_ms, self._served, sender),
            daemon=True,
        )
        process.start()
        sender.close()
        if not receiver.poll(30):
            process.terminate()
            raise RuntimeError("the benchmark server did not start within 30 s")
        self.url = f"http://127.0.0.1:{receiver.recv()}"
        receiver.close()
        self._process = process
        return self

    def stop(self) -> None:
        """Stop the server process."""
        if self._process is not None:
            self._process.terminate()
            self._process.join(10)
            self._process = None

    def __enter__(self) -> BenchServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
