"""Property-based tests of the magic-line parser and of the JSON-to-frame conversion.

The default run tries 200 examples per property. The tests marked slow try 10,000 examples
per property and run only when the environment variable VULNCHECK_SLOW is set, for example
``VULNCHECK_SLOW=1 pytest -m slow tests/test_fuzz.py --hypothesis-show-statistics``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shlex
import tempfile
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from IPython.core.error import UsageError

from vulncheck_magic._catalog import index_names, index_parameters
from vulncheck_magic._frames import records_to_frame
from vulncheck_magic._params import (
    DATE_PARAMETERS,
    InvalidParameterError,
    normalize_index_params,
)
from vulncheck_magic._parser import (
    HelpRequested,
    build_parser,
    index_params,
    parse_line,
    split_line,
    subparsers,
)
from vulncheck_magic._reshape import explode_field

# A deep or long example can take longer to generate than Hypothesis expects.
_HEALTH_CHECKS = [HealthCheck.too_slow, HealthCheck.data_too_large]
DEFAULT_SETTINGS = settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=_HEALTH_CHECKS
)
SLOW_SETTINGS = settings(
    max_examples=10_000, deadline=None, database=None, suppress_health_check=_HEALTH_CHECKS
)
needs_slow_opt_in = pytest.mark.skipif(
    not os.environ.get("VULNCHECK_SLOW"), reason="set VULNCHECK_SLOW=1 to run the slow fuzz tests"
)


# Hypothesis caches Unicode tables and the constants of local source files in its storage
# directory, ./.hypothesis by default. Its pytest plugin fills that cache while collecting,
# before any fixture runs, so the directory is moved here, at import time.
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "vulncheck-magic-hypothesis")


# --- magic lines ----------------------------------------------------------------------

# The magic reuses one parser for every line, so the tests do too.
PARSER = build_parser()


def command_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Return every command's parser by the words that start it, ``search cpe`` included."""
    result = {}
    for name, subparser in subparsers(parser).items():
        result[name] = subparser
        for kind, kind_parser in subparsers(subparser).items():
            result[f"{name} {kind}"] = kind_parser
    return result


def option_strings(parser: argparse.ArgumentParser) -> list[str]:
    return sorted({option for action in parser._actions for option in action.option_strings})


COMMAND_PARSERS = command_parsers(PARSER)
OPTIONS_BY_COMMAND = {name: option_strings(parser) for name, parser in COMMAND_PARSERS.items()}
ALL_OPTIONS = sorted({option for options in OPTIONS_BY_COMMAND.values() for option in options})
INDEX_NAMES = sorted(index_names())
CATALOG_SPECS = {key: spec for name in INDEX_NAMES for key, spec in index_parameters(name).items()}
CATALOG_OPTIONS = sorted(f"--{key}" for key in CATALOG_SPECS)
ENUM_VALUES = sorted({value for spec in CATALOG_SPECS.values() for value in spec.enum or ()})

# Values the options take, spelled in other letter cases and with spaces around them.
CHOICE_VALUES = ["asc", "DESC", " desc ", "header", "Query", "COOKIE", "snort", "Suricata"]
CHOICE_VALUES += ["a", "O", "h", "true", "False", "TRUE ", "yes", "1", "0"]
PARAMETER_KEYS = ["token", "cve", "limit", "page", "order", "sort", "cursor", "start_cursor"]
PARAMETER_KEYS += ["date", "pubStartDate", "pubEndDate", "lastModStartDate", "in_kev", ""]
PUNCTUATION = ["=", "#", "# comment", "'", '"', "\\", "--", "-", "a#b", "''", '""', "x=y=z"]

