"""Tidy columns for research: one rule per known index, applied to the flattened frame.

A rule adds derived columns (``cve``, ``cvss_score``, ``ransomware``, ``exploit_count`` …)
at the front and keeps every original column it did not replace after them, in their
original order. A *replaced* column is one whose content a derived column under another
name now carries (``id`` → ``cve``, ``metrics.cvssMetricV31`` → ``cvss_v31_*``). It is
removed unless ``raw_columns=True``. A column that a rule only converts (dates to
datetimes, flags to booleans, a one-item CVE list to a string) keeps its name.
``df.attrs["vulncheck"]["tidy"]`` records the rule, the derived, replaced and converted columns.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
from pandas.api.types import is_datetime64_any_dtype

from ._logging import logger

__all__ = ["CVSS_VERSIONS", "EXPLOIT_FLAGS", "TIDY_RULES", "tidy_frame"]

_UTC_NANOSECONDS = "datetime64[ns, UTC]"
_CWE_ID = re.compile(r"CWE-\d+")

CVSS_VERSIONS: tuple[tuple[str, str, str], ...] = (
    ("v40", "metrics.cvssMetricV40", "4.0"),
    ("v31", "metrics.cvssMetricV31", "3.1"),
    ("v30", "metrics.cvssMetricV30", "3.0"),
    ("v2", "metrics.cvssMetricV2", "2.0"),
)
"""(column infix, source column, version) of each CVSS version, newest first."""

EXPLOIT_FLAGS = (
    "public_exploit_found",
    "commercial_exploit_found",
    "weaponized_exploit_found",
    "reported_exploited",
    "reported_exploited_by_threat_actors",
    "reported_exploited_by_ransomware",
    "reported_exploited_by_botnets",
    "reported_exploited_by_honeypot_service",
    "reported_exploited_by_vulncheck_canaries",
    "inKEV",
    "inVCKEV",
)
"""Boolean fields of an ``exploits`` record; other ``reported_exploited_by_*`` fields join them."""

_EXPLOIT_COUNTS = {
    "counts.exploits": "exploit_count",
    "counts.threat_actors": "threat_actor_count",
    "counts.botnets": "botnet_count",
    "counts.ransomware_families": "ransomware_family_count",
}
_KEV_DATES = ("date_added", "dueDate", "cisa_date_added", "_timestamp", "updated_at")


class _TidyBuilder:
    """Collects a rule's derived columns and assembles the tidy frame."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.derived: dict[str, pd.Series] = {}
        self.replaced: list[str] = []
        self.converted: dict[str, pd.Series] = {}

    def has(self, column: str) -> bool:
        return column in self.frame.columns

    def add(self, name: str, values: pd.Series, *, sources: Iterable[str] = ()) -> None:
        """Add a derived column; each source column with another name counts as replaced."""
        sources = [source for source in sources if self.has(source)]
        if self.has(name) and name not in sources:
            # An original column already has this name and is not the source: keep it and
            # derive nothing, so that no original value disappears.
            logger.debug("tidy: column %r exists already, not derived", name)
            return
        self.derived[name] = values
        self.replaced += [source for source in sources if source != name]

    def convert(self, name: str, values: pd.Series) -> None:
        """Replace an original column's values in place, keeping its name and position."""
        if values.dtype != self.frame[name].dtype:
            self.converted[name] = values

    def assemble(self, rule: str, raw_columns: bool) -> pd.DataFrame:
        columns: dict[str, pd.Series] = dict(self.derived)
        removed = set() if raw_columns else set(self.replaced)
        for column in self.frame.columns:
            if column in columns or column in removed:
                continue
            columns[column] = self.converted.get(column, self.frame[column])
        if columns:
            # concat keeps a duplicated row index as it is, where the dict constructor would
            # try to align the columns on it.
            parts = [values.rename(name) for name, values in columns.items()]
            tidy = pd.concat(parts, axis=1)
        else:
            tidy = self.frame.copy()
        attrs = copy.deepcopy(self.frame.attrs)
        provenance = dict(attrs.get("vulncheck") or {})
        provenance["tidy"] = {
            "rule": rule,
            "columns": list(self.derived),
            "replaced": list(dict.fromkeys(self.replaced)),
            "converted": [name for name in self.converted if name not in self.derived],
            "raw_columns": raw_columns,
        }
        attrs["vulncheck"] = provenance
        tidy.attrs = attrs
        return tidy


