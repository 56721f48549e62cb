"""The one-line summary printed under each result, from its provenance."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from vulncheck_magic.demo import DEMO_TOKEN

from .conftest import run_cell


@pytest.fixture
def demo_shell(shell: InteractiveShell) -> InteractiveShell:
    shell.run_line_magic("vulncheck", "demo")
    return shell


@pytest.mark.parametrize(
    ("source", "summary"),
    [
        (
            "%vulncheck index cisa-kev --limit 100 --page 3",
            "cisa-kev: 100 rows of 1,404 documents (page 3 of 15; offset paging stops at page 6); "
            "next page: --page 4",
        ),
        (
            "%vulncheck index cisa-kev --limit 100 --page 6",
            "cisa-kev: 100 rows of 1,404 documents (page 6 of 15; offset paging stops at page 6); "
            "beyond this page use --all",
        ),
        (
            "df = %vulncheck index vulncheck-kev --cve CVE-2021-44228",
            "vulncheck-kev: 1 row of 1 document",
        ),
        (
            "%vulncheck index cisa-kev --all --limit 1000 -o df",
            "cisa-kev: 1,404 rows of 1,404 documents in 2 pages, complete",
        ),
        (
            "%%vulncheck index cisa-kev --cve\nCVE-2021-44228\nnope",
            "cisa-kev: 2 rows from 2 queries, 1 failed (see the error column)",
        ),
        ("%vulncheck cpe cpe:2.3:a:apache:log4j:2.14.1", "/v3/cpe: 2 rows of 2 documents"),
    ],
)
def test_summary_line(demo_shell: InteractiveShell, source: str, summary: str) -> None:
    outcome = run_cell(demo_shell, source)
    assert outcome.error is None, outcome.text
    assert outcome.stdout.rstrip().splitlines()[-1] == summary
    assert DEMO_TOKEN not in outcome.stdout


def test_summary_after_display(demo_shell: InteractiveShell) -> None:
    outcome = run_cell(demo_shell, "%vulncheck index cisa-kev --limit 2\n")
    assert outcome.result is not None
    assert outcome.stdout.count("cisa-kev: 2 rows") == 1


def test_cursor_summary(demo_shell: InteractiveShell) -> None:
    outcome = run_cell(demo_shell, "x = %vulncheck index cisa-kev --limit 1000 --start_cursor")
    cursor = demo_shell.user_ns["x"].attrs["vulncheck"]["meta"]["next_cursor"]
    assert outcome.stdout.strip().endswith(f"next page: --cursor {cursor}")
    demo_shell.user_ns.pop("x")


def test_no_summary_for_errors_and_session_commands(demo_shell: InteractiveShell) -> None:
    failed = run_cell(demo_shell, "%vulncheck index exploits")
    assert "rows" not in failed.stdout
    status = run_cell(demo_shell, "%vulncheck status")
    assert "rows" not in status.stdout


def test_cached_all_summary(demo_shell: InteractiveShell) -> None:
    source = "%vulncheck index cisa-kev --all --limit 1000 -o df"
    first = run_cell(demo_shell, source)
    second = run_cell(demo_shell, source)

    assert first.error is None, first.text
    assert "cached" not in first.stdout
    assert (
        second.stdout.rstrip()
        .splitlines()[-1]
        .startswith("cisa-kev: 1,404 rows of 1,404 documents in 2 pages, complete (cached ")
    )
