"""Enrichment: join KEV, NVD, exploit and EPSS columns onto a frame of CVE ids.

Each unique CVE id of the frame is looked up once per source with ``cve=`` on the source's
index, :data:`~vulncheck_magic._batch.BATCH_WORKERS` requests at a time. The tidy rules
give the values, and a fixed column list per source keeps the result's columns the same
whatever the lookups find.
"""

from __future__ import annotations

import copy
import difflib
import re
import threading
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from ._batch import BATCH_WORKERS
from ._errors import (
    APIError,
    InsecureTransportError,
    TokenMissingError,
    VulnCheckError,
    VulnCheckWarning,
)
from ._logging import logger
from ._params import InvalidParameterError
from ._tidy import CVSS_VERSIONS, EXPLOIT_FLAGS
from ._version import __version__

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["ENRICH_SOURCES", "EnrichWarning", "enrich", "find_cve_column"]

ERROR_COLUMN = "enrich_error"

_CVE_ID = re.compile(r"CVE-\d{4}-\d{4,}")
_CVE_LIKE = r"\s*[Cc][Vv][Ee]-\d{4}-\d{4,}\s*"

# HTTP statuses after which every other lookup on the same index would fail the same way.
# The index does not exist (400 on the API, 404 on the demo), the token is rejected (401),
# or the token is not entitled to the index (402, 403).
_INDEX_LEVEL_STATUSES = frozenset({400, 401, 402, 403, 404})


class EnrichWarning(VulnCheckWarning):
    """Some enrichment lookups failed, so their columns are empty in those rows."""


@dataclass(frozen=True)
class EnrichColumn:
    """A column that a source adds: the tidy column it comes from and its dtype.

    ``kind`` is ``datetime``, ``text``, ``list`` or a pandas dtype name. An optional column
    is added only when some looked-up record has it (the CVSS versions of a record vary).
    """

    name: str
    kind: str
    optional: bool = False


@dataclass(frozen=True)
class EnrichSource:
    """An index that enrichment reads, with the prefix and columns it adds."""

    name: str
    index: str
    prefix: str
    columns: tuple[EnrichColumn, ...]

    def output_name(self, column: str) -> str:
        """Return the result's column name: the prefix, unless the name starts with it."""
        return column if column.startswith(self.prefix) else f"{self.prefix}{column}"

    def output_names(self) -> list[str]:
        return [self.output_name(column.name) for column in self.columns]


def _cvss_columns() -> tuple[EnrichColumn, ...]:
    columns: list[EnrichColumn] = []
    for infix, _source, _version in CVSS_VERSIONS:
        columns += [
            EnrichColumn(f"cvss_{infix}_base_score", "float64", optional=True),
            EnrichColumn(f"cvss_{infix}_base_severity", "text", optional=True),
            EnrichColumn(f"cvss_{infix}_vector", "text", optional=True),
        ]
    return tuple(columns)


_EXPLOIT_TIMELINE = (
    "nvd_published",
    "nvd_last_modified",
    "first_exploit_published",
    "first_exploit_published_weaponized_or_higher",
    "most_recent_exploit_published",
    "cisa_kev_date_added",
    "cisa_kev_date_due",
    "vulncheck_kev_date_added",
    "vulncheck_kev_date_due",
    "first_reported_threat_actor",
    "most_recent_reported_threat_actor",
    "first_reported_ransomware",
    "most_recent_reported_ransomware",
    "first_reported_botnet",
    "most_recent_reported_botnet",
    "first_reported_vulncheck_canaries",
)

ENRICH_SOURCES: dict[str, EnrichSource] = {
    "kev": EnrichSource(
        "kev",
        "vulncheck-kev",
        "kev_",
        (
            EnrichColumn("vendorProject", "text"),
            EnrichColumn("product", "text"),
            EnrichColumn("vulnerabilityName", "text"),
            EnrichColumn("date_added", "datetime"),
            EnrichColumn("cisa_date_added", "datetime"),
            EnrichColumn("dueDate", "datetime"),
            EnrichColumn("ransomware", "boolean"),
            EnrichColumn("xdb_count", "Int64"),
            EnrichColumn("reported_exploitation_count", "Int64"),
        ),
    ),
    "nvd": EnrichSource(
        "nvd",
        "nist-nvd2",
        "nvd_",
        (
            EnrichColumn("description", "text"),
            EnrichColumn("published", "datetime"),
            EnrichColumn("last_modified", "datetime"),
            EnrichColumn("status", "text"),
            EnrichColumn("cvss_score", "float64"),
            EnrichColumn("cvss_severity", "text"),
            EnrichColumn("cvss_version", "text"),
            *_cvss_columns(),
            EnrichColumn("cwes", "list"),
            EnrichColumn("cisa_kev_added", "datetime"),
            EnrichColumn("cpe_count", "Int64"),
            EnrichColumn("reference_count", "Int64"),
        ),
    ),
    "exploits": EnrichSource(
        "exploits",
        "exploits",
        "exploits_",
        (
            *(EnrichColumn(flag, "boolean") for flag in EXPLOIT_FLAGS),
            EnrichColumn("max_exploit_maturity", "text"),
            EnrichColumn("epss_score", "float64"),
            EnrichColumn("epss_percentile", "float64"),
            EnrichColumn("exploit_count", "Int64"),
            EnrichColumn("threat_actor_count", "Int64"),
            EnrichColumn("botnet_count", "Int64"),
            EnrichColumn("ransomware_family_count", "Int64"),
            *(EnrichColumn(f"timeline.{name}", "datetime", True) for name in _EXPLOIT_TIMELINE),
        ),
    ),
    "epss": EnrichSource(
        "epss",
        "epss",
        "epss_",
        (EnrichColumn("epss_score", "float64"), EnrichColumn("epss_percentile", "float64")),
    ),
}
"""The sources ``enrich`` can read, by the name that ``sources`` and ``--with`` take."""


