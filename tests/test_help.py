"""The generated ``%vulncheck?`` help, pinned by a golden file."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from vulncheck_magic._parser import build_parser, format_help, subparsers

from .conftest import run_cell

GOLDEN = Path(__file__).parent / "golden" / "vulncheck-help.txt"


@pytest.mark.skipif(
    sys.version_info[:2] not in ((3, 11), (3, 12)),
    reason="argparse changed its help layout in Python 3.13; the golden file is 3.11/3.12",
)
def test_help_matches_golden_file() -> None:
    text = format_help()
    if os.environ.get("VULNCHECK_UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_help_names_every_option() -> None:
    text = format_help()
    for command, parser in subparsers(build_parser()).items():
        assert f"%vulncheck {command}" in text
        for action in parser._actions:
            for flag in action.option_strings:
                assert flag in text
            if action.option_strings and action.help != "show this help message and exit":
                assert action.help, f"{command} {action.option_strings} has no help"


def test_question_mark_shows_generated_help(shell: InteractiveShell) -> None:
    outcome = run_cell(shell, "%vulncheck?")
    assert "--pubStartDate YYYY-MM-DD" in outcome.stdout
    assert "%config VulnCheckMagic.NAME = VALUE" in outcome.stdout
