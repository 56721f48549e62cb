"""The one-line summary printed under a query's result, built from its provenance."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["plural", "summarize"]


def plural(count: int, word: str, plural_form: str | None = None) -> str:
    """Return ``count`` with thousands separators and ``word`` in the number it needs."""
    return f"{count:,} {word if count == 1 else plural_form or word + 's'}"


def summarize(frame: Any) -> str | None:
    """Return a one-line summary of a result frame, or None when it has no provenance.

    The line names the index or endpoint, the rows shown against the total documents, the
    page or cursor, and how to get the next page. It is built from ``df.attrs["vulncheck"]``,
    which never contains the token.
    """
    # pandas is imported lazily: without it in sys.modules no frame can exist yet.
    pandas = sys.modules.get("pandas")
    if pandas is None or not isinstance(frame, pandas.DataFrame):
        return None
    provenance = frame.attrs.get("vulncheck")
    if not isinstance(provenance, dict):
        return None
    target = provenance.get("index") or provenance.get("endpoint") or "result"
    rows = len(frame)
    batch = provenance.get("batch")
    if isinstance(batch, dict):
        failed = batch.get("failed", 0)
        queries = plural(batch.get("queries", 0), "query", "queries")
        text = f"{target}: {plural(rows, 'row')} from {queries}"
        return text + (f", {failed} failed (see the error column)" if failed else "")
    paging = provenance.get("paging")
    if isinstance(paging, dict):
        return _paging_summary(target, rows, paging) + _cached_text(provenance)
    meta = provenance.get("meta") if isinstance(provenance.get("meta"), dict) else {}
    total = meta.get("total_documents")
    text = f"{target}: {plural(rows, 'row')}"
    if isinstance(total, int):
        text += f" of {plural(total, 'document')}"
    page, pages = meta.get("page"), meta.get("total_pages")
    next_cursor = meta.get("next_cursor")
    if next_cursor:
        text += f"; next page: --cursor {next_cursor}"
    elif isinstance(page, int) and isinstance(pages, int) and pages > 1:
        max_pages = meta.get("max_pages")
        reach = (
            f"; offset paging stops at page {max_pages}"
            if (isinstance(max_pages, int) and max_pages < pages)
            else ""
        )
        text += f" (page {page} of {pages}{reach})"
        if page < pages and (not isinstance(max_pages, int) or page < max_pages):
            text += f"; next page: --page {page + 1}"
        elif page < pages:
            text += "; beyond this page use --all"
    if provenance.get("ignored_params"):
        text += f"; ignored filters: {', '.join(provenance['ignored_params'])}"
    return text + _cached_text(provenance)


def _cached_text(provenance: dict[str, Any]) -> str:
    if not provenance.get("cached"):
        return ""
    return f" (cached {provenance.get('cache_age_seconds', 0):.0f} s ago; --no-cache refetches)"


def _paging_summary(target: str, rows: int, paging: dict[str, Any]) -> str:
    total = paging.get("total_documents")
    pages = paging.get("pages", 0)
    of_total = f" of {plural(total, 'document')}" if isinstance(total, int) else ""
    text = f"{target}: {plural(rows, 'row')}{of_total} in {plural(pages, 'page')}"
    if paging.get("complete"):
        return text + ", complete"
    reason = paging.get("stop_reason") or "stopped early"
    text += f", stopped: {reason}"
    if paging.get("next_cursor"):
        text += f"; resume with --all --cursor {paging['next_cursor']}"
    return text