huge_numbers = st.one_of(
    st.integers(min_value=2**63 - 2, max_value=10**40).map(str),
    # Since Python 3.11, int() raises ValueError for strings of more than 4300 digits.
    st.integers(min_value=4290, max_value=4310).map(lambda digits: "9" * digits),
    st.sampled_from(["1e999", "inf", "-inf", "nan", "1_000", "0x10", "+5", " 7 ", "1.5"]),
)
date_words = st.one_of(
    st.dates().map(date.isoformat),
    st.sampled_from(["2021-02-30", "2021-13-01", "0000-00-00", "9999-12-31", "2024-1-5"]),
    st.sampled_from(["2024/01/31", "31-01-2024", "2024-01-31T10:00:00Z", " 2024-01-31 "]),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True),
)
cve_words = st.one_of(
    st.sampled_from(["CVE-2021-44228", " cve-2021-44228 ", "CVE-2021-4422", "CVE-21-44228"]),
    st.from_regex(r"[cC][vV][eE]-\d{1,5}-\d{1,8}", fullmatch=True),
)
value_words = st.one_of(
    st.integers().map(str),
    st.integers(max_value=-1).map(str),
    huge_numbers,
    date_words,
    cve_words,
    st.just(""),
    st.text(max_size=30),
    st.sampled_from(CHOICE_VALUES + ENUM_VALUES + INDEX_NAMES),
    st.sampled_from(["pkg:npm/lodash@4.17.20", "cpe:2.3:a:apache:log4j:2.14.1", "/v3/index"]),
    st.builds(
        "{}={}".format,
        st.sampled_from(PARAMETER_KEYS) | st.text(max_size=10),
        st.one_of(date_words, cve_words, huge_numbers, st.text(max_size=10)),
    ),
)
option_words = st.one_of(
    st.sampled_from(ALL_OPTIONS),
    st.sampled_from(CATALOG_OPTIONS),
    st.sampled_from(["-h", "--help", "-o", "--", "-"]),
    st.text(max_size=15).map("--{}".format),
    st.characters().map("-{}".format),
    st.builds("{}={}".format, st.sampled_from(ALL_OPTIONS + CATALOG_OPTIONS), value_words),
)
command_words = st.one_of(
    st.sampled_from(sorted(COMMAND_PARSERS)),
    st.sampled_from(["", "-h", "--help", "--", "-x", "Index", "serch", "#", "search foo"]),
    st.text(max_size=12),
)


def render_word(word: str, quoting: str) -> str:
    """Write ``word`` into a line bare, shell-quoted or in double quotes."""
    if quoting == "shell":
        return shlex.quote(word)
    if quoting == "double":
        return f'"{word}"'
    return word


@st.composite
def magic_lines(draw: st.DrawFn) -> str:
    """A line that mixes real commands and options with random words, values and quotes."""
    command = draw(command_words)
    own_options = OPTIONS_BY_COMMAND.get(command, ALL_OPTIONS)
    words = []
    takes_argument = command in ("index", "backup", "purl", "cpe", "get", "rules", "search cve")
    # Half of these lines give the positional argument first, as users do.
    if takes_argument and draw(st.booleans()):
        words.append(draw(st.sampled_from(INDEX_NAMES) | value_words))
    if command == "index" and words:
        # The catalog's own parameters of the index, such as --max_exploit_maturity.
        own_options = own_options + [f"--{key}" for key in index_parameters(words[0])]
    word = st.one_of(
        st.sampled_from(own_options),
        value_words,
        st.sampled_from(own_options),
        option_words,
        st.sampled_from(PUNCTUATION),
    )
    words += draw(st.lists(word, max_size=8))
    quoting = st.sampled_from(["bare", "bare", "shell", "double"])
    # A nested command such as "search cve" is two words, so quoting must not join them.
    command_parts = command.split(" ") if command in COMMAND_PARSERS else [command]
    rendered = [render_word(item, draw(quoting)) for item in [*command_parts, *words]]
    separator = draw(st.sampled_from([" ", " ", "  ", "\t"]))
    return separator.join(rendered)


def option_values(action: argparse.Action) -> st.SearchStrategy[str]:
    """Values for an option: mostly of the kind it expects, sometimes anything."""
    name = action.dest
    if action.choices:
        expected = st.sampled_from(sorted(action.choices)) | st.sampled_from(CHOICE_VALUES)
    elif name in DATE_PARAMETERS:
        expected = date_words
    elif name == "cve":
        expected = cve_words
    elif name in ("limit", "page", "max_pages", "max_rows", "port"):
        expected = st.integers(min_value=-5, max_value=10**6).map(str) | huge_numbers
    elif name == "param":
        expected = st.builds(
            "{}={}".format,
            st.sampled_from(PARAMETER_KEYS + sorted(CATALOG_SPECS)),
            st.one_of(date_words, cve_words, huge_numbers, st.sampled_from(ENUM_VALUES)),
        )
    else:
        expected = st.text(max_size=20)
    return st.one_of(expected, expected, expected, value_words)


