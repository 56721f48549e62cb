"""Tidy columns: every rule on real NVD records, the demo's KEV data and an exploits sample.

Expected values are read from the raw JSON in each test, so a rule that picks the wrong
CVSS item, drops a column or mislabels a date fails here.
"""

from __future__ import annotations

import copy
import gzip
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from vulncheck_magic import Client
from vulncheck_magic._frames import records_to_frame
from vulncheck_magic._tidy import tidy_frame

from .conftest import run_cell

DATA = Path(__file__).parent / "data"
NVD_FILES = sorted((DATA / "nvd2").glob("CVE-*.json"))
UTC = "datetime64[ns, UTC]"

# (column infix, metrics key, version label), newest first.
VERSIONS = [
    ("v40", "cvssMetricV40", "4.0"),
    ("v31", "cvssMetricV31", "3.1"),
    ("v30", "cvssMetricV30", "3.0"),
    ("v2", "cvssMetricV2", "2.0"),
]


def read_nvd(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def expected_primary(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The item NVD marks Primary, else the first one."""
    primaries = [item for item in items if item["type"] == "Primary"]
    return primaries[0] if primaries else items[0]


def expected_severity(item: dict[str, Any], infix: str) -> str:
    return item["baseSeverity"] if infix == "v2" else item["cvssData"]["baseSeverity"]


def tidy_record(record: dict[str, Any], index: str = "nist-nvd2", **options: Any) -> pd.DataFrame:
    return tidy_frame(records_to_frame([record]), index, **options)


def catalog_records() -> list[dict[str, Any]]:
    data = resources.files("vulncheck_magic.demo").joinpath("data/cisa-kev.json.gz")
    return json.loads(gzip.decompress(data.read_bytes()))["vulnerabilities"]


def test_all_nvd_records_copied() -> None:
    assert len(NVD_FILES) == 44


@pytest.mark.parametrize("path", NVD_FILES, ids=lambda path: path.stem)
def test_nvd_record_scores_match_raw(path: Path) -> None:
    record = read_nvd(path)
    row = tidy_record(record).iloc[0]
    metrics = record.get("metrics", {})
    newest = None
    for infix, key, label in VERSIONS:
        if key not in metrics:
            assert f"cvss_{infix}_base_score" not in row.index
            continue
        primary = expected_primary(metrics[key])
        assert row[f"cvss_{infix}_base_score"] == primary["cvssData"]["baseScore"]
        assert row[f"cvss_{infix}_base_severity"] == expected_severity(primary, infix)
        assert row[f"cvss_{infix}_vector"] == primary["cvssData"]["vectorString"]
        if newest is None:
            newest = (primary["cvssData"]["baseScore"], expected_severity(primary, infix), label)
    assert newest is not None, "every stored record has some CVSS metric"
    assert (row["cvss_score"], row["cvss_severity"], row["cvss_version"]) == newest


@pytest.mark.parametrize("path", NVD_FILES, ids=lambda path: path.stem)
def test_nvd_record_other_columns_match_raw(path: Path) -> None:
    record = read_nvd(path)
    row = tidy_record(record).iloc[0]
    english = [item["value"] for item in record["descriptions"] if item["lang"] == "en"]
    assert row["cve"] == record["id"]
    assert row["description"] == english[0]
    assert row["status"] == record["vulnStatus"]
    assert row["published"] == pd.Timestamp(record["published"], tz="UTC")
    assert row["last_modified"] == pd.Timestamp(record["lastModified"], tz="UTC")
    values = [
        item["value"]
        for weakness in record.get("weaknesses", [])
        for item in weakness["description"]
    ]
    cwes = [value for value in dict.fromkeys(values) if value.startswith("CWE-")]
    assert row["cwes"] == cwes
    matches = sum(
        len(node.get("cpeMatch", []))
        for configuration in record.get("configurations", [])
        for node in configuration["nodes"]
    )
    assert row["cpe_count"] == matches
    assert row["reference_count"] == len(record.get("references", []))
    if "cisaExploitAdd" in record:
        assert row["cisa_kev_added"] == pd.Timestamp(record["cisaExploitAdd"], tz="UTC")
    else:
        assert "cisa_kev_added" not in row.index


def test_nvd_known_values() -> None:
    records = [
        read_nvd(DATA / "nvd2" / f"{cve}.json") for cve in ("CVE-2021-44228", "CVE-2020-1472")
    ]
    frame = tidy_frame(records_to_frame(records), "nist-nvd2").set_index("cve")
    log4shell = frame.loc["CVE-2021-44228"]
    assert log4shell["cvss_v31_base_score"] == 10.0
    assert log4shell["cvss_v31_vector"] == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"
    assert log4shell["cvss_v2_base_score"] == 9.3
    assert log4shell["cvss_v2_base_severity"] == "HIGH"
    assert log4shell["cwes"] == ["CWE-20", "CWE-400", "CWE-502", "CWE-917"]
    assert log4shell["cisa_kev_added"] == pd.Timestamp("2021-12-10", tz="UTC")
    # No v3.1 item of CVE-2020-1472 is Primary, so the first one (Microsoft's) is used.
    zerologon = frame.loc["CVE-2020-1472"]
    assert zerologon["cvss_v31_base_score"] == 5.5
    assert zerologon["cvss_score"] == 5.5
    assert zerologon["cvss_v2_base_score"] == 9.3


def test_nvd_frame_of_all_records() -> None:
    records = [read_nvd(path) for path in NVD_FILES]
    raw = records_to_frame(records)
    frame = tidy_frame(raw, "nist-nvd2")
    assert frame.columns[:8].tolist() == [
        "cve",
        "description",
        "published",
        "last_modified",
        "status",
        "cvss_score",
        "cvss_severity",
        "cvss_version",
    ]
    assert "cvss_v40_base_score" not in frame.columns
    assert str(frame["cvss_score"].dtype) == "float64"
    assert str(frame["published"].dtype) == UTC
    assert str(frame["last_modified"].dtype) == UTC
    assert str(frame["cisa_kev_added"].dtype) == UTC
    assert str(frame["cpe_count"].dtype) == "Int64"
    without_v2 = frame["cvss_v2_base_score"].isna()
    assert without_v2.any()
    assert frame.loc[without_v2, "cvss_v2_vector"].isna().all()
    assert frame["cvss_score"].notna().all()


def test_nvd_replaced_and_kept_columns() -> None:
    raw = records_to_frame([read_nvd(path) for path in NVD_FILES])
    frame = tidy_frame(raw, "nist-nvd2")
    replaced = [
        "id",
        "descriptions",
        "lastModified",
        "vulnStatus",
        "metrics.cvssMetricV31",
        "metrics.cvssMetricV30",
        "metrics.cvssMetricV2",
        "weaknesses",
        "cisaExploitAdd",
    ]
    tidy = frame.attrs["vulncheck"]["tidy"]
    assert tidy["rule"] == "nvd2"
    assert sorted(tidy["replaced"]) == sorted(replaced)
    assert tidy["columns"] == frame.columns[: len(tidy["columns"])].tolist()
    for column in replaced:
        assert column not in frame.columns
    kept = [column for column in raw.columns if column not in replaced and column != "published"]
    assert frame.columns[len(tidy["columns"]) :].tolist() == kept
    assert "configurations" in kept
    assert "references" in kept


def test_nvd_raw_columns_kept() -> None:
    raw = records_to_frame([read_nvd(path) for path in NVD_FILES])
    frame = tidy_frame(raw, "nist-nvd2", raw_columns=True)
    tidy = frame.attrs["vulncheck"]["tidy"]
    assert tidy["raw_columns"] is True
    rest = frame.columns[len(tidy["columns"]) :].tolist()
    assert rest == [column for column in raw.columns if column != "published"]
    pd.testing.assert_series_equal(frame["id"], raw["id"])
    assert frame["metrics.cvssMetricV31"].iloc[0] == raw["metrics.cvssMetricV31"].iloc[0]


def test_input_frame_unchanged() -> None:
    raw = records_to_frame([read_nvd(path) for path in NVD_FILES[:5]])
    before = raw.copy()
    tidy_frame(raw, "nist-nvd2")
    pd.testing.assert_frame_equal(raw, before)
    assert "tidy" not in raw.attrs.get("vulncheck", {})


def test_cvss_v40_and_v2_severity() -> None:
    # An invented v4.0 item added to a real record: the stored records have none.
    record = read_nvd(DATA / "nvd2" / "CVE-2018-13379.json")
    record["metrics"]["cvssMetricV40"] = [
        {
            "source": "psirt@example.com",
            "type": "Secondary",
            "cvssData": {
                "version": "4.0",
                "vectorString": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N",
                "baseScore": 8.7,
                "baseSeverity": "HIGH",
            },
        }
    ]
    row = tidy_record(record).iloc[0]
    assert row["cvss_v40_base_score"] == 8.7
    assert row["cvss_v40_base_severity"] == "HIGH"
    assert (row["cvss_score"], row["cvss_severity"], row["cvss_version"]) == (8.7, "HIGH", "4.0")
    assert row["cvss_v31_base_score"] == 9.8
    assert row["cvss_v2_base_severity"] == "MEDIUM"


def test_record_without_metrics() -> None:
    record = read_nvd(DATA / "nvd2" / "CVE-2024-3400.json")
    for key in ("metrics", "weaknesses", "configurations"):
        record.pop(key, None)
    row = tidy_record(record).iloc[0]
    assert pd.isna(row["cvss_score"])
    assert pd.isna(row["cvss_version"])
    assert row["cwes"] == []
    assert row["cpe_count"] == 0


def test_vulncheck_nvd2_epss() -> None:
    record = read_nvd(DATA / "nvd2" / "CVE-2024-3400.json")
    record["metrics"]["epss"] = {
        "epss_score": 0.94,
        "epss_percentile": 0.999,
        "last_modified": "2026-10-19T00:00:00Z",
    }
    frame = tidy_record(record, "vulncheck-nvd2")
    assert frame.loc[0, "epss_score"] == 0.94
    assert frame.loc[0, "epss_percentile"] == 0.999
    assert "metrics.epss.epss_score" not in frame.columns
    assert str(frame["metrics.epss.last_modified"].dtype) == UTC
    assert "epss_score" not in tidy_record(record, "nist-nvd2").columns


def test_unknown_index_unchanged() -> None:
    raw = records_to_frame([read_nvd(NVD_FILES[0])])
    assert tidy_frame(raw, "initial-access") is raw


def test_empty_frame_stays_empty() -> None:
    frame = tidy_frame(pd.DataFrame(), "vulncheck-kev")
    assert frame.empty
    assert frame.attrs["vulncheck"]["tidy"]["columns"] == []


def test_existing_column_not_overwritten() -> None:
    raw = records_to_frame([{**read_nvd(NVD_FILES[0]), "status": "mine"}])
    frame = tidy_frame(raw, "nist-nvd2")
    assert frame.loc[0, "status"] == "mine"
    assert "vulnStatus" in frame.columns


# KEV


def test_vulncheck_kev_rule_on_demo(client: Client) -> None:
    raw = client.index("vulncheck-kev", all_pages=True, limit=1000, progress=False, tidy=False)
    frame = client.index("vulncheck-kev", all_pages=True, limit=1000, progress=False)
    assert len(frame) == len(raw) == 1404
    assert frame.columns[:4].tolist() == [
        "cve",
        "ransomware",
        "xdb_count",
        "reported_exploitation_count",
    ]
    assert frame["cve"].tolist() == [ids[0] for ids in raw["cve"]]
    assert frame["cve"].map(type).eq(str).all()
    assert frame["ransomware"].dtype == "boolean"
    assert frame["ransomware"].tolist() == raw["knownRansomwareCampaignUse"].eq("Known").tolist()
    assert (
        frame["knownRansomwareCampaignUse"].tolist() == raw["knownRansomwareCampaignUse"].tolist()
    )
    assert frame["xdb_count"].tolist() == raw["vulncheck_xdb"].map(len).tolist()
    assert frame["reported_exploitation_count"].tolist() == (
        raw["vulncheck_reported_exploitation"].map(len).tolist()
    )
    for column in ("date_added", "dueDate", "cisa_date_added", "_timestamp", "updated_at"):
        assert str(frame[column].dtype) == UTC, column
    rest = [column for column in raw.columns if column != "cve"]
    assert frame.columns[4:].tolist() == rest
    assert frame.attrs["vulncheck"]["tidy"]["rule"] == "kev"
    assert frame.attrs["vulncheck"]["paging"]["complete"] is True


def test_cisa_kev_rule_on_demo(client: Client) -> None:
    frame = client.index("cisa-kev", all_pages=True, limit=1000, progress=False)
    catalog = {record["cveID"]: record for record in catalog_records()}
    assert sorted(frame["cve"]) == sorted(catalog)
    assert "xdb_count" not in frame.columns
    for cve, ransomware, added in zip(
        frame["cve"], frame["ransomware"], frame["date_added"], strict=True
    ):
        assert ransomware == (catalog[cve]["knownRansomwareCampaignUse"] == "Known")
        assert added == pd.Timestamp(catalog[cve]["dateAdded"], tz="UTC")
    assert str(frame["dueDate"].dtype) == UTC


def test_kev_several_cves_stay_a_list() -> None:
    records = [
        {"cve": ["CVE-2021-44228"], "knownRansomwareCampaignUse": "Unknown"},
        {"cve": ["CVE-2021-45046", "CVE-2021-45105"], "knownRansomwareCampaignUse": "Known"},
        {"cve": [], "knownRansomwareCampaignUse": "Maybe"},
        {"knownRansomwareCampaignUse": None},
    ]
    frame = tidy_frame(records_to_frame(records), "cisa-kev")
    assert frame["cve"].dtype == object
    assert frame.loc[0, "cve"] == "CVE-2021-44228"
    assert frame.loc[1, "cve"] == ["CVE-2021-45046", "CVE-2021-45105"]
    assert frame.loc[2, "cve"] == []
    assert pd.isna(frame.loc[3, "cve"])
    assert frame["ransomware"].tolist() == [False, True, pd.NA, pd.NA]


def test_kev_date_strings_converted() -> None:
    # Read without records_to_frame's date parsing: tidy converts the column it can parse
    # and leaves 9999-12-31, outside the nanosecond range, as a string.
    frame = records_to_frame(
        [{"cve": ["CVE-2024-0001"], "date_added": "2024-01-02", "dueDate": "9999-12-31"}],
        parse_dates=False,
    )
    tidy = tidy_frame(frame, "vulncheck-kev")
    assert str(tidy["date_added"].dtype) == UTC
    assert tidy.loc[0, "dueDate"] == "9999-12-31"
    assert tidy.attrs["vulncheck"]["tidy"]["converted"] == ["date_added"]


# Exploits


def exploits_sample() -> list[dict[str, Any]]:
    return json.loads((DATA / "exploits-cve.json").read_text(encoding="utf-8"))["data"]


def test_exploits_rule_on_sample() -> None:
    [record] = exploits_sample()
    frame = tidy_frame(records_to_frame([record]), "exploits")
    row = frame.iloc[0]
    assert row["cve"] == record["id"]

    flags = [name for name, value in record.items() if isinstance(value, bool)]
    assert len(flags) == 11
    for flag in flags:
        assert frame[flag].dtype == "boolean", flag
        assert row[flag] == record[flag], flag

    assert row["max_exploit_maturity"] == record["max_exploit_maturity"]
    assert row["epss_score"] == record["epss"]["epss_score"]
    assert row["epss_percentile"] == record["epss"]["epss_percentile"]

    counts = {
        "exploit_count": "exploits",
        "threat_actor_count": "threat_actors",
        "botnet_count": "botnets",
        "ransomware_family_count": "ransomware_families",
    }
    for column, key in counts.items():
        assert frame[column].dtype == "Int64"
        assert row[column] == record["counts"][key]
    for key, value in record["timeline"].items():
        assert str(frame[f"timeline.{key}"].dtype) == UTC
        assert row[f"timeline.{key}"] == pd.Timestamp(value)

    tidy = frame.attrs["vulncheck"]["tidy"]
    assert tidy["rule"] == "exploits"
    for column in ("id", "epss.epss_score", "counts.exploits"):
        assert column in tidy["replaced"]
        assert column not in frame.columns
    for column in ("exploits", "reported_exploitation", "epss.last_modified", "trending.github"):
        assert column in frame.columns


def test_exploits_missing_flag_is_na() -> None:
    [record] = exploits_sample()
    other = copy.deepcopy(record)
    other["id"] = "CVE-2024-0002"
    del other["inKEV"]
    frame = tidy_frame(records_to_frame([record, other]), "exploits")
    assert frame["inKEV"].dtype == "boolean"
    assert frame["inKEV"].tolist() == [True, pd.NA]


# Through the magic


@pytest.fixture
def demo_shell(shell: InteractiveShell) -> InteractiveShell:
    outcome = run_cell(shell, "%vulncheck demo")
    assert outcome.error is None, outcome.text
    return shell


def magic(shell: InteractiveShell, line: str) -> Any:
    outcome = run_cell(shell, f"%vulncheck {line}")
    assert outcome.error is None, outcome.text
    return outcome.result


def test_magic_index_is_tidy(demo_shell: InteractiveShell) -> None:
    frame = magic(demo_shell, "index nist-nvd2 --cve CVE-2021-44228")
    assert frame.loc[0, "cve"] == "CVE-2021-44228"
    assert frame.loc[0, "cvss_score"] == 10.0
    assert frame.loc[0, "cvss_version"] == "3.1"
    assert "id" not in frame.columns
    assert frame.attrs["vulncheck"]["tidy"]["rule"] == "nvd2"


def test_magic_no_tidy(demo_shell: InteractiveShell) -> None:
    frame = magic(demo_shell, "index nist-nvd2 --cve CVE-2021-44228 --no-tidy")
    assert frame.loc[0, "id"] == "CVE-2021-44228"
    assert "cvss_score" not in frame.columns
    assert "tidy" not in frame.attrs["vulncheck"]
    kev = magic(demo_shell, "index vulncheck-kev --cve CVE-2021-44228 --no-tidy")
    assert kev.loc[0, "cve"] == ["CVE-2021-44228"]


def test_magic_raw_columns(demo_shell: InteractiveShell) -> None:
    frame = magic(demo_shell, "index nist-nvd2 --cve CVE-2021-44228 --raw-columns")
    assert frame.loc[0, "cve"] == frame.loc[0, "id"] == "CVE-2021-44228"
    assert isinstance(frame.loc[0, "metrics.cvssMetricV31"], list)
    assert frame.loc[0, "cvss_v31_base_score"] == 10.0


def test_magic_all_pages_tidy(demo_shell: InteractiveShell) -> None:
    frame = magic(demo_shell, "index nist-nvd2 --all --limit 10")
    assert len(frame) == 44
    assert frame["cvss_score"].notna().all()
    assert frame.attrs["vulncheck"]["paging"]["complete"] is True


def test_magic_backup_load_tidy(demo_shell: InteractiveShell) -> None:
    tidy = magic(demo_shell, "backup vulncheck-kev --load --max-rows 5")
    assert tidy["cve"].map(type).eq(str).all()
    assert "xdb_count" in tidy.columns
    raw = magic(demo_shell, "backup vulncheck-kev --load --max-rows 5 --no-tidy")
    assert raw["cve"].map(type).eq(list).all()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("index nist-nvd2 --no-tidy --raw-columns", "leave out --no-tidy"),
        ("index nist-nvd2 --raw --no-tidy", "--raw returns the JSON response"),
        ("backup cisa-kev --no-tidy", "apply to --load"),
        ("index nist-nvd2 --raw --flat", "--flat applies to frames"),
    ],
)
def test_magic_tidy_option_mistakes(demo_shell: InteractiveShell, line: str, message: str) -> None:
    outcome = run_cell(demo_shell, f"%vulncheck {line}")
    assert isinstance(outcome.error, UsageError)
    assert message in str(outcome.error)
