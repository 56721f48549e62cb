"""%%vulncheck cells: one request per body value, one frame with query and error columns."""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from vulncheck_magic._batch import body_values
from vulncheck_magic.demo import DEMO_TOKEN

from .conftest import run_cell


@pytest.fixture
def demo_shell(shell: InteractiveShell) -> InteractiveShell:
    shell.run_line_magic("vulncheck", "demo")
    return shell


def test_body_values_cleaning() -> None:
    cell = "\n  CVE-2021-44228  \n# a comment\n\nCVE-2023-4966 # Citrix Bleed\nCVE-2021-44228\n"
    assert body_values(cell) == ["CVE-2021-44228", "CVE-2023-4966"]


def test_index_batch_one_frame(demo_shell: InteractiveShell) -> None:
    cell = "CVE-2021-44228\ncve-2023-4966\n\n# comment\nCVE-2021-44228\nCVE-1999-0001\n"
    outcome = run_cell(demo_shell, f"%%vulncheck index vulncheck-kev --cve\n{cell}")
    assert outcome.error is None, outcome.text
    frame = outcome.result
    assert frame["query"].tolist() == ["CVE-2021-44228", "cve-2023-4966", "CVE-1999-0001"]
    assert frame["cve"].tolist()[:2] == ["CVE-2021-44228", "CVE-2023-4966"]
    assert pd.isna(frame["cve"].iloc[2])
    assert "error" not in frame.columns
    assert frame.attrs["vulncheck"]["batch"] == {"queries": 3, "failed": 0}


def test_failing_value_gets_error_row(demo_shell: InteractiveShell) -> None:
    cell = "CVE-2021-44228\nnot-a-cve\nCVE-2022-22965\n"
    outcome = run_cell(demo_shell, f"%%vulncheck index cisa-kev --cve\n{cell}")
    assert outcome.error is None, outcome.text
    frame = outcome.result
    assert frame["query"].tolist() == ["CVE-2021-44228", "not-a-cve", "CVE-2022-22965"]
    error = frame.set_index("query")["error"]
    assert error["not-a-cve"].startswith("UsageError: argument --cve: invalid CVE id 'not-a-cve'")
    assert error.drop("not-a-cve").isna().all()
    assert frame.attrs["vulncheck"]["batch"] == {"queries": 3, "failed": 1}
    assert DEMO_TOKEN not in frame.to_string()


def test_batch_output_variable(demo_shell: InteractiveShell) -> None:
    outcome = run_cell(
        demo_shell,
        "%%vulncheck index nist-nvd2 --columns query,cve,published -o nvd --cve\nCVE-2014-0160",
    )
    assert outcome.error is None, outcome.text
    assert outcome.result is None
    assert demo_shell.user_ns["nvd"].columns.tolist() == ["query", "cve", "published"]
    demo_shell.user_ns.pop("nvd")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("%%vulncheck index vulncheck-kev\nCVE-2021-44228", "end the line with the option"),
        ("%%vulncheck status\nx", "a %%vulncheck cell runs"),
        ("%%vulncheck index vulncheck-kev --cve\n\n# only comments\n", "the cell has no values"),
        (
            "%%vulncheck index vulncheck-kev --raw --cve\nCVE-2021-44228",
            "--raw and --dry-run work on one value",
        ),
        ("%%vulncheck index vulncheck-kev --cvx\nCVE-2021-44228", "unknown option --cvx"),
    ],
)
def test_batch_mistakes(demo_shell: InteractiveShell, source: str, message: str) -> None:
    outcome = run_cell(demo_shell, source)
    assert isinstance(outcome.error, UsageError), outcome.text
    assert message in str(outcome.error)


def test_frame_options_apply_to_combined_frame(
    demo_shell: InteractiveShell, tmp_path: object
) -> None:
    target = f"{tmp_path}/batch.csv"
    outcome = run_cell(
        demo_shell,
        "%%vulncheck index vulncheck-kev --columns query,cve --sort-by cve:desc "
        f"--export {target} --cve\nCVE-2014-0160\nCVE-2023-4966\nCVE-2021-44228\n",
    )
    assert outcome.error is None, outcome.text
    frame = outcome.result
    assert frame.columns.tolist() == ["query", "cve"]
    assert frame["cve"].tolist() == ["CVE-2023-4966", "CVE-2021-44228", "CVE-2014-0160"]
    assert outcome.stdout.count("Wrote 3 rows") == 1
    assert pd.read_csv(target)["cve"].tolist() == frame["cve"].tolist()
