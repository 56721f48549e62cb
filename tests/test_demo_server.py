"""The embedded demo API, driven over HTTP on 127.0.0.1 as a client would use it."""

from __future__ import annotations

import gzip
import http.client
import json
import logging
import re
import select
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import requests

from vulncheck_magic.demo import DEMO_TOKEN, DemoServer, RecordedRequest, main
from vulncheck_magic.demo._data import load_indexes

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
INDEX_NAMES = ["cisa-kev", "nist-nvd2", "vulncheck-kev"]
LOG4SHELL = "CVE-2021-44228"
SYNTHETIC_FIELDS = [
    "date_added",
    "vulncheck_xdb",
    "vulncheck_reported_exploitation",
    "reported_exploited_by_vulncheck_canaries",
    "_timestamp",
    "updated_at",
]


def read_bundled(filename: str) -> Any:
    """Read one of the package's data files directly, bypassing the demo's loader."""
    resource = resources.files("vulncheck_magic.demo").joinpath("data", filename)
    return json.loads(gzip.decompress(resource.read_bytes()))


CATALOG = read_bundled("cisa-kev.json.gz")
CATALOG_IDS = [entry["cveID"] for entry in CATALOG["vulnerabilities"]]
NVD_RECORDS = {record["id"]: record for record in read_bundled("nvd2.json.gz")}


@pytest.fixture(scope="module")
def server() -> Iterator[DemoServer]:
    with DemoServer() as demo:
        yield demo


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as client:
        client.headers["Authorization"] = f"Bearer {DEMO_TOKEN}"
        yield client


def fetch(
    session: requests.Session, server: DemoServer, path: str, status: int = 200, **params: Any
) -> dict[str, Any]:
    """GET ``path`` with the demo token, check the status code and return the JSON body."""
    response = session.get(server.url + path, params=params, timeout=10)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body: dict[str, Any] = response.json()
    return body


def record_ids(body: dict[str, Any]) -> list[str]:
    """Return each record's CVE id: the ``cve`` list's item for KEV, ``id`` for NVD."""
    return [record["cve"][0] if "cve" in record else record["id"] for record in body["data"]]


def catalog_ids_where(predicate: Any) -> list[str]:
    return [entry["cveID"] for entry in CATALOG["vulnerabilities"] if predicate(entry)]


def error_message(body: dict[str, Any]) -> str:
    assert body["error"] is True
    assert len(body["errors"]) == 1
    message: str = body["errors"][0]
    return message


# Index list and record shapes


