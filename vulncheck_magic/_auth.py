"""Auth modes, the per-kernel token store and the requests auth hook that applies a token.

The VulnCheck API accepts a token in three places, and the auth mode chooses one:

``header``
    ``Authorization: Bearer <token>``. The default, because headers stay out of server access
    logs, browser history and proxy logs.
``query``
    a ``token=<token>`` query parameter. The token becomes part of the URL, which servers
    and proxies tend to log.
``cookie``
    a cookie named ``token``, sent only to the API host.

Token precedence, highest first: the demo token while the demo API runs (the demo accepts
nothing else), then a token entered in this kernel (login form or prompt), then the
``VULNCHECK_API_TOKEN`` environment variable. Tokens live in this process's memory only.
"""

from __future__ import annotations

import enum
import hmac
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NoReturn

import requests
import requests.auth

from ._redact import mask_token

__all__ = [
    "TOKEN_ENV_VAR",
    "AuthMode",
    "ResolvedToken",
    "Secret",
    "TokenAuth",
    "TokenSource",
    "TokenStore",
    "get_token_store",
    "parse_auth_mode",
]

TOKEN_ENV_VAR = "VULNCHECK_API_TOKEN"


class AuthMode(enum.StrEnum):
    """Place in a request that carries the API token."""

    HEADER = "header"
    QUERY = "query"
    COOKIE = "cookie"


def parse_auth_mode(value: str | AuthMode) -> AuthMode:
    """Return the AuthMode named by ``value``; raise ValueError naming the valid modes."""
    try:
        return AuthMode(str(value).strip().lower())
    except ValueError:
        valid = ", ".join(mode.value for mode in AuthMode)
        raise ValueError(f"invalid auth mode {value!r}: use one of {valid}") from None


class Secret:
    """A token value whose repr and str are masked.

    Code passes a Secret around instead of a plain string, so that a repr in a log record,
    a traceback or a debugger shows ``vulc…cdef`` rather than the token. :meth:`reveal`
    returns the value for the one place that sends it.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the token itself. Call only where the token is put on the wire."""
        return self._value

    @property
    def masked(self) -> str:
        """The token with all but its first and last 4 characters hidden."""
        return mask_token(self._value)

    def __repr__(self) -> str:
        return f"Secret({self.masked!r})"

    def __str__(self) -> str:
        return self.masked

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled, so that a token never reaches a file")


def clean_token(value: str) -> str:
    """Strip whitespace and line breaks that come with a pasted token."""
    return value.strip()


class TokenSource(enum.StrEnum):
    """Source of the token in use."""

    DEMO = "demo"
    SESSION = "session"
    ENVIRONMENT = "environment"


@dataclass(frozen=True)
class ResolvedToken:
    """The token chosen for a request, with its source."""

    secret: Secret
    source: TokenSource


class TokenStore:
    """Per-kernel, in-memory store of the API token.

    Holds a token entered in this kernel and the demo token, and reads the environment
    variable on every lookup, so that a change to ``os.environ`` takes effect at once.
    Nothing is ever written to disk or to the user namespace.
    """

    def __init__(self, environ: Mapping[str, str] | None = None, env_var: str = TOKEN_ENV_VAR):
        self._environ = os.environ if environ is None else environ
        self.env_var = env_var
        self._session: Secret | None = None
        self._demo: Secret | None = None
        self._lock = threading.Lock()

    def set_session_token(self, token: str | Secret) -> Secret:
        """Store a token entered in this kernel and return it as a Secret.

        Raises ValueError when the token is empty after trimming whitespace.
        """
        secret = _to_secret(token)
        with self._lock:
            self._session = secret
        return secret

    def clear_session_token(self) -> bool:
        """Forget the token entered in this kernel; return whether there was one."""
        with self._lock:
            had_token = self._session is not None
            self._session = None
        return had_token

    def set_demo_token(self, token: str | Secret) -> None:
        """Use ``token`` for every request while the demo API runs."""
        secret = _to_secret(token)
        with self._lock:
            self._demo = secret

    def clear_demo_token(self) -> None:
        """Stop using the demo token."""
        with self._lock:
            self._demo = None

    def environment_token(self) -> Secret | None:
        """Return the token of the environment variable, or None when unset or blank."""
        value = clean_token(self._environ.get(self.env_var, ""))
        return Secret(value) if value else None

    @property
    def has_session_token(self) -> bool:
        """Whether a token was entered in this kernel."""
        return self._session is not None

    def resolve(self) -> ResolvedToken | None:
        """Return the token that a request should carry, by precedence, or None."""
        with self._lock:
            if self._demo is not None:
                return ResolvedToken(self._demo, TokenSource.DEMO)
            if self._session is not None:
                return ResolvedToken(self._session, TokenSource.SESSION)
        env_secret = self.environment_token()
        if env_secret is not None:
            return ResolvedToken(env_secret, TokenSource.ENVIRONMENT)
        return None

    def describe(self) -> str:
        """Return a one-line, masked description of the token in use and its source."""
        resolved = self.resolve()
        if resolved is None:
            return "none"
        if resolved.source is TokenSource.ENVIRONMENT:
            return f"{resolved.secret.masked} (from {self.env_var})"
        if resolved.source is TokenSource.DEMO:
            return f"{resolved.secret.masked} (demo token)"
        return f"{resolved.secret.masked} (entered in this kernel)"

    def __repr__(self) -> str:
        return f"<TokenStore token={self.describe()}>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a TokenStore cannot be pickled, so that a token never reaches a file")


def _to_secret(token: str | Secret) -> Secret:
    value = token.reveal() if isinstance(token, Secret) else str(token)
    value = clean_token(value)
    if not value:
        raise ValueError("the token is empty: paste the whole API token")
    return Secret(value)


_kernel_store = TokenStore()


def get_token_store() -> TokenStore:
    """Return this process's token store, shared by the magics, ``login()`` and ``Client()``."""
    return _kernel_store


class TokenAuth(requests.auth.AuthBase):
    """requests auth hook that puts the token in the place that the auth mode names.

    Passing any auth object to requests also stops it from adding credentials of its own
    from ``~/.netrc``.
    """

    def __init__(self, secret: Secret, mode: AuthMode) -> None:
        self.secret = secret
        self.mode = mode

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self.secret.reveal()
        if self.mode is AuthMode.HEADER:
            request.headers["Authorization"] = f"Bearer {token}"
        elif self.mode is AuthMode.QUERY:
            assert request.url is not None
            request.prepare_url(request.url, {"token": token})
        else:
            existing = request.headers.get("Cookie")
            pair = f"token={token}"
            request.headers["Cookie"] = f"{existing}; {pair}" if existing else pair
        return request

    def __repr__(self) -> str:
        return f"<TokenAuth mode={self.mode.value} token={self.secret.masked}>"
