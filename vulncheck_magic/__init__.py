"""Query the VulnCheck vulnerability-intelligence API from IPython and get pandas DataFrames.

In a notebook::

    %load_ext vulncheck_magic
    %vulncheck demo
    %vulncheck index vulncheck-kev --cve CVE-2021-44228

From Python, without IPython::

    from vulncheck_magic import Client
    kev = Client().index("vulncheck-kev", cve="CVE-2021-44228")

Run ``%vulncheck?`` for every command and option.
"""

from __future__ import annotations

from ._auth import TOKEN_ENV_VAR, AuthMode, Secret, TokenStore, get_token_store
from ._client import BASE_URL_ENV_VAR, DEFAULT_BASE_URL, Client, Envelope, UnknownIndexError
from ._errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    EntitlementError,
    InsecureTransportError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    TokenMissingError,
    VulnCheckError,
)
from ._export import to_flat
from ._extension import load_ipython_extension, unload_ipython_extension
from ._login import login
from ._paging import PagingInterrupted, PagingWarning
from ._params import InvalidParameterError
from ._version import __version__

__all__ = [
    "BASE_URL_ENV_VAR",
    "DEFAULT_BASE_URL",
    "TOKEN_ENV_VAR",
    "APIError",
    "AuthMode",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "EntitlementError",
    "Envelope",
    "InsecureTransportError",
    "InvalidParameterError",
    "NetworkError",
    "NotFoundError",
    "PagingInterrupted",
    "PagingWarning",
    "RateLimitError",
    "ResponseFormatError",
    "Secret",
    "ServerError",
    "TokenMissingError",
    "TokenStore",
    "UnknownIndexError",
    "VulnCheckError",
    "__version__",
    "get_token_store",
    "load_ipython_extension",
    "login",
    "to_flat",
    "unload_ipython_extension",
]
