"""The demo API's HTTP server: a loopback ThreadingHTTPServer in a daemon thread."""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Iterable
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from vulncheck_magic._version import __version__
from vulncheck_magic.demo._auth import DEMO_TOKEN, redacted_query_string
from vulncheck_magic.demo._data import load_indexes
from vulncheck_magic.demo._http import RecordedRequest, Response, error_response
from vulncheck_magic.demo._routes import handle_request

logger = logging.getLogger("vulncheck_magic")

MAX_RECORDED_REQUESTS = 1000
# A request body up to this size is read into RecordedRequest.body, so that the connection
# stays usable. A larger or chunked body is not read and closes the connection instead.
MAX_BODY_BYTES = 1 << 20


class DemoServer:
    """An offline stand-in for the VulnCheck API v3 on a local port.

    It serves the indexes ``cisa-kev``, ``vulncheck-kev`` and ``nist-nvd2``, built from real
    CISA KEV and NVD records that ship with the package. It also serves the other v3
    endpoints that ``GET /v3/openapi`` lists: backups, PURL and CPE lookups, CVE search, C2
    lists, rules and entitlements. In ``vulncheck-kev`` records, the VulnCheck-only values
    are synthetic and each record names them in ``_demo_synthetic``. A request must carry
    one of ``tokens`` in the ``Authorization: Bearer`` header, the ``token`` query parameter
    or the ``token`` cookie, except on ``/v3/openapi`` and the backup downloads.

    Example::

        with DemoServer() as server:
            requests.get(f"{server.url}/v3/index/cisa-kev",
                         headers={"Authorization": f"Bearer {DEMO_TOKEN}"})

    ``requests`` lists every request received, oldest first, up to the last 1,000.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, tokens: Iterable[str] = (DEMO_TOKEN,)
    ) -> None:
        self._host = host
        self._port = port
        if isinstance(tokens, str):
            # tuple("abc") would accept each character as a token.
            raise TypeError("tokens must be an iterable of strings, such as [token], not a string")
        self._tokens = tuple(tokens)
        if not all(isinstance(token, str) and token for token in self._tokens):
            raise ValueError("every token must be a non-empty string")
        self.requests: list[RecordedRequest] = []
        self._requests_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._http_server: _DemoHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> DemoServer:
        """Bind the port and serve in a daemon thread. Port 0 picks a free port.

        Does nothing if the server is already running. Raises OSError if the port is
        taken. The first start in a process also builds the indexes from the bundled data.
        """
        with self._state_lock:
            if self._http_server is not None:
                return self
            load_indexes()
            http_server = _DemoHTTPServer((self._host, self._port), self)
            thread = threading.Thread(
                target=http_server.serve_forever,
                # serve_forever checks for shutdown at this interval (seconds), so stop()
                # returns within about this time.
                kwargs={"poll_interval": 0.05},
                name=f"vulncheck-demo-api-{http_server.server_address[1]}",
                daemon=True,
            )
            thread.start()
            self._http_server = http_server
            self._thread = thread
        logger.info("demo API: serving at %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and release the port. Does nothing if stopped."""
        with self._state_lock:
            http_server, thread = self._http_server, self._thread
            self._http_server = None
            self._thread = None
            if http_server is None or thread is None:
                return
            url = http_server.base_url
            http_server.shutdown()
            http_server.close_connections()
            http_server.server_close()
            thread.join()
        logger.info("demo API: stopped serving at %s", url)

    @property
    def port(self) -> int:
        """The bound port while running, else the port given to the constructor."""
        http_server = self._http_server
        return self._port if http_server is None else int(http_server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL, such as ``http://127.0.0.1:8000``. Raises RuntimeError unless running."""
        http_server = self._http_server
        if http_server is None:
            raise RuntimeError("the demo server is not running: call start() first")
        return http_server.base_url

    @property
    def running(self) -> bool:
        """Whether the server is accepting requests."""
        thread = self._thread
        return self._http_server is not None and thread is not None and thread.is_alive()

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self.running else f"{self._host}:{self._port}, stopped"
        return f"<DemoServer {where}, accepting {len(self._tokens)} token(s)>"

    def _record(self, request: RecordedRequest) -> None:
        with self._requests_lock:
            self.requests.append(request)
            excess = len(self.requests) - MAX_RECORDED_REQUESTS
            if excess > 0:
                del self.requests[:excess]

    def _respond(self, request: RecordedRequest, base_url: str, started: float) -> Response:
        return handle_request(request, base_url=base_url, tokens=self._tokens, started=started)


def _format_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _DemoHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that refers to its DemoServer and tracks open connections.

    Handler threads of keep-alive connections outlive ``shutdown()``, so ``stop()`` shuts
    their sockets down. Otherwise the server would still respond on a client's pooled
    connection.
    """

    daemon_threads = True

    def __init__(self, address: tuple[str, int], demo: DemoServer) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.demo = demo
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _DemoRequestHandler)
        self.base_url = _format_url(address[0], self.server_address[1])

    def server_bind(self) -> None:
        # HTTPServer.server_bind would call socket.getfqdn(host), a reverse DNS lookup
        # that can stall for seconds on a machine without working DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            # OSError: the client has closed this connection already.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            # The client or stop() closed the connection while a response was being sent.
            logger.debug("demo API: connection from %s closed early: %s", client_address, error)
            return
        logger.warning(
            "demo API: error while serving a connection from %s", client_address, exc_info=True
        )


class _DemoRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as requests.Session expects
    server_version = f"vulncheck-magic-demo/{__version__}"
    timeout = 60  # seconds an idle keep-alive connection stays open
    # Headers and body go out in two writes. With Nagle's algorithm on, the second write
    # waits for the client's delayed ACK: 44 ms per small response in a loopback test on
    # Linux, against under 1 ms without it.
    disable_nagle_algorithm = True
    server: _DemoHTTPServer

    def do_GET(self) -> None:
        self._serve()

    def __getattr__(self, name: str) -> Any:
        # BaseHTTPRequestHandler looks up `do_<METHOD>` and responds to a missing one with
        # an HTML 501. Serving every method here gives other methods the JSON 405 instead.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Drop http.server's stderr access log: ``_serve`` logs each request instead."""

    def _serve(self) -> None:
        started = time.perf_counter()
        target = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=target.path,
            query=parse_qs(target.query, keep_blank_values=True),
            headers=dict(self.headers.items()),
            cookies=_parse_cookies(self.headers.get_all("Cookie") or []),
            body=self._read_body(),
        )
        demo = self.server.demo
        demo._record(request)

        try:
            response = demo._respond(request, self.server.base_url, started)
        except Exception:
            logger.exception("demo API: failed to serve %s %s", request.method, request.path)
            response = error_response(500, "internal error in the demo API")

        # Logged before sending, so the line exists by the time the client has the response.
        query = redacted_query_string(request.query)
        logger.debug(
            "demo API: %s %s%s -> %d (%.1f ms)",
            request.method,
            request.path,
            f"?{query}" if query else "",
            response.status,
            (time.perf_counter() - started) * 1000,
        )
        self._send(response)

    def _read_body(self) -> bytes | None:
        """Read the request body, or return None and close the connection after this request."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return None
        length_text = self.headers.get("Content-Length")
        if not length_text:
            return b""
        try:
            length = int(length_text)
        except ValueError:
            length = -1
        if 0 <= length <= MAX_BODY_BYTES:
            return self.rfile.read(length)
        self.close_connection = True
        return None

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in response.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)


def _parse_cookies(header_values: list[str]) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for header_value in header_values:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(header_value)
        except CookieError:
            continue
        cookies.update({name: morsel.value for name, morsel in jar.items()})
    return cookies
