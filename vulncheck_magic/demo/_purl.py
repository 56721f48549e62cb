"""Package URLs (PURLs), their vulnerabilities in the demo data, ``/v3/purl`` and ``/v3/purls``.

The demo covers two kinds of package. For ``pkg:hex/coherence@0.1.2`` it returns a public
VulnCheck response captured in 2024. A few Maven packages are mapped to the CPE of their
product, and their CVEs are derived from the bundled NVD configurations, the version
ranges included. Every other PURL gets an empty result, as the API returns for a package
without vulnerabilities, and ``_demo_note`` states that such a result carries no information.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import unquote

from vulncheck_magic.demo._cpe import ANY, CpeName, cve_sort_key, matching_entries
from vulncheck_magic.demo._http import (
    HandlerContext,
    Response,
    error_response,
    json_response,
    utc_timestamp,
)

PURL_EXAMPLE = "pkg:hex/coherence@0.1.2"
SAMPLE_FILE = "purl.json"

# (type, namespace, name) of a Maven artifact -> (vendor, product) of the NVD CPE that
# covers it. Each artifact is the component that the CVEs of that product affect.
PACKAGE_CPES: dict[tuple[str, str, str], tuple[str, str]] = {
    ("maven", "org.apache.logging.log4j", "log4j-core"): ("apache", "log4j"),
    ("maven", "org.apache.struts", "struts2-core"): ("apache", "struts"),
    ("maven", "org.springframework", "spring-beans"): ("vmware", "spring_framework"),
    ("maven", "org.springframework.cloud", "spring-cloud-function-context"): (
        "vmware",
        "spring_cloud_function",
    ),
    ("maven", "org.apache.activemq", "activemq-client"): ("apache", "activemq"),
}

# The demo has no research data, so every finding of /v3/purls carries these values and
# names the field in `_demo_synthetic`.
SYNTHETIC_RESEARCH_ATTRIBUTES = {
    "abandoned": False,
    "eol": False,
    "is_malicious": False,
    "malicious_source": "",
    "repo_hijackable": False,
    "squatted_package": "",
}
UNKNOWN_PACKAGE_NOTE = (
    "demo data: this package is not covered by the demo, so the empty result does not "
    "mean that it has no vulnerabilities"
)
SAMPLE_NOTE = "public VulnCheck response for this PURL, captured in 2024"
BATCH_NOTE = (
    "demo data: only pkg:hex/coherence@0.1.2 and the Maven packages "
    + ", ".join(f"{namespace}/{name}" for _, namespace, name in PACKAGE_CPES)
    + " are covered; other PURLs are answered as if they had no vulnerabilities"
)

_TYPE_PATTERN = re.compile(r"[a-z.+-][a-z0-9.+-]*")
_QUALIFIER_KEY_PATTERN = re.compile(r"[a-z.\-_][a-z0-9.\-_]*")


class PurlError(ValueError):
    """An invalid package URL: the server returns HTTP 400 with this message."""


@dataclass(frozen=True)
class PackageUrl:
    """The components of a package URL, percent-decoded.

    ``qualifiers`` is sorted by key. Empty components are empty strings.
    """

    type: str
    namespace: str
    name: str
    version: str
    qualifiers: tuple[tuple[str, str], ...]
    subpath: str

    def struct(self) -> dict[str, Any]:
        """Return VulnCheck's ``purl_struct``, with null ``qualifiers`` when there are none."""
        qualifiers = [{"key": key, "value": value} for key, value in self.qualifiers]
        return {
            "type": self.type,
            "namespace": self.namespace,
            "name": self.name,
            "version": self.version,
            "qualifiers": qualifiers or None,
            "subpath": self.subpath,
        }


@dataclass(frozen=True)
class PackageVulnerabilities:
    """The vulnerabilities that the demo returns for one package, and their source."""

    cves: list[str]
    vulnerabilities: list[dict[str, str]]
    note: str


def parse_purl(text: str) -> PackageUrl:
    """Parse ``pkg:type/namespace/name@version?qualifiers#subpath`` or raise PurlError.

    It follows the parsing steps of the package-url specification, without the
    normalisations that some types add, such as lower-casing PyPI names.
    """
    if not text.startswith("pkg:"):
        raise PurlError(
            f"invalid purl {text!r}: a package URL starts with 'pkg:', such as {PURL_EXAMPLE}"
        )
    remainder = text[len("pkg:") :].lstrip("/")

    remainder, _, subpath_text = remainder.partition("#")
    subpath = "/".join(
        unquote(segment)
        for segment in subpath_text.strip("/").split("/")
        if segment not in ("", ".", "..")
    )

    remainder, _, qualifier_text = remainder.partition("?")
    qualifiers = _parse_qualifiers(text, qualifier_text)

    type_text, _, path = remainder.partition("/")
    package_type = type_text.lower()
    if not _TYPE_PATTERN.fullmatch(package_type):
        raise PurlError(
            f"invalid purl {text!r}: the type {type_text!r} must not be empty or start with "
            f"a digit, and may contain only letters, digits, '.', '+' and '-', as in "
            f"{PURL_EXAMPLE}"
        )

    path, at_sign, version_text = path.strip("/").rpartition("@")
    if not at_sign:
        path, version_text = version_text, ""
    namespace_text, _, name_text = path.rpartition("/")
    name = unquote(name_text)
    if not name:
        raise PurlError(f"invalid purl {text!r}: the package name is missing, as in {PURL_EXAMPLE}")
    namespace = "/".join(unquote(segment) for segment in namespace_text.split("/") if segment)
    return PackageUrl(package_type, namespace, name, unquote(version_text), qualifiers, subpath)


