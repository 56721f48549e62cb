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

from ._auth import AuthMode, TokenAuth
from ._errors import NetworkError
from ._logging import install_urllib3_redaction, logger

__all__ = [
    "DEFAULT_BASE_URL",
    "NO_AUTH",
    "is_loopback_url",
    "network_error",
    "normalize_base_url",
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


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


class _NoAuth(requests.auth.AuthBase):
    """Auth hook that adds nothing, so requests does not fall back to ``~/.netrc``."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


NO_AUTH = _NoAuth()


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
            )
        except requests.RequestException as exc:
            failure = network_error(exc, url, timeout, redact)
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
) -> NetworkError:
    """Build the NetworkError for a failed request, naming only the origin and the reason."""
    origin = redact(f"{urlsplit(url).scheme}://{urlsplit(url).netloc}")
    if isinstance(exc, requests.Timeout):
        connecting = isinstance(exc, requests.ConnectTimeout)
        seconds = timeout[0] if connecting else timeout[1]
        reason = f"timed out after {seconds:g} s"
    else:
        match = _ERRNO_REASON.search(str(exc))
        reason = match.group(1).strip().lower() if match else type(exc).__name__
    logger.warning("request to %s failed: %s", origin, reason)
    return NetworkError(
        f"Could not reach the VulnCheck API at {origin}: {reason}. Check the network and "
        "the base URL (%vulncheck status)."
    )
