"""Tests for records_to_frame, the JSON-records-to-DataFrame conversion.

The files in tests/data are VulnCheck API v3 response envelopes whose field names follow
VulnCheck's public schema (values partly invented) and, in tests/data/nvd2, public-domain
NIST NVD CVE API 2.0 records, the record shape of the ``nist-nvd2`` index.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from vulncheck_magic._frames import records_to_frame

DATA = Path(__file__).parent / "data"
UTC_NS = "datetime64[ns, UTC]"


def load_data(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))["data"]


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT


def is_utc_ns(series: pd.Series) -> bool:
    return str(series.dtype) == UTC_NS


# --- shape and flattening -------------------------------------------------------------


def test_empty_data_gives_empty_frame() -> None:
    frame = records_to_frame([])

    assert frame.shape == (0, 0)


def test_nested_objects_flatten_to_dotted_columns() -> None:
    records = [{"id": "CVE-1", "epss": {"score": 0.5}, "a": {"b": {"c": {"d": 1}}}}]

    frame = records_to_frame(records)

    assert list(frame.columns) == ["id", "epss.score", "a.b.c.d"]
    assert frame.loc[0, "epss.score"] == 0.5
    assert frame.loc[0, "a.b.c.d"] == 1


def test_one_row_per_record() -> None:
    frame = records_to_frame([{"x": 1}, {"x": 2}, {"x": 3}])

    assert len(frame) == 3
    assert frame["x"].tolist() == [1, 2, 3]


def test_column_order_follows_first_appearance() -> None:
    records = [{"b": 1, "n": {"z": 1}, "a": 2}, {"c": 3, "a": 4, "n": {"y": 2}}]

    frame = records_to_frame(records)

    assert list(frame.columns) == ["b", "n.z", "a", "c", "n.y"]


def test_missing_keys_give_missing_values() -> None:
    frame = records_to_frame([{"a": 1, "b": "x"}, {"a": 2}, {"b": "y", "t": {"u": 5}}])

    assert is_missing(frame.loc[1, "b"])
    assert is_missing(frame.loc[2, "a"])
    assert is_missing(frame.loc[0, "t.u"])
    assert frame.loc[2, "t.u"] == 5


def test_mixed_types_stay_object() -> None:
    records = [{"v": 1}, {"v": "one"}, {"v": [1]}, {"v": True}, {"v": None}]

    frame = records_to_frame(records)

    assert frame["v"].dtype == object
    assert frame.loc[0, "v"] == 1
    assert frame.loc[1, "v"] == "one"
    assert frame.loc[2, "v"] == [1]
    assert frame.loc[3, "v"] is True


def test_scalar_lists_stay_lists() -> None:
    frame = records_to_frame([{"cve": ["CVE-1", "CVE-2"]}, {"cve": []}])

    assert frame.loc[0, "cve"] == ["CVE-1", "CVE-2"]
    assert frame.loc[1, "cve"] == []
    assert len(frame) == 2


def test_lists_of_objects_stay_whole() -> None:
    xdb = [{"xdb_id": "a", "date_added": "2024-01-01T00:00:00Z"}, {"xdb_id": "b"}]

    frame = records_to_frame([{"vulncheck_xdb": xdb}])

    assert len(frame) == 1
    assert list(frame.columns) == ["vulncheck_xdb"]
    assert frame.loc[0, "vulncheck_xdb"] == xdb


def test_empty_nested_object_adds_no_column() -> None:
    frame = records_to_frame([{"id": 1, "metadata": {}}])

    assert list(frame.columns) == ["id"]


def test_object_and_scalar_under_same_key() -> None:
    frame = records_to_frame([{"a": 1}, {"a": {"b": 2}}])

    assert list(frame.columns) == ["a", "a.b"]
    assert frame.loc[0, "a"] == 1
    assert frame.loc[1, "a.b"] == 2


def test_special_keys_survive_as_columns() -> None:
    keys = ["_timestamp_x", "url_us-east-1", "key with spaces", "prénom", "日本", "__x__", "-"]
    record = dict.fromkeys(keys, "v")

    frame = records_to_frame([record])

    assert list(frame.columns) == keys


def test_nested_special_keys_survive() -> None:
    frame = records_to_frame([{"_meta": {"url_eu-west-2": 1, "a b": {"ü": 2}}}])

    assert list(frame.columns) == ["_meta.url_eu-west-2", "_meta.a b.ü"]


# --- keys that contain dots -----------------------------------------------------------


def test_dotted_key_without_collision_keeps_name() -> None:
    frame = records_to_frame([{"version.major": 3, "nested": {"x.y": 4}}])

    assert list(frame.columns) == ["version.major", "nested.x.y"]
    assert frame.loc[0, "version.major"] == 3
    assert frame.loc[0, "nested.x.y"] == 4


def test_dotted_key_collision_keeps_both() -> None:
    frame = records_to_frame([{"a.b": 1, "a": {"b": 2}}])

    assert sorted(frame.columns) == ["[a.b]", "a.b"]
    assert frame.loc[0, "a.b"] == 2
    assert frame.loc[0, "[a.b]"] == 1


def test_dotted_key_collision_independent_of_order() -> None:
    frame = records_to_frame([{"a": {"b": 2}}, {"a.b": 1}])

    assert list(frame.columns) == ["a.b", "[a.b]"]
    assert frame.loc[0, "a.b"] == 2
    assert frame.loc[1, "[a.b]"] == 1
    assert is_missing(frame.loc[0, "[a.b]"])


def test_dotted_key_collision_across_records() -> None:
    frame = records_to_frame([{"a.b": 1}, {"a": {"b": 2}}])

    assert list(frame.columns) == ["[a.b]", "a.b"]
    assert frame["[a.b]"].iloc[0] == 1
    assert frame["a.b"].iloc[1] == 2


def test_dotted_key_collision_tie_brackets_all() -> None:
    frame = records_to_frame([{"a.b": {"c": 1}, "a": {"b.c": 2}}])

    assert list(frame.columns) == ["[a.b].c", "a.[b.c]"]
    assert frame.loc[0, "[a.b].c"] == 1
    assert frame.loc[0, "a.[b.c]"] == 2


def test_dotted_key_collision_most_parts_wins() -> None:
    frame = records_to_frame([{"a.b.c": 1, "a": {"b.c": 2}, "x": {"y": 0}}])

    assert list(frame.columns) == ["[a.b.c]", "a.b.c", "x.y"]
    assert frame.loc[0, "a.b.c"] == 2
    assert frame.loc[0, "[a.b.c]"] == 1


# --- records that are not objects -----------------------------------------------------


def test_string_records_go_to_value_column() -> None:
    frame = records_to_frame(["CVE-2010-0246", "CVE-2010-0490"])

    assert list(frame.columns) == ["value"]
    assert frame["value"].tolist() == ["CVE-2010-0246", "CVE-2010-0490"]


def test_mixed_object_and_scalar_records() -> None:
    frame = records_to_frame([{"a": 1}, 7, None])

    assert list(frame.columns) == ["a", "value"]
    assert frame.loc[1, "value"] == 7
    assert is_missing(frame.loc[0, "value"])
    assert is_missing(frame.loc[2, "value"])


@pytest.mark.parametrize("records", ["CVE-1", b"CVE-1", {"data": []}])
def test_non_sequence_records_raise(records: Any) -> None:
    with pytest.raises(TypeError, match="data"):
        records_to_frame(records)


def test_tuple_of_records_accepted() -> None:
    frame = records_to_frame(({"a": 1}, {"a": 2}))

    assert frame["a"].tolist() == [1, 2]


# --- dates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-12-10", "2021-12-10T00:00:00+00:00"),
        ("2021-12-10T10:15:09.143", "2021-12-10T10:15:09.143+00:00"),
        ("2026-10-20T14:02:11.519874302Z", "2026-10-20T14:02:11.519874302+00:00"),
        ("2024-06-09T20:15:49Z", "2024-06-09T20:15:49+00:00"),
        ("2024-06-09T20:15:49+00:00", "2024-06-09T20:15:49+00:00"),
        ("2024-06-09T22:15:49+02:00", "2024-06-09T20:15:49+00:00"),
        ("2024-06-09T15:15:49-0500", "2024-06-09T20:15:49+00:00"),
        ("2024-06-09 20:15:49", "2024-06-09T20:15:49+00:00"),
        ("2024-06-09T20:15", "2024-06-09T20:15:00+00:00"),
    ],
)
def test_date_forms_become_utc(text: str, expected: str) -> None:
    frame = records_to_frame([{"t": text}])

    assert is_utc_ns(frame["t"])
    assert frame.loc[0, "t"] == pd.Timestamp(expected)


def test_naive_timestamps_read_as_utc() -> None:
    frame = records_to_frame([{"published": "2019-12-27T14:15:10.987"}])

    assert str(frame.loc[0, "published"].tz) == "UTC"
    assert frame.loc[0, "published"].hour == 14


def test_mixed_date_forms_in_one_column() -> None:
    values = ["2021-12-10", "2021-12-10T10:15:09.143", "2026-10-20T14:02:11.519874302Z"]

    frame = records_to_frame([{"t": value} for value in values])

    assert is_utc_ns(frame["t"])
    assert frame["t"].tolist() == [
        pd.Timestamp("2021-12-10", tz="UTC"),
        pd.Timestamp("2021-12-10T10:15:09.143", tz="UTC"),
        pd.Timestamp("2026-10-20T14:02:11.519874302", tz="UTC"),
    ]


def test_nanosecond_precision_survives() -> None:
    frame = records_to_frame([{"t": "2026-10-20T14:02:11.519874302Z"}])

    stamp = frame.loc[0, "t"]
    assert stamp.microsecond == 519874
    assert stamp.nanosecond == 302
    assert frame["t"].dtype.unit == "ns"


def test_day_only_dates_use_nanoseconds() -> None:
    frame = records_to_frame([{"d": "2021-12-10"}, {"d": "2022-01-31"}])

    assert frame["d"].dtype.unit == "ns"


def test_one_non_date_string_keeps_strings() -> None:
    values = ["2021-12-10", "2021-12-11", "not a date"]

    frame = records_to_frame([{"d": value} for value in values])

    assert not pd.api.types.is_datetime64_any_dtype(frame["d"])
    assert frame["d"].tolist() == values


def test_non_date_first_value_keeps_strings() -> None:
    values = ["soon", "2021-12-11"]

    frame = records_to_frame([{"d": value} for value in values])

    assert frame["d"].tolist() == values


def test_empty_string_is_missing_date() -> None:
    values = ["2021-12-10", ""]

    frame = records_to_frame([{"d": value} for value in values])

    assert str(frame["d"].dtype) == "datetime64[ns, UTC]"
    assert frame["d"].iloc[0] == pd.Timestamp("2021-12-10", tz="UTC")
    assert pd.isna(frame["d"].iloc[1])


def test_all_empty_strings_stay_strings() -> None:
    frame = records_to_frame([{"d": ""}, {"d": ""}])

    assert frame["d"].tolist() == ["", ""]


def test_dates_with_missing_values_convert() -> None:
    frame = records_to_frame([{"d": "2021-12-10"}, {"d": None}, {"x": 1}])

    assert is_utc_ns(frame["d"])
    assert frame["d"].isna().tolist() == [False, True, True]


def test_all_null_column_unchanged() -> None:
    frame = records_to_frame([{"d": None}, {"d": None}])

    assert not pd.api.types.is_datetime64_any_dtype(frame["d"])
    assert frame["d"].isna().all()


def test_numeric_columns_not_converted() -> None:
    frame = records_to_frame([{"year": 2021, "epoch": 1700000000, "score": 9.8}])

    assert pd.api.types.is_integer_dtype(frame["year"])
    assert pd.api.types.is_integer_dtype(frame["epoch"])
    assert pd.api.types.is_float_dtype(frame["score"])


def test_date_and_number_mix_not_converted() -> None:
    frame = records_to_frame([{"d": "2021-12-10"}, {"d": 20211210}])

    assert frame["d"].tolist() == ["2021-12-10", 20211210]


@pytest.mark.parametrize(
    "text",
    ["2021", "2021-12", "20211210", "2021-12-10T10", "2021-12-10t10:15:00", "12/10/2021"],
)
def test_non_iso_strings_not_converted(text: str) -> None:
    frame = records_to_frame([{"d": text}])

    assert frame.loc[0, "d"] == text


def test_impossible_date_keeps_strings() -> None:
    frame = records_to_frame([{"d": "2021-12-10"}, {"d": "2021-02-30"}])

    assert frame["d"].tolist() == ["2021-12-10", "2021-02-30"]


def test_date_beyond_nanosecond_range_keeps_strings() -> None:
    frame = records_to_frame([{"eol": "2030-01-01"}, {"eol": "9999-12-31"}])

    assert frame["eol"].tolist() == ["2030-01-01", "9999-12-31"]


def test_parse_dates_false_keeps_strings() -> None:
    frame = records_to_frame([{"d": "2021-12-10"}], parse_dates=False)

    assert frame.loc[0, "d"] == "2021-12-10"


def test_dates_inside_lists_stay_strings() -> None:
    frame = records_to_frame([{"xdb": [{"date_added": "2025-02-14T19:38:10Z"}]}])

    assert frame.loc[0, "xdb"] == [{"date_added": "2025-02-14T19:38:10Z"}]


def test_bracketed_column_converted_to_dates() -> None:
    frame = records_to_frame([{"a.b": "2021-12-10", "a": {"b": 1}}])

    assert is_utc_ns(frame["[a.b]"])


# --- real response data ---------------------------------------------------------------


def test_vulncheck_kev_sample() -> None:
    frame = records_to_frame(load_data("vulncheck-kev-cve.json"))

    assert len(frame) == 1
    assert frame.loc[0, "cve"] == ["CVE-2024-4577"]
    assert frame.loc[0, "cwes"] == ["CWE-78"]
    assert len(frame.loc[0, "vulncheck_xdb"]) == 2
    assert frame.loc[0, "vulncheck_xdb"][0]["xdb_id"] == "024996c990cc"
    for column in ["date_added", "dueDate", "cisa_date_added", "_timestamp", "updated_at"]:
        assert is_utc_ns(frame[column]), column
    assert frame.loc[0, "_timestamp"] == pd.Timestamp("2026-10-19T08:14:55.123456", tz="UTC")
    assert frame.loc[0, "vendorProject"] == "PHP Group"
    assert frame.loc[0, "reported_exploited_by_vulncheck_canaries"]


def test_exploits_sample() -> None:
    frame = records_to_frame(load_data("exploits-cve.json"))

    assert "timeline.nvd_published" in frame.columns
    assert "counts.exploits" in frame.columns
    assert "epss.epss_score" in frame.columns
    assert "trending.github" in frame.columns
    assert "exploits" in frame.columns
    assert frame.loc[0, "counts.exploits"] == 57
    assert is_utc_ns(frame["timeline.nvd_published"])
    assert is_utc_ns(frame["epss.last_modified"])
    assert len(frame.loc[0, "exploits"]) == 2
    assert frame.loc[0, "max_exploit_maturity"] == "weaponized"
    columns = list(frame.columns)
    assert columns.index("epss.epss_score") < columns.index("counts.exploits")
    assert columns.index("counts.exploits") < columns.index("timeline.nvd_published")


def test_cpe_sample_gives_value_column() -> None:
    frame = records_to_frame(load_data("cpe.json"))

    assert list(frame.columns) == ["value"]
    assert len(frame) == 15
    assert frame.loc[0, "value"] == "CVE-2010-0246"


def test_backup_sample_keeps_region_keys() -> None:
    frame = records_to_frame(load_data("backup-index.json"))

    assert "url_us-east-1" in frame.columns
    assert "url_ap-southeast-2" in frame.columns
    assert frame.loc[0, "url_ttl_minutes"] == 60
    assert is_utc_ns(frame["url_expires"])
    assert is_utc_ns(frame["date_added"])
    assert frame.loc[0, "date_added"] == pd.Timestamp("2024-02-12T20:20:54.529", tz="UTC")


def test_ipintel_sample() -> None:
    frame = records_to_frame(load_data("ipintel-3d.json"))

    assert len(frame) == 2
    assert frame["type.id"].tolist() == ["initial-access", "c2"]
    assert frame.loc[1, "hostnames"] == []
    assert frame["port"].tolist() == [443, 8443]
    assert is_utc_ns(frame["lastSeen"])


def test_nvd_records() -> None:
    names = ["CVE-2024-3400.json", "CVE-2023-50164.json", "CVE-2018-13379.json"]
    records = [json.loads((DATA / "nvd2" / name).read_text(encoding="utf-8")) for name in names]

    frame = records_to_frame(records)

    assert frame["id"].tolist() == ["CVE-2024-3400", "CVE-2023-50164", "CVE-2018-13379"]
    assert "metrics.cvssMetricV31" in frame.columns
    assert "metrics.cvssMetricV2" in frame.columns
    assert is_missing(frame.loc[0, "metrics.cvssMetricV2"])
    metric = frame.loc[1, "metrics.cvssMetricV31"][0]
    assert metric["cvssData"]["baseScore"] == 9.8
    assert is_utc_ns(frame["published"])
    assert frame.loc[1, "published"] == pd.Timestamp("2023-12-07T09:15:07.060", tz="UTC")
    assert is_utc_ns(frame["cisaExploitAdd"])
    assert pd.isna(frame.loc[1, "cisaExploitAdd"])
    assert is_missing(frame.loc[0, "configurations"])
    assert isinstance(frame.loc[0, "descriptions"], list)
