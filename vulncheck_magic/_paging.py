"""Cursor paging of an index into one list of records, with caps, guards and progress.

The loop requests ``start_cursor=true`` first, then ``cursor=<_meta.next_cursor>``, until the
cursor comes back empty or a page has no records. It stops early at ``max_pages`` or
``max_rows``, when a cursor repeats (a server that would loop forever), or when a page fails.
Rows fetched before a stop are always kept, and the summary contains the cursor to resume from.
"""

from __future__ import annotations

import queue
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ._errors import VulnCheckError, VulnCheckWarning
from ._logging import logger
from ._summary import plural

__all__ = [
    "DEFAULT_MAX_PAGES",
    "DEFAULT_MAX_ROWS",
    "PagingInterrupted",
    "PagingSummary",
    "PagingWarning",
    "collect_pages",
]

# Caps that apply when the caller sets none: enough for the KEV lists and most filtered
# queries, small enough that an unfiltered query on a large index cannot exhaust memory.
DEFAULT_MAX_PAGES = 1_000
DEFAULT_MAX_ROWS = 100_000


class PagingWarning(VulnCheckWarning):
    """Cursor paging stopped before the end of the results."""


class PagingInterrupted(KeyboardInterrupt):
    """Cursor paging was interrupted (Ctrl-C, or the notebook's stop button).

    ``summary`` describes the pages received before the interrupt, and ``frame`` contains
    their rows once the caller has built it (None before). Being a KeyboardInterrupt, it
    still stops a script; ``%vulncheck`` catches it and returns ``frame`` with a warning.
    """

    def __init__(self, summary: PagingSummary) -> None:
        super().__init__(summary.warning)
        self.summary = summary
        self.frame: Any = None


@dataclass
class PagingSummary:
    """Outcome of a paged query, stored in ``df.attrs["vulncheck"]["paging"]``.

    ``next_cursor`` is the cursor to pass as ``cursor=`` to continue where it stopped, or
    ``""`` when every page was fetched.
    """

    pages: int = 0
    rows: int = 0
    total_documents: int | None = None
    complete: bool = False
    stop_reason: str = ""
    next_cursor: str = ""
    error: str | None = None
    first_meta: dict[str, Any] | None = field(default=None, repr=False)
    warning: str = field(default="", repr=False)

    def as_dict(self) -> dict[str, Any]:
        """Return the summary as plain data for ``df.attrs``."""
        return {
            "pages": self.pages,
            "rows": self.rows,
            "total_documents": self.total_documents,
            "complete": self.complete,
            "stop_reason": self.stop_reason,
            "next_cursor": self.next_cursor,
            "error": self.error,
        }


# A page fetcher returns the page's records, or a function that decodes them, and its _meta.
PageFetcher = Callable[
    [dict[str, object]], tuple[list[Any] | Callable[[], list[Any]], Mapping[str, Any]]
]

# Pages fetched ahead of the one being converted. Two keep the network busy while the
# converter works, and bound the memory held by pages not yet converted.
_PREFETCH = 2
# Seconds the decoding thread yields to the thread that sends the next request.
_SEND_HEAD_START = 0.001


def collect_pages(
    fetch_page: PageFetcher,
    params: Mapping[str, object],
    *,
    max_pages: int | None = None,
    max_rows: int | None = None,
    progress: bool = True,
    description: str = "pages",
    on_page: Callable[[list[Any]], object],
) -> PagingSummary:
    """Fetch pages with the cursor, hand each page's records to ``on_page`` and return a
    summary of the run.

    ``fetch_page`` takes the query parameters of one page and returns its ``data`` list, or
    a function that decodes it, and its ``_meta``. A ``cursor`` in ``params`` resumes an
    earlier run instead of starting anew. Pages download and decode in background threads
    while this thread runs ``on_page`` (for example conversion to a frame) on the pages
    already received, so that conversion overlaps the network wait. A VulnCheckError on a
    later page ends the run with a PagingWarning, and the records fetched before it are
    kept. An error on the first page is raised.
    """
    limits = (
        DEFAULT_MAX_PAGES if max_pages is None else max_pages,
        DEFAULT_MAX_ROWS if max_rows is None else max_rows,
    )
    pages: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=_PREFETCH)
    stop = threading.Event()
    summary = PagingSummary()
    fetcher = threading.Thread(
        target=_fetch_pages,
        args=(fetch_page, dict(params), limits, summary, pages, stop),
        name="vulncheck-paging",
        daemon=True,
    )
    bar = _progress_bar(progress, description)
    received = _Received(next_cursor=str(params.get("cursor") or ""))
    fetcher.start()
    try:
        while True:
            kind, payload = pages.get()
            if kind == "error":
                raise payload
            if kind == "done":
                break
            data, next_cursor = payload
            on_page(data)
            received.add(len(data), next_cursor)
            if bar is not None:
                if bar.total is None and summary.total_documents is not None:
                    bar.total = min(summary.total_documents, limits[1])
                bar.update(len(data))
                bar.set_postfix(pages=received.pages)
    except KeyboardInterrupt:
        if received.pages == 0:
            raise
        raise PagingInterrupted(received.summary(summary)) from None
    finally:
        stop.set()
        if bar is not None:
            bar.close()
    fetcher.join()
    if summary.warning:
        _warn(summary.warning)
    logger.info(
        "cursor paging fetched %d rows in %d pages (%s)",
        summary.rows,
        summary.pages,
        summary.stop_reason,
    )
    return summary