@dataclass
class _Lookup:
    """The outcome of one (source, CVE) lookup."""

    values: dict[str, Any] | None = None
    matches: int = 0
    error: str | None = None


def enrich(
    frame: pd.DataFrame,
    *,
    client: Client,
    cve_column: str | None = None,
    sources: Sequence[str] = ("kev", "nvd"),
    progress: bool = True,
    auth_mode: Any = None,
) -> pd.DataFrame:
    """Return a copy of ``frame`` with columns from VulnCheck KEV, NVD, exploits or EPSS.

    ``sources`` names what to add: ``kev`` (index vulncheck-kev, columns ``kev_*``),
    ``nvd`` (nist-nvd2, ``nvd_*``), ``exploits`` (exploits, ``exploits_*``) and ``epss``
    (epss, ``epss_score`` and ``epss_percentile``). ``cve_column`` is found automatically
    when exactly one column contains CVE ids. Ids are trimmed and upper-cased. Each unique id
    is looked up once per source. The result has one row per row of ``frame``, in the same
    order and with the same index; ``frame`` itself is not modified.

    A CVE that a source does not have, a blank, None or a value that is no CVE id gives
    empty cells. Lookups that fail give empty cells too, their message in an
    ``enrich_error`` column (present only when some lookup failed) and one
    :class:`EnrichWarning` for all of them. After a failure that every lookup on that index
    would repeat (HTTP 400, 401, 402, 403 or 404, an unknown index, no token), the source's
    remaining lookups are not sent and get the same message.
    ``df.attrs["vulncheck"]["enrich"]`` counts the lookups, finds and failures per source.
    """
    chosen = _choose_sources(sources)
    column = cve_column if cve_column is not None else find_cve_column(frame)
    _check_cve_column(frame, column)
    _check_free_names(frame, chosen)

    # dtype=object keeps None as None, so that a row without an id never matches a label.
    row_ids = pd.Series(
        [normalize_cve_value(value) for value in frame[column]], index=frame.index, dtype=object
    )
    unique_ids = list(dict.fromkeys(cve for cve in row_ids if cve is not None))
    memo = _look_up_all(client, chosen, unique_ids, progress=progress, auth_mode=auth_mode)

    parts = [_source_columns(source, memo, row_ids) for source in chosen]
    errors = _row_errors(chosen, memo, row_ids)
    if errors is not None:
        parts.append(errors.to_frame())
    result = pd.concat([frame, *parts], axis=1) if parts else frame.copy()
    attrs = copy.deepcopy(frame.attrs)
    attrs["vulncheck"] = {
        "base_url": client.base_url,
        "endpoint": "enrich",
        "index": None,
        "params": {"sources": [source.name for source in chosen], "cve_column": column},
        "fetched_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "package_version": __version__,
        "enrich": _summary(chosen, memo, column, row_ids, unique_ids),
        "input": attrs.get("vulncheck"),
    }
    result.attrs = attrs
    _warn_failures(chosen, memo)
    return result


# Choosing sources and the CVE column


def _choose_sources(names: Iterable[str]) -> list[EnrichSource]:
    if isinstance(names, str):
        names = names.split(",")
    requested = list(dict.fromkeys(name.strip().lower() for name in names if name.strip()))
    if not requested:
        raise InvalidParameterError(
            f"no sources given: choose from {', '.join(ENRICH_SOURCES)}, for example kev,nvd"
        )
    unknown = [name for name in requested if name not in ENRICH_SOURCES]
    if unknown:
        raise InvalidParameterError(
            f"unknown source {unknown[0]!r}: choose from {', '.join(ENRICH_SOURCES)}"
        )
    return [ENRICH_SOURCES[name] for name in requested]


