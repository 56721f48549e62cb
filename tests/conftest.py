"""Shared fixtures: a real IPython shell with the extension, the demo API, token isolation."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config

import vulncheck_magic
from vulncheck_magic._auth import get_token_store
from vulncheck_magic.demo import DEMO_TOKEN, DemoServer

# A token that looks real and is unique enough to search for in every output.
SECRET_TOKEN = "vulncheck_5ecret70ken0f7e57c0ffee1234567890abcdef"


@dataclass
class CellResult:
    """What running one cell produced: its value, error and every captured text."""

    result: Any
    error: BaseException | None
    stdout: str
    stderr: str
    displays: list[dict[str, Any]]

    @property
    def text(self) -> str:
        """Every text the cell showed, for leak checks."""
        shown = [self.stdout, self.stderr, repr(self.result), repr(self.error)]
        shown += [str(data) for data in self.displays]
        return "\n".join(shown)


@pytest.fixture(scope="session")
def ipython() -> InteractiveShell:
    """One real InteractiveShell for the test session, with history kept in memory."""
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    config.InteractiveShell.colors = "nocolor"
    return InteractiveShell.instance(config=config)


@pytest.fixture(autouse=True)
def isolated_token(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Start each test with no token from the environment or an earlier login."""
    monkeypatch.delenv("VULNCHECK_API_TOKEN", raising=False)
    monkeypatch.delenv("VULNCHECK_API_URL", raising=False)
    store = get_token_store()
    store.clear_session_token()
    store.clear_demo_token()
    yield
    store.clear_session_token()
    store.clear_demo_token()


@pytest.fixture
def shell(ipython: InteractiveShell) -> Iterator[InteractiveShell]:
    """The shell with the extension freshly loaded; unloaded (demo stopped) afterwards."""
    ipython.run_line_magic("load_ext", "vulncheck_magic")
    yield ipython
    ipython.run_line_magic("unload_ext", "vulncheck_magic")
    ipython.config.pop("VulnCheckMagic", None)
    for name in ("df", "kev", "frame", "result"):
        ipython.user_ns.pop(name, None)


def run_cell(shell: InteractiveShell, source: str) -> CellResult:
    """Run ``source`` as a user would type it, capturing output and displays."""
    with capture_output() as captured:
        outcome = shell.run_cell(source, store_history=True)
    error = outcome.error_in_exec or outcome.error_before_exec
    displays = [output.data for output in captured.outputs]
    return CellResult(outcome.result, error, captured.stdout, captured.stderr, displays)


@pytest.fixture
def demo_server() -> Iterator[DemoServer]:
    """A demo API on a free loopback port that accepts the demo token and SECRET_TOKEN."""
    with DemoServer(tokens=(DEMO_TOKEN, SECRET_TOKEN)) as server:
        yield server


@pytest.fixture
def client(demo_server: DemoServer) -> Iterator[vulncheck_magic.Client]:
    """A Client pointed at the demo server with SECRET_TOKEN."""
    with vulncheck_magic.Client(demo_server.url, token=SECRET_TOKEN) as api:
        yield api


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Capture every record of the vulncheck_magic logger down to DEBUG."""
    caplog.set_level(logging.DEBUG, logger="vulncheck_magic")
    return caplog
