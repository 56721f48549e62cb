"""Build the offline index catalog, vulncheck_magic/data/index-catalog.json.gz.

Inputs:

- the VulnCheck OpenAPI 3.1 document ``openapi.json`` from the public repository
  vulncheck-oss/sdk-python (Apache License 2.0), commit
  de57225afd0094e360b1eded792b7926781bd5e8;
- a markdown table of the 509 ``GET /v3/index/{name}`` operations of the vulncheck-sdk 0.1.4
  wheel on PyPI (Apache License 2.0), with the columns index, SDK method, record model,
  title and extra filters.

For each index the catalog stores a one-line title and its query parameters (wire name,
schema type, enum). The wheel is newer than the OpenAPI document, so for an index in the
table the table decides which parameters it accepts, and the OpenAPI document supplies the
types. Indexes that only the OpenAPI document lists keep its parameters as they are.

Usage::

    python scripts/build_catalog.py OPENAPI_JSON INDEX_LIST_MD [--output PATH]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CATALOG_FORMAT = 1
DEFAULT_OUTPUT = (
    Path(__file__).resolve().parent.parent / "vulncheck_magic/data/index-catalog.json.gz"
)

SOURCE = {
    "openapi": {
        "description": "VulnCheck API OpenAPI 3.1 document (openapi.json)",
        "repository": "vulncheck-oss/sdk-python",
        "commit": "de57225afd0094e360b1eded792b7926781bd5e8",
        "license": "Apache-2.0",
    },
    "index_list": {
        "description": "GET /v3/index/{name} operations of the IndicesApi class",
        "package": "vulncheck-sdk",
        "version": "0.1.4",
        "distribution": "wheel on PyPI",
        "license": "Apache-2.0",
    },
    "rule": (
        "The vulncheck-sdk 0.1.4 wheel is newer than the OpenAPI document: for an index it "
        "lists, it decides the accepted parameters and the OpenAPI document gives their types."
    ),
}

# Query parameters that nearly every index operation accepts, in the OpenAPI document's order.
# Index-specific filters are written relative to this set.
COMMON_QUERY_PARAMETERS = (
    "page", "limit", "cursor", "start_cursor", "order", "sort",
    "cve", "alias", "iava", "jvndb", "ilvn", "threat_actor", "mitre_id", "misp_id",
    "ransomware", "botnet", "published",
    "date", "updatedAtStartDate", "updatedAtEndDate", "lastModStartDate", "lastModEndDate",
    "pubStartDate", "pubEndDate",
)  # fmt: skip
# Index-specific filters go before this parameter, which starts the date filters. The wheel
# orders its arguments the same way.
FIRST_DATE_FILTER = "date"

# Filters that only the 0.1.4 wheel has and that it types StrictBool. Every other filter
# missing from the OpenAPI document is a string in the wheel.
BOOLEAN_FILTERS = frozenset({"in_kev", "in_vckev", "contains_cve", "confirmed"})

INDEX_PATH_PREFIX = "/v3/index/"
INDEX_DESCRIPTION_RE = re.compile(r"\*\*Index Description:\*\*[ \t]*(.+)")
TABLE_ROW_RE = re.compile(r"^\|\s*`(?P<name>[^`]+)`(?:\s*\(new\))?\s*\|")
LACKS_RE = re.compile(r"\(lacks:\s*(?P<names>[^)]*)\)")


@dataclass
class IndexEntry:
    """Catalog facts about one index while they are gathered from both sources."""

    title: str | None = None
    parameters: list[dict[str, Any]] = field(default_factory=list)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("openapi", type=Path, help="path of the VulnCheck openapi.json")
    parser.add_argument("index_list", type=Path, help="path of the markdown index table")
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="gzipped JSON file to write"
    )
    args = parser.parse_args(argv)

    openapi = json.loads(args.openapi.read_text(encoding="utf-8"))
    openapi_entries = read_openapi_indexes(openapi)
    table_rows = read_index_table(args.index_list.read_text(encoding="utf-8"))
    entries = merge_sources(openapi_entries, table_rows)
    catalog = build_catalog(entries)

    payload = json.dumps(catalog, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 keeps the gzip header stable, so an unchanged catalog rebuilds byte for byte.
    args.output.write_bytes(gzip.compress(payload, compresslevel=9, mtime=0))

    print(
        f"wrote {args.output}: {len(entries)} indexes "
        f"({len(openapi_entries)} in the OpenAPI document, {len(table_rows)} in the table), "
        f"{len(catalog['parameter_sets'])} parameter sets, "
        f"{len(payload)} bytes of JSON, {args.output.stat().st_size} bytes gzipped",
        file=sys.stderr,
    )
    return 0


def read_openapi_indexes(openapi: dict[str, Any]) -> dict[str, IndexEntry]:
    """Read the title and query parameters of every ``GET /v3/index/{name}`` operation."""
    entries: dict[str, IndexEntry] = {}
    for path, operations in openapi["paths"].items():
        name = path.removeprefix(INDEX_PATH_PREFIX)
        if name == path or "/" in name or "get" not in operations:
            continue
        operation = operations["get"]
        match = INDEX_DESCRIPTION_RE.search(operation.get("description", ""))
        entry = IndexEntry(title=match.group(1).strip() if match else None)
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "query":
                entry.parameters.append(parameter_spec(parameter["name"], parameter["schema"]))
        entries[name] = entry
    return entries


def parameter_spec(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name, "type": schema.get("type", "string")}
    if "enum" in schema:
        spec["enum"] = [str(value) for value in schema["enum"]]
    return spec


@dataclass
class TableRow:
    """One index row of the markdown table."""

    name: str
    title: str
    extra_filters: list[str]
    lacking_filters: list[str]


def read_index_table(text: str) -> dict[str, TableRow]:
    """Parse the markdown table rows ``| `name` | method | model | title | extra filters |``."""
    rows: dict[str, TableRow] = {}
    for line in text.splitlines():
        match = TABLE_ROW_RE.match(line)
        if match is None:
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 5:
            raise ValueError(f"Invalid table row: expected 5 cells, found {len(cells)}: {line!r}")
        filters_cell = cells[4]
        lacking: list[str] = []
        lacks_match = LACKS_RE.search(filters_cell)
        if lacks_match is not None:
            lacking = split_names(lacks_match.group("names"))
            filters_cell = filters_cell[: lacks_match.start()]
        rows[match.group("name")] = TableRow(
            name=match.group("name"),
            title=cells[3],
            extra_filters=split_names(filters_cell),
            lacking_filters=lacking,
        )
    return rows


def split_names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def merge_sources(
    openapi_entries: dict[str, IndexEntry], table_rows: dict[str, TableRow]
) -> dict[str, IndexEntry]:
    """Combine both sources by the rule in ``SOURCE["rule"]`` and report where they differ."""
    check_common_parameters(openapi_entries)
    types_by_name = known_parameter_types(openapi_entries)

    merged: dict[str, IndexEntry] = {}
    for name in sorted(openapi_entries.keys() | table_rows.keys()):
        openapi_entry = openapi_entries.get(name)
        row = table_rows.get(name)
        # The table's titles are shortened in places (7zip), so the OpenAPI line comes first.
        title = openapi_entry.title if openapi_entry and openapi_entry.title else None
        if title is None and row is not None:
            title = row.title or None

        if row is None:
            assert openapi_entry is not None
            merged[name] = IndexEntry(title=title, parameters=openapi_entry.parameters)
            continue

        names = table_parameter_names(row)
        own_specs = {
            spec["name"]: spec for spec in (openapi_entry.parameters if openapi_entry else [])
        }
        parameters = [
            own_specs.get(parameter) or types_by_name.get(parameter) or fallback_spec(parameter)
            for parameter in names
        ]
        merged[name] = IndexEntry(title=title, parameters=parameters)
        if openapi_entry is not None:
            report_difference(name, [spec["name"] for spec in openapi_entry.parameters], names)
    return merged


def check_common_parameters(openapi_entries: dict[str, IndexEntry]) -> None:
    counts = Counter(
        tuple(spec["name"] for spec in entry.parameters) for entry in openapi_entries.values()
    )
    most_common, _ = counts.most_common(1)[0]
    if most_common != COMMON_QUERY_PARAMETERS:
        raise ValueError(
            "The OpenAPI document's most common parameter list no longer matches "
            f"COMMON_QUERY_PARAMETERS: {most_common}. Update COMMON_QUERY_PARAMETERS."
        )


def known_parameter_types(openapi_entries: dict[str, IndexEntry]) -> dict[str, dict[str, Any]]:
    """Map each parameter name to the first spec the OpenAPI document gives for it."""
    specs: dict[str, dict[str, Any]] = {}
    for entry in openapi_entries.values():
        for spec in entry.parameters:
            specs.setdefault(spec["name"], spec)
    return specs


def fallback_spec(name: str) -> dict[str, Any]:
    return {"name": name, "type": "boolean" if name in BOOLEAN_FILTERS else "string"}


def table_parameter_names(row: TableRow) -> list[str]:
    lacking = set(row.lacking_filters)
    unknown = lacking - set(COMMON_QUERY_PARAMETERS)
    if unknown:
        raise ValueError(
            f"Invalid table row for {row.name}: 'lacks' lists filters outside the common set: "
            f"{sorted(unknown)}"
        )

    names = [name for name in COMMON_QUERY_PARAMETERS if name not in lacking]
    extras = [name for name in row.extra_filters if name not in names]
    position = names.index(FIRST_DATE_FILTER)
    return names[:position] + extras + names[position:]


def report_difference(name: str, openapi_names: list[str], table_names: list[str]) -> None:
    added = [parameter for parameter in table_names if parameter not in openapi_names]
    dropped = [parameter for parameter in openapi_names if parameter not in table_names]
    if added or dropped:
        print(
            f"{name}: the 0.1.4 wheel adds {added or 'nothing'} and drops {dropped or 'nothing'}"
            " compared with the OpenAPI document",
            file=sys.stderr,
        )


def build_catalog(entries: dict[str, IndexEntry]) -> dict[str, Any]:
    """Lay out the catalog JSON, storing each distinct parameter list once."""
    parameter_sets: list[list[dict[str, Any]]] = []
    set_numbers: dict[str, int] = {}
    indexes: dict[str, dict[str, Any]] = {}
    for name, entry in entries.items():
        key = json.dumps(entry.parameters, sort_keys=True)
        if key not in set_numbers:
            set_numbers[key] = len(parameter_sets)
            parameter_sets.append(entry.parameters)
        indexes[name] = {"title": entry.title, "parameter_set": set_numbers[key]}
    return {
        "format": CATALOG_FORMAT,
        "source": SOURCE,
        "parameter_sets": parameter_sets,
        "indexes": indexes,
    }


if __name__ == "__main__":
    raise SystemExit(main())
