"""CPE names, their match against the NVD configurations, and ``/v3/cpe`` and ``/v3/search/cpe``.

Every match comes from ``configurations[].nodes[].cpeMatch[]`` of the bundled ``nist-nvd2``
records. A query attribute matches a criteria attribute when both are equal or either is
``*`` (ANY). A criteria whose version is ``*`` but which carries NVD's version range
(``versionStartIncluding`` and the like) matches a query version only inside that range.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from vulncheck_magic.demo._data import NIST_NVD2, load_indexes
from vulncheck_magic.demo._http import (
    HandlerContext,
    Response,
    error_response,
    json_response,
    parse_boolean,
    parse_count,
    utc_timestamp,
)

CPE_ATTRIBUTES = (
    "part",
    "vendor",
    "product",
    "version",
    "update",
    "edition",
    "language",
    "sw_edition",
    "target_sw",
    "target_hw",
    "other",
)
ANY = "*"
NOT_APPLICABLE = "-"
PARTS = ("a", "o", "h")
CPE23_PREFIX = "cpe:2.3:"
CPE22_PREFIX = "cpe:/"
CPE_EXAMPLE = "cpe:2.3:a:apache:log4j:2.14.1"

_VERSION = CPE_ATTRIBUTES.index("version")
# The CPE 2.2 URI binding packs these five attributes into its edition component.
_PACKED_EDITION = ("edition", "sw_edition", "target_sw", "target_hw", "other")
# Go's regexp.QuoteMeta escapes these characters. VulnCheck's `cpe_struct` values
# are escaped this way: version 8.0.6001 is returned as 8\.0\.6001.
_REGEX_METACHARACTERS = set("\\.+*?()|[]{}^$")

SEARCH_DEFAULT_LIMIT = 100
SEARCH_MAX_LIMIT = 1000
COVERAGE_NOTE = (
    "demo data: CVEs from the configurations of the bundled NVD records only; "
    "an empty result does not mean that the product is unaffected"
)


class CpeError(ValueError):
    """An invalid CPE name: the server returns HTTP 400 with this message."""


@dataclass(frozen=True)
class CpeName:
    """The eleven attribute values of a CPE name, unescaped and in lower case."""

    values: tuple[str, ...]

    @classmethod
    def from_fields(cls, **fields: str) -> CpeName:
        """Build a name from attribute keywords. A missing or empty attribute is ANY."""
        return cls(tuple(fields.get(name) or ANY for name in CPE_ATTRIBUTES))

    def struct(self) -> dict[str, str]:
        """Return VulnCheck's ``cpe_struct``: each value regex-escaped, ANY as ``*``."""
        return {
            name: value if value == ANY else _quote_meta(value)
            for name, value in zip(CPE_ATTRIBUTES, self.values, strict=True)
        }


@dataclass(frozen=True)
class CpeMatch:
    """One ``cpeMatch`` entry of an NVD record, with the CVE it belongs to."""

    cve: str
    criteria: str
    name: CpeName
    vulnerable: bool
    version_start_including: str | None = None
    version_start_excluding: str | None = None
    version_end_including: str | None = None
    version_end_excluding: str | None = None

    @property
    def has_version_range(self) -> bool:
        return any(
            bound is not None
            for bound in (
                self.version_start_including,
                self.version_start_excluding,
                self.version_end_including,
                self.version_end_excluding,
            )
        )

    def contains_version(self, version: str) -> bool:
        """Return whether ``version`` lies inside this entry's version range."""
        key = version_key(version)
        if self.version_start_including and key < version_key(self.version_start_including):
            return False
        if self.version_start_excluding and key <= version_key(self.version_start_excluding):
            return False
        if self.version_end_including and key > version_key(self.version_end_including):
            return False
        return not (self.version_end_excluding and key >= version_key(self.version_end_excluding))

    def matches(self, query: CpeName) -> bool:
        """Return whether the query name matches this entry's criteria and version range."""
        for position, (wanted, listed) in enumerate(
            zip(query.values, self.name.values, strict=True)
        ):
            if position == _VERSION and listed == ANY and self.has_version_range:
                if wanted != ANY and (
                    wanted == NOT_APPLICABLE or not self.contains_version(wanted)
                ):
                    return False
                continue
            if wanted != listed and ANY not in (wanted, listed):
                return False
        return True


