"""The demo API's endpoints besides the indexes, driven over HTTP on 127.0.0.1."""

from __future__ import annotations

import gzip
import hashlib
import io
import ipaddress
import json
import re
import zipfile
from collections.abc import Iterator
from datetime import datetime
from importlib import resources
from typing import Any

import pytest
import requests

from vulncheck_magic.demo import DEMO_TOKEN, DemoServer
from vulncheck_magic.demo._data import load_indexes

INDEX_NAMES = ["cisa-kev", "nist-nvd2", "vulncheck-kev"]
LOG4SHELL = "CVE-2021-44228"
LOG4J_SECOND = "CVE-2021-45046"
LOG4J_CORE = "pkg:maven/org.apache.logging.log4j/log4j-core"
COHERENCE = "pkg:hex/coherence@0.1.2"
JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
DOCUMENTATION_NETWORKS = [
    ipaddress.ip_network(network)
    for network in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
]
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+Z")

# Every route that requires the token: method, path, query parameters, JSON body.
TOKEN_ROUTES: list[tuple[str, str, dict[str, str], Any]] = [
    ("GET", "/v3/backup", {}, None),
    ("GET", "/v3/backup/cisa-kev", {}, None),
    ("GET", "/v3/purl", {"purl": COHERENCE}, None),
    ("POST", "/v3/purls", {}, [COHERENCE]),
    ("GET", "/v3/cpe", {"cpe": "cpe:2.3:a:apache:log4j:2.14.1"}, None),
    ("GET", "/v3/search/cpe", {"vendor": "apache"}, None),
    ("GET", "/v3/search/cve", {"cve": LOG4SHELL}, None),
    ("GET", "/v3/tags/vulncheck-c2", {}, None),
    ("GET", "/v3/pdns/vulncheck-c2", {}, None),
    ("GET", "/v3/rules/initial-access/snort", {}, None),
    ("GET", "/v3/rules/initial-access/suricata", {}, None),
    ("GET", "/v3/entitlements", {}, None),
]


def read_bundled(filename: str) -> Any:
    """Read one of the package's data files directly, bypassing the demo's loader."""
    resource = resources.files("vulncheck_magic.demo").joinpath("data", filename)
    return json.loads(gzip.decompress(resource.read_bytes()))


CATALOG_IDS = {entry["cveID"] for entry in read_bundled("cisa-kev.json.gz")["vulnerabilities"]}
NVD_RECORDS = {record["id"]: record for record in read_bundled("nvd2.json.gz")}
PURL_SAMPLE = json.loads(
    resources.files("vulncheck_magic.demo")
    .joinpath("data", "samples", "purl.json")
    .read_text(encoding="utf-8")
)


def cpe_matches(cve: str) -> list[dict[str, Any]]:
    """Return every cpeMatch entry of one bundled NVD record."""
    return [
        entry
        for configuration in NVD_RECORDS[cve].get("configurations", [])
        for node in configuration["nodes"]
        for entry in node["cpeMatch"]
    ]


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
) -> Any:
    """GET ``path`` with the demo token, check the status and JSON type, return the body."""
    response = session.get(server.url + path, params=params, timeout=10)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == JSON_TYPE
    return response.json()


def post_purls(session: requests.Session, server: DemoServer, body: bytes) -> requests.Response:
    return session.post(
        f"{server.url}/v3/purls",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )


def error_message(body: dict[str, Any]) -> str:
    assert body["error"] is True
    assert len(body["errors"]) == 1
    message: str = body["errors"][0]
    return message


# Authentication


@pytest.mark.parametrize(("method", "path", "params", "body"), TOKEN_ROUTES)
def test_route_without_token_401(
    server: DemoServer, method: str, path: str, params: dict[str, str], body: Any
) -> None:
    response = requests.request(method, server.url + path, params=params, json=body, timeout=10)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "missing or invalid API token" in error_message(response.json())


