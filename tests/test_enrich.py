"""Enrichment against the demo API: KEV and NVD columns joined onto a messy frame of CVE ids."""

from __future__ import annotations

import gzip
import json
import random
import re
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from vulncheck_magic import Client, InvalidParameterError
from vulncheck_magic._batch import BATCH_WORKERS
from vulncheck_magic._enrich import ENRICH_SOURCES, EnrichWarning, enrich, find_cve_column
from vulncheck_magic.demo import DemoServer

from .conftest import run_cell

DATA = Path(__file__).parent / "data"
NVD_RECORDS = {
    path.stem: json.loads(path.read_text(encoding="utf-8"))
    for path in sorted((DATA / "nvd2").glob("CVE-*.json"))
}
NOWHERE = ["CVE-1999-0001", "CVE-2099-0001", "CVE-2099-123456"]
NO_ID = ["", "   ", None, float("nan"), "not-a-cve", "CVE-21-1"]
UTC = "datetime64[ns, UTC]"


def catalog() -> dict[str, dict[str, Any]]:
    data = resources.files("vulncheck_magic.demo").joinpath("data/cisa-kev.json.gz")
    records = json.loads(gzip.decompress(data.read_bytes()))["vulnerabilities"]
    return {record["cveID"]: record for record in records}


KEV = catalog()


def messy_frame() -> pd.DataFrame:
    """50 rows: ids in KEV and NVD, in one of them, in neither, repeated, odd case, blank."""
    both = sorted(set(NVD_RECORDS) & set(KEV))[:15]
    nvd_only = sorted(set(NVD_RECORDS) - set(KEV))
    kev_only = sorted(set(KEV) - set(NVD_RECORDS))[:10]
    unique = both + nvd_only + kev_only + NOWHERE
    assert len(nvd_only) == 3
    assert len(unique) == 31
    chooser = random.Random(7)
    repeats = [chooser.choice(unique) for _ in range(13)]
    repeats[0] = f"  {both[0].lower()} "
    repeats[1] = nvd_only[0].lower()
    repeats[2] = f"\t{kev_only[0]}"
    values: list[Any] = unique + repeats + NO_ID
    chooser.shuffle(values)
    assert len(values) == 50
    labels = [f"asset-{number:02d}" for number in range(50, 0, -1)]
    return pd.DataFrame(
        {"asset": labels, "cve_id": values, "risk": range(50)}, index=pd.Index(labels[::-1])
    )