def _parse_qualifiers(text: str, qualifier_text: str) -> tuple[tuple[str, str], ...]:
    qualifiers: dict[str, str] = {}
    for pair in qualifier_text.split("&"):
        if not pair:
            continue
        key, equals, value = pair.partition("=")
        key = key.lower()
        if not equals or not _QUALIFIER_KEY_PATTERN.fullmatch(key):
            raise PurlError(
                f"invalid purl {text!r}: the qualifier {pair!r} must be key=value, with a key "
                "of letters, digits, '.', '-' and '_'"
            )
        if value:
            qualifiers[key] = unquote(value)
    return tuple(sorted(qualifiers.items()))


@functools.cache
def _sample_results() -> dict[tuple[str, str, str, str], PackageVulnerabilities]:
    resource = resources.files(__package__).joinpath("data", "samples", SAMPLE_FILE)
    sample = json.loads(resource.read_text(encoding="utf-8"))
    struct = sample["_meta"]["purl_struct"]
    key = (struct["type"], struct["namespace"], struct["name"], struct["version"])
    data = sample["data"]
    return {key: PackageVulnerabilities(data["cves"], data["vulnerabilities"], SAMPLE_NOTE)}


def find_vulnerabilities(purl: PackageUrl) -> PackageVulnerabilities:
    """Look up ``purl`` in the sample, then in the Maven mapping, else return empty lists."""
    sample = _sample_results().get((purl.type, purl.namespace, purl.name, purl.version))
    if sample is not None:
        return sample
    product = PACKAGE_CPES.get((purl.type, purl.namespace, purl.name))
    if product is None:
        return PackageVulnerabilities([], [], UNKNOWN_PACKAGE_NOTE)
    return _derive_from_nvd(purl, *product)


def _derive_from_nvd(purl: PackageUrl, vendor: str, product: str) -> PackageVulnerabilities:
    """Derive the CVEs of a mapped package from the NVD entries of its CPE.

    A fixed version is the end of the affected range (``versionEndExcluding``), and empty
    where NVD gives none or the PURL has no version.

    NOTE: the PURL version becomes the CPE version unchanged, so a version that NVD
    splits across version and update (log4j 2.0-beta9 is ``2.0:beta9``) matches no
    exact-version entry.
    """
    query = CpeName.from_fields(part="a", vendor=vendor, product=product, version=purl.version)
    fixed_versions: dict[str, str] = {}
    for entry in matching_entries(query, vulnerable_only=True):
        fixed = ""
        if purl.version and entry.version_end_excluding:
            fixed = entry.version_end_excluding
        if not fixed_versions.get(entry.cve):
            fixed_versions[entry.cve] = fixed
    cves = sorted(fixed_versions, key=cve_sort_key)
    vulnerabilities = [{"detection": cve, "fixed_version": fixed_versions[cve]} for cve in cves]
    version = purl.version or ANY
    note = (
        f"derived by the demo from the bundled NVD configurations for "
        f"cpe:2.3:a:{vendor}:{product}:{version}; fixed_version is the end of the affected "
        "range (versionEndExcluding), empty where NVD gives none"
    )
    return PackageVulnerabilities(cves, vulnerabilities, note)


def serve_purl(context: HandlerContext) -> Response:
    """``GET /v3/purl?purl=…``: the CVEs and fixed versions of one package."""
    text = context.request.first_values().get("purl", "")
    if not text.strip():
        return error_response(
            400, f"missing purl parameter: give a package URL such as {PURL_EXAMPLE}"
        )
    try:
        purl = parse_purl(text.strip())
    except PurlError as error:
        return error_response(400, str(error))

    answer = find_vulnerabilities(purl)
    meta = {
        "purl_struct": purl.struct(),
        "timestamp": utc_timestamp(),
        "total_documents": len(answer.vulnerabilities),
        "_demo_note": answer.note,
    }
    data = {"cves": answer.cves, "vulnerabilities": answer.vulnerabilities}
    return json_response(200, {"_benchmark": context.benchmark(), "_meta": meta, "data": data})


def serve_purls(context: HandlerContext) -> Response:
    """``POST /v3/purls`` with a JSON array of PURLs: one finding per vulnerable package."""
    body = context.request.body
    if body is None:
        return error_response(
            413,
            "request body not read: send at most 1 MiB, with a Content-Length header",
        )
    invalid_body = (
        "invalid request body: expected a JSON array of package URL strings, "
        f'such as ["{PURL_EXAMPLE}"]'
    )
    try:
        submitted = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return error_response(400, invalid_body)
    if not isinstance(submitted, list) or not all(isinstance(item, str) for item in submitted):
        return error_response(400, invalid_body)

    findings: list[dict[str, Any]] = []
    unprocessed: list[dict[str, str]] = []
    for text in submitted:
        try:
            purl = parse_purl(text.strip())
        except PurlError:
            unprocessed.append({"purl": text, "reason": "unparseable"})
            continue
        answer = find_vulnerabilities(purl)
        if not answer.vulnerabilities:
            continue
        findings.append(
            {
                "purl": text,
                "purl_struct": purl.struct(),
                "cves": answer.cves,
                "vulnerabilities": answer.vulnerabilities,
                "research_attributes": dict(SYNTHETIC_RESEARCH_ATTRIBUTES),
                "_demo_note": answer.note,
                "_demo_synthetic": ["research_attributes"],
            }
        )

    meta = {
        "timestamp": utc_timestamp(),
        "total_documents": len(findings),
        "total_submitted": len(submitted),
        "unprocessed": unprocessed,
        "_demo_note": BATCH_NOTE,
    }
    return json_response(200, {"_benchmark": context.benchmark(), "_meta": meta, "data": findings})