@pytest.mark.parametrize(("method", "path", "params", "body"), TOKEN_ROUTES)
def test_route_wrong_token_401(
    server: DemoServer, method: str, path: str, params: dict[str, str], body: Any
) -> None:
    wrong_token = "vulncheck_wrong0123456789abcdef0123456789"
    response = requests.request(
        method,
        server.url + path,
        params=params,
        json=body,
        headers={"Authorization": f"Bearer {wrong_token}"},
        timeout=10,
    )

    assert response.status_code == 401
    assert wrong_token not in response.text


@pytest.mark.parametrize("mode", ["header", "query", "cookie"])
@pytest.mark.parametrize(("method", "path", "params", "body"), TOKEN_ROUTES)
def test_route_accepts_auth_mode(
    server: DemoServer, method: str, path: str, params: dict[str, str], body: Any, mode: str
) -> None:
    response = requests.request(
        method,
        server.url + path,
        params={**params, "token": DEMO_TOKEN} if mode == "query" else params,
        json=body,
        headers={"Authorization": f"Bearer {DEMO_TOKEN}"} if mode == "header" else {},
        cookies={"token": DEMO_TOKEN} if mode == "cookie" else {},
        timeout=10,
    )

    assert response.status_code == 200, response.text


# Routing


@pytest.mark.parametrize(
    "path",
    ["/v3/search", "/v3/rules/initial-access", "/v3/backup/cisa-kev/extra", "/demo-backups"],
)
def test_unknown_path_404(session: requests.Session, server: DemoServer, path: str) -> None:
    body = fetch(session, server, path, status=404)

    assert "is not served by the demo API" in error_message(body)


def test_get_on_purls_405(session: requests.Session, server: DemoServer) -> None:
    response = session.get(f"{server.url}/v3/purls", timeout=10)

    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert "GET" in error_message(response.json())


@pytest.mark.parametrize("path", ["/v3/purl", "/v3/cpe", "/v3/backup", "/v3/openapi"])
def test_post_on_get_route_405(session: requests.Session, server: DemoServer, path: str) -> None:
    response = session.post(f"{server.url}{path}", json=[COHERENCE], timeout=10)

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"


# Backups


