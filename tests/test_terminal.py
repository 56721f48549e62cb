"""Terminal IPython in a pseudo-terminal: the magic, the demo API and the hidden login prompt.

pexpect starts `python -m IPython` with prompt_toolkit, as a user would in a terminal, types
each line and waits for the next input prompt. The screen is read as the raw byte stream,
escape sequences included, so text is searched with the sequences removed.
"""

from __future__ import annotations

import io
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from vulncheck_magic.demo import DEMO_TOKEN

# Seconds to wait for one command. The first wait includes IPython's start.
COMMAND_TIMEOUT_S = 60

# CSI sequences (cursor moves, colours, modes) and OSC sequences (window titles).
_ANSI_SEQUENCE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")


def screen_text(raw: str) -> str:
    """Return the terminal output without escape sequences and carriage returns."""
    return _ANSI_SEQUENCE.sub("", raw).replace("\r", "")


class Terminal:
    """Terminal IPython in a pseudo-terminal, with everything it printed kept."""

    def __init__(self, ipython_dir: Path) -> None:
        env = {
            name: value for name, value in os.environ.items() if not name.startswith("VULNCHECK_")
        }
        env.update(
            {
                "IPYTHONDIR": str(ipython_dir),
                "TERM": "xterm-256color",
                # No cursor-position requests, because pexpect sends no reply to them.
                "PROMPT_TOOLKIT_NO_CPR": "1",
            }
        )
        self.output = io.StringIO()
        self.prompt_number = 1
        self.child = pexpect.spawn(
            sys.executable,
            [
                "-m",
                "IPython",
                "--no-banner",
                "--colors=nocolor",
                "--TerminalInteractiveShell.term_title=False",
            ],
            env=env,
            encoding="utf-8",
            dimensions=(50, 250),
            timeout=COMMAND_TIMEOUT_S,
        )
        self.child.logfile_read = self.output
        self.wait_for_prompt()

    def wait_for_prompt(self) -> None:
        self.child.expect(rf"In \[{self.prompt_number}\]:")

    def run(self, line: str) -> str:
        """Type ``line``, press Enter, wait for the next prompt and return what it printed."""
        start = len(self.output.getvalue())
        self.child.sendline(line)
        self.prompt_number += 1
        self.wait_for_prompt()
        return screen_text(self.output.getvalue()[start:])

    @property
    def screen(self) -> str:
        """Everything the terminal showed so far, without escape sequences."""
        return screen_text(self.output.getvalue())

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    session = Terminal(tmp_path / "ipython")
    yield session
    session.close()


def test_terminal_demo_query_and_login(terminal: Terminal, tmp_path: Path) -> None:
    assert "Error" not in terminal.run("%load_ext vulncheck_magic")
    assert "Demo API running" in terminal.run("%vulncheck demo")
    query = terminal.run("%vulncheck index vulncheck-kev --cve CVE-2021-44228")
    assert "CVE-2021-44228" in query
    assert "vulncheck-kev: 1 row" in query
    # The frame's repr leaves out middle columns to fit the terminal, so show it transposed.
    assert "Log4j2" in terminal.run("_.T")

    terminal.child.sendline("%vulncheck login")
    terminal.child.expect("input hidden")
    terminal.child.sendline(DEMO_TOKEN)
    terminal.prompt_number += 1
    terminal.wait_for_prompt()
    assert "Logged in, 3 indexes available" in terminal.screen
    assert "auth mode header" in terminal.screen
    assert "(demo token)" in terminal.run("%vulncheck status")

    terminal.child.sendline("exit")
    terminal.child.expect(pexpect.EOF)
    terminal.child.close()
    assert terminal.child.exitstatus == 0

    raw_output = terminal.output.getvalue()
    assert DEMO_TOKEN not in raw_output
    # The token without the four characters that its masked form shows at each end.
    assert DEMO_TOKEN[4:-4] not in raw_output
    for path in (tmp_path / "ipython").rglob("*"):
        if path.is_file():
            assert DEMO_TOKEN.encode() not in path.read_bytes(), f"token in {path}"
