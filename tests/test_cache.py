"""The per-kernel frame cache: copies, TTL, memory bound, token changes."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

from vulncheck_magic import Client
from vulncheck_magic._cache import FrameCache, token_fingerprint
from vulncheck_magic.demo import DemoServer

from .conftest import SECRET_TOKEN, run_cell


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


def test_client_repeat_query_cached(demo_server: DemoServer) -> None:
    with Client(demo_server.url, token=SECRET_TOKEN) as client:
        first = client.index("cisa-kev", limit=50)
        second = client.index("cisa-kev", limit=50)
        third = client.index("cisa-kev", limit=50, cache=False)
        other = client.index("cisa-kev", limit=50, tidy=False)
    assert len(demo_server.requests) == 3
    assert "cached" not in first.attrs["vulncheck"]
    assert second.attrs["vulncheck"]["cached"] is True
    assert second.equals(first)
    assert "cached" not in third.attrs["vulncheck"]
    assert other.columns.tolist() != first.columns.tolist()


def test_magic_cache_settings(shell: InteractiveShell) -> None:
    shell.run_line_magic("vulncheck", "demo")
    magics = shell.magics_manager.registry["VulnCheckMagic"]
    run_cell(shell, "%vulncheck index cisa-kev --limit 5")
    again = run_cell(shell, "%vulncheck index cisa-kev --limit 5")
    assert "(cached 0 s ago; --no-cache refetches)" in again.stdout
    fresh = run_cell(shell, "%vulncheck index cisa-kev --limit 5 --no-cache")
    assert "cached" not in fresh.stdout
    assert len([seen for seen in magics.demo.requests if seen.path == "/v3/index/cisa-kev"]) == 2
    run_cell(shell, "%config VulnCheckMagic.cache_ttl = 0")
    assert magics.client.frame_cache.ttl == 0