@st.composite
def well_formed_lines(draw: st.DrawFn) -> str:
    """A line of a real command whose options mostly get a value of the expected kind."""
    command = draw(st.sampled_from(sorted(COMMAND_PARSERS)))
    parser = COMMAND_PARSERS[command]
    words = command.split(" ")
    for action in parser._actions:
        if not action.option_strings and not isinstance(action, argparse._SubParsersAction):
            words.append(draw(st.sampled_from(INDEX_NAMES) | option_values(action)))
    options = [
        action
        for action in parser._actions
        if action.option_strings and not isinstance(action, argparse._HelpAction)
    ]
    chosen = draw(st.lists(st.sampled_from(options), max_size=5)) if options else []
    for action in chosen:
        option = draw(st.sampled_from(action.option_strings))
        if action.nargs == 0:
            words.append(option)
        elif draw(st.booleans()):
            words.append(f"{option}={draw(option_values(action))}")
        else:
            words += [option, draw(option_values(action))]
    specs = index_parameters(words[1]) if command == "index" else {}
    if specs:
        # The catalog's own parameters of the index, paging ones included (those are rejected).
        for key in draw(st.lists(st.sampled_from(sorted(specs)), max_size=3)):
            expected = st.sampled_from(specs[key].enum or ("true", "false"))
            words += [f"--{key}", draw(expected | value_words)]
    return " ".join(shlex.quote(word) for word in words)


any_lines = st.one_of(magic_lines(), well_formed_lines(), well_formed_lines(), st.text(max_size=80))


def query_params(namespace: argparse.Namespace) -> dict[str, Any]:
    """Return the query parameters a parsed data command sends, before normalization."""
    command = namespace.command
    if command == "index":
        return index_params(namespace)
    if command == "get":
        return dict(namespace.param)
    if command == "purl":
        return {"purl": namespace.purl}
    if command == "cpe":
        return {"cpe": namespace.cpe, "isVulnerable": True if namespace.vulnerable else None}
    if command == "search" and namespace.search_kind == "cpe":
        return {
            "part": namespace.part,
            "vendor": namespace.vendor,
            "product": namespace.product,
            "version": namespace.version,
            "isVulnerable": True if namespace.vulnerable else None,
        }
    if command == "search" and namespace.search_kind == "cve":
        return {"cve": namespace.cve, "limit": namespace.limit, "page": namespace.page}
    return {}


def asks_for_help(line: str) -> bool:
    """Whether a word of the line is ``--help``, or ``-h`` alone or chained (``-hh``)."""
    return any(word == "--help" or word.startswith("-h") for word in split_line(line))


def check_magic_line(line: str) -> None:
    """Assert that the line parses, prints help, or raises UsageError or InvalidParameterError.

    Only help may print anything. The query parameters of a parsed line must then normalize
    or raise one of those two errors.
    """
    stdout = io.StringIO()
    stderr = io.StringIO()
    namespace = None
    help_requested = False
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            namespace = parse_line(PARSER, line)
        except HelpRequested:
            help_requested = True
        except (UsageError, InvalidParameterError) as exc:
            event(f"parse_line raised {type(exc).__name__}")

    assert stderr.getvalue() == ""
    if help_requested:
        event("parse_line printed help")
        assert asks_for_help(line)
        assert stdout.getvalue().strip() != ""
        return
    assert stdout.getvalue() == ""
    if namespace is None:
        return

    assert namespace.command is None or namespace.command in subparsers(PARSER)
    try:
        wire = normalize_index_params(query_params(namespace))
    except (UsageError, InvalidParameterError) as exc:
        event(f"parsed, then the parameters raised {type(exc).__name__}")
        return
    event("parsed, and the parameters are valid")
    assert all(isinstance(value, str) for value in wire.values())
    assert "token" not in wire


@DEFAULT_SETTINGS
@given(any_lines)
def test_magic_line_parses_or_rejects(line: str) -> None:
    check_magic_line(line)


@pytest.mark.slow
@needs_slow_opt_in
@SLOW_SETTINGS
@given(any_lines)
def test_magic_line_many_examples(line: str) -> None:
    check_magic_line(line)


# --- JSON records ---------------------------------------------------------------------

