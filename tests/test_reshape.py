"""--explode, --columns and the index-specific options taken from the catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from vulncheck_magic._frames import records_to_frame
from vulncheck_magic._params import InvalidParameterError
from vulncheck_magic._parser import build_parser, parse_line
from vulncheck_magic._reshape import explode_field, select_columns

from .conftest import run_cell

DATA = Path(__file__).parent / "data"


def nvd_frame() -> pd.DataFrame:
    records = [json.loads(path.read_text()) for path in sorted((DATA / "nvd2").glob("*.json"))]
    return records_to_frame(records)


def test_explode_nested_cpe_matches() -> None:
    frame = nvd_frame()
    # A record without configurations stays as one row.
    expected = sum(
        sum(len(node["cpeMatch"]) for item in configurations for node in item["nodes"])
        if isinstance(configurations, list)
        else 1
        for configurations in frame["configurations"]
    )
    exploded = explode_field(frame, "configurations.nodes.cpeMatch")
    assert len(exploded) == expected
    assert "configurations.nodes.cpeMatch.criteria" in exploded.columns
    criteria = exploded["configurations.nodes.cpeMatch.criteria"].dropna()
    assert criteria.str.startswith("cpe:2.3:").all()
    assert len(criteria) == expected - frame["configurations"].isna().sum()
    assert set(exploded["id"]) == set(frame["id"])


def test_explode_keeps_rows_with_empty_lists() -> None:
    frame = records_to_frame(
        [
            {"cve": ["CVE-1"], "vulncheck_xdb": [{"xdb_id": "a"}, {"xdb_id": "b"}]},
            {"cve": ["CVE-2"], "vulncheck_xdb": []},
        ]
    )
    exploded = explode_field(frame, "vulncheck_xdb")
    assert exploded["vulncheck_xdb.xdb_id"].tolist()[:2] == ["a", "b"]
    assert len(exploded) == 3
    assert pd.isna(exploded["vulncheck_xdb.xdb_id"].iloc[2])


def test_explode_scalar_list() -> None:
    frame = records_to_frame([{"id": 1, "cwes": ["CWE-20", "CWE-502"]}])
    exploded = explode_field(frame, "cwes")
    assert exploded["cwes"].tolist() == ["CWE-20", "CWE-502"]


def test_explode_unknown_field() -> None:
    with pytest.raises(InvalidParameterError, match="no column 'configuration' to explode"):
        explode_field(nvd_frame(), "configuration")


def test_select_columns() -> None:
    frame = nvd_frame()
    frame.attrs["vulncheck"] = {"index": "nist-nvd2"}
    selected = select_columns(frame, ["published", "id"])
    assert selected.columns.tolist() == ["published", "id"]
    assert selected.attrs["vulncheck"] == {"index": "nist-nvd2"}
    with pytest.raises(InvalidParameterError, match="did you mean published"):
        select_columns(frame, ["publishd"])


def test_magic_explode_and_columns(shell: InteractiveShell) -> None:
    shell.run_line_magic("vulncheck", "demo")
    outcome = run_cell(
        shell,
        "%vulncheck index nist-nvd2 --cve CVE-2021-44228 --explode references "
        "--columns cve,references.url",
    )
    assert outcome.error is None, outcome.text
    frame = outcome.result
    assert frame.columns.tolist() == ["cve", "references.url"]
    assert len(frame) > 100
    bad = run_cell(shell, "%vulncheck index nist-nvd2 --limit 1 --columns nope")
    assert isinstance(bad.error, UsageError)
    assert "no column 'nope' in the result" in str(bad.error)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "index exploits --max_exploit_maturity weaponized --in_kev",
            {"max_exploit_maturity": "weaponized", "in_kev": "true"},
        ),
        ("index exploits --in_vckev=false", {"in_vckev": "false"}),
        (
            "index ipintel-3d --country_code SE --cidr 192.0.2.0/24",
            {"country_code": "SE", "cidr": "192.0.2.0/24"},
        ),
    ],
)
def test_index_specific_options(line: str, expected: dict[str, str]) -> None:
    args = parse_line(build_parser(), line)
    assert args.index_extras == expected


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("index exploits --in_kev maybe", "invalid value 'maybe' for --in_kev: use true or false"),
        ("index cisa-kev --country_code SE", "unknown option --country_code for index cisa-kev"),
        ("index exploits --max_exploit_maturity", "option --max_exploit_maturity needs a value"),
        ("index ipintel-3d --cdir 10.0.0.0/8", "(did you mean --cidr?)"),
    ],
)
def test_index_specific_option_mistakes(line: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_line(build_parser(), line)
    assert message in str(caught.value)


def test_index_help_lists_catalog_parameters(shell: InteractiveShell) -> None:
    outcome = run_cell(shell, "%vulncheck index exploits --help")
    assert "Parameters of exploits (VulnCheck Exploit Intelligence" in outcome.stdout
    assert "--max_exploit_maturity" in outcome.stdout
    assert "--in_kev" in outcome.stdout


def test_sort_by_and_export(shell: InteractiveShell, tmp_path: Path) -> None:
    shell.run_line_magic("vulncheck", "demo")
    target = tmp_path / "kev.csv"
    outcome = run_cell(
        shell,
        f"%vulncheck index cisa-kev --limit 50 --sort-by date_added:asc --export {target}",
    )
    assert outcome.error is None, outcome.text
    frame = outcome.result
    assert frame["date_added"].is_monotonic_increasing
    assert f"Wrote 50 rows to {target}." in outcome.stdout
    written = pd.read_csv(target)
    assert written["cve"].tolist() == frame["cve"].tolist()
    lines = tmp_path / "kev.jsonl"
    run_cell(shell, f"%vulncheck index cisa-kev --limit 3 --export {lines}")
    assert len(lines.read_text().splitlines()) == 3
    for line, message in (
        ("index cisa-kev --limit 3 --export out.txt", "cannot export to 'out.txt'"),
        ("index cisa-kev --limit 3 --sort-by nope", "no column 'nope' to sort by"),
        (
            "index cisa-kev --limit 3 --sort-by cve:sideways",
            "use COLUMN, COLUMN:asc or COLUMN:desc",
        ),
    ):
        bad = run_cell(shell, f"%vulncheck {line}")
        assert isinstance(bad.error, UsageError), line
        assert message in str(bad.error)


def test_enrich_cell_from_pasted_ids(shell: InteractiveShell) -> None:
    shell.run_line_magic("vulncheck", "demo")
    outcome = run_cell(
        shell,
        "%%vulncheck enrich --with kev,nvd --sort-by nvd_cvss_score:desc\n"
        "CVE-2014-0160\ncve-2021-44228\n\nCVE-2099-0001\nCVE-2014-0160\n",
    )
    assert outcome.error is None, outcome.text
    frame = outcome.result
    assert frame["cve"].tolist() == ["cve-2021-44228", "CVE-2014-0160", "CVE-2099-0001"]
    assert frame["nvd_cvss_score"].iloc[0] == 10.0
    assert pd.isna(frame["nvd_cvss_score"].iloc[2])
    provenance = frame.attrs["vulncheck"]
    assert provenance["endpoint"] == "enrich"
    assert provenance["params"]["sources"] == ["kev", "nvd"]
    assert provenance["package_version"]
    assert "enrich: 3 rows" in outcome.stdout
    empty = run_cell(shell, "%%vulncheck enrich --with kev\n# nothing\n")
    assert isinstance(empty.error, UsageError)
    with_name = run_cell(shell, "%%vulncheck enrich df --with kev\nCVE-2014-0160")
    assert "leave out DF" in str(with_name.error)