def version_key(version: str) -> tuple[tuple[float, int | str], ...]:
    """Return a sort key for a version: numbers compare as numbers, letters sort before them.

    ``2.0-beta9`` sorts before ``2.0``, and ``2.0`` before ``2.0.1``.

    NOTE: this is a dotted-number comparison, not any ecosystem's exact rules (Maven,
    PEP 440, SemVer), so unusual version strings may compare differently there.
    """
    parts: list[tuple[float, int | str]] = [
        (1, int(token)) if token.isdigit() else (0, token)
        for token in re.findall(r"\d+|[a-z]+", version.lower())
    ]
    # The end marker ranks above a letter run and below a number, so a release sorts
    # after its pre-releases and before its patch releases.
    parts.append((0.5, ""))
    return tuple(parts)


def parse_cpe(text: str) -> CpeName:
    """Parse a CPE 2.3 formatted string or a CPE 2.2 URI, or raise CpeError.

    Trailing attributes may be left out (``cpe:2.3:a:apache:log4j:2.14.1``), and then
    they are ANY.
    """
    lowered = text.strip().lower()
    if lowered.startswith(CPE23_PREFIX):
        values = _parse_formatted_string(text.strip(), lowered[len(CPE23_PREFIX) :])
    elif lowered.startswith(CPE22_PREFIX):
        values = _parse_uri(text.strip(), lowered[len(CPE22_PREFIX) :])
    else:
        raise CpeError(
            f"invalid cpe {text!r}: expected a CPE 2.3 formatted string such as "
            f"{CPE_EXAMPLE} or a CPE 2.2 URI such as cpe:/a:apache:log4j:2.14.1"
        )
    if values[0] not in (*PARTS, ANY):
        raise CpeError(
            f"invalid cpe {text!r}: the part must be a (application), o (operating system) "
            f"or h (hardware), not {values[0]!r}"
        )
    return CpeName(tuple(values))


def _parse_formatted_string(text: str, body: str) -> list[str]:
    components: list[str] = []
    current: list[str] = []
    characters = iter(body)
    for character in characters:
        if character == "\\":
            # A backslash quotes the next character, such as an escaped colon.
            current.append(next(characters, ""))
        elif character == ":":
            components.append("".join(current))
            current = []
        else:
            current.append(character)
    components.append("".join(current))

    if len(components) > len(CPE_ATTRIBUTES):
        raise CpeError(
            f"invalid cpe {text!r}: a CPE 2.3 name has at most {len(CPE_ATTRIBUTES)} "
            f"attributes after 'cpe:2.3:', not {len(components)}"
        )
    if any(component == "" for component in components):
        raise CpeError(
            f"invalid cpe {text!r}: an attribute is empty, so write * where any value matches"
        )
    return components + [ANY] * (len(CPE_ATTRIBUTES) - len(components))


def _parse_uri(text: str, body: str) -> list[str]:
    components = body.split(":")
    if len(components) > 7:
        raise CpeError(
            f"invalid cpe {text!r}: a CPE 2.2 URI has at most 7 components after 'cpe:/', "
            f"not {len(components)}"
        )
    components += [""] * (7 - len(components))
    fields = dict(zip(CPE_ATTRIBUTES[:7], components, strict=True))

    edition = fields.pop("edition")
    if edition.startswith("~"):
        packed = edition[1:].split("~")
        if len(packed) != len(_PACKED_EDITION):
            raise CpeError(
                f"invalid cpe {text!r}: a packed edition needs five values, "
                "~edition~sw_edition~target_sw~target_hw~other"
            )
        fields.update(zip(_PACKED_EDITION, packed, strict=True))
    else:
        fields["edition"] = edition
    # In a URI, an empty component means ANY.
    return [unquote(fields.get(name, "")) or ANY for name in CPE_ATTRIBUTES]


def _quote_meta(value: str) -> str:
    return "".join(f"\\{char}" if char in _REGEX_METACHARACTERS else char for char in value)


@functools.cache
def nvd_cpe_matches() -> tuple[CpeMatch, ...]:
    """Return every ``cpeMatch`` entry of the bundled NVD records, built once per process."""
    return tuple(_iterate_cpe_matches(load_indexes()[NIST_NVD2].records))