def normalize_cve_value(value: Any) -> str | None:
    """Return a cell's CVE id trimmed and upper-cased, or None if it is not a CVE id."""
    if not isinstance(value, str):
        return None
    text = value.strip().upper()
    return text if _CVE_ID.fullmatch(text) else None


def _contains_cve_ids(values: pd.Series) -> bool:
    texts = values[values.map(lambda value: isinstance(value, str))]
    if texts.empty:
        return False
    return bool(texts.astype(object).str.fullmatch(_CVE_LIKE).any())


def find_cve_column(frame: pd.DataFrame) -> str:
    """Return the one column that contains CVE ids; raise InvalidParameterError otherwise.

    A column counts when at least one of its cells is a string that is a CVE id once
    trimmed and upper-cased. Cells that contain lists of ids do not count.
    """
    found = [
        column
        for position, column in enumerate(frame.columns)
        if _contains_cve_ids(frame.iloc[:, position])
    ]
    candidates = list(dict.fromkeys(found))
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise InvalidParameterError(
            "no column contains CVE ids such as CVE-2021-44228: name the column with "
            "--cve-column (cve_column=) if its ids are in another form"
        )
    names = ", ".join(repr(column) for column in candidates)
    raise InvalidParameterError(
        f"several columns contain CVE ids ({names}): choose one with --cve-column (cve_column=)"
    )


def _check_cve_column(frame: pd.DataFrame, column: str) -> None:
    if column not in frame.columns:
        columns = [str(name) for name in frame.columns]
        close = difflib.get_close_matches(str(column), columns, n=3, cutoff=0.5)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        raise InvalidParameterError(f"no column {column!r} in the frame{hint}")
    if isinstance(frame[column], pd.DataFrame):
        raise InvalidParameterError(
            f"the frame has several columns named {column!r}: rename them, then enrich"
        )
    if len(frame) and not _contains_cve_ids(frame[column]):
        raise InvalidParameterError(
            f"column {column!r} contains no CVE ids such as CVE-2021-44228: choose another column"
        )


def _check_free_names(frame: pd.DataFrame, chosen: list[EnrichSource]) -> None:
    names = [name for source in chosen for name in source.output_names()] + [ERROR_COLUMN]
    existing = [name for name in names if name in frame.columns]
    if existing:
        listed = ", ".join(existing[:5]) + (" …" if len(existing) > 5 else "")
        raise InvalidParameterError(
            f"the frame already has columns that enrichment adds ({listed}): drop them first, "
            "for example with df.drop(columns=[...])"
        )


# Lookups


def _stops_source(error: VulnCheckError) -> bool:
    """Return whether every other lookup on the same index would fail the same way."""
    if isinstance(error, APIError):
        return error.status in _INDEX_LEVEL_STATUSES
    return isinstance(error, InvalidParameterError | TokenMissingError | InsecureTransportError)


def _look_up_all(
    client: Client,
    chosen: list[EnrichSource],
    cves: list[str],
    *,
    progress: bool,
    auth_mode: Any,
) -> dict[tuple[str, str], _Lookup]:
    """Look up every (source, CVE) pair, a few at a time; return the memo of outcomes."""
    memo: dict[tuple[str, str], _Lookup] = {}
    stopped: dict[str, str] = {}
    lock = threading.Lock()
    keys = [(source, cve) for source in chosen for cve in cves]

    def work(source: EnrichSource, cve: str) -> None:
        with lock:
            reason = stopped.get(source.name)
        if reason is not None:
            memo[(source.name, cve)] = _Lookup(error=reason)
            return
        try:
            memo[(source.name, cve)] = _look_up(client, source, cve, auth_mode)
        except VulnCheckError as exc:
            message = f"{type(exc).__name__}: {exc}"
            logger.info("enrich lookup of %s in %s failed: %s", cve, source.index, exc)
            memo[(source.name, cve)] = _Lookup(error=message)
            if _stops_source(exc):
                with lock:
                    stopped.setdefault(source.name, message)

    bar = _progress_bar(progress, len(keys))
    pool = ThreadPoolExecutor(max_workers=BATCH_WORKERS)
    futures = [pool.submit(work, source, cve) for source, cve in keys]
    try:
        for future in as_completed(futures):
            if future.exception() is not None:
                break
            if bar is not None:
                bar.update(1)
    finally:
        # An unexpected exception (or an interrupt) cancels the lookups not yet started.
        pool.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()
    # Raise the exception of the earliest lookup, so that a dry run shows the first request.
    for future in futures:
        if not future.cancelled() and future.exception() is not None:
            future.result()
    return memo