def tidy_frame(frame: pd.DataFrame, index: str, *, raw_columns: bool = False) -> pd.DataFrame:
    """Return a research-ready copy of an index's frame, by the rule for ``index``.

    Rules exist for ``nist-nvd2``, ``vulncheck-nvd2``, ``cisa-kev``, ``vulncheck-kev`` and
    ``exploits`` (see :data:`TIDY_RULES`). Any other index returns ``frame`` itself,
    unchanged. ``raw_columns=True`` keeps the replaced columns next to the derived ones.
    The input frame is never modified.
    """
    rule = TIDY_RULES.get(index)
    if rule is None:
        return frame
    name, build = rule
    builder = _TidyBuilder(frame)
    build(builder, index)
    return builder.assemble(name, raw_columns)


# Rules


def _nvd2_rule(tidy: _TidyBuilder, index: str) -> None:
    _add_nvd_fields(tidy)
    _add_cvss(tidy)
    if index == "vulncheck-nvd2":
        for field in ("epss_score", "epss_percentile"):
            source = f"metrics.epss.{field}"
            if tidy.has(source):
                tidy.add(field, _as_float(tidy.frame[source]), sources=[source])
    _add_nvd_lists(tidy)


def _add_nvd_fields(tidy: _TidyBuilder) -> None:
    frame = tidy.frame
    if tidy.has("id"):
        tidy.add("cve", _as_text(frame["id"]), sources=["id"])
    if tidy.has("descriptions"):
        english = frame["descriptions"].map(_english_description)
        tidy.add("description", _as_text(english), sources=["descriptions"])
    if tidy.has("published"):
        tidy.add("published", as_datetime(frame["published"]), sources=["published"])
    if tidy.has("lastModified"):
        tidy.add("last_modified", as_datetime(frame["lastModified"]), sources=["lastModified"])
    if tidy.has("vulnStatus"):
        tidy.add("status", _as_text(frame["vulnStatus"]), sources=["vulnStatus"])


def _add_nvd_lists(tidy: _TidyBuilder) -> None:
    """Add ``cwes``, ``cisa_kev_added`` and the CPE and reference counts."""
    frame = tidy.frame
    is_nvd = tidy.has("id")
    if is_nvd or tidy.has("weaknesses"):
        cwes = _column_or_missing(frame, "weaknesses").map(_cwe_ids)
        tidy.add("cwes", cwes, sources=["weaknesses"])
    if tidy.has("cisaExploitAdd"):
        added = as_datetime(frame["cisaExploitAdd"])
        tidy.add("cisa_kev_added", added, sources=["cisaExploitAdd"])

    # NVD omits an empty array, so a record without configurations has no CPE matches.
    if is_nvd or tidy.has("configurations"):
        counts = _column_or_missing(frame, "configurations").map(_cpe_match_count)
        tidy.add("cpe_count", counts.astype("Int64"))
    if is_nvd or tidy.has("references"):
        counts = _column_or_missing(frame, "references").map(_list_length_or_zero)
        tidy.add("reference_count", counts.astype("Int64"))


def _add_cvss(tidy: _TidyBuilder) -> None:
    """Add each present version's primary score, and the newest version's as ``cvss_*``."""
    frame = tidy.frame
    present = [version for version in CVSS_VERSIONS if tidy.has(version[1])]
    if not present and not tidy.has("id"):
        return
    per_version: dict[str, tuple[pd.Series, pd.Series, pd.Series]] = {}
    for infix, source, _label in present:
        primary = [_primary_metric(items) for items in frame[source]]
        scores = [_cvss_field(item, "baseScore") for item in primary]
        severities = [_severity(item, infix) for item in primary]
        vectors = [_cvss_field(item, "vectorString") for item in primary]
        per_version[infix] = (
            _as_float(pd.Series(scores, index=frame.index, dtype=object)),
            _as_text(pd.Series(severities, index=frame.index, dtype=object)),
            _as_text(pd.Series(vectors, index=frame.index, dtype=object)),
        )

    best_score = pd.Series(float("nan"), index=frame.index, dtype="float64")
    best_severity = pd.Series(None, index=frame.index, dtype="object")
    best_version = pd.Series(None, index=frame.index, dtype="object")
    # Oldest first, so that each newer version present overwrites the older ones.
    for infix, _source, label in reversed(present):
        scores, severities, _vectors = per_version[infix]
        has_score = scores.notna()
        best_score = best_score.mask(has_score, scores)
        best_severity = best_severity.mask(has_score, severities.astype(object))
        best_version = best_version.mask(has_score, label)
    tidy.add("cvss_score", best_score)
    tidy.add("cvss_severity", _as_text(best_severity))
    tidy.add("cvss_version", _as_text(best_version))
    for infix, source, _label in present:
        scores, severities, vectors = per_version[infix]
        tidy.add(f"cvss_{infix}_base_score", scores, sources=[source])
        tidy.add(f"cvss_{infix}_base_severity", severities, sources=[source])
        tidy.add(f"cvss_{infix}_vector", vectors, sources=[source])