def _iterate_cpe_matches(records: list[dict[str, Any]]) -> Iterator[CpeMatch]:
    for record in records:
        for configuration in record.get("configurations") or []:
            for node in configuration.get("nodes") or []:
                for entry in node.get("cpeMatch") or []:
                    criteria = entry["criteria"]
                    yield CpeMatch(
                        cve=record["id"],
                        criteria=criteria,
                        name=parse_cpe(criteria),
                        vulnerable=bool(entry.get("vulnerable")),
                        version_start_including=entry.get("versionStartIncluding"),
                        version_start_excluding=entry.get("versionStartExcluding"),
                        version_end_including=entry.get("versionEndIncluding"),
                        version_end_excluding=entry.get("versionEndExcluding"),
                    )


def matching_entries(query: CpeName, *, vulnerable_only: bool) -> list[CpeMatch]:
    """Return the NVD ``cpeMatch`` entries that match ``query``, in bundled order."""
    return [
        entry
        for entry in nvd_cpe_matches()
        if (entry.vulnerable or not vulnerable_only) and entry.matches(query)
    ]


def cve_sort_key(cve: str) -> tuple[int, int]:
    """Order CVE ids by year, then by number."""
    _, year, number = cve.split("-")
    return int(year), int(number)


def serve_cpe(context: HandlerContext) -> Response:
    """``GET /v3/cpe?cpe=…[&isVulnerable=true]``: the CVE ids whose configurations match."""
    params = context.request.first_values()
    text = params.get("cpe", "")
    if not text.strip():
        return error_response(400, f"missing cpe parameter: give a CPE such as {CPE_EXAMPLE}")
    try:
        query = parse_cpe(text)
        vulnerable_only = parse_boolean(params, "isVulnerable")
    except ValueError as error:
        return error_response(400, str(error))

    entries = matching_entries(query, vulnerable_only=vulnerable_only)
    cves = sorted({entry.cve for entry in entries}, key=cve_sort_key)
    meta = {
        "cpe": text,
        "cpe_struct": query.struct(),
        "timestamp": utc_timestamp(),
        "total_documents": len(cves),
        "_demo_note": COVERAGE_NOTE,
    }
    return json_response(200, {"_benchmark": context.benchmark(), "_meta": meta, "data": cves})


def serve_cpe_search(context: HandlerContext) -> Response:
    """``GET /v3/search/cpe``: the distinct NVD criteria that match the given fields."""
    params = context.request.first_values()
    fields = {
        name: params[name].strip().lower()
        for name in ("part", "vendor", "product", "version")
        if params.get(name, "").strip()
    }
    if fields.get("part", ANY) not in (*PARTS, ANY):
        return error_response(
            400,
            f"invalid part {params['part']!r}: expected a (application), o (operating system) "
            "or h (hardware)",
        )
    try:
        vulnerable_only = parse_boolean(params, "isVulnerable")
        limit = parse_count(params, "limit", default=SEARCH_DEFAULT_LIMIT, maximum=SEARCH_MAX_LIMIT)
        page = parse_count(params, "page", default=1, maximum=10**9)
    except ValueError as error:
        return error_response(400, str(error))

    query = CpeName.from_fields(**fields)
    cves_by_criteria: dict[str, set[str]] = {}
    for entry in matching_entries(query, vulnerable_only=vulnerable_only):
        cves_by_criteria.setdefault(entry.criteria, set()).add(entry.cve)
    items = [
        {
            "cpe": criteria,
            "cpe_struct": parse_cpe(criteria).struct(),
            "cves": sorted(cves, key=cve_sort_key),
        }
        for criteria, cves in sorted(cves_by_criteria.items())
    ]

    offset = (page - 1) * limit
    selected = items[offset : offset + limit]
    total = len(items)
    meta = {
        "timestamp": utc_timestamp(),
        "limit": limit,
        "total_documents": total,
        "page": page,
        "total_pages": math.ceil(total / limit),
        "first_item": offset + 1 if selected else 0,
        "last_item": offset + len(selected) if selected else 0,
        "matches": [{"field": name, "value": value} for name, value in fields.items()],
        "_demo_note": COVERAGE_NOTE,
    }
    return json_response(200, {"_benchmark": context.benchmark(), "_meta": meta, "data": selected})