@dataclass
class _Received:
    """The pages that the caller's thread has converted, which an interrupt keeps."""

    pages: int = 0
    rows: int = 0
    next_cursor: str = ""

    def add(self, rows: int, next_cursor: str) -> None:
        self.pages += 1
        self.rows += rows
        self.next_cursor = next_cursor

    def summary(self, fetched: PagingSummary) -> PagingSummary:
        """Return the summary of an interrupted run: these pages, resumable from here."""
        resume = f"; resume with --all --cursor {self.next_cursor}" if self.next_cursor else ""
        return PagingSummary(
            pages=self.pages,
            rows=self.rows,
            total_documents=fetched.total_documents,
            complete=False,
            stop_reason="interrupted",
            next_cursor=self.next_cursor,
            first_meta=fetched.first_meta,
            warning=(
                f"Cursor paging was interrupted after {plural(self.pages, 'page')}; the "
                f"{plural(self.rows, 'row')} received are kept{resume}."
            ),
        )


def _put(pages: queue.Queue[tuple[str, Any]], item: tuple[str, Any], stop: threading.Event) -> bool:
    """Hand an item to the converting thread; return False when that thread has given up."""
    while not stop.is_set():
        try:
            pages.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _fetch_pages(
    fetch_page: PageFetcher,
    params: dict[str, object],
    limits: tuple[int, int],
    summary: PagingSummary,
    pages: queue.Queue[tuple[str, Any]],
    stop: threading.Event,
) -> None:
    """Run the cursor loop in the background thread and queue each page's records."""
    base = {key: value for key, value in params.items() if key not in ("page", "start_cursor")}
    cursor = base.pop("cursor", None)
    seen_cursors: set[str] = {str(cursor)} if cursor else set()
    prefetch = _Prefetch(fetch_page)
    try:
        _fetch_loop(prefetch, base, cursor, seen_cursors, limits, summary, pages, stop)
    finally:
        prefetch.close()


def _page_params(base: dict[str, object], cursor: object) -> dict[str, object]:
    page_params = dict(base)
    if cursor:
        page_params["cursor"] = cursor
    else:
        page_params["start_cursor"] = True
    return page_params