def _look_up(client: Client, source: EnrichSource, cve: str, auth_mode: Any) -> _Lookup:
    found = client.index(source.index, cve=cve, progress=False, auth_mode=auth_mode)
    if found.empty:
        return _Lookup()
    # NOTE: when several records match, the first record's values are used. A KEV entry can
    # list more than one CVE, so two entries can share one. attrs count such ids.
    first = found.iloc[0]
    values = {column.name: first[column.name] for column in source.columns if column.name in first}
    return _Lookup(values=values, matches=len(found))


def _progress_bar(enabled: bool, total: int) -> Any:
    if not enabled or total < 2:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="enrich lookups", leave=False)


# Joining


def _source_columns(
    source: EnrichSource, memo: dict[tuple[str, str], _Lookup], row_ids: pd.Series
) -> pd.DataFrame:
    """Return the source's columns with one row per row of the frame, indexed like it."""
    found = {
        cve: lookup.values
        for (name, cve), lookup in memo.items()
        if name == source.name and lookup.values is not None
    }
    present = {key for values in found.values() for key in values}
    columns = [column for column in source.columns if not column.optional or column.name in present]
    table = pd.DataFrame.from_dict(found, orient="index") if found else pd.DataFrame()
    table = table.reindex(columns=[column.name for column in columns])
    joined = table.reindex(row_ids.tolist())
    joined.index = row_ids.index
    for column in columns:
        joined[column.name] = _cast(joined[column.name], column.kind)
    return joined.rename(columns=source.output_name)


def _cast(values: pd.Series, kind: str) -> pd.Series:
    """Give a joined column its dtype; a column whose values do not fit keeps them as they are."""
    try:
        if kind == "datetime":
            return pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")
        if kind == "text":
            # An all-missing column would be inferred as float: keep it object.
            return values.astype(object).infer_objects() if values.notna().any() else values
        if kind == "list":
            return values.astype(object)
        return values.astype(kind)
    except (TypeError, ValueError, OverflowError):
        return values


def _row_errors(
    chosen: list[EnrichSource], memo: dict[tuple[str, str], _Lookup], row_ids: pd.Series
) -> pd.Series | None:
    """Return each row's failed lookups as ``source: message`` text, or None if none failed."""
    failed: dict[str, list[str]] = {}
    for source in chosen:
        for (name, cve), lookup in memo.items():
            if name == source.name and lookup.error is not None:
                failed.setdefault(cve, []).append(f"{source.name}: {lookup.error}")
    if not failed:
        return None
    messages = {cve: "; ".join(texts) for cve, texts in failed.items()}
    texts = [messages.get(cve) if cve is not None else None for cve in row_ids]
    return pd.Series(texts, index=row_ids.index, dtype=object, name=ERROR_COLUMN).infer_objects()


def _summary(
    chosen: list[EnrichSource],
    memo: dict[tuple[str, str], _Lookup],
    column: str,
    row_ids: pd.Series,
    unique_ids: list[str],
) -> dict[str, Any]:
    per_source: dict[str, Any] = {}
    for source in chosen:
        outcomes = [lookup for (name, _cve), lookup in memo.items() if name == source.name]
        per_source[source.name] = {
            "index": source.index,
            "lookups": len(outcomes),
            "found": sum(lookup.values is not None for lookup in outcomes),
            "not_found": sum(lookup.values is None and lookup.error is None for lookup in outcomes),
            "failed": sum(lookup.error is not None for lookup in outcomes),
            "multiple_matches": sum(lookup.matches > 1 for lookup in outcomes),
        }
    return {
        "cve_column": column,
        "rows": len(row_ids),
        "unique_ids": len(unique_ids),
        "rows_without_id": int(row_ids.isna().sum()),
        "sources": per_source,
    }


def _warn_failures(chosen: list[EnrichSource], memo: dict[tuple[str, str], _Lookup]) -> None:
    """Issue one EnrichWarning that lists the failed lookups of every source."""
    parts: list[str] = []
    total = 0
    for source in chosen:
        errors = [
            lookup.error
            for (name, _cve), lookup in memo.items()
            if name == source.name and lookup.error is not None
        ]
        if not errors:
            continue
        total += len(errors)
        distinct = list(dict.fromkeys(errors))
        others = f" and {len(distinct) - 1} other messages" if len(distinct) > 1 else ""
        ids = "CVE" if len(errors) == 1 else "CVEs"
        parts.append(
            f"{source.name} ({source.index}) for {len(errors)} {ids}: {distinct[0]}{others}"
        )
    if not parts:
        return
    message = (
        f"{total} of {len(memo)} enrichment lookups failed, so their columns are empty in "
        f"those rows and {ERROR_COLUMN} has the message. " + " | ".join(parts)
    )
    logger.warning("%s", message)
    warnings.warn(message, EnrichWarning, stacklevel=3)
