"""Offline catalog of VulnCheck index names, titles and query parameters.

The catalog ships as ``data/index-catalog.json.gz``, built by ``scripts/build_catalog.py``
from the VulnCheck OpenAPI document and the vulncheck-sdk 0.1.4 wheel, both under the Apache
License 2.0. ``data/README.md`` gives their versions. It is an offline default for completion and
validation: the live ``GET /v3/index`` list and each response's ``_meta.parameters`` can
differ from it, because indexes and filters change over time.
"""

from __future__ import annotations

import difflib
import functools
import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = [
    "COMMON_PARAMETERS",
    "ParameterSpec",
    "index_names",
    "index_parameters",
    "index_title",
    "suggest_index_names",
]

_CATALOG_RESOURCE = "data/index-catalog.json.gz"
_CATALOG_FORMAT = 1

COMMON_PARAMETERS: tuple[str, ...] = (
    "cve",
    "alias",
    "iava",
    "jvndb",
    "ilvn",
    "threat_actor",
    "mitre_id",
    "misp_id",
    "ransomware",
    "botnet",
    "published",
    "date",
    "updatedAtStartDate",
    "updatedAtEndDate",
    "lastModStartDate",
    "lastModEndDate",
    "pubStartDate",
    "pubEndDate",
)
"""Wire names of the filters that most indexes accept, without the paging and sorting ones.

Paging and sorting parameters (``page``, ``limit``, ``cursor``, ``start_cursor``, ``order``,
``sort``) are left out. Some indexes lack a few of these filters or add their own:
``index_parameters`` gives the full list for one index.
"""


@dataclass(frozen=True, slots=True)
class ParameterSpec:
    """Query parameter of an index: wire name, OpenAPI schema type and allowed values."""

    name: str
    type: str
    enum: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class _IndexEntry:
    title: str | None
    parameters: dict[str, ParameterSpec]


@functools.cache
def _load_catalog() -> dict[str, _IndexEntry]:
    raw = resources.files(__package__).joinpath(_CATALOG_RESOURCE).read_bytes()
    catalog: dict[str, Any] = json.loads(gzip.decompress(raw))
    if catalog.get("format") != _CATALOG_FORMAT:
        raise ValueError(
            f"Unsupported index catalog format {catalog.get('format')!r} "
            f"(expected {_CATALOG_FORMAT}). Rebuild it with scripts/build_catalog.py."
        )

    parameter_sets = [
        {spec["name"]: _parameter_spec(spec) for spec in specs}
        for specs in catalog["parameter_sets"]
    ]
    return {
        name: _IndexEntry(title=entry["title"], parameters=parameter_sets[entry["parameter_set"]])
        for name, entry in catalog["indexes"].items()
    }


def _parameter_spec(spec: dict[str, Any]) -> ParameterSpec:
    enum = spec.get("enum")
    return ParameterSpec(
        name=spec["name"],
        type=spec["type"],
        enum=tuple(enum) if enum is not None else None,
    )


@functools.cache
def index_names() -> frozenset[str]:
    """Return the names of all indexes in the offline catalog."""
    return frozenset(_load_catalog())


def index_title(name: str) -> str | None:
    """Return the one-line title of an index, or None for a name the catalog lacks."""
    entry = _load_catalog().get(name)
    return entry.title if entry is not None else None


def index_parameters(name: str) -> dict[str, ParameterSpec]:
    """Return the query parameters of an index by wire name, or ``{}`` for an unknown index.

    The result includes paging and sorting parameters and is a new dict on each call.
    """
    entry = _load_catalog().get(name)
    return dict(entry.parameters) if entry is not None else {}


def suggest_index_names(
    name: str, candidates: Iterable[str] | None = None, limit: int = 3
) -> list[str]:
    """Return up to ``limit`` names closest to ``name``, best first, ignoring case.

    Closeness is difflib's ratio with its default cutoff of 0.6, so a name unlike every
    candidate gives ``[]``. ``candidates`` defaults to the catalog's index names, which may
    differ from the live list for a given token.
    """
    if limit <= 0:
        return []
    pool = sorted(index_names()) if candidates is None else list(candidates)

    # When several candidates share a case-folded form, the first one in the pool is returned.
    by_folded: dict[str, str] = {}
    for candidate in pool:
        by_folded.setdefault(candidate.casefold(), candidate)
    matches = difflib.get_close_matches(name.casefold(), list(by_folded), n=limit)
    return [by_folded[match] for match in matches]