json_keys = st.one_of(
    st.sampled_from(["id", "cve", "value", "a", "b", "c", "a.b", "a.b.c", "b.c", "[a.b]"]),
    st.sampled_from(["", ".", "..", "a.", ".a", "_timestamp", "url_us-east-1", "x-y", "a b"]),
    st.sampled_from(["date_added", "é", "名前", "a (2)", "0", "None", "nan"]),
    st.text(max_size=12),
)
utc_offsets = st.sampled_from(
    [None, UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
)
date_strings = st.one_of(
    st.dates().map(date.isoformat),
    st.builds(datetime.isoformat, st.datetimes(timezones=utc_offsets)),
    st.builds(lambda moment: moment.isoformat(sep=" "), st.datetimes()),
    st.sampled_from(["2021-02-30", "2021-13-01", "0000-00-00", "9999-12-31", "1677-09-21"]),
    st.sampled_from(["2262-04-12", "2024-01-31T25:00:00", "2024-01-31T10:15:09.1234567890Z"]),
    st.sampled_from(["2024-01-31T10:15:09+0530", "2024-01-31 10:15", "2024-1-5", "", " "]),
    st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
        r"(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?",
        fullmatch=True,
    ),
)
long_strings = st.builds(
    lambda text, count: text * count, st.text(min_size=1, max_size=3), st.integers(1000, 10_000)
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**64 + 2),
    st.integers(min_value=-(2**64), max_value=-(2**63) + 2),
    st.sampled_from([10**30, -(10**30), 10**400]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    long_strings,
    date_strings,
    cve_words,
)


def json_containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=4) | st.dictionaries(json_keys, children, max_size=4)


json_values = st.recursive(json_scalars, json_containers, max_leaves=15)


@st.composite
def deep_values(draw: st.DrawFn) -> Any:
    """A value nested 1 to 20 levels deep in objects and lists."""
    value = draw(json_values)
    for _ in range(draw(st.integers(min_value=1, max_value=20))):
        value = {draw(json_keys): value} if draw(st.booleans()) else [value]
    return value


json_objects = st.dictionaries(json_keys, json_values | deep_values(), max_size=6)
# Mostly objects, as in a response's data list, with some scalar and list records mixed in.
json_records = st.lists(
    st.one_of(json_objects, json_objects, json_objects, json_values), max_size=8
)


def expected_exploded_rows(values: list[Any]) -> int:
    # pandas' explode gives one row per list item, and one row for an empty list or a scalar.
    return sum(max(len(value), 1) if isinstance(value, list) else 1 for value in values)


def check_records(records: list[Any]) -> pd.DataFrame:
    """Assert one row per record, with unique str column names.

    Every list column must then explode to the expected number of rows or raise
    InvalidParameterError.
    """
    frame = records_to_frame(records)

    assert len(frame) == len(records)
    assert all(isinstance(column, str) for column in frame.columns)
    assert frame.columns.is_unique
    list_columns = [
        column
        for column in frame.columns
        if frame[column].map(lambda value: isinstance(value, list)).any()
    ]
    for column in list_columns:
        try:
            exploded = explode_field(frame, column)
        except InvalidParameterError:
            continue
        assert len(exploded) == expected_exploded_rows(frame[column].tolist())
    return frame


@DEFAULT_SETTINGS
@given(json_records)
def test_records_give_one_row_each(records: list[Any]) -> None:
    check_records(records)


@pytest.mark.slow
@needs_slow_opt_in
@SLOW_SETTINGS
@given(json_records)
def test_records_many_examples(records: list[Any]) -> None:
    check_records(records)


# pandas 3 stores str columns and labels in Arrow when pyarrow is installed (seen with
# pandas 3.1.1 and pyarrow 26.0.1), and in Python objects otherwise.
ARROW_STRINGS = getattr(pd.Series(["x"]).dtype, "storage", None) == "pyarrow"


# json.loads decodes the escape \ud800 to a lone surrogate, which UTF-8 cannot encode and
# pandas cannot store in Arrow-backed strings. records_to_frame replaces it with U+FFFD.
@pytest.mark.parametrize(
    "body",
    [r'[{"\ud800": null}]', r'[{"cve": "\ud800"}]', r'["\ud800"]'],
    ids=["key", "value", "scalar-record"],
)
def test_records_lone_surrogate(body: str) -> None:
    frame = check_records(json.loads(body))
    text = frame.to_string() + " ".join(map(str, frame.columns))
    assert "\ufffd" in text
