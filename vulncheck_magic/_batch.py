"""Batch lookups for ``%%vulncheck`` cells: one request per body value, a few at a time."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from ._errors import VulnCheckError
from ._logging import logger

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BATCH_WORKERS", "body_values", "run_batch"]

# Requests in flight at once. Small, because community tokens allow 1,000 requests per
# minute across all endpoints and a notebook batch should not exhaust that alone.
BATCH_WORKERS = 4


def body_values(cell: str) -> list[str]:
    """Return the cell's values: one per line, trimmed, without blanks, comments or repeats.

    A line that starts with ``#`` is a comment, and so is text after `` #`` on a line.
    The first occurrence of a repeated value keeps its place.
    """
    values: list[str] = []
    seen: set[str] = set()
    for line in cell.splitlines():
        text = line.split(" #", 1)[0].strip()
        if not text or text.startswith("#") or text in seen:
            continue
        seen.add(text)
        values.append(text)
    return values


def run_batch(
    values: list[str],
    run_one: Callable[[str], pd.DataFrame],
    *,
    progress: bool = True,
) -> pd.DataFrame:
    """Run ``run_one`` for each value and return one frame with a leading ``query`` column.

    A value whose run raises a VulnCheckError or UsageError gets one row with the message in
    an ``error`` column. That column exists only when some value failed. A value that found
    no records keeps one row with empty cells. Rows keep the order
    of ``values``. ``attrs["vulncheck"]`` contains the first successful run's provenance and a
    ``batch`` summary.
    """
    import pandas as pd

    results: list[pd.DataFrame | str] = [""] * len(values)

    def work(position: int) -> None:
        value = values[position]
        try:
            results[position] = run_one(value)
        except (VulnCheckError, UsageError) as exc:
            logger.info("batch value %r failed: %s", value, exc)
            results[position] = f"{type(exc).__name__}: {exc}"

    bar = _progress_bar(progress, len(values))
    with ThreadPoolExecutor(max_workers=BATCH_WORKERS) as pool:
        for _ in pool.map(work, range(len(values))):
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()

    frames: list[pd.DataFrame] = []
    first_provenance: dict[str, Any] | None = None
    failures = 0
    for value, result in zip(values, results, strict=True):
        if isinstance(result, str):
            failures += 1
            frames.append(pd.DataFrame({"query": [value], "error": [result]}))
            continue
        if first_provenance is None:
            first_provenance = dict(result.attrs.get("vulncheck", {}))
        if result.empty:
            # A value that found nothing keeps a row, so that the table shows it was looked up.
            frames.append(pd.DataFrame({"query": [value]}))
            continue
        part = result.copy()
        part.insert(0, "query", value)
        frames.append(part)
    non_empty = [frame for frame in frames if len(frame)]
    combined = pd.concat(non_empty, ignore_index=True) if non_empty else pd.DataFrame({"query": []})
    combined.attrs["vulncheck"] = {
        **(first_provenance or {}),
        "batch": {"queries": len(values), "failed": failures},
    }
    return combined


def _progress_bar(enabled: bool, total: int) -> Any:
    if not enabled or total < 2:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="queries", leave=False)
