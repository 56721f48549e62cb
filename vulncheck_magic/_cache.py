"""Per-kernel cache of result frames: bounded in memory, with a time to live.

A repeated identical query returns a copy of the cached frame instead of fetching and
converting again. Keys hold the base URL, endpoint and parameters, never the token. The
cache is emptied whenever the token in use changes, so that one token's results are never
served to another (their entitlements may differ).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import os
import threading
import time
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from cachetools import TTLCache

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_CACHE_TTL", "DEFAULT_MAX_CACHE_BYTES", "FrameCache"]

DEFAULT_CACHE_TTL = 300.0
DEFAULT_MAX_CACHE_BYTES = 256 * 1024 * 1024

# A random key per process: the fingerprint of a token cannot be compared across processes
# or reversed by trying candidate tokens without it.
_FINGERPRINT_KEY = os.urandom(32)


def token_fingerprint(token: str) -> str:
    """Return a keyed hash of ``token`` that identifies it within this process only."""
    return hmac.new(_FINGERPRINT_KEY, token.encode(), hashlib.sha256).hexdigest()


def _frame_bytes(entry: tuple[float, Any]) -> int:
    # Shallow memory use: exact for numeric and datetime columns, an estimate for object
    # columns, whose Python objects it does not count. It keeps sizing cheap.
    return int(entry[1].memory_usage(index=True, deep=False).sum()) + 1


class FrameCache:
    """Cache of result frames with a time to live (seconds) and a memory bound (bytes).

    ``ttl=0`` turns the cache off. Lookups return copies, so that changing a returned frame
    never changes the cached one.
    """

    def __init__(
        self, ttl: float = DEFAULT_CACHE_TTL, max_bytes: int = DEFAULT_MAX_CACHE_BYTES
    ) -> None:
        self._lock = threading.Lock()
        self._fingerprint: str | None = None
        self.max_bytes = max_bytes
        self.ttl = ttl

    @property
    def ttl(self) -> float:
        """Seconds a cached frame stays valid; 0 disables the cache."""
        return self._ttl

    @ttl.setter
    def ttl(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"invalid cache TTL {seconds!r}: use 0 (off) or more seconds")
        with self._lock:
            self._ttl = float(seconds)
            self._entries: TTLCache[Hashable, tuple[float, Any]] = TTLCache(
                maxsize=self.max_bytes, ttl=max(self._ttl, 1e-9), getsizeof=_frame_bytes
            )

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Drop every cached frame."""
        with self._lock:
            self._entries.clear()

    def _check_token(self, fingerprint: str) -> None:
        if fingerprint != self._fingerprint:
            self._entries.clear()
            self._fingerprint = fingerprint

    def get(self, key: Hashable, fingerprint: str) -> pd.DataFrame | None:
        """Return a copy of the cached frame for ``key``, or None."""
        if self._ttl == 0:
            return None
        with self._lock:
            self._check_token(fingerprint)
            entry = self._entries.get(key)
        if entry is None:
            return None
        stored_at, frame = entry
        result = _copy_frame(frame)
        provenance = result.attrs.get("vulncheck")
        if isinstance(provenance, dict):
            provenance["cached"] = True
            provenance["cache_age_seconds"] = round(time.monotonic() - stored_at, 3)
        return result

    def put(self, key: Hashable, fingerprint: str, frame: pd.DataFrame) -> None:
        """Store a copy of ``frame``; a frame larger than the memory bound is not stored."""
        if self._ttl == 0:
            return
        stored = _copy_frame(frame)
        with self._lock:
            self._check_token(fingerprint)
            # cachetools raises ValueError for a frame larger than max_bytes on its own.
            with contextlib.suppress(ValueError):
                self._entries[key] = (time.monotonic(), stored)


def _copy_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy a frame cheaply but safely, with its own attrs.

    pandas 3 copies on write, so a shallow copy is already independent, and its copy()
    deep-copies attrs. Older pandas needs a deep copy, with attrs copied here. NOTE: lists
    and dicts inside object cells are shared in both cases, so changing such an object in
    place changes the cached frame too.
    """
    import pandas as pd

    if int(pd.__version__.split(".")[0]) >= 3:
        return frame.copy(deep=False)
    result = frame.copy(deep=True)
    result.attrs = copy.deepcopy(frame.attrs)
    return result
