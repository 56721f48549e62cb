"""HTTP plumbing of the client: base URLs, sending with the token, redirects, network errors."""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import requests.auth
from requests.adapters import HTTPAdapter
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from ._auth import AuthMode, TokenAuth
from ._errors import NetworkError
from ._logging import install_urllib3_redaction, logger

__all__ = [
    "DEFAULT_BASE_URL",
    "NO_AUTH",
    "NotifyingRetry",
    "RetryNotice",
    "configure_session",
    "is_loopback_url",
    "network_error",
    "normalize_base_url",
    "retries_made",
    "send",
]

DEFAULT_BASE_URL = "https://api.vulncheck.com"

install_urllib3_redaction()

_MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_ERRNO_REASON = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


def normalize_base_url(url: str) -> str:
    """Return the base URL without a trailing slash or ``/v3``; raise ValueError if invalid."""
    text = url.strip().rstrip("/")
    if text.endswith("/v3"):
        text = text[: -len("/v3")]
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"invalid base URL {url!r}: use an http(s) URL such as {DEFAULT_BASE_URL}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError(
            f"invalid base URL {redact_url(url)!r}: leave out credentials, query and fragment"
        )
    return text


def redact_url(url: str) -> str:
    """Return ``scheme://host[:port]/path`` of a URL, without credentials, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def is_loopback_url(url: str) -> bool:
    """Return whether the URL's host is a loopback address or ``localhost``."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


RetryNotice = Callable[[float, "int | None", int, int], None]
"""Called before each wait: seconds, HTTP status (None for a connection error), retry number,
maximum retries."""

# Statuses worth another try: rate limiting and the gateway errors of a busy or restarting API.
RETRY_STATUSES = frozenset({429, 502, 503, 504})


