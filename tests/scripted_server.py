"""A loopback HTTP server that responds to each path with a scripted response and records requests.

Tests use it for the responses the demo API never gives: HTML error pages, truncated JSON,
server errors and redirects.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class Reply:
    """One scripted response."""

    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


@dataclass
class Seen:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]


Responder = Callable[[dict[str, list[str]]], Reply]


class ScriptedServer(ThreadingHTTPServer):
    """Serves ``replies[path_without_query]``; unknown paths get 404.

    A reply may be a function of the parsed query string, for servers whose response depends
    on the request (cursor paging).
    """

    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__((host, 0), _Handler)
        self.replies: dict[str, Reply | Responder] = {}
        self.seen: list[Seen] = []

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ScriptedServer

    def do_GET(self) -> None:
        self.server.seen.append(Seen("GET", self.path, dict(self.headers.items())))
        path, _, query = self.path.partition("?")
        reply = self.server.replies.get(path, Reply(404, b"not found"))
        if callable(reply):
            reply = reply(parse_qs(query, keep_blank_values=True))
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def scripted_server(host: str = "127.0.0.1") -> Iterator[ScriptedServer]:
    """Run a ScriptedServer on a free port of a loopback ``host`` for the duration of the block."""
    server = ScriptedServer(host)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
