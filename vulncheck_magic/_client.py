"""The VulnCheck API client: requests with auth, provenance and typed errors.

The client works without IPython. The magics are a thin shell over it.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from ._auth import AuthMode, ResolvedToken, Secret, TokenAuth, TokenStore, get_token_store
from ._auth import parse_auth_mode as _parse_auth_mode
from ._cache import DEFAULT_CACHE_TTL, FrameCache, token_fingerprint
from ._endpoints import EndpointMethods, index_list_names
from ._errors import (
    InsecureTransportError,
    ResponseFormatError,
    TokenMissingError,
    VulnCheckError,
)
from ._http import (
    DEFAULT_BASE_URL,
    RetryNotice,
    configure_session,
    is_loopback_url,
    normalize_base_url,
    retries_made,
    send,
)
from ._logging import logger
from ._params import InvalidParameterError, normalize_index_params, validate_index_name
from ._redact import REDACTED, redact
from ._responses import error_from_response, parse_json_body, peek_envelope_head
from ._version import __version__

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

BASE_URL_ENV_VAR = "VULNCHECK_API_URL"

# Seconds to wait for the TCP connection, then for each read of the response.
DEFAULT_TIMEOUT = (10.0, 60.0)
DEFAULT_MAX_RETRIES = 3
DEFAULT_MAX_RETRY_WAIT = 60.0


def _print_retry_notice(wait: float, status: int | None, made: int, limit: int) -> None:
    """Tell the notebook user why the cell is waiting: one line on standard error."""
    reason = (
        "rate limited (HTTP 429)"
        if status == 429
        else (f"HTTP {status}" if status else "connection failed")
    )
    print(f"{reason}: retrying in {wait:.0f} s (retry {made} of {limit})", file=sys.stderr)


def resolve_ca_bundle(verify: bool | str) -> bool | str:
    """Return requests' ``verify`` value: an explicit bundle, else the environment's, else True.

    requests reads ``REQUESTS_CA_BUNDLE`` by itself but not OpenSSL's ``SSL_CERT_FILE``.
    """
    if verify is False:
        raise ValueError("TLS verification cannot be turned off: give a CA bundle path instead")
    if isinstance(verify, str) and verify:
        return verify
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return True


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


class DryRunRequest(Exception):
    """Raised instead of sending when the client is in dry-run mode; it carries the curl command."""

    def __init__(self, curl: str) -> None:
        super().__init__(curl)
        self.curl = curl


@dataclass(frozen=True)
class Envelope:
    """A parsed response body and the provenance of the request that fetched it."""

    body: Any
    provenance: dict[str, Any]


def _load_body(response: requests.Response, path: str, head: dict[str, Any]) -> Any:
    body = parse_json_body(response, path)
    meta, head_meta = (body.get("_meta") if isinstance(body, dict) else None), head.get("_meta")
    if meta != head_meta and repr(meta) != repr(head_meta):
        # Only a body with two _meta keys gets here: json keeps the last one.
        raise ResponseFormatError(
            f"The response body for {path} has more than one '_meta' object: the cursor "
            "to follow is ambiguous. Try again, and check the base URL if it persists."
        )
    return body


def default_base_url() -> str:
    """Return the base URL from ``VULNCHECK_API_URL``, or the public API's URL."""
    return os.environ.get(BASE_URL_ENV_VAR, "").strip() or DEFAULT_BASE_URL