class NotifyingRetry(Retry):
    """urllib3 Retry that caps ``Retry-After`` waits and announces each wait.

    ``Retry-After`` is honoured in both its forms (seconds and an HTTP date) but never waits
    longer than ``max_wait`` seconds. Without the header the wait is exponential back-off
    with jitter. ``notice`` is called before each wait, so a notebook can say "rate limited,
    retrying in N s" instead of hanging silently.
    """

    def __init__(
        self,
        *args: Any,
        max_wait: float = 60.0,
        notice: RetryNotice | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_wait = max_wait
        self.notice = notice

    def new(self, **kwargs: Any) -> NotifyingRetry:
        retry = super().new(**kwargs)
        retry.max_wait = self.max_wait
        retry.notice = self.notice
        return retry

    def parse_retry_after(self, retry_after: str) -> float:
        return min(float(super().parse_retry_after(retry_after)), self.max_wait)

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        wait = None
        if self.respect_retry_after_header and response is not None:
            wait = self.get_retry_after(response)
        if wait is None:
            wait = min(self.get_backoff_time(), self.max_wait)
        status = response.status if response is not None else None
        made = len(self.history)
        limit = self.total if isinstance(self.total, int) else made
        logger.warning(
            "retry %d after %s: waiting %.1f s",
            made,
            f"HTTP {status}" if status else "a connection error",
            wait,
        )
        if self.notice is not None:
            self.notice(wait, status, made, made + max(limit, 0))
        if wait > 0:
            time.sleep(wait)


def configure_session(
    session: requests.Session,
    *,
    max_retries: int,
    max_wait: float,
    notice: RetryNotice | None,
    pool_size: int = 10,
) -> None:
    """Mount adapters that retry GETs on connection errors and on 429, 502, 503 and 504.

    POST requests (``/v3/purls``) are retried only when the connection failed before the
    request was sent, never after the server may have processed it.
    """
    retry = NotifyingRetry(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        other=0,
        allowed_methods=frozenset({"GET"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=0.5,
        backoff_jitter=0.5,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
        max_wait=max_wait,
        notice=notice,
    )
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=pool_size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)


def retries_made(response: requests.Response) -> int:
    """Return how many retries urllib3 made before this response."""
    retries = getattr(response.raw, "retries", None)
    history = getattr(retries, "history", None) or ()
    return len(history)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


class _NoAuth(requests.auth.AuthBase):
    """Auth hook that adds nothing, so requests does not fall back to ``~/.netrc``."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


NO_AUTH = _NoAuth()


# requests reads a body in chunks of 10 KiB, each through a generator step and urllib3's
# error wrappers. With 256 KiB chunks a 10 MB page arrived over loopback in half the time
# (10 ms instead of 20 ms on the 2-core machine of benchmarks/README.md).
_BODY_CHUNK_BYTES = 256 * 1024


def _read_body(response: requests.Response) -> None:
    """Read the whole body of a streamed response, so that ``.content`` returns it."""
    # NOTE: ``_content`` is the private attribute where requests keeps a body it has read.
    # iter_content raises the same requests exceptions as ``.content``, such as
    # ChunkedEncodingError for a body cut short and ConnectionError for a read timeout.
    response._content = b"".join(response.iter_content(_BODY_CHUNK_BYTES))


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    params: dict[str, str] | None,
    json_body: Any,
    auth: TokenAuth,
    timeout: tuple[float, float],
    path: str,
    redact: Callable[[str], str],
    retries: int = 0,
) -> tuple[requests.Response, float]:
    """Send the request, following up to 5 redirects with the token kept on the API origin.

    A redirect to another origin drops the token in header and cookie modes. In query
    mode the token is part of the URL that the server built the redirect from, so such a
    redirect is not followed at all. Returns the final response and the seconds it took.
    """
    api_origin = _origin(url)
    request_auth: TokenAuth | None = auth
    request_params = params
    started = time.perf_counter()
    for _ in range(_MAX_REDIRECTS + 1):
        failure: NetworkError | None = None
        try:
            response = session.request(
                method,
                url,
                params=request_params,
                json=json_body,
                auth=request_auth or NO_AUTH,
                timeout=timeout,
                allow_redirects=False,
                stream=True,
            )
            _read_body(response)
        except requests.RequestException as exc:
            failure = network_error(exc, url, timeout, redact, retries=retries)
        if failure is not None:
            # Raised outside the except block so that __context__ stays empty: the
            # requests exception's text holds the full URL, token included in query mode.
            raise failure
        elapsed = time.perf_counter() - started
        logger.debug(
            "%s %s -> HTTP %s in %.3f s",
            method,
            redact(response.request.url or url),
            response.status_code,
            elapsed,
        )
        if response.status_code not in _REDIRECT_STATUSES:
            return response, elapsed
        location = response.headers.get("Location", "")
        target = urljoin(response.request.url or url, location)
        response.close()
        if _origin(target) != api_origin:
            if auth.mode is AuthMode.QUERY:
                raise NetworkError(
                    f"The API redirected {path} to another host "
                    f"({urlsplit(target).hostname}); in query auth mode that redirect is "
                    "not followed, because the token would travel in the URL."
                )
            logger.warning(
                "redirect from %s to another host %s: sending without the token",
                path,
                urlsplit(target).hostname,
            )
            request_auth = None
        if response.status_code == 303:
            method, json_body = "GET", None
        url, request_params = target, None
    raise NetworkError(f"Too many redirects for {path}: check the base URL.")


def network_error(
    exc: requests.RequestException,
    url: str,
    timeout: tuple[float, float],
    redact: Callable[[str], str],
    *,
    retries: int = 0,
) -> NetworkError:
    """Build the NetworkError for a failed request, naming only the origin and the reason.

    ``retries`` is the number of retries the session's policy allows, which urllib3 has
    used up by the time requests raises.
    """
    origin = redact(f"{urlsplit(url).scheme}://{urlsplit(url).netloc}")
    text = str(exc)
    # After retries run out, urllib3 wraps a timeout in MaxRetryError, which requests raises
    # as a plain ConnectionError: the kind of timeout is then only in the text.
    read_timeout = isinstance(exc, requests.ReadTimeout) or "Read timed out" in text
    connect_timeout = isinstance(exc, requests.ConnectTimeout) or "ConnectTimeoutError" in text
    broken = isinstance(exc, requests.exceptions.ChunkedEncodingError) or (
        "IncompleteRead" in text or "Connection broken" in text
    )
    if broken:
        reason = "the connection broke off before the whole response arrived"
    elif read_timeout or connect_timeout:
        seconds = timeout[0] if connect_timeout and not read_timeout else timeout[1]
        reason = f"timed out after {seconds:g} s"
    else:
        match = _ERRNO_REASON.search(text)
        reason = match.group(1).strip().lower() if match else type(exc).__name__
    # urllib3 reports "Max retries exceeded" only when it used up the retries; a response
    # that breaks off mid-body is read after urllib3 and was not retried.
    if retries and "Max retries exceeded" in text:
        reason += f" ({retries} {'retry' if retries == 1 else 'retries'} made)"
    logger.warning("request to %s failed: %s", origin, reason)
    return NetworkError(
        f"Could not reach the VulnCheck API at {origin}: {reason}. Check the network and "
        "the base URL (%vulncheck status)."
    )