def _kev_rule(tidy: _TidyBuilder, index: str) -> None:
    frame = tidy.frame
    if tidy.has("cve"):
        tidy.add("cve", _single_cve(frame["cve"]), sources=["cve"])
    if tidy.has("knownRansomwareCampaignUse"):
        tidy.add("ransomware", _ransomware_flag(frame["knownRansomwareCampaignUse"]))
    if index == "vulncheck-kev":
        for source, name in (
            ("vulncheck_xdb", "xdb_count"),
            ("vulncheck_reported_exploitation", "reported_exploitation_count"),
        ):
            if tidy.has(source):
                tidy.add(name, frame[source].map(_list_length).astype("Int64"))
    for column in _KEV_DATES:
        if tidy.has(column):
            tidy.convert(column, as_datetime(frame[column]))


def _exploits_rule(tidy: _TidyBuilder, index: str) -> None:
    frame = tidy.frame
    if tidy.has("id"):
        tidy.add("cve", _as_text(frame["id"]), sources=["id"])
    extra_flags = [
        column
        for column in frame.columns
        if str(column).startswith("reported_exploited_by_") and column not in EXPLOIT_FLAGS
    ]
    for flag in (*EXPLOIT_FLAGS, *extra_flags):
        if tidy.has(flag):
            tidy.add(flag, _as_boolean(frame[flag]), sources=[flag])
    if tidy.has("max_exploit_maturity"):
        tidy.add(
            "max_exploit_maturity",
            _as_text(frame["max_exploit_maturity"]),
            sources=["max_exploit_maturity"],
        )
    for field in ("epss_score", "epss_percentile"):
        source = f"epss.{field}"
        if tidy.has(source):
            tidy.add(field, _as_float(frame[source]), sources=[source])
    for source, name in _EXPLOIT_COUNTS.items():
        if tidy.has(source):
            tidy.add(name, _as_integer(frame[source]), sources=[source])
    for column in frame.columns:
        if str(column).startswith("timeline."):
            tidy.add(column, as_datetime(frame[column]), sources=[column])


TIDY_RULES: dict[str, tuple[str, Callable[[_TidyBuilder, str], None]]] = {
    "nist-nvd2": ("nvd2", _nvd2_rule),
    "vulncheck-nvd2": ("nvd2", _nvd2_rule),
    "cisa-kev": ("kev", _kev_rule),
    "vulncheck-kev": ("kev", _kev_rule),
    "exploits": ("exploits", _exploits_rule),
}
"""Index name → (rule name, rule function)."""


# Value helpers


def _column_or_missing(frame: pd.DataFrame, column: str) -> pd.Series:
    if column in frame.columns:
        return frame[column]
    return pd.Series(None, index=frame.index, dtype="object")


def _english_description(descriptions: Any) -> Any:
    if not isinstance(descriptions, list):
        return None
    for item in descriptions:
        if not isinstance(item, dict):
            continue
        lang = str(item.get("lang") or "").lower()
        if lang == "en" or lang.startswith("en-"):
            return item.get("value")
    return None


def _primary_metric(items: Any) -> dict[str, Any] | None:
    """Return the item with ``type == "Primary"``, else the first item (None without items)."""
    if not isinstance(items, list):
        return None
    metrics = [item for item in items if isinstance(item, dict)]
    for item in metrics:
        if item.get("type") == "Primary":
            return item
    return metrics[0] if metrics else None


def _cvss_field(item: dict[str, Any] | None, field: str) -> Any:
    if item is None or not isinstance(item.get("cvssData"), dict):
        return None
    return item["cvssData"].get(field)


