"""Options of ``Client.index`` that the benchmarks set when the code under test has them.

The client changes while the benchmarks stay, so each option is looked up in the signature
of ``Client.index`` at run time. Each report prints the options it found.
"""

from __future__ import annotations

import inspect
from typing import Any

import _bench_server  # noqa: F401  (puts this checkout first on sys.path)

from vulncheck_magic import Client

__all__ = ["cache_arguments", "clear_caches", "index_parameters", "tidy_arguments"]


def index_parameters() -> set[str]:
    """Return the keyword parameters of ``Client.index``."""
    return set(inspect.signature(Client.index).parameters)


def tidy_arguments(tidy: bool) -> dict[str, Any]:
    """Return ``{"tidy": tidy}`` if ``Client.index`` takes ``tidy``, else nothing."""
    return {"tidy": tidy} if "tidy" in index_parameters() else {}


def cache_arguments(enabled: bool) -> dict[str, Any]:
    """Return the keyword that turns the result cache on or off, if ``Client.index`` has one."""
    parameters = index_parameters()
    if "cache" in parameters:
        return {"cache": enabled}
    if "use_cache" in parameters:
        return {"use_cache": enabled}
    if "no_cache" in parameters:
        return {"no_cache": not enabled}
    return {}


def clear_caches(client: Client) -> list[str]:
    """Empty every result cache reachable from ``client``; return the names of those emptied.

    Looks for a ``clear_cache()`` method and for attributes whose name contains ``cache``
    and that have a ``clear()`` method, on the client and on its class.
    """
    cleared = []
    method = getattr(client, "clear_cache", None)
    if callable(method):
        method()
        cleared.append("clear_cache()")
    for owner in (client, type(client)):
        for name, value in list(vars(owner).items()):
            if "cache" in name.lower() and callable(getattr(value, "clear", None)):
                value.clear()
                cleared.append(f"{name}.clear()")
    return cleared
