"""README.md and .ci/run agree on the commands a new user runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def shell_blocks(markdown: str) -> list[str]:
    """The contents of the ```sh blocks of a Markdown text."""
    return re.findall(r"```sh\n(.*?)```", markdown, flags=re.DOTALL)


def test_ci_runs_readme_test_command() -> None:
    blocks = shell_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    test_commands = [block.strip() for block in blocks if "pytest" in block]
    assert len(test_commands) == 1
    ci_script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_commands[0] in ci_script.splitlines()


def test_readme_main_job_uses_demo() -> None:
    blocks = shell_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    main_job = blocks[0]
    assert "pip install ." in main_job
    assert "%vulncheck demo" in main_job
    assert "api.vulncheck.com" not in main_job