class Client(EndpointMethods):
    """Client of the VulnCheck API v3 whose query methods return pandas DataFrames.

    Args:
        base_url: API root, for example ``https://api.vulncheck.com`` or the demo API's URL.
            Defaults to ``VULNCHECK_API_URL``, else the public API.
        auth_mode: where requests carry the token: ``header`` (default), ``query`` or
            ``cookie``. Each method also takes ``auth_mode`` for one call.
        token: a token string, a :class:`TokenStore`, or None for this process's store
            (token entered with ``login()``, else ``VULNCHECK_API_TOKEN``).
        timeout: seconds to connect and seconds to wait for each read.
        max_retries: retries of a GET after a connection error or HTTP 429, 502, 503 or 504,
            with exponential back-off and jitter. ``Retry-After`` is honoured.
        max_retry_wait: the maximum wait before one retry, in seconds, whatever
            ``Retry-After`` requests.
        cache_ttl: seconds for which a repeated identical index query returns the earlier
            frame (0 turns the cache off). The cache lives in memory, is bounded to about
            256 MiB, and is emptied when the token changes.
        verify: TLS verification: True (the default, with ``REQUESTS_CA_BUNDLE`` or
            ``SSL_CERT_FILE`` when set) or the path of a CA bundle.
        session: a ``requests.Session`` to reuse as it is configured; by default the client
            makes its own, with the retry policy above.

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
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT,
        cache_ttl: float = DEFAULT_CACHE_TTL,
        verify: bool | str = True,
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
        self.frame_cache = FrameCache(cache_ttl)
        self.dry_run = False
        self.retry_notice: RetryNotice | None = _print_retry_notice
        if session is None:
            session = requests.Session()
            self.set_retry_policy(max_retries, max_retry_wait, session=session)
        self.session = session
        self.session.verify = resolve_ca_bundle(verify)
        self.session.headers["User-Agent"] = f"vulncheck-magic/{__version__}"
        self.session.headers["Accept"] = "application/json"
        self._server_index_names: dict[str, frozenset[str]] = {}

    def _cache_key(
        self, settings: tuple[object, ...], params: Mapping[str, object]
    ) -> tuple[tuple[object, ...], str] | None:
        """Return the cache key and token fingerprint for a query, or None not to cache.

        The key contains the base URL, the query settings and the normalised parameters, never
        the token. Nothing is cached without a token or in dry-run mode.
        """
        resolved = self.token_store.resolve()
        if resolved is None or self.dry_run or self.frame_cache.ttl == 0:
            return None
        wire = normalize_index_params(params)
        key = (self.base_url, *settings, tuple(sorted(wire.items())))
        return key, token_fingerprint(resolved.secret.reveal())

    def set_retry_policy(
        self, max_retries: int, max_wait: float, *, session: requests.Session | None = None
    ) -> None:
        """Set how often and how long GETs are retried (see the class docstring)."""
        if max_retries < 0 or max_wait < 0:
            raise ValueError("max_retries and max_retry_wait must not be negative")
        self.max_retries = max_retries
        self.max_retry_wait = max_wait
        configure_session(
            session or self.session,
            max_retries=max_retries,
            max_wait=max_wait,
            notice=lambda *args: self.retry_notice(*args) if self.retry_notice else None,
        )

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
        """Return every token value that could appear in a text of this client, for redaction."""
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

    def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, object] | None = None,
        *,
        json_body: Any = None,
        index: str | None = None,
        auth_mode: str | AuthMode | None = None,
        expect: str = "json",
    ) -> Envelope:
        """Send a request to ``base_url + path`` and return the body with its provenance.

        ``expect`` is ``"json"`` (the body is parsed) or ``"text"`` (the body is returned as
        a string). Raises TokenMissingError without a token, InsecureTransportError for plain
        http to a host that is not a loopback address, NetworkError when no response
        arrives, an APIError subclass for an HTTP error status, and ResponseFormatError for
        a 200 response that is not what ``expect`` names.
        """
        response, wire_params, mode, elapsed = self._receive(
            method, path, params, json_body=json_body, index=index, auth_mode=auth_mode
        )
        body = parse_json_body(response, path) if expect == "json" else response.text
        return Envelope(
            body, self._provenance(method, path, index, wire_params, mode, response, elapsed, body)
        )

    def fetch_head(
        self,
        path: str,
        params: Mapping[str, object] | None = None,
        *,
        index: str | None = None,
        auth_mode: str | AuthMode | None = None,
    ) -> tuple[Envelope, Callable[[], Any]]:
        """Send ``GET base_url + path``; return the envelope's head now and its body later.

        The head is what precedes ``data`` in the body (``_benchmark`` and ``_meta``), read
        without decoding the records. The returned function decodes the whole body. Cursor
        paging reads the next cursor from the head and requests the next page while this
        page's records are decoded. A body whose ``_meta`` does not precede ``data`` is
        decoded at once. Raises the errors that :meth:`request` documents; the function
        raises ResponseFormatError for a body that is not JSON, or whose ``_meta`` differs
        from the head's.
        """
        response, wire_params, mode, elapsed = self._receive(
            "GET", path, params, json_body=None, index=index, auth_mode=auth_mode
        )
        head = peek_envelope_head(response)
        if head is None:
            body = parse_json_body(response, path)
            head, load = body, lambda: body
        else:
            load = partial(_load_body, response, path, head)
        provenance = self._provenance(
            "GET", path, index, wire_params, mode, response, elapsed, head
        )
        return Envelope(head, provenance), load

    def _receive(
        self,
        method: str,
        path: str,
        params: Mapping[str, object] | None,
        *,
        json_body: Any,
        index: str | None,
        auth_mode: str | AuthMode | None,
    ) -> tuple[requests.Response, dict[str, str], AuthMode, float]:
        """Send the request and return the 200 response, the wire parameters, the auth mode
        and the seconds it took; raise for anything but HTTP 200."""
        mode = self.auth_mode if auth_mode is None else _parse_auth_mode(auth_mode)
        wire_params = normalize_index_params(params or {})
        url = self.base_url + path
        if urlsplit(url).scheme == "http" and not is_loopback_url(url):
            raise InsecureTransportError(
                f"Refusing to send the API token over plain http to {urlsplit(url).hostname}: "
                "use an https:// base URL (plain http is allowed only for loopback addresses "
                "such as 127.0.0.1)."
            )
        if self.dry_run:
            raise DryRunRequest(self.curl_command(method, url, wire_params, json_body, mode))
        resolved = self._resolve_token()
        response, elapsed = send(
            self.session,
            method,
            url,
            params=wire_params,
            json_body=json_body,
            auth=TokenAuth(resolved.secret, mode),
            timeout=self.timeout,
            path=path,
            redact=self.redact,
            retries=getattr(self, "max_retries", 0),
        )
        if response.status_code >= 400:
            raise error_from_response(
                response,
                path,
                index=index,
                clean=self.redact,
                suggest=self._suggest_names,
                retries=retries_made(response),
            )
        if response.status_code != 200:
            raise ResponseFormatError(
                f"The server responded to {path} with HTTP {response.status_code} instead of 200: "
                "check the base URL (%vulncheck status)."
            )
        return response, wire_params, mode, elapsed

    def _provenance(
        self,
        method: str,
        path: str,
        index: str | None,
        wire_params: dict[str, str],
        mode: AuthMode,
        response: requests.Response,
        elapsed: float,
        body: Any,
    ) -> dict[str, Any]:
        is_envelope = isinstance(body, dict)
        return {
            "base_url": self.base_url,
            "endpoint": path,
            "method": method,
            "index": index,
            "params": dict(wire_params),
            "auth_mode": mode.value,
            "status": response.status_code,
            "meta": body.get("_meta") if is_envelope else None,
            "benchmark": body.get("_benchmark") if is_envelope else None,
            "elapsed_seconds": round(elapsed, 6),
            "fetched_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "package_version": __version__,
        }

    def curl_command(
        self,
        method: str,
        url: str,
        params: Mapping[str, str],
        json_body: Any,
        mode: AuthMode,
    ) -> str:
        """Return the request as a curl command, with the token shown as ``***``.

        The command is built from a request prepared with ``***`` in place of the token, so
        the real token is never part of it, in any auth mode.
        """
        placeholder = TokenAuth(Secret(REDACTED), mode)
        request = requests.Request(
            method,
            url,
            params=dict(params),
            json=json_body,
            headers=dict(self.session.headers),
            auth=placeholder,
        ).prepare()
        target = (request.url or url).replace(f"token={quote(REDACTED)}", f"token={REDACTED}")
        words = ["curl"]
        if method != "GET":
            words += ["-X", method]
        for name, value in request.headers.items():
            if name.lower() in ("content-length", "accept-encoding", "connection"):
                continue
            words += ["-H", f"{name}: {value}"]
        if request.body:
            body = request.body.decode() if isinstance(request.body, bytes) else request.body
            words += ["--data-raw", body]
        words.append(target)
        return " ".join(shlex.quote(word) for word in words)

    def fetch(
        self,
        path: str,
        params: Mapping[str, object] | None = None,
        *,
        index: str | None = None,
        auth_mode: str | AuthMode | None = None,
    ) -> Envelope:
        """Send ``GET base_url + path`` and return the parsed JSON body with its provenance.

        Raises the errors that :meth:`request` documents.
        """
        return self.request("GET", path, params, index=index, auth_mode=auth_mode)

    # Index names

    def _suggest_names(self, name: str) -> list[str]:
        """Return close index names for a name that no catalog lists, else nothing.

        A known name failed for another reason (a bad parameter, or an index this server
        does not serve), so suggesting other names would mislead.
        """
        from ._catalog import index_names, suggest_index_names

        candidates = set(index_names()) | set(self._server_index_names.get(self.base_url, ()))
        if name in candidates:
            return []
        return suggest_index_names(name, candidates)

    def _check_index_name(self, name: str, auth_mode: str | AuthMode | None) -> str:
        """Return the validated name; raise UnknownIndexError if no catalog lists it."""
        from ._catalog import index_names

        name = validate_index_name(name)
        if name in index_names():
            return name
        server_names = self._server_index_names.get(self.base_url)
        if server_names is None:
            try:
                envelope = self.fetch("/v3/index", auth_mode=auth_mode)
            except TokenMissingError:
                # Without a token the live list cannot be read: judge by the catalog alone.
                raise UnknownIndexError(name, self._suggest_names(name)) from None
            except InsecureTransportError:
                raise
            except VulnCheckError as exc:
                logger.info("could not fetch the index list to check %r: %s", name, exc)
                server_names = frozenset()
            else:
                server_names = frozenset(index_list_names(envelope.body))
                self._server_index_names[self.base_url] = server_names
        if name in server_names:
            return name
        raise UnknownIndexError(name, self._suggest_names(name))
