"""Tests for the offline index catalog shipped in vulncheck_magic/data."""

from __future__ import annotations

import dataclasses
import gzip
import json
from importlib import resources

import pytest

from vulncheck_magic import _catalog
from vulncheck_magic._catalog import (
    COMMON_PARAMETERS,
    ParameterSpec,
    index_names,
    index_parameters,
    index_title,
    suggest_index_names,
)

# 509 indexes of the vulncheck-sdk 0.1.4 wheel plus two that only the OpenAPI document lists.
INDEX_COUNT = 511
PAGING_PARAMETERS = ("page", "limit", "cursor", "start_cursor", "order", "sort")


def read_catalog_json() -> dict:
    raw = resources.files("vulncheck_magic").joinpath("data/index-catalog.json.gz").read_bytes()
    return json.loads(gzip.decompress(raw))


# --- file -----------------------------------------------------------------------------


def test_catalog_file_small() -> None:
    size = len(
        resources.files("vulncheck_magic").joinpath("data/index-catalog.json.gz").read_bytes()
    )

    assert size < 60_000


def test_catalog_records_sources() -> None:
    source = read_catalog_json()["source"]

    assert source["openapi"]["repository"] == "vulncheck-oss/sdk-python"
    assert source["openapi"]["commit"] == "de57225afd0094e360b1eded792b7926781bd5e8"
    assert source["openapi"]["license"] == "Apache-2.0"
    assert source["index_list"]["package"] == "vulncheck-sdk"
    assert source["index_list"]["version"] == "0.1.4"
    assert source["index_list"]["license"] == "Apache-2.0"


# --- names and titles -----------------------------------------------------------------


def test_index_count() -> None:
    assert len(index_names()) == INDEX_COUNT


def test_index_names_frozen() -> None:
    assert isinstance(index_names(), frozenset)


@pytest.mark.parametrize(
    "name",
    [
        "vulncheck-kev",
        "exploits",
        "nist-nvd2",
        "ipintel-3d",
        "7zip",
        "cves_identity_mappings",
        "vulncheck-attacker-infrastructure",
        "nvd-cpe-dictionary",
        "target-intel-cve-summary",
    ],
)
def test_known_index_present(name: str) -> None:
    assert name in index_names()
    assert index_title(name)


def test_titles_of_key_indexes() -> None:
    assert index_title("vulncheck-kev") == "VulnCheck KEV"
    assert index_title("exploits") == "VulnCheck Exploit Intelligence Data"
    assert index_title("7zip") == "7Zip Security Advisories"


def test_every_title_one_line() -> None:
    for name in index_names():
        title = index_title(name)
        assert title, name
        assert "\n" not in title, name
        assert len(title) < 120, name


def test_unknown_index_title_none() -> None:
    assert index_title("no-such-index") is None


# --- parameters -----------------------------------------------------------------------


def test_unknown_index_parameters_empty() -> None:
    assert index_parameters("no-such-index") == {}


def test_exploits_has_maturity_filter() -> None:
    parameters = index_parameters("exploits")

    assert parameters["max_exploit_maturity"] == ParameterSpec("max_exploit_maturity", "string")
    assert parameters["validation_level"].type == "string"
    assert parameters["in_kev"].type == "boolean"
    assert parameters["in_vckev"].type == "boolean"


def test_ipintel_has_cidr() -> None:
    parameters = index_parameters("ipintel-3d")

    assert parameters["cidr"].type == "string"
    for name in ["asn", "country", "country_code", "id", "kind", "hostname", "matches"]:
        assert name in parameters, name
    for name in ["jvndb", "ilvn", "published"]:
        assert name not in parameters, name


def test_target_intel_follows_newer_sdk() -> None:
    parameters = index_parameters("target-intel")

    assert parameters["contains_cve"].type == "boolean"
    assert parameters["confirmed"].type == "boolean"
    assert "transport" in parameters
    assert "domain" in parameters
    assert "id" not in parameters


def test_cves_identity_mappings_has_xref_id() -> None:
    assert "xref_id" in index_parameters("cves_identity_mappings")


def test_paging_parameter_types() -> None:
    parameters = index_parameters("vulncheck-kev")

    assert parameters["page"] == ParameterSpec("page", "integer")
    assert parameters["limit"] == ParameterSpec("limit", "integer")
    assert parameters["order"].enum == ("asc", "desc")
    assert parameters["start_cursor"].enum == ("true",)
    assert parameters["cursor"].enum is None


def test_standard_index_has_exactly_common_set() -> None:
    parameters = index_parameters("vulncheck-kev")

    assert tuple(parameters) == PAGING_PARAMETERS + COMMON_PARAMETERS


def test_parameter_keys_match_spec_names() -> None:
    for index in ["exploits", "ipintel-3d", "vulncheck-canaries", "nvd-cpe-dictionary"]:
        for wire_name, spec in index_parameters(index).items():
            assert spec.name == wire_name, (index, wire_name)


def test_index_parameters_returns_copy() -> None:
    first = index_parameters("exploits")
    first.clear()

    assert "cve" in index_parameters("exploits")


def test_parameter_spec_frozen() -> None:
    spec = index_parameters("exploits")["cve"]

    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "other"  # type: ignore[misc]


def test_common_parameters_order() -> None:
    assert COMMON_PARAMETERS[:2] == ("cve", "alias")
    assert COMMON_PARAMETERS[-2:] == ("pubStartDate", "pubEndDate")
    assert len(COMMON_PARAMETERS) == 18
    assert not set(COMMON_PARAMETERS) & set(PAGING_PARAMETERS)


def test_most_indexes_accept_common_set() -> None:
    expected = PAGING_PARAMETERS + COMMON_PARAMETERS
    standard = [name for name in index_names() if tuple(index_parameters(name)) == expected]

    # 496 of the wheel's 509 indexes, and both indexes that only the OpenAPI document lists.
    assert len(standard) == 498


# --- suggestions ----------------------------------------------------------------------


def test_suggest_vulncheck_kev_typo() -> None:
    assert "vulncheck-kev" in suggest_index_names("vulncheck-kv")


def test_suggest_ignores_case() -> None:
    assert suggest_index_names("VULNCHECK-KEV")[0] == "vulncheck-kev"


def test_suggest_respects_limit() -> None:
    assert len(suggest_index_names("ipintel", limit=2)) == 2
    assert suggest_index_names("ipintel", limit=0) == []


def test_suggest_nothing_close() -> None:
    assert suggest_index_names("qqqqqqqqqqqqqqqqqqqq") == []


def test_suggest_from_given_candidates() -> None:
    suggestions = suggest_index_names("Initial-Acess", ["initial-access", "Exploits", "epss"])

    assert suggestions == ["initial-access"]


def test_suggest_returns_original_case() -> None:
    assert suggest_index_names("exploit", ["Exploits", "epss"]) == ["Exploits"]


def test_catalog_loaded_once() -> None:
    _catalog._load_catalog.cache_clear()
    index_names.cache_clear()
    index_title("exploits")
    index_parameters("exploits")
    suggest_index_names("exploit")

    assert _catalog._load_catalog.cache_info().misses == 1
