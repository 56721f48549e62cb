"""Exceptions raised by the VulnCheck client.

Every message is one sentence that names what failed and what to do next. No message ever
contains the API token: the client redacts URLs and server text before it builds an error.
"""

from __future__ import annotations

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "EntitlementError",
    "InsecureTransportError",
    "NetworkError",
    "NotFoundError",
    "RateLimitError",
    "ResponseFormatError",
    "ServerError",
    "TokenMissingError",
    "VulnCheckError",
    "VulnCheckWarning",
]


class VulnCheckError(Exception):
    """Base class of every error that vulncheck-magic raises on purpose."""


class VulnCheckWarning(UserWarning):
    """Base class of the warnings vulncheck-magic issues: a result that may mislead."""


class TokenMissingError(VulnCheckError):
    """No API token is available for a request that needs one."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "No VulnCheck API token: run %vulncheck login, set the VULNCHECK_API_TOKEN "
            "environment variable, or run %vulncheck demo to use the offline demo API."
        )


class InsecureTransportError(VulnCheckError):
    """The base URL uses plain http:// to a host that is not a loopback address."""


class NetworkError(VulnCheckError):
    """The request did not get an HTTP response (connection refused, DNS failure, timeout)."""


class ResponseFormatError(VulnCheckError):
    """The server responded with 200 but the body is not the JSON the endpoint documents."""


class APIError(VulnCheckError):
    """The API responded with an HTTP error status.

    Attributes:
        status: the HTTP status code.
        endpoint: the request path, for example ``/v3/index/vulncheck-kev``.
        index: the index queried, or None for endpoints that are not an index.
        messages: the server's own error messages (the ``errors`` list of the VulnCheck error
            body, or a summary of a plain-text or HTML body).
    """

    def __init__(
        self,
        status: int,
        endpoint: str,
        messages: list[str],
        *,
        index: str | None = None,
        hint: str = "",
    ) -> None:
        self.status = status
        self.endpoint = endpoint
        self.index = index
        self.messages = messages
        self.hint = hint
        server_text = "; ".join(messages) if messages else "no error message"
        target = f"index {index!r}" if index else endpoint
        sentence = f"HTTP {status} from the VulnCheck API for {target}: {server_text}."
        super().__init__(f"{sentence} {hint}".strip())

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_api_error,
            (type(self), self.status, self.endpoint, self.messages, self.index, self.hint),
        )


def _rebuild_api_error(
    cls: type[APIError],
    status: int,
    endpoint: str,
    messages: list[str],
    index: str | None,
    hint: str,
) -> APIError:
    error = cls.__new__(cls)
    APIError.__init__(error, status, endpoint, messages, index=index, hint=hint)
    return error


class BadRequestError(APIError):
    """HTTP 400: the API rejected a parameter or the index name."""


class AuthenticationError(APIError):
    """HTTP 401: the token is missing, invalid or expired."""


class EntitlementError(APIError):
    """HTTP 402 or 403: the token's plan does not include this index or endpoint."""


class NotFoundError(APIError):
    """HTTP 404: the index or endpoint does not exist on this server."""


class RateLimitError(APIError):
    """HTTP 429: too many requests in a short time."""


class ServerError(APIError):
    """HTTP 5xx: the API failed while handling the request."""