def test_backup_list_names_and_hrefs(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/backup")

    assert set(body) == {"_benchmark", "data"}
    assert [entry["name"] for entry in body["data"]] == INDEX_NAMES
    for entry in body["data"]:
        assert entry["href"] == f"{server.url}/v3/backup/{entry['name']}"
        assert entry["description"]


@pytest.mark.parametrize("index", INDEX_NAMES)
def test_backup_file_fields(session: requests.Session, server: DemoServer, index: str) -> None:
    body = fetch(session, server, f"/v3/backup/{index}")

    assert set(body) == {"_benchmark", "_meta", "data"}
    assert body["_meta"]["index"] == index
    assert TIMESTAMP.fullmatch(body["_meta"]["timestamp"])
    [item] = body["data"]
    assert re.fullmatch(rf"{index}-\d{{19}}\.zip", item["filename"])
    assert re.fullmatch(r"[0-9a-f]{64}", item["sha256"])
    assert item["url"] == f"{server.url}/demo-backups/{item['filename']}"
    assert item["url_ttl_minutes"] == 60
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", item["date_added"])
    expires = datetime.fromisoformat(item["url_expires"])
    requested = datetime.fromisoformat(body["_meta"]["timestamp"])
    assert 3590 <= (expires - requested).total_seconds() <= 3600


@pytest.mark.parametrize("index", INDEX_NAMES)
def test_backup_zip_holds_index_records(
    session: requests.Session, server: DemoServer, index: str
) -> None:
    [item] = fetch(session, server, f"/v3/backup/{index}")["data"]

    # A plain GET without the session: a pre-signed URL needs no token.
    download = requests.get(item["url"], timeout=10)

    assert download.status_code == 200
    assert download.headers["Content-Type"] == "application/zip"
    assert int(download.headers["Content-Length"]) == len(download.content)
    assert hashlib.sha256(download.content).hexdigest() == item["sha256"]
    recorded = server.requests[-1]
    assert recorded.path == f"/demo-backups/{item['filename']}"
    assert "Authorization" not in recorded.headers
    assert "token" not in recorded.query
    assert "token" not in recorded.cookies

    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert archive.namelist() == [f"{index}.json"]
        member = archive.read(f"{index}.json").decode("utf-8")
    if index == "cisa-kev":
        records = json.loads(member)
    else:
        lines = member.splitlines()
        assert all(line.startswith("{") for line in lines)
        records = [json.loads(line) for line in lines]
    assert records == load_indexes()[index].records
    total = fetch(session, server, f"/v3/index/{index}", limit=1)["_meta"]["total_documents"]
    assert len(records) == total


def test_backup_same_file_on_repeat(session: requests.Session, server: DemoServer) -> None:
    [first] = fetch(session, server, "/v3/backup/nist-nvd2")["data"]
    [second] = fetch(session, server, "/v3/backup/nist-nvd2")["data"]

    assert second["filename"] == first["filename"]
    assert second["sha256"] == first["sha256"]
    assert second["url"] == first["url"]


def test_backup_download_rejects_authorization(
    session: requests.Session, server: DemoServer
) -> None:
    [item] = fetch(session, server, "/v3/backup/cisa-kev")["data"]

    response = session.get(item["url"], timeout=10)

    assert response.status_code == 400
    assert "Authorization" in error_message(response.json())


def test_backup_download_unknown_file_404(server: DemoServer) -> None:
    response = requests.get(f"{server.url}/demo-backups/cisa-kev-1.zip", timeout=10)

    assert response.status_code == 404
    assert "GET /v3/backup/{index}" in error_message(response.json())


def test_backup_unknown_index_404(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/backup/exploits", status=404)

    assert error_message(body) == (
        "index 'exploits' has no backup in the demo API; "
        "it has backups of cisa-kev, nist-nvd2, vulncheck-kev"
    )


# PURL


def test_purl_sample_served_unchanged(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/purl", purl=COHERENCE)

    assert set(body) == {"_benchmark", "_meta", "data"}
    assert body["data"] == PURL_SAMPLE["data"]
    assert body["_meta"]["purl_struct"] == PURL_SAMPLE["_meta"]["purl_struct"]
    assert body["_meta"]["total_documents"] == 1
    assert TIMESTAMP.fullmatch(body["_meta"]["timestamp"])
    assert "public VulnCheck response" in body["_meta"]["_demo_note"]


def test_purl_log4j_derived_from_nvd(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/purl", purl=f"{LOG4J_CORE}@2.14.1")

    assert body["data"]["cves"] == [LOG4SHELL, LOG4J_SECOND]
    assert body["data"]["vulnerabilities"] == [
        {"detection": LOG4SHELL, "fixed_version": "2.15.0"},
        {"detection": LOG4J_SECOND, "fixed_version": "2.16.0"},
    ]
    assert body["_meta"]["total_documents"] == 2
    assert "derived by the demo" in body["_meta"]["_demo_note"]
    # The fixed versions are the ends of NVD's ranges that contain 2.14.1.
    for cve, fixed in [(LOG4SHELL, "2.15.0"), (LOG4J_SECOND, "2.16.0")]:
        ranges = [
            entry
            for entry in cpe_matches(cve)
            if entry["criteria"].startswith("cpe:2.3:a:apache:log4j:*")
            and entry.get("versionStartIncluding") == "2.13.0"
        ]
        assert [entry["versionEndExcluding"] for entry in ranges] == [fixed]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("2.12.1", {LOG4SHELL: "2.12.2", LOG4J_SECOND: "2.12.2"}),
        ("2.15.0", {LOG4J_SECOND: "2.16.0"}),
        ("2.16.0", {}),
        ("1.2.17", {}),
    ],
)
def test_purl_log4j_version_ranges(
    session: requests.Session, server: DemoServer, version: str, expected: dict[str, str]
) -> None:
    body = fetch(session, server, "/v3/purl", purl=f"{LOG4J_CORE}@{version}")

    found = {item["detection"]: item["fixed_version"] for item in body["data"]["vulnerabilities"]}
    assert found == expected
    assert body["data"]["cves"] == list(expected)


def test_purl_unknown_package_empty(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/purl", purl="pkg:npm/lodash@4.17.20")

    assert body["data"] == {"cves": [], "vulnerabilities": []}
    assert body["_meta"]["total_documents"] == 0
    assert "not covered by the demo" in body["_meta"]["_demo_note"]


def test_purl_struct_components(session: requests.Session, server: DemoServer) -> None:
    purl = "pkg:npm/%40angular/core@1.0.0?type=module&arch=x86#dist/./core"
    body = fetch(session, server, "/v3/purl", purl=purl)

    assert body["_meta"]["purl_struct"] == {
        "type": "npm",
        "namespace": "@angular",
        "name": "core",
        "version": "1.0.0",
        "qualifiers": [{"key": "arch", "value": "x86"}, {"key": "type", "value": "module"}],
        "subpath": "dist/core",
    }


def test_purl_missing_400(session: requests.Session, server: DemoServer) -> None:
    for params in ({}, {"purl": ""}):
        body = fetch(session, server, "/v3/purl", status=400, **params)
        assert "missing purl parameter" in error_message(body)


@pytest.mark.parametrize(
    "purl", ["lodash", "npm/lodash@4.17.20", "pkg:", "pkg:npm", "pkg:1npm/lodash@1"]
)
def test_purl_malformed_400(session: requests.Session, server: DemoServer, purl: str) -> None:
    body = fetch(session, server, "/v3/purl", status=400, purl=purl)

    assert error_message(body).startswith(f"invalid purl {purl!r}")


def test_purls_batch_findings(session: requests.Session, server: DemoServer) -> None:
    submitted = [COHERENCE, "not-a-purl", f"{LOG4J_CORE}@2.14.1", "pkg:npm/lodash@4.17.20"]

    response = post_purls(session, server, json.dumps(submitted).encode())

    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == JSON_TYPE
    body = response.json()
    assert set(body) == {"_benchmark", "_meta", "data"}
    meta = body["_meta"]
    assert meta["total_submitted"] == 4
    assert meta["total_documents"] == 2
    assert meta["unprocessed"] == [{"purl": "not-a-purl", "reason": "unparseable"}]
    assert [finding["purl"] for finding in body["data"]] == [COHERENCE, f"{LOG4J_CORE}@2.14.1"]

    coherence, log4j = body["data"]
    assert coherence["purl_struct"] == PURL_SAMPLE["_meta"]["purl_struct"]
    assert coherence["cves"] == PURL_SAMPLE["data"]["cves"]
    assert coherence["vulnerabilities"] == PURL_SAMPLE["data"]["vulnerabilities"]
    assert log4j["cves"] == [LOG4SHELL, LOG4J_SECOND]
    for finding in body["data"]:
        assert set(finding["research_attributes"]) == {
            "abandoned",
            "eol",
            "is_malicious",
            "malicious_source",
            "repo_hijackable",
            "squatted_package",
        }
        assert finding["_demo_synthetic"] == ["research_attributes"]


def test_purls_request_body_recorded(session: requests.Session, server: DemoServer) -> None:
    body = json.dumps([COHERENCE]).encode()

    post_purls(session, server, body)

    recorded = server.requests[-1]
    assert recorded.method == "POST"
    assert recorded.body == body


def test_purls_empty_array(session: requests.Session, server: DemoServer) -> None:
    response = post_purls(session, server, b"[]")

    assert response.status_code == 200
    assert response.json()["data"] == []
    assert response.json()["_meta"]["total_submitted"] == 0


@pytest.mark.parametrize(
    "body", [b"", b"not json", b'{"purl": "pkg:hex/coherence@0.1.2"}', b"[1, 2]", b'"pkg:a/b"']
)
def test_purls_invalid_body_400(session: requests.Session, server: DemoServer, body: bytes) -> None:
    response = post_purls(session, server, body)

    assert response.status_code == 400
    assert "expected a JSON array of package URL strings" in error_message(response.json())


def test_purls_chunked_body_413(session: requests.Session, server: DemoServer) -> None:
    # A generator body makes requests send Transfer-Encoding: chunked.
    chunks = iter([json.dumps([COHERENCE]).encode()])
    response = session.post(f"{server.url}/v3/purls", data=chunks, timeout=10)

    assert response.status_code == 413
    assert "Content-Length" in error_message(response.json())
    assert server.requests[-1].body is None


# CPE


def test_cpe_log4shell_matches_nvd(session: requests.Session, server: DemoServer) -> None:
    naming_log4j = sorted(
        cve
        for cve in NVD_RECORDS
        if any(
            entry["criteria"].startswith("cpe:2.3:a:apache:log4j:") for entry in cpe_matches(cve)
        )
    )
    assert naming_log4j == [LOG4SHELL, LOG4J_SECOND]

    for cpe in (
        "cpe:2.3:a:apache:log4j:2.14.1",
        "cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:*:*:*",
        "cpe:/a:apache:log4j:2.14.1",
        "CPE:2.3:A:Apache:Log4j:2.14.1",
    ):
        body = fetch(session, server, "/v3/cpe", cpe=cpe)
        assert body["data"] == naming_log4j, cpe
        assert body["_meta"]["cpe"] == cpe
        assert body["_meta"]["total_documents"] == 2


def test_cpe_meta_struct_escaped(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/cpe", cpe="cpe:2.3:a:apache:log4j:2.14.1")

    assert set(body) == {"_benchmark", "_meta", "data"}
    assert body["_meta"]["cpe_struct"] == {
        "part": "a",
        "vendor": "apache",
        "product": "log4j",
        "version": "2\\.14\\.1",
        "update": "*",
        "edition": "*",
        "language": "*",
        "sw_edition": "*",
        "target_sw": "*",
        "target_hw": "*",
        "other": "*",
    }
    assert TIMESTAMP.fullmatch(body["_meta"]["timestamp"])


@pytest.mark.parametrize(
    ("cpe", "expected"),
    [
        ("cpe:2.3:a:apache:log4j:2.15.0", [LOG4J_SECOND]),
        ("cpe:2.3:a:apache:log4j:2.16.0", []),
        ("cpe:2.3:a:apache:log4j:1.2.17", []),
        ("cpe:2.3:a:apache:log4j", [LOG4SHELL, LOG4J_SECOND]),
        ("cpe:/a:apache:log4j:2.0:rc1", [LOG4SHELL, LOG4J_SECOND]),
        ("cpe:2.3:a:apache:log4j:2.0:rc3", []),
    ],
)
def test_cpe_version_and_update(
    session: requests.Session, server: DemoServer, cpe: str, expected: list[str]
) -> None:
    assert fetch(session, server, "/v3/cpe", cpe=cpe)["data"] == expected


def test_cpe_is_vulnerable_filter(session: requests.Session, server: DemoServer) -> None:
    cpe = "cpe:2.3:o:microsoft:windows_10_1607"
    smb_entries = [
        entry for entry in cpe_matches("CVE-2017-0144") if entry["criteria"].startswith(cpe + ":")
    ]
    assert smb_entries
    assert not any(entry["vulnerable"] for entry in smb_entries)

    every = fetch(session, server, "/v3/cpe", cpe=cpe)["data"]
    vulnerable = fetch(session, server, "/v3/cpe", cpe=cpe, isVulnerable="true")["data"]

    assert "CVE-2017-0144" in every
    assert "CVE-2017-0144" not in vulnerable
    assert set(vulnerable) < set(every)
    assert fetch(session, server, "/v3/cpe", cpe=cpe, isVulnerable="false")["data"] == every


@pytest.mark.parametrize(
    "cpe",
    [
        "apache:log4j:2.14.1",
        "cpe:2.3:x:apache:log4j",
        "cpe:2.3:a::log4j",
        "cpe:2.3:a:b:c:d:e:f:g:h:i:j:k:l",
        "cpe:/a:b:c:d:e:f:g:h",
        "cpe:/a:b:c:d:e:~x~y",
    ],
)
def test_cpe_malformed_400(session: requests.Session, server: DemoServer, cpe: str) -> None:
    body = fetch(session, server, "/v3/cpe", status=400, cpe=cpe)

    assert error_message(body).startswith(f"invalid cpe {cpe!r}")


def test_cpe_missing_400(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/cpe", status=400)

    assert "missing cpe parameter" in error_message(body)


def test_cpe_invalid_is_vulnerable_400(session: requests.Session, server: DemoServer) -> None:
    body = fetch(
        session, server, "/v3/cpe", status=400, cpe="cpe:/a:apache:log4j", isVulnerable="yes"
    )

    assert error_message(body) == "invalid isVulnerable 'yes': expected 'true' or 'false'"


def test_search_cpe_log4j(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/search/cpe", vendor="apache", product="log4j")

    expected_criteria = sorted(
        {
            entry["criteria"]
            for cve in (LOG4SHELL, LOG4J_SECOND)
            for entry in cpe_matches(cve)
            if entry["criteria"].startswith("cpe:2.3:a:apache:log4j:")
        }
    )
    assert [item["cpe"] for item in body["data"]] == expected_criteria
    for item in body["data"]:
        assert item["cves"] == [LOG4SHELL, LOG4J_SECOND]
        assert item["cpe_struct"]["vendor"] == "apache"
        assert item["cpe_struct"]["product"] == "log4j"
    meta = body["_meta"]
    assert meta["total_documents"] == len(expected_criteria)
    assert meta["page"] == 1
    assert meta["total_pages"] == 1
    assert meta["matches"] == [
        {"field": "vendor", "value": "apache"},
        {"field": "product", "value": "log4j"},
    ]


def test_search_cpe_version_filter(session: requests.Session, server: DemoServer) -> None:
    body = fetch(
        session, server, "/v3/search/cpe", vendor="apache", product="log4j", version="2.15.0"
    )

    assert [item["cpe"] for item in body["data"]] == ["cpe:2.3:a:apache:log4j:*:*:*:*:*:*:*:*"]
    assert body["data"][0]["cves"] == [LOG4J_SECOND]


def test_search_cpe_pages(session: requests.Session, server: DemoServer) -> None:
    first = fetch(session, server, "/v3/search/cpe", part="o", vendor="microsoft", limit=5)
    second = fetch(session, server, "/v3/search/cpe", part="o", vendor="microsoft", limit=5, page=2)
    every = fetch(session, server, "/v3/search/cpe", part="o", vendor="microsoft", limit=1000)

    assert first["_meta"]["total_documents"] > 10
    assert second["_meta"]["first_item"] == 6
    assert second["_meta"]["last_item"] == 10
    assert first["data"] + second["data"] == every["data"][:10]
    assert every["_meta"]["total_pages"] == 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"part": "x"}, "invalid part 'x'"),
        ({"vendor": "apache", "limit": "0"}, "invalid limit '0'"),
        ({"vendor": "apache", "isVulnerable": "1"}, "invalid isVulnerable '1'"),
    ],
)
def test_search_cpe_invalid_400(
    session: requests.Session, server: DemoServer, params: dict[str, str], message: str
) -> None:
    body = fetch(session, server, "/v3/search/cpe", status=400, **params)

    assert error_message(body).startswith(message)


# CVE search


def test_search_cve_log4shell(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/search/cve", cve=LOG4SHELL.lower())

    assert [hit["index"] for hit in body["data"]] == INDEX_NAMES
    for hit in body["data"]:
        assert hit["id"] == LOG4SHELL
        assert hit["score"] == 1.0
        expected = fetch(session, server, f"/v3/index/{hit['index']}", cve=LOG4SHELL)["data"]
        assert [hit["source"]] == expected
    meta = body["_meta"]
    assert meta["cve"] == LOG4SHELL
    assert meta["current_count"] == 3
    assert meta["total_count"] == 3
    assert meta["indices_with_hits"] == 3
    assert meta["queried_index_count"] == 3
    assert meta["top_index_counts"] == [{"index": name, "doc_count": 1} for name in INDEX_NAMES]
    assert meta["limit"] == 500
    assert meta["page"] == 1
    assert meta["total_pages"] == 1
    assert meta["next_cursor"] == ""
    assert TIMESTAMP.fullmatch(meta["timestamp"])


def test_search_cve_partial_hits(session: requests.Session, server: DemoServer) -> None:
    only_nvd = "CVE-2024-6387"
    assert only_nvd in NVD_RECORDS
    assert only_nvd not in CATALOG_IDS

    body = fetch(session, server, "/v3/search/cve", cve=only_nvd)

    assert [hit["index"] for hit in body["data"]] == ["nist-nvd2"]
    assert body["_meta"]["indices_with_hits"] == 1
    assert body["_meta"]["top_index_counts"] == [{"index": "nist-nvd2", "doc_count": 1}]


def test_search_cve_no_hits(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/search/cve", cve="CVE-1999-0001")

    assert body["data"] == []
    assert body["_meta"]["total_count"] == 0
    assert body["_meta"]["top_index_counts"] == []


def test_search_cve_cursor_pages(session: requests.Session, server: DemoServer) -> None:
    indexes: list[str] = []
    body = fetch(session, server, "/v3/search/cve", cve=LOG4SHELL, limit=1, cursor="")
    while True:
        assert "page" not in body["_meta"]
        indexes += [hit["index"] for hit in body["data"]]
        cursor = body["_meta"]["next_cursor"]
        if not cursor:
            break
        body = fetch(session, server, "/v3/search/cve", cve=LOG4SHELL, limit=1, cursor=cursor)

    assert indexes == INDEX_NAMES


def test_search_cve_page_two(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/search/cve", cve=LOG4SHELL, limit=2, page=2)

    assert [hit["index"] for hit in body["data"]] == ["vulncheck-kev"]
    assert body["_meta"]["page"] == 2
    assert body["_meta"]["total_pages"] == 2
    assert body["_meta"]["next_cursor"] == ""


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "missing cve parameter"),
        ({"cve": "log4shell"}, "invalid cve 'log4shell'"),
        ({"cve": "CVE-21-1"}, "invalid cve 'CVE-21-1'"),
        ({"cve": LOG4SHELL, "limit": "1001"}, "invalid limit '1001'"),
        ({"cve": LOG4SHELL, "cursor": "bm90LWEtY3Vyc29y"}, "invalid cursor"),
    ],
)
def test_search_cve_invalid_400(
    session: requests.Session, server: DemoServer, params: dict[str, str], message: str
) -> None:
    body = fetch(session, server, "/v3/search/cve", status=400, **params)

    assert error_message(body).startswith(message)


def test_search_cve_cursor_other_cve_400(session: requests.Session, server: DemoServer) -> None:
    first = fetch(session, server, "/v3/search/cve", cve=LOG4SHELL, limit=1, start_cursor="true")
    cursor = first["_meta"]["next_cursor"]

    body = fetch(session, server, "/v3/search/cve", status=400, cve=LOG4J_SECOND, cursor=cursor)

    assert error_message(body).startswith("invalid cursor")


# Text endpoints


@pytest.mark.parametrize("path", ["/v3/tags/vulncheck-c2", "/v3/pdns/vulncheck-c2"])
def test_c2_text_formats(session: requests.Session, server: DemoServer, path: str) -> None:
    responses = [
        session.get(server.url + path, params=params, timeout=10)
        for params in ({}, {"format": "txt"}, {"format": "text"})
    ]

    for response in responses:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == TEXT_TYPE
        assert response.text == responses[0].text
    assert responses[0].text.endswith("\n")
    lines = responses[0].text.splitlines()
    assert lines
    assert fetch(session, server, path, format="json") == lines


def test_c2_ips_documentation_ranges(session: requests.Session, server: DemoServer) -> None:
    addresses = fetch(session, server, "/v3/tags/vulncheck-c2", format="json")

    for address in addresses:
        ip = ipaddress.ip_address(address)
        assert any(ip in network for network in DOCUMENTATION_NETWORKS), address


def test_c2_hostnames_example_domain(session: requests.Session, server: DemoServer) -> None:
    hostnames = fetch(session, server, "/v3/pdns/vulncheck-c2", format="json")

    for hostname in hostnames:
        assert hostname.endswith(".example"), hostname


def test_c2_invalid_format_400(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/tags/vulncheck-c2", status=400, format="csv")

    assert error_message(body) == "invalid format 'csv': expected txt, text or json"


@pytest.mark.parametrize("rule_type", ["snort", "suricata"])
def test_rules_text(session: requests.Session, server: DemoServer, rule_type: str) -> None:
    response = session.get(f"{server.url}/v3/rules/initial-access/{rule_type}", timeout=10)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == TEXT_TYPE
    rules = response.text.splitlines()
    assert rules
    sids = []
    for rule in rules:
        match = re.fullmatch(
            r'alert (tcp|http) \S+ \S+ -> \S+ \S+ \(msg:"([^"]+)";.* '
            r"reference:cve,(\d{4}-\d+);.* sid:(\d+); rev:\d+;\)",
            rule,
        )
        assert match, rule
        assert match.group(2).startswith("vulncheck-magic demo rule: ")
        assert f"CVE-{match.group(3)}" in CATALOG_IDS
        sids.append(int(match.group(4)))
    assert all(sid >= 1_000_000 for sid in sids)
    assert len(set(sids)) == len(sids)


def test_rules_unknown_type_404(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/rules/initial-access/yara", status=404)

    assert error_message(body) == "rule type 'yara' not found: expected snort or suricata"


# Entitlements and OpenAPI


def test_entitlements_bare_object(session: requests.Session, server: DemoServer) -> None:
    body = fetch(session, server, "/v3/entitlements")

    assert body == {
        "entitlements": {
            "demo": [f"index:{name}" for name in INDEX_NAMES]
            + [f"backup:{name}" for name in INDEX_NAMES]
        }
    }


def test_openapi_without_token(server: DemoServer) -> None:
    response = requests.get(f"{server.url}/v3/openapi", timeout=10)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == JSON_TYPE
    document = response.json()
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"]
    assert document["servers"] == [{"url": server.url}]
    assert set(document["paths"]) == {
        "/v3/index",
        "/v3/index/{index}",
        "/v3/backup",
        "/v3/backup/{index}",
        "/demo-backups/{filename}",
        "/v3/purl",
        "/v3/purls",
        "/v3/cpe",
        "/v3/search/cpe",
        "/v3/search/cve",
        "/v3/tags/vulncheck-c2",
        "/v3/pdns/vulncheck-c2",
        "/v3/rules/initial-access/{type}",
        "/v3/entitlements",
        "/v3/openapi",
    }


def test_openapi_operations(server: DemoServer) -> None:
    paths = requests.get(f"{server.url}/v3/openapi", timeout=10).json()["paths"]

    assert set(paths["/v3/purls"]) == {"post"}
    assert paths["/v3/purls"]["post"]["requestBody"]["required"] is True
    assert paths["/v3/openapi"]["get"]["security"] == []
    assert paths["/demo-backups/{filename}"]["get"]["security"] == []
    assert paths["/v3/cpe"]["get"]["security"] == [{"Bearer": []}]
    cpe_parameters = {
        parameter["name"]: parameter["required"]
        for parameter in paths["/v3/cpe"]["get"]["parameters"]
    }
    assert cpe_parameters == {"cpe": True, "isVulnerable": False}
    rule_parameters = paths["/v3/rules/initial-access/{type}"]["get"]["parameters"]
    assert rule_parameters[0]["name"] == "type"
    assert rule_parameters[0]["in"] == "path"