def normalized(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip().upper()
    return text if re.fullmatch(r"CVE-\d{4}-\d{4,}", text) else None


def newest_score(record: dict[str, Any]) -> float:
    for key in ("cvssMetricV40", "cvssMetricV31", "cvssMetricV30", "cvssMetricV2"):
        items = record.get("metrics", {}).get(key)
        if items:
            primaries = [item for item in items if item["type"] == "Primary"]
            return (primaries or items)[0]["cvssData"]["baseScore"]
    raise AssertionError(f"{record['id']} has no CVSS metric")


def index_requests(server: DemoServer, index: str) -> list[str]:
    return [
        request.query["cve"][0]
        for request in server.requests
        if request.path == f"/v3/index/{index}"
    ]


def test_kev_and_nvd_on_demo(client: Client, demo_server: DemoServer) -> None:
    frame = messy_frame()
    before = frame.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error", EnrichWarning)
        result = enrich(frame, client=client, progress=False)

    pd.testing.assert_frame_equal(frame, before)
    assert frame.attrs == before.attrs
    assert result.index.equals(frame.index)
    pd.testing.assert_frame_equal(result[frame.columns.tolist()], frame)
    assert "enrich_error" not in result.columns
    kev_columns = ENRICH_SOURCES["kev"].output_names()
    assert result.columns[3:12].tolist() == kev_columns
    assert "nvd_cvss_v31_base_score" in result.columns
    assert "nvd_cvss_v40_base_score" not in result.columns

    for label, value in frame["cve_id"].items():
        cve = normalized(value)
        row = result.loc[label]
        if cve in KEV:
            entry = KEV[cve]
            assert row["kev_vendorProject"] == entry["vendorProject"], cve
            assert row["kev_cisa_date_added"] == pd.Timestamp(entry["dateAdded"], tz="UTC")
            assert row["kev_ransomware"] == (entry["knownRansomwareCampaignUse"] == "Known")
        else:
            assert pd.isna(row["kev_date_added"]), value
            assert pd.isna(row["kev_ransomware"]), value
        if cve in NVD_RECORDS:
            record = NVD_RECORDS[cve]
            assert row["nvd_cvss_score"] == newest_score(record), cve
            assert row["nvd_published"] == pd.Timestamp(record["published"], tz="UTC")
            assert row["nvd_status"] == record["vulnStatus"]
        else:
            assert pd.isna(row["nvd_cvss_score"]), value
            assert pd.isna(row["nvd_published"]), value

    assert str(result["kev_date_added"].dtype) == UTC
    assert str(result["nvd_published"].dtype) == UTC
    assert result["kev_ransomware"].dtype == "boolean"
    assert result["kev_xdb_count"].dtype == "Int64"
    assert result["nvd_cpe_count"].dtype == "Int64"


def test_each_unique_id_fetched_once(client: Client, demo_server: DemoServer) -> None:
    frame = messy_frame()
    result = enrich(frame, client=client, progress=False)
    unique = {normalized(value) for value in frame["cve_id"]} - {None}
    assert len(unique) == 31
    for index in ("vulncheck-kev", "nist-nvd2"):
        sent = index_requests(demo_server, index)
        assert len(sent) == len(unique), index
        assert set(sent) == unique, index
    summary = result.attrs["vulncheck"]["enrich"]
    assert summary["cve_column"] == "cve_id"
    assert summary["rows"] == 50
    assert summary["unique_ids"] == 31
    assert summary["rows_without_id"] == len(NO_ID)
    assert summary["sources"]["kev"]["found"] == 25
    assert summary["sources"]["kev"]["not_found"] == 6
    assert summary["sources"]["nvd"]["found"] == 18
    assert summary["sources"]["nvd"]["failed"] == 0


def test_exploits_fail_on_demo(client: Client, demo_server: DemoServer) -> None:
    frame = messy_frame()
    with pytest.warns(EnrichWarning) as caught:
        result = enrich(frame, client=client, sources=("kev", "exploits"), progress=False)
    ours = [item for item in caught if issubclass(item.category, EnrichWarning)]
    assert len(ours) == 1
    message = str(ours[0].message)
    assert "31 of 62 enrichment lookups failed" in message
    assert "exploits (exploits) for 31 CVEs" in message
    assert "HTTP 404" in message

    errors = result["enrich_error"]
    has_id = frame["cve_id"].map(normalized).notna()
    assert errors[has_id].str.startswith("exploits: NotFoundError: HTTP 404").all()
    assert errors[~has_id].isna().all()
    assert result["exploits_inKEV"].isna().all()
    assert result["exploits_inKEV"].dtype == "boolean"
    assert result["exploits_exploit_count"].dtype == "Int64"
    assert result["kev_vendorProject"].notna().sum() > 0
    # After the first 404 the remaining exploits lookups are not sent.
    assert 1 <= len(index_requests(demo_server, "exploits")) <= BATCH_WORKERS
    summary = result.attrs["vulncheck"]["enrich"]["sources"]["exploits"]
    assert summary["failed"] == 31
    assert summary["found"] == 0


def test_progress_bar_runs(client: Client) -> None:
    frame = pd.DataFrame({"cve": ["CVE-2021-44228", "CVE-2014-0160"]})
    result = client.enrich(frame, sources=["nvd"], progress=True)
    assert result["nvd_cvss_score"].tolist() == [10.0, 7.5]


def test_empty_frame_gets_columns(client: Client, demo_server: DemoServer) -> None:
    frame = pd.DataFrame({"cve": pd.Series([], dtype=object)})
    result = enrich(frame, client=client, cve_column="cve", progress=False)
    assert result.empty
    assert "kev_date_added" in result.columns
    assert "nvd_cvss_score" in result.columns
    assert demo_server.requests == []


def test_find_cve_column() -> None:
    frame = pd.DataFrame(
        {
            "host": ["a", "b", "c"],
            "notes": ["see CVE-2021-44228", None, "x"],
            "vuln": [None, " cve-2021-44228 ", 3],
            "ids": [["CVE-2021-44228"], [], None],
        }
    )
    assert find_cve_column(frame) == "vuln"


def test_find_cve_column_none() -> None:
    frame = pd.DataFrame({"host": ["a"], "ids": [["CVE-2021-44228"]]})
    with pytest.raises(InvalidParameterError, match="no column contains CVE ids"):
        find_cve_column(frame)


def test_find_cve_column_several() -> None:
    frame = pd.DataFrame({"first": ["CVE-2021-44228"], "second": ["CVE-2014-0160"]})
    with pytest.raises(InvalidParameterError, match=r"several columns.*'first', 'second'"):
        find_cve_column(frame)


def test_cve_column_mistakes(client: Client) -> None:
    frame = pd.DataFrame({"cve_id": ["CVE-2021-44228"], "host": ["a"]})
    with pytest.raises(InvalidParameterError, match="no column 'cve' in the frame"):
        enrich(frame, client=client, cve_column="cve", progress=False)
    with pytest.raises(InvalidParameterError, match="column 'host' contains no CVE ids"):
        enrich(frame, client=client, cve_column="host", progress=False)
    with pytest.raises(InvalidParameterError, match="unknown source 'kevs'"):
        enrich(frame, client=client, sources=["kevs"], progress=False)
    with pytest.raises(InvalidParameterError, match="no sources given"):
        enrich(frame, client=client, sources=[], progress=False)


def test_duplicate_cve_column_rejected(client: Client) -> None:
    frame = pd.DataFrame([["CVE-2021-44228", "CVE-2014-0160"]], columns=["cve", "cve"])
    with pytest.raises(InvalidParameterError, match="several columns named 'cve'"):
        enrich(frame, client=client, progress=False)


def test_existing_columns_rejected(client: Client) -> None:
    frame = pd.DataFrame({"cve": ["CVE-2021-44228"], "kev_date_added": [None]})
    with pytest.raises(InvalidParameterError, match=r"already has columns .*kev_date_added"):
        enrich(frame, client=client, progress=False)


def test_epss_column_names() -> None:
    source = ENRICH_SOURCES["epss"]
    assert source.output_names() == ["epss_score", "epss_percentile"]
    assert ENRICH_SOURCES["exploits"].output_name("epss_score") == "exploits_epss_score"


# Through the magic


@pytest.fixture
def demo_shell(shell: InteractiveShell) -> InteractiveShell:
    outcome = run_cell(shell, "%vulncheck demo")
    assert outcome.error is None, outcome.text
    return shell


def test_magic_enrich(demo_shell: InteractiveShell) -> None:
    frame = messy_frame()
    demo_shell.user_ns["assets"] = frame
    outcome = run_cell(demo_shell, "%vulncheck enrich assets -o enriched")
    assert outcome.error is None, outcome.text
    result = demo_shell.user_ns.pop("enriched")
    demo_shell.user_ns.pop("assets")
    assert result is not frame
    assert "kev_date_added" not in frame.columns
    assert result.index.equals(frame.index)
    assert result.loc[frame.index[0], "asset"] == frame.iloc[0]["asset"]
    in_nvd = frame["cve_id"].map(normalized).isin(list(NVD_RECORDS))
    assert result["nvd_cvss_score"].notna().tolist() == in_nvd.tolist()


def test_magic_enrich_options(demo_shell: InteractiveShell) -> None:
    demo_shell.user_ns["df"] = pd.DataFrame(
        {"a": ["CVE-2021-44228", "x"], "b": ["CVE-2014-0160", "CVE-2021-44228"]}
    )
    outcome = run_cell(
        demo_shell,
        "%vulncheck enrich df --cve-column b --with NVD --columns b,nvd_cvss_score,nvd_cwes --flat",
    )
    assert outcome.error is None, outcome.text
    result = outcome.result
    assert result.columns.tolist() == ["b", "nvd_cvss_score", "nvd_cwes"]
    assert result["nvd_cvss_score"].tolist() == [7.5, 10.0]
    assert json.loads(result["nvd_cwes"].iloc[0]) == ["CWE-125"]


def test_magic_enrich_failure_warns_once(demo_shell: InteractiveShell) -> None:
    demo_shell.user_ns["df"] = pd.DataFrame({"cve": ["CVE-2021-44228", "CVE-2014-0160"]})
    outcome = run_cell(demo_shell, "%vulncheck enrich df --with kev,exploits")
    assert outcome.error is None, outcome.text
    assert outcome.stderr.count("Warning:") == 1
    assert "2 of 4 enrichment lookups failed" in outcome.stderr
    assert outcome.result["enrich_error"].notna().all()


def test_magic_enrich_dry_run(demo_shell: InteractiveShell) -> None:
    demo_shell.user_ns["df"] = pd.DataFrame({"cve": ["CVE-2021-44228", "CVE-2014-0160"]})
    server = demo_shell.magics_manager.registry["VulnCheckMagic"].demo
    sent = len(server.requests)
    outcome = run_cell(demo_shell, "%vulncheck enrich df --dry-run")
    assert outcome.error is None, outcome.text
    assert "/v3/index/vulncheck-kev?cve=CVE-2021-44228'" in outcome.stdout
    assert outcome.stdout.count("curl ") == 1
    assert len(server.requests) == sent


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("enrich nothing_here", "no variable 'nothing_here' in the notebook"),
        ("enrich text", "'text' is a str, not a DataFrame"),
        ("enrich df --with kev,cves", "argument --with"),
        ("enrich df --cve-column nope", "no column 'nope' in the frame"),
        ("enrich two", "several columns contain CVE ids"),
        ("enrich", "missing DF"),
    ],
)
def test_magic_enrich_mistakes(demo_shell: InteractiveShell, line: str, message: str) -> None:
    demo_shell.user_ns["text"] = "CVE-2021-44228"
    demo_shell.user_ns["df"] = pd.DataFrame({"cve": ["CVE-2021-44228"]})
    demo_shell.user_ns["two"] = pd.DataFrame({"a": ["CVE-2021-44228"], "b": ["CVE-2021-44228"]})
    outcome = run_cell(demo_shell, f"%vulncheck {line}")
    for name in ("text", "two"):
        demo_shell.user_ns.pop(name)
    assert isinstance(outcome.error, UsageError), outcome.text
    assert message in str(outcome.error)
