"""The per-kernel frame cache: copies, TTL, memory bound, token changes."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from vulncheck_magic._cache import FrameCache, token_fingerprint


def sample_frame() -> pd.DataFrame:
    frame = pd.DataFrame({"cve": ["CVE-2021-44228"], "score": [10.0]})
    frame.attrs["vulncheck"] = {"index": "vulncheck-kev"}
    return frame


def test_hit_returns_independent_copy() -> None:
    cache = FrameCache(ttl=60)
    fingerprint = token_fingerprint("token-a")
    cache.put(("k",), fingerprint, sample_frame())
    first = cache.get(("k",), fingerprint)
    assert first is not None
    assert first.attrs["vulncheck"]["cached"] is True
    first.loc[0, "score"] = 0.0
    first.attrs["vulncheck"]["index"] = "changed"
    second = cache.get(("k",), fingerprint)
    assert second is not None
    assert second.loc[0, "score"] == 10.0
    assert second.attrs["vulncheck"]["index"] == "vulncheck-kev"


def test_token_change_empties_cache() -> None:
    cache = FrameCache(ttl=60)
    cache.put(("k",), token_fingerprint("token-a"), sample_frame())
    assert cache.get(("k",), token_fingerprint("token-b")) is None
    assert cache.get(("k",), token_fingerprint("token-a")) is None


def test_ttl_expiry_and_off() -> None:
    cache = FrameCache(ttl=0.05)
    fingerprint = token_fingerprint("t")
    cache.put(("k",), fingerprint, sample_frame())
    assert cache.get(("k",), fingerprint) is not None
    time.sleep(0.1)
    assert cache.get(("k",), fingerprint) is None
    cache.ttl = 0
    cache.put(("k",), fingerprint, sample_frame())
    assert cache.get(("k",), fingerprint) is None
    with pytest.raises(ValueError, match="invalid cache TTL"):
        cache.ttl = -1


def test_memory_bound() -> None:
    big = pd.DataFrame({"x": range(100_000)})
    cache = FrameCache(ttl=60, max_bytes=500_000)
    fingerprint = token_fingerprint("t")
    cache.put(("big",), fingerprint, big)
    assert cache.get(("big",), fingerprint) is None
    small = pd.DataFrame({"x": range(10_000)})
    for number in range(10):
        cache.put((number,), fingerprint, small)
    assert len(cache) <= 6


def test_fingerprint_is_not_the_token() -> None:
    fingerprint = token_fingerprint("vulncheck_secret_value")
    assert "vulncheck_secret_value" not in fingerprint
    assert fingerprint == token_fingerprint("vulncheck_secret_value")
