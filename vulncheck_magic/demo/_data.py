"""The demo API's three indexes, built once per process from the bundled data files.

``cisa-kev`` and ``vulncheck-kev`` are reshaped from the CISA KEV catalog, and ``nist-nvd2``
serves the NVD ``cve`` objects unchanged. ``data/README.md`` gives the sources.
"""

from __future__ import annotations

import gzip
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

Record = dict[str, Any]

CISA_KEV = "cisa-kev"
VULNCHECK_KEV = "vulncheck-kev"
NIST_NVD2 = "nist-nvd2"

# Fields of a vulncheck-kev record whose values the demo invents, because the bundled data
# holds only CISA's catalog. Every record lists them in its `_demo_synthetic` field.
SYNTHETIC_VULNCHECK_KEV_FIELDS = (
    "date_added",
    "vulncheck_xdb",
    "vulncheck_reported_exploitation",
    "reported_exploited_by_vulncheck_canaries",
    "_timestamp",
    "updated_at",
)

CVE_FORMAT = "CVE-YYYY-N{4-7}"
DATE_FORMAT = "YYYY-MM-DD"


@dataclass(frozen=True)
class FilterSpec:
    """A query parameter that filters an index, and the record field it reads.

    ``filtering`` is ``exact`` (``cve``, ``date``) or ``range``. For a range, ``bound`` is
    ``start`` or ``end``, and both bounds include the day given.
    """

    name: str
    field: str
    format: str
    filtering: str
    bound: str = ""

    def describe(self) -> dict[str, str]:
        """Return the ``_meta.parameters`` entry for this filter."""
        return {"name": self.name, "format": self.format, "filtering": self.filtering}


