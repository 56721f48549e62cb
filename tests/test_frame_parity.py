"""The fast JSON-to-frame conversion gives exactly the frame of the reference conversion.

The reference is the plain algorithm that ``records_to_frame`` documents: flatten every
record, build the frame with ``pd.DataFrame(rows)``, then run the pandas date rule over every
column. The fast path reuses flat records without copying them and parses date columns in
Arrow, and cursor paging converts page by page and concatenates (``PagedFrame``). These
tests compare each with the reference on the real data of the demo API and tests/data, and
on generated records, with Arrow's date parser both on and off.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from unittest import mock

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vulncheck_magic import _frames
from vulncheck_magic._dates import parse_date_column
from vulncheck_magic._frames import (
    PagedFrame,
    flatten_records,
    frame_from_rows,
    records_to_frame,
)
from vulncheck_magic.demo._data import load_indexes

DATA = Path(__file__).parent / "data"
SETTINGS = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def reference_frame(records: list[Any]) -> pd.DataFrame:
    rows = [_frames._flatten_record(record) for record in records]
    if not rows:
        return pd.DataFrame()
    try:
        frame = named_frame(rows)
    except UnicodeEncodeError:
        frame = named_frame(_frames._replace_surrogates(rows))
    for position in range(frame.shape[1]):
        parsed = parse_date_column(frame.iloc[:, position])
        if parsed is not None:
            frame.isetitem(position, parsed)
    return frame


def named_frame(rows: list[dict[Any, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    if any(isinstance(column, _frames._KeyPath) for column in frame.columns):
        frame.columns = _frames._resolve_column_names(list(frame.columns))
    return frame


@contextmanager
def arrow_dates(enabled: bool) -> Iterator[None]:
    """Run with Arrow's date parser, or as if pyarrow were not installed."""
    if enabled:
        yield
    else:
        with mock.patch.object(_frames, "parse_date_values", lambda values: None):
            yield


def assert_same_frame(records: list[Any], *, arrow: bool = True) -> None:
    with arrow_dates(arrow):
        frame = records_to_frame(records)
        rows = frame_from_rows(
            [row for page in _pages(records, 3) for row in flatten_records(page)]
        )
        by_page = {size: paged_frame(records, size) for size in (1, 2, 5)}
    expected = reference_frame(records)
    pd.testing.assert_frame_equal(frame, expected)
    pd.testing.assert_frame_equal(rows, expected)
    for size, paged in by_page.items():
        pd.testing.assert_frame_equal(paged, expected, obj=f"pages of {size}")


def paged_frame(records: list[Any], size: int) -> pd.DataFrame:
    assembler = PagedFrame()
    for page in _pages(records, size):
        assembler.add(page)
    return assembler.frame()


def _pages(records: list[Any], size: int) -> list[list[Any]]:
    return [records[start : start + size] for start in range(0, len(records), size)]


def response_records(path: Path) -> list[Any]:
    """Return the records of a response envelope, or a file's one record in a list."""
    body = json.loads(path.read_text(encoding="utf-8"))
    data = body.get("data", body) if isinstance(body, dict) else body
    return data if isinstance(data, list) else [data]


# --- real data ------------------------------------------------------------------------


@pytest.mark.parametrize("arrow", [True, False], ids=["arrow", "pandas"])
@pytest.mark.parametrize("index", ["vulncheck-kev", "cisa-kev", "nist-nvd2"])
def test_demo_index_matches_reference(index: str, arrow: bool) -> None:
    records = json.loads(json.dumps(load_indexes()[index].records))

    assert_same_frame(records, arrow=arrow)


@pytest.mark.parametrize(
    "path",
    sorted(DATA.glob("*.json")) + sorted((DATA / "nvd2").glob("*.json")),
    ids=lambda path: path.name,
)
def test_sample_matches_reference(path: Path) -> None:
    assert_same_frame(response_records(path))


def test_nvd_files_together_match_reference() -> None:
    paths = sorted((DATA / "nvd2").glob("CVE-*.json"))
    records = [record for path in paths for record in response_records(path)]

    assert_same_frame(records)


def test_flat_records_are_not_copied() -> None:
    records = [{"cve": "CVE-2021-44228", "date_added": "2021-12-10T00:00:00Z"}]

    assert flatten_records(records)[0] is records[0]


def test_nested_records_are_flattened() -> None:
    records = [{"cve": "CVE-2021-44228"}, {"timeline": {"nvd_published": "2021-12-10"}}]

    rows = flatten_records(records)

    assert rows == [{"cve": "CVE-2021-44228"}, {"timeline.nvd_published": "2021-12-10"}]


def test_kev_date_columns_parse_in_arrow() -> None:
    records = json.loads(json.dumps(load_indexes()["vulncheck-kev"].records))

    with mock.patch.object(_frames, "parse_date_column", side_effect=AssertionError):
        frame = records_to_frame(records)

    assert str(frame["date_added"].dtype) == "datetime64[ns, UTC]"


# --- generated records ----------------------------------------------------------------

zones = st.sampled_from(
    [None, UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
)
date_values = st.one_of(
    st.dates().map(lambda day: day.isoformat()),
    st.builds(datetime.isoformat, st.datetimes(timezones=zones)),
    st.builds(lambda moment: moment.isoformat(sep=" "), st.datetimes()),
    st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
        r"(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?",
        fullmatch=True,
    ),
    st.sampled_from(["2021-02-30", "9999-12-31", "1677-09-21T00:12:43.145224191Z"]),
    st.sampled_from(["2262-04-11T23:47:16.854775807", "2024-01-31T10:15:09.1234567890Z"]),
    st.sampled_from(["", "", "2024-01-31T24:00:00", "2024-01-31T23:59:60", "\ud800"]),
)
cell_values = st.one_of(
    date_values,
    date_values,
    st.none(),
    st.just(float("nan")),
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**64 + 2),
    st.sampled_from([-(2**63), 10**30]),
    st.floats(allow_nan=False),
    st.booleans(),
    st.text(max_size=8),
    st.lists(date_values, max_size=2),
    st.dictionaries(st.sampled_from(["at", "b.c"]), date_values, max_size=2),
)
column_values = st.sampled_from(["date", "zoned", "naive", "mixed", "any"])


@st.composite
def record_lists(draw: st.DrawFn) -> list[Any]:
    """Records whose columns are mostly dates of one kind, so that both parsers run."""
    names = ["a", "b", "c.d", "e", "é", "\ud800", "\udfff"]
    keys = draw(st.lists(st.sampled_from(names), max_size=4, unique=True))
    kinds = {key: draw(column_values) for key in keys}
    strategies = {
        "date": date_values,
        "zoned": st.builds(datetime.isoformat, st.datetimes(timezones=st.just(UTC))),
        "naive": st.builds(datetime.isoformat, st.datetimes()),
        "mixed": date_values | st.none() | st.just(""),
        "any": cell_values,
    }
    records: list[Any] = []
    for _ in range(draw(st.integers(min_value=0, max_value=12))):
        present = draw(st.lists(st.sampled_from(keys), unique=True)) if keys else []
        records.append({key: draw(strategies[kinds[key]]) for key in present})
    if records and draw(st.booleans()):
        records.insert(draw(st.integers(0, len(records))), draw(cell_values))
    return records


@pytest.mark.parametrize("arrow", [True, False], ids=["arrow", "pandas"])
@SETTINGS
@given(records=record_lists())
def test_generated_records_match_reference(records: list[Any], arrow: bool) -> None:
    assert_same_frame(records, arrow=arrow)
