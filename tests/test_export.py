"""to_flat: tidy and enriched frames written to CSV, Excel and Parquet and read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

import vulncheck_magic
from vulncheck_magic import Client, to_flat

from .conftest import run_cell

EXCEL_CELL_LIMIT = 32_767


@pytest.fixture
def tidy_nvd(client: Client) -> pd.DataFrame:
    return client.index("nist-nvd2", all_pages=True, limit=50, progress=False)


@pytest.fixture
def enriched(client: Client) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "host": ["web-1", "web-2", "db-1", "db-2"],
            "cve": ["CVE-2021-44228", "cve-2014-0160", None, "CVE-2099-0001"],
        },
        index=[30, 10, 20, 40],
    )
    return client.enrich(frame, progress=False)


def as_naive_utc(values: pd.Series) -> pd.Series:
    return values.dt.tz_convert("UTC").dt.tz_localize(None)


def test_to_flat_values() -> None:
    eastern = pd.Timestamp("2021-12-10 05:00", tz="America/New_York")
    frame = pd.DataFrame(
        {
            "ids": [["CVE-2021-44228", "CVE-2021-45046"], "CVE-2014-0160", None],
            "meta": [{"name": "Log4Shell", "tags": ["jndi"]}, {}, None],
            "when": pd.Series([eastern, pd.NaT, eastern]).astype(
                "datetime64[ns, America/New_York]"
            ),
            "naive": pd.to_datetime(["2021-01-01", None, "2021-01-03"]),
            "score": [10.0, None, 7.5],
            "flag": pd.array([True, None, False], dtype="boolean"),
            "text": ["Grüße", "a,b", None],
        }
    )
    frame.attrs["vulncheck"] = {"index": "example"}
    before = frame.copy()
    flat = to_flat(frame)

    pd.testing.assert_frame_equal(frame, before)
    assert flat["ids"].tolist() == ['["CVE-2021-44228", "CVE-2021-45046"]', "CVE-2014-0160", None]
    assert json.loads(flat.loc[0, "meta"]) == {"name": "Log4Shell", "tags": ["jndi"]}
    assert flat.loc[1, "meta"] == "{}"
    assert flat.loc[2, "meta"] is None
    assert str(flat["when"].dtype) == "datetime64[ns]"
    assert flat.loc[0, "when"] == pd.Timestamp("2021-12-10 10:00")
    assert pd.isna(flat.loc[1, "when"])
    pd.testing.assert_series_equal(flat["naive"], frame["naive"])
    pd.testing.assert_series_equal(flat["score"], frame["score"])
    pd.testing.assert_series_equal(flat["flag"], frame["flag"])
    pd.testing.assert_series_equal(flat["text"], frame["text"])
    assert flat.attrs == frame.attrs


def test_to_flat_aware_index() -> None:
    index = pd.DatetimeIndex(["2024-01-01T12:00:00+02:00"]).tz_convert("Europe/Berlin")
    flat = to_flat(pd.DataFrame({"n": [1]}, index=index))
    assert flat.index.tz is None
    assert flat.index[0] == pd.Timestamp("2024-01-01 10:00")


def test_to_flat_exported() -> None:
    assert vulncheck_magic.to_flat is to_flat
    assert "to_flat" in vulncheck_magic.__all__


def check_tidy_read_back(original: pd.DataFrame, read: pd.DataFrame) -> None:
    """Compare the columns every writer keeps: text, numbers, datetimes and lists."""
    read = read.set_index("cve")
    original = original.set_index("cve")
    assert sorted(read.index) == sorted(original.index)
    read = read.loc[original.index]
    pd.testing.assert_series_equal(
        read["cvss_score"].astype(float), original["cvss_score"], check_names=False
    )
    assert read["status"].tolist() == original["status"].tolist()
    published = pd.to_datetime(read["published"])
    difference = (published - as_naive_utc(original["published"])).abs()
    assert difference.max() < pd.Timedelta(milliseconds=1)
    assert read["cwes"].map(json.loads).tolist() == original["cwes"].tolist()
    assert read["cpe_count"].astype(int).tolist() == original["cpe_count"].tolist()


def test_tidy_frame_csv(tidy_nvd: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "nvd.csv"
    to_flat(tidy_nvd).to_csv(path, index=False)
    read = pd.read_csv(path)
    assert len(read) == 44
    check_tidy_read_back(tidy_nvd, read)
    configurations = read.set_index("cve").loc["CVE-2021-44228", "configurations"]
    assert len(json.loads(configurations)) == len(
        tidy_nvd.set_index("cve").loc["CVE-2021-44228", "configurations"]
    )


def test_tidy_frame_parquet(tidy_nvd: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "nvd.parquet"
    to_flat(tidy_nvd).to_parquet(path)
    read = pd.read_parquet(path)
    assert read.columns.tolist() == tidy_nvd.columns.tolist()
    check_tidy_read_back(tidy_nvd, read.reset_index(drop=True))


def short_columns(frame: pd.DataFrame) -> list[str]:
    """Columns whose text fits in an Excel cell, which stores at most 32,767 characters."""
    lengths = frame.map(lambda value: len(value) if isinstance(value, str) else 0)
    return [column for column in frame.columns if lengths[column].max() <= EXCEL_CELL_LIMIT]


def test_tidy_frame_excel(tidy_nvd: pd.DataFrame, tmp_path: Path) -> None:
    pytest.importorskip("openpyxl")
    path = tmp_path / "nvd.xlsx"
    flat = to_flat(tidy_nvd)
    columns = short_columns(flat)
    assert "configurations" not in columns
    flat[columns].to_excel(path, index=False)
    read = pd.read_excel(path)
    assert read.columns.tolist() == columns
    check_tidy_read_back(tidy_nvd, read)


def check_enriched_read_back(original: pd.DataFrame, read: pd.DataFrame) -> None:
    assert read["host"].tolist() == original["host"].tolist()
    scores = read["nvd_cvss_score"].astype(float)
    assert scores.tolist()[:2] == [10.0, 7.5]
    assert scores.iloc[2:].isna().all()
    added = pd.to_datetime(read["kev_date_added"])
    expected = as_naive_utc(original["kev_date_added"])
    assert added.iloc[:2].tolist() == expected.iloc[:2].tolist()
    assert added.iloc[2:].isna().all()
    ransomware: list[Any] = [
        None if pd.isna(value) else bool(value) for value in read["kev_ransomware"]
    ]
    assert ransomware == [True, False, None, None]
    assert json.loads(read["nvd_cwes"].iloc[0]) == ["CWE-20", "CWE-400", "CWE-502", "CWE-917"]
    assert read["nvd_cwes"].iloc[2:].isna().all()


def test_enriched_frame_every_writer(enriched: pd.DataFrame, tmp_path: Path) -> None:
    pytest.importorskip("openpyxl")
    flat = to_flat(enriched)
    assert flat.index.tolist() == [30, 10, 20, 40]

    flat.to_csv(tmp_path / "enriched.csv")
    check_enriched_read_back(enriched, pd.read_csv(tmp_path / "enriched.csv", index_col=0))

    flat.to_parquet(tmp_path / "enriched.parquet")
    from_parquet = pd.read_parquet(tmp_path / "enriched.parquet")
    assert from_parquet.index.tolist() == [30, 10, 20, 40]
    check_enriched_read_back(enriched, from_parquet)

    flat.to_excel(tmp_path / "enriched.xlsx")
    from_excel = pd.read_excel(tmp_path / "enriched.xlsx", index_col=0)
    assert from_excel.index.tolist() == [30, 10, 20, 40]
    check_enriched_read_back(enriched, from_excel)


def test_flat_option_on_magic(shell: InteractiveShell) -> None:
    run_cell(shell, "%vulncheck demo")
    outcome = run_cell(shell, "%vulncheck index vulncheck-kev --limit 20 --flat")
    assert outcome.error is None, outcome.text
    frame = outcome.result
    for column in frame.columns:
        values = frame[column].dropna()
        assert not values.map(lambda value: isinstance(value, list | dict)).any(), column
        assert getattr(frame[column].dtype, "tz", None) is None, column
    assert json.loads(frame["vulncheck_xdb"].iloc[0]) == []