@dataclass
class DemoIndex:
    """One index: its records in bundled order, each record's JSON, and its filters."""

    name: str
    description: str
    records: list[Record]
    default_sort: str
    filters: dict[str, FilterSpec]
    encoded_records: list[bytes] = field(init=False, repr=False)
    fields: frozenset[str] = field(init=False)
    _sorted_positions: dict[tuple[str, str], list[int]] = field(
        init=False, repr=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self.encoded_records = [
            json.dumps(record, ensure_ascii=False).encode("utf-8") for record in self.records
        ]
        self.fields = frozenset(name for record in self.records for name in record)

    def sorted_positions(self, sort: str, order: str) -> list[int]:
        """Return record positions ordered by ``sort`` (``asc`` or ``desc``), cached.

        The sort is stable in both directions, so records with equal values keep their
        bundled order: the default KEV order therefore equals CISA's catalog order.
        Records without a value (missing, null or an empty list) come last in both orders.
        """
        key = (sort, order)
        positions = self._sorted_positions.get(key)
        if positions is None:
            positions = _sort_positions(self.records, sort, descending=order == "desc")
            self._sorted_positions[key] = positions
        return positions


def _sort_positions(records: list[Record], sort: str, *, descending: bool) -> list[int]:
    with_value: list[tuple[tuple[int, Any], int]] = []
    without_value: list[int] = []
    for position, record in enumerate(records):
        sort_key = _sort_key(record.get(sort))
        if sort_key is None:
            without_value.append(position)
        else:
            with_value.append((sort_key, position))

    with_value.sort(key=lambda item: item[0], reverse=descending)
    return [position for _, position in with_value] + without_value


def _sort_key(value: Any) -> tuple[int, Any] | None:
    """Map a JSON value to a comparable key: numbers before strings before objects.

    NOTE: a list sorts by its first item. OpenSearch, which backs the VulnCheck API,
    sorts a multi-valued field by its minimum (asc) or maximum (desc) by default, so
    the real API may order records by a list field such as ``cwes`` differently.
    """
    if value is None:
        return None
    if isinstance(value, bool | int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, list):
        return _sort_key(value[0]) if value else None
    return (2, json.dumps(value, sort_keys=True))


def _read_bundled_json(filename: str) -> Any:
    resource = resources.files(__package__).joinpath("data", filename)
    with resource.open("rb") as compressed, gzip.open(compressed, "rt", encoding="utf-8") as text:
        return json.load(text)


def _rfc3339_day(day: str) -> str:
    """Turn a ``YYYY-MM-DD`` date into VulnCheck's ``YYYY-MM-DDT00:00:00Z``."""
    return f"{day}T00:00:00Z"


def _cisa_kev_record(entry: Record) -> Record:
    return {
        "cve": [entry["cveID"]],
        "cwes": list(entry.get("cwes") or []),
        "date_added": _rfc3339_day(entry["dateAdded"]),
        "dueDate": _rfc3339_day(entry["dueDate"]),
        "knownRansomwareCampaignUse": entry["knownRansomwareCampaignUse"],
        "notes": entry["notes"],
        "product": entry["product"],
        "requiredAction": entry["requiredAction"],
        "shortDescription": entry["shortDescription"],
        "vendorProject": entry["vendorProject"],
        "vulnerabilityName": entry["vulnerabilityName"],
    }


def _vulncheck_kev_record(entry: Record, released: datetime) -> Record:
    cisa_date_added = _rfc3339_day(entry["dateAdded"])
    return {
        "vendorProject": entry["vendorProject"],
        "product": entry["product"],
        "shortDescription": entry["shortDescription"],
        "vulnerabilityName": entry["vulnerabilityName"],
        "required_action": entry["requiredAction"],
        "knownRansomwareCampaignUse": entry["knownRansomwareCampaignUse"],
        "cve": [entry["cveID"]],
        "cwes": list(entry.get("cwes") or []),
        "vulncheck_xdb": [],
        "vulncheck_reported_exploitation": [],
        "reported_exploited_by_vulncheck_canaries": False,
        "dueDate": _rfc3339_day(entry["dueDate"]),
        "cisa_date_added": cisa_date_added,
        "date_added": cisa_date_added,
        "_timestamp": released.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "updated_at": released.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "_demo_synthetic": list(SYNTHETIC_VULNCHECK_KEV_FIELDS),
    }


def _parse_release_time(value: str) -> datetime:
    """Parse the catalog's ``dateReleased`` (``2025-08-25T17:04:19.9796Z``) as UTC."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _cve_filter(field_name: str) -> FilterSpec:
    return FilterSpec("cve", field_name, CVE_FORMAT, "exact")


def _date_filters(**fields: str | None) -> dict[str, FilterSpec]:
    """Build the date filters. Each keyword names a filter group and the field it reads.

    ``date`` gives the exact-day filter. ``pub``, ``lastMod`` and ``updatedAt`` give the
    ``…StartDate`` and ``…EndDate`` range pairs. A group set to None is not honoured.
    """
    specs: dict[str, FilterSpec] = {}
    for group, field_name in fields.items():
        if field_name is None:
            continue
        if group == "date":
            specs["date"] = FilterSpec("date", field_name, DATE_FORMAT, "exact")
            continue
        for bound in ("start", "end"):
            name = f"{group}{bound.capitalize()}Date"
            specs[name] = FilterSpec(name, field_name, DATE_FORMAT, "range", bound)
    return specs


def build_indexes() -> dict[str, DemoIndex]:
    """Read the bundled files and build the three indexes."""
    catalog = _read_bundled_json("cisa-kev.json.gz")
    nvd_records: list[Record] = _read_bundled_json("nvd2.json.gz")
    entries: list[Record] = catalog["vulnerabilities"]
    released = _parse_release_time(catalog["dateReleased"])

    cisa_kev = DemoIndex(
        name=CISA_KEV,
        description="CISA KEV (Known Exploited Vulnerabilities)",
        records=[_cisa_kev_record(entry) for entry in entries],
        default_sort="date_added",
        # NOTE: cisa-kev records carry no modification time, so lastMod* and
        # updatedAt* are accepted but ignored there, with a warning in _meta.
        filters={
            "cve": _cve_filter("cve"),
            **_date_filters(date="date_added", pub="date_added"),
        },
    )
    vulncheck_kev = DemoIndex(
        name=VULNCHECK_KEV,
        description=(
            "VulnCheck KEV (demo: real CISA KEV records, VulnCheck-only fields synthetic)"
        ),
        records=[_vulncheck_kev_record(entry, released) for entry in entries],
        default_sort="date_added",
        filters={
            "cve": _cve_filter("cve"),
            **_date_filters(
                date="date_added", pub="date_added", lastMod="_timestamp", updatedAt="updated_at"
            ),
        },
    )
    nist_nvd2 = DemoIndex(
        name=NIST_NVD2,
        description=f"NIST NVD 2.0 CVE records (demo: {len(nvd_records)} real records)",
        records=nvd_records,
        default_sort="published",
        filters={
            "cve": _cve_filter("id"),
            **_date_filters(
                date="published",
                pub="published",
                lastMod="lastModified",
                updatedAt="lastModified",
            ),
        },
    )
    return {index.name: index for index in (cisa_kev, nist_nvd2, vulncheck_kev)}


_indexes: dict[str, DemoIndex] | None = None
_indexes_lock = threading.Lock()


def load_indexes() -> dict[str, DemoIndex]:
    """Return the three indexes by name, building them on the first call in this process."""
    global _indexes
    with _indexes_lock:
        if _indexes is None:
            _indexes = build_indexes()
        return _indexes