def test_index_list_names_and_hrefs(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/index")

    assert set(body) == {"_benchmark", "data"}
    assert isinstance(body["_benchmark"], float)
    assert [entry["name"] for entry in body["data"]] == INDEX_NAMES
    for entry in body["data"]:
        assert entry["href"] == f"{server.url}/v3/index/{entry['name']}"
        assert entry["description"]
    descriptions = {entry["name"]: entry["description"] for entry in body["data"]}
    assert descriptions["cisa-kev"] == "CISA KEV (Known Exploited Vulnerabilities)"
    assert "synthetic" in descriptions["vulncheck-kev"]
    assert "44 real records" in descriptions["nist-nvd2"]


@pytest.mark.parametrize("index", INDEX_NAMES)
def test_log4shell_in_every_index(
    session: requests.Session, server: DemoServer, index: str
) -> None:
    body = fetch(session, server, f"/v3/index/{index}", cve=LOG4SHELL)

    assert record_ids(body) == [LOG4SHELL]
    assert body["_meta"]["total_documents"] == 1
    assert body["_meta"]["matches"] == [{"field": "cve", "value": LOG4SHELL}]


def test_cisa_kev_record_shape(session: requests.Session, server: DemoServer) -> None:
    record = fetch(session, server, "/v3/index/cisa-kev", cve=LOG4SHELL)["data"][0]
    entry = CATALOG["vulnerabilities"][CATALOG_IDS.index(LOG4SHELL)]

    assert list(record) == [
        "cve",
        "cwes",
        "date_added",
        "dueDate",
        "knownRansomwareCampaignUse",
        "notes",
        "product",
        "requiredAction",
        "shortDescription",
        "vendorProject",
        "vulnerabilityName",
    ]
    assert record["cve"] == [LOG4SHELL]
    assert record["date_added"] == "2021-12-10T00:00:00Z"
    assert record["dueDate"] == "2021-12-24T00:00:00Z"
    assert record["cwes"] == entry["cwes"]
    for name in ("requiredAction", "notes", "product", "vendorProject", "shortDescription"):
        assert record[name] == entry[name]


def test_vulncheck_kev_record_shape(session: requests.Session, server: DemoServer) -> None:
    record = fetch(session, server, "/v3/index/vulncheck-kev", cve=LOG4SHELL)["data"][0]
    entry = CATALOG["vulnerabilities"][CATALOG_IDS.index(LOG4SHELL)]

    assert set(record) == {
        "vendorProject",
        "product",
        "shortDescription",
        "vulnerabilityName",
        "required_action",
        "knownRansomwareCampaignUse",
        "cve",
        "cwes",
        "vulncheck_xdb",
        "vulncheck_reported_exploitation",
        "reported_exploited_by_vulncheck_canaries",
        "dueDate",
        "cisa_date_added",
        "date_added",
        "_timestamp",
        "updated_at",
        "_demo_synthetic",
    }
    assert record["_demo_synthetic"] == SYNTHETIC_FIELDS
    assert record["required_action"] == entry["requiredAction"]
    assert record["cve"] == [LOG4SHELL]
    assert record["cisa_date_added"] == "2021-12-10T00:00:00Z"
    assert record["date_added"] == record["cisa_date_added"]
    assert record["vulncheck_xdb"] == []
    assert record["vulncheck_reported_exploitation"] == []
    assert record["reported_exploited_by_vulncheck_canaries"] is False
    assert record["_timestamp"] == "2025-08-25T17:04:19.979600Z"
    assert record["updated_at"] == "2025-08-25T17:04:19Z"
    assert CATALOG["dateReleased"] == "2025-08-25T17:04:19.9796Z"


def test_vulncheck_kev_every_record_labelled(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/index/vulncheck-kev", limit=1000)

    assert len(body["data"]) == 1000
    for record in body["data"]:
        assert record["_demo_synthetic"] == SYNTHETIC_FIELDS


def test_nist_nvd2_records_unchanged(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/index/nist-nvd2")

    assert body["_meta"]["total_documents"] == len(NVD_RECORDS) == 44
    for record in body["data"]:
        assert record == NVD_RECORDS[record["id"]]


def test_dates_are_rfc3339_utc(session: requests.Session, server: DemoServer) -> None:
    pattern = re.compile(r"\d{4}-\d{2}-\d{2}T00:00:00Z")
    for index in ("cisa-kev", "vulncheck-kev"):
        for record in fetch(session, server, f"/v3/index/{index}", limit=1000)["data"]:
            assert pattern.fullmatch(record["date_added"]), record
            assert pattern.fullmatch(record["dueDate"]), record


# Authentication


@pytest.mark.parametrize("mode", ["header", "bare header", "query", "cookie"])
def test_auth_mode_accepted_and_recorded(server: DemoServer, mode: str) -> None:
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    cookies: dict[str, str] = {}
    if mode == "header":
        headers["Authorization"] = f"Bearer {DEMO_TOKEN}"
    elif mode == "bare header":
        headers["Authorization"] = DEMO_TOKEN
    elif mode == "query":
        params["token"] = DEMO_TOKEN
    else:
        cookies["token"] = DEMO_TOKEN

    response = requests.get(
        f"{server.url}/v3/index/cisa-kev",
        headers=headers,
        params={**params, "limit": "1"},
        cookies=cookies,
        timeout=10,
    )

    assert response.status_code == 200, response.text
    recorded = server.requests[-1]
    assert recorded.path == "/v3/index/cisa-kev"
    assert recorded.query.get("limit") == ["1"]
    assert (recorded.headers.get("Authorization") is not None) == mode.endswith("header")
    assert ("token" in recorded.query) == (mode == "query")
    assert ("token" in recorded.cookies) == (mode == "cookie")
    if mode == "header":
        assert recorded.headers["Authorization"] == f"Bearer {DEMO_TOKEN}"
    if mode == "query":
        assert recorded.query["token"] == [DEMO_TOKEN]
    if mode == "cookie":
        assert recorded.cookies["token"] == DEMO_TOKEN


def test_missing_token_401(server: DemoServer) -> None:
    response = requests.get(f"{server.url}/v3/index/cisa-kev", timeout=10)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "missing or invalid API token" in error_message(response.json())


@pytest.mark.parametrize("mode", ["header", "query", "cookie"])
def test_wrong_token_401_not_echoed(server: DemoServer, mode: str) -> None:
    wrong_token = "vulncheck_wrong0123456789abcdef0123456789"
    response = requests.get(
        f"{server.url}/v3/index",
        headers={"Authorization": f"Bearer {wrong_token}"} if mode == "header" else {},
        params={"token": wrong_token} if mode == "query" else {},
        cookies={"token": wrong_token} if mode == "cookie" else {},
        timeout=10,
    )

    assert response.status_code == 401
    assert "missing or invalid API token" in error_message(response.json())
    assert wrong_token not in response.text
    assert not any(wrong_token in value for value in response.headers.values())


def test_custom_tokens_replace_demo_token() -> None:
    with DemoServer(tokens=["first-token", "second-token"]) as custom:
        for token, expected in [("first-token", 200), ("second-token", 200), (DEMO_TOKEN, 401)]:
            response = requests.get(
                f"{custom.url}/v3/index", headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
            assert response.status_code == expected, token


def test_empty_token_rejected() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        DemoServer(tokens=[""])


def test_single_string_tokens_rejected() -> None:
    with pytest.raises(TypeError, match="not a string"):
        DemoServer(tokens="abc")


# Routing and methods


def test_unknown_index_404(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/index/exploits", status=404)

    assert body == {
        "error": True,
        "errors": [
            "index 'exploits' is not served by the demo API; "
            "it serves cisa-kev, nist-nvd2, vulncheck-kev"
        ],
    }


@pytest.mark.parametrize("path", ["/", "/v3/backups", "/v3/indexes", "/v4/advisory"])
def test_unknown_path_404(session: requests.Session, server: DemoServer, path: str) -> None:
    body = fetch(session, server, path, status=404)

    assert "is not served by the demo API" in error_message(body)


def test_trailing_slash_served(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/index/cisa-kev/", limit=1)

    assert body["_meta"]["index"] == "cisa-kev"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "PURGE"])
def test_non_get_method_405(session: requests.Session, server: DemoServer, method: str) -> None:
    response = session.request(method, f"{server.url}/v3/index", data=b'["x"]', timeout=10)

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    assert method in error_message(response.json())
    assert server.requests[-1].method == method


def test_head_405_without_body(session: requests.Session, server: DemoServer) -> None:
    response = session.head(f"{server.url}/v3/index", timeout=10)

    assert response.status_code == 405
    assert response.content == b""
    assert int(response.headers["Content-Length"]) > 0


def test_keep_alive_reuses_connection(server: DemoServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = {"Authorization": f"Bearer {DEMO_TOKEN}"}
    try:
        connection.request("GET", "/v3/index", headers=headers)
        first = connection.getresponse()
        first_body = first.read()
        first_socket = connection.sock

        connection.request("GET", "/v3/index/cisa-kev?limit=1", headers=headers)
        second = connection.getresponse()
        second_body = second.read()

        assert first.status == 200
        assert second.status == 200
        assert int(first.headers["Content-Length"]) == len(first_body)
        assert int(second.headers["Content-Length"]) == len(second_body)
        assert connection.sock is first_socket
    finally:
        connection.close()


def test_concurrent_requests(session: requests.Session, server: DemoServer) -> None:
    def fetch_page(page: int) -> list[str]:
        return record_ids(fetch(session, server, "/v3/index/cisa-kev", limit=50, page=page))

    with ThreadPoolExecutor(max_workers=6) as pool:
        pages = list(pool.map(fetch_page, range(1, 7)))

    assert [cve for page in pages for cve in page] == CATALOG_IDS[:300]


# Offset paging


def test_page_three_equals_catalog_rows(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/index/cisa-kev", limit=100, page=3)
    meta = body["_meta"]

    assert record_ids(body) == CATALOG_IDS[200:300]
    assert meta["index"] == "cisa-kev"
    assert meta["limit"] == 100
    assert meta["page"] == 3
    assert meta["total_documents"] == 1404
    assert meta["total_pages"] == 15
    assert meta["max_pages"] == 6
    assert meta["first_item"] == 201
    assert meta["last_item"] == 300
    assert meta["sort"] == "date_added"
    assert meta["order"] == "desc"
    assert meta["cursor"] == ""
    assert meta["next_cursor"] == ""
    assert meta["matches"] == []


def test_meta_keys_and_parameters(session: requests.Session, server: DemoServer) -> None:
    meta = fetch(session, server, "/v3/index/nist-nvd2", limit=1)["_meta"]

    assert list(meta) == [
        "timestamp",
        "index",
        "limit",
        "total_documents",
        "sort",
        "order",
        "page",
        "total_pages",
        "max_pages",
        "first_item",
        "last_item",
        "parameters",
        "matches",
        "cursor",
        "next_cursor",
    ]
    assert datetime.fromisoformat(meta["timestamp"].replace("Z", "+00:00")).tzinfo is not None
    parameters = {entry["name"]: entry for entry in meta["parameters"]}
    assert parameters["cve"] == {"name": "cve", "format": "CVE-YYYY-N{4-7}", "filtering": "exact"}
    assert parameters["pubStartDate"] == {
        "name": "pubStartDate",
        "format": "YYYY-MM-DD",
        "filtering": "range",
    }
    assert set(parameters) == {
        "cve",
        "date",
        "pubStartDate",
        "pubEndDate",
        "lastModStartDate",
        "lastModEndDate",
        "updatedAtStartDate",
        "updatedAtEndDate",
    }


def test_default_page_and_limit(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/index/vulncheck-kev")

    assert record_ids(body) == CATALOG_IDS[:100]
    assert body["_meta"]["page"] == 1
    assert body["_meta"]["limit"] == 100


def test_last_offset_page_partial(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/index/cisa-kev", limit=250, page=6)
    meta = body["_meta"]

    assert record_ids(body) == CATALOG_IDS[1250:]
    assert meta["first_item"] == 1251
    assert meta["last_item"] == 1404
    assert meta["total_pages"] == 6


def test_page_past_results_empty(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/index/nist-nvd2", limit=10, page=6)

    assert body["data"] == []
    assert body["_meta"]["first_item"] == 0
    assert body["_meta"]["last_item"] == 0
    assert body["_meta"]["total_pages"] == 5


def test_page_seven_400(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/index/cisa-kev", status=400, page=7)

    message = error_message(body)
    assert "max_pages 6" in message
    assert "start_cursor=true" in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("page", "0"),
        ("page", "-1"),
        ("page", "two"),
        ("limit", "0"),
        ("limit", "1001"),
        ("limit", "ten"),
        ("start_cursor", "yes"),
    ],
)
def test_invalid_paging_value_400(
    session: requests.Session, server: DemoServer, name: str, value: str
) -> None:
    body = fetch(session, server, "/v3/index/cisa-kev", status=400, **{name: value})

    message = error_message(body)
    assert message.startswith(f"invalid {name} {value!r}")


def test_limit_bounds_accepted(session: requests.Session, server: DemoServer) -> None:
    assert len(fetch(session, server, "/v3/index/cisa-kev", limit=1)["data"]) == 1
    assert len(fetch(session, server, "/v3/index/cisa-kev", limit=1000)["data"]) == 1000


# Filters


def test_cve_filter_case_insensitive(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/index/nist-nvd2", cve="cve-2021-44228")

    assert record_ids(body) == [LOG4SHELL]
    assert body["_meta"]["matches"] == [{"field": "cve", "value": LOG4SHELL}]


def test_cve_filter_no_match(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/index/vulncheck-kev", cve="CVE-1999-0001")

    assert body["data"] == []
    assert body["_meta"]["total_documents"] == 0
    assert body["_meta"]["total_pages"] == 0


def test_date_filter_exact_day(session: requests.Session, server: DemoServer) -> None:
    expected = catalog_ids_where(lambda entry: entry["dateAdded"] == "2021-12-10")
    body = fetch(session, server, "/v3/index/cisa-kev", date="2021-12-10")

    assert LOG4SHELL in expected
    assert record_ids(body) == expected
    assert body["_meta"]["matches"] == [{"field": "date", "value": "2021-12-10"}]


def test_pub_date_range_inclusive(session: requests.Session, server: DemoServer) -> None:
    expected = catalog_ids_where(lambda entry: "2024-01-10" <= entry["dateAdded"] <= "2024-03-05")
    body = fetch(
        session,
        server,
        "/v3/index/vulncheck-kev",
        pubStartDate="2024-01-10",
        pubEndDate="2024-03-05",
    )
    days = [record["date_added"][:10] for record in body["data"]]

    assert record_ids(body) == expected
    assert "2024-01-10" in days
    assert "2024-03-05" in days
    assert body["_meta"]["matches"] == [
        {"field": "pubStartDate", "value": "2024-01-10"},
        {"field": "pubEndDate", "value": "2024-03-05"},
    ]


def test_pub_start_only(session: requests.Session, server: DemoServer) -> None:
    expected = catalog_ids_where(lambda entry: entry["dateAdded"] >= "2025-08-01")
    body = fetch(session, server, "/v3/index/cisa-kev", pubStartDate="2025-08-01")

    assert record_ids(body) == expected


def test_nvd_published_range(session: requests.Session, server: DemoServer) -> None:
    expected = sorted(
        (
            record
            for record in NVD_RECORDS.values()
            if "2021-01-01" <= record["published"][:10] <= "2021-12-31"
        ),
        key=lambda record: record["published"],
        reverse=True,
    )
    body = fetch(
        session, server, "/v3/index/nist-nvd2", pubStartDate="2021-01-01", pubEndDate="2021-12-31"
    )

    assert len(expected) > 3
    assert record_ids(body) == [record["id"] for record in expected]


def test_nvd_date_exact_published(session: requests.Session, server: DemoServer) -> None:
    published_day = NVD_RECORDS[LOG4SHELL]["published"][:10]
    body = fetch(session, server, "/v3/index/nist-nvd2", date=published_day)

    assert LOG4SHELL in record_ids(body)
    assert all(record["published"].startswith(published_day) for record in body["data"])


def test_nvd_last_modified_range(session: requests.Session, server: DemoServer) -> None:
    expected = {
        record["id"]
        for record in NVD_RECORDS.values()
        if record["lastModified"][:10] <= "2024-12-31"
    }
    body = fetch(session, server, "/v3/index/nist-nvd2", lastModEndDate="2024-12-31")

    assert 0 < len(expected) < len(NVD_RECORDS)
    assert set(record_ids(body)) == expected


def test_nvd_updated_at_reads_last_modified(session: requests.Session, server: DemoServer) -> None:
    expected = {
        record["id"]
        for record in NVD_RECORDS.values()
        if record["lastModified"][:10] >= "2025-10-22"
    }
    body = fetch(session, server, "/v3/index/nist-nvd2", updatedAtStartDate="2025-10-22")

    assert 0 < len(expected) < len(NVD_RECORDS)
    assert set(record_ids(body)) == expected


@pytest.mark.parametrize(
    ("name", "value", "total"),
    [
        ("lastModStartDate", "2025-08-25", 1404),
        ("lastModStartDate", "2025-08-26", 0),
        ("lastModEndDate", "2025-08-24", 0),
        ("updatedAtStartDate", "2025-08-25", 1404),
        ("updatedAtEndDate", "2025-08-24", 0),
    ],
)
def test_vulncheck_kev_timestamp_filters(
    session: requests.Session, server: DemoServer, name: str, value: str, total: int
) -> None:
    params: dict[str, Any] = {name: value, "limit": 1}
    body = fetch(session, server, "/v3/index/vulncheck-kev", **params)

    assert body["_meta"]["total_documents"] == total


def test_cisa_kev_ignores_last_modified(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/index/cisa-kev", limit=1, lastModStartDate="2030-01-01")

    assert body["_meta"]["total_documents"] == 1404
    assert body["_meta"]["matches"] == []
    assert body["_meta"]["warnings"] == [
        "parameter 'lastModStartDate' is not supported by index 'cisa-kev' of the demo API "
        "and was ignored"
    ]


@pytest.mark.parametrize("name", ["alias", "threat_actor", "botnet", "published", "unheard_of"])
def test_unsupported_filter_ignored(
    session: requests.Session, server: DemoServer, name: str
) -> None:
    params: dict[str, Any] = {name: "anything", "limit": 5}
    body = fetch(session, server, "/v3/index/vulncheck-kev", **params)

    assert record_ids(body) == CATALOG_IDS[:5]
    assert len(body["_meta"]["warnings"]) == 1
    assert repr(name) in body["_meta"]["warnings"][0]


@pytest.mark.parametrize(
    ("name", "value", "expected_format"),
    [
        ("cve", "CVE-21-44228", "CVE-YYYY-N{4-7}"),
        ("cve", "log4shell", "CVE-YYYY-N{4-7}"),
        ("cve", "CVE-2021-44228x", "CVE-YYYY-N{4-7}"),
        ("date", "2021/12/10", "YYYY-MM-DD"),
        ("date", "20211210", "YYYY-MM-DD"),
        ("pubStartDate", "2021-13-01", "YYYY-MM-DD"),
        ("pubEndDate", "2021-02-30", "YYYY-MM-DD"),
        ("lastModStartDate", "yesterday", "YYYY-MM-DD"),
        ("lastModEndDate", "2021-12-10T00:00:00Z", "YYYY-MM-DD"),
        ("updatedAtStartDate", "", "YYYY-MM-DD"),
        ("updatedAtEndDate", "12-10-2021", "YYYY-MM-DD"),
    ],
)
def test_malformed_filter_400(
    session: requests.Session, server: DemoServer, name: str, value: str, expected_format: str
) -> None:
    body = fetch(session, server, "/v3/index/vulncheck-kev", status=400, **{name: value})

    message = error_message(body)
    assert message.startswith(f"invalid {name} {value!r}")
    assert expected_format in message


# Sorting


def test_sort_field_ascending(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/index/cisa-kev", sort="vendorProject", order="asc")
    vendors = [record["vendorProject"] for record in body["data"]]

    assert vendors == sorted(vendors)
    assert vendors[0] == min(entry["vendorProject"] for entry in CATALOG["vulnerabilities"])
    assert body["_meta"]["sort"] == "vendorProject"
    assert body["_meta"]["order"] == "asc"


def test_sort_date_ascending(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/index/vulncheck-kev", order="asc", limit=1000)
    days = [record["date_added"] for record in body["data"]]

    assert days == sorted(days)
    assert days[0] == "2021-11-03T00:00:00Z"


def test_nvd_default_published_descending(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/index/nist-nvd2")
    published = [record["published"] for record in body["data"]]

    assert body["_meta"]["sort"] == "published"
    assert published == sorted(published, reverse=True)


def test_nvd_sort_by_id(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/index/nist-nvd2", sort="id", order="asc")

    assert record_ids(body) == sorted(NVD_RECORDS)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"sort": "cvss"}, "invalid sort 'cvss'"),
        ({"sort": "published"}, "invalid sort 'published'"),
        ({"order": "up"}, "invalid order 'up'"),
        ({"order": "DESCENDING"}, "invalid order 'DESCENDING'"),
    ],
)
def test_invalid_sort_or_order_400(
    session: requests.Session, server: DemoServer, params: dict[str, str], expected: str
) -> None:
    body = fetch(session, server, "/v3/index/cisa-kev", status=400, **params)

    assert error_message(body).startswith(expected)


# Cursor paging


def walk_cursor(
    session: requests.Session, server: DemoServer, index: str, **params: Any
) -> list[dict[str, Any]]:
    """Follow next_cursor from start_cursor=true to the end; return every page's body."""
    pages = [fetch(session, server, f"/v3/index/{index}", start_cursor="true", **params)]
    while pages[-1]["_meta"]["next_cursor"]:
        assert len(pages) < 100, "cursor paging did not end"
        cursor = pages[-1]["_meta"]["next_cursor"]
        pages.append(fetch(session, server, f"/v3/index/{index}", cursor=cursor))
        assert pages[-1]["_meta"]["cursor"] == cursor
    return pages


def test_cursor_visits_every_record_once(session: requests.Session, server: DemoServer) -> None:
    pages = walk_cursor(session, server, "cisa-kev", limit=300)
    visited = [cve for page in pages for cve in record_ids(page)]

    assert visited == CATALOG_IDS
    assert len(pages) == 5
    assert [len(page["data"]) for page in pages] == [300, 300, 300, 300, 204]
    assert pages[0]["_meta"]["cursor"] == ""
    assert all(page["_meta"]["next_cursor"] for page in pages[:-1])
    assert pages[-1]["_meta"]["next_cursor"] == ""
    assert pages[-1]["_meta"]["last_item"] == 1404


def test_cursor_exact_multiple_of_limit(session: requests.Session, server: DemoServer) -> None:
    pages = walk_cursor(session, server, "nist-nvd2", limit=11)

    assert [len(page["data"]) for page in pages] == [11, 11, 11, 11]
    assert sorted(cve for page in pages for cve in record_ids(page)) == sorted(NVD_RECORDS)


def test_cursor_keeps_filters_and_sort(session: requests.Session, server: DemoServer) -> None:
    expected = sorted(catalog_ids_where(lambda entry: entry["dateAdded"] >= "2024-01-01"))
    pages = walk_cursor(
        session,
        server,
        "vulncheck-kev",
        limit=40,
        pubStartDate="2024-01-01",
        sort="cve",
        order="asc",
    )
    visited = [cve for page in pages for cve in record_ids(page)]

    assert len(pages) > 2
    assert visited == expected
    for page in pages:
        assert page["_meta"]["matches"] == [{"field": "pubStartDate", "value": "2024-01-01"}]
        assert page["_meta"]["sort"] == "cve"
        assert page["_meta"]["order"] == "asc"
        assert page["_meta"]["limit"] == 40


def test_start_cursor_ignores_page(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/index/cisa-kev", start_cursor="true", page=9, limit=10)

    assert record_ids(body) == CATALOG_IDS[:10]
    assert body["_meta"]["next_cursor"]


def test_cursor_for_other_index_400(session: requests.Session, server: DemoServer) -> None:
    first = fetch(session, server, "/v3/index/cisa-kev", start_cursor="true", limit=10)
    cursor = first["_meta"]["next_cursor"]

    body = fetch(session, server, "/v3/index/vulncheck-kev", status=400, cursor=cursor)

    assert error_message(body).startswith("invalid cursor")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "!!!!",
        "bm90IGpzb24",  # base64 of "not json"
        "eyJ2IjoxfQ",  # base64 of {"v":1}, no offset
        "eyJ2IjogOX0",  # base64 of {"v": 9}, unknown version
    ],
)
def test_malformed_cursor_400(session: requests.Session, server: DemoServer, cursor: str) -> None:
    body = fetch(session, server, "/v3/index/cisa-kev", status=400, cursor=cursor)

    message = error_message(body)
    assert message.startswith("invalid cursor")
    assert "start_cursor=true" in message


# Recording, logging and lifecycle


def test_recorded_request_fields(server: DemoServer) -> None:
    requests.get(
        f"{server.url}/v3/index/nist-nvd2",
        params=[("cve", LOG4SHELL), ("token", DEMO_TOKEN), ("alias", "")],
        cookies={"theme": "dark"},
        timeout=10,
    )
    recorded = server.requests[-1]

    assert isinstance(recorded, RecordedRequest)
    assert recorded.method == "GET"
    assert recorded.path == "/v3/index/nist-nvd2"
    assert recorded.query == {"cve": [LOG4SHELL], "token": [DEMO_TOKEN], "alias": [""]}
    assert recorded.cookies == {"theme": "dark"}
    assert "Authorization" not in recorded.headers
    assert recorded.headers["Host"] == f"127.0.0.1:{server.port}"


def test_reprs_hide_token(server: DemoServer) -> None:
    requests.get(
        f"{server.url}/v3/index",
        headers={"Authorization": f"Bearer {DEMO_TOKEN}"},
        params={"token": DEMO_TOKEN},
        cookies={"token": DEMO_TOKEN},
        timeout=10,
    )
    recorded = server.requests[-1]

    assert recorded.headers["Authorization"] == f"Bearer {DEMO_TOKEN}"
    assert DEMO_TOKEN not in repr(recorded)
    assert "'token': ['***']" in repr(recorded)
    assert DEMO_TOKEN not in repr(server)
    assert server.url in repr(server)


def test_recorded_requests_bounded() -> None:
    with DemoServer() as demo, requests.Session() as client:
        for number in range(1010):
            client.get(f"{demo.url}/unknown/{number}", timeout=10)

        assert len(demo.requests) == 1000
        assert demo.requests[0].path == "/unknown/10"
        assert demo.requests[-1].path == "/unknown/1009"


def test_debug_log_line_per_request(server: DemoServer) -> None:
    messages: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: messages.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("vulncheck_magic")
    previous_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        requests.get(f"{server.url}/v3/index", params={"token": DEMO_TOKEN}, timeout=10)
        requests.get(
            f"{server.url}/v3/index/cisa-kev",
            params={"limit": "1", "token": "not-the-token"},
            headers={"Authorization": f"Bearer {DEMO_TOKEN}"},
            timeout=10,
        )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)

    request_lines = [message for message in messages if message.startswith("demo API: GET")]
    assert len(request_lines) == 2
    assert request_lines[0].startswith("demo API: GET /v3/index?token=*** -> 200")
    assert request_lines[1].startswith("demo API: GET /v3/index/cisa-kev?limit=1&token=*** -> 200")
    assert not any(DEMO_TOKEN in message for message in messages)
    assert not any("not-the-token" in message for message in messages)


def test_no_access_log_on_stderr(server: DemoServer, capfd: pytest.CaptureFixture[str]) -> None:
    requests.get(f"{server.url}/v3/index", params={"token": DEMO_TOKEN}, timeout=10)
    requests.get(f"{server.url}/nowhere", timeout=10)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(b"NOT A VALID REQUEST LINE\r\n\r\n")
        raw.recv(4096)

    captured = capfd.readouterr()
    assert captured.err == ""
    assert captured.out == ""


def test_stop_frees_port() -> None:
    demo = DemoServer().start()
    port = demo.port
    assert demo.running

    demo.stop()
    demo.stop()

    assert not demo.running
    with pytest.raises(RuntimeError, match="not running"):
        _ = demo.url
    with pytest.raises(ConnectionError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with DemoServer(port=port) as successor:
        assert successor.port == port
        response = requests.get(f"{successor.url}/v3/index", params={"token": DEMO_TOKEN})
        assert response.status_code == 200


def test_stop_closes_keep_alive_connections() -> None:
    with requests.Session() as client:
        client.headers["Authorization"] = f"Bearer {DEMO_TOKEN}"
        demo = DemoServer().start()
        url = demo.url
        assert client.get(f"{url}/v3/index", timeout=10).status_code == 200

        demo.stop()

        with pytest.raises(requests.ConnectionError):
            client.get(f"{url}/v3/index", timeout=10)


def test_restart_after_stop() -> None:
    demo = DemoServer()
    with demo:
        first_url = demo.url
    with demo:
        response = requests.get(f"{demo.url}/v3/index", params={"token": DEMO_TOKEN}, timeout=10)
        assert response.status_code == 200
    assert first_url.startswith("http://127.0.0.1:")


def test_data_built_once_per_process() -> None:
    with DemoServer():
        pass

    assert load_indexes() is load_indexes()


# Command line


def test_cli_serves_and_stops() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "vulncheck_magic.demo", "--port", "0"],
        cwd=REPOSITORY_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 20)
        assert ready, "the demo API printed nothing within 20 s"
        first_line = process.stdout.readline()
        match = re.fullmatch(
            r"vulncheck-magic demo API serving at (http://127\.0\.0\.1:\d+)\n", first_line
        )
        assert match, first_line
        url = match.group(1)

        response = requests.get(
            f"{url}/v3/index/vulncheck-kev",
            headers={"Authorization": f"Bearer {DEMO_TOKEN}"},
            params={"cve": LOG4SHELL},
            timeout=10,
        )
        assert response.status_code == 200
        assert record_ids(response.json()) == [LOG4SHELL]
    finally:
        process.terminate()
        process.wait(timeout=20)
    # Read through the same buffered pipe as readline() above: communicate() would skip
    # lines that readline() had already buffered.
    stdout = first_line + process.stdout.read()
    stderr = process.stderr.read() if process.stderr else ""

    assert process.returncode == 0, stderr
    assert f"API token: {DEMO_TOKEN}" in stdout
    assert f'%config VulnCheckMagic.base_url = "{url}"' in stdout
    assert f"export VULNCHECK_API_URL={url} VULNCHECK_API_TOKEN={DEMO_TOKEN}" in stdout
    assert "%env" not in stdout
    assert stdout.rstrip().endswith("demo API stopped")
    assert stderr == ""


def test_cli_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as occupier:
        occupier.bind(("127.0.0.1", 0))
        occupier.listen()
        port = occupier.getsockname()[1]

        status = main(["--port", str(port)])

    captured = capsys.readouterr()
    assert status == 1
    assert f"cannot listen on 127.0.0.1 port {port}" in captured.err
    assert "--port 0" in captured.err


@pytest.mark.parametrize("port", ["-1", "65536", "http"])
def test_cli_invalid_port(capsys: pytest.CaptureFixture[str], port: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--port", port])

    assert exit_info.value.code == 2
    assert f"invalid port {port!r}" in capsys.readouterr().err