def _fetch_loop(
    prefetch: _Prefetch,
    base: dict[str, object],
    cursor: object,
    seen_cursors: set[str],
    limits: tuple[int, int],
    summary: PagingSummary,
    pages: queue.Queue[tuple[str, Any]],
    stop: threading.Event,
) -> None:
    page_limit, row_limit = limits
    # Rows expected on the next page: the last page's, or the limit before the first.
    limit = base.get("limit")
    expected_rows = limit if isinstance(limit, int) and not isinstance(limit, bool) else None
    while not stop.is_set():
        page_params = _page_params(base, cursor)
        try:
            loaded, meta = prefetch.take(page_params)
            following = str(meta.get("next_cursor") or "")
            if (
                following
                and following not in seen_cursors
                and following != cursor
                and summary.pages + 1 < page_limit
                and expected_rows is not None
                and summary.rows + expected_rows < row_limit
            ):
                # Request the next page now, while this one decodes. Should this page turn
                # out empty or reach max_rows after all, that response is dropped.
                prefetch.start(_page_params(base, following))
            data = loaded() if callable(loaded) else loaded
        except VulnCheckError as exc:
            if summary.pages == 0:
                _put(pages, ("error", exc), stop)
                return
            summary.error = str(exc)
            summary.stop_reason = f"page {summary.pages + 1} failed"
            summary.next_cursor = cursor or ""
            summary.warning = (
                f"Cursor paging stopped at page {summary.pages + 1}: {exc} The "
                f"{summary.rows} rows fetched before are kept; resume with --all --cursor "
                "from df.attrs['vulncheck']['paging']['next_cursor']."
            )
            break
        except BaseException as exc:  # handed to the caller, who re-raises it
            _put(pages, ("error", exc), stop)
            return

        summary.pages += 1
        if summary.first_meta is None:
            summary.first_meta = dict(meta)
            total = meta.get("total_documents")
            summary.total_documents = total if isinstance(total, int) else None
        # Whole pages only: a page cut short could not be resumed without repeating or
        # skipping rows, because a cursor points at page boundaries.
        summary.rows += len(data)
        expected_rows = len(data)
        if not _put(pages, ("page", (data, str(meta.get("next_cursor") or ""))), stop):
            return

        next_cursor = str(meta.get("next_cursor") or "")
        summary.next_cursor = next_cursor
        if not data or not next_cursor:
            summary.complete = True
            summary.next_cursor = ""
            summary.stop_reason = "no more pages" if next_cursor == "" else "empty page"
            break
        if summary.rows >= row_limit:
            summary.stop_reason = f"reached max_rows={row_limit}"
            summary.warning = (
                f"Stopped after {summary.rows:,} rows (max_rows={row_limit:,}) of "
                f"{_total_text(summary)}; raise --max-rows, or resume with --all --cursor "
                "from df.attrs['vulncheck']['paging']['next_cursor']."
            )
            break
        if next_cursor in seen_cursors:
            summary.stop_reason = "repeated cursor"
            summary.warning = (
                f"The server returned a cursor it had returned before, after {summary.pages} "
                f"pages; stopped to avoid a loop. {summary.rows} rows are kept."
            )
            break
        if summary.pages >= page_limit:
            summary.stop_reason = f"reached max_pages={page_limit}"
            summary.warning = (
                f"Stopped after {summary.pages:,} pages (max_pages={page_limit:,}) with "
                f"{summary.rows:,} rows of {_total_text(summary)}; raise --max-pages, or "
                "resume with --all --cursor from df.attrs['vulncheck']['paging']['next_cursor']."
            )
            break
        seen_cursors.add(next_cursor)
        cursor = next_cursor
    _put(pages, ("done", None), stop)


class _Prefetch:
    """The request for the next page, sent in a second thread while this page decodes.

    Cursor paging is sequential: each request needs the cursor of the page before. The
    cursor is in ``_meta``, which the API writes before ``data``, so the next request can
    leave before the records of this page are decoded, and the decoding overlaps the
    network wait instead of adding to it.
    """

    def __init__(self, fetch_page: PageFetcher) -> None:
        self._fetch_page = fetch_page
        self._executor: ThreadPoolExecutor | None = None
        self._pending: tuple[dict[str, object], Future[Any]] | None = None

    def start(self, page_params: dict[str, object]) -> None:
        """Send the request for ``page_params`` in the background."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="vulncheck-prefetch")
        sent = threading.Event()

        def fetch() -> Any:
            sent.set()
            return self._fetch_page(page_params)

        self._pending = (page_params, self._executor.submit(fetch))
        # json.loads holds the GIL for a whole page, so the request thread gets a moment to
        # send its request before this thread starts decoding.
        sent.wait(1.0)
        time.sleep(_SEND_HEAD_START)

    def take(self, page_params: dict[str, object]) -> tuple[Any, Mapping[str, Any]]:
        """Return the page for ``page_params``: the one sent ahead, else fetched now."""
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] == page_params:
            result: tuple[Any, Mapping[str, Any]] = pending[1].result()
            return result
        return self._fetch_page(page_params)

    def close(self) -> None:
        """Drop a request sent ahead that is no longer needed, without waiting for it."""
        self._pending = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


def _total_text(summary: PagingSummary) -> str:
    if summary.total_documents is None:
        return "an unknown total"
    return f"{summary.total_documents:,} documents"


def _warn(message: str) -> None:
    logger.warning("%s", message)
    warnings.warn(message, PagingWarning, stacklevel=4)


def _progress_bar(enabled: bool, description: str) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(desc=description, unit=" rows", leave=False)
