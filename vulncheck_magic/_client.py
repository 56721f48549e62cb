"""The VulnCheck API client: requests with auth, provenance and typed errors.

The client works without IPython. The magics are a thin shell over it.
"""

from __future__ import annotations

import ipaddress
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import requests

from ._auth import AuthMode, ResolvedToken, Secret, TokenAuth, TokenStore, get_token_store
from ._auth import parse_auth_mode as _parse_auth_mode
from ._errors import (
    InsecureTransportError,
    NetworkError,
    ResponseFormatError,
    TokenMissingError,
    VulnCheckError,
)
from ._logging import logger
from ._params import InvalidParameterError, normalize_index_params, validate_index_name
from ._redact import redact
from ._responses import error_from_response, parse_json_body
from ._version import __version__

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BASE_URL_ENV_VAR",
    "DEFAULT_BASE_URL",
    "Client",
    "Envelope",
    "UnknownIndexError",
    "default_base_url",
    "is_loopback_url",
    "normalize_base_url",
]

DEFAULT_BASE_URL = "https://api.vulncheck.com"
BASE_URL_ENV_VAR = "VULNCHECK_API_URL"

# Seconds to wait for the TCP connection, then for each read of the response.
DEFAULT_TIMEOUT = (10.0, 120.0)

_MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_ERRNO_REASON = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


class UnknownIndexError(InvalidParameterError):
    """The index name is in neither the offline catalog nor the server's index list."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = (
            f"did you mean {' or '.join(suggestions)}?"
            if suggestions
            else "run %vulncheck indexes for the list"
        )
        super().__init__(f"unknown index {name!r}: {hint}")


@dataclass(frozen=True)
class Envelope:
    """A parsed response body and the provenance of the request that fetched it."""

    body: Any
    provenance: dict[str, Any]


def default_base_url() -> str:
    """Return the base URL from ``VULNCHECK_API_URL``, or the public API's URL."""
    return os.environ.get(BASE_URL_ENV_VAR, "").strip() or DEFAULT_BASE_URL


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
            f"invalid base URL {redact(url)!r}: leave out credentials, query and fragment"
        )
    return text


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