def _severity(item: dict[str, Any] | None, infix: str) -> Any:
    if item is None:
        return None
    if infix == "v2":
        # CVSS v2 items keep baseSeverity next to cvssData, not inside it.
        return item.get("baseSeverity") or _cvss_field(item, "baseSeverity")
    return _cvss_field(item, "baseSeverity")


def _cwe_ids(weaknesses: Any) -> list[str]:
    ids: list[str] = []
    if not isinstance(weaknesses, list):
        return ids
    for weakness in weaknesses:
        descriptions = weakness.get("description") if isinstance(weakness, dict) else None
        for item in descriptions if isinstance(descriptions, list) else []:
            value = item.get("value") if isinstance(item, dict) else None
            if isinstance(value, str) and _CWE_ID.fullmatch(value.strip()):
                ids.append(value.strip())
    return list(dict.fromkeys(ids))


def _cpe_match_count(configurations: Any) -> int:
    count = 0
    for configuration in configurations if isinstance(configurations, list) else []:
        nodes = configuration.get("nodes") if isinstance(configuration, dict) else None
        for node in nodes if isinstance(nodes, list) else []:
            matches = node.get("cpeMatch") if isinstance(node, dict) else None
            count += len(matches) if isinstance(matches, list) else 0
    return count


def _single_cve(values: pd.Series) -> pd.Series:
    """Return each one-item CVE list as its string; other lists stay lists."""

    def unwrap(value: Any) -> Any:
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
            return value[0]
        return value

    unwrapped = values.map(unwrap)
    present = unwrapped.dropna()
    if present.map(lambda value: isinstance(value, str)).all():
        return _as_text(unwrapped)
    return unwrapped.astype(object)


def _ransomware_flag(values: pd.Series) -> pd.Series:
    """``Known`` → True, ``Unknown`` → False, anything else (or missing) → NA."""

    def flag(value: Any) -> Any:
        if not isinstance(value, str):
            return pd.NA
        text = value.strip().casefold()
        if text == "known":
            return True
        if text == "unknown":
            return False
        return pd.NA

    return values.map(flag).astype("boolean")


def _list_length(value: Any) -> Any:
    return len(value) if isinstance(value, list) else pd.NA


def _list_length_or_zero(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0


def as_datetime(values: pd.Series) -> pd.Series:
    """Return ISO-8601 strings as ``datetime64[ns, UTC]``; values that do not parse stay as is.

    Timestamps without a zone are taken as UTC, and ``""`` counts as a missing date, as in
    :func:`vulncheck_magic._frames.records_to_frame`.
    """
    if is_datetime64_any_dtype(values.dtype):
        if getattr(values.dt, "tz", None) is None:
            return values.dt.tz_localize("UTC").astype(_UTC_NANOSECONDS)
        return values.dt.tz_convert("UTC").astype(_UTC_NANOSECONDS)
    if values.isna().all():
        return values
    cleaned = values.map(lambda value: None if value == "" else value)
    if not cleaned.dropna().map(lambda value: isinstance(value, str)).all():
        return values
    try:
        return pd.to_datetime(cleaned, utc=True, format="ISO8601").astype(_UTC_NANOSECONDS)
    except (ValueError, OverflowError):
        return values


def _as_text(values: pd.Series) -> pd.Series:
    """Return a column of strings with the dtype pandas infers for strings.

    That is ``str`` on pandas 3 and ``object`` on pandas 2. Any other column is unchanged.
    """
    present = values.dropna()
    if present.map(lambda value: isinstance(value, str)).all():
        return values.astype(object).infer_objects()
    return values


def _as_float(values: pd.Series) -> pd.Series:
    converted = pd.to_numeric(values, errors="coerce")
    if converted.notna().sum() != values.notna().sum():
        return values
    return converted.astype("float64")


def _as_integer(values: pd.Series) -> pd.Series:
    converted = pd.to_numeric(values, errors="coerce")
    whole = converted.dropna()
    if converted.notna().sum() != values.notna().sum() or not (whole == whole.round()).all():
        return values
    return converted.astype("Int64")


def _as_boolean(values: pd.Series) -> pd.Series:
    present = values.dropna()
    if not present.map(lambda value: isinstance(value, bool)).all():
        return values
    return values.astype("boolean")