class Client:
    """Client of the VulnCheck API v3 whose query methods return pandas DataFrames.

    Args:
        base_url: API root, for example ``https://api.vulncheck.com`` or the demo API's URL.
            Defaults to ``VULNCHECK_API_URL``, else the public API.
        auth_mode: where requests carry the token: ``header`` (default), ``query`` or
            ``cookie``. Each method also takes ``auth_mode`` for one call.
        token: a token string, a :class:`TokenStore`, or None for this process's store
            (token entered with ``login()``, else ``VULNCHECK_API_TOKEN``).
        timeout: seconds to connect and seconds to wait for each read.
        session: a ``requests.Session`` to reuse; the client makes its own by default.

    Each frame carries the request's provenance in ``df.attrs["vulncheck"]``: endpoint,
    parameters (never the token), index, the whole ``_meta``, ``_benchmark``, the time it was
    fetched and the package version.

    Example::

        client = Client()
        kev = client.index("vulncheck-kev", cve="CVE-2021-44228")
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        auth_mode: str | AuthMode = AuthMode.HEADER,
        token: str | Secret | TokenStore | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url if base_url is not None else default_base_url()
        self.auth_mode = auth_mode
        if isinstance(token, TokenStore):
            self.token_store = token
        elif token is None:
            self.token_store = get_token_store()
        else:
            self.token_store = TokenStore(environ={})
            self.token_store.set_session_token(token)
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = f"vulncheck-magic/{__version__}"
        self.session.headers["Accept"] = "application/json"
        self._server_index_names: dict[str, frozenset[str]] = {}

    @property
    def base_url(self) -> str:
        """API root URL, without a trailing slash."""
        return self._base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        self._base_url = normalize_base_url(value)

    @property
    def auth_mode(self) -> AuthMode:
        """Default auth mode of this client's requests."""
        return self._auth_mode

    @auth_mode.setter
    def auth_mode(self, value: str | AuthMode) -> None:
        self._auth_mode = _parse_auth_mode(value)

    def __repr__(self) -> str:
        return (
            f"<Client base_url={self.base_url!r} auth_mode={self.auth_mode.value!r} "
            f"token={self.token_store.describe()}>"
        )

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Requests

    def _resolve_token(self) -> ResolvedToken:
        resolved = self.token_store.resolve()
        if resolved is None:
            raise TokenMissingError()
        return resolved

    def _secrets(self) -> list[str]:
        """Every token value that could appear in a text of this client, for redaction."""
        values = []
        resolved = self.token_store.resolve()
        if resolved is not None:
            values.append(resolved.secret.reveal())
        env_secret = self.token_store.environment_token()
        if env_secret is not None:
            values.append(env_secret.reveal())
        return values

    def redact(self, text: str) -> str:
        """Return ``text`` with this client's tokens and any ``token=`` value masked."""
        return redact(text, self._secrets())

    def fetch(
        self,
        path: str,
        params: Mapping[str, object] | None = None,
        *,
        index: str | None = None,
        auth_mode: str | AuthMode | None = None,
    ) -> Envelope:
        """Send ``GET base_url + path`` and return the parsed JSON body with its provenance.

        Raises TokenMissingError without a token, InsecureTransportError for plain http to a
        host that is not a loopback address, NetworkError when no response arrives, an
        APIError subclass for an HTTP error status, and ResponseFormatError for a 200
        response that is not JSON.
        """
        mode = self.auth_mode if auth_mode is None else _parse_auth_mode(auth_mode)
        wire_params = normalize_index_params(params or {})
        url = self.base_url + path
        if urlsplit(url).scheme == "http" and not is_loopback_url(url):
            raise InsecureTransportError(
                f"Refusing to send the API token over plain http to {urlsplit(url).hostname}: "
                "use an https:// base URL (plain http is allowed only for loopback addresses "
                "such as 127.0.0.1)."
            )
        resolved = self._resolve_token()
        response, elapsed = self._send(url, wire_params, TokenAuth(resolved.secret, mode), path)
        if response.status_code >= 400:
            raise error_from_response(
                response, path, index=index, clean=self.redact, suggest=self._suggest_names
            )
        if response.status_code != 200:
            raise ResponseFormatError(
                f"The server answered {path} with HTTP {response.status_code} instead of 200 "
                "and a JSON body: check the base URL (%vulncheck status)."
            )
        body = parse_json_body(response, path)
        provenance = {
            "base_url": self.base_url,
            "endpoint": path,
            "index": index,
            "params": dict(wire_params),
            "auth_mode": mode.value,
            "status": response.status_code,
            "meta": body.get("_meta") if isinstance(body, dict) else None,
            "benchmark": body.get("_benchmark") if isinstance(body, dict) else None,
            "elapsed_seconds": round(elapsed, 6),
            "fetched_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "package_version": __version__,
        }
        return Envelope(body, provenance)

    def _send(
        self, url: str, params: dict[str, str], auth: TokenAuth, path: str
    ) -> tuple[requests.Response, float]:
        """Send the GET, following up to 5 redirects with the token kept on the API origin.

        A redirect to another origin drops the token in header and cookie modes. In query
        mode the token is part of the URL that the server built the redirect from, so such a
        redirect is not followed at all.
        """
        api_origin = _origin(url)
        request_auth: TokenAuth | None = auth
        request_params: dict[str, str] | None = params
        started = time.perf_counter()
        for _ in range(_MAX_REDIRECTS + 1):
            failure: NetworkError | None = None
            try:
                response = self.session.get(
                    url,
                    params=request_params,
                    auth=request_auth or _NO_AUTH,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                failure = self._network_error(exc, url)
            if failure is not None:
                # Raised outside the except block so that __context__ stays empty: the
                # requests exception's text holds the full URL, token included in query mode.
                raise failure
            elapsed = time.perf_counter() - started
            logger.debug(
                "GET %s -> HTTP %s in %.3f s",
                self.redact(response.request.url or url),
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
            url, request_params = target, None
        raise NetworkError(f"Too many redirects for {path}: check the base URL.")

    def _network_error(self, exc: requests.RequestException, url: str) -> NetworkError:
        origin = self.redact(f"{urlsplit(url).scheme}://{urlsplit(url).netloc}")
        if isinstance(exc, requests.Timeout):
            connecting = isinstance(exc, requests.ConnectTimeout)
            seconds = self.timeout[0] if connecting else self.timeout[1]
            reason = f"timed out after {seconds:g} s"
        else:
            match = _ERRNO_REASON.search(str(exc))
            reason = match.group(1).strip().lower() if match else type(exc).__name__
        logger.warning("request to %s failed: %s", origin, reason)
        return NetworkError(
            f"Could not reach the VulnCheck API at {origin}: {reason}. Check the network and "
            "the base URL (%vulncheck status)."
        )

    # Index names

    def _suggest_names(self, name: str) -> list[str]:
        from ._catalog import index_names, suggest_index_names

        candidates = set(index_names()) | set(self._server_index_names.get(self.base_url, ()))
        return suggest_index_names(name, candidates)

    def _check_index_name(self, name: str, auth_mode: str | AuthMode | None) -> str:
        """Return the validated name; raise UnknownIndexError if no catalog knows it."""
        from ._catalog import index_names

        name = validate_index_name(name)
        if name in index_names():
            return name
        server_names = self._server_index_names.get(self.base_url)
        if server_names is None:
            try:
                envelope = self.fetch("/v3/index", auth_mode=auth_mode)
            except (TokenMissingError, InsecureTransportError):
                raise
            except VulnCheckError as exc:
                logger.info("could not fetch the index list to check %r: %s", name, exc)
                server_names = frozenset()
            else:
                server_names = frozenset(_index_list_names(envelope.body))
                self._server_index_names[self.base_url] = server_names
        if name in server_names:
            return name
        raise UnknownIndexError(name, self._suggest_names(name))

    # Endpoints

    def indexes(self, *, auth_mode: str | AuthMode | None = None) -> pd.DataFrame:
        """Return the indexes this token may read: one row per index (name, description, href)."""
        envelope = self.fetch("/v3/index", auth_mode=auth_mode)
        names = _index_list_names(envelope.body)
        self._server_index_names[self.base_url] = frozenset(names)
        frame = _frame_from_list(envelope, columns=("name", "description", "href"))
        return frame

    def index_envelope(
        self,
        name: str,
        *,
        auth_mode: str | AuthMode | None = None,
        **params: object,
    ) -> Envelope:
        """Query an index and return the raw envelope (``_benchmark``, ``_meta``, ``data``)."""
        name = self._check_index_name(name, auth_mode)
        envelope = self.fetch(f"/v3/index/{name}", params, index=name, auth_mode=auth_mode)
        if not isinstance(envelope.body, dict) or not isinstance(envelope.body.get("data"), list):
            raise ResponseFormatError(
                f"The response for index {name!r} has no list of records in 'data': "
                "check the base URL (%vulncheck status)."
            )
        return envelope

    def index(
        self,
        name: str,
        *,
        auth_mode: str | AuthMode | None = None,
        **params: object,
    ) -> pd.DataFrame:
        """Query an index and return one row per record.

        Keyword arguments are the API's query parameters under their wire names, for
        example ``cve="CVE-2021-44228"``, ``limit=100``, ``page=2``, ``sort="date_added"``,
        ``order="asc"``, ``pubStartDate="2024-01-01"``.
        """
        envelope = self.index_envelope(name, auth_mode=auth_mode, **params)
        return _frame_from_list(envelope)


class _NoAuth(requests.auth.AuthBase):
    """Auth hook that adds nothing, so requests does not fall back to ``~/.netrc``."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


_NO_AUTH = _NoAuth()


def _index_list_names(body: Any) -> list[str]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise ResponseFormatError(
            "The index list response has no 'data' list: check the base URL (%vulncheck status)."
        )
    return [str(item["name"]) for item in data if isinstance(item, dict) and "name" in item]


def _frame_from_list(envelope: Envelope, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    import pandas as pd

    from ._frames import records_to_frame

    data = envelope.body.get("data") if isinstance(envelope.body, dict) else None
    if not isinstance(data, list):
        raise ResponseFormatError(
            f"The response for {envelope.provenance['endpoint']} has no list in 'data'."
        )
    frame = records_to_frame(data)
    if columns and frame.empty and not len(frame.columns):
        frame = pd.DataFrame(columns=list(columns))
    frame.attrs["vulncheck"] = envelope.provenance
    return frame
